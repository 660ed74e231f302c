"""First-party model plugins for recon. Each subpackage exposes ``plugin`` (a ``ModelPlugin``)."""

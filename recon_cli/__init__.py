"""recon: MRI reconstruction from raw k-space (ISMRMRD, fastMRI) to images and metrics."""

__version__ = "0.1.0"

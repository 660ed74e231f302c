"""Memory planning for ``recon reconstruct``: what a run will need, read from headers, before it starts.

``shapes`` turns a file's headers into the sizes that matter; ``working_set`` holds what each model
declares about its own working set; ``estimate`` adds up the parts of the peak; ``plan`` chooses the
chunking that keeps the estimate under a budget (``--max-memory``) and renders the plan of ``--dry-run``.
"""

"""Linear operators (forward model A, adjoint A^H, normal A^H A) and pure helper functions."""

"""Solvers for classical and implicit reconstruction, in torch so they run wherever the operator runs.

Submodules:

* ``iterative``: conjugate gradient, FISTA, ADMM (pieces and loop), power iteration; ``SolverResult``.
* ``fixed_point``: fixed-point iterations x = f(x) (Picard, Anderson, Broyden) and Jacobian-free
  backpropagation.
* ``implicit``: gradients of a fixed point for training implicit models (IFT, SHINE, JFB).
* ``regularizers``: sparsifying transforms and proximal maps (wavelets, soft-threshold, temporal TV).
* ``convergence``: ``relative_norm``, the one stopping measure all of them use.

Import from the submodules (``from recon_cli.solvers.iterative import conjugate_gradient``); this
package module itself imports nothing, so naming it costs no torch import.
"""

"""What a model declares about the memory of its own ``forward`` (torch-free).

The pipeline's parts (k-space, coil maps, operator, gridding, outputs) are the same for every model;
what differs is what the model keeps while it iterates. A plugin declares it with a ``working_set``
function (config -> ``WorkingSet``) in its ``ModelPlugin``; a model that declares nothing is planned with
``GENERIC``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkingSet:
    """The model's own working set, in units the estimate turns into bytes.

    Attributes:
        images: complex image series (frames, ny, nx) the model holds at once while it iterates (a CG
            solve keeps x, r, p, A^H A p and the right-hand side: 5).
        padded_images: of those, how many live on a grid padded for a wavelet transform (ny, nx rounded
            up to a multiple of 2**levels), counted on top of ``images``.
        normal: whether it applies the normal operator A^H A (Toeplitz kernels, one per weighting).
        normal_weightings: how many Toeplitz kernels it needs (1: weighted or unweighted only).
        cnn_chans: complex channels of the first level of its U-Net regulariser (0: no network).
        cnn_inputs: complex input images of the network (1, 2 with a view-shared context).
    """

    images: int = 1
    padded_images: int = 0
    normal: bool = False
    normal_weightings: int = 1
    cnn_chans: int = 0
    cnn_inputs: int = 1


# an undeclared model: a handful of image series and the normal operator, no network
GENERIC = WorkingSet(images=8, normal=True, normal_weightings=2)

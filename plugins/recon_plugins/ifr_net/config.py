"""Configuration of ``ifr-net`` (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from recon_plugins.admm_net.config import check_shrinkage_network


@dataclass(frozen=True)
class IfrNetConfig:
    """Options of ``ifr-net`` (Liu et al., "IFR-Net: Iterative Feature Refinement Network for Compressed
    Sensing MRI", IEEE TCI 2019).

    Each of ``stages`` stages maps the current image z to a new one:

    * reconstruction module: x = argmin ||A x - y||^2 + rho ||x - z||^2 (closed form in k-space for one
      coil; rho learnable per stage);
    * denoising module: ``blocks`` CNN blocks, each u <- u + mu (W2 S(W1 u) - u) with W1 a 3x3
      convolution to ``filters`` feature maps per image channel, S a learnable piecewise-linear
      shrinkage, W2 a 3x3 convolution back, and mu a learnable mixing weight;
    * feature-refinement module: z = d + D (x - d), d the denoised image and D in (0, 1) a learnable
      descriptor (two small convolutions and a sigmoid of d and x - d).

    A last reconstruction module gives the output. Images are scaled by the zero-filled image's RMS level
    per frame first (and back at the end).

    Attributes:
        stages: Number of stages.
        blocks: CNN blocks per denoising module (K).
        filters: Feature maps per image channel in each block (at most 9 with ``init = "dct"``: the
            first ones of the 3x3 DCT basis).
        points: Control points of each shrinkage function, uniformly spaced on [-1, 1].
        threshold: Initial soft threshold of the shrinkage functions.
        rho_init: Initial weight of the reconstruction modules.
        descriptor_channels: Hidden channels of the feature descriptor.
        init: "dct" (W1 from the orthonormal 3x3 DCT basis and W2 its adjoint, scaled so that the block
            starts as DCT-domain soft thresholding; the constant filter starts unshrunk) or "random"
            (PyTorch's default initialisation of the convolutions).
        complex: False: the image is real (imaginary parts are dropped after each reconstruction
            module; for real-valued objects). True: real and imaginary parts are two channels of the
            convolutions (complex-valued images).
        cg_iterations: CG steps of the reconstruction module for multi-coil data.
    """

    stages: int = 8
    blocks: int = 2
    filters: int = 9
    points: int = 101
    threshold: float = 0.05
    rho_init: float = 0.1
    descriptor_channels: int = 8
    init: str = "dct"
    complex: bool = False
    cg_iterations: int = 10

    def __post_init__(self) -> None:
        check_shrinkage_network(
            "ifr-net",
            self,
            ("stages", "blocks", "filters", "descriptor_channels", "cg_iterations"),
            dct_filters=9,
            dct_error=f"the 3x3 DCT basis has 9 filters; got filters={self.filters}",
        )

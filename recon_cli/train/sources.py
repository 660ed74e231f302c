"""Pick the dataset a ``--data``/``--val`` spec names: the synthetic source or a folder of files."""

from __future__ import annotations

from recon_cli.errors import InputDataError
from recon_cli.train.config import DataConfig, DataSpec
from recon_cli.train.examples import TrainingData
from recon_cli.train.seeding import derive_seed
from recon_cli.train.synthetic import SyntheticCine


def build_dataset(
    spec: DataSpec, config: DataConfig, *, seed: int, rank: int, needs_maps: bool, validation: bool = False
) -> TrainingData:
    """The dataset a ``DataSpec`` names (synthetic source or folder of fastMRI / ISMRMRD files).

    Validation sets do not depend on the rank, and synthetic ones are fixed (``val_length`` examples).
    """
    from recon_cli.io import detect_format
    from recon_cli.train.datasets import FastMRISlices, IsmrmrdSlices, raw_files

    if spec.synthetic == "brain":
        from recon_cli.train.brain import BrainSlices

        if validation:
            return BrainSlices(
                config, part="test", seed=derive_seed(seed, "validation"), fresh=False, needs_maps=needs_maps
            )
        return BrainSlices(config, part="train", seed=seed, rank=rank, needs_maps=needs_maps)
    if spec.synthetic is not None:
        if validation:
            return SyntheticCine(
                spec.synthetic,
                config,
                seed=derive_seed(seed, "validation"),
                length=config.val_length,
                fresh=False,
                needs_maps=needs_maps,
                part="test",
            )
        return SyntheticCine(spec.synthetic, config, seed=seed, rank=rank, needs_maps=needs_maps)
    rank = 0 if validation else rank
    assert spec.folder is not None
    files = raw_files(spec.folder)
    formats = {detect_format(p) for p in files}
    if len(formats) > 1:
        raise InputDataError(
            spec.folder, f"mixes file formats ({', '.join(sorted(formats))}); use one per folder"
        )
    if formats == {"fastmri"}:
        return FastMRISlices(files, config, seed=seed, rank=rank, needs_maps=needs_maps)
    return IsmrmrdSlices(files, config, data_dir=spec.folder, seed=seed, rank=rank, needs_maps=needs_maps)

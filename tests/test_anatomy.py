"""The brain-template source of real anatomy (``recon_cli.phantoms.anatomy``, ``synthetic:brain``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("nibabel")


def test_template_comes_from_the_installed_package_and_is_skull_stripped_t1():
    import nibabel as nib

    from recon_cli.phantoms.anatomy import brain_template_path

    image = nib.load(brain_template_path())
    assert image.shape == (197, 233, 189)
    assert np.allclose(image.header.get_zooms(), 1.0)
    assert nib.aff2axcodes(nib.as_closest_canonical(image).affine) == ("R", "A", "S")


def test_parts_are_disjoint_and_held_out_every_fifth_slice():
    from recon_cli.phantoms.anatomy import brain_slices

    every = brain_slices(48, "all")
    train, test = brain_slices(48, "train"), brain_slices(48, "test")
    assert len(train) + len(test) == len(every) >= 100
    assert torch.equal(test, every[::5])
    # no held-out slice appears in the training part
    dist = torch.cdist(test.flatten(1), train.flatten(1))
    assert float(dist.min()) > 0
    assert float(every.min()) >= 0 and float(every.max()) <= 1.0 + 1e-6


def test_slices_are_in_display_orientation():
    """Anterior at the top and the patient's right on the image left, checked against nibabel's RAS
    voxel axes of the template."""
    import nibabel as nib

    from recon_cli.phantoms.anatomy import MIN_BRAIN_FRACTION, _axial_slices, brain_template_path

    image = nib.as_closest_canonical(nib.load(brain_template_path()))
    volume = np.asarray(image.dataobj, dtype=np.float32)
    volume /= volume.max()
    kept = [z for z in range(volume.shape[2]) if (volume[:, :, z] > 0.08).mean() >= MIN_BRAIN_FRACTION]
    k = len(kept) // 2
    xs, ys = np.nonzero(volume[:, :, kept[k]] > 0.08)
    slices = _axial_slices(233)  # the template's own square field of view: no resampling
    rows, cols = np.nonzero(slices[k] > 0.08)
    assert rows.min() == pytest.approx(volume.shape[1] - 1 - ys.max(), abs=2)  # anterior-most at the top
    left = (233 - volume.shape[0]) // 2
    assert cols.min() == pytest.approx(left + volume.shape[0] - 1 - xs.max(), abs=2)  # right-most at left


def test_brain_training_source_gives_cartesian_examples(tmp_path):
    from recon_cli.train.config import DataConfig, parse_data_spec
    from recon_cli.train.sources import build_dataset

    spec = parse_data_spec("synthetic:brain")
    config = DataConfig(matrix=32, coils=1, acceleration=4.0, mask="random")
    train = build_dataset(spec, config, seed=0, rank=0, needs_maps=True)
    val = build_dataset(spec, config, seed=0, rank=0, needs_maps=True, validation=True)
    example = train[(3, 0)]
    assert example["kspace"].shape == (1, 1, 32, 32)
    assert example["maps"].shape == (1, 32, 32)
    assert 3.0 < example["meta"]["acceleration"] < 5.0
    # training masks change with the epoch, validation ones do not
    assert not torch.equal(train[(3, 0)]["mask"], train[(3, 1)]["mask"])
    assert torch.equal(val[(2, 0)]["mask"], val[(2, 1)]["mask"])
    assert len(val) < len(train)


def test_moving_brain_is_a_held_out_slice_in_smooth_periodic_motion():
    from recon_cli.phantoms import moving_brain_cine
    from recon_cli.phantoms.anatomy import brain_slices

    frames = 20
    cine = moving_brain_cine(48, frames, part="test", generator=7001)
    again = moving_brain_cine(48, frames, part="test", generator=7001)
    assert cine.shape == (frames, 48, 48) and cine.dtype == torch.complex64
    assert torch.equal(cine, again)  # seeded
    mag = cine.abs()
    assert float(mag.max()) <= 1.0 and float(mag.min()) >= 0.0
    # it moves: consecutive frames differ, but by far less than the image itself (small, smooth motion)
    step = (mag[1:] - mag[:-1]).abs().mean(dim=(1, 2))
    assert float(step.min()) > 0 and float(step.max()) < 0.1 * float(mag.mean())
    # the anatomy is a held-out slice: the template slice closest to the mean frame is in the test part
    every = brain_slices(48, "all").reshape(-1, 48 * 48)
    mean = mag.mean(0).reshape(1, -1)
    corr = torch.nn.functional.cosine_similarity(every, mean.expand_as(every), dim=1)
    assert int(corr.argmax()) % 5 == 0 and float(corr.max()) > 0.95
    # the phase is smooth (no phase wraps between neighbouring pixels inside the head)
    inside = mag[0] > 0.2
    jump = torch.angle(cine[0, :, 1:] * cine[0, :, :-1].conj()).abs()[inside[:, 1:] & inside[:, :-1]]
    assert float(jump.max()) < 0.5


def test_synthetic_radial_mixes_in_real_anatomy_from_the_right_part():
    from recon_cli.train.config import DataConfig
    from recon_cli.train.synthetic import SyntheticCine

    config = DataConfig(matrix=32, frames=4, spokes=5, coils=2, length=12, anatomy=0.5)
    train = SyntheticCine("radial", config, seed=3)
    held = SyntheticCine("radial", config, seed=3, fresh=False, part="test")
    kinds = [train.real_anatomy(train.item_seed(i, 0)) for i in range(len(train))]
    assert 0 < sum(kinds) < len(kinds)  # a mix, decided per example
    brain = kinds.index(True)
    example = train[(brain, 0)]
    assert example["target"].shape == (4, 32, 32)
    # with anatomy 0 the same seeds give the cine phantom: the option changes only the examples it picks
    plain = SyntheticCine("radial", DataConfig(matrix=32, frames=4, spokes=5, coils=2, length=12), seed=3)
    other = kinds.index(False)
    assert torch.equal(plain[(other, 0)]["target"], train[(other, 0)]["target"])
    assert not torch.equal(plain[(brain, 0)]["target"], example["target"])
    assert held.part == "test" and "real anatomy" in held.describe()

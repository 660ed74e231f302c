"""Plugin registry: discovery from entry-point metadata, lazy loading, config resolution."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from recon_cli.errors import ModelError
from recon_cli.registry import ModelPlugin, available_models, load_plugin, resolve_config


def test_listing_does_not_import_plugins() -> None:
    code = (
        "import sys\nfrom recon_cli.registry import available_models\n"
        "names = available_models()\n"
        "print(','.join(names)); print(any(m.startswith('recon_plugins.') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "zero-filled" in out[0].split(",")
    assert out[1] == "False"


def test_load_known_plugin() -> None:
    plugin = load_plugin("zero-filled")
    assert isinstance(plugin, ModelPlugin) and plugin.name == "zero-filled"
    assert "zero-filled" in available_models()


def test_plugin_named_builder_is_imported_only_when_a_model_is_built() -> None:
    """``build="module:attr"`` costs no import when the plugin loads; a malformed name fails at once."""
    code = (
        "import sys\nfrom recon_cli.registry import load_plugin, resolve_config\n"
        "plugin = load_plugin('zero-filled')\n"
        "print('recon_plugins.zero_filled.model' in sys.modules, 'torch' in sys.modules)\n"
        "model = plugin.create(resolve_config(plugin))\n"
        "print(type(model).__name__, 'recon_plugins.zero_filled.model' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "ZeroFilled", "True"]
    with pytest.raises(ValueError, match="module:attr"):
        ModelPlugin(name="x", description="x", config_cls=dict, build="no_attribute")


def test_unknown_model_names_the_available_ones() -> None:
    with pytest.raises(
        ModelError,
        match=r"Unknown model 'zerofilled'\. Did you mean 'zero-filled'\? Available: .*zero-filled",
    ):
        load_plugin("zerofilled")


def test_config_precedence_and_checks() -> None:
    plugin = load_plugin("zero-filled")
    default = resolve_config(plugin)
    assert default.combine == "auto"
    assert resolve_config(plugin, {"combine": "rss"}).combine == "rss"
    with pytest.raises(ModelError, match="unknown config key"):
        resolve_config(plugin, {"combined": "rss"})
    with pytest.raises(ModelError, match="combine must be one of"):
        resolve_config(plugin, {"combine": "median"})


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("yes", False, True),
        ("off", True, False),
        ("3", 1, 3),
        ("1e3", 1, 1000),
        ("0.5", 1.0, 0.5),
        ("4,8", (1, 2), (4, 8)),
        ("a", "b", "a"),
        (None, None, None),
    ],
)
def test_settings_take_their_defaults_type(value: object, default: object, expected: object) -> None:
    from recon_cli.settings import coerce_setting

    result = coerce_setting(value, default)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("value", "default"), [("maybe", True), ("2.5", 1), ("x", 1.0), ("a,b", (1, 2))])
def test_unreadable_settings_are_refused(value: object, default: object) -> None:
    from recon_cli.settings import coerce_setting

    with pytest.raises(ValueError):
        coerce_setting(value, default)


def test_model_and_training_configs_share_one_resolver_and_its_wording() -> None:
    """resolve_config (model) and build_config (training sections) word errors as they always did."""
    from recon_cli.errors import UsageError
    from recon_cli.train.config import DataConfig, build_config

    plugin = load_plugin("sense")
    known = "density_weighted, iterations, lam, tol"
    with pytest.raises(ModelError) as raised:
        resolve_config(plugin, {"tolerance": 1, "lamda": 2})
    assert str(raised.value) == f"model 'sense': unknown config key(s) lamda, tolerance; known: {known}"
    with pytest.raises(ModelError) as raised:
        resolve_config(plugin, {"iterations": "2.5"})
    assert str(raised.value) == "model 'sense': config key 'iterations' expects int, got '2.5'"
    with pytest.raises(ModelError) as raised:
        resolve_config(plugin, {"lam": "nan"})
    assert str(raised.value) == "model 'sense': config key 'lam' expects a finite number, got 'nan'"
    resolved = resolve_config(plugin, {"iterations": "1e2", "density_weighted": "off", "lam": 0.5})
    assert (resolved.iterations, resolved.density_weighted, resolved.lam) == (100, False, 0.5)

    with pytest.raises(UsageError) as usage:
        build_config(DataConfig, {"matirx": 3}, "data")
    assert str(usage.value).startswith("unknown data setting(s) matirx; known: ")
    with pytest.raises(UsageError) as usage:
        build_config(DataConfig, {"matrix": "wide"}, "data")
    assert str(usage.value) == "data.matrix expects int, got 'wide'"
    assert build_config(DataConfig, {"matrix": "48"}, "data") == DataConfig(matrix=48)


@pytest.mark.parametrize("name", ["cunet", "alt-un", "imunne"])
def test_shipped_settings_are_read_without_torch_as_torch_reads_them(name: str) -> None:
    """``recon models`` shows the settings a shipped weights file brings (read by a restricted unpickler
    that never imports torch); they are the ones ``recon reconstruct`` builds the network with."""
    import dataclasses
    from importlib import resources

    import torch

    from recon_cli.model_info import model_card, model_summary, shipped_model_config
    from recon_cli.registry import load_plugin
    from recon_cli.weights import read_weights

    plugin = load_plugin(name)
    assert plugin.default_weights is not None
    path = resources.files(plugin.default_weights[0]) / plugin.default_weights[1]
    data = path.read_bytes()
    expected = torch.load(io.BytesIO(data), weights_only=True)["config"]["model_config"]
    assert shipped_model_config(data) == expected == read_weights(plugin, str(path))[1]
    defaults = dataclasses.asdict(plugin.config_cls())
    settings = model_card(plugin)["weights"]["settings"]
    assert settings == {k: v for k, v in expected.items() if k in defaults and defaults[k] != v}
    trained = {**defaults, **expected}
    rule = model_summary(plugin)["iterations"]
    if "iterations" in trained:  # imunne: what it runs as shipped, not the dataclass defaults
        tol = trained["tol"]
        assert rule == (
            f"<={trained['iterations']} tol {tol:.0e}".replace("e-0", "e-")
            if tol
            else f"fixed {trained['iterations']}"
        )
    else:
        assert rule == (f"fixed {trained['blocks']}" if "blocks" in trained else "-")


def test_a_weights_file_that_would_run_code_is_not_unpickled(tmp_path) -> None:
    import pickle
    import zipfile

    from recon_cli.model_info import shipped_model_config

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - the attack: call os.system when unpickled
            import os

            return (os.system, (f"touch {tmp_path / 'ran'}",))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights/data.pkl", pickle.dumps({"config": Payload()}))
    assert shipped_model_config(buffer.getvalue()) == {}
    assert not (tmp_path / "ran").exists()
    assert shipped_model_config(b"not a zip") == {}

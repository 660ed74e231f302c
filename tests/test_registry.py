"""Plugin registry: discovery from entry-point metadata, lazy loading, config resolution."""

from __future__ import annotations

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

#!/usr/bin/env bash
# Install recon into a project environment, .venv/ in this repository (never into the system Python,
# which Debian 12 and Ubuntu 24.04 mark as externally managed, PEP 668); run it as .venv/bin/recon or
# after `source .venv/bin/activate`. Safe to rerun: an existing .venv is reused, only what is missing is
# installed. RECON_VENV=DIR puts the environment elsewhere; RECON_PYTHON=EXE picks the interpreter.
#   bash scripts/install.sh          recon and its runtime dependencies (torch first, see below)
#   bash scripts/install.sh --test   also the test references: BART, ISMRMRD tools, dcmtk, dcm2niix,
#                                    dicom3tools, headless Chromium and a font for it (Debian), pytest,
#                                    hypothesis, ruff, mypy, scikit-image and fastMRI's metric/mask code
# Which torch: a CPU-only machine should take the CPU build (about 200 MB) rather than the CUDA build
# that PyPI serves by default on x86_64 Linux (several GB). Set RECON_TORCH to choose:
#   RECON_TORCH=cpu   (default) torch==$TORCH_VERSION from pip's configured sources; where PyTorch's
#                     CPU wheel index is reachable, also pass RECON_TORCH_INDEX=<that index URL>
#   RECON_TORCH=cuda  the default PyPI build of torch==$TORCH_VERSION, which bundles CUDA
#   RECON_TORCH=keep  use whatever torch the environment already has
# `recon info --system` then says which build is in use and which CUDA devices it sees.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1
TORCH_VERSION="${RECON_TORCH_VERSION:-2.13.0}"
venv="${RECON_VENV:-$repo/.venv}"

say() { echo "install.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || { say "no apt-get here; install $* by hand"; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. The interpreter: the system python3 (3.11+), which only needs venv support to make .venv.
base_python="${RECON_PYTHON:-$(command -v python3)}"
"$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { say "recon needs Python 3.11 or newer ($base_python is older)"; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    if ! "$base_python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        ver=$("$base_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        say "python3 lacks venv support; installing python3-venv (Debian)"
        apt_install "python${ver}-venv" || apt_install python3-venv
    fi
    say "creating $venv"
    "$base_python" -m venv "$venv"
fi
py="$venv/bin/python"
pip_install() { "$py" -m pip install --quiet --disable-pip-version-check "$@"; }

# 2. Debian references for the tests.
if [ "$with_tests" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    command -v bart >/dev/null || missing+=(bart)
    command -v ismrmrd_generate_cartesian_shepp_logan >/dev/null || missing+=(ismrmrd-tools)
    command -v dcmdump >/dev/null || missing+=(dcmtk)
    command -v dcm2niix >/dev/null || missing+=(dcm2niix)
    command -v dciodvfy >/dev/null || missing+=(dicom3tools)
    command -v chromium >/dev/null || missing+=(chromium)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
fi

# 3. torch before anything that depends on it, so that no dependency pulls a build we did not choose.
case "${RECON_TORCH:-cpu}" in
    keep) ;;
    cpu)
        if ! "$py" -c "import torch" 2>/dev/null; then
            if [ -n "${RECON_TORCH_INDEX:-}" ]; then
                pip_install "torch==$TORCH_VERSION" --index-url "$RECON_TORCH_INDEX"
            else
                pip_install "torch==$TORCH_VERSION"
            fi
        fi ;;
    cuda) "$py" -c "import torch" 2>/dev/null || pip_install "torch==$TORCH_VERSION" ;;
    *) say "RECON_TORCH must be cpu, cuda or keep"; exit 2 ;;
esac

# 4. The project (editable, so the checkout is what runs) and, for the tests, the references.
if [ "$with_tests" = 1 ]; then
    pip_install -e "$repo[test]" ruff==0.17.6 mypy==2.4.1  # pinned: CI lints with exactly these
    # fastMRI pins old Lightning/torchvision that its evaluate/subsample modules do not use: add only
    # what those modules import, then fastMRI itself without dependencies, last, so that no later
    # install re-checks (and reports) the pins it does not need.
    pip_install pandas runstats requests tqdm pyyaml
    "$py" -c "import fastmri" 2>/dev/null || pip_install --no-deps fastmri==0.3.0
else
    pip_install -e "$repo"
fi

say "recon installed in $venv: run it as $venv/bin/recon, or put $venv/bin first on PATH (source $venv/bin/activate)"

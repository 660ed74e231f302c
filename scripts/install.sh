#!/usr/bin/env bash
# Install recon into the current Python environment.
#   bash scripts/install.sh          recon and its runtime dependencies (CPU torch first)
#   bash scripts/install.sh --test   also the test references: BART, ISMRMRD tools, dcmtk, headless Chromium
#                                    and a font for it (Debian), pytest, scikit-image and fastMRI's metric/mask
#                                    code
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

if [ "$with_tests" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    command -v bart >/dev/null || missing+=(bart)
    command -v ismrmrd_generate_cartesian_shepp_logan >/dev/null || missing+=(ismrmrd-tools)
    command -v dcmdump >/dev/null || missing+=(dcmtk)
    command -v chromium >/dev/null || missing+=(chromium)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    if [ ${#missing[@]} -gt 0 ]; then
        sudo_cmd=""
        [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo_cmd apt-get update -qq
        $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# CPU torch before anything that depends on it, so pip never pulls CUDA wheels.
python3 -c "import torch" 2>/dev/null || pip_install torch==2.13.0
if [ "$with_tests" = 1 ]; then
    pip_install -e "$repo[test]"
    # fastMRI pins old Lightning/torchvision; its evaluate/subsample modules need none of them, only these.
    python3 -c "import fastmri" 2>/dev/null || pip_install --no-deps fastmri==0.3.0
    pip_install pandas runstats requests tqdm pyyaml
else
    pip_install -e "$repo"
fi

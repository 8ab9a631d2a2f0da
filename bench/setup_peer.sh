#!/usr/bin/env bash
# Creates the Python environment of bench/kb_peer.py (the retrieval peer of issue 15) with the exact
# versions its report names (bench/reports/2026-12-03/kb_peer.md: sentence-transformers 3.0.1,
# torch 1.13 from Debian, transformers 4.41.2, rank-bm25 0.2.2). Not run by CI or scripts/setup.sh:
# the peer is a measurement, not a test, and pulls ~200 MB from PyPI.
#
#   bash bench/setup_peer.sh [VENV]        # default /opt/helix-peer (HELIX_PEER_VENV overrides)
#   HELIX_BIN=build/helix VENV/bin/python bench/kb_peer.py --out bench/reports/DATE
#
# PyTorch and NumPy come from Debian (python3-torch, python3-numpy) through --system-site-packages;
# the rest is pinned here to the versions the measured run used, dependencies included, so a rerun
# installs the same code. Running it again on an existing venv only checks the pins.
set -euo pipefail
venv=${1:-${HELIX_PEER_VENV:-/opt/helix-peer}}

apt_pkgs=(python3-venv python3-torch python3-numpy)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y "${missing[@]}"
  else echo "setup_peer.sh: install the Debian packages ${missing[*]} first (sudo apt-get install -y ${missing[*]})" >&2; exit 1; fi
fi

[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --disable-pip-version-check \
  sentence-transformers==3.0.1 transformers==4.41.2 tokenizers==0.19.1 huggingface_hub==0.36.2 \
  safetensors==0.8.0 rank-bm25==0.2.2 'scipy==1.11.4' 'scikit-learn==1.4.2'

"$venv/bin/python" - <<'PY'
import numpy, rank_bm25, sentence_transformers, torch, transformers  # noqa: F401
print(f"peer venv ready: sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, "
      f"transformers {transformers.__version__}, numpy {numpy.__version__}")
PY
echo "run: HELIX_BIN=build/helix $venv/bin/python bench/kb_peer.py --out bench/reports/\$(date -u +%F)"

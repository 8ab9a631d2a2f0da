# Sourced by scripts/setup.sh and scripts/test.sh (with ROOT set to the checkout): when ccache is
# installed, every CMake build configured afterwards compiles through it (CMake reads these variables
# from the environment), and the cache keys leave out the checkout's folder, so another clone of the
# same sources reuses the objects.
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi

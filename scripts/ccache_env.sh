# Sourced by scripts/setup.sh and scripts/test.sh (with ROOT set to the checkout): when ccache is
# installed, every CMake build configured afterwards compiles through it (CMake reads these variables
# from the environment), and the cache keys leave out the checkout's folder, so another clone of the
# same sources reuses the objects.
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
  # The builds use precompiled headers (cmake/helix.cmake); ccache caches their users only with these.
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi

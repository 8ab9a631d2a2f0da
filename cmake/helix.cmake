# Build helpers shared by every Helix target: warnings, sanitizers, per-ISA sources, modules.

set(HELIX_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside std::string at -O3, on "literal" + string (GCC bugs
  # 105329, 105651), depending on inlining: they come and go with the order headers are seen in
  # (precompiled headers made five files fail). Clang (the fuzz build) still checks array bounds.
  list(APPEND HELIX_WARNINGS -Wno-restrict -Wno-stringop-overflow -Wno-array-bounds)
endif()

if(HELIX_SANITIZE)
  # -g1 (here and in the fuzz build): line tables, so reports keep file:line, without the full debug
  # info that made compiling and linking slower.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g1)
  add_link_options(-fsanitize=address,undefined)
endif()
if(HELIX_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g1)
  add_link_options(-fsanitize=address,undefined)
endif()

# CUDA (HELIX_CUDA=AUTO or ON): the kernels under src/kernels/cuda compile into helix_cuda, which
# nothing links or calls yet; default OFF (CMakeLists.txt). HELIX_CUDA_STATUS says what happened, for
# scripts/test.sh's compile check: "enabled", "no-nvcc" (none on PATH or in /usr/local/cuda/bin),
# "nvcc-unusable" (one is there but CMake cannot compile with it) or "off".
set(HELIX_CUDA_ENABLED OFF)
set(_status off)
if(NOT HELIX_CUDA STREQUAL "OFF" AND NOT HELIX_SANITIZE AND NOT HELIX_FUZZ)
  include(CheckLanguage)
  find_program(HELIX_NVCC nvcc HINTS /usr/local/cuda/bin)
  if(NOT CMAKE_CUDA_COMPILER AND HELIX_NVCC)
    set(CMAKE_CUDA_COMPILER ${HELIX_NVCC})
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(HELIX_CUDA_ENABLED ON)
    set(_status enabled)
  elseif(HELIX_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HELIX_CUDA=ON but no CUDA compiler was found")
  elseif(HELIX_NVCC)
    set(_status nvcc-unusable)
  else()
    set(_status no-nvcc)
  endif()
endif()
set(HELIX_CUDA_STATUS ${_status} CACHE INTERNAL "what the CUDA detection found")

# Precompiled headers: the standard library and nlohmann/json are parsed once for the libraries and
# the program (helix_core's, reused) and once with GoogleTest for the tests (test_core's), not in
# each of some 300 files (CI builds three times on two cores). helix_use_pch(TARGET) opts a target in.
option(HELIX_PCH "Precompile the standard and JSON headers" ON)
set(HELIX_PCH_HEADERS <algorithm> <array> <atomic> <cmath> <cstdint> <cstring> <filesystem> <functional> <map>
    <memory> <mutex> <optional> <set> <sstream> <string> <string_view> <unordered_map> <utility> <vector>
    <nlohmann/json.hpp>)
function(helix_use_pch target owner)
  if(NOT HELIX_PCH)
    return()
  endif()
  if(target STREQUAL owner)
    target_precompile_headers(${target} PRIVATE ${HELIX_PCH_HEADERS} ${ARGN})
  else()
    target_precompile_headers(${target} REUSE_FROM ${owner})
  endif()
endfunction()

# helix_module(NAME DEPS ...): a static library from src/NAME/*.cpp. Files named *_avx2.cpp are
# compiled for AVX2+FMA+F16C and must only be called after run-time CPU detection.
function(helix_module name)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)  # a module that has only headers so far
    add_library(helix_${name} INTERFACE)
    target_include_directories(helix_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(helix_${name} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(helix_${name} STATIC ${srcs})
  target_include_directories(helix_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(helix_${name} PRIVATE ${HELIX_WARNINGS})
  target_link_libraries(helix_${name} PUBLIC ${M_DEPS})
  helix_use_pch(helix_${name} helix_core)
  foreach(src IN LISTS srcs)
    if(src MATCHES "_avx2\\.cpp$")  # other target options: the shared precompiled header does not fit
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c" SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()

# Build helpers shared by every Helix target: warnings, sanitizers, per-ISA sources, modules.

set(HELIX_WARNINGS -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside std::string at -O3 (GCC bug 105329).
  list(APPEND HELIX_WARNINGS -Wno-restrict)
endif()

if(HELIX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
if(HELIX_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# CUDA (HELIX_CUDA=AUTO or ON): the kernels under src/kernels/cuda compile into helix_cuda, which
# nothing links or calls yet; default OFF (CMakeLists.txt).
set(HELIX_CUDA_ENABLED OFF)
if(NOT HELIX_CUDA STREQUAL "OFF" AND NOT HELIX_SANITIZE AND NOT HELIX_FUZZ)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(HELIX_CUDA_ENABLED ON)
  elseif(HELIX_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HELIX_CUDA=ON but no CUDA compiler was found")
  endif()
endif()

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
  foreach(src IN LISTS srcs)
    if(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    endif()
  endforeach()
endfunction()

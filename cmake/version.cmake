# Writes OUT (helix_version.h) with the project VERSION and `git describe` of the source tree SRC
# (empty when git or a checkout is missing), rewriting it only when it changes. Run at every build
# by the helix_version target, so `helix --version` names the commit the program was built from.
execute_process(COMMAND git describe --tags --always --dirty WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE describe ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  set(describe "")
endif()
set(text "#define HELIX_VERSION \"${VERSION}\"\n#define HELIX_GIT_DESCRIBE \"${describe}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()

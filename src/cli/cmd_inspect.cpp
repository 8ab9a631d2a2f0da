// helix inspect FILE: a model file's metadata and tensor table, like gguf-dump.
#include "cli/commands.h"
#include <cstdio>
namespace helix::cli {
int cmd_inspect(int, char**) {
  std::fprintf(stderr, "inspect: not yet available\n");
  return 1;
}
}  // namespace helix::cli

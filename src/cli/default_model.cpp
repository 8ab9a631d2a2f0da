#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace helix::cli {

std::string default_model_path() {
  if (const char* m = std::getenv("HELIX_MODEL"); m && *m) return m;
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    base = x;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home ? home : ".") + "/.local/share";
  }
  return base + "/helix/models/default.gguf";
}

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
  std::string p = default_model_path();
  if (!std::filesystem::exists(p))
    throw Error(cat("no model given and the default model is not installed at ", p,
                    "; run scripts/setup.sh to install it, or pass -m FILE.gguf"));
  return p;
}

}  // namespace helix::cli

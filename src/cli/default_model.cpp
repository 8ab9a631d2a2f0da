#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace helix::cli {

namespace {

// $XDG_DATA_HOME/helix, falling back to ~/.local/share/helix.
std::string data_dir() {
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    base = x;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home ? home : ".") + "/.local/share";
  }
  return base + "/helix";
}

std::string models_dir() { return data_dir() + "/models"; }

}  // namespace

std::string default_model_path() {
  if (const char* m = std::getenv("HELIX_MODEL"); m && *m) return m;
  return models_dir() + "/default.gguf";
}

std::string installed_embed_model_dir() { return models_dir() + "/embed"; }

std::string assistant_adapter_install_path() { return data_dir() + "/adapters/assistant.gguf"; }

std::string installed_assistant_adapter() {
  std::string p = assistant_adapter_install_path();
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) ? p : std::string();
}

std::string use_installed_adapter(std::vector<std::string>& lora, bool wanted) {
  if (!wanted || !lora.empty()) return {};
  std::string a = installed_assistant_adapter();
  if (!a.empty()) lora.push_back(a);
  return a;
}

std::string resolve_embed_model_path(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* m = std::getenv("HELIX_EMBED_MODEL"); m && *m) return m;
  const std::string dir = installed_embed_model_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(cat("no embedding model given and none is installed at ", dir,
                    "; run scripts/setup.sh to install all-MiniLM-L6-v2 there, or pass a directory or GGUF bert file"));
  return dir;
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

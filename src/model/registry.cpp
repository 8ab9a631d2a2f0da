// The architecture registry: one line per architecture (its GGUF name and its factory).
#include <memory>

#include "core/error.h"
#include "model/model.h"

#define HELIX_ARCHITECTURES(X) \
  X(llama)                     \
  X(qwen2)                     \
  X(gemma3)                    \
  X(ernie4_5)

namespace helix::model {

#define HELIX_DECLARE(name) std::unique_ptr<Model> make_##name(std::shared_ptr<const gguf::GGUFFile>);
HELIX_ARCHITECTURES(HELIX_DECLARE)
#undef HELIX_DECLARE

namespace {
struct Entry {
  const char* name;
  std::unique_ptr<Model> (*make)(std::shared_ptr<const gguf::GGUFFile>);
};
#define HELIX_ENTRY(name) Entry{#name, make_##name},
constexpr Entry kRegistry[] = {HELIX_ARCHITECTURES(HELIX_ENTRY)};
#undef HELIX_ENTRY
}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> v;
  for (const auto& e : kRegistry) v.emplace_back(e.name);
  return v;
}

std::unique_ptr<Model> load_model(std::shared_ptr<const gguf::GGUFFile> file) {
  const std::string arch = file->architecture();
  for (const auto& e : kRegistry)
    if (arch == e.name) return e.make(file);
  std::string known;
  for (const auto& e : kRegistry) known += std::string(known.empty() ? "" : ", ") + e.name;
  throw Error(cat("model file '", file->path(), "' has architecture '", arch,
                  "', which Helix does not run; supported: ", known));
}

int Model::add_lora_set(const std::vector<LoraUse>&) {
  throw Error(cat("the ", hp_.arch, " model '", file_->path(), "' takes no LoRA adapters (only decoder models do)"));
}

std::unique_ptr<Model> load_model(const std::string& path) {
  return load_model(std::make_shared<const gguf::GGUFFile>(gguf::GGUFFile::open(path)));
}

}  // namespace helix::model

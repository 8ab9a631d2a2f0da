// --lora FILE[:SCALE] and --lora NAME=FILE[:SCALE] (cli/lora_flags.h).
#include "cli/lora_flags.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace helix::cli {

LoraFlag parse_lora_flag(const std::string& spec) {
  LoraFlag f;
  std::string rest = spec;
  const size_t eq = rest.find('=');
  if (eq != std::string::npos && rest.find('/') > eq) {  // NAME=FILE (a '=' inside a path is not a name)
    f.name = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
    HELIX_CHECK(!f.name.empty(), "--lora '", spec, "': the adapter name before '=' is empty");
  }
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    const std::string s = rest.substr(colon + 1);
    char* end = nullptr;
    const float v = std::strtof(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') {
      f.scale = v;
      rest = rest.substr(0, colon);
    }
  }
  HELIX_CHECK(!rest.empty(), "--lora '", spec, "' names no adapter file (use --lora FILE[:SCALE])");
  f.path = rest;
  return f;
}

namespace {

model::LoraUse load_use(const LoraFlag& f) {
  model::LoraUse u;
  u.adapter = std::make_shared<const model::LoraAdapter>(model::load_lora(f.path));
  u.scale = f.scale;
  u.path = f.path;
  return u;
}

}  // namespace

std::string apply_default_loras(const std::vector<std::string>& specs, model::Model& m, bool named_ok) {
  std::vector<model::LoraUse> uses;
  std::string tmpl;
  for (const std::string& s : specs) {
    const LoraFlag f = parse_lora_flag(s);
    HELIX_CHECK(f.name.empty() || named_ok, "--lora '", s, "': named adapters (NAME=FILE) are for helix serve; ",
                "here give --lora FILE[:SCALE]");
    if (!f.name.empty()) continue;
    uses.push_back(load_use(f));
    std::fprintf(stderr, "LoRA adapter %s (%zu tensors, alpha %g) at scale %g\n", f.path.c_str(),
                 uses.back().adapter->weights.size(), static_cast<double>(uses.back().adapter->alpha),
                 static_cast<double>(f.scale));
    if (tmpl.empty()) tmpl = uses.back().adapter->chat_template;
  }
  if (!uses.empty()) m.set_default_lora(m.add_lora_set(uses));
  return tmpl;
}

std::map<std::string, NamedLora> add_named_loras(const std::vector<std::string>& specs, model::Model& m) {
  std::map<std::string, std::vector<model::LoraUse>> by_name;
  for (const std::string& s : specs) {
    const LoraFlag f = parse_lora_flag(s);
    if (!f.name.empty()) by_name[f.name].push_back(load_use(f));
  }
  std::map<std::string, NamedLora> out;
  for (const auto& [name, uses] : by_name) {
    NamedLora& n = out[name];
    n.set = m.add_lora_set(uses);
    for (const auto& u : uses) {
      n.paths.push_back(u.path);
      if (n.chat_template.empty()) n.chat_template = u.adapter->chat_template;
    }
    std::fprintf(stderr, "LoRA adapter '%s' from %s%s\n", name.c_str(), uses.front().path.c_str(),
                 n.chat_template.empty() ? "" : " (with its chat template)");
  }
  return out;
}

}  // namespace helix::cli

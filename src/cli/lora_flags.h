// The --lora flag of run, chat, serve and logits: `--lora FILE[:SCALE]` (repeatable; adapters
// add, and one file given twice adds its scales) applies adapters to every sequence;
// `--lora NAME=FILE[:SCALE]` (serve) names an adapter that a request picks by model name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/model.h"

namespace helix::cli {

struct LoraFlag {
  std::string name;  // empty: applies to every sequence
  std::string path;
  float scale = 1.0f;
};
LoraFlag parse_lora_flag(const std::string& spec);

// Loads the unnamed adapters of `specs` into one set and makes it the model's default; reports
// them on stderr. Does nothing when there are none. Named ones are refused unless named_ok.
// Returns the chat template the adapters were trained with (helix.chat_template; the first one
// that has one), or "" when none carries one.
std::string apply_default_loras(const std::vector<std::string>& specs, model::Model& m, bool named_ok = false);
// Loads each named adapter (NAME=FILE[:SCALE]; one NAME given twice combines both) as its own
// set: returns NAME -> the set id, its files and the chat template the first of them carries.
struct NamedLora {
  int set = 0;
  std::vector<std::string> paths;
  std::string chat_template;
};
std::map<std::string, NamedLora> add_named_loras(const std::vector<std::string>& specs, model::Model& m);

}  // namespace helix::cli

#include "train/recipe_reader.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace helix::train {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

ojson from_toml(const toml::node& n, const std::string& where, RecipeLines& lines, const std::string& file) {
  lines[where] = n.source().begin.line;
  if (auto* t = n.as_table()) {
    ojson o = ojson::object();
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      o[key] = from_toml(v, where.empty() ? key : where + "." + key, lines, file);
    }
    return o;
  }
  if (auto* a = n.as_array()) {
    ojson o = ojson::array();
    for (size_t i = 0; i < a->size(); ++i) o.push_back(from_toml(*a->get(i), cat(where, "[", i, "]"), lines, file));
    return o;
  }
  if (auto v = n.value_exact<std::string>()) return *v;
  if (auto v = n.value_exact<int64_t>()) return *v;
  if (auto v = n.value_exact<double>()) return *v;
  if (auto v = n.value_exact<bool>()) return *v;
  throw Error(cat(file, ":", n.source().begin.line, ": ", where, ": dates and times have no meaning in a recipe"));
}

}  // namespace

ojson parse_recipe_tree(const std::string& text, const std::string& path, RecipeLines& lines) {
  if (fs::path(path).extension() == ".json") {
    try {
      return ojson::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(cat(path, ": invalid JSON: ", e.what()));
    }
  }
  try {
    toml::table t = toml::parse(text, path);
    return from_toml(t, "", lines, path);
  } catch (const toml::parse_error& e) {
    throw Error(cat(path, ":", e.source().begin.line, ": invalid TOML: ", e.description()));
  }
}

std::string read_recipe_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HELIX_CHECK(in, "cannot read the recipe ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string resolve_recipe_path(const std::string& dir, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(dir) / p).lexically_normal().string();
}

RecipeHead read_recipe_head(const RecipeReader& r, const std::string& path) {
  RecipeHead h;
  h.path = path;
  h.dir = fs::path(path).parent_path().string();
  if (h.dir.empty()) h.dir = ".";
  h.name = fs::path(path).stem().string();
  r.str("name", h.name);
  r.str("model", h.model);
  if (h.model != "default") h.model = resolve_recipe_path(h.dir, h.model);
  r.str("chat_template", h.chat_template);
  h.chat_template = resolve_recipe_path(h.dir, h.chat_template);
  h.out = h.name + ".gguf";
  r.str("out", h.out);
  int64_t seed = 0;
  r.integer("seed", seed, 0, INT64_MAX);
  h.seed = static_cast<uint64_t>(seed);
  r.str("on_bad_data", h.on_bad_data, {"stop", "skip"});
  r.str("adapter", h.adapter);
  if (h.adapter != "assistant") h.adapter = resolve_recipe_path(h.dir, h.adapter);
  return h;
}

}  // namespace helix::train

// The reading half of recipe files, shared by the SFT recipes (recipe.h) and the reward-model
// recipes (reward_recipe.h): TOML (toml++) or JSON (nlohmann) text turned into one JSON tree (TOML
// keeps a line number per key path), and a reader of typed values that names file, line and key
// in every error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace helix::train {

using RecipeLines = std::map<std::string, int64_t>;  // key path ("stages[0].lr") -> TOML line

// Parses recipe text (.json by the path's extension, anything else as TOML) into a JSON tree;
// throws helix::Error "FILE:LINE: invalid TOML: ..." / "FILE: invalid JSON: ...".
nlohmann::ordered_json parse_recipe_tree(const std::string& text, const std::string& path, RecipeLines& lines);
// Reads a recipe file's text; throws naming the file when it cannot.
std::string read_recipe_text(const std::string& path);
// p relative to dir (unchanged when empty or absolute).
std::string resolve_recipe_path(const std::string& dir, const std::string& p);

class RecipeReader;

// The keys every recipe begins with (SFT recipes, recipe.h; reward-model recipes, reward_data.h).
struct RecipeHead {
  std::string path, dir;  // the file and its folder (paths below are already resolved)
  std::string name, model = "default", chat_template, out, on_bad_data = "stop";
  std::string adapter;  // the adapter training starts from: "", a resolved path, or "assistant"
  uint64_t seed = 0;
};
// Reads name (default: the file's stem), model, chat_template, out (default NAME.gguf), seed,
// on_bad_data and adapter from the recipe's top level.
RecipeHead read_recipe_head(const RecipeReader& r, const std::string& path);

// Reads typed values out of one JSON object, naming the key path, line and file in every error.
class RecipeReader {
 public:
  RecipeReader(const nlohmann::ordered_json& obj, std::string where, const RecipeLines& lines, const std::string& file)
      : o_(obj), where_(std::move(where)), lines_(lines), file_(file) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    const std::string path = key.empty() ? where_ : where_.empty() ? key : where_ + "." + key;
    auto it = lines_.find(path);
    const std::string at = it != lines_.end() ? cat(file_, ":", it->second) : file_;
    throw Error(cat(at, ": ", path.empty() ? "the recipe" : path, ": ", what));
  }
  bool has(const std::string& k) const { return o_.contains(k); }
  const nlohmann::ordered_json& raw(const std::string& k) const { return o_.at(k); }
  std::string sub(const std::string& k) const { return where_.empty() ? k : where_ + "." + k; }

  void only(std::initializer_list<const char*> known) const {
    std::set<std::string> ok(known.begin(), known.end());
    for (auto& [k, v] : o_.items()) {
      if (ok.count(k)) continue;
      std::string list;
      for (const char* s : known) list += cat(list.empty() ? "" : ", ", s);
      fail(k, cat("unknown key (allowed here: ", list, ")"));
    }
  }
  void str(const std::string& k, std::string& out, std::initializer_list<const char*> allowed = {}) const {
    if (!has(k)) return;
    if (!o_[k].is_string() || o_[k].get<std::string>().empty()) fail(k, cat("must be a non-empty string (got ", o_[k].dump(), ")"));
    out = o_[k].get<std::string>();
    if (allowed.size() == 0) return;
    std::string list;
    for (const char* a : allowed) {
      if (out == a) return;
      list += cat(list.empty() ? "" : ", ", "'", a, "'");
    }
    fail(k, cat("'", out, "' is not one of ", list));
  }
  void num(const std::string& k, double& out, double lo, double hi, bool lo_open = false) const {
    if (!has(k)) return;
    if (!o_[k].is_number()) fail(k, cat("must be a number (got ", o_[k].dump(), ")"));
    const double v = o_[k].get<double>();
    if (v < lo || v > hi || (lo_open && v == lo))
      fail(k, cat("must be ", lo_open ? "> " : ">= ", lo, " and <= ", hi, " (got ", v, ")"));
    out = v;
  }
  void integer(const std::string& k, int64_t& out, int64_t lo, int64_t hi) const {
    if (!has(k)) return;
    if (!o_[k].is_number_integer()) fail(k, cat("must be a whole number (got ", o_[k].dump(), ")"));
    const int64_t v = o_[k].get<int64_t>();
    if (v < lo || v > hi) fail(k, cat("must be between ", lo, " and ", hi, " (got ", v, ")"));
    out = v;
  }
  void boolean(const std::string& k, bool& out) const {
    if (!has(k)) return;
    if (!o_[k].is_boolean()) fail(k, cat("must be true or false (got ", o_[k].dump(), ")"));
    out = o_[k].get<bool>();
  }
  void strings(const std::string& k, std::vector<std::string>& out) const {
    if (!has(k)) return;
    if (!o_[k].is_array()) fail(k, cat("must be a list of strings (got ", o_[k].dump(), ")"));
    out.clear();
    for (const auto& v : o_[k]) {
      if (!v.is_string()) fail(k, cat("must be a list of strings (got ", v.dump(), " in it)"));
      out.push_back(v.get<std::string>());
    }
  }
  RecipeReader child(const std::string& k, bool array_item = false, size_t i = 0) const {
    const nlohmann::ordered_json& v = array_item ? o_.at(k).at(i) : o_.at(k);
    const std::string w = array_item ? cat(sub(k), "[", i, "]") : sub(k);
    if (!v.is_object()) RecipeReader(o_, where_, lines_, file_).fail(array_item ? cat(k, "[", i, "]") : k, "must be a table/object");
    return RecipeReader(v, w, lines_, file_);
  }
  size_t list_size(const std::string& k) const {
    if (!has(k)) return 0;
    if (!o_[k].is_array()) fail(k, "must be a list of tables ([[" + sub(k) + "]] in TOML)");
    return o_[k].size();
  }

 private:
  const nlohmann::ordered_json& o_;
  std::string where_;
  const RecipeLines& lines_;
  const std::string& file_;
};

}  // namespace helix::train

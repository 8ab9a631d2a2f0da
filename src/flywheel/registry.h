// The flywheel's promotion registry: which adapter is "current" under each name, and a durable log
// of every promotion and rollback (SQLite, synchronous=FULL, one transaction per change; see
// server/feedback.h for why a kill -9 cannot leave it half-written).
//
// Adapters are kept as immutable versioned files in ADAPTERS_DIR (default: the folder "adapters"
// beside the registry file), named NAME-<first 12 hex digits of the sha256>.gguf: a promotion copies
// the adapter there (temporary file, fsync, rename) before the registry row that names it is
// committed, so the registry never points at a missing or partial file. The "current" pointer is
// one row per name, switched in the same transaction as the log row; ADAPTERS_DIR/NAME.current.gguf
// is a symbolic link to the current file, replaced atomically (rename), for tools that take a path.
//
//   Registry reg(default_registry_path());
//   Promotion p = reg.promote("assistant", "cand.gguf", {.recipe = "r.toml", .trigger = "flywheel run"});
//   reg.rollback("assistant");               // back to the adapter current before p
//   for (const Promotion& q : reg.log("")) ...
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace helix::knowledge {
class Db;
}

namespace helix::flywheel {

using ojson = nlohmann::ordered_json;

// $XDG_DATA_HOME/helix/flywheel/registry.db (~/.local/share/... when unset).
std::string default_registry_path();

// What a promotion records besides the adapter.
struct PromotionInfo {
  std::string recipe;             // the recipe file of a flywheel run ("" for a manual promotion)
  std::string trigger;            // who or what: "helix flywheel run RECIPE (user@host)", ...
  std::string run;                // the run's identity (its work folder and start), "" when manual
  ojson evals_before = nullptr;   // held-out figures of the adapter current before (set -> metric -> value)
  ojson evals_after = nullptr;    // of the promoted adapter
  ojson decision = nullptr;       // the rule and how it was met
  std::string note;
};

struct Promotion {
  int64_t id = 0;
  std::string name;     // the adapter's name (served as ALIAS:NAME)
  std::string action;   // "promote" or "rollback"
  int64_t time = 0;     // Unix seconds
  std::string adapter;  // the versioned file
  std::string sha256;
  std::string source;   // the file it was promoted from
  int64_t previous = 0; // the promotion that was current before (0: none)
  PromotionInfo info;
};
ojson promotion_json(const Promotion& p);

class Registry {
 public:
  // Opens or creates the registry (and its folder). adapters_dir "": beside the file.
  explicit Registry(const std::string& path, std::string adapters_dir = "");
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  static constexpr int kSchemaVersion = 1;

  // Copies `adapter` into the versioned store and makes it current under `name`; returns the
  // logged promotion. Throws helix::Error when the file is missing or not a LoRA adapter.
  Promotion promote(const std::string& name, const std::string& adapter, PromotionInfo info);
  // Makes the adapter of promotion `to` current again (to == 0: the one current before the
  // current one), logged as a "rollback". Throws when there is nothing to go back to.
  Promotion rollback(const std::string& name, int64_t to, const std::string& trigger);

  std::optional<Promotion> current(const std::string& name);
  std::vector<Promotion> current_all();                  // one per name, by name
  std::vector<Promotion> log(const std::string& name);   // oldest first; "" for all names
  std::optional<Promotion> get(int64_t id);
  std::optional<Promotion> find_run(const std::string& run);  // the promotion a run made, if any
  std::string integrity_check();
  const std::string& path() const { return path_; }
  const std::string& adapters_dir() const { return dir_; }

 private:
  Promotion make_current(const std::string& name, const std::string& action, const std::string& file,
                         const std::string& sha, const std::string& source, const PromotionInfo& info);
  std::vector<Promotion> query(const std::string& where, const std::string& arg, int64_t id);

  std::string path_, dir_;
  std::unique_ptr<knowledge::Db> db_;
  std::mutex mu_;
};

// Checks a registry name: 1-100 of [A-Za-z0-9_.-], not starting with '.'.
void check_name(const std::string& name);

}  // namespace helix::flywheel

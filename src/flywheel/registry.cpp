// The promotion registry (see registry.h).
#include "flywheel/registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "knowledge/sqlite.h"
#include "knowledge/store.h"
#include "model/lora.h"

namespace helix::flywheel {

namespace fs = std::filesystem;
using knowledge::Db;
using knowledge::Stmt;
using knowledge::Transaction;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE promotions(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  action TEXT NOT NULL,
  time INTEGER NOT NULL,
  adapter TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  source TEXT NOT NULL,
  previous INTEGER NOT NULL,
  recipe TEXT NOT NULL,
  trigger TEXT NOT NULL,
  run TEXT NOT NULL,
  evals_before TEXT NOT NULL,
  evals_after TEXT NOT NULL,
  decision TEXT NOT NULL,
  note TEXT NOT NULL);
CREATE INDEX promotions_by_name ON promotions(name);
CREATE TABLE current(name TEXT PRIMARY KEY, promotion INTEGER NOT NULL REFERENCES promotions(id));
PRAGMA user_version = 1;
)sql";

constexpr const char* kColumns =
    "id, name, action, time, adapter, sha256, source, previous, recipe, trigger, run, evals_before, evals_after, "
    "decision, note";

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Promotion read_row(const Stmt& s) {
  Promotion p;
  p.id = s.i64(0);
  p.name = s.str(1);
  p.action = s.str(2);
  p.time = s.i64(3);
  p.adapter = s.str(4);
  p.sha256 = s.str(5);
  p.source = s.str(6);
  p.previous = s.i64(7);
  p.info.recipe = s.str(8);
  p.info.trigger = s.str(9);
  p.info.run = s.str(10);
  p.info.evals_before = ojson::parse(s.str(11));
  p.info.evals_after = ojson::parse(s.str(12));
  p.info.decision = ojson::parse(s.str(13));
  p.info.note = s.str(14);
  return p;
}

// Copies src to dst so that dst is either absent or complete and on disk (temporary file, fsync,
// rename, fsync of the folder).
void durable_copy(const std::string& src, const std::string& dst) {
  const std::string bytes = read_file(src, "adapter");
  const std::string tmp = dst + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
  HELIX_CHECK(fd >= 0, "cannot write '", tmp, "' (is the registry folder writable?)");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw Error(cat("writing '", tmp, "' failed (disk full?)"));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  HELIX_CHECK(synced, "fsync of '", tmp, "' failed");
  fs::rename(tmp, dst);
  const int dfd = ::open(fs::path(dst).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ADAPTERS_DIR/NAME.current.gguf -> the current file, replaced atomically. Best effort: the
// registry row is the truth; a failure here is not an error.
void point_current(const std::string& dir, const std::string& name, const std::string& file) {
  const fs::path link = fs::path(dir) / (name + ".current.gguf"), tmp = fs::path(dir) / (name + ".current.gguf.tmp");
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(fs::path(file).filename(), tmp, ec);
  if (!ec) fs::rename(tmp, link, ec);
}

}  // namespace

std::string default_registry_path() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = xdg && *xdg ? std::string(xdg) : std::string(home ? home : ".") + "/.local/share";
  return base + "/helix/flywheel/registry.db";
}

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  HELIX_CHECK(ok, "the adapter name '", name, "' is not allowed: use 1-100 letters, digits, '-', '_' or '.' ",
              "(not starting with '.'); requests pick it as MODEL:NAME");
}

ojson promotion_json(const Promotion& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"action", p.action},
          {"time", p.time},
          {"adapter", p.adapter},
          {"sha256", p.sha256},
          {"source", p.source},
          {"previous", p.previous},
          {"recipe", p.info.recipe},
          {"trigger", p.info.trigger},
          {"run", p.info.run},
          {"evals_before", p.info.evals_before},
          {"evals_after", p.info.evals_after},
          {"decision", p.info.decision},
          {"note", p.info.note}};
}

Registry::Registry(const std::string& path, std::string adapters_dir) : path_(path), dir_(std::move(adapters_dir)) {
  const fs::path parent = fs::absolute(path).parent_path();
  fs::create_directories(parent);
  if (dir_.empty()) dir_ = (parent / "adapters").string();
  fs::create_directories(dir_);
  db_ = std::make_unique<Db>(path, knowledge::DbOptions{"flywheel registry", /*durable=*/true});
  knowledge::open_schema(*db_, "flywheel registry", kSchemaVersion, kSchema);
}

Registry::~Registry() = default;

Promotion Registry::make_current(const std::string& name, const std::string& action, const std::string& file,
                                 const std::string& sha, const std::string& source, const PromotionInfo& info) {
  Transaction tx(*db_);
  int64_t previous = 0;
  {
    Stmt q(*db_, "SELECT promotion FROM current WHERE name = ?");
    q.bind(1, name);
    if (q.step()) previous = q.i64(0);
  }
  Stmt ins(*db_, cat("INSERT INTO promotions(", std::string(kColumns).substr(4),
                     ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  const int64_t now = unix_now();
  ins.bind(1, name).bind(2, action).bind(3, now).bind(4, file).bind(5, sha).bind(6, source).bind(7, previous);
  ins.bind(8, info.recipe).bind(9, info.trigger).bind(10, info.run).bind(11, info.evals_before.dump());
  ins.bind(12, info.evals_after.dump()).bind(13, info.decision.dump()).bind(14, info.note);
  ins.run();
  const int64_t id = db_->last_insert_id();
  Stmt cur(*db_, "INSERT INTO current(name, promotion) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET promotion = excluded.promotion");
  cur.bind(1, name).bind(2, id);
  cur.run();
  tx.commit();
  point_current(dir_, name, file);
  return Promotion{id, name, action, now, file, sha, source, previous, info};
}

Promotion Registry::promote(const std::string& name, const std::string& adapter, PromotionInfo info) {
  check_name(name);
  HELIX_CHECK(fs::is_regular_file(adapter), "no adapter file at '", adapter, "'");
  model::load_lora(adapter);  // refuses anything that is not a LoRA adapter GGUF, naming what is wrong
  const std::string sha = knowledge::sha256_hex(read_file(adapter, "adapter"));
  const std::string file = (fs::path(dir_) / cat(name, "-", sha.substr(0, 12), ".gguf")).string();
  std::lock_guard<std::mutex> lk(mu_);
  if (!fs::exists(file)) durable_copy(adapter, file);  // content-addressed: the same bytes are stored once
  return make_current(name, "promote", file, sha, fs::absolute(adapter).string(), info);
}

Promotion Registry::rollback(const std::string& name, int64_t to, const std::string& trigger) {
  check_name(name);
  std::lock_guard<std::mutex> lk(mu_);
  auto cur = query("c.name = ?", name, 0);
  HELIX_CHECK(!cur.empty(), "nothing to roll back: no adapter was ever promoted under '", name, "'");
  Promotion target;
  if (to == 0) {
    // The adapter current before the current one's promotion: a rollback row stands for the
    // promotion it restored, so rolling back twice goes two promotions back, not back and forth.
    Promotion from = cur[0];
    while (from.action == "rollback") {
      auto r = query("", "", from.info.decision.value("restored", int64_t{0}));
      HELIX_CHECK(!r.empty(), "the registry lost the promotion that #", from.id, " restored");
      from = r[0];
    }
    HELIX_CHECK(from.previous != 0, "nothing to roll back to: promotion #", from.id, " was the first under '", name,
                "' (helix flywheel log lists them)");
    auto t = query("", "", from.previous);
    HELIX_CHECK(!t.empty(), "the registry lost promotion #", from.previous);
    target = t[0];
  } else {
    auto t = query("", "", to);
    HELIX_CHECK(!t.empty(), "no promotion #", to, " in the registry (helix flywheel log lists them)");
    HELIX_CHECK(t[0].name == name, "promotion #", to, " is of '", t[0].name, "', not of '", name, "' (give --name ",
                t[0].name, ")");
    HELIX_CHECK(to != cur[0].id, "promotion #", to, " is already current under '", name, "'");
    target = t[0];
  }
  HELIX_CHECK(fs::exists(target.adapter), "the adapter of promotion #", target.id, " is gone from the store (",
              target.adapter, "); it cannot be made current again");
  PromotionInfo info;
  info.trigger = trigger;
  info.evals_before = cur[0].info.evals_after;
  info.evals_after = target.info.evals_after;
  // What a rollback row restores: the promotion itself (a rollback target stands for the one it restored).
  info.decision = {{"restored", target.action == "rollback" ? target.info.decision.value("restored", target.id) : target.id}};
  info.note = cat("rollback from #", cur[0].id, " to #", target.id);
  return make_current(name, "rollback", target.adapter, target.sha256, target.source, info);
}

std::vector<Promotion> Registry::query(const std::string& where, const std::string& arg, int64_t id) {
  std::string cols;
  for (const char* c = kColumns; *c;) {  // "p." before each column name
    const char* e = c;
    while (*e && *e != ',') ++e;
    cols += cat(cols.empty() ? "" : ", ", "p.", std::string(c, e));
    c = *e ? e + 2 : e;
  }
  std::string sql = cat("SELECT ", cols, " FROM promotions p");
  if (where.rfind("c.", 0) == 0) sql += " JOIN current c ON c.promotion = p.id";
  if (!where.empty()) sql += " WHERE " + where;
  else if (id > 0) sql += " WHERE p.id = ?";
  sql += " ORDER BY p.id";
  Stmt s(*db_, sql);
  if (!where.empty() && where.find('?') != std::string::npos) s.bind(1, arg);
  else if (where.empty() && id > 0) s.bind(1, id);
  std::vector<Promotion> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::optional<Promotion> Registry::current(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = query("c.name = ?", name, 0);
  if (r.empty()) return std::nullopt;
  return r[0];
}

std::vector<Promotion> Registry::current_all() {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = query("c.name IS NOT NULL", "", 0);
  std::sort(r.begin(), r.end(), [](const Promotion& a, const Promotion& b) { return a.name < b.name; });
  return r;
}

std::vector<Promotion> Registry::log(const std::string& name) {
  std::lock_guard<std::mutex> lk(mu_);
  return name.empty() ? query("1 = 1", "", 0) : query("p.name = ?", name, 0);
}

std::optional<Promotion> Registry::get(int64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = query("", "", id);
  if (r.empty()) return std::nullopt;
  return r[0];
}

std::optional<Promotion> Registry::find_run(const std::string& run) {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = query("p.run = ?", run, 0);
  if (r.empty()) return std::nullopt;
  return r.back();
}

std::string Registry::integrity_check() {
  std::lock_guard<std::mutex> lk(mu_);
  Stmt s(*db_, "PRAGMA integrity_check");
  return s.step() ? s.str(0) : "no answer";
}

}  // namespace helix::flywheel

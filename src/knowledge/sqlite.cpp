// SQLite RAII wrappers (see sqlite.h).
#include "knowledge/sqlite.h"

#include <sqlite3.h>

#include <cstring>

#include "core/error.h"

namespace helix::knowledge {

Db::Db(const std::string& path, const DbOptions& options) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(cat("cannot open the ", options.what, " '", path, "': ", msg,
                    " (give a writable file path; its folder must exist)"));
  }
  sqlite3_busy_timeout(db_, 10000);  // a reader while another process writes waits, not fails
  try {
    exec(cat("PRAGMA journal_mode=WAL; PRAGMA synchronous=", options.durable ? "FULL" : "NORMAL",
             "; PRAGMA foreign_keys=ON;"));
  } catch (const Error& e) {
    const bool not_db = sqlite3_errcode(db_) == SQLITE_NOTADB;
    sqlite3_close(db_);
    db_ = nullptr;
    if (not_db)
      throw Error(cat("'", path, "' is not a SQLite database; give a new file name or an existing ", options.what));
    throw;
  }
}

Db::~Db() { sqlite3_close(db_); }

void Db::fail(const std::string& what) const {
  throw Error(cat(path_, ": ", what, ": ", sqlite3_errmsg(db_)));
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(cat(path_, ": SQL failed (", msg, ")"));
  }
}

int64_t Db::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

Stmt::Stmt(Db& db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &st_, nullptr) != SQLITE_OK) db.fail("cannot prepare '" + sql + "'");
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

Stmt& Stmt::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(st_, i, v) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Stmt& Stmt::bind_opt(int i, const std::optional<std::string>& v) { return v ? bind(i, std::string_view(*v)) : bind_null(i); }
Stmt& Stmt::bind_null(int i) {
  if (sqlite3_bind_null(st_, i) != SQLITE_OK) db_.fail("bind");
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t bytes) {
  if (sqlite3_bind_blob(st_, i, data, static_cast<int>(bytes), SQLITE_TRANSIENT) != SQLITE_OK) db_.fail("bind");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail("query failed");
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
int64_t Stmt::i64(int col) const { return sqlite3_column_int64(st_, col); }
double Stmt::f64(int col) const { return sqlite3_column_double(st_, col); }
std::string Stmt::str(int col) const {
  const auto* p = sqlite3_column_text(st_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, col))) : "";
}
std::optional<std::string> Stmt::opt_str(int col) const {
  return is_null(col) ? std::nullopt : std::optional<std::string>(str(col));
}
std::vector<float> Stmt::floats(int col) const {
  const void* p = sqlite3_column_blob(st_, col);
  const size_t n = static_cast<size_t>(sqlite3_column_bytes(st_, col)) / sizeof(float);
  std::vector<float> v(n);
  if (n) std::memcpy(v.data(), p, n * sizeof(float));
  return v;
}

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

int64_t open_schema(Db& db, const std::string& what, int64_t version, const std::string& schema) {
  int64_t found = 0;
  {
    Stmt s(db, "PRAGMA user_version");
    if (s.step()) found = s.i64(0);
  }
  if (found > version)
    throw Error(cat("the ", what, " '", db.path(), "' has schema version ", found, "; this helix reads up to ",
                    version, " (use a newer helix)"));
  if (found == 0) {
    Transaction tx(db);
    Stmt t(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    t.step();
    if (t.i64(0) != 0)
      throw Error(cat("'", db.path(), "' is a SQLite database but not a Helix ", what, " (it has other tables)"));
    db.exec(schema);
    tx.commit();
  }
  return found;
}

}  // namespace helix::knowledge

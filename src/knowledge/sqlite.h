// A small RAII layer over SQLite: a connection, prepared statements with typed binds and
// columns, and a transaction guard that rolls back unless committed. Errors throw helix::Error
// with SQLite's message and the database's path. Every SQLite store in Helix uses it (knowledge
// bases, the server's feedback store).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace helix::knowledge {

struct DbOptions {
  std::string what = "knowledge base database";  // names the file in errors
  bool durable = false;  // synchronous=FULL: a committed transaction survives power loss (NORMAL: a crash)
};

class Db {
 public:
  // Opens (creating) the file; WAL mode, foreign keys on. A file that is not a SQLite database is
  // refused with a message that says so.
  explicit Db(const std::string& path, const DbOptions& options = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  int64_t last_insert_id() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  Stmt(Db& db, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind_opt(int i, const std::optional<std::string>& v);  // NULL when empty
  Stmt& bind_null(int i);
  Stmt& bind_blob(int i, const void* data, size_t bytes);
  bool step();  // true while a row is available
  void run() { step(); reset(); }
  void reset();

  bool is_null(int col) const;
  int64_t i64(int col) const;
  double f64(int col) const;
  std::string str(int col) const;
  std::optional<std::string> opt_str(int col) const;  // nullopt for NULL
  std::vector<float> floats(int col) const;  // a BLOB of f32

 private:
  Db& db_;
  sqlite3_stmt* st_ = nullptr;
};

class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();  // rolls back unless commit() ran
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

// A store's schema: creates it (`schema`, which sets PRAGMA user_version to `version`) in a new,
// empty database and checks an existing one: a newer schema version than `version`, or a
// database with other tables and no version, is refused with a message that names `db.path()`
// as `what` ("flywheel registry", "feedback store"). Returns the version found (0: created).
int64_t open_schema(Db& db, const std::string& what, int64_t version, const std::string& schema);

}  // namespace helix::knowledge

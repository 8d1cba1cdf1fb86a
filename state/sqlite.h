// A thin RAII layer over the SQLite C API: one connection, cached prepared statements and an
// IMMEDIATE write transaction guard. Internal to state/. Not thread-safe: one per thread.
#ifndef WEIR_STATE_SQLITE_H_
#define WEIR_STATE_SQLITE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace weir::state {

class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  Statement& Bind(int i, std::int64_t v);
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, double v);
  Statement& BindNull(int i);
  template <typename T>
  Statement& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }
  Statement& Bind(int i, int v) { return Bind(i, static_cast<std::int64_t>(v)); }
  Statement& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }

  // True when a row is ready; false when done. Resets itself when done or on error.
  [[nodiscard]] Result<bool> Step();
  // Runs to completion, expecting no rows.
  [[nodiscard]] Result<void> Run();

  bool IsNull(int col) const;
  std::int64_t Int(int col) const;
  double Real(int col) const;
  std::string Text(int col) const;
  std::optional<std::int64_t> OptionalInt(int col) const;

  void Reset();

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

class Database {
 public:
  // Opens (and creates when `create`) the file; sets WAL, a busy timeout and foreign keys.
  [[nodiscard]] static Result<std::unique_ptr<Database>> Open(const std::filesystem::path& path,
                                                              bool create,
                                                              int busy_timeout_ms = 10'000);
  ~Database();

  // Runs one or more statements with no results.
  [[nodiscard]] Result<void> Exec(std::string_view sql);
  // A prepared statement, cached by its text; valid until the Database is destroyed.
  [[nodiscard]] Result<Statement*> Prepare(const std::string& sql);

  sqlite3* handle() const { return db_; }
  // The rowid of the last row this connection inserted.
  std::int64_t LastInsertRowId() const;
  // An Error for the connection's last failure, with `what` as context.
  Error LastError(std::string_view what) const;

 private:
  friend class WriteTransaction;
  friend class ReadSnapshot;
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  int open_transactions_ = 0;  // WriteTransactions open on this connection
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

// BEGIN IMMEDIATE now; ROLLBACK on destruction unless Commit() succeeded. Inside another
// WriteTransaction of the same connection it is a SAVEPOINT instead, so a body that fails rolls
// back only its own changes and the outer transaction decides when to commit.
class WriteTransaction {
 public:
  [[nodiscard]] static Result<WriteTransaction> Begin(Database& db);
  WriteTransaction(WriteTransaction&& other) noexcept : db_(other.db_), nested_(other.nested_) {
    other.db_ = nullptr;
  }
  WriteTransaction& operator=(WriteTransaction&&) = delete;
  ~WriteTransaction();
  [[nodiscard]] Result<void> Commit();

 private:
  WriteTransaction(Database* db, bool nested) : db_(db), nested_(nested) {}
  Database* db_;
  bool nested_;
};

// One read transaction (a deferred BEGIN) around many queries: they see one snapshot, and take
// the database's shared lock once instead of once per statement. Inside a transaction already
// open on the connection it does nothing. Ended (COMMIT) on destruction. Only for reads: a
// write inside it would need to upgrade the lock, which can fail at once when busy.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Database& db);
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot();

 private:
  Database* db_ = nullptr;  // null: nothing to end
};

}  // namespace weir::state

#endif  // WEIR_STATE_SQLITE_H_

// The DAG's warehouse as the built-in kinds write it (docs/tasks.md#modes): one read-write
// SQLite connection, one transaction per task, and the four write modes that `ingest` and
// `transform` share. A Writer that is not committed rolls back when it goes away, so a task
// that fails half way leaves the warehouse as it was.
//
//   auto writer = Writer::Begin(warehouse, {.into = "clean", .mode = "upsert", .key = {"id"}});
//   writer->Prepare("(\"id\" INTEGER, \"name\" TEXT)");      // or "AS SELECT ... LIMIT 0"
//   sqlite3_stmt* insert = ...prepare writer->InsertSql({"id", "name"}, "VALUES (?1, ?2)")...
//   writer->Commit();
#ifndef WEIR_TASKS_WAREHOUSE_H_
#define WEIR_TASKS_WAREHOUSE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace weir::tasks {

// Where and how a task writes its table.
struct WriteTarget {
  std::string into;              // a checked table name
  std::string mode = "replace";  // replace | append | upsert | partition
  std::vector<std::string> key;  // upsert: the columns that identify a row
  std::string partition_column;  // partition: the column whose interval rows are replaced
  std::string interval_start;    // partition: the run's data interval, ISO 8601
  std::string interval_end;
};

// A table name or column name as an SQL identifier (double quotes doubled).
std::string QuoteIdentifier(std::string_view name);

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();
  sqlite3_stmt* get() const { return stmt_; }
  sqlite3_stmt** out() { return &stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// A connection to a warehouse file (created if missing), with a busy timeout.
class Connection {
 public:
  // `read_only`: opened SQLITE_OPEN_READONLY (a source that must not change).
  [[nodiscard]] static Result<Connection> Open(const std::filesystem::path& path,
                                               bool read_only = false);
  Connection(Connection&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Connection& operator=(Connection&& other) noexcept;
  ~Connection();
  sqlite3* get() const { return db_; }

  [[nodiscard]] Result<Statement> Prepare(std::string_view sql) const;
  // Runs `sql` to the end, binding with `bind` first when given; returns the rows it changed.
  [[nodiscard]] Result<std::int64_t> Exec(
      std::string_view sql, const std::function<Result<void>(sqlite3_stmt*)>& bind = {}) const;
  bool TableExists(std::string_view table) const;
  // The error of the last call as "what: sqlite's message".
  Error LastError(std::string_view what) const;

 private:
  Connection() = default;
  sqlite3* db_ = nullptr;
};

// Binds every :name parameter of `stmt` from `bindings` (values as JSON scalars: "3", "\"DE\"",
// "true", "null"), typed as written. Names starting with weir_ are weir's own and left to the
// caller. An unknown name is an error that suggests the closest known one.
[[nodiscard]] Result<void> BindParameters(sqlite3_stmt* stmt,
                                          const std::map<std::string, std::string>& bindings);

// A statement that may only read, and the tables of the main database it reads.
struct ReadOnlyQuery {
  Statement statement;
  std::vector<std::string> tables;  // sorted, without sqlite_* tables
};
// Prepares `sql` under an authorizer that records the tables it reads and refuses any write,
// ATTACH or PRAGMA. A second statement, a statement that returns no rows, a write or a syntax
// error is an error here; `what` names the SQL's owner in messages ("transform", "check sql").
[[nodiscard]] Result<ReadOnlyQuery> PrepareReadOnly(const Connection& connection,
                                                    std::string_view sql, std::string_view what);

// Runs the scratch statements of a `script: true` transform: every statement of `sql` but the
// last, which may read and may create, fill and drop TEMP tables and views, nothing else. Returns
// the last statement (the SELECT, for PrepareReadOnly) and appends the tables the others read
// and the :names they bind (without the colon).
[[nodiscard]] Result<std::string> RunScratchStatements(
    const Connection& connection, std::string_view sql,
    const std::map<std::string, std::string>& bindings, std::vector<std::string>* tables,
    std::vector<std::string>* parameters);

// One task's write into its table, inside one IMMEDIATE transaction.
//
// Replace mode writes the new version of a table that exists beside the old one, under a
// staging name, and swaps the two at Commit (DROP the old, RENAME the new). The old version's
// pages are then freed as they are, not copied into the rollback journal first, and the next
// replace reuses them without journaling either: rewriting a table that was there costs what
// writing it afresh does, and the file holds at most two versions of it. For the same reason
// deleted content is zeroed only where that costs no extra I/O (PRAGMA secure_delete = FAST,
// where Debian's SQLite zeroes every freed page); VACUUM the warehouse to clear its free pages.
class Writer {
 public:
  [[nodiscard]] static Result<Writer> Begin(const std::filesystem::path& warehouse,
                                            WriteTarget target);
  Writer(Writer&&) noexcept = default;
  Writer& operator=(Writer&&) noexcept = default;
  ~Writer();  // rolls back unless committed

  const Connection& connection() const { return connection_; }
  const WriteTarget& target() const { return target_; }
  // The table rows go into until Commit: `into`, or the staging table of a replace.
  const std::string& table() const { return table_; }

  // Makes the table ready for this task's rows. `definition` is what follows
  // `CREATE TABLE name`: "(col TYPE, ...)" or "AS SELECT ...", used when the table is created
  // (always for replace, under a staging name when `into` exists; when missing otherwise). Upsert
  // adds a unique index on the key; partition deletes the rows of the interval. `bind` binds the
  // parameters of a definition.
  [[nodiscard]] Result<void> Prepare(std::string_view definition,
                                     const std::function<Result<void>(sqlite3_stmt*)>& bind = {});
  // The statement that adds rows by the mode: INSERT INTO into (columns) ROWS, with an
  // ON CONFLICT clause for upsert. `rows` is "VALUES (...)" or a SELECT.
  std::string InsertSql(const std::vector<std::string>& columns, std::string_view rows) const;
  // For partition: the SQL condition (on `expression`) that a row falls in the interval,
  // using the parameters :weir_start and :weir_end; BindInterval binds them.
  std::string InIntervalSql(std::string_view expression) const;
  void BindInterval(sqlite3_stmt* stmt) const;
  [[nodiscard]] Result<void> Commit();

 private:
  Writer(Connection connection, WriteTarget target)
      : connection_(std::move(connection)), target_(std::move(target)), table_(target_.into) {}
  Connection connection_;
  WriteTarget target_;
  std::string table_;
  bool open_ = false;  // a transaction to roll back
};

}  // namespace weir::tasks

#endif  // WEIR_TASKS_WAREHOUSE_H_

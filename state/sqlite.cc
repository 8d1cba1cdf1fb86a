#include "state/sqlite.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include "state/state.h"

namespace weir::state {
namespace {

// The Error for SQLite's result `rc` on `db`. Its code says what to do: a busy database is
// transient (another process holds the write lock longer than the busy timeout: try again), a
// full disk or an I/O error is the environment's to fix. The message names the file, so that
// a user knows which disk or which lock.
Error ErrorFor(sqlite3* db, int rc, std::string_view what, std::string_view message) {
  std::string where = "state database";
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  if (file != nullptr && *file != '\0') where += fmt::format(" {}", file);
  if (!what.empty()) where += fmt::format(" ({})", what);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("{} is busy: another process has held its write lock too long ({})",
                             where, message)};
  }
  const bool environment =
      rc == SQLITE_FULL || rc == SQLITE_IOERR || rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN;
  return Error{environment ? ErrorCode::kIo : ErrorCode::kInternal,
               fmt::format("{}: {}", where, message)};
}

}  // namespace

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    Reset();
    return false;
  }
  Error error = ErrorFor(db_, rc, "", sqlite3_errmsg(db_));
  Reset();
  return std::unexpected(error);
}

Result<void> Statement::Run() {
  while (true) {
    auto row = Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::Text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(stmt_, col));
}
std::optional<std::int64_t> Statement::OptionalInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Result<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& path, bool create,
                                                 int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Fail(create ? ErrorCode::kIo : ErrorCode::kNotFound,
                fmt::format("cannot open state database {}: {}", path.string(), message));
  }
  std::unique_ptr<Database> out(new Database(db));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 0);
  // journal_size_limit: a WAL file that grew while readers kept a checkpoint from resetting it
  // is cut back to 16 MiB when it next resets, instead of keeping its largest size for good.
  auto pragmas = out->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
      "PRAGMA journal_size_limit=16777216;");
  if (!pragmas) return std::unexpected(pragmas.error());
  return out;
}

Database::~Database() {
  statements_.clear();
  sqlite3_close(db_);
}

Result<void> Database::Exec(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string why = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return std::unexpected(ErrorFor(db_, rc, "", why));
  }
  return {};
}

Result<Statement*> Database::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return std::unexpected(LastError("prepare"));
  }
  auto [inserted, ok] = statements_.emplace(sql, std::make_unique<Statement>(stmt, db_));
  return inserted->second.get();
}

std::int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

Error Database::LastError(std::string_view what) const {
  return ErrorFor(db_, sqlite3_errcode(db_), what, sqlite3_errmsg(db_));
}

namespace {

// Runs one statement through the connection's cache of prepared statements: transaction
// control runs several times per scheduling step, so it is parsed once, not every time.
Result<void> RunCached(Database& db, const std::string& sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->Run();
}

}  // namespace

ReadSnapshot::ReadSnapshot(Database& db) {
  if (db.open_transactions_ > 0) return;
  if (RunCached(db, "BEGIN")) {
    db_ = &db;
    ++db.open_transactions_;
  }
}

ReadSnapshot::~ReadSnapshot() {
  if (db_ == nullptr) return;
  --db_->open_transactions_;
  (void)RunCached(*db_, "COMMIT");
}

Result<WriteTransaction> WriteTransaction::Begin(Database& db) {
  const bool nested = db.open_transactions_ > 0;
  auto begun = RunCached(db, nested ? "SAVEPOINT weir_nested" : "BEGIN IMMEDIATE");
  if (!begun) return std::unexpected(begun.error());
  ++db.open_transactions_;
  return WriteTransaction(&db, nested);
}

WriteTransaction::~WriteTransaction() {
  if (db_ == nullptr) return;
  --db_->open_transactions_;
  if (nested_) {
    (void)RunCached(*db_, "ROLLBACK TO weir_nested");
    (void)RunCached(*db_, "RELEASE weir_nested");
  } else {
    (void)RunCached(*db_, "ROLLBACK");
  }
}

Result<void> WriteTransaction::Commit() {
  auto done = RunCached(*db_, nested_ ? "RELEASE weir_nested" : "COMMIT");
  if (!done) return done;
  --db_->open_transactions_;
  db_ = nullptr;
  return {};
}

std::int64_t SqliteMemoryUsed() { return sqlite3_memory_used(); }

}  // namespace weir::state

#include "tasks/warehouse.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"

namespace weir::tasks {
namespace {

// The authorizer while preparing a read-only statement: records the tables read, refuses
// everything else that is not a plain read.
struct Reads {
  std::set<std::string> tables;
  bool refused = false;
};

int AuthorizeReads(void* data, int action, const char* table, const char* /*column*/,
                   const char* database, const char* /*trigger*/) {
  auto* reads = static_cast<Reads*>(data);
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_READ:
      if (table != nullptr && (database == nullptr || std::string_view(database) == "main") &&
          !std::string_view(table).starts_with("sqlite_")) {
        reads->tables.insert(table);
      }
      return SQLITE_OK;
    default:
      reads->refused = true;
      return SQLITE_DENY;
  }
}

// The authorizer of a script's scratch statements: reads, and writes to TEMP tables and views
// only.
int AuthorizeScratch(void* data, int action, const char* table, const char* column,
                     const char* database, const char* trigger) {
  switch (action) {
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TEMP_INDEX:
      return SQLITE_OK;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      if (database != nullptr && std::string_view(database) == "temp") return SQLITE_OK;
      break;
    default:
      break;
  }
  return AuthorizeReads(data, action, table, column, database, trigger);
}

}  // namespace

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

Statement& Statement::operator=(Statement&& other) noexcept {
  std::swap(stmt_, other.stmt_);
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Result<Connection> Connection::Open(const std::filesystem::path& path, bool read_only) {
  Connection connection;
  if (!read_only && path.has_parent_path()) {
    std::error_code ec;  // a warehouse in a folder that is not there yet: the folder is made
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  // A connection is used by one thread: no per-call mutex.
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &connection.db_, flags, nullptr) != SQLITE_OK) {
    return Fail(read_only ? ErrorCode::kNotFound : ErrorCode::kIo,
                fmt::format("cannot open {}: {}", path.string(), sqlite3_errmsg(connection.db_)));
  }
  sqlite3_busy_timeout(connection.db_, 10'000);
  sqlite3_extended_result_codes(connection.db_, 1);
  // "name" is always an identifier: a misspelt column is an error, not a string constant.
  sqlite3_db_config(connection.db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(connection.db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  return connection;
}

Connection& Connection::operator=(Connection&& other) noexcept {
  std::swap(db_, other.db_);
  return *this;
}

// close_v2: a statement still open (finalized later) keeps it until then instead of leaking it.
Connection::~Connection() { sqlite3_close_v2(db_); }

Error Connection::LastError(std::string_view what) const {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", what, sqlite3_errmsg(db_))};
}

Result<Statement> Connection::Prepare(std::string_view sql) const {
  Statement stmt;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), stmt.out(), nullptr) !=
      SQLITE_OK) {
    return std::unexpected(LastError("the SQL does not prepare"));
  }
  return stmt;
}

Result<std::int64_t> Connection::Exec(
    std::string_view sql, const std::function<Result<void>(sqlite3_stmt*)>& bind) const {
  auto stmt = Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  if (bind) {
    if (auto ok = bind(stmt->get()); !ok) return std::unexpected(ok.error());
  }
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return std::unexpected(LastError("the SQL failed"));
  return static_cast<std::int64_t>(sqlite3_changes64(db_));
}

bool Connection::TableExists(std::string_view table) const {
  // SQLite compares names without regard to case.
  auto stmt =
      Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE");
  if (!stmt) return false;
  sqlite3_bind_text(stmt->get(), 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
  return sqlite3_step(stmt->get()) == SQLITE_ROW;
}

Result<void> BindParameters(sqlite3_stmt* stmt,
                            const std::map<std::string, std::string>& bindings) {
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
    const char* raw = sqlite3_bind_parameter_name(stmt, i);
    std::string name = raw == nullptr ? "" : std::string(raw).substr(1);
    if (name.starts_with("weir_")) continue;
    auto it = bindings.find(name);
    if (raw == nullptr || raw[0] != ':' || it == bindings.end()) {
      std::vector<std::string> names;
      for (const auto& [n, v] : bindings) names.push_back(n);
      auto hint = ClosestMatch(name, names);
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown SQL parameter '{}'{}: use :NAME with a param or a template "
                              "variable (e.g. :ds)",
                              raw == nullptr ? "?" : raw,
                              hint ? fmt::format(" (did you mean ':{}'?)", *hint) : ""));
    }
    nlohmann::json value = nlohmann::json::parse(it->second, nullptr, false);
    int rc = SQLITE_OK;
    if (value.is_null() || value.is_discarded()) {
      rc = sqlite3_bind_null(stmt, i);
    } else if (value.is_boolean()) {
      rc = sqlite3_bind_int(stmt, i, value.get<bool>() ? 1 : 0);
    } else if (value.is_number_integer()) {
      rc = sqlite3_bind_int64(stmt, i, value.get<std::int64_t>());
    } else if (value.is_number()) {
      rc = sqlite3_bind_double(stmt, i, value.get<double>());
    } else {
      std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      rc =
          sqlite3_bind_text(stmt, i, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("binding :{}: {}", name, sqlite3_errstr(rc)));
    }
  }
  return {};
}

Result<ReadOnlyQuery> PrepareReadOnly(const Connection& connection, std::string_view sql,
                                      std::string_view what) {
  sqlite3* db = connection.get();
  Reads reads;
  sqlite3_set_authorizer(db, AuthorizeReads, &reads);
  ReadOnlyQuery query;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), query.statement.out(),
                              &tail);
  sqlite3_set_authorizer(db, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    if (reads.refused) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("the SQL of a {} must only read (a SELECT); it tried to change the "
                              "warehouse or attach a database",
                              what));
    }
    return std::unexpected(
        connection.LastError(fmt::format("the SQL of a {} does not prepare", what)));
  }
  if (query.statement.get() == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("the SQL of a {} is empty", what));
  }
  const char* end = sql.data() + sql.size();
  if (tail != nullptr &&
      std::string_view(tail, end - tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Fail(
        ErrorCode::kInvalidArgument,
        fmt::format("the SQL of a {} holds more than one statement; it runs one SELECT", what));
  }
  if (!sqlite3_stmt_readonly(query.statement.get()) ||
      sqlite3_column_count(query.statement.get()) == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("the SQL of a {} must be a SELECT that returns rows", what));
  }
  query.tables.assign(reads.tables.begin(), reads.tables.end());
  return query;
}

Result<std::string> RunScratchStatements(const Connection& connection, std::string_view sql,
                                         const std::map<std::string, std::string>& bindings,
                                         std::vector<std::string>* tables,
                                         std::vector<std::string>* parameters) {
  sqlite3* db = connection.get();
  std::string_view rest = sql;
  for (int n = 1;; ++n) {
    const std::size_t start = rest.find_first_not_of(" \t\r\n;");
    if (start == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument, "the script ends without a SELECT");
    }
    rest.remove_prefix(start);
    Reads reads;
    Statement stmt;
    const char* tail = nullptr;
    sqlite3_set_authorizer(db, AuthorizeScratch, &reads);
    int rc = sqlite3_prepare_v2(db, rest.data(), static_cast<int>(rest.size()), stmt.out(), &tail);
    sqlite3_set_authorizer(db, nullptr, nullptr);
    std::string_view after = rest.substr(tail - rest.data());
    const bool last = after.find_first_not_of(" \t\r\n;") == std::string_view::npos;
    if (rc == SQLITE_OK && last) return std::string(rest);  // the SELECT: prepared by the caller
    if (rc != SQLITE_OK) {
      if (reads.refused) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("statement {} of the script may not change the warehouse: before "
                                "the final SELECT, a script may only create and fill TEMP tables "
                                "and views",
                                n));
      }
      return std::unexpected(
          connection.LastError(fmt::format("statement {} of the script does not prepare", n)));
    }
    if (auto ok = BindParameters(stmt.get(), bindings); !ok) return std::unexpected(ok.error());
    for (int i = 1; i <= sqlite3_bind_parameter_count(stmt.get()); ++i) {
      if (const char* name = sqlite3_bind_parameter_name(stmt.get(), i)) {
        parameters->push_back(std::string(name).substr(1));
      }
    }
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
      return std::unexpected(connection.LastError(fmt::format("statement {} of the script", n)));
    }
    tables->insert(tables->end(), reads.tables.begin(), reads.tables.end());
    rest = after;
  }
}

namespace {

// `name` in the main database: a TEMP table of the same name (a script may make one) does not
// shadow it.
std::string InMain(std::string_view name) { return "main." + QuoteIdentifier(name); }

// Whether any table, view, index or trigger of main or temp has the name `name`. (If the
// question cannot be asked, no: the CREATE TABLE that follows then says what is wrong, where
// answering yes would try names forever.)
bool NameTaken(const Connection& connection, const std::string& name) {
  auto stmt = connection.Prepare(
      "SELECT 1 FROM sqlite_master WHERE name = ?1 COLLATE NOCASE UNION ALL "
      "SELECT 1 FROM sqlite_temp_master WHERE name = ?1 COLLATE NOCASE");
  if (!stmt) return false;
  sqlite3_bind_text(stmt->get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  return sqlite3_step(stmt->get()) == SQLITE_ROW;
}

}  // namespace

Result<Writer> Writer::Begin(const std::filesystem::path& warehouse, WriteTarget target) {
  auto connection = Connection::Open(warehouse);
  if (!connection) return std::unexpected(connection.error());
  Writer writer(std::move(*connection), std::move(target));
  if (auto ok = writer.connection_.Exec("PRAGMA secure_delete = FAST"); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = writer.connection_.Exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
  writer.open_ = true;
  return writer;
}

Writer::~Writer() {
  if (open_ && connection_.get() != nullptr) (void)connection_.Exec("ROLLBACK");
}

Result<void> Writer::Prepare(std::string_view definition,
                             const std::function<Result<void>(sqlite3_stmt*)>& bind) {
  const std::string into = InMain(target_.into);
  const bool replace = target_.mode == "replace";
  if (replace && table_ == target_.into && connection_.TableExists(target_.into)) {
    // A name nothing has: the transaction is IMMEDIATE, so none can appear before Commit.
    table_ = "weir_replacing_" + target_.into;
    for (int n = 2; NameTaken(connection_, table_); ++n) {
      table_ = fmt::format("weir_replacing_{}_{}", target_.into, n);
    }
  }
  if (replace || !connection_.TableExists(target_.into)) {
    auto ok = connection_.Exec(fmt::format("CREATE TABLE {} {}", InMain(table_), definition), bind);
    if (!ok) return std::unexpected(ok.error());
  }
  if (target_.mode == "upsert") {
    std::vector<std::string> key;
    for (const std::string& k : target_.key) key.push_back(QuoteIdentifier(k));
    // (The index is named in main, so its table is main's: ON takes no schema.)
    auto ok = connection_.Exec(fmt::format("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
                                           InMain(target_.into + "_weir_key"),
                                           QuoteIdentifier(target_.into), fmt::join(key, ", ")));
    if (!ok) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("upsert into {}: the key ({}) must identify one row: {}",
                              target_.into, fmt::join(target_.key, ", "), ok.error().message));
    }
  }
  if (target_.mode == "partition") {
    auto deleted =
        connection_.Exec(fmt::format("DELETE FROM {} WHERE {}", into,
                                     InIntervalSql(QuoteIdentifier(target_.partition_column))),
                         [&](sqlite3_stmt* stmt) -> Result<void> {
                           BindInterval(stmt);
                           return {};
                         });
    if (!deleted) return std::unexpected(deleted.error());
  }
  return {};
}

std::string Writer::InsertSql(const std::vector<std::string>& columns,
                              std::string_view rows) const {
  std::vector<std::string> quoted;
  for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
  std::string sql =
      fmt::format("INSERT INTO {} ({}) {}", InMain(table_), fmt::join(quoted, ", "), rows);
  if (target_.mode != "upsert") return sql;
  // A row whose key is there replaces its other columns. ("WHERE true" settles a parsing
  // ambiguity of INSERT ... SELECT ... ON CONFLICT.)
  std::set<std::string> keys(target_.key.begin(), target_.key.end());
  std::vector<std::string> key, updates;
  for (const std::string& k : target_.key) key.push_back(QuoteIdentifier(k));
  for (const std::string& c : columns) {
    if (keys.count(c) == 0)
      updates.push_back(fmt::format("{0} = excluded.{0}", QuoteIdentifier(c)));
  }
  if (rows.starts_with("SELECT")) sql += " WHERE true";
  return fmt::format("{} ON CONFLICT ({}) DO {}", sql, fmt::join(key, ", "),
                     updates.empty() ? std::string("NOTHING")
                                     : fmt::format("UPDATE SET {}", fmt::join(updates, ", ")));
}

std::string Writer::InIntervalSql(std::string_view expression) const {
  return fmt::format(
      "julianday({0}) >= julianday(:weir_start) AND julianday({0}) < "
      "julianday(:weir_end)",
      expression);
}

void Writer::BindInterval(sqlite3_stmt* stmt) const {
  if (int i = sqlite3_bind_parameter_index(stmt, ":weir_start"); i > 0) {
    sqlite3_bind_text(stmt, i, target_.interval_start.c_str(), -1, SQLITE_TRANSIENT);
  }
  if (int i = sqlite3_bind_parameter_index(stmt, ":weir_end"); i > 0) {
    sqlite3_bind_text(stmt, i, target_.interval_end.c_str(), -1, SQLITE_TRANSIENT);
  }
}

Result<void> Writer::Commit() {
  if (table_ != target_.into) {
    // The legacy rename leaves views and triggers that name `into` as they are (they name the
    // new version once it has the name) and does not stop at one that is broken meanwhile.
    for (const std::string& sql :
         {"DROP TABLE " + InMain(target_.into), std::string("PRAGMA legacy_alter_table = ON"),
          fmt::format("ALTER TABLE {} RENAME TO {}", InMain(table_), QuoteIdentifier(target_.into)),
          std::string("PRAGMA legacy_alter_table = OFF")}) {
      if (auto ok = connection_.Exec(sql); !ok) return std::unexpected(ok.error());
    }
    table_ = target_.into;
  }
  if (auto ok = connection_.Exec("COMMIT"); !ok) return std::unexpected(ok.error());
  open_ = false;
  return {};
}

}  // namespace weir::tasks

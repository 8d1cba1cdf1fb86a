#include "tasks/transform.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

class Connection {
 public:
  ~Connection() { sqlite3_close(db_); }
  sqlite3* db_ = nullptr;
};

class Prepared {
 public:
  ~Prepared() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* stmt_ = nullptr;
};

std::string Quote(const std::string& name) { return "\"" + name + "\""; }  // names are checked

Error SqlError(sqlite3* db, std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", what, sqlite3_errmsg(db))};
}

Result<void> Open(const TransformConfig& c, Connection* connection) {
  if (sqlite3_open_v2(c.warehouse.c_str(), &connection->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    return Fail(ErrorCode::kIo, fmt::format("cannot open the warehouse {}: {}",
                                            c.warehouse.string(), sqlite3_errmsg(connection->db_)));
  }
  sqlite3_busy_timeout(connection->db_, 10'000);
  return {};
}

// Binds every :name of `stmt` from the config's bindings.
Result<void> Bind(const TransformConfig& c, sqlite3* db, sqlite3_stmt* stmt) {
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
    const char* raw = sqlite3_bind_parameter_name(stmt, i);
    std::string name = raw == nullptr ? "" : std::string(raw).substr(1);
    if (name.starts_with("weir_")) continue;  // weir's own, bound by the caller
    auto it = c.bindings.find(name);
    if (raw == nullptr || raw[0] != ':' || it == c.bindings.end()) {
      std::vector<std::string> names;
      for (const auto& [n, v] : c.bindings) names.push_back(n);
      auto hint = ClosestMatch(name, names);
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown SQL parameter '{}'{}: use :NAME with a param or a template "
                              "variable (e.g. :ds)",
                              raw == nullptr ? "?" : raw,
                              hint ? fmt::format(" (did you mean ':{}'?)", *hint) : ""));
    }
    json value = json::parse(it->second, nullptr, false);
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
    if (rc != SQLITE_OK) return std::unexpected(SqlError(db, "binding :" + name));
  }
  return {};
}

// Authorizer while planning: records the tables and columns read, refuses every write.
struct Reads {
  std::set<std::string> tables;
  std::string refused;
};

int Authorize(void* data, int action, const char* a, const char* b, const char* database,
              const char* /*trigger*/) {
  auto* reads = static_cast<Reads*>(data);
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_READ:
      if (a != nullptr && (database == nullptr || std::string_view(database) == "main") &&
          !std::string_view(a).starts_with("sqlite_")) {
        reads->tables.insert(a);
      }
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      (void)b;
      [[fallthrough]];
    default:
      if (reads->refused.empty()) reads->refused = fmt::format("action {}", action);
      return SQLITE_DENY;
  }
}

// The SQL without trailing blanks and semicolons, so that it can be nested in another statement.
std::string Trimmed(std::string sql) {
  while (!sql.empty() &&
         (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
    sql.pop_back();
  }
  return sql;
}

}  // namespace

Result<TransformPlan> PlanTransform(const TransformConfig& c) {
  Connection connection;
  if (auto ok = Open(c, &connection); !ok) return std::unexpected(ok.error());
  Reads reads;
  sqlite3_set_authorizer(connection.db_, Authorize, &reads);
  Prepared stmt;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(connection.db_, c.sql.c_str(), static_cast<int>(c.sql.size()),
                              &stmt.stmt_, &tail);
  sqlite3_set_authorizer(connection.db_, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    if (!reads.refused.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "the SQL of a transform must only read (a SELECT); it tried to change the "
                  "warehouse");
    }
    return std::unexpected(SqlError(connection.db_, "the SQL does not prepare"));
  }
  if (stmt.stmt_ == nullptr) return Fail(ErrorCode::kInvalidArgument, "the SQL is empty");
  if (tail != nullptr &&
      std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "the SQL holds more than one statement; a transform runs one SELECT");
  }
  if (!sqlite3_stmt_readonly(stmt.stmt_) || sqlite3_column_count(stmt.stmt_) == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "the SQL of a transform must be a SELECT that returns rows");
  }
  if (auto ok = Bind(c, connection.db_, stmt.stmt_); !ok) return std::unexpected(ok.error());
  TransformPlan plan;
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt.stmt_); ++i) {
    if (const char* name = sqlite3_bind_parameter_name(stmt.stmt_, i)) {
      plan.parameters.push_back(std::string(name).substr(1));
    }
  }
  for (const std::string& table : reads.tables) {
    if (table != c.into) plan.tables.push_back(table);
  }
  for (int i = 0; i < sqlite3_column_count(stmt.stmt_); ++i) {
    TransformPlan::Column column;
    column.output = sqlite3_column_name(stmt.stmt_, i);
    const char* table = sqlite3_column_table_name(stmt.stmt_, i);
    const char* origin = sqlite3_column_origin_name(stmt.stmt_, i);
    if (table != nullptr && origin != nullptr) {
      column.table = table;
      column.column = origin;
    }
    plan.columns.push_back(std::move(column));
  }
  return plan;
}

Result<std::int64_t> RunTransform(const TransformConfig& c) {
  auto plan = PlanTransform(c);
  if (!plan) return std::unexpected(plan.error());
  Connection connection;
  if (auto ok = Open(c, &connection); !ok) return std::unexpected(ok.error());
  sqlite3* db = connection.db_;
  auto exec = [&](const std::string& sql, bool bind) -> Result<std::int64_t> {
    Prepared stmt;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt.stmt_, nullptr) != SQLITE_OK) {
      return std::unexpected(SqlError(db, "the SQL does not prepare"));
    }
    if (bind) {
      if (auto ok = Bind(c, db, stmt.stmt_); !ok) return std::unexpected(ok.error());
      int start = sqlite3_bind_parameter_index(stmt.stmt_, ":weir_start");
      int end = sqlite3_bind_parameter_index(stmt.stmt_, ":weir_end");
      if (start > 0)
        sqlite3_bind_text(stmt.stmt_, start, c.interval_start.c_str(), -1, SQLITE_TRANSIENT);
      if (end > 0) sqlite3_bind_text(stmt.stmt_, end, c.interval_end.c_str(), -1, SQLITE_TRANSIENT);
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt.stmt_)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return std::unexpected(SqlError(db, "the SQL failed"));
    return static_cast<std::int64_t>(sqlite3_changes64(db));
  };
  auto exists = [&]() -> bool {
    Prepared stmt;
    sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
                       &stmt.stmt_, nullptr);
    sqlite3_bind_text(stmt.stmt_, 1, c.into.c_str(), -1, SQLITE_TRANSIENT);
    return sqlite3_step(stmt.stmt_) == SQLITE_ROW;
  };
  const std::string into = Quote(c.into);
  const std::string select = "SELECT * FROM (" + Trimmed(c.sql) + ")";
  if (auto ok = exec("BEGIN IMMEDIATE", false); !ok) return std::unexpected(ok.error());
  auto body = [&]() -> Result<std::int64_t> {
    const bool had_table = exists();
    if (c.mode == "replace" || !had_table) {
      if (auto ok = exec("DROP TABLE IF EXISTS " + into, false); !ok) return ok;
      if (auto ok = exec("CREATE TABLE " + into + " AS " + select, true); !ok) return ok;
      if (c.mode == "upsert") {
        std::vector<std::string> key;
        for (const std::string& k : c.key) key.push_back(Quote(k));
        auto ok = exec(fmt::format("CREATE UNIQUE INDEX {} ON {} ({})", Quote(c.into + "_weir_key"),
                                   into, fmt::join(key, ", ")),
                       false);
        if (!ok) return ok;
      }
      Prepared count;
      sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + into).c_str(), -1, &count.stmt_, nullptr);
      sqlite3_step(count.stmt_);
      return sqlite3_column_int64(count.stmt_, 0);
    }
    if (c.mode == "append") return exec("INSERT INTO " + into + " " + select, true);
    if (c.mode == "partition") {
      const std::string column = Quote(c.partition_column);
      auto deleted =
          exec(fmt::format("DELETE FROM {} WHERE julianday({}) >= julianday(:weir_start) "
                           "AND julianday({}) < julianday(:weir_end)",
                           into, column, column),
               true);
      if (!deleted) return deleted;
      return exec("INSERT INTO " + into + " " + select, true);
    }
    // upsert: a row whose key is there replaces its other columns.
    std::vector<std::string> key, updates;
    std::set<std::string> keys(c.key.begin(), c.key.end());
    for (const std::string& k : c.key) key.push_back(Quote(k));
    for (const TransformPlan::Column& col : plan->columns) {
      if (keys.count(col.output) == 0) {
        updates.push_back(fmt::format("{0} = excluded.{0}", Quote(col.output)));
      }
    }
    return exec(
        fmt::format("INSERT INTO {} {} WHERE true ON CONFLICT ({}) DO {}", into, select,
                    fmt::join(key, ", "),
                    updates.empty() ? "NOTHING"
                                    : "UPDATE SET " + fmt::format("{}", fmt::join(updates, ", "))),
        true);
  };
  auto written = body();
  if (!written) {
    (void)exec("ROLLBACK", false);
    return written;
  }
  if (auto ok = exec("COMMIT", false); !ok) return std::unexpected(ok.error());
  return written;
}

std::string TransformConfigToJson(const TransformConfig& c) {
  return json{{"sql", c.sql},
              {"into", c.into},
              {"mode", c.mode},
              {"key", c.key},
              {"partition_column", c.partition_column},
              {"warehouse", c.warehouse.string()},
              {"table_uri_prefix", c.table_uri_prefix},
              {"bindings", c.bindings},
              {"interval_start", c.interval_start},
              {"interval_end", c.interval_end}}
      .dump();
}

Result<TransformConfig> TransformConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    TransformConfig c;
    c.sql = j.at("sql").get<std::string>();
    c.into = j.at("into").get<std::string>();
    c.mode = j.at("mode").get<std::string>();
    c.key = j.at("key").get<std::vector<std::string>>();
    c.partition_column = j.at("partition_column").get<std::string>();
    c.warehouse = j.at("warehouse").get<std::string>();
    c.table_uri_prefix = j.at("table_uri_prefix").get<std::string>();
    c.bindings = j.at("bindings").get<std::map<std::string, std::string>>();
    c.interval_start = j.at("interval_start").get<std::string>();
    c.interval_end = j.at("interval_end").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad transform config: {}", e.what()));
  }
}

}  // namespace weir::tasks

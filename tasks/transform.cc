#include "tasks/transform.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"
#include "tasks/warehouse.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

Error SqlError(sqlite3* db, std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", what, sqlite3_errmsg(db))};
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

namespace {

// The text of the transform's SELECT: its SQL, or a script's last statement once the others
// ran on `connection`; `scratch_reads` and `scratch_parameters` get what those read and bind.
Result<std::string> SelectText(const TransformConfig& c, const Connection& connection,
                               std::vector<std::string>* scratch_reads,
                               std::vector<std::string>* scratch_parameters) {
  if (!c.script) return c.sql;
  return RunScratchStatements(connection, c.sql, c.bindings, scratch_reads, scratch_parameters);
}

}  // namespace

Result<TransformPlan> PlanTransform(const TransformConfig& c) {
  auto connection = Connection::Open(c.warehouse);
  if (!connection) return std::unexpected(connection.error());
  std::vector<std::string> scratch_reads, scratch_parameters;
  auto select = SelectText(c, *connection, &scratch_reads, &scratch_parameters);
  if (!select) return std::unexpected(select.error());
  auto query = PrepareReadOnly(*connection, *select, "transform");
  if (!query) return std::unexpected(query.error());
  query->tables.insert(query->tables.end(), scratch_reads.begin(), scratch_reads.end());
  std::sort(query->tables.begin(), query->tables.end());
  query->tables.erase(std::unique(query->tables.begin(), query->tables.end()), query->tables.end());
  Statement& stmt = query->statement;
  if (auto ok = BindParameters(stmt.get(), c.bindings); !ok) return std::unexpected(ok.error());
  TransformPlan plan;
  plan.parameters = std::move(scratch_parameters);
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt.get()); ++i) {
    if (const char* name = sqlite3_bind_parameter_name(stmt.get(), i)) {
      plan.parameters.push_back(std::string(name).substr(1));
    }
  }
  for (const std::string& table : query->tables) {
    if (table != c.target.into) plan.tables.push_back(table);
  }
  for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i) {
    TransformPlan::Column column;
    column.output = sqlite3_column_name(stmt.get(), i);
    const char* table = sqlite3_column_table_name(stmt.get(), i);
    const char* origin = sqlite3_column_origin_name(stmt.get(), i);
    if (const char* type = sqlite3_column_decltype(stmt.get(), i)) column.declared_type = type;
    const char* database = sqlite3_column_database_name(stmt.get(), i);
    // A column of a script's TEMP table has no lineage of its own beyond the tables read.
    if (table != nullptr && origin != nullptr && database != nullptr &&
        std::string_view(database) == "main") {
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
  auto writer = Writer::Begin(c.warehouse, c.target);
  if (!writer) return std::unexpected(writer.error());
  sqlite3* db = writer->connection().get();
  auto bind = [&](sqlite3_stmt* stmt) { return BindParameters(stmt, c.bindings); };
  std::vector<std::string> scratch_reads, scratch_parameters;
  auto text = SelectText(c, writer->connection(), &scratch_reads, &scratch_parameters);
  if (!text) return std::unexpected(text.error());
  const std::string sql = std::move(*text);
  const std::string select = "SELECT * FROM (" + Trimmed(sql) + ")";
  if (c.target.mode == "upsert") {
    for (const std::string& key : c.target.key) {
      auto is_key = [&](const TransformPlan::Column& column) { return column.output == key; };
      if (std::none_of(plan->columns.begin(), plan->columns.end(), is_key)) {
        std::vector<std::string> names;
        for (const TransformPlan::Column& column : plan->columns) names.push_back(column.output);
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("key column '{}' is not among the SELECT's columns ({})", key,
                                fmt::join(names, ", ")));
      }
    }
  }
  // A new table takes the columns of the SELECT, with the declared type of the column each comes
  // from (so a TIMESTAMP stays one), none for an expression.
  std::vector<std::string> definition;
  for (const TransformPlan::Column& column : plan->columns) {
    definition.push_back(QuoteIdentifier(column.output) +
                         (column.declared_type.empty() ? "" : " " + column.declared_type));
  }
  if (auto ok = writer->Prepare(fmt::format("({})", fmt::join(definition, ", "))); !ok) {
    return std::unexpected(ok.error());
  }
  std::vector<std::string> columns;
  for (const TransformPlan::Column& column : plan->columns) columns.push_back(column.output);
  if (c.target.mode == "partition") {
    // Rows outside the run's interval would survive the next rerun's delete and be duplicated.
    const std::string outside =
        fmt::format("SELECT count(*) FROM ({}) WHERE NOT coalesce({}, false)", Trimmed(sql),
                    writer->InIntervalSql(QuoteIdentifier(c.target.partition_column)));
    auto stmt = writer->connection().Prepare(outside);
    if (!stmt) return std::unexpected(stmt.error());
    if (auto ok = bind(stmt->get()); !ok) return std::unexpected(ok.error());
    writer->BindInterval(stmt->get());
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) {
      return std::unexpected(SqlError(db, "the SQL failed"));
    }
    if (std::int64_t n = sqlite3_column_int64(stmt->get(), 0); n > 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} rows have {} outside the run's interval [{}, {}) (or not a "
                              "time); mode "
                              "partition writes only the interval's rows (filter with "
                              ":data_interval_start and :data_interval_end)",
                              n, c.target.partition_column, c.target.interval_start,
                              c.target.interval_end));
    }
  }
  if (c.target.mode == "upsert") {
    std::vector<std::string> null_key;
    for (const std::string& key : c.target.key) {
      null_key.push_back(QuoteIdentifier(key) + " IS NULL");
    }
    // NULLs never conflict under a unique index: such rows would be added again on each run.
    auto stmt = writer->connection().Prepare(fmt::format(
        "SELECT count(*) FROM ({}) WHERE {}", Trimmed(sql), fmt::join(null_key, " OR ")));
    if (!stmt) return std::unexpected(stmt.error());
    if (auto ok = bind(stmt->get()); !ok) return std::unexpected(ok.error());
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) {
      return std::unexpected(SqlError(db, "the SQL failed"));
    }
    if (std::int64_t n = sqlite3_column_int64(stmt->get(), 0); n > 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} rows have a NULL in the key ({}), so they cannot be upserted", n,
                              fmt::join(c.target.key, ", ")));
    }
  }
  auto written = writer->connection().Exec(writer->InsertSql(columns, select), bind);
  if (!written) return std::unexpected(written.error());
  if (auto ok = writer->Commit(); !ok) return std::unexpected(ok.error());
  return written;
}

std::string TransformConfigToJson(const TransformConfig& c) {
  return json{{"sql", c.sql},
              {"script", c.script},
              {"into", c.target.into},
              {"mode", c.target.mode},
              {"key", c.target.key},
              {"partition_column", c.target.partition_column},
              {"warehouse", c.warehouse.string()},
              {"table_uri_prefix", c.table_uri_prefix},
              {"bindings", c.bindings},
              {"interval_start", c.target.interval_start},
              {"interval_end", c.target.interval_end}}
      .dump();
}

Result<TransformConfig> TransformConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    TransformConfig c;
    c.sql = j.at("sql").get<std::string>();
    c.script = j.at("script").get<bool>();
    c.target.into = j.at("into").get<std::string>();
    c.target.mode = j.at("mode").get<std::string>();
    c.target.key = j.at("key").get<std::vector<std::string>>();
    c.target.partition_column = j.at("partition_column").get<std::string>();
    c.warehouse = j.at("warehouse").get<std::string>();
    c.table_uri_prefix = j.at("table_uri_prefix").get<std::string>();
    c.bindings = j.at("bindings").get<std::map<std::string, std::string>>();
    c.target.interval_start = j.at("interval_start").get<std::string>();
    c.target.interval_end = j.at("interval_end").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad transform config: {}", e.what()));
  }
}

}  // namespace weir::tasks

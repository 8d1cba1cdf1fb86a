// The `transform` kind: one SELECT run in the DAG's warehouse, its rows written into a table
// (`into:`) by a mode (replace, append, upsert by `key:`, partition by `partition_column:`), in
// one transaction. It runs inside `weir task run`. Params and template variables reach the SQL
// only as bound parameters (`:min_amount`, `:ds`), never as text. Before running, the
// statement is prepared under an authorizer that learns the tables and columns it reads (its
// lineage) and refuses any write.
#ifndef WEIR_TASKS_TRANSFORM_H_
#define WEIR_TASKS_TRANSFORM_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "tasks/warehouse.h"

namespace weir::tasks {

struct TransformConfig {
  std::string sql;      // rendered
  bool script = false;  // several statements: TEMP scratch work, then the SELECT
  WriteTarget target;
  std::filesystem::path warehouse;
  std::string table_uri_prefix = "warehouse://";  // a table's dataset URI is prefix + name
  // Values for :name parameters, as JSON scalars ("3", "\"DE\"", "true", "null").
  std::map<std::string, std::string> bindings;
};

// What the statement reads, learned before it runs.
struct TransformPlan {
  std::vector<std::string> tables;  // tables of the warehouse it reads (not `into`)
  struct Column {
    std::string output;  // the result column
    std::string table;   // where it comes from, when it is a plain column of a table
    std::string column;
    std::string declared_type;  // the origin column's declared type (TIMESTAMP), or empty
  };
  std::vector<Column> columns;
  std::vector<std::string> parameters;  // the :names it binds (without the colon)
};

// Prepares the statement: a syntax error, a second statement, a write, an unknown table or
// parameter is an error here, before anything changed.
[[nodiscard]] Result<TransformPlan> PlanTransform(const TransformConfig& config);
// Runs it and writes `into`, all in one transaction; returns the rows written.
[[nodiscard]] Result<std::int64_t> RunTransform(const TransformConfig& config);

std::string TransformConfigToJson(const TransformConfig& config);
[[nodiscard]] Result<TransformConfig> TransformConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_TRANSFORM_H_

// Dataset URIs (docs/lineage.md): what a task reads and writes, as written in a DAG file.
//
//   file:PATH            a file, PATH relative to the DAG file
//   warehouse://TABLE    a table in the DAG's warehouse
//   sqlite://PATH#TABLE  a table in another SQLite file, PATH relative to the DAG file
//
// ParseDatasetUri checks the syntax of one (rendered) URI; where a URI points and its
// normalised identity are worked out when a task runs (tasks/datasets.h).
#ifndef WEIR_DAGS_DATASET_H_
#define WEIR_DAGS_DATASET_H_

#include <string>
#include <string_view>

#include "common/error.h"

namespace weir::dags {

struct DatasetUri {
  enum class Scheme { kFile, kWarehouse, kSqlite };
  Scheme scheme = Scheme::kFile;
  std::string path;   // file: and sqlite://, as written
  std::string table;  // warehouse:// and sqlite://
};

// kInvalidArgument with a one-line reason for anything else.
[[nodiscard]] Result<DatasetUri> ParseDatasetUri(std::string_view text);

// A table name weir can use unquoted in SQL: [A-Za-z_][A-Za-z0-9_]*, at most 128 characters.
bool IsTableName(std::string_view name);

}  // namespace weir::dags

#endif  // WEIR_DAGS_DATASET_H_

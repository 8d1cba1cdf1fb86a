// Datasets as a task attempt sees them: a rendered URI resolved to a file or a SQLite table and
// its normalised identity (docs/lineage.md), fingerprints of their content, and the manifest in
// which the child side of an attempt reports what it read and wrote.
#ifndef WEIR_TASKS_DATASETS_H_
#define WEIR_TASKS_DATASETS_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

// Where a DAG's relative dataset paths start and what they may not leave.
struct DatasetPlace {
  std::filesystem::path dag_dir;    // the DAG file's folder: file: and sqlite:// paths start here
  std::filesystem::path dags_root;  // the DAGs folder: paths may not escape it
  std::filesystem::path warehouse;  // the DAG's warehouse file
  bool default_warehouse = true;    // the warehouse is HOME/warehouse.db (warehouse://T ids)
};

struct ResolvedDataset {
  std::string uri;             // normalised: file:REL, warehouse://T or sqlite://REL#T
  std::filesystem::path path;  // the file, or the SQLite file of a table (absolute)
  std::string table;           // empty for a file
};

// How the DAG's warehouse tables are named: "warehouse://" for the default warehouse, else
// "sqlite://FILE#" (FILE relative to the DAGs folder); a table's URI is this plus its name.
std::string WarehouseUriPrefix(const DatasetPlace& place);

// Resolves a rendered dataset URI. kInvalidArgument for a bad URI, or a file: or sqlite://
// path that leaves the DAGs folder (through '..' or a symlink).
[[nodiscard]] Result<ResolvedDataset> ResolveDataset(std::string_view uri,
                                                     const DatasetPlace& place);

// A dataset's content as seen now.
struct Fingerprint {
  std::string uri;
  std::string fingerprint;         // "sha256:HEX"
  std::string schema_json = "[]";  // [{"name","type"}] of a table
  std::optional<std::int64_t> row_count;
  std::optional<std::int64_t> bytes;
};

// Files: SHA-256 of the bytes. Tables: SHA-256 of the schema and of every row, rows in the
// order of all their columns, so that the same rows inserted in another order give the same
// fingerprint. kNotFound when the file or table does not exist.
[[nodiscard]] Result<Fingerprint> TakeFingerprint(const ResolvedDataset& dataset);

// What the child side of an attempt is asked to watch, and what it reports.
struct ManifestSpec {
  // Where the child writes its report; empty: beside the attempt's log ($WEIR_LOG).
  std::filesystem::path manifest;
  std::string config_hash;   // of the rendered task config
  std::string config_json;   // the rendered task config itself
  std::string kind_version;  // "shell/1": part of the cache key
  // A built-in kind run in the child itself ("transform"), with its config (JSON); empty: the
  // command after `--` runs.
  std::string builtin;
  std::string builtin_config;
  std::vector<ResolvedDataset> inputs;
  std::vector<ResolvedDataset> outputs;
};
struct Manifest {
  std::string config_hash;
  std::vector<Fingerprint> reads;
  std::vector<Fingerprint> writes;
  // The task cache (docs/lineage.md#the-task-cache).
  std::string cache_key;
  std::string config_json;
  std::string cache_note;                   // why it ran, or why it did not
  std::optional<std::int64_t> compared_to;  // the earlier success it was compared with
  bool cached = false;  // it did not run: its outputs are that success's, unchanged
  struct Column {
    std::string output_uri, output_column, input_uri, input_column, transformation;
  };
  std::vector<Column> columns;  // output column <- input column, where the kind knows
  // Counts a built-in kind reports ("rows_read", "rows_rejected", ...), in its order.
  std::vector<std::pair<std::string, std::int64_t>> metrics;
  std::string checks_json;  // validate: the check results (tasks/validate.h), or empty
};

// The cache key of an attempt: SHA-256 over the task kind's version, the rendered config's
// hash and every input's fingerprint (by URI).
std::string CacheKey(const ManifestSpec& spec, const std::vector<Fingerprint>& inputs);

// What the scheduler tells `weir task run` about the cache, in $WEIR_CACHE: "off:task"
// (cache: false), "off:run" (--no-cache), or the earlier success to compare with as JSON
// {"attempt", "run", "task", "try", "key", "outputs": {URI: FINGERPRINT}}. Unset: no earlier
// success.
struct CacheAdvice {
  std::string off;  // "task" or "run" when the cache is off
  std::optional<std::int64_t> attempt;
  std::string run_id;
  std::string task_id;
  int try_number = 0;
  std::string key;
  std::vector<std::pair<std::string, std::string>> outputs;  // (uri, fingerprint)
};
std::string CacheAdviceToEnv(const CacheAdvice& advice);
[[nodiscard]] Result<CacheAdvice> CacheAdviceFromEnv(std::string_view text);

std::string SpecToJson(const ManifestSpec& spec);
[[nodiscard]] Result<ManifestSpec> SpecFromJson(std::string_view json);
// Writes the manifest atomically (a temporary file renamed into place).
[[nodiscard]] Result<void> WriteManifest(const std::filesystem::path& path, const Manifest& m);
// nullopt when there is no manifest (the task declares no datasets, or its child never wrote
// one); kInvalidArgument for a file that is not a manifest.
[[nodiscard]] Result<std::optional<Manifest>> ReadManifest(const std::filesystem::path& path);
// The manifest of the attempt whose log is `log_path`: TASK.TRY.manifest.json beside it.
std::filesystem::path ManifestPathFor(const std::filesystem::path& log_path);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_DATASETS_H_

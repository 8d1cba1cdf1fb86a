// The `ingest` kind (docs/tasks.md#ingest): rows from a CSV or JSON lines file, a query against
// another SQLite file, or an HTTP GET, typed by `columns:` or by a sample, written into a
// warehouse table by a mode, all in one transaction. A row that cannot be read or typed is
// failed on, skipped, or quarantined (kept raw, with its line and the reason, in a side table)
// as `on_bad_row:` says. It runs inside `weir task run`.
#ifndef WEIR_TASKS_INGEST_H_
#define WEIR_TASKS_INGEST_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "tasks/warehouse.h"

namespace weir::tasks {

struct IngestSource {
  std::string format;          // csv | jsonl | sqlite | http
  std::filesystem::path path;  // csv, jsonl, sqlite: the file (absolute)
  std::string uri;             // its dataset URI (file:REL; for sqlite the file's REL)
  // csv
  char delimiter = ',';
  char quote = '"';
  bool header = true;
  std::vector<std::string> null_values = {""};  // unquoted CSV fields read as NULL
  std::size_t max_field_bytes = 1 << 20;
  // sqlite: one SELECT, its :names bound like a transform's
  std::string query;
  // http: GET url; the body is `body` (json: an array of objects; jsonl; csv)
  std::string url;
  std::string body = "json";
  std::vector<std::pair<std::string, std::string>> headers;  // header name, environment variable
  double timeout_seconds = 30;  // the whole of one try: connect, wait and read
  int retries = 3;              // more tries after a 429, a 5xx or a network error
  double backoff_seconds = 1;   // before the first retry; doubles after each
  std::int64_t max_bytes = 100 << 20;
};

struct IngestConfig {
  std::string task;  // the task id, for messages
  IngestSource source;
  // The columns and their types (INTEGER, REAL, TEXT, TIMESTAMP); empty: every column of the
  // source, typed from the first `infer_rows` rows.
  std::vector<std::pair<std::string, std::string>> columns;
  int infer_rows = 1000;
  std::string on_bad_row = "fail";  // fail | skip | quarantine
  std::string quarantine_table;     // quarantine: where bad rows go (default INTO_quarantine)
  WriteTarget target;
  std::filesystem::path warehouse;
  std::string table_uri_prefix = "warehouse://";
  std::map<std::string, std::string> bindings;  // :name values for a sqlite query, as JSON
  std::string run_id;
  int try_number = 0;
};

struct IngestReport {
  std::int64_t rows_read = 0;
  std::int64_t rows_written = 0;
  std::int64_t rows_rejected = 0;                            // skipped or quarantined
  std::vector<std::pair<std::string, std::string>> columns;  // as written: name, type
  std::vector<std::string> tables_read;                      // sqlite: the tables the query read
  std::string source_fingerprint;                            // http: "sha256:..." of the body
  std::int64_t source_bytes = 0;
};

// Reads the source and writes the table. Every error names the task and the source (file and
// line, or URL); the warehouse is then as it was.
[[nodiscard]] Result<IngestReport> RunIngest(const IngestConfig& config);

// Before running, what a sqlite source's query reads and binds (for lineage and the cache key).
struct SourceQueryPlan {
  std::vector<std::string> tables;
  std::vector<std::string> parameters;  // the :names, without the colon
};
[[nodiscard]] Result<SourceQueryPlan> PlanIngestQuery(const IngestConfig& config);

// "2026-01-10 07:30:00" (".250" when there are milliseconds): how TIMESTAMP values are stored,
// in UTC, the form SQLite's datetime() writes. Empty when `text` is not an ISO 8601 time.
std::string NormalizeTimestamp(std::string_view text);

std::string IngestConfigToJson(const IngestConfig& config);
[[nodiscard]] Result<IngestConfig> IngestConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_INGEST_H_

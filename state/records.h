// The rows the store keeps, as plain structs, and the state names they use.
#ifndef WEIR_STATE_RECORDS_H_
#define WEIR_STATE_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"

namespace weir::state {

enum class RunKind { kScheduled, kManual, kBackfill };
enum class RunState { kQueued, kRunning, kSuccess, kFailed };
enum class TaskState {
  kPending,    // waiting for its upstream tasks
  kScheduled,  // ready; waiting for a free slot
  kQueued,     // handed to the executor
  kRunning,    // its process runs
  kSuccess,
  kFailed,          // failed and no retry is left
  kUpForRetry,      // failed; retries at next_try_at
  kUpstreamFailed,  // will not run: an upstream failed (per its trigger rule)
  kSkipped,         // will not run: skipped itself (exit 99) or its upstream was skipped
  kCached,          // not run: an earlier success with the same inputs is still valid
};
enum class AttemptState { kRunning, kSuccess, kFailed, kSkipped };

const char* Name(RunKind k);
const char* Name(RunState s);
const char* Name(TaskState s);
const char* Name(AttemptState s);
std::optional<RunKind> ParseRunKind(std::string_view s);
std::optional<RunState> ParseRunState(std::string_view s);
std::optional<TaskState> ParseTaskState(std::string_view s);
std::optional<AttemptState> ParseAttemptState(std::string_view s);

// success, failed, upstream_failed, skipped and cached: nothing more will happen on its own.
bool IsFinished(TaskState s);

struct RunRecord {
  std::string run_id;
  std::string dag_id;
  std::int64_t dag_version_id = 0;
  RunKind kind = RunKind::kManual;
  RunState state = RunState::kQueued;
  Timestamp interval_start;
  Timestamp interval_end;
  Timestamp logical_date;
  std::string params_json = "{}";
  Timestamp created_at;
  std::optional<Timestamp> started_at;
  std::optional<Timestamp> ended_at;
  std::optional<std::int64_t> backfill_id;  // the backfill plan that created it
  std::string driver_host;                  // the process driving the run now (empty: none)
  std::optional<std::int64_t> driver_pid;
  std::optional<std::int64_t> driver_start_ticks;
  std::int64_t generation = 0;  // bumped by every change made from outside its driver
  bool no_cache = false;        // `weir run --no-cache`: every task runs, none is `cached`
};

struct TaskInstanceRecord {
  std::string run_id;
  std::string task_id;
  TaskState state = TaskState::kPending;
  int try_number = 0;  // attempts started so far
  int max_tries = 1;   // retries + 1 (a clear grants a fresh budget on top of tries used)
  int free_tries = 0;  // attempts orphaned by a dead scheduler, not counted as tries
  int priority = 0;
  std::optional<Timestamp> next_try_at;
  std::optional<Timestamp> started_at;  // first attempt's start
  std::optional<Timestamp> ended_at;
};

struct AttemptRecord {
  std::int64_t id = 0;
  std::string run_id;
  std::string task_id;
  int try_number = 1;
  AttemptState state = AttemptState::kRunning;
  std::optional<std::int64_t> pid;
  std::optional<std::int64_t> process_start_ticks;  // /proc/PID/stat field 22, to tell reused pids
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;  // why it failed, in a sentence ("timed out after 1h")
  std::string log_path;
  Timestamp started_at;
  std::optional<Timestamp> ended_at;
};

// One dataset as a task saw it: at the start of an attempt for what it reads, at the end of a
// successful one for what it wrote. `uri` is the normalised dataset URI (docs/lineage.md).
struct ObservedDataset {
  std::string uri;
  std::string fingerprint;         // "sha256:HEX" of the content (files) or of schema and rows
  std::string schema_json = "[]";  // [{"name": ..., "type": ...}] for tables; [] for files
  std::optional<std::int64_t> row_count;
  std::optional<std::int64_t> bytes;
};

// Output column <- input column, for the columns a task knows it derived.
struct ColumnEdge {
  std::string output_uri;
  std::string output_column;
  std::string input_uri;
  std::string input_column;
  std::string transformation;  // e.g. "identity", "aggregate: sum"; may be empty
};

// The result of one check of a validate attempt (tasks/validate.h).
struct CheckResultRecord {
  std::string dataset_uri;
  std::optional<int> dataset_version;  // the version checked, when recorded
  std::string check;
  std::string column;
  std::string method;
  std::string severity;
  std::optional<double> observed;
  std::optional<double> p_value;
  std::optional<double> threshold;
  bool passed = false;
  std::int64_t failing_count = 0;
  std::int64_t total = 0;
  std::string failing_rows = "[]";  // JSON array of up to five rows
  std::string detail;
  // Set when read back: the attempt that ran it.
  std::int64_t attempt_id = 0;
  std::string run_id;
  std::string task_id;
  int try_number = 0;
  Timestamp ended_at{};
};

// What one attempt read and wrote.
struct AttemptLineage {
  std::vector<ObservedDataset> reads;
  std::vector<ObservedDataset> writes;
  std::vector<ColumnEdge> columns;
  std::string config_hash;  // SHA-256 of the task's rendered config
  // The task cache (tasks that declare outputs): this attempt's cache key, its rendered config
  // (JSON), the earlier success it was compared with, why it ran or was skipped, and whether it
  // was skipped (`cached`: its outputs are that success's, unchanged).
  std::string cache_key;
  std::string config_json;
  std::optional<std::int64_t> cache_compared_to;
  std::string cache_note;
  bool cached = false;
  // Counts the task's kind reported, e.g. {"rows_read": 10}, in order.
  std::vector<std::pair<std::string, std::int64_t>> metrics;
  std::vector<CheckResultRecord> checks;  // a validate attempt's results, in check order
};

// The latest success of a task whose cache key was recorded: what a new attempt compares
// its own key and the current outputs with.
struct CacheCandidate {
  std::int64_t attempt_id = 0;
  std::string run_id;
  int try_number = 0;
  std::string cache_key;
  std::vector<std::pair<std::string, std::string>> outputs;  // (uri, fingerprint) it wrote
};

// A version of a dataset: each write makes one; a read of content weir did not write (a
// source, or a file changed by hand) makes one with no producing attempt.
struct DatasetVersionRecord {
  std::int64_t id = 0;
  std::string uri;
  int version = 0;  // 1, 2, ... per dataset, in the order recorded
  std::string fingerprint;
  std::string schema_json = "[]";
  std::optional<std::int64_t> row_count;
  std::optional<std::int64_t> bytes;
  std::optional<std::int64_t> attempt_id;  // the attempt that wrote it
  Timestamp recorded_at;
};

// What an attempt recorded for the task cache, for `weir explain`.
struct AttemptCacheRecord {
  std::int64_t attempt_id = 0;
  std::string cache_key;
  std::string config_json;
  std::string config_hash;
  std::string cache_note;
  std::optional<std::int64_t> compared_to;
  std::vector<DatasetVersionRecord> reads;
};

// An attempt in a lineage answer, with what an auditor needs to reproduce it.
struct LineageAttempt {
  AttemptRecord attempt;
  std::string dag_id;
  std::string dag_file;      // the DAG file, as recorded with the run's DAG version
  std::string dag_hash;      // SHA-256 of that file's text
  std::string params_json;   // the run's params
  std::string config_hash;   // SHA-256 of the task's rendered config ("" when not recorded)
  Timestamp interval_start;  // the run's data interval
  Timestamp interval_end;
};

struct ColumnLineageRecord {
  std::int64_t output_version_id = 0;
  std::string output_column;
  std::int64_t input_version_id = 0;
  std::string input_column;
  std::string transformation;
};

// A piece of the provenance graph: dataset versions, attempts, and which attempt read or wrote
// which version. Each version and attempt appears once, in the order first reached.
struct LineageGraph {
  std::vector<DatasetVersionRecord> versions;
  std::vector<LineageAttempt> attempts;
  std::vector<std::pair<std::int64_t, std::int64_t>> reads;   // (attempt id, version id)
  std::vector<std::pair<std::int64_t, std::int64_t>> writes;  // (attempt id, version id)
  std::vector<ColumnLineageRecord> columns;                   // between versions of this graph
};

// Which audit events `weir audit` shows.
struct AuditQuery {
  std::optional<Timestamp> since;  // at or after
  std::string actor;               // exactly this actor; empty: any
  std::string dag;                 // events on this DAG, its runs and their tasks; empty: any
  int limit = 100;
};

enum class LineageDirection { kUpstream, kDownstream };

// Which runs a listing shows, newest first (by interval start, then creation).
struct RunQuery {
  std::string dag_id;             // empty: every DAG
  std::optional<RunState> state;  // none: any state
  int limit = 25;
  int offset = 0;  // runs skipped before the first one returned
};

struct AuditEvent {
  std::int64_t id = 0;
  Timestamp at;
  std::string actor;   // OS user or API token name
  std::string source;  // "cli" or "api"
  std::string action;  // "trigger", "clear", "mark", "pause", ...
  std::string target;  // "dag:ID", "run:ID", "task:RUN/TASK"
  std::string reason;
  std::string details_json = "{}";
};

// Whether a task instance may try again after a failed attempt.
inline bool HasTriesLeft(const TaskInstanceRecord& t) {
  return t.try_number - t.free_tries < t.max_tries;
}

struct PoolRecord {
  std::string name;
  int slots = 0;
};

// Who holds the scheduler lease of a database.
struct LeaseRecord {
  std::string holder;  // "weir scheduler", "weir backfill"
  std::string host;
  std::int64_t pid = 0;
  std::optional<std::int64_t> process_start_ticks;
  Timestamp acquired_at;
  Timestamp heartbeat_at;
};

// A backfill: the plan a person asked for (`weir backfill`, the API or the dashboard) and the
// runs it drives: those it created, and the existing ones it resumed or ran again.
struct BackfillRecord {
  std::int64_t id = 0;
  std::string dag_id;
  std::string from_date;  // YYYY-MM-DD
  std::string to_date;
  std::string options_json = "{}";
  std::string actor;
  Timestamp created_at;
  std::optional<Timestamp> canceled_at;  // when it was first canceled
};

// A backfill with how far it is, counted from its runs as they are now (a run cleared after the
// backfill ended counts as queued again, and the backfill as running).
struct BackfillProgress {
  BackfillRecord plan;
  int runs = 0;  // queued + running + success + failed
  int queued = 0;
  int running = 0;
  int success = 0;
  int failed = 0;
  std::optional<Timestamp> ended_at;  // when its last run ended, once every one has (one with
                                      // no run ended as it was made)

  // running while a run is queued or running; then canceled when it was, else success, or
  // failed when any run failed.
  const char* State() const {
    if (queued + running > 0) return "running";
    if (plan.canceled_at) return "canceled";
    return failed > 0 ? "failed" : "success";
  }
};

}  // namespace weir::state

#endif  // WEIR_STATE_RECORDS_H_

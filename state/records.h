// The rows the store keeps, as plain structs, and the state names they use.
#ifndef WEIR_STATE_RECORDS_H_
#define WEIR_STATE_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

struct BackfillRecord {
  std::int64_t id = 0;
  std::string dag_id;
  std::string from_date;  // YYYY-MM-DD
  std::string to_date;
  std::string options_json = "{}";
  std::string state = "running";  // running | done
  std::string actor;
  Timestamp created_at;
  std::optional<Timestamp> ended_at;
};

}  // namespace weir::state

#endif  // WEIR_STATE_RECORDS_H_

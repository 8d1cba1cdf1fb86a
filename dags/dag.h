// What a DAG is, once loaded and validated: the typed model every other module reads.
// A Dag is immutable after loading and shared (std::shared_ptr<const Dag>) between the
// scheduler, the store and the UI; a run keeps the Dag it started with.
#ifndef WEIR_DAGS_DAG_H_
#define WEIR_DAGS_DAG_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/time.h"
#include "dags/config.h"
#include "dags/graph.h"
#include "dags/schedule.h"
#include "dags/value.h"

namespace weir::dags {

// When a task may run, given the states of its direct upstream tasks (Airflow's names).
enum class TriggerRule {
  kAllSuccess,  // every upstream succeeded (the default)
  kAllFailed,   // every upstream failed or was upstream_failed
  kAllDone,     // every upstream finished, whatever its state
  kOneSuccess,  // at least one upstream succeeded (does not wait for the rest)
  kOneFailed,   // at least one upstream failed (does not wait for the rest)
  kNoneFailed,  // every upstream finished and none failed (skipped is fine)
  kAlways,      // no dependency at all: runs as soon as the run starts
};
const char* TriggerRuleName(TriggerRule rule);
std::optional<TriggerRule> ParseTriggerRule(std::string_view name);
const std::vector<std::string>& TriggerRuleNames();

enum class Backoff { kFixed, kExponential };

struct RetryPolicy {
  int retries = 0;                                      // extra attempts after the first
  Duration retry_delay = std::chrono::seconds(30);      // before the first retry
  Backoff backoff = Backoff::kFixed;                    // exponential doubles the delay each retry
  Duration max_retry_delay = std::chrono::minutes(10);  // cap for exponential backoff
};

struct TaskSpec {
  std::string id;
  std::string kind;  // "shell", ...
  std::string description;
  std::vector<std::string> deps;  // ids of direct upstream tasks, as written
  TriggerRule trigger_rule = TriggerRule::kAllSuccess;
  RetryPolicy retry;
  std::optional<Duration> timeout;  // per attempt; none: no limit
  std::string pool = "default";
  std::optional<int> priority_weight;  // none: the number of tasks downstream
  bool cache = true;
  Value config;        // the kind-specific keys (a map), templates unrendered
  SourceLocation loc;  // where the task's id was written
};

struct Dag {
  std::string id;
  std::string description;
  std::filesystem::path file;  // absolute path of the DAG file
  std::string file_display;    // the path as shown to users (relative to the DAGs folder)
  std::string content_hash;    // SHA-256 of the file's bytes
  std::string source;          // the file's bytes, so a run can keep the version it started with
  Schedule schedule;
  std::string timezone = "UTC";
  std::optional<CivilDate> start_date;
  std::optional<CivilDate> end_date;
  bool catchup = false;
  int max_active_runs = 16;
  int max_active_tasks = 16;
  Value params = Value::MakeMap({});  // name -> default value (scalars)
  std::string warehouse;              // as written; empty: $WEIR_HOME/warehouse.db
  SecretSources secrets;  // variable name -> source: what every task gets, besides the config's
  std::vector<TaskSpec> tasks;  // in file order; index = vertex in `graph`
  TaskGraph graph;
  SourceLocation loc;

  // Index of task `id` in `tasks`, or -1.
  int TaskIndex(std::string_view id) const;
  const TaskSpec* FindTask(std::string_view id) const;
};

// The params of a run: the DAG's defaults with `overrides` (name, text) applied. Each text is
// read as the type of its default (a number for a number, true/false for a boolean); a name the
// DAG does not declare is an error, so a typo cannot silently fall back to the default.
[[nodiscard]] Result<Value> ResolveParams(
    const Dag& dag, const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace weir::dags

#endif  // WEIR_DAGS_DAG_H_

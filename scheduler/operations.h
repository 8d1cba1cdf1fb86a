// What a person does to runs by hand: clear task instances so they run again, and mark runs or
// task instances with a state. Each change is one transaction with its audit event, and bumps
// the run's generation so that a scheduler driving the run reloads it. The run and its task
// instances are read inside that transaction: of the `run` passed in only the id is used, so a
// copy read earlier cannot write over what the scheduler recorded since.
#ifndef WEIR_SCHEDULER_OPERATIONS_H_
#define WEIR_SCHEDULER_OPERATIONS_H_

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "dags/dag.h"
#include "state/records.h"

namespace weir::state {
class Store;
}

namespace weir::scheduler {

// Who does it, from where, and why (for the audit log).
struct Actor {
  std::string name;    // OS user or API token name
  std::string source;  // "cli" or "api"
  std::string reason;  // optional
};

// The audit event of `actor` doing `action` to `target` at `now`; `details` is a JSON object.
state::AuditEvent Audit(const Actor& actor, Timestamp now, std::string action, std::string target,
                        std::string details);
// `items` as a JSON array of strings.
std::string JsonList(const std::vector<std::string>& items);

// The DAG a run was created with: its stored file text parsed again (paths relative to
// `dags_dir`), so that a run keeps its version after the file changes.
[[nodiscard]] Result<std::shared_ptr<const dags::Dag>> LoadRunDag(
    state::Store& store, const state::RunRecord& run, const std::filesystem::path& dags_dir);

// The DAG of each run, parsed at most once per DAG version: a backfill's 365 runs, or a
// scheduler's runs of a file that has not changed, share one parse.
class RunDags {
 public:
  explicit RunDags(std::filesystem::path dags_dir) : dags_dir_(std::move(dags_dir)) {}
  // `current`: the DAG as loaded now, if any (may be null); a run of the same text gets it.
  [[nodiscard]] Result<std::shared_ptr<const dags::Dag>> Get(
      state::Store& store, const state::RunRecord& run,
      const std::shared_ptr<const dags::Dag>& current);

 private:
  std::filesystem::path dags_dir_;
  std::map<std::int64_t, std::shared_ptr<const dags::Dag>> by_version_;  // dag_versions.id
};

// Clears `task_ids` (and everything downstream and/or upstream of them) in `run`: back to
// pending with a fresh retry budget; the run is queued again. Returns the cleared task ids.
[[nodiscard]] Result<std::vector<std::string>> ClearTasks(state::Store& store, const dags::Dag& dag,
                                                          const state::RunRecord& run,
                                                          const std::vector<std::string>& task_ids,
                                                          bool downstream, bool upstream,
                                                          const Actor& actor, Timestamp now);

// Clears every task instance of `run`, or only the failed and upstream_failed ones.
[[nodiscard]] Result<std::vector<std::string>> ClearRun(state::Store& store, const dags::Dag& dag,
                                                        const state::RunRecord& run,
                                                        bool failed_only, const Actor& actor,
                                                        Timestamp now);

// Marks a run success (every task instance not done becomes success) or failed (what runs
// becomes failed, what has not run becomes skipped), as Airflow does.
[[nodiscard]] Result<void> MarkRun(state::Store& store, const state::RunRecord& run,
                                   state::RunState target, const Actor& actor, Timestamp now);

// Marks `run_id` failed as MarkRun does, recording no audit event of its own: for a change of
// many runs in the caller's batch that the caller audits once (cancelling a backfill).
[[nodiscard]] Result<void> FailRunUnaudited(state::Store& store, const std::string& run_id,
                                            Timestamp now);

// Marks one task instance success, failed or skipped. The run is queued again when some task
// instance is still to be decided, else it ends as success or failed by its task instances.
[[nodiscard]] Result<void> MarkTask(state::Store& store, const state::RunRecord& run,
                                    const std::string& task_id, state::TaskState target,
                                    const Actor& actor, Timestamp now);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_OPERATIONS_H_

// Backfills: the runs of a DAG over a range of past data intervals, as a plan persisted in the
// store, so that running the same backfill again after Ctrl-C or a crash resumes it.
#ifndef WEIR_SCHEDULER_BACKFILL_H_
#define WEIR_SCHEDULER_BACKFILL_H_

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "dags/dag.h"
#include "scheduler/operations.h"
#include "state/records.h"

namespace weir::state {
class Store;
}

namespace weir::scheduler {

struct BackfillOptions {
  CivilDate from;  // intervals starting on or after this local day...
  CivilDate to;    // ...through the end of this local day (the DAG's zone)
  enum class Rerun { kNone, kFailed, kAll } rerun = Rerun::kNone;
  int max_active_runs = 0;           // 0: the DAG's max_active_runs
  bool reverse = false;              // newest intervals first
  std::optional<std::string> tasks;  // a regex over task ids: only those tasks (and, with
  bool downstream = false;           // `downstream`, everything downstream of them)
  bool allow_huge = false;           // more than kMaxIntervals intervals (--yes)
};

// A backfill refuses more intervals than this unless told otherwise (--yes).
inline constexpr int kMaxBackfillIntervals = 100'000;

struct PlannedRun {
  Timestamp start;
  Timestamp end;
  std::string run_id;  // DAG@START
  enum class Status { kNew, kDone, kFailed, kUnfinished } status = Status::kNew;
  bool will_run = false;  // created, or cleared to run again, by this backfill
};
const char* Name(PlannedRun::Status status);

struct BackfillPlan {
  std::vector<PlannedRun> runs;    // in the order they are to run (oldest first, or --reverse)
  std::vector<std::string> tasks;  // the task ids the backfill covers (all, or the selection)
};

// Works out the plan from the DAG's schedule and the runs the store has; changes nothing.
[[nodiscard]] Result<BackfillPlan> PlanBackfill(state::Store& store, const dags::Dag& dag,
                                                const BackfillOptions& options);

struct AppliedBackfill {
  std::int64_t id = 0;               // the backfills row
  std::vector<std::string> run_ids;  // the runs to drive: new, rerun or unfinished
};

// Records the plan: creates the new runs (kind backfill, queued, only the selected tasks) and
// clears the failed (or all) task instances of existing runs per `rerun`, in one transaction
// with the audit event.
[[nodiscard]] Result<AppliedBackfill> ApplyBackfill(state::Store& store, const dags::Dag& dag,
                                                    const BackfillOptions& options,
                                                    const BackfillPlan& plan, const Actor& actor,
                                                    Timestamp now);

struct CanceledBackfill {
  std::string dag_id;
  std::vector<std::string> canceled;  // its queued runs, now failed
  int still_running = 0;              // its runs a driver has begun: they go on to their end
};

// Cancels backfill `id`, in one transaction with one audit event (`cancel_backfill` of
// "dag:DAG", with the backfill's id and what it did in its details): its
// queued runs are marked failed (their task instances that have not run become skipped), the
// runs it has running go on to their end, and it is noted canceled. kNotFound when there is no
// such backfill, kFailedPrecondition when every run of it has ended. Its runs are every run it
// drives, also one it resumed or that a later backfill drives too; a queued run with an attempt
// still running (cleared while it ran) counts as running.
[[nodiscard]] Result<CanceledBackfill> CancelBackfill(state::Store& store, std::int64_t id,
                                                      const Actor& actor, Timestamp now);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_BACKFILL_H_

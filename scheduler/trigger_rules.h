// Trigger rules: given the states of a task's direct upstream tasks, may it run now, must it
// wait, or will it never run (and in which state does it end)? Airflow's semantics, including
// that a task with no upstream task always runs.
#ifndef WEIR_SCHEDULER_TRIGGER_RULES_H_
#define WEIR_SCHEDULER_TRIGGER_RULES_H_

#include <vector>

#include "dags/dag.h"
#include "state/records.h"

namespace weir::scheduler {

struct UpstreamCounts {
  int total = 0;
  int success = 0;  // success or cached
  int failed = 0;
  int upstream_failed = 0;
  int skipped = 0;
  int finished = 0;  // all of the above
  // Counts the states of the given upstream task instances.
  static UpstreamCounts Of(const std::vector<state::TaskState>& states);
};

enum class Verdict {
  kWait,            // not decided yet
  kRun,             // ready to run
  kUpstreamFailed,  // will not run: ends as upstream_failed
  kSkip,            // will not run: ends as skipped
};

Verdict EvaluateTriggerRule(dags::TriggerRule rule, const UpstreamCounts& upstream);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_TRIGGER_RULES_H_

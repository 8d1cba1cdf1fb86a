#include "scheduler/trigger_rules.h"

namespace weir::scheduler {

UpstreamCounts UpstreamCounts::Of(const std::vector<state::TaskState>& states) {
  using state::TaskState;
  UpstreamCounts c;
  c.total = static_cast<int>(states.size());
  for (TaskState s : states) {
    switch (s) {
      case TaskState::kSuccess:
      case TaskState::kCached:
        ++c.success;
        break;
      case TaskState::kFailed:
        ++c.failed;
        break;
      case TaskState::kUpstreamFailed:
        ++c.upstream_failed;
        break;
      case TaskState::kSkipped:
        ++c.skipped;
        break;
      default:
        continue;
    }
    ++c.finished;
  }
  return c;
}

Verdict EvaluateTriggerRule(dags::TriggerRule rule, const UpstreamCounts& u) {
  using dags::TriggerRule;
  // As in Airflow, a task with no upstream task runs whatever its rule says.
  if (u.total == 0) return Verdict::kRun;
  const bool all_finished = u.finished == u.total;
  const int any_failure = u.failed + u.upstream_failed;
  switch (rule) {
    case TriggerRule::kAlways:
      return Verdict::kRun;
    case TriggerRule::kAllSuccess:
      if (any_failure > 0) return Verdict::kUpstreamFailed;
      if (u.skipped > 0) return Verdict::kSkip;
      return all_finished ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kAllFailed:
      if (u.success > 0 || u.skipped > 0) return Verdict::kSkip;
      return all_finished ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kAllDone:
      return all_finished ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kOneSuccess:
      if (u.success > 0) return Verdict::kRun;
      if (!all_finished) return Verdict::kWait;
      // Every upstream finished and none succeeded.
      return u.skipped == u.total ? Verdict::kSkip : Verdict::kUpstreamFailed;
    case TriggerRule::kOneFailed:
      if (any_failure > 0) return Verdict::kRun;
      return all_finished ? Verdict::kSkip : Verdict::kWait;
    case TriggerRule::kNoneFailed:
      if (any_failure > 0) return Verdict::kUpstreamFailed;
      return all_finished ? Verdict::kRun : Verdict::kWait;
  }
  return Verdict::kWait;
}

}  // namespace weir::scheduler

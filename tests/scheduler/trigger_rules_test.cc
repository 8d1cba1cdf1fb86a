#include "scheduler/trigger_rules.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace weir::scheduler {
namespace {

using dags::TriggerRule;
using state::TaskState;

const std::vector<TaskState> kAllStates = {
    TaskState::kPending, TaskState::kScheduled, TaskState::kQueued,     TaskState::kRunning,
    TaskState::kSuccess, TaskState::kFailed,    TaskState::kUpForRetry, TaskState::kUpstreamFailed,
    TaskState::kSkipped, TaskState::kCached};
const std::vector<TriggerRule> kAllRules = {TriggerRule::kAllSuccess, TriggerRule::kAllFailed,
                                            TriggerRule::kAllDone,    TriggerRule::kOneSuccess,
                                            TriggerRule::kOneFailed,  TriggerRule::kNoneFailed,
                                            TriggerRule::kAlways};

// The rules as Airflow documents them, written over the list of states rather than counts.
Verdict Expected(TriggerRule rule, const std::vector<TaskState>& up) {
  auto any = [&](std::initializer_list<TaskState> states) {
    return std::any_of(up.begin(), up.end(), [&](TaskState s) {
      return std::find(states.begin(), states.end(), s) != states.end();
    });
  };
  auto all = [&](std::initializer_list<TaskState> states) {
    return std::all_of(up.begin(), up.end(), [&](TaskState s) {
      return std::find(states.begin(), states.end(), s) != states.end();
    });
  };
  if (up.empty()) return Verdict::kRun;  // no upstream: nothing to wait for or to inherit
  const bool done = std::all_of(up.begin(), up.end(), state::IsFinished);
  const auto ok = {TaskState::kSuccess, TaskState::kCached};
  const auto bad = {TaskState::kFailed, TaskState::kUpstreamFailed};
  switch (rule) {
    case TriggerRule::kAlways:
      return Verdict::kRun;
    case TriggerRule::kAllSuccess:
      if (any(bad)) return Verdict::kUpstreamFailed;
      if (any({TaskState::kSkipped})) return Verdict::kSkip;
      return all(ok) ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kAllFailed:
      if (any({TaskState::kSuccess, TaskState::kCached, TaskState::kSkipped}))
        return Verdict::kSkip;
      return all(bad) ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kAllDone:
      return done ? Verdict::kRun : Verdict::kWait;
    case TriggerRule::kOneSuccess:
      if (any(ok)) return Verdict::kRun;
      if (!done) return Verdict::kWait;
      return all({TaskState::kSkipped}) ? Verdict::kSkip : Verdict::kUpstreamFailed;
    case TriggerRule::kOneFailed:
      if (any(bad)) return Verdict::kRun;
      return done ? Verdict::kSkip : Verdict::kWait;
    case TriggerRule::kNoneFailed:
      if (any(bad)) return Verdict::kUpstreamFailed;
      return done ? Verdict::kRun : Verdict::kWait;
  }
  return Verdict::kWait;
}

TEST_CASE("every trigger rule gives the documented verdict for every pair of upstream states",
          "[scheduler]") {
  int checked = 0;
  for (TriggerRule rule : kAllRules) {
    for (TaskState a : kAllStates) {
      for (TaskState b : kAllStates) {
        std::vector<TaskState> up = {a, b};
        INFO(dags::TriggerRuleName(rule) << " over " << state::Name(a) << ", " << state::Name(b));
        CHECK(EvaluateTriggerRule(rule, UpstreamCounts::Of(up)) == Expected(rule, up));
        ++checked;
      }
    }
  }
  CHECK(checked == 7 * 10 * 10);
}

TEST_CASE("every trigger rule gives the documented verdict for every triple of finished states",
          "[scheduler]") {
  const std::vector<TaskState> finished = {TaskState::kSuccess,        TaskState::kFailed,
                                           TaskState::kUpstreamFailed, TaskState::kSkipped,
                                           TaskState::kCached,         TaskState::kRunning};
  for (TriggerRule rule : kAllRules) {
    for (TaskState a : finished) {
      for (TaskState b : finished) {
        for (TaskState c : finished) {
          std::vector<TaskState> up = {a, b, c};
          CHECK(EvaluateTriggerRule(rule, UpstreamCounts::Of(up)) == Expected(rule, up));
        }
      }
    }
  }
}

TEST_CASE("a task with no upstream task runs at once whatever its rule, as in Airflow",
          "[scheduler]") {
  UpstreamCounts none = UpstreamCounts::Of({});
  for (TriggerRule rule : kAllRules) {
    INFO(dags::TriggerRuleName(rule));
    CHECK(EvaluateTriggerRule(rule, none) == Verdict::kRun);
  }
}

TEST_CASE("known cases read as in Airflow's documentation", "[scheduler]") {
  using S = TaskState;
  struct Row {
    TriggerRule rule;
    std::vector<TaskState> upstream;
    Verdict verdict;
  };
  const std::vector<Row> rows = {
      {TriggerRule::kAllSuccess, {S::kSuccess, S::kCached}, Verdict::kRun},
      {TriggerRule::kAllSuccess, {S::kSuccess, S::kRunning}, Verdict::kWait},
      {TriggerRule::kAllSuccess, {S::kFailed, S::kRunning}, Verdict::kUpstreamFailed},
      {TriggerRule::kAllSuccess, {S::kSkipped, S::kSuccess}, Verdict::kSkip},
      {TriggerRule::kAllSuccess, {S::kUpForRetry}, Verdict::kWait},
      {TriggerRule::kAllFailed, {S::kFailed, S::kUpstreamFailed}, Verdict::kRun},
      {TriggerRule::kAllFailed, {S::kFailed, S::kSuccess}, Verdict::kSkip},
      {TriggerRule::kAllDone, {S::kFailed, S::kSkipped}, Verdict::kRun},
      {TriggerRule::kOneSuccess, {S::kSuccess, S::kRunning}, Verdict::kRun},
      {TriggerRule::kOneSuccess, {S::kFailed, S::kSkipped}, Verdict::kUpstreamFailed},
      {TriggerRule::kOneSuccess, {S::kSkipped, S::kSkipped}, Verdict::kSkip},
      {TriggerRule::kOneFailed, {S::kFailed, S::kRunning}, Verdict::kRun},
      {TriggerRule::kOneFailed, {S::kSuccess, S::kSkipped}, Verdict::kSkip},
      {TriggerRule::kNoneFailed, {S::kSkipped, S::kSuccess}, Verdict::kRun},
      {TriggerRule::kNoneFailed, {S::kUpstreamFailed, S::kRunning}, Verdict::kUpstreamFailed},
      {TriggerRule::kAlways, {S::kPending, S::kFailed}, Verdict::kRun},
  };
  for (const Row& row : rows) {
    CHECK(EvaluateTriggerRule(row.rule, UpstreamCounts::Of(row.upstream)) == row.verdict);
  }
}

}  // namespace
}  // namespace weir::scheduler

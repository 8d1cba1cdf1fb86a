// A TaskRunner for scheduler tests: each attempt "runs" for a fixed time on a manual clock and
// exits with a scripted code, so retry and schedule times can be checked to the millisecond
// without sleeping or starting processes.
#ifndef WEIR_TESTS_TESTING_SCRIPTED_RUNNER_H_
#define WEIR_TESTS_TESTING_SCRIPTED_RUNNER_H_

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "scheduler/scheduler.h"

namespace weir::testing {

using scheduler::AttemptOutcome;
using scheduler::AttemptRequest;
using scheduler::ProcessInfo;
using std::chrono::seconds;

class ScriptedRunner final : public scheduler::TaskRunner {
 public:
  explicit ScriptedRunner(ManualClock& clock) : clock_(clock) {}

  std::map<std::string, std::vector<int>> exit_codes;  // task -> exit code per try; default 0
  Duration duration = seconds(1);
  std::vector<std::pair<std::string, Timestamp>> starts;  // (task, when) in start order
  int max_running = 0;
  std::function<void(const std::string& task)> on_start;

  Result<ProcessInfo> Start(const AttemptRequest& r) override {
    starts.emplace_back(r.task_id, clock_.Now());
    const auto& codes = exit_codes[r.task_id];
    int code = r.try_number <= static_cast<int>(codes.size()) ? codes[r.try_number - 1] : 0;
    running_.push_back({r.attempt_id, clock_.Now() + duration, code, false});
    max_running = std::max(max_running, static_cast<int>(running_.size()));
    if (on_start) on_start(r.task_id);
    return ProcessInfo{1000 + r.attempt_id, std::nullopt};
  }

  std::optional<AttemptOutcome> Wait(std::optional<Timestamp> deadline) override {
    if (interrupted_) {
      interrupted_ = false;
      return std::nullopt;
    }
    if (running_.empty()) {
      if (deadline) clock_.Set(std::max(clock_.Now(), *deadline));
      return std::nullopt;
    }
    auto next = std::min_element(running_.begin(), running_.end(),
                                 [](const auto& a, const auto& b) { return a.end < b.end; });
    if (deadline && *deadline < next->end) {
      clock_.Set(std::max(clock_.Now(), *deadline));
      return std::nullopt;
    }
    clock_.Set(std::max(clock_.Now(), next->end));
    AttemptOutcome outcome;
    outcome.attempt_id = next->id;
    outcome.ended_at = clock_.Now();
    if (next->cancelled) {
      outcome.signal = 15;
      outcome.cancelled = true;
    } else {
      outcome.exit_code = next->code;
    }
    running_.erase(next);
    return outcome;
  }

  void CancelAll() override {
    for (auto& r : running_) {
      r.cancelled = true;
      r.end = clock_.Now();
    }
  }
  void Cancel(std::int64_t id) override {
    for (auto& r : running_) {
      if (r.id == id) {
        r.cancelled = true;
        r.end = clock_.Now();
      }
    }
  }
  void Interrupt() override { interrupted_ = true; }

  std::vector<Timestamp> StartsOf(const std::string& task) const {
    std::vector<Timestamp> out;
    for (const auto& [t, when] : starts) {
      if (t == task) out.push_back(when);
    }
    return out;
  }

 private:
  struct Running {
    std::int64_t id;
    Timestamp end;
    int code;
    bool cancelled;
  };
  ManualClock& clock_;
  std::vector<Running> running_;
  bool interrupted_ = false;
};

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_SCRIPTED_RUNNER_H_

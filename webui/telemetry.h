// What `weir serve` tells watchers as it happens: run and task state changes for the
// Server-Sent Events of /api/v1/events, and the counters and histograms of /metrics. The run
// loop reports to it (it is the scheduler's RunObserver); the scheduler reports its tick
// durations; the API counts its requests and reads the rest from the state database at scrape
// time.
//
// Thread-safety: every method may be called from any thread.
#ifndef WEIR_WEBUI_TELEMETRY_H_
#define WEIR_WEBUI_TELEMETRY_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"
#include "scheduler/scheduler.h"

namespace weir::state {
class Store;
}

namespace weir::webui {

// A Prometheus histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size()) {}
  void Observe(double seconds);
  // The `# TYPE` line and the _bucket, _sum and _count lines of metric `name`.
  std::string Render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

class Telemetry final : public scheduler::RunObserver {
 public:
  Telemetry();

  // scheduler::RunObserver: each change goes to every subscriber as one SSE event.
  void OnRunChanged(const state::RunRecord& run) override;
  void OnTaskChanged(const state::RunRecord& run, const state::TaskInstanceRecord& task,
                     const state::AttemptRecord* attempt) override;

  // `send` gets every event from now on (as the SSE text "id: N\nevent: T\ndata: {...}\n\n")
  // until the returned function is called.
  std::function<void()> Subscribe(std::function<void(std::string)> send);
  std::size_t subscribers() const;

  // How many changes there were so far: to anything, or to the runs of `dag_id` (a run or task
  // state change reported by the run loop, or one made through the API and noted with
  // NoteChange). Answers cached by the API are kept while these stay the same.
  std::uint64_t Changes() const;
  std::uint64_t Changes(std::string_view dag_id) const;
  void NoteChange(const std::string& dag_id);

  void ObserveTick(Duration took);
  // One answered HTTP request: its route template ("/api/v1/runs/{run_id}") and status.
  void CountRequest(const std::string& route, int status, Duration took);

  // Every metric, in the Prometheus text format (version 0.0.4); runs, task instances and the
  // queue are counted in `store` now.
  [[nodiscard]] Result<std::string> Render(state::Store& store) const;

 private:
  void Publish(const std::string& type, const std::string& data);

  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::function<void(std::string)>> subscribers_;
  std::uint64_t next_subscriber_ = 0;
  std::uint64_t next_event_ = 1;
  Histogram task_seconds_;
  Histogram tick_seconds_;
  Histogram request_seconds_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (route, status) -> count
  std::uint64_t changes_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> dag_changes_;
};

}  // namespace weir::webui

#endif  // WEIR_WEBUI_TELEMETRY_H_

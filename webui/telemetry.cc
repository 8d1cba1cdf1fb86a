#include "webui/telemetry.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "state/state.h"

namespace weir::webui {
namespace {

using json = nlohmann::json;

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// One metric of one value, with its HELP and TYPE lines.
template <typename Number>
void Sample(std::string* out, std::string_view name, std::string_view help, Number value,
            std::string_view type = "gauge") {
  *out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

// Prometheus label values escape backslash, quote and newline.
std::string Label(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Histogram::Observe(double seconds) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

std::string Histogram::Render(const std::string& name, const std::string& help) const {
  std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count_,
                     sum_);
  return out;
}

Telemetry::Telemetry()
    : task_seconds_({1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}),
      tick_seconds_({0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}),
      request_seconds_({0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}) {}

void Telemetry::OnRunChanged(const state::RunRecord& run) {
  NoteChange(run.dag_id);
  Publish("run",
          json{{"run_id", run.run_id}, {"dag_id", run.dag_id}, {"state", state::Name(run.state)}}
              .dump());
}

void Telemetry::OnTaskChanged(const state::RunRecord& run, const state::TaskInstanceRecord& task,
                              const state::AttemptRecord* attempt) {
  NoteChange(run.dag_id);
  if (attempt != nullptr && attempt->ended_at) {
    std::lock_guard lock(mutex_);
    task_seconds_.Observe(Seconds(*attempt->ended_at - attempt->started_at));
  }
  Publish("task", json{{"run_id", run.run_id},
                       {"dag_id", run.dag_id},
                       {"task_id", task.task_id},
                       {"state", state::Name(task.state)},
                       {"try_number", task.try_number}}
                      .dump());
}

void Telemetry::Publish(const std::string& type, const std::string& data) {
  std::lock_guard lock(mutex_);
  const std::string event =
      fmt::format("id: {}\nevent: {}\ndata: {}\n\n", next_event_++, type, data);
  for (const auto& [id, send] : subscribers_) send(event);
}

std::function<void()> Telemetry::Subscribe(std::function<void(std::string)> send) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_subscriber_++;
  subscribers_.emplace(id, std::move(send));
  return [this, id] {
    std::lock_guard lock(mutex_);
    subscribers_.erase(id);
  };
}

std::size_t Telemetry::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

std::uint64_t Telemetry::Changes() const {
  std::lock_guard lock(mutex_);
  return changes_;
}

std::uint64_t Telemetry::Changes(std::string_view dag_id) const {
  std::lock_guard lock(mutex_);
  auto it = dag_changes_.find(dag_id);
  return it == dag_changes_.end() ? 0 : it->second;
}

void Telemetry::NoteChange(const std::string& dag_id) {
  std::lock_guard lock(mutex_);
  ++changes_;
  ++dag_changes_[dag_id];
}

void Telemetry::ObserveTick(Duration took) {
  std::lock_guard lock(mutex_);
  tick_seconds_.Observe(Seconds(took));
}

void Telemetry::CountRequest(const std::string& route, int status, Duration took) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  request_seconds_.Observe(Seconds(took));
}

Result<std::string> Telemetry::Render(state::Store& store) const {
  auto counts = store.CountStates();
  if (!counts) return std::unexpected(counts.error());
  std::string out;
  out += "# HELP weir_runs Runs in the state database, by state.\n# TYPE weir_runs gauge\n";
  for (const char* s : {"queued", "running", "success", "failed"}) {
    auto it = counts->runs.find(s);
    out +=
        fmt::format("weir_runs{{state=\"{}\"}} {}\n", s, it == counts->runs.end() ? 0 : it->second);
  }
  out +=
      "# HELP weir_task_instances Task instances in the state database, by state.\n"
      "# TYPE weir_task_instances gauge\n";
  std::int64_t queue = 0;
  for (const char* s : {"pending", "scheduled", "queued", "running", "success", "failed",
                        "up_for_retry", "upstream_failed", "skipped", "cached"}) {
    auto it = counts->tasks.find(s);
    const std::int64_t n = it == counts->tasks.end() ? 0 : it->second;
    if (std::string_view(s) == "scheduled" || std::string_view(s) == "queued") queue += n;
    out += fmt::format("weir_task_instances{{state=\"{}\"}} {}\n", s, n);
  }
  Sample(&out, "weir_queue_depth",
         "Task instances ready to run and waiting for a slot (scheduled or queued).", queue);
  if (auto usage = SelfUsage()) {  // the standard process metrics of Prometheus's clients
    Sample(&out, "process_resident_memory_bytes", "Resident memory size in bytes.",
           usage->resident_bytes);
    Sample(&out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
           usage->virtual_bytes);
    Sample(&out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
           usage->cpu_seconds, "counter");
    Sample(&out, "process_start_time_seconds",
           "Start time of the process since unix epoch in seconds.", usage->start_time_seconds);
    Sample(&out, "process_open_fds", "Number of open file descriptors.", usage->open_fds);
    if (usage->max_fds > 0) {
      Sample(&out, "process_max_fds", "Maximum number of open file descriptors.", usage->max_fds);
    }
  }
  Sample(&out, "weir_sqlite_memory_bytes",
         "Memory SQLite holds in this process (the page caches of its connections, prepared "
         "statements).",
         state::SqliteMemoryUsed());
  std::lock_guard lock(mutex_);
  out += task_seconds_.Render("weir_task_duration_seconds",
                              "Duration of the attempts that ended since the server started.");
  out += tick_seconds_.Render("weir_scheduler_tick_seconds", "Wall time of each scheduling pass.");
  out += request_seconds_.Render("weir_http_request_duration_seconds",
                                 "Time to answer each HTTP request.");
  out +=
      "# HELP weir_http_requests_total HTTP requests answered, by route and status.\n"
      "# TYPE weir_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("weir_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       Label(key.first), key.second, n);
  }
  Sample(&out, "weir_event_subscribers", "Clients following /api/v1/events.", subscribers_.size());
  return out;
}

}  // namespace weir::webui

#include "cli/progress.h"

#include <fmt/format.h>

#include "cli/table.h"
#include "common/clock.h"

namespace weir::cli {
namespace {

std::string Clock() {
  std::string iso = FormatIso(SystemClock::Instance().Now());
  return iso.substr(11, 8);  // HH:MM:SS (UTC)
}

}  // namespace

Progress::Progress(std::ostream& out, bool live, const dags::Dag& dag)
    : out_(out), live_(live), total_(dag.tasks.size()) {
  for (const auto& task : dag.tasks) states_[task.id] = state::TaskState::kPending;
}

void Progress::OnRunChanged(const state::RunRecord& run) {
  if (run.state == state::RunState::kRunning && !live_) {
    out_ << fmt::format("{}  run {} started\n", Clock(), run.run_id);
  }
}

void Progress::OnTaskChanged(const state::RunRecord&, const state::TaskInstanceRecord& task,
                             const state::AttemptRecord* attempt) {
  states_[task.task_id] = task.state;
  if (live_) {
    Redraw();
    return;
  }
  using state::TaskState;
  switch (task.state) {
    case TaskState::kRunning:
      out_ << fmt::format("{}  {}  running (try {})\n", Clock(), task.task_id, task.try_number);
      break;
    case TaskState::kSuccess:
    case TaskState::kSkipped:
    case TaskState::kFailed:
    case TaskState::kUpstreamFailed:
    case TaskState::kCached:
    case TaskState::kUpForRetry: {
      std::string detail;
      if (attempt != nullptr && attempt->ended_at) {
        detail = FormatDuration(*attempt->ended_at - attempt->started_at);
        if (!attempt->reason.empty()) detail += ", " + attempt->reason;
      }
      if (task.state == TaskState::kUpForRetry && task.next_try_at) {
        detail += ", retries at " + FormatIso(*task.next_try_at);
      }
      out_ << fmt::format("{}  {}  {}{}\n", Clock(), task.task_id, state::Name(task.state),
                          detail.empty() ? "" : " (" + detail + ")");
      break;
    }
    default:
      break;
  }
  out_.flush();
}

void Progress::Redraw() {
  std::size_t done = 0;
  std::vector<std::string> running;
  int failed = 0;
  for (const auto& [id, s] : states_) {
    if (state::IsFinished(s)) ++done;
    if (s == state::TaskState::kRunning) running.push_back(id);
    if (s == state::TaskState::kFailed || s == state::TaskState::kUpstreamFailed) ++failed;
  }
  std::string names;
  for (const auto& id : running) names += (names.empty() ? "" : ", ") + id;
  if (names.size() > 60) names = names.substr(0, 57) + "...";
  out_ << fmt::format("\r\x1b[K[{}/{}] {} running{}{}", done, total_, running.size(),
                      names.empty() ? "" : ": " + names,
                      failed ? fmt::format("  ({} failed)", failed) : "");
  out_.flush();
  line_drawn_ = true;
}

void Progress::Close() {
  if (line_drawn_) out_ << "\r\x1b[K";
  out_.flush();
  line_drawn_ = false;
}

void PrintRunSummary(std::ostream& out, const state::RunRecord& run,
                     const std::vector<state::TaskInstanceRecord>& tasks,
                     const std::vector<state::AttemptRecord>& attempts) {
  Table table({"TASK", "STATE", "TRIES", "DURATION", "NOTE"});
  for (const auto& t : tasks) {
    std::string note;
    for (const auto& a : attempts) {
      if (a.task_id == t.task_id) note = a.reason;
    }
    std::string duration =
        t.started_at && t.ended_at ? FormatDuration(*t.ended_at - *t.started_at) : "-";
    table.Add({t.task_id, state::Name(t.state), std::to_string(t.try_number), duration, note});
  }
  table.Print(out);
  std::string took = run.started_at && run.ended_at
                         ? FormatDuration(*run.ended_at - *run.started_at)
                         : std::string("-");
  out << fmt::format("\nrun {}: {} in {}\n", run.run_id, state::Name(run.state), took);
}

}  // namespace weir::cli

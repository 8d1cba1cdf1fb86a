// Progress of a foreground run: a live status line on a terminal, one plain line per event
// otherwise (logs, CI), and the summary table at the end.
#ifndef WEIR_CLI_PROGRESS_H_
#define WEIR_CLI_PROGRESS_H_

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "dags/dag.h"
#include "scheduler/scheduler.h"

namespace weir::cli {

class Progress final : public scheduler::RunObserver {
 public:
  // `live`: redraw one status line (a terminal); otherwise print a line per event.
  Progress(std::ostream& out, bool live, const dags::Dag& dag);

  void OnRunChanged(const state::RunRecord& run) override;
  void OnTaskChanged(const state::RunRecord& run, const state::TaskInstanceRecord& task,
                     const state::AttemptRecord* attempt) override;
  // Clears the live line before other output.
  void Close();

 private:
  void Redraw();
  std::ostream& out_;
  bool live_;
  std::size_t total_;
  std::map<std::string, state::TaskState> states_;
  bool line_drawn_ = false;
};

// The table printed after a run: task, state, tries, duration, and why the last attempt failed.
void PrintRunSummary(std::ostream& out, const state::RunRecord& run,
                     const std::vector<state::TaskInstanceRecord>& tasks,
                     const std::vector<state::AttemptRecord>& attempts);

}  // namespace weir::cli

#endif  // WEIR_CLI_PROGRESS_H_

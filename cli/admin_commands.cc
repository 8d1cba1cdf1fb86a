// Changes a person makes to runs by hand: clear and mark. Each is audited (actor: the OS user,
// source: cli) and picked up by a running scheduler.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/strings.h"
#include "scheduler/backfill.h"
#include "scheduler/operations.h"

namespace weir::cli {
namespace {

struct Loaded {
  std::unique_ptr<state::Store> store;
  state::RunRecord run;
  std::shared_ptr<const dags::Dag> dag;
};

// Opens the store (never creating it), finds the run and the DAG version it was created with.
Result<Loaded> LoadRun(const Context& context, const std::string& run_id) {
  auto store = context.OpenStore(false);
  if (!store) return std::unexpected(store.error());
  auto run = RequireRun(**store, run_id);
  if (!run) return std::unexpected(run.error());
  auto dag = scheduler::LoadRunDag(**store, *run, context.dags_dir);
  if (!dag) return std::unexpected(dag.error());
  return Loaded{std::move(*store), *run, *dag};
}

int PrintCleared(const std::string& run_id, const std::vector<std::string>& cleared) {
  std::cout << fmt::format("cleared {} task instance{} of {}: {}\n", cleared.size(),
                           cleared.size() == 1 ? "" : "s", run_id, fmt::join(cleared, ", "));
  std::cout << "a running scheduler (weir scheduler) runs them again\n";
  return 0;
}

}  // namespace

int RunRunsClear(const Context& context, const std::string& run_id, bool failed_only,
                 const std::string& reason) {
  auto loaded = LoadRun(context, run_id);
  if (!loaded) return Report(loaded.error());
  auto cleared = scheduler::ClearRun(*loaded->store, *loaded->dag, loaded->run, failed_only,
                                     Who(context, reason), SystemClock::Instance().Now());
  if (!cleared) return Report(cleared.error());
  return PrintCleared(run_id, *cleared);
}

int RunTasksClear(const Context& context, const std::string& run_id, const std::string& task_id,
                  bool downstream, bool upstream, const std::string& reason) {
  auto loaded = LoadRun(context, run_id);
  if (!loaded) return Report(loaded.error());
  auto cleared =
      scheduler::ClearTasks(*loaded->store, *loaded->dag, loaded->run, {task_id}, downstream,
                            upstream, Who(context, reason), SystemClock::Instance().Now());
  if (!cleared) return Report(cleared.error());
  return PrintCleared(run_id, *cleared);
}

int RunRunsMark(const Context& context, const std::string& run_id, const std::string& state_name,
                const std::string& reason) {
  auto target = state::ParseRunState(state_name);
  if (!target || (*target != state::RunState::kSuccess && *target != state::RunState::kFailed)) {
    return Report(
        Error{ErrorCode::kInvalidArgument,
              fmt::format("cannot mark a run '{}': use success or failed", Printable(state_name))});
  }
  auto loaded = LoadRun(context, run_id);
  if (!loaded) return Report(loaded.error());
  auto done = scheduler::MarkRun(*loaded->store, loaded->run, *target, Who(context, reason),
                                 SystemClock::Instance().Now());
  if (!done) return Report(done.error());
  std::cout << fmt::format("marked run {} {}\n", run_id, state_name);
  return 0;
}

int RunBackfillsCancel(const Context& context, const std::string& id_text,
                       const std::string& reason) {
  auto id = ParseBackfillId(id_text);
  if (!id) return Report(id.error());
  auto store = context.OpenStore(false);
  if (!store) return Report(store.error());
  auto canceled =
      scheduler::CancelBackfill(**store, *id, Who(context, reason), SystemClock::Instance().Now());
  if (!canceled) return Report(canceled.error());
  std::cout << fmt::format("canceled backfill {} of {}: {} queued run{} marked failed", *id,
                           canceled->dag_id, canceled->canceled.size(),
                           canceled->canceled.size() == 1 ? "" : "s");
  if (canceled->still_running > 0) {
    std::cout << fmt::format("; {} running run{} go{} on to {} end", canceled->still_running,
                             canceled->still_running == 1 ? "" : "s",
                             canceled->still_running == 1 ? "es" : "",
                             canceled->still_running == 1 ? "its" : "their");
  }
  std::cout << "\n";
  return 0;
}

int RunTasksMark(const Context& context, const std::string& run_id, const std::string& task_id,
                 const std::string& state_name, const std::string& reason) {
  auto target = state::ParseTaskState(state_name);
  if (!target || (*target != state::TaskState::kSuccess && *target != state::TaskState::kFailed &&
                  *target != state::TaskState::kSkipped)) {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("cannot mark a task '{}': use success, failed or skipped",
                                    Printable(state_name))});
  }
  auto loaded = LoadRun(context, run_id);
  if (!loaded) return Report(loaded.error());
  auto done = scheduler::MarkTask(*loaded->store, loaded->run, task_id, *target,
                                  Who(context, reason), SystemClock::Instance().Now());
  if (!done) return Report(done.error());
  std::cout << fmt::format("marked {} of {} {}\n", task_id, run_id, state_name);
  return 0;
}

}  // namespace weir::cli

// `weir scheduler`: schedules forever, until SIGINT or SIGTERM.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/openlineage_client.h"
#include "cli/signals.h"
#include "common/process.h"
#include "executor/executor.h"
#include "scheduler/service.h"
#include "tasks/tasks.h"

namespace weir::cli {
namespace {

std::string Now() { return FormatIso(SystemClock::Instance().Now()).substr(0, 19) + "Z"; }

// One line per attempt that starts or ends, for the scheduler's log.
class EventLines final : public scheduler::RunObserver {
 public:
  void OnTaskChanged(const state::RunRecord& run, const state::TaskInstanceRecord& task,
                     const state::AttemptRecord* attempt) override {
    if (attempt == nullptr && !state::IsFinished(task.state)) return;
    std::string detail;
    if (attempt != nullptr && !attempt->reason.empty()) detail = " (" + attempt->reason + ")";
    std::cout << fmt::format(
        "{}  {}  {}  {}{}{}\n", Now(), run.run_id, task.task_id, state::Name(task.state),
        task.state == state::TaskState::kRunning ? fmt::format(" (try {})", task.try_number) : "",
        detail);
    std::cout.flush();
  }
};

}  // namespace

int RunScheduler(const Context& context, std::optional<int> parallelism) {
  if (parallelism && *parallelism < 1) {
    return Report(Error{ErrorCode::kInvalidArgument, "--parallelism must be 1 or more"});
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(context.dags_dir, ec)) {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("no DAGs folder at {} (pass --dags DIR or set WEIR_DAGS)",
                                    context.dags_dir.string())});
  }
  auto openlineage_config = OpenLineageConfigFromEnvironment();
  if (!openlineage_config) return Report(openlineage_config.error());
  auto store = context.OpenStore(true);
  if (!store) return Report(store.error());

  SignalWatcher signals;  // before any thread starts
  auto openlineage = MakeOpenLineageClient(*openlineage_config);
  SystemClock& clock = SystemClock::Instance();
  tasks::CommandFactory factory(TaskOptionsFor(context));
  executor::ProcessPool pool;
  EventLines lines;
  scheduler::RunLoop loop(
      **store, pool,
      [&factory](const dags::Dag& d, const dags::TaskSpec& t, const dags::TemplateContext& c) {
        return factory.Build(d, t, c);
      },
      clock, RunLoopOptionsFor(context, parallelism, **store, openlineage.get()), &lines);
  scheduler::SchedulerService service(
      **store, loop, pool, clock,
      scheduler::SchedulerOptions{.dags_dir = context.dags_dir,
                                  .home = std::filesystem::absolute(context.home)},
      [](const std::string& line) {
        std::cout << Now() << "  " << line << "\n";
        std::cout.flush();
      });
  if (auto started = service.Start(); !started) return Report(started.error());
  std::cout << fmt::format("{}  scheduler started: pid {}, DAGs in {}, state in {}\n", Now(),
                           ::getpid(), context.dags_dir.string(), context.StatePath().string());
  std::cout.flush();
  signals.Watch([&service] {
    std::cerr << "weir: stopping: running tasks go back to the queue for the next scheduler\n";
    service.RequestStop();
  });
  auto done = service.Run();
  if (!done) return Report(done.error());
  std::cout << Now() << "  scheduler stopped\n";
  return 0;
}

}  // namespace weir::cli

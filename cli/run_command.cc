// `weir run`: create a manual run for one data interval and drive it to completion in the
// foreground.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/openlineage_client.h"
#include "cli/progress.h"
#include "cli/signals.h"
#include "common/strings.h"
#include "executor/executor.h"
#include "scheduler/scheduler.h"
#include "tasks/tasks.h"

namespace weir::cli {
namespace {

Result<std::vector<std::pair<std::string, std::string>>> SplitParams(
    const std::vector<std::string>& params) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& p : params) {
    std::size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("--param '{}': expected NAME=VALUE", Printable(p)));
    }
    out.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  return out;
}

}  // namespace

int RunRun(const Context& context, const RunOptions& options) {
  // Check every flag before anything is loaded or written.
  if (options.date && (options.start || options.end)) {
    return Report(
        Error{ErrorCode::kInvalidArgument, "--date cannot be combined with --start/--end"});
  }
  if (options.start.has_value() != options.end.has_value()) {
    return Report(Error{ErrorCode::kInvalidArgument, "--start and --end go together"});
  }
  if (options.parallelism && *options.parallelism < 1) {
    return Report(Error{ErrorCode::kInvalidArgument, "--parallelism must be 1 or more"});
  }
  auto overrides = SplitParams(options.params);
  if (!overrides) return Report(overrides.error());
  auto openlineage_config = OpenLineageConfigFromEnvironment();
  if (!openlineage_config) return Report(openlineage_config.error());
  auto task_options = TaskOptionsFor(context);
  if (!task_options) return Report(task_options.error());

  dags::LoadResult loaded = context.LoadDags();
  auto dag = context.FindDag(loaded, options.dag_id);
  if (!dag) return Report(dag.error());
  auto params = dags::ResolveParams(**dag, *overrides);
  if (!params) return Report(params.error());
  SystemClock& clock = SystemClock::Instance();
  auto interval = scheduler::ResolveManualInterval(
      **dag, {.date = options.date, .start = options.start, .end = options.end}, "--", clock.Now());
  if (!interval) return Report(interval.error());

  auto store = context.OpenStore(true);
  if (!store) return Report(store.error());
  scheduler::RunRequest request{interval->start,         interval->end, *params,
                                state::RunKind::kManual, context.actor, "cli",
                                options.no_cache};
  auto run = scheduler::CreateRun(**store, **dag, request, clock.Now());
  if (!run) return Report(run.error());

  const bool live = ::isatty(STDERR_FILENO) == 1;
  std::cerr << fmt::format("run {}\n", run->run_id);
  Progress progress(std::cerr, live, **dag);
  tasks::CommandFactory factory(*task_options);
  SignalWatcher signals;
  auto openlineage = MakeOpenLineageClient(*openlineage_config);
  executor::ProcessPool pool(PoolOptions());
  scheduler::RunLoop loop(
      **store, pool,
      [&factory](const dags::Dag& d, const dags::TaskSpec& t, const dags::TemplateContext& c) {
        return factory.Build(d, t, c);
      },
      clock, RunLoopOptionsFor(context, options.parallelism, **store, openlineage.get()),
      &progress);
  signals.Watch([&loop] {
    std::cerr << "\nweir: stopping: cancelling running tasks...\n";
    loop.RequestStop();
  });
  auto done = loop.RunToCompletion(*dag, run->run_id);
  progress.Close();
  if (!done) return Report(done.error());

  auto tasks = (*store)->TaskInstances(done->run_id);
  if (!tasks) return Report(tasks.error());
  auto attempts = (*store)->Attempts(done->run_id, "");
  if (!attempts) return Report(attempts.error());
  PrintRunSummary(std::cout, *done, *tasks, *attempts);
  std::cout << fmt::format("logs:  {}\n",
                           (context.LogDir() / done->dag_id / done->run_id).string());
  std::cout << fmt::format("state: {}\n", context.StatePath().string());
  if (done->state != state::RunState::kSuccess) {
    std::cout << fmt::format("see a failed task's log with: weir tasks logs '{}' TASK\n",
                             done->run_id);
  }
  return done->state == state::RunState::kSuccess ? 0 : 1;
}

}  // namespace weir::cli

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

struct Interval {
  Timestamp start;
  Timestamp end;
};

// The data interval asked for. With a cron schedule, --date D is the schedule's interval that
// starts on local day D (so that a manual run of a day matches that day's scheduled run), and
// no date is the latest interval that has closed. Without one, --date D is the local day D and
// no date is yesterday. --start/--end are taken as given.
Result<Interval> ResolveInterval(const RunOptions& options, const dags::Dag& dag, Timestamp now) {
  if (options.start) {
    auto start = ParseTimestamp(*options.start);
    if (!start) return Fail(ErrorCode::kInvalidArgument, "--start: " + start.error().message);
    auto end = ParseTimestamp(*options.end);
    if (!end) return Fail(ErrorCode::kInvalidArgument, "--end: " + end.error().message);
    if (*end <= *start) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("--end ({}) must be after --start ({})",
                                                           FormatIso(*end), FormatIso(*start)));
    }
    return Interval{*start, *end};
  }
  const dags::Schedule& schedule = dag.schedule;
  const bool cron = schedule.kind() == dags::Schedule::Kind::kCron;
  CivilDate day;
  if (options.date) {
    auto d = ParseDate(*options.date);
    if (!d) return Fail(ErrorCode::kInvalidArgument, "--date: " + d.error().message);
    day = *d;
  } else if (cron) {
    auto end = schedule.PreviousTick(now + Duration(1), dag.timezone);
    auto start = end ? schedule.PreviousTick(*end, dag.timezone) : std::nullopt;
    if (!start) {
      return Fail(
          ErrorCode::kInvalidArgument,
          fmt::format("DAG '{}' has no closed interval yet; pass --date or --start/--end", dag.id));
    }
    return Interval{*start, *end};
  } else {
    auto today = LocalDate(now, dag.timezone);
    if (!today) return std::unexpected(today.error());
    day = AddDays(*today, -1);
  }
  auto midnight = StartOfLocalDay(day, dag.timezone);
  if (!midnight) return std::unexpected(midnight.error());
  auto next_midnight = StartOfLocalDay(AddDays(day, 1), dag.timezone);
  if (!next_midnight) return std::unexpected(next_midnight.error());
  if (!cron) return Interval{*midnight, *next_midnight};
  auto start = schedule.NextTick(*midnight - Duration(1), dag.timezone);
  auto end = start ? schedule.NextTick(*start, dag.timezone) : std::nullopt;
  if (!start || !end || *start >= *next_midnight) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("--date {}: the schedule '{}' of DAG '{}' has no interval starting "
                            "that day; pass --start and --end",
                            FormatDate(day), schedule.text(), dag.id));
  }
  return Interval{*start, *end};
}

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

  dags::LoadResult loaded = context.LoadDags();
  auto dag = context.FindDag(loaded, options.dag_id);
  if (!dag) return Report(dag.error());
  auto params = dags::ResolveParams(**dag, *overrides);
  if (!params) return Report(params.error());
  SystemClock& clock = SystemClock::Instance();
  auto interval = ResolveInterval(options, **dag, clock.Now());
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
  tasks::CommandFactory factory(TaskOptionsFor(context));
  SignalWatcher signals;
  auto openlineage = MakeOpenLineageClient(*openlineage_config);
  executor::ProcessPool pool;
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

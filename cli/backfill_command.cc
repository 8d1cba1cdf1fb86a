// `weir backfill`: runs a DAG over a range of past intervals as a persisted plan. Run the same
// command again after Ctrl-C or a crash and it resumes.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/openlineage_client.h"
#include "cli/signals.h"
#include "cli/table.h"
#include "common/process.h"
#include "executor/executor.h"
#include "scheduler/backfill.h"
#include "scheduler/operations.h"
#include "scheduler/scheduler.h"
#include "scheduler/service.h"
#include "state/state.h"
#include "tasks/tasks.h"

namespace weir::cli {
namespace {

using scheduler::BackfillOptions;
using scheduler::PlannedRun;

Result<BackfillOptions> ParseOptions(const BackfillCommand& command) {
  BackfillOptions options;
  auto from = ParseDate(command.from);
  if (!from) return Fail(ErrorCode::kInvalidArgument, "--from: " + from.error().message);
  auto to = ParseDate(command.to);
  if (!to) return Fail(ErrorCode::kInvalidArgument, "--to: " + to.error().message);
  if (*to < *from) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("--from {} is after --to {}", command.from, command.to));
  }
  options.from = *from;
  options.to = *to;
  if (command.rerun_failed && command.rerun_all) {
    return Fail(ErrorCode::kInvalidArgument, "--rerun-failed and --rerun-all exclude each other");
  }
  options.rerun = command.rerun_all      ? BackfillOptions::Rerun::kAll
                  : command.rerun_failed ? BackfillOptions::Rerun::kFailed
                                         : BackfillOptions::Rerun::kNone;
  if (command.max_active_runs && *command.max_active_runs < 1) {
    return Fail(ErrorCode::kInvalidArgument, "--max-active-runs must be 1 or more");
  }
  options.max_active_runs = command.max_active_runs.value_or(0);
  if (command.parallelism && *command.parallelism < 1) {
    return Fail(ErrorCode::kInvalidArgument, "--parallelism must be 1 or more");
  }
  if (command.downstream && !command.tasks) {
    return Fail(ErrorCode::kInvalidArgument, "--downstream goes with --tasks");
  }
  options.tasks = command.tasks;
  options.downstream = command.downstream;
  options.reverse = command.reverse;
  options.allow_huge = command.yes;
  return options;
}

void PrintPlan(const scheduler::BackfillPlan& plan, bool full) {
  int count[4] = {};
  int to_run = 0;
  Table table({"INTERVAL START", "INTERVAL END", "STATUS", "ACTION"});
  for (const PlannedRun& r : plan.runs) {
    ++count[static_cast<int>(r.status)];
    to_run += r.will_run ? 1 : 0;
    const char* action = !r.will_run                                   ? "leave"
                         : r.status == PlannedRun::Status::kNew        ? "create"
                         : r.status == PlannedRun::Status::kUnfinished ? "resume"
                                                                       : "rerun";
    table.Add({FormatIso(r.start), FormatIso(r.end), scheduler::Name(r.status), action});
  }
  if (full) table.Print(std::cout);
  std::cout << fmt::format(
      "{} intervals: {} new, {} failed, {} done, {} unfinished; {} to run (tasks: {})\n",
      plan.runs.size(), count[0], count[2], count[1], count[3], to_run,
      fmt::join(plan.tasks, ", "));
}

// Follows a backfill handed to the scheduler that holds the lease, until its runs are done.
int Follow(state::Store& store, const std::vector<std::string>& run_ids) {
  std::size_t reported = 0;
  while (true) {
    std::size_t done = 0, failed = 0;
    for (const std::string& id : run_ids) {
      auto run = store.GetRun(id);
      if (!run) return Report(run.error());
      if (!*run) continue;
      if ((*run)->state == state::RunState::kSuccess) ++done;
      if ((*run)->state == state::RunState::kFailed) ++done, ++failed;
    }
    if (done != reported) {
      std::cout << fmt::format("{}/{} runs done ({} failed)\n", done, run_ids.size(), failed);
      std::cout.flush();
      reported = done;
    }
    if (done == run_ids.size()) return failed == 0 ? 0 : 1;
    // Another process does the work: look again in a second.
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

int RunBackfill(const Context& context, const BackfillCommand& command) {
  auto options = ParseOptions(command);
  if (!options) return Report(options.error());
  dags::LoadResult loaded = context.LoadDags();
  auto dag = context.FindDag(loaded, command.dag_id);
  if (!dag) return Report(dag.error());
  auto openlineage_config = OpenLineageConfigFromEnvironment();
  if (!openlineage_config) return Report(openlineage_config.error());
  auto task_options = TaskOptionsFor(context);
  if (!task_options) return Report(task_options.error());

  // A dry run changes nothing, not even by creating the database.
  std::error_code ec;
  bool have_db = std::filesystem::exists(context.StatePath(), ec);
  auto store = command.dry_run && !have_db ? state::Store::Open(":memory:")
                                           : context.OpenStore(!command.dry_run);
  if (!store) return Report(store.error());
  auto plan = scheduler::PlanBackfill(**store, **dag, *options);
  if (!plan) return Report(plan.error());
  PrintPlan(*plan, command.dry_run);
  if (command.dry_run) return 0;

  SignalWatcher signals;  // before any thread starts
  SystemClock& clock = SystemClock::Instance();
  auto applied = scheduler::ApplyBackfill(**store, **dag, *options, *plan,
                                          Who(context, command.reason), clock.Now());
  if (!applied) return Report(applied.error());
  const std::vector<std::string>* run_ids = &applied->run_ids;
  if (run_ids->empty()) {
    std::cout << "nothing to run\n";
    return 0;
  }

  // With a live scheduler, hand the plan over (its runs are queued in the store) and follow.
  scheduler::Driver self = scheduler::Driver::Self();
  state::LeaseRecord me{"weir backfill",  self.host,   self.pid,
                        self.start_ticks, clock.Now(), clock.Now()};
  auto refused = (*store)->TryAcquireLease(me, [&](const state::LeaseRecord& l) {
    if (l.host == self.host) return !IsProcessAlive(l.pid, l.process_start_ticks);
    return clock.Now() - l.heartbeat_at > std::chrono::seconds(30);
  });
  if (!refused) return Report(refused.error());
  if (*refused) {
    std::cout << fmt::format("handed to {} (pid {} on {}), which runs it; following...\n",
                             (*refused)->holder, (*refused)->pid, (*refused)->host);
    return Follow(**store, *run_ids);
  }
  // Holding the lease, first recover what a killed predecessor (this command run before, or a
  // scheduler) left running, as a starting scheduler does: its attempts become orphaned, free.
  auto recovered = scheduler::RecoverOrphans(
      **store, clock, self, std::filesystem::absolute(context.home), [](const std::string& line) {
        std::cout << line << "\n";
        std::cout.flush();
      });
  if (!recovered) return Report(recovered.error());

  tasks::CommandFactory factory(*task_options);
  auto openlineage = MakeOpenLineageClient(*openlineage_config);
  executor::ProcessPool pool(PoolOptions());
  scheduler::RunLoop loop(
      **store, pool,
      [&factory](const dags::Dag& d, const dags::TaskSpec& t, const dags::TemplateContext& c) {
        return factory.Build(d, t, c);
      },
      clock, RunLoopOptionsFor(context, command.parallelism, **store, openlineage.get()));
  signals.Watch([&loop] {
    std::cerr << "\nweir: stopping; run the same command again to resume\n";
    loop.RequestStop(/*keep_runs=*/true);
  });
  const int limit =
      options->max_active_runs > 0 ? options->max_active_runs : (*dag)->max_active_runs;
  const bool live = ::isatty(STDERR_FILENO) == 1;
  std::deque<std::string> pending(run_ids->begin(), run_ids->end());
  const std::size_t total = run_ids->size();
  std::size_t done = 0, failed = 0;
  const Timestamp started = clock.Now();
  Timestamp next_heartbeat = clock.Now() + std::chrono::seconds(5);
  Timestamp next_check = clock.Now() + std::chrono::seconds(1);
  std::optional<scheduler::AttemptOutcome> outcome;
  int status = 0;
  scheduler::RunDags run_dags(context.dags_dir);
  while (true) {
    if (loop.StopRequested()) {
      if (auto ok = loop.Drain(); !ok) status = Report(ok.error());
      status = status ? status : 1;
      break;
    }
    // Runs changed by hand since they were adopted (cleared, marked) are let go, as a scheduler
    // does: their running attempts are cancelled, and they are taken up again from what the
    // store now says (a run marked failed is then counted as ended).
    if (clock.Now() >= next_check) {
      auto changed = loop.ReleaseChanged();
      if (!changed) return Report(changed.error());
      for (const std::string& id : *changed) {
        std::cout << fmt::format("run {} was changed by hand; reloading it\n", id);
        pending.push_front(id);
      }
      next_check = clock.Now() + std::chrono::seconds(1);
    }
    for (std::size_t n = pending.size(); n > 0 && loop.RunCount() < limit; --n) {
      std::string id = pending.front();
      pending.pop_front();
      if (loop.IsReleasing(id)) {  // its cancelled attempts have not ended yet
        pending.push_back(id);
        continue;
      }
      auto run = (*store)->GetRun(id);
      if (!run || !*run) continue;
      // A run ended by hand meanwhile (marked, or the backfill canceled) is not adopted: the
      // loop hands it back as finished, and it is counted below.
      auto run_dag = run_dags.Get(**store, **run, *dag);
      if (!run_dag) return Report(run_dag.error());
      if (auto ok = loop.Adopt(*run_dag, id); !ok) return Report(ok.error());
    }
    if (auto ok = loop.Step(std::exchange(outcome, std::nullopt)); !ok) {
      status = Report(ok.error());
      break;
    }
    for (const state::RunRecord& run : loop.TakeFinished()) {
      ++done;
      failed += run.state == state::RunState::kSuccess ? 0 : 1;
      if (!live) {
        std::cout << fmt::format("run {} {} ({}/{})\n", run.run_id, state::Name(run.state), done,
                                 total);
        std::cout.flush();
      }
    }
    if (live) {
      Duration elapsed = clock.Now() - started;
      std::string eta = done == 0 ? "?"
                                  : FormatDuration(elapsed * static_cast<int64_t>(total - done) /
                                                   static_cast<int64_t>(done));
      std::cerr << fmt::format("\r\x1b[K[{}/{} runs] {} tasks running, {} failed, ETA {}", done,
                               total, loop.RunningCount(), failed, eta);
    }
    if (pending.empty() && loop.RunCount() == 0) break;
    // A run just ended and frees a slot: start the next one now, not after the next wait.
    if (loop.RunCount() < limit && std::any_of(pending.begin(), pending.end(), [&](const auto& id) {
          return !loop.IsReleasing(id);
        })) {
      continue;
    }
    if (clock.Now() >= next_heartbeat) {
      (void)(*store)->Heartbeat(me, clock.Now());
      next_heartbeat = clock.Now() + std::chrono::seconds(5);
    }
    std::optional<Timestamp> deadline = loop.NextDeadline();
    if (!deadline || *deadline > next_heartbeat) deadline = next_heartbeat;
    if (*deadline > next_check) deadline = next_check;
    outcome = pool.Wait(deadline);
  }
  if (live) std::cerr << "\r\x1b[K";
  (void)(*store)->ReleaseLease(me);
  std::cout << fmt::format("backfill of {}: {}/{} runs done, {} failed\n", (*dag)->id, done, total,
                           failed);
  if (status != 0) return status;
  return failed == 0 && done == total ? 0 : 1;
}

}  // namespace weir::cli

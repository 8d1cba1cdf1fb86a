// Backfill plans against a real store, driven by a run loop on a scripted runner.
#include "scheduler/backfill.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "dags/dags.h"
#include "state/state.h"
#include "tests/testing/scripted_runner.h"
#include "tests/testing/temp_dir.h"

namespace weir::scheduler {
namespace {

using testing::ScriptedRunner;

struct Fixture {
  testing::TempDir dir;
  ManualClock clock{*ParseTimestamp("2026-06-01T00:00:00Z")};
  ScriptedRunner runner{clock};
  std::unique_ptr<state::Store> store;
  std::shared_ptr<const dags::Dag> dag;
  Actor actor{"tester", "cli", "because"};

  explicit Fixture(const std::string& yaml) {
    auto loaded = dags::LoadDagText(yaml, "d.yaml");
    for (const auto& e : loaded.errors) FAIL(e.ToString());
    dag = loaded.dags.at(0);
    auto opened = state::Store::Open(dir / "weir.db");
    REQUIRE(opened);
    store = std::move(*opened);
  }

  BackfillOptions Days(const char* from, const char* to) {
    BackfillOptions o;
    o.from = *ParseDate(from);
    o.to = *ParseDate(to);
    return o;
  }

  // Plans and applies the backfill: its runs are queued.
  AppliedBackfill Apply(const BackfillOptions& options) {
    auto plan = PlanBackfill(*store, *dag, options);
    REQUIRE(plan);
    auto applied = ApplyBackfill(*store, *dag, options, *plan, actor, clock.Now());
    REQUIRE(applied);
    return *applied;
  }

  // Plans, applies and drives the backfill to the end; returns the plan.
  BackfillPlan Run(const BackfillOptions& options) {
    auto plan = PlanBackfill(*store, *dag, options);
    REQUIRE(plan);
    auto ids = ApplyBackfill(*store, *dag, options, *plan, actor, clock.Now());
    REQUIRE(ids);
    Drive(ids->run_ids);
    return *plan;
  }

  void Drive(const std::vector<std::string>& run_ids) {
    RunLoop loop(
        *store, runner,
        [](const dags::Dag&, const dags::TaskSpec&,
           const dags::TemplateContext&) -> Result<Command> {
          return Command{{"true"}, {}, ""};
        },
        clock, RunLoopOptions{.parallelism = 2, .log_dir = dir / "logs"});
    for (const std::string& id : run_ids) REQUIRE(loop.RunToCompletion(dag, id));
  }

  state::BackfillProgress Progress(std::int64_t id) {
    auto found = store->GetBackfill(id);
    REQUIRE(found);
    REQUIRE(found->has_value());
    return **found;
  }

  std::vector<std::string> Statuses(const BackfillOptions& options) {
    auto plan = PlanBackfill(*store, *dag, options);
    REQUIRE(plan);
    std::vector<std::string> out;
    for (const auto& r : plan->runs) out.push_back(FormatIso(r.start) + " " + Name(r.status));
    return out;
  }
};

const char* kDaily = R"(
dag: daily
schedule: "0 2 * * *"
timezone: Europe/Berlin
tasks:
  extract: { kind: shell, command: [true] }
  load: { kind: shell, command: [true], deps: [extract] }
  report: { kind: shell, command: [true], deps: [load] }
)";

using Lines = std::vector<std::string>;

TEST_CASE(
    "a backfill covers the intervals starting on the given local days, and records its "
    "plan",
    "[scheduler]") {
  Fixture f(kDaily);
  CHECK(f.Statuses(f.Days("2026-01-01", "2026-01-03")) ==
        Lines{"2026-01-01T01:00:00Z new", "2026-01-02T01:00:00Z new", "2026-01-03T01:00:00Z new"});
  f.Run(f.Days("2026-01-01", "2026-01-03"));
  CHECK(f.Statuses(f.Days("2025-12-31", "2026-01-02")) == Lines{"2025-12-31T01:00:00Z new",
                                                                "2026-01-01T01:00:00Z done",
                                                                "2026-01-02T01:00:00Z done"});
  auto runs = f.store->ListRuns("daily", 10);
  REQUIRE(runs);
  REQUIRE(runs->size() == 3);
  for (const auto& r : *runs) {
    CHECK(r.kind == state::RunKind::kBackfill);
    CHECK(r.state == state::RunState::kSuccess);
    CHECK(r.backfill_id.has_value());
  }
  auto audit = f.store->ListAudit(10);
  REQUIRE(audit);
  CHECK(audit->front().action == "backfill");
  CHECK(audit->front().reason == "because");
}

TEST_CASE(
    "rerunning failed runs reruns only the failed tasks of failed runs, --rerun-all everything",
    "[scheduler]") {
  Fixture f(kDaily);
  f.runner.exit_codes["load"] = {1};  // the first try of load fails, once
  f.Run(f.Days("2026-01-01", "2026-01-02"));
  CHECK(f.Statuses(f.Days("2026-01-01", "2026-01-02")) ==
        Lines{"2026-01-01T01:00:00Z failed", "2026-01-02T01:00:00Z failed"});
  f.runner.exit_codes.clear();
  f.runner.starts.clear();
  BackfillOptions rerun = f.Days("2026-01-01", "2026-01-02");
  rerun.rerun = BackfillOptions::Rerun::kFailed;
  f.Run(rerun);
  // extract succeeded before and is left alone; load failed and report was upstream_failed.
  std::vector<std::string> tasks;
  for (const auto& [task, when] : f.runner.starts) tasks.push_back(task);
  std::sort(tasks.begin(), tasks.end());
  CHECK(tasks == Lines{"load", "load", "report", "report"});
  CHECK(f.Statuses(f.Days("2026-01-01", "2026-01-02")) ==
        Lines{"2026-01-01T01:00:00Z done", "2026-01-02T01:00:00Z done"});

  f.runner.starts.clear();
  BackfillOptions all = f.Days("2026-01-01", "2026-01-01");
  all.rerun = BackfillOptions::Rerun::kAll;
  f.Run(all);
  CHECK(f.runner.starts.size() == 3);
}

TEST_CASE("a reverse backfill runs the newest interval first", "[scheduler]") {
  Fixture f(kDaily);
  BackfillOptions options = f.Days("2026-01-01", "2026-01-03");
  options.reverse = true;
  auto plan = f.Run(options);
  CHECK(FormatIso(plan.runs.front().start) == "2026-01-03T01:00:00Z");
  CHECK(f.runner.starts.front().second <= f.runner.starts.back().second);
  auto first = f.store->GetRun("daily@2026-01-03T01:00:00Z");
  auto last = f.store->GetRun("daily@2026-01-01T01:00:00Z");
  CHECK(*(*first)->started_at <= *(*last)->started_at);
}

TEST_CASE("a task selection runs only the matching tasks, with --downstream what follows them",
          "[scheduler]") {
  Fixture f(kDaily);
  BackfillOptions only_load = f.Days("2026-01-01", "2026-01-01");
  only_load.tasks = "^load$";
  f.Run(only_load);
  CHECK(f.runner.starts.size() == 1);
  CHECK(f.runner.starts[0].first == "load");
  auto tasks = f.store->TaskInstances("daily@2026-01-01T01:00:00Z");
  REQUIRE(tasks);
  REQUIRE(tasks->size() == 1);
  CHECK((*f.store->GetRun("daily@2026-01-01T01:00:00Z"))->state == state::RunState::kSuccess);

  BackfillOptions with_downstream = f.Days("2026-01-02", "2026-01-02");
  with_downstream.tasks = "load";
  with_downstream.downstream = true;
  f.runner.starts.clear();
  f.Run(with_downstream);
  CHECK(f.runner.starts.size() == 2);
}

std::string Counts(const state::BackfillProgress& b) {
  return fmt::format("{} runs: {} queued, {} running, {} success, {} failed -> {}", b.runs,
                     b.queued, b.running, b.success, b.failed, b.State());
}

TEST_CASE(
    "a backfill's state is counted from the runs it drives as they are now, whoever drives "
    "them",
    "[scheduler]") {
  Fixture f(kDaily);
  BackfillOptions three = f.Days("2026-01-01", "2026-01-03");
  three.reverse = true;
  AppliedBackfill first = f.Apply(three);
  CHECK(Counts(f.Progress(first.id)) ==
        "3 runs: 3 queued, 0 running, 0 success, 0 failed -> running");
  CHECK_FALSE(f.Progress(first.id).ended_at);
  CHECK(f.Progress(first.id).plan.actor == "tester");
  CHECK(f.Progress(first.id).plan.from_date == "2026-01-01");

  // Driven by anyone (here a run loop, as a scheduler adopting them would): it ends with its
  // last run, failed when one failed.
  f.runner.exit_codes["load"] = {1};
  f.Drive({first.run_ids[0]});
  CHECK(Counts(f.Progress(first.id)) ==
        "3 runs: 2 queued, 0 running, 0 success, 1 failed -> running");
  f.runner.exit_codes.clear();
  f.clock.Advance(std::chrono::minutes(5));
  f.Drive({first.run_ids[1], first.run_ids[2]});
  state::BackfillProgress ended = f.Progress(first.id);
  CHECK(Counts(ended) == "3 runs: 0 queued, 0 running, 2 success, 1 failed -> failed");
  auto last = f.store->GetRun(first.run_ids[2]);
  REQUIRE(ended.ended_at);
  CHECK(*ended.ended_at == *(*last)->ended_at);

  // Its runs in the plan's order (newest interval first here).
  auto runs = f.store->BackfillRuns(first.id);
  REQUIRE(runs);
  std::vector<std::string> ids;
  for (const auto& r : *runs) ids.push_back(r.run_id);
  CHECK(ids == Lines{"daily@2026-01-03T01:00:00Z", "daily@2026-01-02T01:00:00Z",
                     "daily@2026-01-01T01:00:00Z"});

  // Rerunning the failed one: a second backfill of that run alone, and the first one is running
  // again until it ends.
  BackfillOptions rerun = f.Days("2026-01-01", "2026-01-03");
  rerun.rerun = BackfillOptions::Rerun::kFailed;
  AppliedBackfill second = f.Apply(rerun);
  CHECK(second.run_ids == Lines{"daily@2026-01-03T01:00:00Z"});
  CHECK(Counts(f.Progress(second.id)) ==
        "1 runs: 1 queued, 0 running, 0 success, 0 failed -> running");
  CHECK(f.Progress(first.id).State() == std::string("running"));
  f.Drive(second.run_ids);
  CHECK(Counts(f.Progress(second.id)) ==
        "1 runs: 0 queued, 0 running, 1 success, 0 failed -> success");
  CHECK(Counts(f.Progress(first.id)) ==
        "3 runs: 0 queued, 0 running, 3 success, 0 failed -> success");

  // Listed newest first, by DAG.
  auto listed = f.store->ListBackfills("daily", 10);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(0).plan.id == second.id);
  CHECK(listed->at(1).plan.id == first.id);
  CHECK(f.store->ListBackfills("other", 10)->empty());
  CHECK(f.store->ListBackfills("", 1)->size() == 1);
  auto missing = f.store->GetBackfill(second.id + 100);
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
}

TEST_CASE(
    "cancelling a backfill fails its queued runs in one audited change, lets its running ones "
    "end, and refuses one that has ended",
    "[scheduler]") {
  Fixture f(kDaily);
  AppliedBackfill applied = f.Apply(f.Days("2026-01-01", "2026-01-04"));
  f.Drive({applied.run_ids[0]});
  // A driver has begun the second run (a scheduler adopted it): it is running.
  RunLoop loop(
      *f.store, f.runner,
      [](const dags::Dag&, const dags::TaskSpec&, const dags::TemplateContext&) -> Result<Command> {
        return Command{{"true"}, {}, ""};
      },
      f.clock, RunLoopOptions{.parallelism = 2, .log_dir = f.dir / "logs"});
  REQUIRE(loop.Adopt(f.dag, applied.run_ids[1]));
  Actor canceler{"ann", "api", "wrong range"};
  const Timestamp canceled_at = f.clock.Now();
  auto canceled = CancelBackfill(*f.store, applied.id, canceler, canceled_at);
  REQUIRE(canceled);
  CHECK(canceled->dag_id == "daily");
  CHECK(canceled->canceled == Lines{applied.run_ids[2], applied.run_ids[3]});
  CHECK(canceled->still_running == 1);
  for (const std::string& id : canceled->canceled) {
    CHECK((*f.store->GetRun(id))->state == state::RunState::kFailed);
    auto tasks = f.store->TaskInstances(id);
    REQUIRE(tasks);
    for (const auto& t : *tasks) CHECK(t.state == state::TaskState::kSkipped);
  }
  CHECK(Counts(f.Progress(applied.id)) ==
        "4 runs: 0 queued, 1 running, 1 success, 2 failed -> running");
  auto audit = f.store->ListAudit(1);
  REQUIRE(audit);
  CHECK(audit->front().action == "cancel_backfill");
  CHECK(audit->front().target == "dag:daily");
  CHECK(audit->front().actor == "ann");
  CHECK(audit->front().reason == "wrong range");
  CHECK(audit->front().details_json ==
        fmt::format(R"({{"backfill":{},"canceled":["{}","{}"],"still_running":1}})", applied.id,
                    applied.run_ids[2], applied.run_ids[3]));

  // The running one goes on to its end; then the backfill is canceled, and stays so.
  REQUIRE(loop.RunToCompletion(f.dag, applied.run_ids[1]));
  state::BackfillProgress ended = f.Progress(applied.id);
  CHECK(Counts(ended) == "4 runs: 0 queued, 0 running, 2 success, 2 failed -> canceled");
  CHECK(ended.plan.canceled_at == canceled_at);
  auto again = CancelBackfill(*f.store, applied.id, canceler, f.clock.Now());
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message ==
        fmt::format("backfill {} has ended (canceled): nothing to cancel", applied.id));
  auto missing = CancelBackfill(*f.store, 99, canceler, f.clock.Now());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no backfill 99");
  CHECK(f.store->ListAudit(10)->front().action == "cancel_backfill");
  CHECK(f.store->ListAudit(10)->size() == 2);  // the backfill and its one cancel
}

TEST_CASE("bad backfill requests are refused before anything is written", "[scheduler]") {
  Fixture f(kDaily);
  auto error_of = [&](BackfillOptions o) {
    auto plan = PlanBackfill(*f.store, *f.dag, o);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code == ErrorCode::kInvalidArgument);
    return plan.error().message;
  };
  CHECK(error_of(f.Days("2026-02-01", "2026-01-01")) ==
        "--from 2026-02-01 is after --to 2026-01-01");
  BackfillOptions regex = f.Days("2026-01-01", "2026-01-01");
  regex.tasks = "(";
  CHECK(error_of(regex).find("is not a valid regular expression") != std::string::npos);
  regex.tasks = "^zzz$";
  CHECK(error_of(regex) == "--tasks '^zzz$' matches no task of DAG 'daily'");

  Fixture minutely(R"(
dag: minutely
schedule: "* * * * *"
tasks:
  a: { kind: shell, command: [true] }
)");
  auto huge = minutely.Days("2026-01-01", "2026-03-31");
  auto refused = PlanBackfill(*minutely.store, *minutely.dag, huge);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "the range holds more than 100000 intervals; narrow it or pass --yes");
  huge.allow_huge = true;
  auto allowed = PlanBackfill(*minutely.store, *minutely.dag, huge);
  REQUIRE(allowed);
  CHECK(allowed->runs.size() == 90 * 24 * 60);

  Fixture unscheduled(R"(
dag: adhoc
tasks:
  a: { kind: shell, command: [true] }
)");
  auto none = PlanBackfill(*unscheduled.store, *unscheduled.dag,
                           unscheduled.Days("2026-01-01", "2026-01-02"));
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("a backfill needs a cron schedule") != std::string::npos);
  auto runs = f.store->ListRuns("", 10);
  CHECK(runs->empty());
}

}  // namespace
}  // namespace weir::scheduler

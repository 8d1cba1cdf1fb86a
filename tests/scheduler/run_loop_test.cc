// The run loop against a real store and a scripted runner on a manual clock: each attempt takes
// a fixed time and exits with a scripted code, so retry times can be checked to the millisecond
// without sleeping.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "dags/dags.h"
#include "scheduler/operations.h"
#include "scheduler/retry.h"
#include "scheduler/scheduler.h"
#include "state/sqlite.h"
#include "state/state.h"
#include "tests/testing/scripted_runner.h"
#include "tests/testing/temp_dir.h"

namespace weir::scheduler {
namespace {

using testing::ScriptedRunner;

using state::TaskState;
using std::chrono::seconds;

Result<Command> TrueCommand(const dags::Dag&, const dags::TaskSpec&, const dags::TemplateContext&) {
  return Command{{"true"}, {}, ""};
}

struct Fixture {
  testing::TempDir dir;
  ManualClock clock{FromMillis(1'800'000'000'000)};
  ScriptedRunner runner{clock};
  std::unique_ptr<state::Store> store;
  std::shared_ptr<const dags::Dag> dag;

  explicit Fixture(const std::string& yaml) {
    auto loaded = dags::LoadDagText(yaml, "test.yaml");
    for (const auto& e : loaded.errors) FAIL(e.ToString());
    dag = loaded.dags.at(0);
    auto opened = state::Store::Open(dir / "weir.db");
    REQUIRE(opened);
    store = std::move(*opened);
  }

  // A manual run of the DAG, queued.
  state::RunRecord Create() {
    RunRequest request{FromMillis(0), FromMillis(86'400'000),
                       dag->params,   state::RunKind::kManual,
                       "tester",      "cli"};
    auto run = CreateRun(*store, *dag, request, clock.Now());
    REQUIRE(run);
    return *run;
  }

  Result<state::RunRecord> Run(int parallelism = 4, CommandBuilder build = TrueCommand) {
    auto run = Create();
    RunLoop loop(*store, runner, std::move(build), clock,
                 RunLoopOptions{.parallelism = parallelism, .log_dir = dir / "logs"});
    return loop.RunToCompletion(dag, run.run_id);
  }

  std::map<std::string, TaskState> States(const std::string& run_id) {
    std::map<std::string, TaskState> out;
    auto tasks = store->TaskInstances(run_id);
    REQUIRE(tasks);
    for (const auto& t : *tasks) out[t.task_id] = t.state;
    return out;
  }
};

TEST_CASE("a chain runs each task once, in dependency order, and the run succeeds", "[scheduler]") {
  Fixture f(R"(
dag: chain
tasks:
  c: { kind: shell, command: [true], deps: [b] }
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true], deps: [a] }
)");
  auto run = f.Run();
  REQUIRE(run);
  CHECK(run->state == state::RunState::kSuccess);
  REQUIRE(f.runner.starts.size() == 3);
  CHECK(f.runner.starts[0].first == "a");
  CHECK(f.runner.starts[1].first == "b");
  CHECK(f.runner.starts[2].first == "c");
  CHECK(f.runner.starts[2].second - f.runner.starts[0].second == seconds(2));
  for (const auto& [task, s] : f.States(run->run_id)) CHECK(s == TaskState::kSuccess);
  auto attempts = f.store->Attempts(run->run_id, "");
  REQUIRE(attempts);
  CHECK(attempts->size() == 3);
  CHECK(attempts->at(0).pid == 1000 + attempts->at(0).id);
}

TEST_CASE(
    "a run marked failed by hand before its driver adopts it is handed back as finished, and "
    "nothing of it starts or is written over",
    "[scheduler]") {
  Fixture f(R"(
dag: chain
tasks:
  a: { kind: shell, command: [true] }
)");
  const state::RunRecord run = f.Create();
  // What a driver that listed it as queued meets when a person marked it meanwhile.
  REQUIRE(MarkRun(*f.store, run, state::RunState::kFailed, Actor{"ann", "cli", ""}, f.clock.Now()));
  auto before = f.store->GetRun(run.run_id);
  REQUIRE(before);
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 1, .log_dir = f.dir / "logs"});
  REQUIRE(loop.Adopt(f.dag, run.run_id));
  CHECK_FALSE(loop.IsAdopted(run.run_id));
  CHECK(loop.RunCount() == 0);
  std::vector<state::RunRecord> finished = loop.TakeFinished();
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].run_id == run.run_id);
  CHECK(finished[0].state == state::RunState::kFailed);
  REQUIRE(loop.Step(std::nullopt));
  CHECK(f.runner.starts.empty());
  auto after = f.store->GetRun(run.run_id);
  REQUIRE(after);
  CHECK((*after)->state == state::RunState::kFailed);
  CHECK((*after)->ended_at == (*before)->ended_at);
  CHECK(f.States(run.run_id).at("a") == TaskState::kSkipped);
}

TEST_CASE(
    "a run whose adoption cannot be written is not half adopted: nothing of it starts until "
    "the store takes writes again",
    "[scheduler]") {
  Fixture f(R"(
dag: chain
tasks:
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true], deps: [a] }
)");
  const state::RunRecord run = f.Create();
  // A write that fails in the middle of the adoption's batch, as on a full disk.
  REQUIRE(
      f.store->database().Exec("CREATE TEMP TRIGGER refuse BEFORE UPDATE ON task_instances "
                               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"));
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 4, .log_dir = f.dir / "logs"});
  auto adopted = loop.Adopt(f.dag, run.run_id);
  REQUIRE_FALSE(adopted);
  CHECK(adopted.error().message.find("database or disk is full") != std::string::npos);
  CHECK_FALSE(loop.IsAdopted(run.run_id));
  REQUIRE(loop.Step(std::nullopt));
  CHECK(f.runner.starts.empty());
  CHECK(f.States(run.run_id) ==
        std::map<std::string, TaskState>{{"a", TaskState::kPending}, {"b", TaskState::kPending}});

  REQUIRE(f.store->database().Exec("DROP TRIGGER refuse"));
  auto done = loop.RunToCompletion(f.dag, run.run_id);
  REQUIRE(done);
  CHECK(done->state == state::RunState::kSuccess);
  CHECK(f.runner.starts.size() == 2);
}

TEST_CASE("a failed task retries after exactly retry_delay with fixed backoff", "[scheduler]") {
  Fixture f(R"(
dag: retry
tasks:
  a: { kind: shell, command: [true], retries: 2, retry_delay: 30s }
)");
  f.runner.exit_codes["a"] = {1, 1, 0};
  Timestamp t0 = f.clock.Now();
  auto run = f.Run();
  REQUIRE(run);
  CHECK(run->state == state::RunState::kSuccess);
  auto starts = f.runner.StartsOf("a");
  REQUIRE(starts.size() == 3);
  CHECK(starts[0] == t0);
  CHECK(starts[1] == t0 + seconds(1) + seconds(30));
  CHECK(starts[2] == t0 + seconds(62));
  auto attempts = f.store->Attempts(run->run_id, "a");
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 3);
  CHECK(attempts->at(0).reason == "exit code 1");
  CHECK(attempts->at(2).state == state::AttemptState::kSuccess);
}

TEST_CASE("exponential backoff waits the jittered, doubling, capped delays", "[scheduler]") {
  Fixture f(R"(
dag: backoff
tasks:
  a:
    kind: shell
    command: [true]
    retries: 4
    retry_delay: 10s
    retry_backoff: exponential
    max_retry_delay: 25s
)");
  f.runner.exit_codes["a"] = {1, 1, 1, 1, 0};
  auto run = f.Run();
  REQUIRE(run);
  auto starts = f.runner.StartsOf("a");
  REQUIRE(starts.size() == 5);
  const Duration caps[] = {seconds(10), seconds(20), seconds(25), seconds(25)};
  for (int t = 1; t <= 4; ++t) {
    Duration gap = starts[t] - starts[t - 1] - f.runner.duration;
    CHECK(gap == RetryDelay(f.dag->tasks[0].retry, t, run->run_id + "/a"));
    CHECK(gap <= caps[t - 1]);
    CHECK(gap >= caps[t - 1] / 2);
  }
}

TEST_CASE(
    "when retries run out the task fails, its downstream is upstream_failed, and the run "
    "fails",
    "[scheduler]") {
  Fixture f(R"(
dag: fail
tasks:
  a: { kind: shell, command: [true], retries: 1, retry_delay: 1s }
  b: { kind: shell, command: [true], deps: [a] }
  c: { kind: shell, command: [true], deps: [b] }
  cleanup: { kind: shell, command: [true], deps: [c], trigger_rule: all_done }
  alert: { kind: shell, command: [true], deps: [a], trigger_rule: one_failed }
)");
  f.runner.exit_codes["a"] = {2, 2};
  auto run = f.Run();
  REQUIRE(run);
  CHECK(run->state == state::RunState::kFailed);
  auto states = f.States(run->run_id);
  CHECK(states["a"] == TaskState::kFailed);
  CHECK(states["b"] == TaskState::kUpstreamFailed);
  CHECK(states["c"] == TaskState::kUpstreamFailed);
  CHECK(states["cleanup"] == TaskState::kSuccess);
  CHECK(states["alert"] == TaskState::kSuccess);
  CHECK(f.runner.StartsOf("a").size() == 2);
  CHECK(f.runner.StartsOf("b").empty());
}

TEST_CASE("a task that exits 99 is skipped and all_success downstream is skipped too",
          "[scheduler]") {
  Fixture f(R"(
dag: skip
tasks:
  a: { kind: shell, command: [true], retries: 3 }
  b: { kind: shell, command: [true], deps: [a] }
  c: { kind: shell, command: [true], deps: [b], trigger_rule: none_failed }
)");
  f.runner.exit_codes["a"] = {99};
  auto run = f.Run();
  REQUIRE(run);
  CHECK(run->state == state::RunState::kSuccess);
  auto states = f.States(run->run_id);
  CHECK(states["a"] == TaskState::kSkipped);
  CHECK(states["b"] == TaskState::kSkipped);
  CHECK(states["c"] == TaskState::kSuccess);
  CHECK(f.runner.StartsOf("a").size() == 1);
}

TEST_CASE("no more than parallelism attempts run at once, and the bound is reached",
          "[scheduler]") {
  std::string yaml = "dag: wide\ntasks:\n";
  for (int i = 0; i < 12; ++i) {
    yaml += "  t" + std::to_string(i) + ": { kind: shell, command: [true] }\n";
  }
  for (int parallelism : {1, 2, 3, 5}) {
    Fixture f(yaml);
    auto run = f.Run(parallelism);
    REQUIRE(run);
    INFO("parallelism " << parallelism);
    CHECK(f.runner.max_running == parallelism);
    CHECK(f.runner.starts.size() == 12);
  }
}

TEST_CASE("max_active_tasks bounds a DAG below the global parallelism", "[scheduler]") {
  Fixture f(R"(
dag: capped
max_active_tasks: 2
tasks:
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true] }
  c: { kind: shell, command: [true] }
  d: { kind: shell, command: [true] }
)");
  auto run = f.Run(8);
  REQUIRE(run);
  CHECK(f.runner.max_running == 2);
}

TEST_CASE("ready tasks start in priority order: most downstream tasks first, then weight",
          "[scheduler]") {
  Fixture f(R"(
dag: priority
tasks:
  lonely: { kind: shell, command: [true] }
  root: { kind: shell, command: [true] }
  mid: { kind: shell, command: [true], deps: [root] }
  leaf: { kind: shell, command: [true], deps: [mid] }
  urgent: { kind: shell, command: [true], priority_weight: 100 }
)");
  auto run = f.Run(1);
  REQUIRE(run);
  REQUIRE(f.runner.starts.size() == 5);
  CHECK(f.runner.starts[0].first == "urgent");
  CHECK(f.runner.starts[1].first == "root");
}

TEST_CASE("a retry started in the step that ended its previous try is stored after that end",
          "[scheduler]") {
  Fixture f(R"(
dag: d
tasks:
  a: { kind: shell, command: [true], retries: 1, retry_delay: 0s }
)");
  f.runner.exit_codes["a"] = {1, 0};
  const state::RunRecord run = f.Create();
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 1, .log_dir = f.dir / "logs"});
  REQUIRE(loop.Adopt(f.dag, run.run_id));
  REQUIRE(loop.Step(std::nullopt));  // starts try 1
  auto outcome = f.runner.Wait(std::nullopt);
  REQUIRE(outcome);
  REQUIRE(loop.Step(outcome));  // ends try 1 (failed) and starts try 2 at once
  REQUIRE(f.runner.starts.size() == 2);
  auto tis = f.store->TaskInstances(run.run_id);
  REQUIRE(tis);
  CHECK(tis->at(0).state == TaskState::kRunning);
  CHECK(tis->at(0).try_number == 2);
  auto attempts = f.store->Attempts(run.run_id, "a");
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 2);
  CHECK(attempts->at(0).state == state::AttemptState::kFailed);
  CHECK(attempts->at(0).exit_code == 1);
  CHECK(attempts->at(1).state == state::AttemptState::kRunning);
}

TEST_CASE("scheduled runs go first for slots, a backfill never starves them", "[scheduler]") {
  Fixture f(R"(
dag: shared
tasks:
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true] }
)");
  RunRequest backfill{
      FromMillis(0), FromMillis(1000), f.dag->params, state::RunKind::kBackfill, "tester", "cli"};
  RunRequest scheduled{FromMillis(5000),           FromMillis(6000), f.dag->params,
                       state::RunKind::kScheduled, "scheduler",      "scheduler"};
  auto old = CreateRun(*f.store, *f.dag, backfill, f.clock.Now());
  auto fresh = CreateRun(*f.store, *f.dag, scheduled, f.clock.Now());
  REQUIRE(old);
  REQUIRE(fresh);
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 1, .log_dir = f.dir / "logs"});
  REQUIRE(loop.Adopt(f.dag, old->run_id));
  REQUIRE(loop.Adopt(f.dag, fresh->run_id));
  std::vector<std::string> order;
  f.runner.on_start = [&](const std::string& task) { order.push_back(task); };
  std::optional<AttemptOutcome> outcome;
  do {
    REQUIRE(loop.Step(std::exchange(outcome, std::nullopt)));
    if (loop.RunCount() == 0) break;
    outcome = f.runner.Wait(loop.NextDeadline());
  } while (true);
  auto attempts = f.store->Attempts(fresh->run_id, "");
  auto backfilled = f.store->Attempts(old->run_id, "");
  REQUIRE(attempts->size() == 2);
  REQUIRE(backfilled->size() == 2);
  // Both of the scheduled run's tasks started before any of the older backfill's.
  CHECK(attempts->at(1).started_at <= backfilled->at(0).started_at);
}

TEST_CASE("pool slots bound the tasks of a pool, a pool with no slot runs none of them",
          "[scheduler]") {
  Fixture f(R"(
dag: pooled
tasks:
  g1: { kind: shell, command: [true], pool: gpu }
  g2: { kind: shell, command: [true], pool: gpu }
  g3: { kind: shell, command: [true], pool: gpu }
  c1: { kind: shell, command: [true] }
)");
  RunRequest request{FromMillis(0),           FromMillis(1000), f.dag->params,
                     state::RunKind::kManual, "tester",         "cli"};
  auto run = CreateRun(*f.store, *f.dag, request, f.clock.Now());
  REQUIRE(run);
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 8, .log_dir = f.dir / "logs"});
  loop.SetPoolSlots({{"default", 8}, {"gpu", 1}});
  auto done = loop.RunToCompletion(f.dag, run->run_id);
  REQUIRE(done);
  CHECK(done->state == state::RunState::kSuccess);
  CHECK(f.runner.max_running == 2);  // one gpu task beside c1

  auto again = CreateRun(*f.store, *f.dag, request, f.clock.Now());
  REQUIRE(again);
  RunLoop starved(*f.store, f.runner, TrueCommand, f.clock,
                  RunLoopOptions{.parallelism = 8, .log_dir = f.dir / "logs"});
  starved.SetPoolSlots({{"default", 8}, {"gpu", 0}});
  auto stuck = starved.RunToCompletion(f.dag, again->run_id);
  REQUIRE_FALSE(stuck);
  CHECK(stuck.error().message.find("waits for a slot in pool 'gpu', which has none") !=
        std::string::npos);
}

TEST_CASE("a command that cannot be built fails its attempt without starting a process",
          "[scheduler]") {
  Fixture f(R"(
dag: broken
tasks:
  a: { kind: shell, command: [true], retries: 1, retry_delay: 5s }
)");
  auto run = f.Run(
      2,
      [](const dags::Dag&, const dags::TaskSpec&, const dags::TemplateContext&) -> Result<Command> {
        return Fail(ErrorCode::kInvalidArgument, "no such thing");
      });
  REQUIRE(run);
  CHECK(run->state == state::RunState::kFailed);
  CHECK(f.runner.starts.empty());
  auto attempts = f.store->Attempts(run->run_id, "a");
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 2);
  CHECK(attempts->at(0).reason == "cannot start: no such thing");
  CHECK(testing::ReadFile(attempts->at(0).log_path).find("no such thing") != std::string::npos);
}

TEST_CASE("stopping a run cancels what runs, starts nothing more, and fails the run",
          "[scheduler]") {
  Fixture f(R"(
dag: stop
tasks:
  a: { kind: shell, command: [true], retries: 3 }
  b: { kind: shell, command: [true], deps: [a] }
)");
  RunRequest request{FromMillis(0),           FromMillis(1000), f.dag->params,
                     state::RunKind::kManual, "tester",         "cli"};
  auto created = CreateRun(*f.store, *f.dag, request, f.clock.Now());
  REQUIRE(created);
  RunLoop loop(*f.store, f.runner, TrueCommand, f.clock,
               RunLoopOptions{.parallelism = 2, .log_dir = f.dir / "logs"});
  f.runner.on_start = [&](const std::string&) { loop.RequestStop(); };
  auto run = loop.RunToCompletion(f.dag, created->run_id);
  REQUIRE(run);
  CHECK(run->state == state::RunState::kFailed);
  auto states = f.States(run->run_id);
  CHECK(states["a"] == TaskState::kFailed);
  CHECK(states["b"] == TaskState::kUpstreamFailed);
  CHECK(f.runner.starts.size() == 1);
  auto attempts = f.store->Attempts(run->run_id, "a");
  REQUIRE(attempts);
  CHECK(attempts->at(0).reason == "cancelled: the run was stopped");
}

TEST_CASE("manual runs of one interval get numbered ids and each trigger is audited",
          "[scheduler]") {
  Fixture f(R"(
dag: ids
params: { n: 1 }
tasks:
  a: { kind: shell, command: [true] }
)");
  RunRequest request{
      FromMillis(0), FromMillis(3'600'000), f.dag->params, state::RunKind::kManual, "alice", "cli"};
  auto first = CreateRun(*f.store, *f.dag, request, f.clock.Now());
  auto second = CreateRun(*f.store, *f.dag, request, f.clock.Now());
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->run_id == "ids@1970-01-01T00:00:00Z~manual-1");
  CHECK(second->run_id == "ids@1970-01-01T00:00:00Z~manual-2");
  auto events = f.store->ListAudit(10);
  REQUIRE(events);
  REQUIRE(events->size() == 2);
  CHECK(events->at(0).actor == "alice");
  CHECK(events->at(0).action == "trigger");
  CHECK(events->at(0).target == "run:" + second->run_id);
  CHECK(events->at(0).details_json.find(R"("params":{"n":1})") != std::string::npos);

  SECTION("an empty interval is refused before anything is written") {
    RunRequest bad = request;
    bad.interval_end = bad.interval_start;
    auto refused = CreateRun(*f.store, *f.dag, bad, f.clock.Now());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::kInvalidArgument);
    auto runs = f.store->ListRuns("ids", 10);
    REQUIRE(runs);
    CHECK(runs->size() == 2);
  }
}

}  // namespace
}  // namespace weir::scheduler

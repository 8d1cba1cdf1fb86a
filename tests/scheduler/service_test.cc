// The scheduler service against a real store and DAG folder, a scripted runner and a manual
// clock: runs are created as intervals close, adopted within max_active_runs, and recovered
// after a crash, without sleeping.
#include "scheduler/service.h"

#include <fmt/format.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "common/process.h"
#include "state/sqlite.h"
#include "state/state.h"
#include "tests/testing/process.h"
#include "tests/testing/scripted_runner.h"
#include "tests/testing/temp_dir.h"

namespace weir::scheduler {
namespace {

using state::RunState;
using state::TaskState;
using testing::ScriptedRunner;

Timestamp At(std::string_view iso) { return *ParseTimestamp(iso); }

std::shared_ptr<const dags::Dag> Parse(const std::string& yaml) {
  auto loaded = dags::LoadDagText(yaml, "d.yaml");
  for (const auto& e : loaded.errors) FAIL(e.ToString());
  return loaded.dags.at(0);
}

std::vector<std::string> Intervals(const dags::Dag& dag, std::optional<Timestamp> after,
                                   Timestamp now) {
  std::vector<std::string> out;
  for (auto [s, e] : DueIntervals(dag, after, now, 1000)) {
    out.push_back(FormatIso(s) + " " + FormatIso(e));
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST_CASE("catchup creates every closed interval since start_date, without it, the latest",
          "[scheduler]") {
  auto dag = Parse(R"(
dag: d
schedule: "0 2 * * *"
start_date: 2026-01-01
catchup: true
tasks:
  a: { kind: shell, command: [true] }
)");
  CHECK(Intervals(*dag, std::nullopt, At("2026-01-04T03:00:00Z")) ==
        Lines{"2026-01-01T02:00:00Z 2026-01-02T02:00:00Z",
              "2026-01-02T02:00:00Z 2026-01-03T02:00:00Z",
              "2026-01-03T02:00:00Z 2026-01-04T02:00:00Z"});
  // An interval is due only once it has closed.
  CHECK(Intervals(*dag, std::nullopt, At("2026-01-02T01:59:59Z")).empty());
  CHECK(Intervals(*dag, std::nullopt, At("2026-01-02T02:00:00Z")).size() == 1);
  // After the latest existing run, only what follows it.
  CHECK(Intervals(*dag, At("2026-01-02T02:00:00Z"), At("2026-01-04T03:00:00Z")) ==
        Lines{"2026-01-03T02:00:00Z 2026-01-04T02:00:00Z"});

  auto latest_only = Parse(R"(
dag: d
schedule: "0 2 * * *"
start_date: 2026-01-01
catchup: false
tasks:
  a: { kind: shell, command: [true] }
)");
  CHECK(Intervals(*latest_only, std::nullopt, At("2026-01-04T03:00:00Z")) ==
        Lines{"2026-01-03T02:00:00Z 2026-01-04T02:00:00Z"});
  CHECK(Intervals(*latest_only, At("2026-01-03T02:00:00Z"), At("2026-01-04T03:00:00Z")).empty());
}

TEST_CASE("end_date stops scheduling and @once runs once", "[scheduler]") {
  auto ended = Parse(R"(
dag: d
schedule: "@daily"
start_date: 2026-01-01
end_date: 2026-01-02
catchup: true
tasks:
  a: { kind: shell, command: [true] }
)");
  CHECK(Intervals(*ended, std::nullopt, At("2026-02-01T00:00:00Z")) ==
        Lines{"2026-01-01T00:00:00Z 2026-01-02T00:00:00Z",
              "2026-01-02T00:00:00Z 2026-01-03T00:00:00Z"});
  auto once = Parse(R"(
dag: d
schedule: "@once"
start_date: 2026-01-01
tasks:
  a: { kind: shell, command: [true] }
)");
  CHECK(Intervals(*once, std::nullopt, At("2026-02-01T00:00:00Z")) ==
        Lines{"2026-01-01T00:00:00Z 2026-01-01T00:00:00Z"});
  CHECK(Intervals(*once, At("2026-01-01T00:00:00Z"), At("2026-02-01T00:00:00Z")).empty());
  CHECK(Intervals(*once, std::nullopt, At("2025-12-31T00:00:00Z")).empty());
}

struct Fixture {
  testing::TempDir dir;
  ManualClock clock{At("2026-01-04T03:00:00Z")};
  ScriptedRunner runner{clock};
  std::unique_ptr<state::Store> store;

  Fixture() {
    auto opened = state::Store::Open(dir / "weir.db");
    REQUIRE(opened);
    store = std::move(*opened);
  }

  Result<RunLoop*> MakeLoop() {
    loop = std::make_unique<RunLoop>(
        *store, runner,
        [](const dags::Dag&, const dags::TaskSpec&,
           const dags::TemplateContext&) -> Result<Command> {
          return Command{{"true"}, {}, ""};
        },
        clock, RunLoopOptions{.parallelism = 4, .log_dir = dir / "logs"});
    return loop.get();
  }

  std::unique_ptr<SchedulerService> MakeService() {
    MakeLoop();
    return std::make_unique<SchedulerService>(
        *store, *loop, runner, clock,
        SchedulerOptions{.dags_dir = dir / "dags", .home = dir / "home"},
        [this](const std::string& line) { log.push_back(line); });
  }

  // Ticks and waits until nothing is left to do before `until`.
  void RunUntil(SchedulerService& service, Timestamp until) {
    std::optional<AttemptOutcome> outcome;
    while (true) {
      REQUIRE(service.Tick(std::exchange(outcome, std::nullopt)));
      if (clock.Now() >= until && loop->RunningCount() == 0) break;
      // Past `until`, tasks still running are waited for at the service's own pace.
      const Timestamp wake = service.NextWake();
      outcome = runner.Wait(clock.Now() < until ? std::min(wake, until) : wake);
    }
  }

  // Writes `yaml` as the only DAG and stores a manual run of it as a dead driver left it:
  // running, driven by a pid that is gone.
  state::RunRecord RunOfDeadDriver(const std::string& yaml) {
    dir.Write("dags/d.yaml", yaml);
    auto loaded = dags::LoadDags({dir / "dags"}, dir / "dags");
    REQUIRE(loaded.errors.empty());
    auto dag = loaded.dags.at(0);
    RunRequest request{At("2026-01-01"),        At("2026-01-02"), dag->params,
                       state::RunKind::kManual, "tester",         "cli"};
    auto run = CreateRun(*store, *dag, request, clock.Now());
    REQUIRE(run);
    state::RunRecord r = *run;
    r.state = RunState::kRunning;
    r.driver_host = HostName();
    r.driver_pid = 999'999'999;
    REQUIRE(store->UpdateRun(r));
    return r;
  }

  std::vector<state::RunRecord> Runs() {
    auto runs = store->ListRuns("", 1000);
    REQUIRE(runs);
    return *runs;
  }

  std::unique_ptr<RunLoop> loop;
  std::vector<std::string> log;
};

TEST_CASE(
    "the scheduler creates the missed runs, one at a time under max_active_runs, and runs "
    "them",
    "[scheduler]") {
  Fixture f;
  f.dir.Write("dags/d.yaml", R"(
dag: daily
schedule: "0 2 * * *"
start_date: 2026-01-01
catchup: true
max_active_runs: 1
tasks:
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true], deps: [a] }
)");
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:10:00Z"));
  auto runs = f.Runs();
  REQUIRE(runs.size() == 3);
  for (const auto& r : runs) {
    CHECK(r.kind == state::RunKind::kScheduled);
    CHECK(r.state == RunState::kSuccess);
  }
  CHECK(runs[2].run_id == "daily@2026-01-01T02:00:00Z");
  // One at a time: each run started after the one before it ended.
  CHECK(*runs[1].started_at >= *runs[2].ended_at);
  CHECK(*runs[0].started_at >= *runs[1].ended_at);
  CHECK(f.runner.starts.size() == 6);

  SECTION("the next interval's run is created when it closes, not before") {
    f.RunUntil(*service, At("2026-01-05T01:59:00Z"));
    CHECK(f.Runs().size() == 3);
    f.RunUntil(*service, At("2026-01-05T02:00:30Z"));
    CHECK(f.Runs().size() == 4);
    CHECK(f.Runs()[0].run_id == "daily@2026-01-04T02:00:00Z");
  }
}

TEST_CASE("a paused DAG gets no new runs until it is unpaused", "[scheduler]") {
  Fixture f;
  f.dir.Write("dags/d.yaml", R"(
dag: daily
schedule: "@daily"
start_date: 2026-01-03
catchup: true
tasks:
  a: { kind: shell, command: [true] }
)");
  state::AuditEvent audit{0, f.clock.Now(), "tester", "cli", "pause", "dag:daily", "", "{}"};
  REQUIRE(f.store->SetPaused("daily", true, audit));
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:01:00Z"));
  CHECK(f.Runs().empty());
  audit.action = "unpause";
  REQUIRE(f.store->SetPaused("daily", false, audit));
  f.RunUntil(*service, At("2026-01-04T03:03:00Z"));
  CHECK(f.Runs().size() == 1);
}

TEST_CASE(
    "a run is created when its interval closes, not up to a poll interval later (soak: lag over "
    "1 s)",
    "[scheduler]") {
  Fixture f;
  f.dir.Write("dags/d.yaml", R"(
dag: five
schedule: "*/5 * * * *"
start_date: 2026-01-03
tasks:
  a: { kind: shell, command: [true] }
)");
  // Polls fall a second apart from the start, 0.3 s after each second.
  f.clock.Set(At("2026-01-04T03:00:00Z") + std::chrono::milliseconds(300));
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:05:00Z") + std::chrono::milliseconds(500));
  auto runs = f.Runs();
  REQUIRE(runs.size() == 2);
  auto latest = std::max_element(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.interval_end < b.interval_end;
  });
  CHECK(FormatIso(latest->interval_end) == "2026-01-04T03:05:00Z");
  CHECK(latest->created_at == latest->interval_end);
}

TEST_CASE("a new DAG file is picked up without a restart", "[scheduler]") {
  Fixture f;
  std::filesystem::create_directories(f.dir / "dags");
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:00:10Z"));
  CHECK(f.Runs().empty());
  f.dir.Write("dags/new.yaml", R"(
dag: fresh
schedule: "@daily"
start_date: 2026-01-03
catchup: true
tasks:
  a: { kind: shell, command: [true] }
)");
  f.RunUntil(*service, At("2026-01-04T03:01:00Z"));
  CHECK(f.Runs().size() == 1);
  CHECK(std::any_of(f.log.begin(), f.log.end(),
                    [](const std::string& l) { return l == "DAG fresh loaded from new.yaml"; }));
}

TEST_CASE(
    "a second scheduler is refused while the first lives, and takes over a dead one's "
    "lease",
    "[scheduler]") {
  Fixture f;
  std::filesystem::create_directories(f.dir / "dags");
  auto insert_lease = [&](std::int64_t pid, std::optional<std::int64_t> ticks) {
    auto db = state::Database::Open(f.dir / "weir.db", false);
    REQUIRE(db);
    REQUIRE((*db)->Exec(fmt::format(
        "INSERT OR REPLACE INTO scheduler_lease VALUES (1, 'weir scheduler', '{}', {}, {}, 0, {})",
        HostName(), pid, ticks ? std::to_string(*ticks) : "NULL", ToMillis(f.clock.Now()))));
  };
  // pid 1 lives for as long as the machine does.
  insert_lease(1, ProcessStartTicks(1));
  auto service = f.MakeService();
  auto refused = service->Start();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(refused.error().message.find("another scheduler holds this database: weir scheduler "
                                     "(pid 1 on ") != std::string::npos);
  // The same pid with other start ticks is another (dead) process: its lease is free.
  insert_lease(1, ProcessStartTicks(1).value_or(0) + 12345);
  auto taken = f.MakeService();
  REQUIRE(taken->Start());
  auto lease = f.store->GetLease();
  REQUIRE(lease);
  REQUIRE(lease->has_value());
  CHECK((*lease)->pid == ::getpid());
}

TEST_CASE(
    "after a crash, an orphaned attempt's process group is killed and the task runs "
    "again without using a try",
    "[scheduler]") {
  Fixture f;
  state::RunRecord r = f.RunOfDeadDriver(R"(
dag: crashy
tasks:
  a: { kind: shell, command: [true], retries: 0 }
)");
  // A process left behind by the dead driver: a process group leader we can watch.
  std::string pid_file = (f.dir / "pid").string();
  REQUIRE(std::system(("setsid sh -c 'echo $$ > " + pid_file + "; exec sleep 300' &").c_str()) ==
          0);
  std::string pid_text;
  while (pid_text.empty()) pid_text = testing::ReadFile(pid_file);  // written at once by sh
  std::int64_t pid = std::stoll(pid_text);
  while (!ProcessStartTicks(pid)) {
  }
  // What the dead driver had recorded: the attempt running under the leftover process.
  state::TaskInstanceRecord ti{r.run_id, "a", TaskState::kRunning, 1, 1};
  state::AttemptRecord attempt;
  attempt.run_id = r.run_id;
  attempt.task_id = "a";
  attempt.try_number = 1;
  attempt.pid = pid;
  attempt.process_start_ticks = ProcessStartTicks(pid);
  attempt.log_path = (f.dir / "a.log").string();
  attempt.started_at = f.clock.Now();
  REQUIRE(f.store->BeginAttempt(ti, attempt));

  auto service = f.MakeService();
  REQUIRE(service->Start());
  // The leftover process was killed (a zombie reaped by init counts as gone).
  CHECK_FALSE(testing::StillAliveAfterWaiting(static_cast<pid_t>(pid)));
  f.RunUntil(*service, f.clock.Now() + std::chrono::seconds(10));
  auto attempts = f.store->Attempts(r.run_id, "a");
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 2);
  CHECK(attempts->at(0).reason == "orphaned: the weir process driving its run died");
  CHECK(attempts->at(1).state == state::AttemptState::kSuccess);
  auto tasks = f.store->TaskInstances(r.run_id);
  REQUIRE(tasks);
  CHECK(tasks->at(0).state == TaskState::kSuccess);
  CHECK(tasks->at(0).free_tries == 1);
  auto final_run = f.store->GetRun(r.run_id);
  CHECK((*final_run)->state == RunState::kSuccess);
}

TEST_CASE(
    "a task started just before its driver died, with no attempt row yet, is found by its "
    "environment and killed",
    "[scheduler]") {
  Fixture f;
  state::RunRecord r = f.RunOfDeadDriver(R"(
dag: early
tasks:
  a: { kind: shell, command: [true] }
)");
  // One task of this home's run, and one of the same run id under another home.
  auto start = [&](const std::string& home, const std::string& pid_file) {
    std::string command = "env WEIR_HOME='" + home + "' WEIR_RUN_ID='" + r.run_id +
                          "' setsid sh -c 'echo $$ > " + pid_file + "; exec sleep 300' &";
    REQUIRE(std::system(command.c_str()) == 0);
    std::string text;
    while (text.empty()) text = testing::ReadFile(pid_file);  // written at once by sh
    return static_cast<pid_t>(std::stoll(text));
  };
  pid_t ours = start((f.dir / "home").string(), (f.dir / "ours.pid").string());
  pid_t theirs = start((f.dir / "other").string(), (f.dir / "theirs.pid").string());
  auto service = f.MakeService();
  REQUIRE(service->Start());
  CHECK_FALSE(testing::StillAliveAfterWaiting(ours));
  CHECK(IsProcessAlive(theirs, std::nullopt));
  ::kill(-theirs, SIGKILL);
}

TEST_CASE(
    "a fourth orphaned attempt in a row counts as a try, so a task that kills its "
    "scheduler cannot loop forever",
    "[scheduler]") {
  Fixture f;
  state::RunRecord r = f.RunOfDeadDriver(R"(
dag: killer
tasks:
  a: { kind: shell, command: [true], retries: 0 }
)");
  // Three attempts already orphaned (each given back), and a fourth one running when it died.
  state::TaskInstanceRecord ti{r.run_id, "a", TaskState::kRunning, 0, 1};
  for (int try_number = 1; try_number <= 4; ++try_number) {
    ti.try_number = try_number;
    state::AttemptRecord attempt;
    attempt.run_id = r.run_id;
    attempt.task_id = "a";
    attempt.try_number = try_number;
    attempt.pid = 999'999'998;
    attempt.log_path = (f.dir / "a.log").string();
    attempt.started_at = f.clock.Now();
    auto id = f.store->BeginAttempt(ti, attempt);
    REQUIRE(id);
    if (try_number < 4) {
      attempt.id = *id;
      attempt.state = state::AttemptState::kFailed;
      attempt.reason = "orphaned: the weir process driving its run died";
      attempt.ended_at = f.clock.Now();
      ti.free_tries = try_number;
      REQUIRE(f.store->FinishAttempt(ti, attempt));
    }
  }
  auto service = f.MakeService();
  REQUIRE(service->Start());
  auto tasks = f.store->TaskInstances(r.run_id);
  REQUIRE(tasks);
  CHECK(tasks->at(0).state == TaskState::kFailed);
  CHECK(tasks->at(0).free_tries == 3);
  auto attempts = f.store->Attempts(r.run_id, "a");
  REQUIRE(attempts->size() == 4);
  CHECK(attempts->at(3).reason == "orphaned: the weir process driving its run died");
  CHECK(std::any_of(f.log.begin(), f.log.end(), [](const std::string& l) {
    return l.find("no tries left, failed") != std::string::npos;
  }));
}

// The scheduled runs in the store, oldest interval first, as "run_id state".
Lines ScheduledRuns(Fixture& f) {
  Lines out;
  for (const auto& r : f.Runs()) {
    if (r.kind == state::RunKind::kScheduled) {
      out.insert(out.begin(), r.run_id + " " + state::Name(r.state));
    }
  }
  return out;
}

TEST_CASE(
    "the wall clock jumping 5 hours forward and 3 hours back neither misses nor doubles a "
    "scheduled run, and the scheduler keeps serving while the clock catches up",
    "[scheduler]") {
  const bool catchup = GENERATE(true, false);
  INFO("catchup: " << catchup);
  Fixture f;  // the clock starts at 2026-01-04T03:00:00Z
  f.dir.Write("dags/d.yaml", fmt::format(R"(
dag: hourly
schedule: "@hourly"
start_date: 2026-01-04
catchup: {}
tasks:
  a: {{ kind: shell, command: [true] }}
)",
                                         catchup));
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:30:00Z"));
  Lines expected =
      catchup ? Lines{"hourly@2026-01-04T00:00:00Z success", "hourly@2026-01-04T01:00:00Z success",
                      "hourly@2026-01-04T02:00:00Z success"}
              : Lines{"hourly@2026-01-04T02:00:00Z success"};
  CHECK(ScheduledRuns(f) == expected);

  // Five hours forward: with catchup every interval that closed in between, once; without it
  // only the latest (Airflow's meaning).
  f.clock.Set(At("2026-01-04T08:30:00Z"));
  f.RunUntil(*service, At("2026-01-04T08:40:00Z"));
  if (catchup) {
    for (int hour = 3; hour <= 7; ++hour) {
      expected.push_back(fmt::format("hourly@2026-01-04T{:02}:00:00Z success", hour));
    }
  } else {
    expected.push_back("hourly@2026-01-04T07:00:00Z success");
  }
  CHECK(ScheduledRuns(f) == expected);

  // Three hours back: the intervals up to 08:00 already have their runs and get no second one.
  // The scheduler does not wait for the clock to catch up before it serves again: a manual run
  // triggered now is taken up and run, and the lease's heartbeat goes on.
  f.clock.Set(At("2026-01-04T05:40:00Z"));
  auto dag = service->loaded().Find("hourly");
  REQUIRE(dag);
  RunRequest request{At("2026-01-03T00:00:00Z"),
                     At("2026-01-03T01:00:00Z"),
                     dag->params,
                     state::RunKind::kManual,
                     "tester",
                     "cli"};
  auto manual = CreateRun(*f.store, *dag, request, f.clock.Now());
  REQUIRE(manual);
  f.RunUntil(*service, At("2026-01-04T05:50:00Z"));
  CHECK(ScheduledRuns(f) == expected);
  auto triggered = f.store->GetRun(manual->run_id);
  REQUIRE(triggered);
  CHECK((*triggered)->state == RunState::kSuccess);
  auto lease = f.store->GetLease();
  REQUIRE(lease);
  REQUIRE(lease->has_value());
  CHECK((*lease)->heartbeat_at >= At("2026-01-04T05:40:00Z"));
  CHECK((*lease)->heartbeat_at <= At("2026-01-04T05:50:00Z"));

  // And the clock set right again: the next interval comes when it closes, once.
  f.clock.Set(At("2026-01-04T09:00:30Z"));
  f.RunUntil(*service, At("2026-01-04T09:10:00Z"));
  expected.push_back("hourly@2026-01-04T08:00:00Z success");
  CHECK(ScheduledRuns(f) == expected);
  // Every run's task ran once: none was started twice.
  CHECK(f.runner.starts.size() == expected.size() + 1);
}

TEST_CASE(
    "a retry due in 10 minutes comes 10 minutes later, not 3 hours later, when the wall clock "
    "steps back 3 hours while it waits",
    "[scheduler]") {
  Fixture f;  // the clock starts at 2026-01-04T03:00:00Z
  f.dir.Write("dags/d.yaml", R"(
dag: flaky
schedule: "@once"
start_date: 2026-01-01
tasks:
  a: { kind: shell, command: [true], retries: 1, retry_delay: 10m }
)");
  f.runner.exit_codes["a"] = {1, 0};
  auto service = f.MakeService();
  REQUIRE(service->Start());
  f.RunUntil(*service, At("2026-01-04T03:05:00Z"));  // try 1 failed at 03:00:01
  REQUIRE(f.runner.StartsOf("a").size() == 1);
  f.clock.Set(At("2026-01-04T00:05:00Z"));
  f.RunUntil(*service, At("2026-01-04T00:30:00Z"));
  auto starts = f.runner.StartsOf("a");
  REQUIRE(starts.size() == 2);
  CHECK(starts[1] >= At("2026-01-04T00:05:00Z"));
  CHECK(starts[1] <= At("2026-01-04T00:15:01Z"));
  CHECK(ScheduledRuns(f) == Lines{"flaky@2026-01-01T00:00:00Z success"});
}

}  // namespace
}  // namespace weir::scheduler

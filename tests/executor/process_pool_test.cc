// The process pool against real child processes. Timeouts here are short real durations: the
// tests wait for the pool's events, never sleep.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "dags/dags.h"
#include "executor/executor.h"
#include "state/state.h"
#include "tasks/tasks.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace weir::executor {
namespace {

using scheduler::AttemptOutcome;
using scheduler::AttemptRequest;
using std::chrono::milliseconds;
using testing::ReadFile;
using testing::TempDir;

Command Sh(const std::string& script) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  return Command{{"/bin/sh", "-c", script}, env, ""};
}

AttemptRequest Request(std::int64_t id, Command command, const std::filesystem::path& log,
                       std::optional<Duration> timeout = std::nullopt) {
  return AttemptRequest{id, "run", "task", 1, std::move(command), log, timeout};
}

bool Alive(pid_t pid) { return testing::StillAliveAfterWaiting(pid); }

pid_t ReadPid(const std::filesystem::path& p) {
  std::string text = ReadFile(p);
  REQUIRE_FALSE(text.empty());
  return static_cast<pid_t>(std::stol(text));
}

AttemptOutcome WaitOne(ProcessPool& pool) {
  std::optional<AttemptOutcome> outcome;
  while (!outcome) outcome = pool.Wait(std::nullopt);
  return *outcome;
}

TEST_CASE("an attempt's output goes to its log file and its exit code comes back", "[executor]") {
  for (int threads : {0, 1, 2, 4}) {
    TempDir dir;
    ProcessPool pool(ExecutorOptions{.threads = threads});
    auto log = dir / "logs" / "a" / "1.log";
    auto info = pool.Start(Request(7, Sh("echo out; echo err >&2; exit 3"), log));
    REQUIRE(info);
    CHECK(info->pid > 0);
    CHECK(info->start_ticks.has_value());
    AttemptOutcome outcome = WaitOne(pool);
    CHECK(outcome.attempt_id == 7);
    CHECK(outcome.exit_code == 3);
    CHECK_FALSE(outcome.signal.has_value());
    CHECK_FALSE(outcome.timed_out);
    CHECK(ReadFile(log) == "out\nerr\n");
    CHECK(pool.InFlight() == 0);
  }
}

TEST_CASE("a child's stdin is empty and its environment is exactly the one given", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  Command command = Sh("cat; echo \"[$FOO][$HOME]\"");
  command.env.push_back("FOO=bar baz");
  REQUIRE(pool.Start(Request(1, command, dir / "1.log")));
  CHECK(WaitOne(pool).exit_code == 0);
  CHECK(ReadFile(dir / "1.log") == "[bar baz][]\n");
}

TEST_CASE("a process killed by a signal reports the signal", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  REQUIRE(pool.Start(Request(1, Sh("kill -9 $$"), dir / "1.log")));
  AttemptOutcome outcome = WaitOne(pool);
  CHECK(outcome.signal == SIGKILL);
  CHECK_FALSE(outcome.exit_code.has_value());
}

TEST_CASE("a timeout terminates the whole process group, grandchildren included", "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.kill_grace = milliseconds(2000)});
  auto pid_file = dir / "grandchild.pid";
  std::string script = "sleep 300 & echo $! > '" + pid_file.string() + "'; wait";
  REQUIRE(pool.Start(Request(1, Sh(script), dir / "1.log", milliseconds(300))));
  AttemptOutcome outcome = WaitOne(pool);
  CHECK(outcome.timed_out);
  CHECK(outcome.signal == SIGTERM);
  CHECK_FALSE(Alive(ReadPid(pid_file)));
}

TEST_CASE("a task that ignores SIGTERM is killed with SIGKILL after the grace period",
          "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.kill_grace = milliseconds(200)});
  auto pid_file = dir / "grandchild.pid";
  std::string script = "trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & echo $! > '" +
                       pid_file.string() + "'; while :; do :; done";
  REQUIRE(pool.Start(Request(1, Sh(script), dir / "1.log", milliseconds(200))));
  AttemptOutcome outcome = WaitOne(pool);
  CHECK(outcome.timed_out);
  CHECK(outcome.signal == SIGKILL);
  CHECK_FALSE(Alive(ReadPid(pid_file)));
}

TEST_CASE("what a task leaves running in its process group is killed when it exits", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  auto pid_file = dir / "leftover.pid";
  REQUIRE(pool.Start(
      Request(1, Sh("sleep 300 & echo $! > '" + pid_file.string() + "'; exit 0"), dir / "1.log")));
  CHECK(WaitOne(pool).exit_code == 0);
  CHECK_FALSE(Alive(ReadPid(pid_file)));
}

// Regression: epoll reported a pidfd ready for a descriptor number just reused by a new child,
// and the pool killed and reaped that child while it ran ("killed by signal 9" on a no-op).
TEST_CASE("spurious pidfd wake-ups never kill a running task (bug: reused descriptor numbers)",
          "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.threads = 2});
  constexpr int kTasks = 3000;
  constexpr int kInFlight = 2;
  int started = 0, finished = 0, killed = 0, failed = 0;
  while (finished < kTasks) {
    while (started < kTasks && started - finished < kInFlight) {
      ++started;
      REQUIRE(pool.Start(Request(started,
                                 Sh(started % 7 == 0 ? "i=0; while [ $i -lt 200 ]; do "
                                                       "i=$((i+1)); done"
                                                     : "true"),
                                 dir / "log")));
    }
    AttemptOutcome outcome = WaitOne(pool);
    ++finished;
    if (outcome.signal) ++killed;
    if (outcome.exit_code != 0) ++failed;
  }
  CHECK(killed == 0);
  CHECK(failed == 0);
}

TEST_CASE("a program that does not exist cannot be started, and says so", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  auto info = pool.Start(Request(1, Command{{"/nonexistent/program"}, {}, ""}, dir / "1.log"));
  REQUIRE_FALSE(info);
  CHECK(info.error().message.find("/nonexistent/program") != std::string::npos);
  CHECK(info.error().message.find("No such file") != std::string::npos);
  CHECK(pool.InFlight() == 0);
}

TEST_CASE("a log folder that cannot be created fails the start cleanly", "[executor]") {
  TempDir dir;
  testing::TempDir other;
  auto blocker = dir.Write("file", "x");
  ProcessPool pool;
  auto info = pool.Start(Request(1, Sh("true"), blocker / "sub" / "1.log"));
  REQUIRE_FALSE(info);
  CHECK(info.error().code == ErrorCode::kIo);
}

TEST_CASE("cancelling terminates every running attempt and reports each as cancelled",
          "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.kill_grace = milliseconds(500)});
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(pool.Start(Request(i, Sh("sleep 300"), dir / (std::to_string(i) + ".log"))));
  }
  pool.CancelAll();
  std::set<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    AttemptOutcome outcome = WaitOne(pool);
    CHECK(outcome.cancelled);
    CHECK(outcome.signal == SIGTERM);
    ids.insert(outcome.attempt_id);
  }
  CHECK(ids == std::set<std::int64_t>{1, 2, 3});
}

TEST_CASE("Wait returns empty at its deadline, and at once when interrupted", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  REQUIRE(pool.Start(Request(1, Sh("sleep 300"), dir / "1.log")));
  CHECK_FALSE(pool.Wait(SystemClock::Instance().Now() + milliseconds(50)).has_value());
  pool.Interrupt();
  CHECK_FALSE(pool.Wait(std::nullopt).has_value());
  pool.CancelAll();
  CHECK(WaitOne(pool).cancelled);
}

TEST_CASE("on a manual clock, Wait moves the clock to its deadline instead of sleeping",
          "[executor]") {
  ManualClock clock(FromMillis(1'000'000));
  ProcessPool pool(ExecutorOptions{.clock = &clock});
  CHECK_FALSE(pool.Wait(FromMillis(1'000'000 + 3'600'000)).has_value());
  CHECK(clock.Now() == FromMillis(1'000'000 + 3'600'000));
}

// Each task counts itself in and out of a shared counter under flock and records the count it
// saw, so the tasks themselves witness how many ran at once.
TEST_CASE("a run never has more than parallelism tasks running at once, at several pool sizes",
          "[executor]") {
  for (auto [parallelism, threads] :
       {std::pair{1, 0}, std::pair{2, 0}, std::pair{2, 2}, std::pair{3, 1}, std::pair{4, 4}}) {
    TempDir dir;
    std::string counter = (dir / "counter").string();
    std::string seen = (dir / "seen").string();
    std::string yaml = "dag: wide\ntasks:\n";
    for (int i = 0; i < 16; ++i) {
      yaml += "  t" + std::to_string(i) +
              ":\n    kind: shell\n    script: |\n"
              "      exec 9>>'" +
              counter +
              ".lock'\n"
              "      flock 9; n=$(cat '" +
              counter +
              "' 2>/dev/null || echo 0); n=$((n+1));"
              " echo $n > '" +
              counter + "'; echo $n >> '" + seen +
              "'; flock -u 9\n"
              "      i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done\n"
              "      flock 9; n=$(cat '" +
              counter + "'); echo $((n-1)) > '" + counter + "'; flock -u 9\n";
    }
    dir.Write("dags/wide.yaml", yaml);
    auto loaded = dags::LoadDags({dir / "dags"}, dir / "dags");
    REQUIRE(loaded.errors.empty());
    auto dag = loaded.dags.at(0);
    auto store = state::Store::Open(dir / "weir.db");
    REQUIRE(store);
    scheduler::RunRequest request{FromMillis(0), FromMillis(86'400'000),
                                  dag->params,   state::RunKind::kManual,
                                  "tester",      "cli"};
    auto run = scheduler::CreateRun(**store, *dag, request, SystemClock::Instance().Now());
    REQUIRE(run);
    tasks::CommandFactory factory(tasks::TaskOptions{.home = dir.path()});
    ProcessPool pool(ExecutorOptions{.threads = threads});
    scheduler::RunLoop loop(
        **store, pool,
        [&](const dags::Dag& d, const dags::TaskSpec& t, const dags::TemplateContext& c) {
          return factory.Build(d, t, c);
        },
        SystemClock::Instance(),
        scheduler::RunLoopOptions{.parallelism = parallelism, .log_dir = dir / "logs"});
    auto done = loop.RunToCompletion(dag, run->run_id);
    REQUIRE(done);
    CHECK(done->state == state::RunState::kSuccess);
    std::istringstream lines(ReadFile(seen));
    int max_seen = 0, count = 0;
    for (int n; lines >> n; ++count) max_seen = std::max(max_seen, n);
    INFO("parallelism " << parallelism << ", threads " << threads);
    CHECK(count == 16);
    CHECK(max_seen >= 1);
    CHECK(max_seen <= parallelism);
    CHECK(ReadFile(counter) == "0\n");
  }
}

}  // namespace
}  // namespace weir::executor

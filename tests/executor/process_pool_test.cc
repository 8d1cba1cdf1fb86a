// The process pool against real child processes. Timeouts here are short real durations: the
// tests wait for the pool's events, never sleep.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
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

TEST_CASE("a daemon a task leaves in a session of its own is killed, reaped and noted in its log",
          "[executor]") {
  for (int threads : {0, 2}) {
    TempDir dir;
    ProcessPool pool(ExecutorOptions{.threads = threads, .contain_descendants = true});
    auto pid_file = dir / "daemon.pid";
    // A double fork and setsid: the daemon leaves the process group, and its parent exits. The
    // daemon writes its pid once in its own session; the task waits for that before it exits.
    const std::string pid = pid_file.string();
    REQUIRE(pool.Start(Request(
        1,
        Sh("sh -c \"setsid sh -c 'echo \\$\\$ > " + pid +
           "; exec sleep 300' > /dev/null 2>&1 &\"; while [ ! -s " + pid + " ]; do :; done"),
        dir / "1.log")));
    CHECK(WaitOne(pool).exit_code == 0);
    pid_t daemon = ReadPid(pid_file);
    CHECK_FALSE(Alive(daemon));
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(daemon)));  // reaped
    // Its name is the program it runs at the moment it is killed (sh, setsid or sleep).
    std::string log = ReadFile(dir / "1.log");
    CHECK(log.starts_with("weir: killed process " + std::to_string(daemon) + " ("));
    CHECK(log.ends_with("), which the task left running after it exited\n"));
  }
}

TEST_CASE("a running task's daemon is left alone when another task ends, and killed with it",
          "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.kill_grace = milliseconds(200), .contain_descendants = true});
  auto pid_file = dir / "daemon.pid";
  auto ready = dir / "ready";
  REQUIRE(::mkfifo(ready.c_str(), 0600) == 0);
  // Task 1 starts a daemon that is re-parented here at once, says so, and keeps running.
  REQUIRE(
      pool.Start(Request(1,
                         Sh("sh -c 'setsid sleep 300 > /dev/null 2>&1 & echo $! > " +
                            pid_file.string() + "'; echo > " + ready.string() + "; exec sleep 300"),
                         dir / "1.log")));
  std::ifstream(ready) >> std::ws;  // opens when task 1 writes: its daemon exists by then
  REQUIRE(pool.Start(Request(2, Sh("true"), dir / "2.log")));
  CHECK(WaitOne(pool).attempt_id == 2);
  pid_t daemon = ReadPid(pid_file);
  CHECK(::kill(daemon, 0) == 0);
  pool.Cancel(1);
  AttemptOutcome outcome = WaitOne(pool);
  CHECK(outcome.attempt_id == 1);
  CHECK(outcome.cancelled);
  CHECK_FALSE(Alive(daemon));
}

TEST_CASE("a task that floods its output is contained: its log keeps the first and last bytes",
          "[executor]") {
  TempDir dir;
  ProcessPool pool(ExecutorOptions{.log_limit_bytes = 1 << 20, .log_tail_bytes = 1 << 10});
  // 256 MiB of output, then a last line.
  REQUIRE(pool.Start(
      Request(1, Sh("echo first; head -c 268435456 /dev/zero | tr '\\0' x; echo; echo last"),
              dir / "1.log")));
  CHECK(WaitOne(pool).exit_code == 0);
  std::string log = ReadFile(dir / "1.log");
  CHECK(log.size() < (1 << 20) + 200);
  CHECK(log.starts_with("first\nxxx"));
  CHECK(log.ends_with("xxx\nlast\n"));
  CHECK(log.find("bytes of output dropped here") != std::string::npos);
}

TEST_CASE("secrets a task prints are masked in its log", "[executor]") {
  TempDir dir;
  ProcessPool pool;
  Command command = Sh("echo \"pw=$DB_PASSWORD\"; printf %s \"$DB_PASSWORD\" | base64");
  command.env.push_back("DB_PASSWORD=correct horse battery");
  command.secrets = {"correct horse battery"};
  REQUIRE(pool.Start(Request(1, command, dir / "1.log")));
  CHECK(WaitOne(pool).exit_code == 0);
  CHECK(ReadFile(dir / "1.log") == "pw=***\n***\n");
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

// `weir scheduler` as a whole binary: the lease between two schedulers, and a chaos test that
// kills the scheduler with SIGKILL at random moments and checks what survives in the store.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>

#include "tests/testing/temp_dir.h"

extern char** environ;

namespace weir {
namespace {

using testing::TempDir;

// A `weir scheduler` child whose stdout we read line by line.
class Scheduler {
 public:
  Scheduler(const TempDir& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {WEIR_BINARY, "scheduler",
                                     "--dags",    (dir / "dags").string(),
                                     "--home",    (dir / "home").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, (dir / "stderr").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, WEIR_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = ::fdopen(out[0], "r");
  }
  ~Scheduler() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) ::fclose(out_);
  }

  // The next line of output; empty at the end.
  std::string NextLine() {
    char* line = nullptr;
    std::size_t size = 0;
    ssize_t n = ::getline(&line, &size, out_);
    std::string text = n > 0 ? std::string(line, static_cast<std::size_t>(n)) : std::string();
    ::free(line);
    return text;
  }
  // Reads lines until one contains `text`; false at the end of output.
  bool WaitFor(const std::string& text) {
    for (std::string line = NextLine(); !line.empty(); line = NextLine()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Sends `signal` and returns the exit code (or 128 + signal).
  int Stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

std::string Query(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  std::string out;
  sqlite3_exec(
      handle, sql.c_str(),
      [](void* sink, int n, char** values, char**) {
        auto* s = static_cast<std::string*>(sink);
        for (int i = 0; i < n; ++i)
          *s += (i ? "|" : "") + std::string(values[i] ? values[i] : "NULL");
        *s += "\n";
        return 0;
      },
      &out, nullptr);
  sqlite3_close(handle);
  return out;
}

TEST_CASE("a second scheduler on the same database says who holds the lease and exits 2", "[e2e]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "dags");
  Scheduler first(dir);
  REQUIRE(first.WaitFor("scheduler started"));
  Scheduler second(dir);
  CHECK(second.Wait() == 2);
  std::string err = testing::ReadFile(dir / "stderr");
  CHECK(err.find("another scheduler holds this database: weir scheduler (pid ") !=
        std::string::npos);
  CHECK(first.Stop(SIGTERM) == 0);
  // A clean stop gives the lease back: the next scheduler starts at once.
  Scheduler third(dir);
  CHECK(third.WaitFor("scheduler started"));
}

TEST_CASE(
    "killing the scheduler with SIGKILL 20 times during a 220-task run loses nothing and "
    "succeeds every task exactly once",
    "[e2e]") {
  TempDir dir;
  std::string yaml =
      "dag: chaos\nschedule: \"@once\"\nstart_date: 2026-01-01\nmax_active_tasks: 4\n"
      "defaults: { retries: 1, retry_delay: 10ms }\ntasks:\n";
  // 20 chains of 11 tasks, each doing a little work so that kills land mid-task.
  for (int chain = 0; chain < 20; ++chain) {
    for (int step = 0; step < 11; ++step) {
      yaml += fmt::format(
          "  c{}s{}: {{ kind: shell, script: \"i=0; while [ $i -lt 3000 ]; do "
          "i=$((i+1)); done\"{} }}\n",
          chain, step, step == 0 ? "" : fmt::format(", deps: [c{}s{}]", chain, step - 1));
    }
  }
  dir.Write("dags/chaos.yaml", yaml);
  const auto db = dir / "home" / "weir.db";
  std::mt19937 rng(42);
  int kills = 0;
  for (; kills < 20; ++kills) {
    Scheduler scheduler(dir, {"--parallelism", "3"});
    // Let it get some work done (or recover): kill after a random number of task events.
    int events = std::uniform_int_distribution<int>(1, 12)(rng);
    bool finished = false;
    for (int seen = 0; seen < events;) {
      std::string line = scheduler.NextLine();
      REQUIRE_FALSE(line.empty());
      if (line.find("run chaos@2026-01-01T00:00:00Z success") != std::string::npos) {
        finished = true;
        break;
      }
      if (line.find("  running") != std::string::npos ||
          line.find("  success") != std::string::npos) {
        ++seen;
      }
    }
    if (finished) break;
    scheduler.Stop(SIGKILL);
  }
  INFO("kills: " << kills);
  CHECK(kills >= 20);
  {
    Scheduler last(dir, {"--parallelism", "3"});
    REQUIRE(last.WaitFor("run chaos@2026-01-01T00:00:00Z success"));
    CHECK(last.Stop(SIGTERM) == 0);
  }
  CHECK(Query(db, "PRAGMA integrity_check") == "ok\n");
  CHECK(Query(db, "SELECT count(*), state FROM runs GROUP BY state") == "1|success\n");
  CHECK(Query(db, "SELECT count(*) FROM task_instances WHERE state = 'success'") == "220\n");
  // Exactly one successful attempt per task instance, none left running.
  CHECK(Query(db,
              "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE state = 'success' "
              "GROUP BY task_id HAVING count(*) != 1)") == "0\n");
  CHECK(Query(db, "SELECT count(DISTINCT task_id) FROM attempts WHERE state = 'success'") ==
        "220\n");
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE state = 'running'") == "0\n");
  // Orphaned attempts did not use up the single retry: no task failed for lack of tries.
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE reason = 'orphaned: the scheduler died'") !=
        "0\n");
  CHECK(Query(db, "SELECT count(*) FROM task_instances WHERE state = 'failed'") == "0\n");
}

}  // namespace
}  // namespace weir

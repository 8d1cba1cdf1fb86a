// `weir scheduler` as a whole binary: the lease between two schedulers, and a chaos test that
// kills the scheduler with SIGKILL at random moments and checks what survives in the store.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"
#include "tests/testing/weir_process.h"

extern char** environ;

namespace weir {
namespace {

using testing::Contains;
using testing::Output;
using testing::Query;
using testing::TempDir;
using testing::Weir;
using Scheduler = testing::WeirProcess;

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
    "killing the scheduler with SIGKILL 20 times during a 300-task run loses nothing and "
    "succeeds every task exactly once",
    "[e2e]") {
  TempDir dir;
  std::string yaml =
      "dag: chaos\nschedule: \"@once\"\nstart_date: 2026-01-01\nmax_active_tasks: 4\n"
      "defaults: { retries: 3, retry_delay: 10ms }\ntasks:\n";
  // 20 chains of 15 tasks, each doing a little work (~20 ms) so that kills land mid-task and
  // the run outlasts 20 short-lived schedulers.
  for (int chain = 0; chain < 20; ++chain) {
    for (int step = 0; step < 15; ++step) {
      yaml += fmt::format(
          "  c{}s{}: {{ kind: shell, script: \"i=0; while [ $i -lt 12000 ]; do "
          "i=$((i+1)); done\"{} }}\n",
          chain, step, step == 0 ? "" : fmt::format(", deps: [c{}s{}]", chain, step - 1));
    }
  }
  dir.Write("dags/chaos.yaml", yaml);
  const auto db = dir / "home" / "weir.db";
  std::mt19937 rng(42);
  int kills = 0;
  for (; kills < 20; ++kills) {
    // A killed scheduler may have finished the run just before it died (its last lines unread):
    // then there is nothing left to kill a scheduler in the middle of.
    const bool over =
        std::filesystem::exists(db) && (Query(db, "SELECT state FROM runs") == "success|\n" ||
                                        Query(db, "SELECT state FROM runs") == "failed|\n");
    if (over) break;
    Scheduler scheduler(dir, {"--parallelism", "3"});
    // Let it get some work done (or recover): kill after a random number of task successes.
    int events = std::uniform_int_distribution<int>(1, 12)(rng);
    bool finished = false;
    for (int seen = 0; seen < events;) {
      std::string line = scheduler.NextLine();
      REQUIRE_FALSE(line.empty());
      if (line.find("run chaos@2026-01-01T00:00:00Z success") != std::string::npos ||
          line.find("run chaos@2026-01-01T00:00:00Z failed") != std::string::npos) {
        finished = true;
        break;
      }
      // Successes only: each scheduler gets something done before it dies, as a scheduler on a
      // real machine does between crashes. Counting starts too would kill some schedulers as
      // soon as their recovery restarted a task, orphaning that task again and again, which
      // weir rightly takes for a task that kills its scheduler (docs/scheduling.md).
      if (line.find("  success") != std::string::npos) ++seen;
    }
    if (finished) break;
    scheduler.Stop(SIGKILL);
  }
  INFO("kills: " << kills);
  CHECK(kills >= 20);
  {
    Scheduler last(dir, {"--parallelism", "3"});
    // The run ends under this scheduler, unless an earlier one already ended it. (Should a
    // task fail after all, the run ends failed and the checks below say which.)
    std::string state = Query(db, "SELECT state FROM runs");
    if (state != "success|\n" && state != "failed|\n") {
      REQUIRE(last.WaitFor("run chaos@2026-01-01T00:00:00Z "));
    }
    CHECK(last.Stop(SIGTERM) == 0);
  }
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  CHECK(Query(db, "SELECT count(*), state FROM runs GROUP BY state") == "1|success|\n");
  CHECK(Query(db, "SELECT count(*) FROM task_instances WHERE state = 'success'") == "300|\n");
  // Exactly one successful attempt per task instance, none left running.
  CHECK(Query(db,
              "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE state = 'success' "
              "GROUP BY task_id HAVING count(*) != 1)") == "0|\n");
  CHECK(Query(db, "SELECT count(DISTINCT task_id) FROM attempts WHERE state = 'success'") ==
        "300|\n");
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE state = 'running'") == "0|\n");
  // Orphaned attempts did not use up the single retry: no task failed for lack of tries.
  CHECK(Query(db,
              "SELECT count(*) FROM attempts WHERE reason = 'orphaned: the weir process driving "
              "its run died'") != "0|\n");
  CHECK(Query(db, "SELECT count(*) FROM task_instances WHERE state = 'failed'") == "0|\n");
}

TEST_CASE(
    "clearing a failed task with its downstream lets the scheduler finish the run, and is "
    "audited",
    "[e2e]") {
  TempDir dir;
  dir.Write("dags/fix.yaml", R"(
dag: fixable
tasks:
  extract: { kind: shell, script: "test -f ready || { echo 'input missing' >&2; exit 3; }" }
  load: { kind: shell, command: [true], deps: [extract] }
  report: { kind: shell, command: [true], deps: [load] }
  other: { kind: shell, command: [true] }
)");
  auto weir = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--dags", "dags", "--home", "home"});
    return Weir(dir, args);
  };
  REQUIRE(weir({"run", "fixable", "--date", "2026-01-01"}).exit_code == 1);
  const std::string run_id = "fixable@2026-01-01T00:00:00Z~manual-1";
  const auto db = dir / "home" / "weir.db";
  CHECK(Query(db, "SELECT task_id, state FROM task_instances ORDER BY task_id") ==
        "extract|failed|\nload|upstream_failed|\nother|success|\nreport|upstream_failed|\n");

  // Bad input changes nothing.
  const std::string before = testing::DumpEveryTable(db);
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"tasks", "clear", run_id, "nope"},
                                             {"tasks", "clear", "fixable@nope", "extract"},
                                             {"runs", "clear", "fixable@nope"},
                                             {"runs", "mark", run_id, "bogus"},
                                             {"tasks", "mark", run_id, "extract", "running"},
                                             {"tasks", "mark", run_id, "nope", "success"}}) {
    Output o = weir(bad);
    INFO(fmt::format("{}", fmt::join(bad, " ")) << ": " << o.err);
    CHECK(o.exit_code == 2);
    CHECK(testing::CountLines(o.err) == 1);
    CHECK(testing::DumpEveryTable(db) == before);
  }

  dir.Write("dags/ready", "");
  Output clear =
      weir({"tasks", "clear", run_id, "extract", "--downstream", "--reason", "input fixed"});
  INFO(clear.err);
  REQUIRE(clear.exit_code == 0);
  CHECK(clear.out.find("cleared 3 task instances of " + run_id + ": extract, load, report") !=
        std::string::npos);
  CHECK(Query(db, "SELECT state FROM runs") == "queued|\n");
  {
    Scheduler scheduler(dir);
    REQUIRE(scheduler.WaitFor("run " + run_id + " success"));
    CHECK(scheduler.Stop(SIGTERM) == 0);
  }
  CHECK(Query(db, "SELECT task_id, state, try_number FROM task_instances ORDER BY task_id") ==
        "extract|success|2|\nload|success|1|\nother|success|1|\nreport|success|1|\n");
  CHECK(Query(db,
              "SELECT source, action, target, reason FROM audit_events WHERE action = "
              "'clear'") == "cli|clear|run:" + run_id + "|input fixed|\n");

  Output mark = weir({"tasks", "mark", run_id, "report", "failed"});
  CHECK(mark.exit_code == 0);
  CHECK(Query(db, "SELECT state FROM runs") == "failed|\n");
  Output mark_run = weir({"runs", "mark", run_id, "success", "--reason", "checked by hand"});
  CHECK(mark_run.exit_code == 0);
  CHECK(Query(db, "SELECT state FROM runs") == "success|\n");
  CHECK(Query(db, "SELECT state FROM task_instances WHERE task_id = 'report'") == "success|\n");
  CHECK(Query(db, "SELECT count(*) FROM audit_events WHERE action = 'mark'") == "2|\n");
}

const char* kBackfillDag = R"(
dag: daily
schedule: "@daily"
max_active_runs: 2
tasks:
  extract: { kind: shell, script: "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done" }
  load: { kind: shell, command: [true], deps: [extract] }
)";

TEST_CASE("a backfill killed with SIGKILL resumes when run again, and no interval runs twice",
          "[e2e]") {
  TempDir dir;
  dir.Write("dags/d.yaml", kBackfillDag);
  const std::vector<std::string> range = {"daily", "--from", "2026-01-01", "--to", "2026-01-20"};
  {
    Scheduler backfill(dir, range, "backfill");
    for (int done = 0; done < 5;) {
      std::string line = backfill.NextLine();
      REQUIRE_FALSE(line.empty());
      if (line.find(" success (") != std::string::npos) ++done;
    }
    backfill.Stop(SIGKILL);
  }
  const auto db = dir / "home" / "weir.db";
  CHECK(Query(db, "SELECT count(*) FROM runs") == "20|\n");
  std::vector<std::string> args = range;
  args.insert(args.end(), {"--dags", "dags", "--home", "home"});
  args.insert(args.begin(), "backfill");
  Output again = Weir(dir, args);
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("20 intervals: 0 new, 0 failed") != std::string::npos);
  CHECK(Query(db, "SELECT count(*), state, kind FROM runs GROUP BY state") ==
        "20|success|backfill|\n");
  CHECK(Query(db,
              "SELECT count(*) FROM (SELECT run_id, task_id FROM attempts WHERE state = "
              "'success' GROUP BY run_id, task_id HAVING count(*) > 1)") == "0|\n");
  // What the killed backfill was running was recovered as orphaned, not left running.
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE state = 'running'") == "0|\n");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  // Nothing left to do: a third time runs nothing.
  Output third = Weir(dir, args);
  CHECK(third.exit_code == 0);
  CHECK(third.out.find("nothing to run") != std::string::npos);
  // The killed backfill ended with the runs the resumed one drove; the third drove none.
  Output list = Weir(dir, {"backfills", "list", "daily", "--dags", "dags", "--home", "home"});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  CHECK(testing::CountLines(list.out) == 4);
  CHECK(Contains(list.out, "2026-01-01  2026-01-20  success  20/20 runs done"));
  CHECK(Contains(list.out, "2026-01-01  2026-01-20  success  0/0 runs done"));
  Output first = Weir(dir, {"backfills", "show", "1", "--dags", "dags", "--home", "home"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "state     success\n"));
  CHECK(
      Contains(first.out, "progress  20/20 runs done (0 queued, 0 running, 20 success, 0 failed)"));
  CHECK(Contains(first.out, "daily@2026-01-20T"));
}

TEST_CASE(
    "killing a backfill of 1008 task instances with SIGKILL 100 times loses no run and succeeds "
    "every task instance exactly once",
    "[e2e]") {
  TempDir dir;
  // 504 hourly intervals of a two-task chain; each task appends its run and task to one file
  // when it ends (O_APPEND, one write a line), so what really ran to its end can be checked
  // from outside the store. extract takes a moment, so that some outlive the backfill killed
  // while they ran, for the next one to kill.
  dir.Write("dags/h.yaml", R"(
dag: hourly
schedule: "@hourly"
max_active_runs: 8
tasks:
  extract: { kind: shell, script: "sleep 0.05 && echo {{ run_id }} {{ task }} >> ../done.txt" }
  load: { kind: shell, script: "echo {{ run_id }} {{ task }} >> ../done.txt", deps: [extract] }
)");
  const int kIntervals = 21 * 24, kTasks = 2 * kIntervals, kKills = 100;
  const std::vector<std::string> range = {"hourly",     "--from",        "2026-01-01", "--to",
                                          "2026-01-21", "--parallelism", "8"};
  // A failure can be replayed with the same kill moments (timing aside): WEIR_CHAOS_SEED=N.
  const char* seed_text = std::getenv("WEIR_CHAOS_SEED");
  const std::uint32_t seed = seed_text != nullptr ? std::stoul(seed_text) : std::random_device{}();
  WARN("kill schedule seed " << seed << " (replay with WEIR_CHAOS_SEED=" << seed << ")");
  std::mt19937 rng(seed);

  // Each backfill is killed after a random number of its output lines (1 is right after its
  // plan line, before or while it takes the lease and recovers; then come its recovery lines,
  // then one line per finished run), and half of them only once 1 to 8 runs have finished as
  // well: kills land right after the start, mid-recovery, and with tasks mid-way. A task
  // instance's first three orphaned attempts in a row are free, the fourth counts as a try
  // (docs/scheduling.md): so a backfill that starts with a task instance at three (its last
  // attempts orphaned, or left running by the last kill, none a success; these tasks fail no
  // other way) is killed only after that run has finished. A backfill restarts a task instance
  // at most once, so no task instance is orphaned more than three times in a row.
  const auto db = dir / "home" / "weir.db";
  auto at_the_limit = [&] {
    std::set<std::string> runs;
    if (!std::filesystem::exists(db)) return runs;
    std::istringstream rows(Query(db,
                                  "SELECT DISTINCT run_id FROM attempts GROUP BY run_id, task_id "
                                  "HAVING count(*) >= 3 AND sum(state = 'success') = 0"));
    for (std::string row; std::getline(rows, row);) runs.insert(row.substr(0, row.size() - 1));
    return runs;
  };
  int kills = 0, group_kills = 0;
  for (; kills < kKills; ++kills) {
    std::set<std::string> must_finish = at_the_limit();  // no one writes it between backfills
    Scheduler backfill(dir, range, "backfill");
    const int lines = std::uniform_int_distribution<int>(1, 8)(rng);
    const int runs =
        std::bernoulli_distribution(0.5)(rng) ? 0 : std::uniform_int_distribution<int>(1, 8)(rng);
    bool over = false;
    for (int seen = 0, finished = 0; seen < lines || finished < runs || !must_finish.empty();
         ++seen) {
      std::string line = backfill.NextLine();
      // The work ran out before the kills did (the last one finished what was left).
      if (line.empty() || line.starts_with("backfill of ")) {
        over = true;
        break;
      }
      if (line.starts_with("run ")) {
        ++finished;
        must_finish.erase(line.substr(4, line.find(' ', 4) - 4));
      }
      if (line.starts_with("recovery: killed")) ++group_kills;
    }
    if (over) break;
    backfill.Stop(SIGKILL);
  }
  INFO(testing::ReadFile(dir / "stderr"));
  REQUIRE(kills == kKills);

  std::vector<std::string> args = range;
  args.insert(args.begin(), "backfill");
  args.insert(args.end(), {"--dags", "dags", "--home", "home"});
  Output last = Weir(dir, args);
  // Its plan (the first line) and its summary (the last); recovery and run lines between.
  const std::string plan = last.out.substr(0, last.out.find('\n') + 1);
  const std::string summary = last.out.substr(last.out.rfind('\n', last.out.size() - 2) + 1);
  INFO(plan << summary << last.err);
  CHECK(last.exit_code == 0);
  CHECK(plan.starts_with(fmt::format("{} intervals: 0 new, 0 failed", kIntervals)));
  CHECK(summary.ends_with(" runs done, 0 failed\n"));

  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  CHECK(Query(db, "PRAGMA foreign_key_check") == "");
  // No run lost: one backfill run per interval, every one a success.
  CHECK(Query(db, "SELECT count(*), kind, state FROM runs GROUP BY kind, state") ==
        fmt::format("{}|backfill|success|\n", kIntervals));
  CHECK(Query(db, "SELECT count(*), state FROM task_instances GROUP BY state") ==
        fmt::format("{}|success|\n", kTasks));
  // Exactly one successful attempt per task instance; every other attempt was orphaned by a
  // kill (none failed on its own, none was left running).
  CHECK(Query(db,
              "SELECT count(*), count(DISTINCT run_id || ' ' || task_id) FROM attempts "
              "WHERE state = 'success'") == fmt::format("{0}|{0}|\n", kTasks));
  CHECK(Query(db,
              "SELECT count(*) FROM attempts WHERE state != 'success' AND reason != "
              "'orphaned: the weir process driving its run died'") == "0|\n");
  CHECK(Query(db,
              "SELECT count(*) FROM attempts WHERE reason = 'orphaned: the weir process driving "
              "its run died'") != "0|\n");
  // Each attempt has its own try, and every orphaned one was free (none was the fourth in a
  // row): each task instance used its one try (retries: 0) for its success.
  CHECK(Query(db,
              "SELECT count(*) FROM task_instances t, (SELECT run_id, task_id, count(*) AS n "
              "FROM attempts GROUP BY run_id, task_id) a WHERE a.run_id = t.run_id AND "
              "a.task_id = t.task_id AND (t.try_number != a.n OR t.free_tries != a.n - 1)") ==
        "0|\n");

  // From outside: every task instance ran to its end at least once (one killed mid-way, or
  // killed with its driver before its success was recorded, may have run again), and nothing
  // else wrote to the file.
  std::set<std::string> ran;
  std::istringstream done(testing::ReadFile(dir / "done.txt"));
  for (std::string line; std::getline(done, line);) ran.insert(line);
  std::vector<std::string> missing;
  for (int hour = 0; hour < kIntervals; ++hour) {
    for (const char* task : {"extract", "load"}) {
      std::string line =
          fmt::format("hourly@2026-01-{:02}T{:02}:00:00Z {}", 1 + hour / 24, hour % 24, task);
      if (ran.erase(line) == 0) missing.push_back(line);
    }
  }
  CHECK(missing.empty());
  CHECK(ran.empty());  // what is left was not expected

  auto number = [&](const std::string& sql) { return std::atoi(Query(db, sql).c_str()); };
  WARN(kills << " kills (" << group_kills << " process groups killed by recovery seen), then "
             << plan << number("SELECT count(*) FROM attempts") << " attempts, "
             << number("SELECT count(*) FROM attempts WHERE state = 'failed'")
             << " of them orphaned, at most "
             << number("SELECT max(n) FROM (SELECT count(*) AS n FROM attempts WHERE state = "
                       "'failed' GROUP BY run_id, task_id)")
             << " in a row");
}

TEST_CASE(
    "a killed backfill canceled from the command line: its queued runs fail in one audited "
    "change, and the run it had begun ends when resumed",
    "[e2e]") {
  TempDir dir;
  dir.Write("dags/d.yaml", kBackfillDag);
  const std::vector<std::string> range = {"daily", "--from", "2026-01-01", "--to", "2026-01-20"};
  {
    Scheduler backfill(dir, range, "backfill");
    for (std::string line = backfill.NextLine(); line.find(" success (") == std::string::npos;
         line = backfill.NextLine()) {
      REQUIRE_FALSE(line.empty());
    }
    backfill.Stop(SIGKILL);
  }
  const auto db = dir / "home" / "weir.db";
  const std::string queued = Query(db, "SELECT count(*) FROM runs WHERE state = 'queued'");
  auto weir = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--dags", "dags", "--home", "home"});
    return Weir(dir, args);
  };
  Output cancel = weir({"backfills", "cancel", "1", "--reason", "wrong range"});
  INFO(cancel.out << cancel.err);
  REQUIRE(cancel.exit_code == 0);
  CHECK(
      Contains(cancel.out, fmt::format("canceled backfill 1 of daily: {} queued runs marked failed",
                                       queued.substr(0, queued.find('|')))));
  CHECK(Query(db, "SELECT count(*) FROM runs WHERE state = 'queued'") == "0|\n");
  CHECK(Query(db, "SELECT count(*) FROM runs WHERE state = 'failed'") == queued);
  CHECK(Query(db, "SELECT action, reason FROM audit_events ORDER BY id DESC LIMIT 1") ==
        "cancel_backfill|wrong range|\n");
  // Running the range again leaves the canceled runs failed and finishes what had begun.
  Output again = weir({"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-20"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  Output show = weir({"backfills", "show", "1"});
  REQUIRE(show.exit_code == 0);
  CHECK(Contains(show.out, "state     canceled\n"));
  CHECK(Query(db, "SELECT count(*) FROM runs WHERE state IN ('queued', 'running')") == "0|\n");
  Output twice = weir({"backfills", "cancel", "1"});
  CHECK(twice.exit_code == 2);
  CHECK(twice.err == "weir: backfill 1 has ended (canceled): nothing to cancel\n");
}

TEST_CASE(
    "a run that weir backfill drives, marked failed by hand, is let go: its task is stopped and "
    "the backfill ends",
    "[e2e]") {
  TempDir dir;
  const auto started = dir / "started";
  REQUIRE(::mkfifo(started.c_str(), 0600) == 0);
  dir.Write("dags/slow.yaml", fmt::format(R"(
dag: slow
schedule: "@daily"
tasks:
  wait: {{ kind: shell, script: "echo go > {}; sleep 3600" }}
  after: {{ kind: shell, command: [true], deps: [wait] }}
)",
                                          ShellQuote(started.string())));
  Scheduler backfill(dir, {"slow", "--from", "2026-01-01", "--to", "2026-01-01"}, "backfill");
  {
    std::ifstream running(started);  // opens once the task writes: it runs
    std::string line;
    REQUIRE(std::getline(running, line));
  }
  Output mark = Weir(dir, {"runs", "mark", "slow@2026-01-01T00:00:00Z", "failed", "--dags", "dags",
                           "--home", "home"});
  INFO(mark.out << mark.err);
  REQUIRE(mark.exit_code == 0);
  REQUIRE(backfill.WaitFor("run slow@2026-01-01T00:00:00Z was changed by hand; reloading it"));
  REQUIRE(backfill.WaitFor("backfill of slow: 1/1 runs done, 1 failed"));
  CHECK(backfill.Wait() == 1);
  const auto db = dir / "home" / "weir.db";
  CHECK(Query(db, "SELECT state FROM runs") == "failed|\n");
  CHECK(Query(db, "SELECT task_id, state FROM task_instances ORDER BY task_id") ==
        "after|skipped|\nwait|failed|\n");
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE state = 'running'") == "0|\n");
}

TEST_CASE("with a live scheduler, a backfill hands its plan over and follows it", "[e2e]") {
  TempDir dir;
  dir.Write("dags/d.yaml", kBackfillDag);
  Scheduler scheduler(dir);
  REQUIRE(scheduler.WaitFor("scheduler started"));
  Output backfill = Weir(dir, {"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-03",
                               "--dags", "dags", "--home", "home"});
  INFO(backfill.out << backfill.err);
  CHECK(backfill.exit_code == 0);
  CHECK(backfill.out.find("handed to weir scheduler (pid ") != std::string::npos);
  CHECK(backfill.out.find("3/3 runs done (0 failed)") != std::string::npos);
  CHECK(scheduler.Stop(SIGTERM) == 0);
  // Driven by the scheduler, it ended all the same.
  Output show = Weir(dir, {"backfills", "show", "1", "--dags", "dags", "--home", "home"});
  INFO(show.out << show.err);
  CHECK(show.exit_code == 0);
  CHECK(Contains(show.out, "state     success\n"));
  CHECK(!Contains(show.out, "ended     -"));
}

TEST_CASE("bad backfill input gets a one-line error, exit 2, and changes nothing", "[e2e]") {
  TempDir dir;
  dir.Write("dags/d.yaml", kBackfillDag);
  dir.Write("dags/adhoc.yaml", "dag: adhoc\ntasks:\n  a: { kind: shell, command: [true] }\n");
  dir.Write("dags/minutely.yaml",
            "dag: minutely\nschedule: \"* * * * *\"\ntasks:\n  a: { kind: shell, command: "
            "[true] }\n");
  auto weir = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--dags", "dags", "--home", "home"});
    return Weir(dir, args);
  };
  // A dry run creates nothing, not even the database.
  Output dry =
      weir({"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-03", "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("3 intervals: 3 new") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "home" / "weir.db"));
  REQUIRE(weir({"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-01"}).exit_code == 0);
  const auto db = dir / "home" / "weir.db";
  const std::string before = testing::DumpEveryTable(db);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"backfill", "nope", "--from", "2026-01-01", "--to", "2026-01-02"}, "unknown DAG 'nope'"},
      {{"backfill", "daily", "--from", "2026-01-05", "--to", "2026-01-02"},
       "--from 2026-01-05 is after --to 2026-01-02"},
      {{"backfill", "daily", "--from", "2026-02-30", "--to", "2026-03-02"}, "--from: bad date"},
      {{"backfill", "daily", "--from", "2026-01-01"}, "--to is required"},
      {{"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-02", "--rerun-failed",
        "--rerun-all"},
       "exclude each other"},
      {{"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-02", "--downstream"},
       "--downstream goes with --tasks"},
      {{"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-02", "--tasks", "("},
       "not a valid regular expression"},
      {{"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-02", "--tasks", "zz"},
       "matches no task"},
      {{"backfill", "daily", "--from", "2026-01-01", "--to", "2026-01-02", "--max-active-runs",
        "0"},
       "--max-active-runs must be 1 or more"},
      {{"backfill", "adhoc", "--from", "2026-01-01", "--to", "2026-01-02"},
       "a backfill needs a cron schedule"},
      {{"backfill", "minutely", "--from", "2026-01-01", "--to", "2026-12-31"},
       "more than 100000 intervals; narrow it or pass --yes"},
      {{"backfills", "show", "abc"}, "backfill id 'abc': expected a whole number from 1"},
      {{"backfills", "show", "0"}, "backfill id '0': expected a whole number from 1"},
      {{"backfills", "show", "1\n2"}, "backfill id '1\\n2': expected a whole number from 1"},
      {{"backfills", "show", "99"}, "no backfill 99"},
      {{"backfills", "cancel", "x1"}, "backfill id 'x1': expected a whole number from 1"},
      {{"backfills", "cancel", "99"}, "no backfill 99"},
      {{"backfills", "list", "--limit", "0"}, "--limit must be positive"},
      {{"backfills", "list", "--limit", "x"}, "--limit"},
      {{"backfills", "frob"}, "A subcommand is required"},
  };
  for (const auto& [args, expected] : cases) {
    Output o = weir(args);
    INFO(fmt::format("{}", fmt::join(args, " ")) << ": " << o.err);
    CHECK(o.exit_code == 2);
    CHECK(o.err.find(expected) != std::string::npos);
    CHECK(testing::CountLines(o.err) == 1);
    CHECK(testing::DumpEveryTable(db) == before);
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST_CASE("bad scheduler flags get a one-line error and exit 2 without creating state", "[e2e]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "dags");
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"scheduler", "--parallelism", "0", "--dags", "dags"}, "--parallelism must be 1"},
           {{"scheduler", "--parallelism", "many", "--dags", "dags"}, "weir: "},
           {{"scheduler", "--dags", "nowhere"}, "no DAGs folder at"}}) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--home", "home"});
    Output o = Weir(dir, full);
    INFO(o.err);
    CHECK(o.exit_code == 2);
    CHECK(o.err.find(expected) != std::string::npos);
    CHECK(testing::CountLines(o.err) == 1);
    CHECK_FALSE(std::filesystem::exists(dir / "home" / "weir.db"));
  }
}

}  // namespace
}  // namespace weir

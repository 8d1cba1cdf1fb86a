// Whole-binary tests: the real `weir` executable, real DAG files, a real state database.
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::Query;
using testing::ReadFile;
using testing::TempDir;
using testing::Weir;

const std::string kExampleDags = std::string(WEIR_SOURCE_DIR) + "/examples/dags";

TEST_CASE("weir backfill and weir run build the example training set end to end", "[e2e]") {
  TempDir dir;
  std::vector<std::string> where = {"--dags", kExampleDags, "--home", (dir / "home").string()};
  // The example ingests one day's events per run: a backfill loads the week.
  auto backfill_args = where;
  backfill_args.insert(backfill_args.begin(), {"backfill", "user_training_set", "--from",
                                               "2026-01-10", "--to", "2026-01-15"});
  Output backfill = Weir(dir, backfill_args);
  INFO(backfill.out << backfill.err);
  REQUIRE(backfill.exit_code == 0);
  CHECK(backfill.out.find("6/6 runs done, 0 failed") != std::string::npos);
  auto args = where;
  args.insert(args.begin(), {"run", "user_training_set", "--date", "2026-01-16"});
  Output run = Weir(dir, args);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("run user_training_set@2026-01-16T00:00:00Z~manual-1: success") !=
        std::string::npos);
  CHECK(run.out.find("check_training_set   success") != std::string::npos);
  CHECK(run.out.find("logs:  ") != std::string::npos);
  CHECK(run.out.find("state: ") != std::string::npos);
  // Not a terminal: one plain line per event.
  CHECK(run.err.find("ingest_events  running (try 1)") != std::string::npos);
  std::string csv = ReadFile(dir / "home" / "outputs" / "training_set_20260116.csv");
  CHECK(CountLines(csv) > 50);

  const std::string run_id = "user_training_set@2026-01-16T00:00:00Z~manual-1";
  auto list_args = where;
  list_args.insert(list_args.begin(), {"runs", "list"});
  Output list = Weir(dir, list_args);
  CHECK(list.exit_code == 0);
  CHECK(list.out.find(run_id) != std::string::npos);

  auto show_args = where;
  show_args.insert(show_args.begin(), {"runs", "show", run_id});
  Output show = Weir(dir, show_args);
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("state     success") != std::string::npos);

  auto log_args = where;
  log_args.insert(log_args.begin(), {"tasks", "logs", run_id, "check_training_set"});
  Output logs = Weir(dir, log_args);
  CHECK(logs.exit_code == 0);
  CHECK_FALSE(logs.out.empty());
  CHECK(logs.err.find("try 1 of check_training_set: success") != std::string::npos);

  // Its tasks declare their tables: the training set traces back to the labels file.
  auto lineage_args = where;
  lineage_args.insert(lineage_args.begin(), {"lineage", "upstream", "warehouse://training_set"});
  Output lineage = Weir(dir, lineage_args);
  CHECK(lineage.exit_code == 0);
  for (const char* node :
       {"warehouse://user_features@", "warehouse://clean_events@", "warehouse://raw_events@",
        "file:data/labels.csv@1", "file:data/events/2026-01-16.csv@1"}) {
    CHECK(lineage.out.find(node) != std::string::npos);
  }

  SECTION("a second run of the same interval is a new manual run and also succeeds") {
    Output again = Weir(dir, args);
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("~manual-2: success") != std::string::npos);
  }
}

TEST_CASE("a failing task makes weir run exit 1 and its log tells why", "[e2e]") {
  TempDir dir;
  dir.Write("dags/f.yaml", R"(
dag: flaky
tasks:
  extract: { kind: shell, script: "echo extracting; echo broken input >&2; exit 4", retries: 1, retry_delay: 10ms }
  load: { kind: shell, command: [echo, load], deps: [extract] }
)");
  Output run =
      Weir(dir, {"run", "flaky", "--dags", "dags", "--home", "home", "--date", "2026-01-02"});
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("extract  failed           2") != std::string::npos);
  CHECK(run.out.find("exit code 4") != std::string::npos);
  CHECK(run.out.find("load     upstream_failed") != std::string::npos);
  Output logs = Weir(dir, {"tasks", "logs", "flaky@2026-01-02T00:00:00Z~manual-1", "extract",
                           "--try", "1", "--home", "home"});
  CHECK(logs.exit_code == 0);
  CHECK(logs.out == "extracting\nbroken input\n");
  Output never =
      Weir(dir, {"tasks", "logs", "flaky@2026-01-02T00:00:00Z~manual-1", "load", "--home", "home"});
  CHECK(never.exit_code == 2);
  CHECK(never.err.find("did not run (upstream_failed)") != std::string::npos);
}

TEST_CASE("params may come before the DAG id and be repeated, logs are found from anywhere",
          "[e2e]") {
  TempDir dir;
  dir.Write("dags/p.yaml", R"(
dag: params
params: { a: 1, b: x }
tasks:
  show: { kind: shell, script: "echo $WEIR_PARAM_A $WEIR_PARAM_B" }
)");
  Output run = Weir(dir, {"run", "--param", "a=2", "--param", "b=y", "params", "--dags", "dags",
                          "--home", "home", "--date", "2026-01-01"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  TempDir elsewhere;
  Output logs = Weir(elsewhere, {"tasks", "logs", "params@2026-01-01T00:00:00Z~manual-1", "show",
                                 "--home", (dir / "home").string()});
  CHECK(logs.exit_code == 0);
  CHECK(logs.out == "2 y\n");
}

TEST_CASE("a hostile param reaches a script as text, never as code", "[e2e]") {
  TempDir dir;
  dir.Write("dags/p.yaml", R"(
dag: params
params: { who: world, n: 1 }
tasks:
  greet: { kind: shell, script: "printf 'hello %s %s' {{ params.who }} \"$WEIR_PARAM_N\"" }
)");
  std::string hostile = "$(touch pwned); `touch pwned2`; ' ; touch pwned3 #";
  Output run = Weir(dir, {"run", "params", "--dags", "dags", "--home", "home", "--param",
                          "who=" + hostile, "--param", "n=42"});
  REQUIRE(run.exit_code == 0);
  auto runs = Weir(dir, {"runs", "list", "--home", "home"});
  std::string run_id = runs.out.substr(runs.out.find("params@"));
  run_id = run_id.substr(0, run_id.find(' '));
  Output greet = Weir(dir, {"tasks", "logs", run_id, "greet", "--home", "home"});
  CHECK(greet.out == "hello " + hostile + " 42");
  CHECK_FALSE(std::filesystem::exists(dir / "dags" / "pwned"));
  CHECK_FALSE(std::filesystem::exists(dir / "dags" / "pwned2"));
  CHECK_FALSE(std::filesystem::exists(dir / "dags" / "pwned3"));
}

TEST_CASE("weir validate reports every error in every file, with file:line:col", "[e2e]") {
  TempDir dir;
  dir.Write("dags/good.yaml", "dag: good\ntasks:\n  a: { kind: shell, command: [true] }\n");
  dir.Write("dags/bad1.yaml",
            "dag: bad1\ntasks:\n  a: { kind: shel, command: [true] }\n  b: { kind: shell, "
            "command: [true], retires: 3 }\n");
  dir.Write("dags/sub/bad2.yaml", "dag: bad2\ntasks:\n  a: [unclosed\n");
  Output v = Weir(dir, {"validate", "--dags", "dags"});
  CHECK(v.exit_code == 2);
  CHECK(v.err.find("bad1.yaml:3:14: unknown task kind 'shel' (did you mean 'shell'?)") !=
        std::string::npos);
  CHECK(v.err.find("bad1.yaml:4:38: unknown key 'retires' in shell task (did you mean "
                   "'retries'?)") != std::string::npos);
  CHECK(v.err.find("sub/bad2.yaml:") != std::string::npos);
  CHECK(v.err.find("invalid YAML") != std::string::npos);
  CHECK(v.err.find("3 errors in 3 files") != std::string::npos);

  Output ok = Weir(dir, {"validate", (dir / "dags" / "good.yaml").string()});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "ok: 1 DAG, 1 task in 1 file\n");

  Output missing = Weir(dir, {"validate", "nowhere.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("nowhere.yaml: no such file or folder") != std::string::npos);
}

// Each case: the command, the text its one-line error must contain.
struct BadInput {
  std::vector<std::string> args;
  std::string expected;
};

TEST_CASE("bad input gets a one-line error, exit 2, and leaves the state database unchanged",
          "[e2e]") {
  TempDir dir;
  dir.Write("dags/ok.yaml", R"(
dag: ok
params: { n: 5, flag: true }
tasks:
  a: { kind: shell, command: [true] }
)");
  dir.Write("dags/broken.yaml", "dag: broken\ntasks:\n  a: { kind: shell, command: [true]\n");
  dir.Write("dags/typed.yaml",
            "dag: typed\ntasks:\n  a: { kind: shell, command: [true], retries: many }\n");
  dir.Write("dags/kind.yaml", "dag: kind\ntasks:\n  a: { kind: spark, command: [true] }\n");
  const std::vector<BadInput> cases = {
      {{"run", "broken"}, "broken.yaml:4:1: invalid YAML"},
      {{"run", "typed"}, "typed.yaml:3:47: 'retries' must be a whole number"},
      {{"run", "kind"}, "unknown task kind 'spark'"},
      {{"run", "okk"}, "(did you mean 'ok'?); DAG files with errors"},
      {{"run", "ok", "--date", "2026-13-01"}, "--date: bad date '2026-13-01'"},
      {{"run", "ok", "--date", "yesterday"}, "--date: bad date 'yesterday'"},
      {{"run", "ok", "--start", "2026-01-02", "--end", "2026-01-01"}, "must be after --start"},
      {{"run", "ok", "--start", "2026-01-02T25:00:00Z", "--end", "2026-01-03"},
       "--start: bad timestamp"},
      {{"run", "ok", "--start", "2026-01-02"}, "--start and --end go together"},
      {{"run", "ok", "--date", "2026-01-01", "--start", "2026-01-01", "--end", "2026-01-02"},
       "--date cannot be combined"},
      {{"run", "ok", "--param", "m=1"}, "DAG 'ok' declares no param 'm' (did you mean 'n'?)"},
      {{"run", "ok", "--param", "n=five"}, "expected a whole number"},
      {{"run", "ok", "--param", "flag=yes"}, "expected true or false"},
      {{"run", "ok", "--param", "novalue"}, "expected NAME=VALUE"},
      {{"run", "ok", "--parallelism", "-1"}, "--parallelism must be 1 or more"},
      {{"run", "ok", "--parallelism", "0"}, "--parallelism must be 1 or more"},
      {{"run", "ok", "--dags", "nowhere"}, "nowhere (pass --dags DIR or set WEIR_DAGS)"},
      {{"runs", "show", "ok@nope"}, "no run 'ok@nope'"},
      {{"runs", "list", "--limit", "0"}, "--limit must be positive"},
      {{"tasks", "logs", "ok@nope", "a"}, "no run 'ok@nope'"},
      {{"tasks", "logs", "RUN", "zzz"}, "has no task 'zzz'"},
      {{"tasks", "logs", "RUN", "a", "--try", "9"}, "has no try 9"},
      {{"tasks", "logs", "RUN", "a", "--try", "0"}, "--try must be 1 or more"},
      {{"frobnicate"}, "weir: "},
      {{"run"}, "dag is required"},
      {{"run", "ok", "--bogus"}, "weir: "},
  };
  // One good run first, so there is state to protect.
  Output first =
      Weir(dir, {"run", "ok", "--dags", "dags", "--home", "home", "--date", "2026-01-01"});
  REQUIRE(first.exit_code == 0);
  const std::string run_id = "ok@2026-01-01T00:00:00Z~manual-1";
  const std::string before = DumpEveryTable(dir / "home" / "weir.db");
  REQUIRE(before.find(run_id) != std::string::npos);
  for (BadInput c : cases) {
    for (std::string& a : c.args) {
      if (a == "RUN") a = run_id;
    }
    std::vector<std::string> args = c.args;
    if (std::find(args.begin(), args.end(), "--dags") == args.end()) {
      args.insert(args.end(), {"--dags", "dags"});
    }
    args.insert(args.end(), {"--home", "home"});
    Output o = Weir(dir, args);
    INFO("weir " << fmt::format("{}", fmt::join(c.args, " ")) << "\nstderr: " << o.err);
    CHECK(o.exit_code == 2);
    CHECK(o.err.find(c.expected) != std::string::npos);
    CHECK(o.out.empty());
    CHECK(CountLines(o.err) == 1);
    CHECK(DumpEveryTable(dir / "home" / "weir.db") == before);
  }
}

TEST_CASE("read-only commands never create a state database", "[e2e]") {
  TempDir dir;
  Output list = Weir(dir, {"runs", "list", "--home", "fresh"});
  CHECK(list.exit_code == 0);
  CHECK(list.out == "no runs yet\n");
  Output show = Weir(dir, {"runs", "show", "x", "--home", "fresh"});
  CHECK(show.exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "fresh"));
}

TEST_CASE("weir dags list shows each DAG's schedule and task count", "[e2e]") {
  TempDir dir;
  Output list = Weir(dir, {"dags", "list", "--dags", kExampleDags});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("user_training_set  @daily") != std::string::npos);
}

// The rows `sql` returns, each as "v1|v2|...|\n" (NULL for null).
TEST_CASE("weir dags next prints the data intervals across a DST change in the DAG's zone",
          "[e2e][dags]") {
  TempDir dir;
  dir.Write("dags/berlin.yaml", R"(
dag: berlin
schedule: "0 2 * * *"
timezone: Europe/Berlin
tasks:
  a: { kind: shell, command: [true] }
)");
  // 02:00 Berlin is 01:00Z in winter (CET) and 00:00Z in summer (CEST). On 2026-03-29 the
  // clocks jump from 02:00 to 03:00, so that day's 02:00 does not exist and the tick fires at
  // the next valid instant, 03:00 CEST = 01:00Z; the interval after it lasts 23 hours.
  Output next = Weir(dir, {"dags", "next", "berlin", "--dags", "dags", "--home", "home", "--from",
                           "2026-03-27T00:00:00Z", "--count", "4"});
  INFO(next.err);
  CHECK(next.exit_code == 0);
  CHECK(next.out ==
        "2026-03-26T01:00:00Z 2026-03-27T01:00:00Z\n"
        "2026-03-27T01:00:00Z 2026-03-28T01:00:00Z\n"
        "2026-03-28T01:00:00Z 2026-03-29T01:00:00Z\n"
        "2026-03-29T01:00:00Z 2026-03-30T00:00:00Z\n");
  CHECK(next.err.empty());

  // In autumn 02:00 happens twice on 2026-10-25; the tick is the first one, 00:00Z (CEST).
  Output autumn = Weir(dir, {"dags", "next", "berlin", "--dags", "dags", "--from",
                             "2026-10-24T00:00:00Z", "--count", "2"});
  CHECK(autumn.exit_code == 0);
  CHECK(autumn.out ==
        "2026-10-24T00:00:00Z 2026-10-25T00:00:00Z\n"
        "2026-10-25T00:00:00Z 2026-10-26T01:00:00Z\n");

  // An interval whose end is exactly --from is not "next"; the default count is five.
  Output exact = Weir(
      dir, {"dags", "next", "berlin", "--dags", "dags", "--from", "2026-01-10T01:00:00+00:00"});
  CHECK(exact.exit_code == 0);
  CHECK(CountLines(exact.out) == 5);
  CHECK(exact.out.starts_with("2026-01-10T01:00:00Z 2026-01-11T01:00:00Z\n"));
  // Nothing here writes state.
  CHECK_FALSE(std::filesystem::exists(dir / "home"));
}

TEST_CASE("weir dags next honours start_date and end_date, @once and schedule none",
          "[e2e][dags]") {
  TempDir dir;
  dir.Write("dags/daily.yaml", R"(
dag: daily
schedule: "@daily"
start_date: 2026-01-01
end_date: 2026-01-10
tasks:
  a: { kind: shell, command: [true] }
)");
  dir.Write("dags/hourly.yaml", R"(
dag: hourly
schedule: "30 */6 * * *"
start_date: 2026-01-01
tasks:
  a: { kind: shell, command: [true] }
)");
  dir.Write("dags/once.yaml", R"(
dag: once
schedule: "@once"
timezone: America/New_York
start_date: 2026-02-01
tasks:
  a: { kind: shell, command: [true] }
)");
  dir.Write("dags/undated.yaml",
            "dag: undated\nschedule: \"@once\"\ntasks:\n  a: { kind: shell, command: [true] }\n");
  dir.Write("dags/manual.yaml",
            "dag: manual\nschedule: none\ntasks:\n  a: { kind: shell, command: [true] }\n");
  auto next = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"dags", "next"});
    args.insert(args.end(), {"--dags", "dags", "--home", "home"});
    return Weir(dir, args);
  };

  SECTION("@daily in UTC starts at start_date's midnight, whatever --from says before it") {
    Output o = next({"daily", "--from", "2025-06-01", "--count", "2"});
    CHECK(o.exit_code == 0);
    CHECK(o.out ==
          "2026-01-01T00:00:00Z 2026-01-02T00:00:00Z\n"
          "2026-01-02T00:00:00Z 2026-01-03T00:00:00Z\n");
  }
  SECTION("end_date stops the list after its own local day, and stderr says why") {
    Output o = next({"daily", "--from", "2026-01-07T12:00:00Z"});
    CHECK(o.exit_code == 0);
    CHECK(o.out ==
          "2026-01-07T00:00:00Z 2026-01-08T00:00:00Z\n"
          "2026-01-08T00:00:00Z 2026-01-09T00:00:00Z\n"
          "2026-01-09T00:00:00Z 2026-01-10T00:00:00Z\n"
          "2026-01-10T00:00:00Z 2026-01-11T00:00:00Z\n");
    CHECK(o.err ==
          "weir: DAG 'daily' has no intervals after 2026-01-11T00:00:00Z: its end_date is "
          "2026-01-10\n");
    Output after = next({"daily", "--from", "2026-02-01"});
    CHECK(after.exit_code == 0);
    CHECK(after.out.empty());
    CHECK(after.err.find("its end_date is 2026-01-10") != std::string::npos);
  }
  SECTION("a tick before start_date does not begin an interval") {
    // The tick at 2026-01-01T00:30Z is the first at or after start_date, so the interval that
    // ends there (starting 2025-12-31T18:30Z) is not one.
    Output o = next({"hourly", "--from", "2025-12-31T00:00:00Z", "--count", "2"});
    CHECK(o.exit_code == 0);
    CHECK(o.out ==
          "2026-01-01T00:30:00Z 2026-01-01T06:30:00Z\n"
          "2026-01-01T06:30:00Z 2026-01-01T12:30:00Z\n");
  }
  SECTION("@once is one empty interval at start_date's local midnight") {
    Output o = next({"once", "--from", "2030-01-01"});
    CHECK(o.exit_code == 0);
    CHECK(o.out == "2026-02-01T05:00:00Z 2026-02-01T05:00:00Z\n");
    Output undated = next({"undated"});
    CHECK(undated.exit_code == 0);
    CHECK(undated.out.empty());
    CHECK(undated.err == "weir: DAG 'undated' runs @once but has no start_date\n");
  }
  SECTION("schedule none prints nothing and says so") {
    Output o = next({"manual"});
    CHECK(o.exit_code == 0);
    CHECK(o.out.empty());
    CHECK(o.err.find("DAG 'manual' has no schedule") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "home"));
}

TEST_CASE("weir dags pause shows in dags list and leaves an audit event, unpause undoes it",
          "[e2e][dags]") {
  TempDir dir;
  dir.Write("dags/a.yaml", "dag: alpha\ntasks:\n  a: { kind: shell, command: [true] }\n");
  dir.Write("dags/b.yaml", "dag: beta\ntasks:\n  a: { kind: shell, command: [true] }\n");
  std::vector<std::string> where = {"--dags", "dags", "--home", "home"};
  auto weir = [&](std::vector<std::string> args) {
    args.insert(args.end(), where.begin(), where.end());
    return Weir(dir, args);
  };
  // Without a database nothing is paused, and listing does not create one.
  Output fresh = weir({"dags", "list"});
  CHECK(fresh.exit_code == 0);
  CHECK(fresh.out.find("PAUSED") != std::string::npos);
  CHECK(fresh.out.find("alpha  none      UTC       1      no") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "home"));

  Output pause = weir({"dags", "pause", "alpha", "--reason", "upstream outage"});
  INFO(pause.err);
  REQUIRE(pause.exit_code == 0);
  CHECK(pause.out == "paused alpha\n");
  Output list = weir({"dags", "list"});
  CHECK(list.out.find("alpha  none      UTC       1      yes") != std::string::npos);
  CHECK(list.out.find("beta   none      UTC       1      no") != std::string::npos);
  const auto db = dir / "home" / "weir.db";
  std::string audit = Query(db,
                            "SELECT source, action, target, reason, details_json FROM "
                            "audit_events ORDER BY id");
  CHECK(audit == "cli|pause|dag:alpha|upstream outage|{}|\n");
  CHECK(Query(db, "SELECT count(*) FROM audit_events WHERE actor = ''") == "0|\n");

  Output again = weir({"dags", "pause", "alpha"});
  CHECK(again.exit_code == 0);
  CHECK(again.out == "paused alpha (it already was)\n");

  Output unpause = weir({"dags", "unpause", "alpha"});
  CHECK(unpause.exit_code == 0);
  CHECK(unpause.out == "unpaused alpha\n");
  CHECK(weir({"dags", "list"}).out.find("alpha  none      UTC       1      no") !=
        std::string::npos);
  CHECK(Query(db, "SELECT action, target FROM audit_events ORDER BY id") ==
        "pause|dag:alpha|\npause|dag:alpha|\nunpause|dag:alpha|\n");
}

TEST_CASE("weir pools set creates and resizes pools that pools list shows", "[e2e][pools]") {
  TempDir dir;
  // Before any database: the built-in default pool, and no file is created.
  Output fresh = Weir(dir, {"pools", "list", "--home", "home"});
  CHECK(fresh.exit_code == 0);
  CHECK(fresh.out == "NAME     SLOTS\ndefault  128\n");
  CHECK_FALSE(std::filesystem::exists(dir / "home"));

  Output gpu =
      Weir(dir, {"pools", "set", "gpu.a100-x_2", "4", "--home", "home", "--reason", "two cards"});
  INFO(gpu.err);
  REQUIRE(gpu.exit_code == 0);
  CHECK(gpu.out == "pool gpu.a100-x_2: 4 slots\n");
  Output zero = Weir(dir, {"pools", "set", "default", "0", "--home", "home"});
  CHECK(zero.exit_code == 0);
  Output list = Weir(dir, {"pools", "list", "--home", "home"});
  CHECK(list.exit_code == 0);
  CHECK(list.out == "NAME          SLOTS\ndefault       0\ngpu.a100-x_2  4\n");
  CHECK(Query(dir / "home" / "weir.db",
              "SELECT source, action, target, reason, details_json FROM audit_events "
              "ORDER BY id") ==
        "cli|pool.set|pool:gpu.a100-x_2|two cards|{\"slots\":4}|\n"
        "cli|pool.set|pool:default||{\"slots\":0}|\n");
}

TEST_CASE("bad input to dags next, pause and pools gets a one-line error and changes nothing",
          "[e2e][dags][pools]") {
  TempDir dir;
  dir.Write("dags/ok.yaml",
            "dag: ok\nschedule: \"@daily\"\ntasks:\n  a: { kind: shell, command: [true] }\n");
  dir.Write("dags/broken.yaml", "dag: broken\ntasks:\n  a: { kind: shell, command: [true]\n");
  const std::vector<BadInput> cases = {
      {{"dags", "next", "okk"}, "unknown DAG 'okk'"},
      {{"dags", "next", "broken"}, "broken.yaml:4:1: invalid YAML"},
      {{"dags", "next", "ok", "--from", "tomorrow"}, "--from: bad timestamp 'tomorrow'"},
      {{"dags", "next", "ok", "--from", "2026-02-30"}, "--from: bad timestamp '2026-02-30'"},
      {{"dags", "next", "ok", "--count", "0"}, "--count must be from 1 to 10000"},
      {{"dags", "next", "ok", "--count", "-3"}, "--count must be from 1 to 10000"},
      {{"dags", "next", "ok", "--count", "10001"}, "--count must be from 1 to 10000"},
      {{"dags", "next", "ok", "--count", "many"}, "--count"},
      {{"dags", "next"}, "dag is required"},
      {{"dags", "pause", "nope"}, "unknown DAG 'nope'"},
      {{"dags", "unpause", "okk"}, "(did you mean 'ok'?)"},
      {{"dags", "pause", "broken"}, "broken.yaml:4:1: invalid YAML"},
      {{"dags", "pause", "ok", "--dags", "nowhere"}, "(pass --dags DIR or set WEIR_DAGS)"},
      {{"dags", "pause"}, "dag is required"},
      {{"pools", "set", "gpu", "-1"}, "a pool cannot have negative slots (-1)"},
      {{"pools", "set", "gpu", "many"}, "SLOTS must be a whole number from 0 to 100000"},
      {{"pools", "set", "gpu", "100001"}, "SLOTS must be a whole number from 0 to 100000"},
      {{"pools", "set", "gpu", "2.5"}, "SLOTS must be a whole number from 0 to 100000"},
      {{"pools", "set", "gpu", ""}, "SLOTS must be a whole number from 0 to 100000"},
      {{"pools", "set", "a/b", "3"}, "pool name 'a/b': use only letters, digits"},
      {{"pools", "set", "gpu pool", "3"}, "use only letters, digits"},
      {{"pools", "set", "..", "3"}, "a pool cannot be named '..'"},
      {{"pools", "set", ".", "3"}, "a pool cannot be named '.'"},
      {{"pools", "set", "", "3"}, "a pool name cannot be empty"},
      {{"pools", "set", std::string(251, 'p'), "3"}, "is longer than 250 characters"},
      {{"pools", "set", "gpu"}, "slots is required"},
      {{"pools", "frob"}, "weir: "},
  };
  auto check_all = [&](const std::string& state) {
    const auto db = dir / "home" / "weir.db";
    const std::string before = DumpEveryTable(db);
    REQUIRE(before.find(state) != std::string::npos);
    for (const BadInput& c : cases) {
      std::vector<std::string> args = c.args;
      if (std::find(args.begin(), args.end(), "--dags") == args.end()) {
        args.insert(args.end(), {"--dags", "dags"});
      }
      args.insert(args.end(), {"--home", "home"});
      Output o = Weir(dir, args);
      INFO("weir " << fmt::format("{}", fmt::join(c.args, " ")) << "\nstderr: " << o.err);
      CHECK(o.exit_code == 2);
      CHECK(o.err.starts_with("weir: "));
      CHECK(o.err.find(c.expected) != std::string::npos);
      CHECK(o.out.empty());
      CHECK(CountLines(o.err) == 1);
      CHECK(DumpEveryTable(db) == before);
    }
  };
  SECTION("before any database exists, none is created") { check_all("<no database>"); }
  SECTION("with a paused DAG and a pool, neither changes") {
    REQUIRE(Weir(dir, {"dags", "pause", "ok", "--dags", "dags", "--home", "home"}).exit_code == 0);
    REQUIRE(Weir(dir, {"pools", "set", "gpu", "2", "--home", "home"}).exit_code == 0);
    check_all("gpu|2|");
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST_CASE("weir run --date picks the schedule's interval that starts that day", "[e2e]") {
  TempDir dir;
  dir.Write("dags/d.yaml", R"(
dag: nightly
schedule: "30 2 * * *"
timezone: Europe/Berlin
tasks:
  a: { kind: shell, script: "echo $WEIR_DS $WEIR_DATA_INTERVAL_START $WEIR_DATA_INTERVAL_END" }
)");
  dir.Write("dags/w.yaml", R"(
dag: weekly
schedule: "0 6 * * mon"
tasks:
  a: { kind: shell, command: [true] }
)");
  Output run =
      Weir(dir, {"run", "nightly", "--date", "2026-03-29", "--dags", "dags", "--home", "home"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  // 02:30 does not exist in Berlin on 2026-03-29: that day's interval starts at 03:00 CEST.
  const std::string run_id = "nightly@2026-03-29T01:00:00Z~manual-1";
  CHECK(run.out.find("run " + run_id + ": success") != std::string::npos);
  Output log = Weir(dir, {"tasks", "logs", run_id, "a", "--home", "home"});
  CHECK(log.out == "2026-03-29 2026-03-29T01:00:00Z 2026-03-30T00:30:00Z\n");

  Output tuesday =
      Weir(dir, {"run", "weekly", "--date", "2026-01-06", "--dags", "dags", "--home", "home"});
  CHECK(tuesday.exit_code == 2);
  CHECK(tuesday.err ==
        "weir: --date 2026-01-06: the schedule '0 6 * * mon' of DAG 'weekly' has no interval "
        "starting that day; pass --start and --end\n");
  Output monday =
      Weir(dir, {"run", "weekly", "--date", "2026-01-05", "--dags", "dags", "--home", "home"});
  CHECK(monday.exit_code == 0);
  CHECK(monday.out.find("weekly@2026-01-05T06:00:00Z~manual-1: success") != std::string::npos);
}

}  // namespace
}  // namespace weir

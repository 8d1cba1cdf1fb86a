// Whole-binary tests: the real `weir` executable, real DAG files, a real state database.
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"

namespace weir {
namespace {

using testing::ReadFile;
using testing::TempDir;

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs weir with `args` in `dir` (stdin empty, not a terminal).
Output Weir(const TempDir& dir, const std::vector<std::string>& args) {
  std::string command =
      fmt::format("cd {} && {}", ShellQuote(dir.path().string()), ShellQuote(WEIR_BINARY));
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += fmt::format(" </dev/null >{} 2>{}", ShellQuote((dir / "stdout").string()),
                         ShellQuote((dir / "stderr").string()));
  int status = std::system(command.c_str());
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = ReadFile(dir / "stdout");
  o.err = ReadFile(dir / "stderr");
  return o;
}

// Every row of every table, as text: equal dumps mean an unchanged database.
std::string Dump(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db)) return "<no database>";
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  auto collect = [](void* sink, int n, char** values, char**) {
    auto* s = static_cast<std::string*>(sink);
    for (int i = 0; i < n; ++i) *s += std::string(values[i] ? values[i] : "NULL") + "|";
    *s += "\n";
    return 0;
  };
  for (const char* table : {"dag_versions", "runs", "task_instances", "attempts", "audit_events"}) {
    out += std::string("## ") + table + "\n";
    std::string sql = std::string("SELECT * FROM ") + table + " ORDER BY 1, 2";
    REQUIRE(sqlite3_exec(handle, sql.c_str(), collect, &out, nullptr) == SQLITE_OK);
  }
  sqlite3_close(handle);
  return out;
}

int CountLines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

const std::string kExampleDags = std::string(WEIR_SOURCE_DIR) + "/examples/dags";

TEST_CASE("weir run builds the example training set end to end", "[e2e]") {
  TempDir dir;
  std::vector<std::string> where = {"--dags", kExampleDags, "--home", (dir / "home").string()};
  auto args = where;
  args.insert(args.begin(), {"run", "user_training_set", "--date", "2026-01-16"});
  Output run = Weir(dir, args);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("run user_training_set@2026-01-16T00:00:00Z~manual-1: success") !=
        std::string::npos);
  CHECK(run.out.find("check_training_set  success") != std::string::npos);
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

TEST_CASE("params may come before the DAG id and be repeated; logs are found from anywhere",
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
  const std::string before = Dump(dir / "home" / "weir.db");
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
    CHECK(Dump(dir / "home" / "weir.db") == before);
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
  CHECK(list.out.find("user_training_set  0 2 * * *") != std::string::npos);
}

}  // namespace
}  // namespace weir

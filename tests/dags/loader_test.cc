#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/hash.h"
#include "dags/dags.h"
#include "tests/testing/temp_dir.h"

namespace weir::dags {
namespace {

using Catch::Contains;
using Catch::StartsWith;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

LoadResult Load(std::string_view text, const LoadOptions& options = {}) {
  return LoadDagText(text, "dag.yaml", options);
}

std::vector<std::string> Errors(const LoadResult& result) {
  std::vector<std::string> out;
  for (const Diagnostic& d : result.errors) out.push_back(d.ToString());
  return out;
}

// The one error loading `text` gives, as "file:line:col: reason"; fails the test on any other
// number of errors.
std::string OnlyError(std::string_view text, const LoadOptions& options = {}) {
  LoadResult result = Load(text, options);
  INFO("errors: " << Catch::Detail::stringify(Errors(result)));
  REQUIRE(result.errors.size() == 1);
  CHECK(result.dags.empty());
  return result.errors[0].ToString();
}

// A DAG file with one valid shell task `a` plus `tasks_tail` appended under `tasks:`.
std::string WithTasks(std::string_view head, std::string_view tasks_tail = "") {
  return std::string("dag: d\n") + std::string(head) +
         "tasks:\n"
         "  a:\n"
         "    kind: shell\n"
         "    script: echo a\n" +
         std::string(tasks_tail);
}

// --- A valid DAG
// ----------------------------------------------------------------------------------

constexpr const char* kFullDag = R"(dag: user_training_set
description: Daily training set
schedule: "0 2 * * *"
timezone: Europe/Berlin
start_date: 2026-01-01
end_date: 2026-12-31
catchup: true
max_active_runs: 4
max_active_tasks: 8
params: { min_events: 5, ratio: 0.25, full: false, label: churn, nothing: null }
warehouse: warehouse.db
defaults:
  description: default description
  trigger_rule: all_done
  retries: 3
  retry_delay: 30s
  retry_backoff: exponential
  max_retry_delay: 10m
  timeout: 1h
  pool: default
  priority_weight: 2
  cache: false
tasks:
  extract:
    kind: shell
    command: [python3, extract.py, "--day={{ ds }}", "--min={{ params.min_events }}"]
    env: { MODE: full, LIMIT: 10 }
    cwd: jobs
  transform:
    kind: shell
    deps: [extract]
    description: transform it
    trigger_rule: one_failed
    retries: 0
    retry_delay: 5s
    retry_backoff: fixed
    max_retry_delay: 1m
    timeout: 90s
    pool: heavy.pool-1
    priority_weight: 10
    cache: true
    script: |
      echo {{ ds_nodash }} {{ params.label }} {{ run_id }} {{ try_number }}
  check:
    kind: shell
    deps: transform
    script: "true"
)";

TEST_CASE("a valid DAG with every key loads into the model", "[dags]") {
  LoadResult result = Load(kFullDag);
  INFO(Catch::Detail::stringify(Errors(result)));
  REQUIRE(result.errors.empty());
  REQUIRE(result.dags.size() == 1);
  CHECK(result.files == 1);
  const Dag& dag = *result.dags[0];
  CHECK(result.Find("user_training_set") == result.dags[0]);
  CHECK(result.Find("other") == nullptr);

  CHECK(dag.id == "user_training_set");
  CHECK(dag.description == "Daily training set");
  CHECK(dag.schedule.kind() == Schedule::Kind::kCron);
  CHECK(dag.schedule.text() == "0 2 * * *");
  CHECK(dag.timezone == "Europe/Berlin");
  CHECK(dag.start_date == CivilDate{2026, 1, 1});
  CHECK(dag.end_date == CivilDate{2026, 12, 31});
  CHECK(dag.catchup);
  CHECK(dag.max_active_runs == 4);
  CHECK(dag.max_active_tasks == 8);
  CHECK(dag.warehouse == "warehouse.db");
  CHECK(dag.file_display == "dag.yaml");
  CHECK(dag.content_hash == Sha256Hex(kFullDag));
  CHECK(dag.loc.ToString() == "dag.yaml:1:1");

  const Value::Map& params = dag.params.AsMap();
  REQUIRE(params.size() == 5);
  CHECK(params[0].first == "min_events");
  CHECK(params[0].second == Value::Int(5));
  CHECK(params[1].first == "ratio");
  CHECK(params[1].second == Value::Double(0.25));
  CHECK(params[2].second == Value::Bool(false));
  CHECK(params[3].second == Value::String("churn"));
  CHECK(params[4].second.is_null());

  REQUIRE(dag.tasks.size() == 3);
  const TaskSpec& extract = dag.tasks[0];
  CHECK(extract.id == "extract");
  CHECK(extract.kind == "shell");
  CHECK(extract.loc.ToString() == "dag.yaml:24:3");
  // Defaults apply to a task that sets nothing itself.
  CHECK(extract.description == "default description");
  CHECK(extract.trigger_rule == TriggerRule::kAllDone);
  CHECK(extract.retry.retries == 3);
  CHECK(extract.retry.retry_delay == seconds(30));
  CHECK(extract.retry.backoff == Backoff::kExponential);
  CHECK(extract.retry.max_retry_delay == minutes(10));
  CHECK(extract.timeout == hours(1));
  CHECK(extract.pool == "default");
  CHECK(extract.priority_weight == 2);
  CHECK_FALSE(extract.cache);
  CHECK(extract.deps.empty());
  // The config holds only the kind's own keys, templates unrendered.
  REQUIRE(extract.config.is_map());
  REQUIRE(extract.config.AsMap().size() == 3);
  CHECK(extract.config.Find("kind") == nullptr);
  CHECK(extract.config.Find("command")->AsList()[2] == Value::String("--day={{ ds }}"));
  CHECK(extract.config.Find("env")->Find("LIMIT")->AsInt() == 10);
  CHECK(extract.config.Find("cwd")->AsString() == "jobs");

  // A task's own keys override the defaults.
  const TaskSpec& transform = dag.tasks[1];
  CHECK(transform.deps == std::vector<std::string>{"extract"});
  CHECK(transform.description == "transform it");
  CHECK(transform.trigger_rule == TriggerRule::kOneFailed);
  CHECK(transform.retry.retries == 0);
  CHECK(transform.retry.retry_delay == seconds(5));
  CHECK(transform.retry.backoff == Backoff::kFixed);
  CHECK(transform.retry.max_retry_delay == minutes(1));
  CHECK(transform.timeout == seconds(90));
  CHECK(transform.pool == "heavy.pool-1");
  CHECK(transform.priority_weight == 10);
  CHECK(transform.cache);
  CHECK(transform.config.Find("script")->AsString() ==
        "echo {{ ds_nodash }} {{ params.label }} {{ run_id }} {{ try_number }}\n");

  // `deps:` may be a single id.
  CHECK(dag.tasks[2].deps == std::vector<std::string>{"transform"});
  CHECK(dag.TaskIndex("check") == 2);
  CHECK(dag.TaskIndex("nope") == -1);
  CHECK(dag.FindTask("transform") == &dag.tasks[1]);

  REQUIRE(dag.graph.size() == 3);
  CHECK(dag.graph.TopologicalOrder() == std::vector<int>{0, 1, 2});
  CHECK(dag.graph.Upstream(2) == std::vector<int>{1});
  CHECK(dag.graph.DownstreamCounts() == std::vector<int>{2, 1, 0});
}

TEST_CASE("a minimal DAG gets the documented defaults", "[dags]") {
  LoadResult result = Load(WithTasks(""));
  REQUIRE(result.errors.empty());
  const Dag& dag = *result.dags.at(0);
  CHECK(dag.schedule.kind() == Schedule::Kind::kNone);
  CHECK(dag.timezone == "UTC");
  CHECK_FALSE(dag.start_date);
  CHECK_FALSE(dag.end_date);
  CHECK_FALSE(dag.catchup);
  CHECK(dag.params.AsMap().empty());
  const TaskSpec& a = dag.tasks.at(0);
  CHECK(a.trigger_rule == TriggerRule::kAllSuccess);
  CHECK(a.retry.retries == 0);
  CHECK_FALSE(a.timeout);
  CHECK(a.pool == "default");
  CHECK_FALSE(a.priority_weight);
  CHECK(a.cache);
}

TEST_CASE("a DAG file may begin with '---' and end with an empty document", "[dags]") {
  CHECK(Load("---\n" + WithTasks("")).errors.empty());
  CHECK(Load(WithTasks("") + "---\n").errors.empty());
}

TEST_CASE("the example DAGs in examples/dags load without errors", "[dags]") {
  std::filesystem::path examples = std::filesystem::path(WEIR_SOURCE_DIR) / "examples" / "dags";
  if (!std::filesystem::exists(examples)) return;
  LoadResult result = LoadDags({examples}, examples);
  INFO(Catch::Detail::stringify(Errors(result)));
  CHECK(result.errors.empty());
  CHECK(result.files >= 1);
  CHECK(result.dags.size() == result.files);
}

// --- Errors: FILE:LINE:COL: reason ---------------------------------------------------------------

TEST_CASE("invalid YAML is reported with the line and column where the parser stopped", "[dags]") {
  CHECK(OnlyError("dag: d\ntasks: [a, b\n") ==
        "dag.yaml:3:1: invalid YAML: end of sequence flow not found");
  CHECK(OnlyError("dag: d\ntasks: a: b\n") == "dag.yaml:2:9: invalid YAML: illegal map value");
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n   script: x\n") ==
        "dag.yaml:5:4: invalid YAML: end of map not found");
}

TEST_CASE("a file that is not a map of keys is refused", "[dags]") {
  CHECK(OnlyError("") ==
        "dag.yaml:1:1: a DAG file must be a map with at least 'dag:' and 'tasks:'");
  CHECK(OnlyError("- a\n- b\n") ==
        "dag.yaml:1:1: a DAG file must be a map with at least 'dag:' and 'tasks:'");
  CHECK(OnlyError("just text\n") ==
        "dag.yaml:1:1: a DAG file must be a map with at least 'dag:' and 'tasks:'");
}

TEST_CASE("a second YAML document in a DAG file is an error, not silently ignored", "[dags]") {
  CHECK(OnlyError(WithTasks("") + "---\ndag: other\n") ==
        "dag.yaml:7:1: a second YAML document ('---'); a DAG file holds one DAG");
}

TEST_CASE("a duplicate top-level key is reported where it is repeated", "[dags]") {
  CHECK(OnlyError("dag: d\nschedule: '@daily'\nschedule: '@hourly'\ntasks:\n  a:\n"
                  "    kind: shell\n    script: x\n") ==
        "dag.yaml:3:1: duplicate key 'schedule' (first at line 2)");
}

TEST_CASE("a duplicate key inside a task and a duplicate task id are reported", "[dags]") {
  CHECK(OnlyError(WithTasks("", "    retries: 1\n    retries: 2\n")) ==
        "dag.yaml:7:5: duplicate key 'retries' (first at line 6)");
  CHECK(OnlyError(WithTasks("", "  a:\n    kind: shell\n    script: again\n")) ==
        "dag.yaml:6:3: duplicate key 'a' (first at line 3)");
}

TEST_CASE("an unknown key in a task points at the key and suggests the right one", "[dags]") {
  CHECK(OnlyError(WithTasks("", "    retires: 3\n")) ==
        "dag.yaml:6:5: unknown key 'retires' in shell task (did you mean 'retries'?)");
  // An empty value still points at its key, not at whatever follows it.
  CHECK(OnlyError(WithTasks("", "    retires:\n")) ==
        "dag.yaml:6:5: unknown key 'retires' in shell task (did you mean 'retries'?)");
  CHECK(OnlyError(WithTasks("", "    banana: 1\n")) ==
        "dag.yaml:6:5: unknown key 'banana' in shell task");
}

TEST_CASE("an unknown top-level key and an unknown key in defaults are reported", "[dags]") {
  CHECK(OnlyError(WithTasks("schedul: '@daily'\n")) ==
        "dag.yaml:2:1: unknown key 'schedul' in the DAG (did you mean 'schedule'?)");
  CHECK(OnlyError(WithTasks("defaults:\n  kind: shell\n")) ==
        "dag.yaml:3:3: unknown key 'kind' in defaults");
  CHECK(OnlyError(WithTasks("defaults:\n  timout: 5m\n")) ==
        "dag.yaml:3:3: unknown key 'timout' in defaults (did you mean 'timeout'?)");
}

TEST_CASE("a dependency cycle is reported once, naming its tasks in dependency order", "[dags]") {
  CHECK(OnlyError("dag: d\ntasks:\n"
                  "  a:\n    kind: shell\n    script: x\n    deps: [c]\n"
                  "  b:\n    kind: shell\n    script: x\n    deps: [a]\n"
                  "  c:\n    kind: shell\n    script: x\n    deps: [b]\n") ==
        "dag.yaml:3:3: dependency cycle: a -> b -> c -> a");
  std::string text =
      "dag: d\ntasks:\n"
      "  first:\n    kind: shell\n    script: x\n"
      "  a:\n    kind: shell\n    script: x\n    deps: [c]\n"
      "  b:\n    kind: shell\n    script: x\n    deps: [a]\n"
      "  c:\n    kind: shell\n    script: x\n    deps: [b, first]\n";
  // The search starts at `first`, so the cycle is entered at c; it is reported where c is written.
  CHECK(OnlyError(text) == "dag.yaml:14:3: dependency cycle: c -> a -> b -> c");
  CHECK(OnlyError("dag: d\ntasks:\n"
                  "  x: {kind: shell, script: x, deps: [y]}\n"
                  "  y: {kind: shell, script: x, deps: [x]}\n") ==
        "dag.yaml:3:3: dependency cycle: x -> y -> x");
}

TEST_CASE("a task that depends on itself is reported at that dep", "[dags]") {
  CHECK(OnlyError(WithTasks("", "    deps: [a]\n")) == "dag.yaml:6:12: task 'a' depends on itself");
}

TEST_CASE("a dep on a missing task is reported at that dep with a suggestion", "[dags]") {
  CHECK(OnlyError(WithTasks("",
                            "  b:\n    kind: shell\n    script: x\n    deps:\n"
                            "      - a\n      - extrct\n  extract:\n    kind: shell\n"
                            "    script: x\n")) ==
        "dag.yaml:11:9: task 'b' depends on 'extrct', which is not a task of this DAG (did you "
        "mean 'extract'?)");
  CHECK(OnlyError(WithTasks("", "    deps: zzzzzz\n")) ==
        "dag.yaml:6:11: task 'a' depends on 'zzzzzz', which is not a task of this DAG");
}

TEST_CASE("a bad cron expression is reported at the schedule with the field at fault", "[dags]") {
  CHECK(OnlyError(WithTasks("schedule: 61 * * * *\n")) ==
        "dag.yaml:2:11: cron expression '61 * * * *': minute field: 61 is out of range 0-59");
  CHECK(OnlyError(WithTasks("schedule: '* * * *'\n")) ==
        "dag.yaml:2:11: cron expression '* * * *' has 4 fields; expected 5 (minute hour "
        "day-of-month month day-of-week)");
  std::string sometimes = OnlyError(WithTasks("schedule: '@sometimes'\n"));
  CHECK_THAT(sometimes, StartsWith("dag.yaml:2:11: unknown schedule '@sometimes'"));
  CHECK_THAT(sometimes, Contains("@daily"));
  CHECK(OnlyError(WithTasks("schedule: '@dayly'\n")) ==
        "dag.yaml:2:11: unknown schedule '@dayly' (did you mean '@daily'?)");
}

TEST_CASE("an unknown time zone is reported at the timezone key's value", "[dags]") {
  CHECK(OnlyError(WithTasks("timezone: Mars/Olympus\n")) ==
        "dag.yaml:2:11: unknown time zone 'Mars/Olympus' (use an IANA name such as "
        "Europe/Berlin or UTC)");
}

TEST_CASE("a bad duration is reported at its value, in defaults and in a task", "[dags]") {
  CHECK(OnlyError(WithTasks("defaults:\n  retry_delay: 5 minutes\n")) ==
        "dag.yaml:3:16: 'retry_delay': bad duration '5 minutes': missing unit (use e.g. 500ms, "
        "30s, 10m, 2h, 7d)");
  CHECK(OnlyError(WithTasks("", "    timeout: 10x\n")) ==
        "dag.yaml:6:14: 'timeout': bad duration '10x': unknown unit 'x' (use e.g. 500ms, 30s, "
        "10m, 2h, 7d)");
  CHECK(OnlyError(WithTasks("", "    timeout: 0s\n")) ==
        "dag.yaml:6:14: 'timeout' must be greater than zero");
  CHECK_THAT(OnlyError(WithTasks("", "    retry_delay: -5s\n")),
             StartsWith("dag.yaml:6:18: 'retry_delay': bad duration '-5s'"));
}

TEST_CASE("an unknown template variable is an error at load time, with a suggestion", "[dags]") {
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n    script: echo {{ dss }}\n") ==
        "dag.yaml:5:13: unknown template variable 'dss' (did you mean 'ds'?)");
  CHECK(OnlyError(
            "dag: d\ntasks:\n  a:\n    kind: shell\n    command: [echo, '{{ nope_at_all }}']\n") ==
        "dag.yaml:5:21: unknown template variable 'nope_at_all'");
}

TEST_CASE("a template naming an undeclared param is an error", "[dags]") {
  CHECK(OnlyError("dag: d\nparams: {n: 1}\ntasks:\n  a:\n    kind: shell\n"
                  "    script: echo {{ params.x }} {{ params.n }}\n") ==
        "dag.yaml:6:13: param 'x' is not declared in 'params:' (did you mean 'params.n'?)");
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n"
                  "    script: echo {{ params.min_events }}\n") ==
        "dag.yaml:5:13: param 'min_events' is not declared in 'params:'");
}

TEST_CASE("a template with an expression or an unclosed placeholder is an error", "[dags]") {
  CHECK_THAT(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n    script: echo {{ ds + 1 }}\n"),
             StartsWith("dag.yaml:5:13: bad template placeholder '{{ ds + 1 }}' at offset 5"));
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n    script: echo {{ ds\n") ==
        "dag.yaml:5:13: unclosed '{{' at offset 5 in template");
}

TEST_CASE("an unknown task kind is reported with a suggestion or the known kinds", "[dags]") {
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shel\n    script: x\n") ==
        "dag.yaml:4:11: unknown task kind 'shel' (did you mean 'shell'?)");
  CHECK_THAT(OnlyError("dag: d\ntasks:\n  a:\n    kind: kubernetes_pod\n"),
             StartsWith("dag.yaml:4:11: unknown task kind 'kubernetes_pod' (known kinds: shell"));
  CHECK_THAT(OnlyError("dag: d\ntasks:\n  a:\n    script: x\n"),
             StartsWith("dag.yaml:4:5: task 'a' has no 'kind:' (one of: shell"));
}

TEST_CASE("a shell task needs exactly one of command and script", "[dags]") {
  const std::string why =
      "a shell task needs exactly one of 'command' (a list: program and arguments, run without a "
      "shell) or 'script' (text run by /bin/sh -c)";
  CHECK(OnlyError(WithTasks("", "    command: [echo]\n")) == "dag.yaml:4:5: " + why);
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: shell\n    env: {X: y}\n") ==
        "dag.yaml:4:5: " + why);
}

TEST_CASE("shell task config errors point at the offending value or key", "[dags]") {
  auto task = [](std::string_view body) {
    return "dag: d\ntasks:\n  a:\n    kind: shell\n" + std::string(body);
  };
  CHECK(OnlyError(task("    command: []\n")) ==
        "dag.yaml:5:14: 'command' must be a non-empty list of strings, e.g. [python3, x.py]");
  CHECK(OnlyError(task("    command: echo hi\n")) ==
        "dag.yaml:5:14: 'command' must be a non-empty list of strings, e.g. [python3, x.py]");
  CHECK(OnlyError(task("    command: [echo, {a: b}]\n")) ==
        "dag.yaml:5:21: each 'command' argument must be a string");
  CHECK(OnlyError(task("    script: ''\n")) ==
        "dag.yaml:5:13: 'script' must be a non-empty string");
  CHECK(OnlyError(task("    script:\n")) == "dag.yaml:5:5: 'script' must be a non-empty string");
  CHECK(OnlyError(task("    script: x\n    env: [A]\n")) ==
        "dag.yaml:6:10: 'env' must be a map of NAME: value");
  CHECK(OnlyError(task("    script: x\n    cwd: ''\n")) ==
        "dag.yaml:6:10: 'cwd' must be a non-empty path");
}

TEST_CASE("bad environment variable names in a shell task are reported at the name", "[dags]") {
  std::string text =
      "dag: d\ntasks:\n  a:\n    kind: shell\n    script: x\n    env:\n"
      "      1BAD: x\n      HAS-DASH: x\n      'with space': x\n      WEIR_DS: y\n"
      "      WEIR_PARAM_X: y\n      OK_1: [1]\n      Fine_name: 2\n";
  LoadResult result = Load(text);
  CHECK(Errors(result) ==
        std::vector<std::string>{
            "dag.yaml:7:7: '1BAD' is not a valid environment variable name",
            "dag.yaml:8:7: 'HAS-DASH' is not a valid environment variable name",
            "dag.yaml:9:7: 'with space' is not a valid environment variable name",
            "dag.yaml:10:7: 'WEIR_DS': names starting with WEIR_ are set by weir itself",
            "dag.yaml:11:7: 'WEIR_PARAM_X': names starting with WEIR_ are set by weir itself",
            "dag.yaml:12:13: env 'OK_1' must be a string or number",
        });
  CHECK(result.dags.empty());
}

TEST_CASE("a value of the wrong type is reported with the expected type", "[dags]") {
  CHECK(OnlyError(WithTasks("", "    retries: \"three\"\n")) ==
        "dag.yaml:6:14: 'retries' must be a whole number, not a string");
  CHECK(OnlyError(WithTasks("", "    retries: 2.5\n")) ==
        "dag.yaml:6:14: 'retries' must be a whole number, not a number");
  CHECK(OnlyError(WithTasks("", "    retries: 101\n")) ==
        "dag.yaml:6:14: 'retries' must be between 0 and 100");
  CHECK(OnlyError(WithTasks("", "    retries: -1\n")) ==
        "dag.yaml:6:14: 'retries' must be between 0 and 100");
  CHECK(OnlyError(WithTasks("", "    cache: 'true'\n")) ==
        "dag.yaml:6:12: 'cache' must be true or false");
  CHECK(OnlyError(WithTasks("catchup: yes\n")) == "dag.yaml:2:10: 'catchup' must be true or false");
  CHECK(OnlyError(WithTasks("max_active_runs: 0\n")) ==
        "dag.yaml:2:18: 'max_active_runs' must be between 1 and 10000");
  CHECK(OnlyError(WithTasks("description: [a]\n")) ==
        "dag.yaml:2:14: 'description' must be a string, not a list");
  CHECK(OnlyError(WithTasks("", "    deps: {b: c}\n")) ==
        "dag.yaml:6:11: 'deps' must be a list of task ids");
  CHECK(OnlyError(WithTasks("", "    deps: [[b]]\n")) ==
        "dag.yaml:6:12: each dep must be a task id");
  CHECK(OnlyError(WithTasks("", "    trigger_rule: all_sucess\n")) ==
        "dag.yaml:6:19: unknown trigger_rule 'all_sucess' (did you mean 'all_success'?)");
  CHECK(OnlyError(WithTasks("", "    retry_backoff: linear\n")) ==
        "dag.yaml:6:20: retry_backoff must be 'fixed' or 'exponential', not 'linear'");
  CHECK(OnlyError(WithTasks("", "    pool: a/b\n")) ==
        "dag.yaml:6:11: bad pool name 'a/b' (letters, digits, _ . -)");
}

TEST_CASE("dates are checked, and end_date may not come before start_date", "[dags]") {
  CHECK(OnlyError(WithTasks("start_date: 2026-02-29\n")) ==
        "dag.yaml:2:13: 'start_date': bad date '2026-02-29': no such day");
  CHECK(OnlyError(WithTasks("start_date: 2026-03-01\nend_date: 2026-02-01\n")) ==
        "dag.yaml:3:11: 'end_date' is before 'start_date'");
  CHECK(Load(WithTasks("start_date: 2024-02-29\nend_date: null\n")).errors.empty());
}

TEST_CASE("params must be a map of identifiers to scalar defaults", "[dags]") {
  CHECK(OnlyError(WithTasks("params: [a]\n")) ==
        "dag.yaml:2:9: 'params' must be a map of name: default value");
  CHECK(OnlyError(WithTasks("params:\n  ok: 1\n  1bad: 2\n")) ==
        "dag.yaml:4:3: bad param name '1bad': use letters, digits and '_'");
  CHECK(OnlyError(WithTasks("params:\n  x: [1, 2]\n")) ==
        "dag.yaml:3:6: param 'x' must have a scalar default (text, number, boolean or null)");
}

TEST_CASE("plain scalars are typed by the YAML 1.2 core schema, quoted ones stay text", "[dags]") {
  LoadResult result = Load(WithTasks(
      "params:\n"
      "  int: -42\n  plus: +7\n  big: 99999999999999999999\n  hex: 0x10\n  under: 1_000\n"
      "  fraction: .5\n  trailing_dot: 3.\n  exponent: 1e3\n  signed_exp: -2.5E-2\n"
      "  bad_exp: 1e\n  dot: .\n  yes: true\n  no: FALSE\n  null_tilde: ~\n  null_word: Null\n"
      "  quoted_int: '12'\n  quoted_bool: \"true\"\n  text: twelve\n"));
  INFO(Catch::Detail::stringify(Errors(result)));
  REQUIRE(result.errors.empty());
  const Value& p = result.dags.at(0)->params;
  auto type = [&](const char* key) { return p.Find(key)->type(); };
  CHECK(p.Find("int")->AsInt() == -42);
  CHECK(p.Find("plus")->AsInt() == 7);
  CHECK(p.Find("big")->AsString() == "99999999999999999999");  // out of range: text
  CHECK(p.Find("hex")->AsString() == "0x10");                  // not in the core schema
  CHECK(p.Find("under")->AsString() == "1_000");
  CHECK(p.Find("fraction")->AsDouble() == 0.5);
  CHECK(p.Find("trailing_dot")->AsDouble() == 3.0);
  CHECK(p.Find("exponent")->AsDouble() == 1000.0);
  CHECK(p.Find("signed_exp")->AsDouble() == -0.025);
  CHECK(p.Find("bad_exp")->AsString() == "1e");
  CHECK(p.Find("dot")->AsString() == ".");
  CHECK(p.Find("yes")->AsBool());
  CHECK_FALSE(p.Find("no")->AsBool());
  CHECK(type("null_tilde") == Value::Type::kNull);
  CHECK(type("null_word") == Value::Type::kNull);
  CHECK(p.Find("quoted_int")->AsString() == "12");
  CHECK(p.Find("quoted_bool")->AsString() == "true");
  CHECK(p.Find("text")->AsString() == "twelve");
}

TEST_CASE("anchors and aliases are expanded, also where an alias is a key", "[dags]") {
  LoadResult result = Load(
      "dag: d\n"
      "params: {&name label: &value churn, other: *value, *name : again}\n"
      "tasks:\n"
      "  a: &task {kind: shell, command: [echo, &word hi]}\n"
      "  b: *task\n"
      "  c: {kind: shell, command: [echo, *word], deps: [a, b]}\n");
  INFO(Catch::Detail::stringify(Errors(result)));
  REQUIRE(result.errors.size() == 1);  // `*name : again` repeats the key `label`
  CHECK(result.errors[0].ToString() == "dag.yaml:2:52: duplicate key 'label' (first at line 2)");
  result = Load(
      "dag: d\n"
      "params: {&name label: &value churn, other: *value}\n"
      "x: {*name : 1}\n"
      "tasks:\n"
      "  a: &task {kind: shell, command: [echo, &word hi]}\n"
      "  b: *task\n"
      "  c: {kind: shell, command: [echo, *word], deps: [a, b]}\n");
  REQUIRE(Errors(result) == std::vector<std::string>{"dag.yaml:3:1: unknown key 'x' in the DAG"});
}

TEST_CASE("bad DAG and task ids are refused", "[dags]") {
  CHECK(OnlyError(WithTasks("").replace(0, 6, "dag: ..")) ==
        "dag.yaml:1:6: bad DAG id '..': use letters, digits, '_', '.' and '-'");
  CHECK(OnlyError(WithTasks("").replace(0, 6, "dag: a/b")) ==
        "dag.yaml:1:6: bad DAG id 'a/b': use letters, digits, '_', '.' and '-'");
  CHECK(OnlyError(WithTasks("").replace(0, 6, "dag: 'a b'")) ==
        "dag.yaml:1:6: bad DAG id 'a b': use letters, digits, '_', '.' and '-'");
  CHECK(OnlyError(WithTasks("", "  ..:\n    kind: shell\n    script: x\n")) ==
        "dag.yaml:6:3: bad task id '..': use letters, digits, '_', '.' and '-'");
  CHECK(OnlyError(WithTasks("", "  a/b:\n    kind: shell\n    script: x\n")) ==
        "dag.yaml:6:3: bad task id 'a/b': use letters, digits, '_', '.' and '-'");
  CHECK(Load(WithTasks("", "  .hidden-ok_1.2:\n    kind: shell\n    script: x\n")).errors.empty());
}

TEST_CASE("a DAG without an id or tasks is refused", "[dags]") {
  CHECK(OnlyError("tasks:\n  a: {kind: shell, script: x}\n") ==
        "dag.yaml:1:1: missing 'dag:' (the DAG's id)");
  CHECK(OnlyError("dag: d\n") == "dag.yaml:1:1: missing 'tasks:' (a map of task id to task)");
  CHECK(OnlyError("dag: d\ntasks:\n") ==
        "dag.yaml:2:1: 'tasks' must be a map of task id to task, with at least one task");
  CHECK(OnlyError("dag: d\ntasks: {}\n") ==
        "dag.yaml:2:8: 'tasks' must be a map of task id to task, with at least one task");
  CHECK(OnlyError("dag: d\ntasks:\n  a: 1\n") ==
        "dag.yaml:3:6: task 'a' must be a map with at least 'kind:'");
}

TEST_CASE("every error of a file is reported in one pass, and its DAG is marked broken", "[dags]") {
  std::string text =
      "dag: d\nschedule: '61 * * * *'\ntimezone: Nowhere/Land\ntasks:\n"
      "  a:\n    kind: shell\n    script: echo {{ dss }}\n    retires: 1\n"
      "  b:\n    kind: shel\n";
  LoadResult result = Load(text);
  CHECK(Errors(result) ==
        std::vector<std::string>{
            "dag.yaml:2:11: cron expression '61 * * * *': minute field: 61 is out of range 0-59",
            "dag.yaml:3:11: unknown time zone 'Nowhere/Land' (use an IANA name such as "
            "Europe/Berlin or UTC)",
            "dag.yaml:8:5: unknown key 'retires' in shell task (did you mean 'retries'?)",
            "dag.yaml:7:13: unknown template variable 'dss' (did you mean 'ds'?)",
            "dag.yaml:10:11: unknown task kind 'shel' (did you mean 'shell'?)",
        });
  CHECK(result.dags.empty());
  CHECK(result.broken.at("d") == "dag.yaml");
}

// --- Hostile input -------------------------------------------------------------------------------

TEST_CASE("a billion-laughs alias bomb is refused quickly instead of being expanded", "[dags]") {
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b', prev = 'a'; c <= 'i'; prev = c, ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  std::string error = OnlyError(bomb);
  CHECK_THAT(error, StartsWith("dag.yaml:"));
  CHECK_THAT(error, Contains("expands to more than 10000 YAML nodes through aliases (an alias "
                             "bomb?); refusing to load it"));
}

TEST_CASE("the alias-bomb node budget is configurable", "[dags]") {
  LoadOptions options;
  CHECK(options.max_nodes == 1'000'000);
  options.max_nodes = 50;
  std::string text = "x: &x [1, 2, 3, 4, 5, 6, 7, 8]\ny: [*x, *x, *x, *x, *x, *x, *x, *x]\n";
  CHECK_THAT(OnlyError(text, options),
             Contains("expands to more than 50 YAML nodes through aliases (an alias bomb?)"));
}

TEST_CASE("a large DAG written out in full is never mistaken for an alias bomb", "[dags]") {
  std::string text = "dag: big\ntasks:\n";
  for (int i = 0; i < 20'000; ++i) {
    text += "  t" + std::to_string(i) + ": {kind: shell, command: [a, b]";
    if (i > 0) text += ", deps: [t" + std::to_string(i - 1) + "]";
    text += "}\n";
  }
  auto loaded = LoadDagText(text, "big.yaml");
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.dags.at(0)->tasks.size() == 20'000);
}

TEST_CASE("a self-referencing alias is refused, naming where", "[dags]") {
  CHECK(OnlyError("a: &a [*a]\n") ==
        "dag.yaml:1:8: an alias inside the node of its own anchor (a node cannot contain "
        "itself); refusing to load it");
  CHECK(OnlyError("a: &a {b: [1, {c: *a}]}\n")
            .ends_with("a node cannot contain itself); "
                       "refusing to load it"));
}

TEST_CASE("nesting deeper than 64 levels is refused with a clear error", "[dags]") {
  auto nested = [](int levels) {
    return "dag: d\nparams:\n  x: " + std::string(levels, '[') + std::string(levels, ']') + "\n";
  };
  CHECK(LoadOptions{}.max_depth == 64);
  // Not refused for depth: the error is about the param, which must be a scalar.
  CHECK_THAT(Load(nested(60)).errors.at(0).message, Contains("must have a scalar default"));
  CHECK(OnlyError(nested(64)) ==
        "dag.yaml:3:69: nesting deeper than 64 levels; refusing to load it");
  // Far deeper input is refused by the YAML parser's own guard, with the same message.
  for (int levels : {1000, 100'000}) {
    INFO(levels);
    std::string error = OnlyError(nested(levels));
    CHECK_THAT(error, StartsWith("dag.yaml:3:"));
    CHECK_THAT(error, Contains("nesting deeper than 64 levels; refusing to load it"));
  }
  std::string maps = "x: ";
  for (int i = 0; i < 100'000; ++i) maps += "{a: ";
  maps += "1" + std::string(100'000, '}');
  CHECK_THAT(OnlyError(maps), Contains("nesting deeper than 64 levels"));
}

TEST_CASE("a file over 10 MiB is refused without being parsed", "[dags]") {
  testing::TempDir dir;
  std::filesystem::path big = dir / "big.yaml";
  {
    std::ofstream out(big, std::ios::binary);
    out << "dag: big\ndescription: ";
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 20; ++i) out << chunk;
    out << "\ntasks: [not, valid, [\n";  // would be a YAML error if it were parsed
  }
  std::uintmax_t size = std::filesystem::file_size(big);
  REQUIRE(size > 20'000'000);
  CHECK(LoadOptions{}.max_file_bytes == 10u << 20);
  LoadResult result = LoadDags({dir.path()}, dir.path());
  CHECK(result.files == 1);
  CHECK(result.dags.empty());
  CHECK(Errors(result) == std::vector<std::string>{"big.yaml: the file is " + std::to_string(size) +
                                                   " bytes, over the limit of 10485760"});

  std::string text = "dag: d\ndescription: " + std::string(11 << 20, 'y');
  CHECK(Errors(Load(text)) ==
        std::vector<std::string>{"dag.yaml: the file is " + std::to_string(text.size()) +
                                 " bytes, over the limit of 10485760"});
}

TEST_CASE("a NUL byte is refused with its line and column", "[dags]") {
  using namespace std::string_literals;
  CHECK(OnlyError("dag: d\ntasks:\n  a:\n    kind: s\0hell\n"s) ==
        "dag.yaml:4:12: the file contains a NUL byte; DAG files must be UTF-8 text");
}

TEST_CASE("invalid UTF-8 is refused with its line and byte column", "[dags]") {
  CHECK(OnlyError("dag: d\ndescription: \"caf\xC3\xA9 \xFF\"\n") ==
        "dag.yaml:2:21: invalid UTF-8; DAG files must be UTF-8 text");
  CHECK(OnlyError("dag: d\n# overlong slash \xC0\xAF\n") ==
        "dag.yaml:2:18: invalid UTF-8; DAG files must be UTF-8 text");
  CHECK(OnlyError("\xED\xA0\x80: surrogate\n") ==
        "dag.yaml:1:1: invalid UTF-8; DAG files must be UTF-8 text");
}

TEST_CASE("columns count bytes on every error, also after non-ASCII text on the line", "[dags]") {
  // yaml-cpp's marks count bytes; "é" is two of them.
  LoadResult result = Load("dag: d\ntasks: {\"\xC3\xA9\": 1}\n");
  REQUIRE_FALSE(result.errors.empty());
  CHECK(result.errors[0].ToString() ==
        "dag.yaml:2:9: bad task id '\xC3\xA9': use letters, digits, '_', '.' and '-'");
  CHECK(OnlyError("dag: d\ndescription: \xC3\xA9\xC3\xA9 \xFF\n") ==
        "dag.yaml:2:19: invalid UTF-8; DAG files must be UTF-8 text");
}

TEST_CASE("more tasks than max_tasks are refused, the default limit is 100,000", "[dags]") {
  CHECK(LoadOptions{}.max_tasks == 100'000);
  auto dag_with = [](int n) {
    std::string text = "dag: many\ntasks:\n";
    for (int i = 0; i < n; ++i) {
      text += "  t" + std::to_string(i) + ": {kind: shell, script: x}\n";
    }
    return text;
  };
  LoadOptions options;
  options.max_tasks = 100;
  CHECK(Load(dag_with(100), options).errors.empty());
  CHECK(OnlyError(dag_with(101), options) ==
        "dag.yaml:3:3: 101 tasks is more than the limit of 100");
}

// --- Folders of DAG files ------------------------------------------------------------------------

TEST_CASE("LoadDags over a folder reports the errors of every file, not only the first", "[dags]") {
  testing::TempDir dir;
  dir.Write("a_bad.yaml", WithTasks("schedule: '61 * * * *'\n").replace(0, 6, "dag: bad_a"));
  dir.Write("b_good.yaml", WithTasks("").replace(0, 6, "dag: good"));
  dir.Write("nested/c_bad.yml", "dag: bad_c\ntasks:\n  t:\n    kind: shel\n");
  dir.Write("nested/deeper/d_bad.yaml", "dag: [\n");
  dir.Write("notes.txt", "not: [a dag");
  dir.Write("README.md", "# not a dag");

  LoadResult result = LoadDags({dir.path()}, dir.path());
  CHECK(result.files == 4);
  REQUIRE(result.dags.size() == 1);
  CHECK(result.dags[0]->id == "good");
  CHECK(result.dags[0]->file_display == "b_good.yaml");
  CHECK(result.dags[0]->file == std::filesystem::weakly_canonical(dir.path() / "b_good.yaml"));
  std::vector<std::string> errors = Errors(result);
  REQUIRE(errors.size() == 3);
  CHECK_THAT(errors[0], StartsWith("a_bad.yaml:2:11: cron expression"));
  CHECK(errors[1] == "nested/c_bad.yml:4:11: unknown task kind 'shel' (did you mean 'shell'?)");
  CHECK_THAT(errors[2], StartsWith("nested/deeper/d_bad.yaml:2:1: invalid YAML:"));
  CHECK(result.broken.at("bad_a") == "a_bad.yaml");
  CHECK(result.broken.at("bad_c") == "nested/c_bad.yml");
}

TEST_CASE("the same DAG id in two files is an error in the second file", "[dags]") {
  testing::TempDir dir;
  dir.Write("one.yaml", WithTasks("").replace(0, 6, "dag: same"));
  dir.Write("two.yaml", "# the same id again\n" + WithTasks("").replace(0, 6, "dag: same"));
  LoadResult result = LoadDags({dir.path()}, dir.path());
  REQUIRE(result.dags.size() == 1);
  CHECK(result.dags[0]->file_display == "one.yaml");
  CHECK(Errors(result) ==
        std::vector<std::string>{"two.yaml:2:1: DAG id 'same' is already defined in one.yaml"});
}

TEST_CASE("LoadDags accepts single files, sorts DAGs by id and reports missing paths", "[dags]") {
  testing::TempDir dir;
  std::filesystem::path z = dir.Write("z.yaml", WithTasks("").replace(0, 6, "dag: alpha"));
  std::filesystem::path a = dir.Write("a.yaml", WithTasks("").replace(0, 6, "dag: zulu"));
  LoadResult result = LoadDags({z, a, dir / "missing.yaml"}, dir.path());
  CHECK(result.files == 2);
  REQUIRE(result.dags.size() == 2);
  CHECK(result.dags[0]->id == "alpha");
  CHECK(result.dags[1]->id == "zulu");
  CHECK(Errors(result) ==
        std::vector<std::string>{(dir / "missing.yaml").string() + ": no such file or folder"});
}

// --- ResolveParams -------------------------------------------------------------------------------

std::shared_ptr<const Dag> ParamsDag() {
  LoadResult result = Load(WithTasks(
      "params:\n  min_events: 5\n  ratio: 0.5\n  full: false\n  label: churn\n  empty: null\n"));
  REQUIRE(result.errors.empty());
  return result.dags.at(0);
}

TEST_CASE("ResolveParams reads each override as the type of its default", "[dags]") {
  auto dag = ParamsDag();
  auto params = ResolveParams(*dag, {{"min_events", "7"},
                                     {"ratio", "1e-3"},
                                     {"full", "true"},
                                     {"label", "it's; $(id)"},
                                     {"empty", "now text"}});
  REQUIRE(params.has_value());
  CHECK(*params->Find("min_events") == Value::Int(7));
  CHECK(*params->Find("ratio") == Value::Double(0.001));
  CHECK(*params->Find("full") == Value::Bool(true));
  CHECK(*params->Find("label") == Value::String("it's; $(id)"));
  CHECK(*params->Find("empty") == Value::String("now text"));
  // The DAG's own defaults are untouched, and no override keeps them.
  CHECK(*dag->params.Find("min_events") == Value::Int(5));
  CHECK(ResolveParams(*dag, {}).value() == dag->params);
  CHECK(*ResolveParams(*dag, {{"min_events", "-3"}})->Find("min_events") == Value::Int(-3));
}

TEST_CASE("ResolveParams refuses an undeclared param with a hint", "[dags]") {
  auto dag = ParamsDag();
  auto typo = ResolveParams(*dag, {{"min_event", "3"}});
  REQUIRE_FALSE(typo);
  CHECK(typo.error().code == ErrorCode::kInvalidArgument);
  CHECK(typo.error().message ==
        "--param min_event: DAG 'd' declares no param 'min_event' (did you mean 'min_events'?)");
  CHECK(ResolveParams(*dag, {{"zzz", "1"}}).error().message ==
        "--param zzz: DAG 'd' declares no param 'zzz' (it declares: min_events, ratio, full, "
        "label, empty)");
  LoadResult plain = Load(WithTasks(""));
  CHECK(ResolveParams(*plain.dags.at(0), {{"x", "1"}}).error().message ==
        "--param x: DAG 'd' declares no param 'x' (it declares none)");
}

TEST_CASE("ResolveParams refuses text that is not of the default's type", "[dags]") {
  auto dag = ParamsDag();
  struct Case {
    const char* name;
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"min_events", "five",
       "--param min_events=five: expected a whole number, like its default 5"},
      {"min_events", "5.5", "--param min_events=5.5: expected a whole number, like its default 5"},
      {"min_events", "", "--param min_events=: expected a whole number, like its default 5"},
      {"min_events", "5 ", "--param min_events=5 : expected a whole number, like its default 5"},
      {"min_events", "99999999999999999999",
       "--param min_events=99999999999999999999: expected a whole number, like its default 5"},
      {"ratio", "half", "--param ratio=half: expected a number, like its default 0.5"},
      {"ratio", "", "--param ratio=: expected a number, like its default 0.5"},
      {"full", "yes", "--param full=yes: expected true or false, like its default false"},
      {"full", "1", "--param full=1: expected true or false, like its default false"},
      {"full", "TRUE", "--param full=TRUE: expected true or false, like its default false"},
      {"label", "bad\xFF", "--param label=bad\\xff: expected UTF-8 text, like its default churn"},
  };
  for (const Case& c : cases) {
    INFO(c.name << "=" << c.text);
    auto params = ResolveParams(*dag, {{c.name, c.text}});
    REQUIRE_FALSE(params);
    CHECK(params.error().code == ErrorCode::kInvalidArgument);
    CHECK(params.error().message == c.message);
  }
}

}  // namespace
}  // namespace weir::dags

namespace weir::dags {
namespace {

TEST_CASE("an empty dag id or task kind is reported as missing", "[dags]") {
  auto no_id = LoadDagText("dag: ~\ntasks:\n  a: { kind: shell, command: [x] }\n", "d.yaml");
  REQUIRE(no_id.errors.size() == 1);
  CHECK(no_id.errors[0].ToString() == "d.yaml:1:1: missing 'dag:' (the DAG's id)");
  auto no_kind = LoadDagText("dag: d\ntasks:\n  a: { kind: , command: [x] }\n", "d.yaml");
  REQUIRE_FALSE(no_kind.errors.empty());
  CHECK(no_kind.errors[0].message.find("has no 'kind:'") != std::string::npos);
}

TEST_CASE("params whose names differ only in case are refused, as their variables would clash",
          "[dags]") {
  auto loaded = LoadDagText(
      "dag: d\nparams: { rate: 1, RATE: 2 }\ntasks:\n  a: { kind: shell, command: [x] }\n",
      "d.yaml");
  REQUIRE(loaded.errors.size() == 1);
  CHECK(loaded.errors[0].message ==
        "params 'rate' and 'RATE' would both be exported as WEIR_PARAM_RATE");
}

TEST_CASE("a number param refuses nan, inf and trailing text", "[dags]") {
  auto loaded = LoadDagText(
      "dag: d\nparams: { ratio: 0.5 }\ntasks:\n  a: { kind: shell, command: [x] }\n", "d.yaml");
  REQUIRE(loaded.errors.empty());
  const Dag& dag = *loaded.dags.at(0);
  for (const char* bad : {"nan", "inf", "-inf", "1.5x", " 1", ""}) {
    INFO(bad);
    CHECK_FALSE(ResolveParams(dag, {{"ratio", bad}}));
  }
  auto ok = ResolveParams(dag, {{"ratio", "0.25"}});
  REQUIRE(ok);
  CHECK(ok->Find("ratio")->AsDouble() == 0.25);
}

}  // namespace
}  // namespace weir::dags

namespace weir::dags {
namespace {

TEST_CASE("with a file cache, a folder loads again reading only the files that changed", "[dags]") {
  testing::TempDir dir;
  dir.Write("dags/a.yaml", "dag: a\ntasks:\n  t: { kind: shell, command: [x] }\n");
  dir.Write("dags/b.yaml", "dag: b\ntasks:\n  t: { kind: shell, command: [x] }\n");
  DagFileCache cache;
  LoadResult first = LoadDags({dir / "dags"}, dir / "dags", {}, &cache);
  REQUIRE(first.dags.size() == 2);
  LoadResult again = LoadDags({dir / "dags"}, dir / "dags", {}, &cache);
  REQUIRE(again.dags.size() == 2);
  // Unchanged files give back the very same parsed DAGs.
  CHECK(again.Find("a").get() == first.Find("a").get());
  CHECK(again.Find("b").get() == first.Find("b").get());

  dir.Write("dags/b.yaml", "dag: b\ntasks:\n  t: { kind: shell, command: [y, z] }\n");
  dir.Write("dags/c.yaml", "dag: a\ntasks:\n  t: { kind: shell, command: [x] }\n");
  LoadResult changed = LoadDags({dir / "dags"}, dir / "dags", {}, &cache);
  CHECK(changed.Find("a").get() == first.Find("a").get());
  CHECK(changed.Find("b").get() != first.Find("b").get());
  CHECK(changed.Find("b")->tasks[0].config.Find("command")->AsList().size() == 2);
  // A duplicate id is still found across cached and fresh files.
  REQUIRE(changed.errors.size() == 1);
  CHECK(changed.errors[0].message == "DAG id 'a' is already defined in a.yaml");

  std::filesystem::remove(dir / "dags" / "c.yaml");
  std::filesystem::remove(dir / "dags" / "a.yaml");
  LoadResult removed = LoadDags({dir / "dags"}, dir / "dags", {}, &cache);
  CHECK(removed.errors.empty());
  CHECK(removed.dags.size() == 1);
  CHECK(removed.Find("a") == nullptr);
}

}  // namespace
}  // namespace weir::dags

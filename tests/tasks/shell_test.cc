#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "dags/dags.h"
#include "tasks/tasks.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::TempDir;

struct Built {
  std::shared_ptr<const dags::Dag> dag;
  Command command;
};

Built Build(const TempDir& dir, const std::string& yaml,
            std::vector<std::pair<std::string, std::string>> overrides = {}) {
  dir.Write("dags/d.yaml", yaml);
  auto loaded = dags::LoadDags({dir / "dags"}, dir / "dags");
  for (const auto& e : loaded.errors) FAIL(e.ToString());
  auto dag = loaded.dags.at(0);
  auto params = dags::ResolveParams(*dag, overrides);
  REQUIRE(params);
  dags::RunVariables vars{dag->id,
                          "d@2026-01-15T00:00:00Z~manual-1",
                          dag->timezone,
                          *ParseTimestamp("2026-01-15"),
                          *ParseTimestamp("2026-01-16"),
                          *ParseTimestamp("2026-01-15"),
                          *params};
  auto context = dags::MakeTemplateContext(vars, dag->tasks[0].id, 2);
  REQUIRE(context);
  CommandFactory factory(TaskOptions{.home = dir / "home"});
  auto command = factory.Build(*dag, dag->tasks[0], *context);
  REQUIRE(command);
  return {dag, *command};
}

std::string EnvValue(const Command& c, const std::string& name) {
  std::string prefix = name + "=";
  std::string value = "<unset>";
  for (const std::string& e : c.env) {
    if (e.starts_with(prefix)) value = e.substr(prefix.size());
  }
  return value;
}

// Runs the command's argv through /bin/sh when it is a script, returning stdout.
std::string RunScript(const Command& c) {
  REQUIRE(c.argv.size() == 3);
  REQUIRE(c.argv[0] == "/bin/sh");
  std::string quoted;
  for (char ch : c.argv[2]) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  FILE* pipe = popen(("/bin/sh -c '" + quoted + "'").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[256];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  pclose(pipe);
  return out;
}

const char* kHostile = "x'; touch /tmp/weir-pwned; echo '$(id) `id` \"q\"";

TEST_CASE("a command list is executed as argv, one argument per item, templates rendered",
          "[tasks]") {
  TempDir dir;
  auto built = Build(dir, R"(
dag: d
params: { who: world }
tasks:
  t: { kind: shell, command: [echo, "hello {{ params.who }}", "{{ ds }}", "try {{ try_number }}"] }
)",
                     {{"who", kHostile}});
  CHECK(built.command.argv ==
        std::vector<std::string>{"echo", std::string("hello ") + kHostile, "2026-01-15", "try 2"});
}

TEST_CASE("a param rendered into a script is one quoted shell word, never code", "[tasks]") {
  TempDir dir;
  auto built = Build(dir, R"(
dag: d
params: { who: world }
tasks:
  t: { kind: shell, script: "printf '%s|' {{ params.who }} {{ ds_nodash }}" }
)",
                     {{"who", kHostile}});
  CHECK(RunScript(built.command) == std::string(kHostile) + "|20260115|");
  CHECK_FALSE(std::filesystem::exists("/tmp/weir-pwned"));
}

TEST_CASE("every template variable and param reaches the task as a WEIR_ variable", "[tasks]") {
  TempDir dir;
  auto built = Build(dir, R"(
dag: d
params: { min_events: 5, label: x }
tasks:
  t:
    kind: shell
    command: [env]
    env: { MY_VAR: "day {{ ds }}", WHO: plain }
)",
                     {{"min_events", "7"}});
  const Command& c = built.command;
  CHECK(EnvValue(c, "WEIR_DS") == "2026-01-15");
  CHECK(EnvValue(c, "WEIR_DS_NODASH") == "20260115");
  CHECK(EnvValue(c, "WEIR_DATA_INTERVAL_START") == "2026-01-15T00:00:00Z");
  CHECK(EnvValue(c, "WEIR_DATA_INTERVAL_END") == "2026-01-16T00:00:00Z");
  CHECK(EnvValue(c, "WEIR_LOGICAL_DATE") == "2026-01-15T00:00:00Z");
  CHECK(EnvValue(c, "WEIR_RUN_ID") == "d@2026-01-15T00:00:00Z~manual-1");
  CHECK(EnvValue(c, "WEIR_DAG") == "d");
  CHECK(EnvValue(c, "WEIR_TASK") == "t");
  CHECK(EnvValue(c, "WEIR_TRY_NUMBER") == "2");
  CHECK(EnvValue(c, "WEIR_PARAM_MIN_EVENTS") == "7");
  CHECK(EnvValue(c, "WEIR_PARAM_LABEL") == "x");
  CHECK(EnvValue(c, "MY_VAR") == "day 2026-01-15");
  CHECK(EnvValue(c, "WHO") == "plain");
  CHECK(EnvValue(c, "WEIR_WAREHOUSE") == (dir / "home" / "warehouse.db").string());
  CHECK(EnvValue(c, "PATH") != "<unset>");
  CHECK(std::count_if(c.env.begin(), c.env.end(),
                      [](const std::string& e) { return e.starts_with("WEIR_DS="); }) == 1);
}

TEST_CASE("a task runs in its DAG file's folder unless cwd says otherwise", "[tasks]") {
  TempDir dir;
  auto plain = Build(dir, "dag: d\ntasks:\n  t: { kind: shell, command: [pwd] }\n");
  CHECK(plain.command.cwd == std::filesystem::weakly_canonical(dir / "dags").string());
  std::filesystem::create_directories(dir / "dags" / "sub");
  auto relative = Build(dir, "dag: d\ntasks:\n  t: { kind: shell, command: [pwd], cwd: sub }\n");
  CHECK(relative.command.cwd == (std::filesystem::weakly_canonical(dir / "dags") / "sub").string());
  auto absolute = Build(dir, "dag: d\ntasks:\n  t: { kind: shell, command: [pwd], cwd: /tmp }\n");
  CHECK(absolute.command.cwd == "/tmp");
}

TEST_CASE("a working directory that does not exist fails the attempt with that reason", "[tasks]") {
  TempDir dir;
  dir.Write("dags/d.yaml", "dag: d\ntasks:\n  t: { kind: shell, command: [pwd], cwd: missing }\n");
  auto loaded = dags::LoadDags({dir / "dags"}, dir / "dags");
  REQUIRE(loaded.errors.empty());
  auto dag = loaded.dags.at(0);
  dags::RunVariables vars{dag->id,       "r",           "UTC",      FromMillis(0),
                          FromMillis(1), FromMillis(0), dag->params};
  auto context = dags::MakeTemplateContext(vars, "t", 1);
  REQUIRE(context);
  auto command =
      CommandFactory(TaskOptions{.home = dir / "home"}).Build(*dag, dag->tasks[0], *context);
  REQUIRE_FALSE(command);
  CHECK(command.error().message.find("working directory") != std::string::npos);
  CHECK(command.error().message.find("missing does not exist") != std::string::npos);
}

TEST_CASE("the warehouse is relative to the DAG file, or in the home folder by default",
          "[tasks]") {
  TempDir dir;
  auto built =
      Build(dir, "dag: d\nwarehouse: data/wh.db\ntasks:\n  t: { kind: shell, command: [true] }\n");
  CHECK(EnvValue(built.command, "WEIR_WAREHOUSE") ==
        (std::filesystem::weakly_canonical(dir / "dags") / "data" / "wh.db").string());
}

}  // namespace
}  // namespace weir::tasks

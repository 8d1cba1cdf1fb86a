// Secrets end to end: named in a DAG and in the config file, read from environment variables
// and files, they reach tasks as variables, and their values and base64 forms are masked in
// task logs, recorded configs (`weir explain`), printed run params, the API and the audit log.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"
#include "tests/testing/weir_server.h"

namespace weir {
namespace {

using json = nlohmann::json;
using testing::Contains;
using testing::Project;
using testing::ReadFile;

constexpr const char* kDbPassword = "db-pass-7Hq2xZ";
constexpr const char* kApiKey = "api-key-K9w4Lm";
constexpr const char* kGlobal = "global-token-R5t8";

// Base64 of "user:" + key, as an HTTP Basic header would print it.
constexpr const char* kBasicAuth = "dXNlcjphcGkta2V5LUs5dzRMbQ==";

// A DAG whose task copies its secrets to files and prints them, plain and in base64; and one of
// whose tasks records its config (it declares an output) with a param that holds a secret.
void WriteProject(const Project& p) {
  ::setenv("SRC_DB_PASSWORD", kDbPassword, 1);
  ::setenv("SRC_GLOBAL", kGlobal, 1);
  p.dir.Write("dags/key.txt", std::string(kApiKey) + "\n");
  p.dir.Write("home/weir.yaml", "secrets:\n  GLOBAL_TOKEN: { env: SRC_GLOBAL }\n");
  p.dir.Write("dags/secret.yaml",
              "dag: secret\n"
              "schedule: none\n"
              "params: { note: none }\n"
              "secrets:\n"
              "  DB_PASSWORD: { env: SRC_DB_PASSWORD }\n"
              "  API_KEY: { file: key.txt }\n"
              "tasks:\n"
              "  leak:\n"
              "    kind: shell\n"
              "    script: |\n"
              "      printf %s \"$DB_PASSWORD\" > ../seen_db\n"
              "      printf %s \"$API_KEY\" > ../seen_key\n"
              "      printf %s \"$GLOBAL_TOKEN\" > ../seen_global\n"
              "      echo \"password=$DB_PASSWORD key=$API_KEY token=$GLOBAL_TOKEN\"\n"
              "      printf %s \"$DB_PASSWORD\" | base64\n"
              "      printf 'user:%s' \"$API_KEY\" | base64\n"
              "      echo \"note={{ params.note }}\"\n"
              "  record:\n"
              "    kind: shell\n"
              "    deps: [leak]\n"
              "    script: 'echo {{ params.note }} > out.txt'\n"
              "    outputs: ['file:out.txt']\n");
}

void CheckMasked(const std::string& text) {
  INFO(text);
  for (const char* secret : {kDbPassword, kApiKey, kGlobal, kBasicAuth}) {
    CHECK_FALSE(Contains(text, secret));
  }
}

TEST_CASE(
    "secrets of a DAG and of the config reach a task as variables and are masked in its log, "
    "its recorded config, its printed params and the audit log",
    "[e2e][secrets]") {
  Project p;
  WriteProject(p);
  auto run =
      p({"run", "secret", "--date", "2026-03-01", "--param", std::string("note=") + kDbPassword});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(ReadFile(p.dir / "seen_db") == kDbPassword);
  CHECK(ReadFile(p.dir / "seen_key") == kApiKey);
  CHECK(ReadFile(p.dir / "seen_global") == kGlobal);
  // The task really wrote the param: masking is in what weir records, not in what tasks get.
  CHECK(ReadFile(p.dir / "dags/out.txt") == std::string(kDbPassword) + "\n");

  const std::string run_id = "secret@2026-03-01T00:00:00Z~manual-1";
  auto log = p({"tasks", "logs", run_id, "leak"});
  REQUIRE(log.exit_code == 0);
  CheckMasked(log.out);
  CHECK(Contains(log.out, "password=*** key=*** token=***\n***"));
  CHECK(Contains(log.out, "note='***'\n"));

  // The rendered config recorded for `weir explain` and the cache key.
  const std::string config =
      testing::Query(p.Db(), "SELECT config_json FROM attempts WHERE task_id = 'record'");
  CheckMasked(config);
  CHECK(Contains(config, "echo '***' > out.txt"));
  auto explain = p({"explain", run_id, "record"});
  REQUIRE(explain.exit_code == 0);
  CheckMasked(explain.out);
  CheckMasked(run.out + run.err);

  auto audit = p({"audit", "--format", "json"});
  REQUIRE(audit.exit_code == 0);
  CheckMasked(audit.out);
  CHECK(Contains(audit.out, "***"));

  // The run's params are stored as typed (a retry renders them again), and printed masked.
  CHECK(Contains(testing::Query(p.Db(), "SELECT params_json FROM runs"), kDbPassword));
  auto show = p({"runs", "show", run_id});
  REQUIRE(show.exit_code == 0);
  CheckMasked(show.out);
  CHECK(Contains(show.out, R"("note":"***")"));
  for (const std::vector<std::string>& lineage_args :
       {std::vector<std::string>{"lineage", "run", run_id, "--format", "json"},
        std::vector<std::string>{"lineage", "upstream", "file:out.txt"}}) {
    auto lineage = p(lineage_args);
    INFO(lineage_args[1]);
    REQUIRE(lineage.exit_code == 0);
    CheckMasked(lineage.out);
    CHECK(Contains(lineage.out, "***"));
  }
}

TEST_CASE("a secret that cannot be read fails the task and says which, never the run's others",
          "[e2e][secrets]") {
  Project p;
  WriteProject(p);
  ::unsetenv("SRC_DB_PASSWORD");
  auto run = p({"run", "secret", "--date", "2026-03-01"});
  CHECK(run.exit_code != 0);
  auto log = p({"tasks", "logs", "secret@2026-03-01T00:00:00Z~manual-1", "leak"});
  INFO(log.out << log.err);
  CHECK(Contains(log.out,
                 "secret.yaml:5:16: secrets.DB_PASSWORD: environment variable "
                 "SRC_DB_PASSWORD is not set"));
  CHECK_FALSE(std::filesystem::exists(p.dir / "seen_key"));
}

TEST_CASE("bad secrets in a DAG or the config get a one-line error and change nothing",
          "[e2e][secrets]") {
  struct Case {
    std::string dag_secrets;
    std::string config;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"  DB_PASSWORD: hunter22\n", "",
       "bad.yaml:4:16: secrets.DB_PASSWORD: expected { env: VARIABLE } or { file: PATH }"},
      {"  WEIR_HOME: { env: X }\n", "",
       "bad.yaml:4:3: secrets: 'WEIR_HOME': WEIR_ variables are weir's own"},
      {"  1ABC: { env: X }\n", "",
       "bad.yaml:4:3: secrets: '1ABC' is not a variable's name (letters, digits and '_', "
       "not starting with a digit, at most 128)"},
      {"  A: { vault: x }\n", "",
       "bad.yaml:4:8: secrets.A: unknown source 'vault' (expected { env: VARIABLE } or { "
       "file: PATH })"},
      {"", "secrets: [a]\n",
       "home/weir.yaml:1:10: secrets: expected a map of VARIABLE: { env: NAME } or { file: PATH "
       "}, not a list"},
  };
  for (const Case& c : cases) {
    Project p;
    p.dir.Write("dags/bad.yaml",
                "dag: bad\nschedule: none\nsecrets:\n" +
                    (c.dag_secrets.empty() ? "  A: { env: HOME }\n" : c.dag_secrets) +
                    "tasks:\n  t: { kind: shell, script: 'true' }\n");
    if (!c.config.empty()) p.dir.Write("home/weir.yaml", c.config);
    auto run = p({"run", "bad", "--date", "2026-03-01"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(testing::CountLines(run.err) == 1);
    CHECK(Contains(run.err, c.error));
    CHECK_FALSE(std::filesystem::exists(p.Db()));
  }
}

TEST_CASE("weir serve masks secrets in the runs, logs and audit events it serves",
          "[e2e][secrets][serve]") {
  Project p;
  WriteProject(p);
  testing::Server server(p.dir);
  httplib::Client client = server.Client();
  json body = {{"date", "2026-03-02"},
               {"params", {{"note", std::string("typed ") + kDbPassword}}},
               {"reason", std::string("because ") + kGlobal}};
  auto triggered =
      client.Post("/api/v1/dags/secret/runs", testing::Auth(), body.dump(), "application/json");
  REQUIRE(triggered);
  INFO(triggered->body);
  REQUIRE(triggered->status == 201);
  const std::string run_id = json::parse(triggered->body)["run_id"];
  std::string ended;  // the record task's last state line, success or not
  for (std::string line = server.process.NextLine(); !line.empty() && ended.empty();
       line = server.process.NextLine()) {
    if (Contains(line, run_id + "  record  ") && !Contains(line, "running")) ended = line;
  }
  REQUIRE(Contains(ended, "record  success"));

  for (const std::string& path :
       {"/api/v1/runs/" + run_id, "/api/v1/runs/" + run_id + "/tasks/leak/logs",
        std::string("/api/v1/audit"), std::string("/api/v1/dags/secret/runs")}) {
    auto answer = client.Get(path, testing::Auth());
    REQUIRE(answer);
    INFO(path);
    CHECK(answer->status == 200);
    CheckMasked(answer->body);
    CHECK(Contains(answer->body, "***"));
  }
  CHECK(server.process.Stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace weir

// `weir lineage export --openlineage` against the real binary, every event checked by the
// official OpenLineage schemas (../shared/tools/validate-openlineage).
#include <signal.h>
#include <stdio.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>
#include <tuple>

#include "common/strings.h"
#include "tests/e2e/lin_dag.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::TempDir;
using testing::Weir;

using Fixture = testing::LinProject;

// Runs the official validator on `file`; empty when it is not available here.
std::optional<Output> Validate(const TempDir& dir, const std::string& file) {
  const std::string tool = std::string(WEIR_SHARED_DIR) + "/tools/validate-openlineage";
  if (!std::filesystem::exists(tool) ||
      std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) {
    return std::nullopt;
  }
  std::string command = "/usr/bin/python3 " + ShellQuote(tool) + " " +
                        ShellQuote((dir / file).string()) + " >" +
                        ShellQuote((dir / "validate.out").string()) + " 2>&1";
  int status = std::system(command.c_str());
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = testing::ReadFile(dir / "validate.out");
  return o;
}

TEST_CASE("the OpenLineage export passes the official schemas: starts, completes and failures",
          "[e2e][lineage][openlineage]") {
  Fixture weir;
  REQUIRE(weir({"run", "lin", "--date", "2026-01-15"}).exit_code == 0);
  std::filesystem::remove(weir.dir / "dags" / "data" / "events.csv");
  REQUIRE(weir({"run", "lin", "--date", "2026-01-16"}).exit_code == 1);  // ingest: no input

  Output events = weir({"lineage", "export", "--openlineage"});
  INFO(events.err);
  REQUIRE(events.exit_code == 0);
  weir.dir.Write("events.jsonl", events.out);
  // First run: START and COMPLETE for both tasks. Second: ingest START and FAIL (no retries);
  // features never ran.
  CHECK(CountLines(events.out) == 4 + 2);
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = events.out.find(needle); at != std::string::npos;
         at = events.out.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  CHECK(count(R"("eventType":"START")") == 3);
  CHECK(count(R"("eventType":"COMPLETE")") == 2);
  CHECK(count(R"("eventType":"FAIL")") == 1);
  CHECK(count(R"("name":"lin.ingest","namespace":"weir")") == 4);
  CHECK(count(R"("errorMessage":{)") == 1);
  CHECK(count(R"("message":"exit code 2")") == 1);
  CHECK(count(R"("outputStatistics":{)") == 2);
  CHECK(count(R"("rowCount":2,"size":20)") == 1);  // 2 + 2 bytes of text, 8 a number
  CHECK(
      count(
          R"("nominalEndTime":"2026-01-16T00:00:00Z","nominalStartTime":"2026-01-15T00:00:00Z")") ==
      4);

  // The same export twice is the same text: run ids are derived, not random.
  CHECK(weir({"lineage", "export", "--openlineage"}).out == events.out);

  auto checked = Validate(weir.dir, "events.jsonl");
  if (!checked) {
    WARN("SKIPPED: ../shared/tools/validate-openlineage or python3-jsonschema is missing");
    return;
  }
  INFO(checked->out);
  CHECK(checked->exit_code == 0);
  CHECK(checked->out.find("6 events checked, 0 problems") != std::string::npos);
}

TEST_CASE("a validate attempt's checks are exported as dataQualityAssertions of what it read",
          "[e2e][lineage][openlineage]") {
  testing::Project weir;
  weir.dir.Write("dags/data/events.csv", "user,amount\nu1,3\nu2,5\nu2,7\n");
  weir.dir.Write("dags/q.yaml", R"(dag: q
schedule: "@daily"
start_date: 2026-01-10
tasks:
  load:
    kind: ingest
    source: { format: csv, path: data/events.csv }
    into: events
  check:
    kind: validate
    deps: [load]
    dataset: warehouse://events
    checks:
      - { check: not_null, column: user }
      - { check: unique, column: user, severity: warn }
)");
  REQUIRE(weir({"run", "q", "--date", "2026-01-15"}).exit_code == 0);
  Output events = weir({"lineage", "export", "--openlineage"});
  REQUIRE(events.exit_code == 0);
  weir.dir.Write("events.jsonl", events.out);
  // Only the end event of `check` carries them, on its input warehouse://events.
  std::size_t at = events.out.find(R"("dataQualityAssertions":{)");
  REQUIRE(at != std::string::npos);
  CHECK(events.out.find(R"("dataQualityAssertions":{)", at + 1) == std::string::npos);
  CHECK(events.out.find(R"("assertion":"not_null","column":"user",)") != std::string::npos);
  CHECK(events.out.find(R"("severity":"warn","success":false})") != std::string::npos);

  auto checked = Validate(weir.dir, "events.jsonl");
  if (!checked) {
    WARN("SKIPPED: ../shared/tools/validate-openlineage or python3-jsonschema is missing");
    return;
  }
  INFO(checked->out);
  CHECK(checked->exit_code == 0);
  CHECK(checked->out.find("4 events checked, 0 problems") != std::string::npos);
}

TEST_CASE("the OpenLineage export filters by run and time, bad flags change nothing",
          "[e2e][lineage][openlineage]") {
  Fixture weir;
  CHECK(weir({"lineage", "export", "--openlineage"}).out.empty());  // no database: no events
  REQUIRE(weir({"run", "lin", "--date", "2026-01-15"}).exit_code == 0);
  REQUIRE(weir({"run", "lin", "--date", "2026-01-16"}).exit_code == 0);
  Output one = weir({"lineage", "export", "--openlineage", "--run",
                     "lin@2026-01-16T00:00:00Z~manual-1", "--namespace", "prod"});
  REQUIRE(one.exit_code == 0);
  CHECK(CountLines(one.out) == 4);
  CHECK(one.out.find(R"("nominalStartTime":"2026-01-15)") == std::string::npos);
  CHECK(one.out.find(R"("namespace":"prod")") != std::string::npos);
  CHECK(weir({"lineage", "export", "--openlineage", "--since", "2999-01-01"}).out.empty());
  CHECK(CountLines(weir({"lineage", "export", "--openlineage", "--since", "1h"}).out) == 8);

  const std::string before = DumpEveryTable(weir.dir / "home" / "weir.db");
  for (auto [args, message] : {
           std::pair{std::vector<std::string>{"lineage", "export"},
                     "weir: weir lineage export needs a format: --openlineage\n"},
           {{"lineage", "export", "--openlineage", "--since", "soon"},
            "weir: --since 'soon': use a time (2026-11-21T10:00:00Z), a day (2026-11-21) or a "
            "duration back from now (7d, 12h)\n"},
           {{"lineage", "export", "--openlineage", "--run", "lin@never"},
            "weir: no run 'lin@never'\n"},
           {{"lineage", "export", "--openlineage", "--namespace", ""},
            "weir: --namespace must not be empty\n"},
       }) {
    Output o = weir(args);
    INFO(args.back());
    CHECK(o.exit_code == 2);
    CHECK(o.err == message);
    CHECK(o.out.empty());
  }
  CHECK(DumpEveryTable(weir.dir / "home" / "weir.db") == before);
}

// A stand-in lineage server on loopback (tests/testing/openlineage_server.py), stopped at the end.
class Server {
 public:
  Server(const TempDir& dir, int fails) : log_(dir / "server.jsonl") {
    std::string command =
        "/usr/bin/python3 " +
        ShellQuote(std::string(WEIR_SOURCE_DIR) + "/tests/testing/openlineage_server.py") + " " +
        std::to_string(fails) + " " + ShellQuote(log_.string());
    pipe_ = popen(command.c_str(), "r");
    REQUIRE(pipe_ != nullptr);
    REQUIRE(fscanf(pipe_, "%d %d", &port_, &pid_) == 2);  // blocks until it listens
  }
  ~Server() {
    ::kill(pid_, SIGTERM);
    pclose(pipe_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The requests it got, one JSON line each.
  std::vector<std::string> Requests() const {
    std::vector<std::string> out;
    std::istringstream lines(testing::ReadFile(log_));
    for (std::string line; std::getline(lines, line);) out.push_back(line);
    return out;
  }

 private:
  std::filesystem::path log_;
  FILE* pipe_ = nullptr;
  int port_ = 0, pid_ = 0;
};

// Sets environment variables for the weir processes this test starts.
struct Env {
  explicit Env(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
  }
  std::vector<std::pair<std::string, std::string>> vars_;
};

TEST_CASE("with OPENLINEAGE_URL, events reach the server as runs happen, through its failures",
          "[e2e][lineage][openlineage]") {
  Fixture weir;
  Server server(weir.dir, /*fails=*/2);
  Env env({{"OPENLINEAGE_URL", server.Url()},
           {"OPENLINEAGE_API_KEY", "s3cret"},
           {"WEIR_OPENLINEAGE_RETRY_DELAY", "10ms"}});
  Output run = weir({"run", "lin", "--date", "2026-01-15"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("openlineage") == std::string::npos);  // nothing lost, nothing to say

  std::vector<std::string> requests = server.Requests();
  REQUIRE(requests.size() == 6);  // 4 events; the first two tries were answered 503
  std::string accepted;
  for (const std::string& r : requests) {
    CHECK(r.find(R"("path": "/api/v1/lineage")") != std::string::npos);
    CHECK(r.find(R"("authorization": "Bearer s3cret")") != std::string::npos);
    if (r.find(R"("status": 201)") != std::string::npos) {
      auto at = r.find(R"("body": )");
      REQUIRE(at != std::string::npos);
      accepted += r.substr(at) + "\n";
    }
  }
  CHECK(CountLines(accepted) == 4);
  CHECK(accepted.find(R"(\"eventType\":\"COMPLETE\")") != std::string::npos);
  CHECK(accepted.find(R"(lin.features)") != std::string::npos);
}

TEST_CASE("an unreachable OPENLINEAGE_URL does not fail the run, it says what was not sent",
          "[e2e][lineage][openlineage]") {
  Fixture weir;
  std::string url;
  {
    Server gone(weir.dir, 0);  // a port that nothing listens on once it is stopped
    url = gone.Url();
  }
  Env env({{"OPENLINEAGE_URL", url}, {"WEIR_OPENLINEAGE_RETRY_DELAY", "1ms"}});
  Output run = weir({"run", "lin", "--date", "2026-01-15"});
  INFO(run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("weir: openlineage: cannot send to " + url) != std::string::npos);
  CHECK(run.err.find("events sent to " + url +
                     "; 0 dropped (queue full), 4 failed after 5 "
                     "tries") != std::string::npos);
  // Nothing is lost: the store has it all, for `weir lineage export`.
  CHECK(CountLines(weir({"lineage", "export", "--openlineage"}).out) == 4);
}

TEST_CASE("a malformed OpenLineage setting is refused before anything runs", "[e2e][lineage]") {
  Fixture weir;
  for (auto [name, value, message] : {
           std::tuple{"OPENLINEAGE_URL", "ftp://x",
                      "weir: OPENLINEAGE_URL 'ftp://x': use http://HOST[:PORT][/PATH] or "
                      "https://...\n"},
           {"OPENLINEAGE_URL", "http://", "weir: OPENLINEAGE_URL 'http://' has no host\n"},
           {"WEIR_OPENLINEAGE_QUEUE", "lots",
            "weir: WEIR_OPENLINEAGE_QUEUE 'lots': use a whole number of events, 1 or more\n"},
       }) {
    Env env({{"OPENLINEAGE_URL", "http://127.0.0.1:1"}, {name, value}});
    Output run = weir({"run", "lin", "--date", "2026-01-15"});
    INFO(name << "=" << value);
    CHECK(run.exit_code == 2);
    CHECK(run.err == message);
    CHECK_FALSE(std::filesystem::exists(weir.dir / "home" / "weir.db"));
  }
}

}  // namespace
}  // namespace weir

// `weir lineage export --openlineage` against the real binary, every event checked by the
// official OpenLineage schemas (../shared/tools/validate-openlineage).
#include <catch2/catch.hpp>
#include <cstdlib>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::TempDir;
using testing::Weir;

constexpr const char* kDag = R"(dag: lin
tasks:
  ingest:
    kind: shell
    inputs: ["file:data/events.csv"]
    outputs: ["warehouse://raw"]
    script: |
      sqlite3 "$WEIR_WAREHOUSE" "DROP TABLE IF EXISTS raw; CREATE TABLE raw(user TEXT, amount INT);" ".import --csv --skip 1 data/events.csv raw"
  features:
    kind: shell
    deps: [ingest]
    inputs: ["warehouse://raw"]
    outputs: ["file:out/features.csv"]
    script: mkdir -p out && sqlite3 -csv "$WEIR_WAREHOUSE" "SELECT * FROM raw" > out/features.csv
)";

struct Fixture {
  TempDir dir;
  Fixture() {
    dir.Write("dags/lin.yaml", kDag);
    dir.Write("dags/data/events.csv", "user,amount\nu1,3\nu2,5\n");
  }
  Output operator()(std::vector<std::string> args) {
    for (const char* a : {"--dags", "dags", "--home", "home"}) args.push_back(a);
    return Weir(dir, args);
  }
};

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
  CHECK(count(R"("rowCount":2,"size":6)") == 1);
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

TEST_CASE("the OpenLineage export filters by run and time; bad flags change nothing",
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

}  // namespace
}  // namespace weir

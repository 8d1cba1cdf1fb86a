// The task cache end to end: what is cached, what runs again and why (`weir explain`).
#include <catch2/catch.hpp>

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

// Each task appends a line to ran.txt when its command really runs.
constexpr const char* kDag = R"(dag: cache
params: { scale: 1 }
tasks:
  ingest:
    kind: shell
    inputs: ["file:data/events.csv"]
    outputs: ["warehouse://raw"]
    script: |
      echo ingest >> ran.txt
      sqlite3 "$WEIR_WAREHOUSE" "DROP TABLE IF EXISTS raw; CREATE TABLE raw(user TEXT, amount INT);" ".import --csv --skip 1 data/events.csv raw"
  features:
    kind: shell
    deps: [ingest]
    inputs: ["warehouse://raw"]
    outputs: ["file:out/features.csv"]
    env: { SCALE: "{{ params.scale }}" }
    script: |
      echo features >> ran.txt
      mkdir -p out && sqlite3 -csv "$WEIR_WAREHOUSE" "SELECT user, sum(amount) * $SCALE FROM raw GROUP BY user ORDER BY 1" > out/features.csv
  report:
    kind: shell
    deps: [features]
    cache: false
    inputs: ["file:out/features.csv"]
    outputs: ["file:out/report.txt"]
    script: echo report >> ran.txt && wc -l < out/features.csv > out/report.txt
)";

struct Fixture : testing::Project {
  int runs = 0;
  Fixture() {
    dir.Write("dags/cache.yaml", kDag);
    dir.Write("dags/data/events.csv", "user,amount\nu1,3\nu2,5\n");
  }
  // Runs the DAG once more; returns which commands really ran, in order.
  std::string Run(std::vector<std::string> extra = {}) {
    std::filesystem::remove(dir / "dags" / "ran.txt");
    std::vector<std::string> args = {"run", "cache", "--date", "2026-01-15"};
    args.insert(args.end(), extra.begin(), extra.end());
    Output o = (*this)(args);
    INFO(o.out << o.err);
    REQUIRE(o.exit_code == 0);
    ++runs;
    return testing::ReadFile(dir / "dags" / "ran.txt");
  }
  std::string RunId() const { return "cache@2026-01-15T00:00:00Z~manual-" + std::to_string(runs); }
  std::string States() {
    return Query(dir / "home" / "weir.db",
                 "SELECT task_id, state FROM task_instances WHERE run_id = '" + RunId() +
                     "' ORDER BY task_id");
  }
  std::string Explain(const std::string& task) { return (*this)({"explain", RunId(), task}).out; }
};

TEST_CASE("unchanged inputs and config make a task cached, cache: false always runs",
          "[e2e][cache]") {
  Fixture weir;
  CHECK(weir.Run() == "ingest\nfeatures\nreport\n");
  CHECK(weir.States() == "features|success|\ningest|success|\nreport|success|\n");
  CHECK(weir.Run() == "report\n");
  CHECK(weir.States() == "features|cached|\ningest|cached|\nreport|success|\n");
  std::string why = weir.Explain("features");
  CHECK(why.find(weir.RunId() + " / features: cached (try 1)") != std::string::npos);
  CHECK(why.find("cached: same inputs and config as cache@2026-01-15T00:00:00Z~manual-1 / "
                 "features try 1, and its outputs are unchanged") != std::string::npos);
  CHECK(why.find("inputs: unchanged") != std::string::npos);
  CHECK(weir.Explain("report").find("ran: the cache is off for this task (cache: false)") !=
        std::string::npos);
  // A cached task wrote nothing: its outputs' latest versions are still the first run's.
  CHECK(Query(weir.dir / "home" / "weir.db",
              "SELECT count(*) FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id "
              "WHERE d.uri = 'warehouse://raw'") == "1|\n");
}

TEST_CASE(
    "a changed input reruns the task and what depends on it, and explain shows the "
    "version change",
    "[e2e][cache]") {
  Fixture weir;
  weir.Run();
  weir.dir.Write("dags/data/events.csv", "user,amount\nu1,3\nu2,5\nu3,7\n");
  CHECK(weir.Run() == "ingest\nfeatures\nreport\n");
  std::string why = weir.Explain("ingest");
  CHECK(why.find("ran: its inputs or config differ from cache@2026-01-15T00:00:00Z~manual-1 / "
                 "ingest try 1") != std::string::npos);
  CHECK(why.find("input file:data/events.csv: version 1 -> 2 (sha256:") != std::string::npos);
  CHECK(why.find("config: unchanged") != std::string::npos);
  CHECK(weir.Explain("features").find("input warehouse://raw: version 1 -> 2") !=
        std::string::npos);
}

TEST_CASE("a changed config reruns the task, and explain shows the config diff", "[e2e][cache]") {
  Fixture weir;
  weir.Run();
  CHECK(weir.Run({"--param", "scale=2"}) == "features\nreport\n");  // ingest does not use it
  std::string why = weir.Explain("features");
  CHECK(why.find("inputs: unchanged") != std::string::npos);
  CHECK(why.find("- env: [\"SCALE=1\"]") != std::string::npos);
  CHECK(why.find("+ env: [\"SCALE=2\"]") != std::string::npos);
  CHECK(ReadFile(weir.dir / "dags" / "out" / "features.csv") == "u1,6\nu2,10\n");
}

TEST_CASE("an output deleted or modified by hand is rebuilt, and explain says which",
          "[e2e][cache]") {
  Fixture weir;
  weir.Run();
  std::filesystem::remove(weir.dir / "dags" / "out" / "features.csv");
  CHECK(weir.Run() == "features\nreport\n");
  CHECK(weir.Explain("features")
            .find("ran: output file:out/features.csv is missing since "
                  "cache@2026-01-15T00:00:00Z~manual-1 / features try 1") != std::string::npos);
  weir.dir.Write("dags/out/features.csv", "tampered\n");
  CHECK(weir.Run() == "features\nreport\n");
  CHECK(weir.Explain("features")
            .find("ran: output file:out/features.csv was modified since "
                  "cache@2026-01-15T00:00:00Z~manual-2 / features try 1") != std::string::npos);
  CHECK(ReadFile(weir.dir / "dags" / "out" / "features.csv") == "u1,3\nu2,5\n");
}

TEST_CASE("a run with --no-cache runs every task, and explain says so", "[e2e][cache]") {
  Fixture weir;
  weir.Run();
  CHECK(weir.Run({"--no-cache"}) == "ingest\nfeatures\nreport\n");
  CHECK(weir.Explain("ingest").find("ran: the run asked for no cache (--no-cache)") !=
        std::string::npos);
  CHECK(weir.Run() == "report\n");  // the next run may use the cache again
}

TEST_CASE("weir explain refuses an unknown run or task, exit 2, and changes nothing",
          "[e2e][cache]") {
  Fixture weir;
  weir.Run();
  const std::string before = DumpEveryTable(weir.dir / "home" / "weir.db");
  Output no_run = weir({"explain", "cache@nope", "ingest"});
  CHECK(no_run.exit_code == 2);
  CHECK(no_run.err == "weir: no run 'cache@nope'\n");
  Output no_task = weir({"explain", weir.RunId(), "ingets"});
  CHECK(no_task.exit_code == 2);
  CHECK(no_task.err ==
        "weir: run '" + weir.RunId() + "' has no task 'ingets' (did you mean 'ingest'?)\n");
  Output missing = weir({"explain", weir.RunId()});
  CHECK(missing.exit_code == 2);
  CHECK(CountLines(missing.err) == 1);
  CHECK(DumpEveryTable(weir.dir / "home" / "weir.db") == before);
}

}  // namespace
}  // namespace weir

// Lineage end to end: shell tasks that declare datasets, run by the real binary, and
// `weir lineage` answering from the state database they left.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "tests/e2e/lin_dag.h"
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

using Fixture = testing::LinProject;
constexpr const char* kDag = testing::kLinDag;

TEST_CASE("weir lineage traces a built file back to its source and a source forward",
          "[e2e][lineage]") {
  Fixture weir;
  Output run = weir({"run", "lin", "--date", "2026-01-15"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(ReadFile(weir.dir / "dags" / "out" / "features-2026-01-15.csv") == "u1,3\nu2,5\n");

  Output up = weir({"lineage", "upstream", "file:out/features-2026-01-15.csv"});
  INFO(up.err);
  REQUIRE(up.exit_code == 0);
  CHECK(up.out.starts_with("file:out/features-2026-01-15.csv@1  sha256:"));
  std::size_t features = up.out.find("/ features try 1 (success, exit 0,");
  std::size_t raw = up.out.find("read warehouse://raw@1  sha256:");
  std::size_t ingest = up.out.find("/ ingest try 1 (success, exit 0,");
  std::size_t source = up.out.find("read file:data/events.csv@1  sha256:");
  CHECK(features < raw);
  CHECK(raw < ingest);
  CHECK(ingest < source);
  CHECK(source != std::string::npos);
  CHECK(up.out.find("2 rows") != std::string::npos);
  CHECK(up.out.find("(source: not written by weir)") != std::string::npos);
  CHECK(up.out.find("DAG lin (lin.yaml sha256:") != std::string::npos);

  // An absolute path names the same dataset.
  Output down = weir({"lineage", "downstream", (weir.dir / "dags" / "data" / "events.csv")});
  REQUIRE(down.exit_code == 0);
  CHECK(down.out.find("wrote file:out/features-2026-01-15.csv@1") != std::string::npos);

  Output json = weir({"lineage", "upstream", "warehouse://raw@1", "--format", "json"});
  REQUIRE(json.exit_code == 0);
  CHECK(CountLines(json.out) == 1);
  CHECK(json.out.find(R"("dataset":"warehouse://raw","version":1,)") != std::string::npos);
  CHECK(
      json.out.find(R"("schema":[{"name":"user","type":"TEXT"},{"name":"amount","type":"INT"}])") !=
      std::string::npos);
  CHECK(json.out.find(R"("task":"ingest","try":1,"state":"success","exit_code":0,)") !=
        std::string::npos);

  Output dot = weir({"lineage", "upstream", "warehouse://raw", "--format", "dot"});
  REQUIRE(dot.exit_code == 0);
  CHECK(dot.out.starts_with("digraph lineage {"));
  CHECK(dot.out.find("-> a") != std::string::npos);

  Output shallow =
      weir({"lineage", "upstream", "file:out/features-2026-01-15.csv", "--depth", "1"});
  REQUIRE(shallow.exit_code == 0);
  CHECK(shallow.out.find("ingest") == std::string::npos);

  Output by_run = weir({"lineage", "run", "lin@2026-01-15T00:00:00Z~manual-1"});
  REQUIRE(by_run.exit_code == 0);
  CHECK(by_run.out.find("  read   file:data/events.csv@1") != std::string::npos);
  CHECK(by_run.out.find("  wrote  warehouse://raw@1") != std::string::npos);
  CHECK(by_run.out.find("  wrote  file:out/features-2026-01-15.csv@1") != std::string::npos);
  CHECK(Query(weir.Db(), "SELECT count(*) FROM attempts WHERE config_hash LIKE 'sha256:%'") ==
        "2|\n");
}

TEST_CASE("a rerun over a changed source makes new versions, the old ones keep their history",
          "[e2e][lineage]") {
  Fixture weir;
  REQUIRE(weir({"run", "lin", "--date", "2026-01-15"}).exit_code == 0);
  weir.dir.Write("dags/data/events.csv", "user,amount\nu1,4\n");
  REQUIRE(weir({"run", "lin", "--date", "2026-01-15"}).exit_code == 0);

  CHECK(Query(weir.Db(),
              "SELECT d.uri, v.version, v.attempt_id IS NULL FROM dataset_versions v JOIN "
              "datasets d ON d.id = v.dataset_id ORDER BY d.uri, v.version") ==
        "file:data/events.csv|1|1|\nfile:data/events.csv|2|1|\n"
        "file:out/features-2026-01-15.csv|1|0|\nfile:out/features-2026-01-15.csv|2|0|\n"
        "warehouse://raw|1|0|\nwarehouse://raw|2|0|\n");
  Output old = weir({"lineage", "upstream", "warehouse://raw@1"});
  CHECK(old.out.find("file:data/events.csv@1") != std::string::npos);
  CHECK(old.out.find("manual-1 / ingest") != std::string::npos);
  Output latest = weir({"lineage", "upstream", "warehouse://raw"});
  CHECK(latest.out.find("file:data/events.csv@2") != std::string::npos);
  CHECK(latest.out.find("manual-2 / ingest") != std::string::npos);
  Output first_source = weir({"lineage", "downstream", "file:data/events.csv@1"});
  CHECK(first_source.out.find("manual-2") == std::string::npos);
}

TEST_CASE(
    "a missing input, an output not written and a path outside the DAGs folder fail the "
    "attempt and say why",
    "[e2e][lineage]") {
  SECTION("missing input") {
    Fixture weir;
    std::filesystem::remove(weir.dir / "dags" / "data" / "events.csv");
    Output run = weir({"run", "lin", "--date", "2026-01-15"});
    CHECK(run.exit_code == 1);
    std::string log = ReadFile(weir.dir / "home" / "logs" / "lin" /
                               "lin@2026-01-15T00:00:00Z~manual-1" / "ingest.1.log");
    CHECK(log.find("weir: input file:data/events.csv: the file ") != std::string::npos);
    CHECK(log.find("events.csv does not exist") != std::string::npos);
  }
  SECTION("output not written") {
    std::string dag = kDag;
    dag.replace(dag.find("mkdir -p out && sqlite3"), 23, "true || sqlite3");
    Fixture weir(dag);
    Output run = weir({"run", "lin", "--date", "2026-01-15"});
    CHECK(run.exit_code == 1);
    std::string log = ReadFile(weir.dir / "home" / "logs" / "lin" /
                               "lin@2026-01-15T00:00:00Z~manual-1" / "features.1.log");
    CHECK(log.find("weir: the command succeeded but did not write its output "
                   "file:out/features-2026-01-15.csv: the file ") != std::string::npos);
  }
  SECTION("outside the DAGs folder") {
    std::string dag = kDag;
    dag.replace(dag.find("file:out/features-"), 18, "file:../../features-");
    Fixture weir(dag);
    Output run = weir({"run", "lin", "--date", "2026-01-15"});
    CHECK(run.exit_code == 1);
    CHECK(Query(weir.Db(), "SELECT reason FROM attempts WHERE task_id = 'features' LIMIT 1")
              .find("cannot start: 'outputs': dataset 'file:../../features-2026-01-15.csv' is "
                    "outside the DAGs folder") != std::string::npos);
  }
}

TEST_CASE("bad dataset URIs in a DAG are load errors with file:line:col", "[e2e][lineage]") {
  TempDir dir;
  dir.Write("dags/bad.yaml",
            "dag: bad\ntasks:\n  a:\n    kind: shell\n    command: [true]\n"
            "    inputs: [\"s3://bucket/x\", 5]\n    outputs: warehouse://t\n"
            "  b:\n    kind: shell\n    command: [true]\n"
            "    outputs: [\"warehouse://{{ ds }}\", \"warehouse://bad name\"]\n");
  Output o = Weir(dir, {"validate", "dags"});
  CHECK(o.exit_code == 2);
  CHECK(o.err.find("bad.yaml:6:14: dataset 's3://bucket/x': use file:PATH, warehouse://TABLE or "
                   "sqlite://PATH#TABLE") != std::string::npos);
  CHECK(o.err.find("bad.yaml:6:31: each of 'inputs' must be a dataset URI string") !=
        std::string::npos);
  CHECK(o.err.find("bad.yaml:7:14: 'outputs' must be a list of dataset URIs") != std::string::npos);
  CHECK(o.err.find("bad.yaml:11:39: dataset 'warehouse://bad name': table name 'bad name'") !=
        std::string::npos);
  CHECK(o.err.find("warehouse://{{ ds }}") == std::string::npos);  // checked once rendered
}

TEST_CASE("bad lineage queries get a one-line error, exit 2, and change nothing",
          "[e2e][lineage]") {
  Fixture weir;
  REQUIRE(weir({"run", "lin", "--date", "2026-01-15"}).exit_code == 0);
  const std::string before = DumpEveryTable(weir.Db());
  for (auto [args, message] : {
           std::pair{std::vector<std::string>{"lineage", "upstream", "warehouse://rwa"},
                     "weir: no dataset 'warehouse://rwa' has been recorded (did you mean "
                     "'warehouse://raw'?)\n"},
           {{"lineage", "upstream", "warehouse://raw@7"},
            "weir: dataset 'warehouse://raw' has no version 7 (its versions are 1 to 1)\n"},
           {{"lineage", "downstream", "s3://x"}, "weir: no dataset 's3://x' has been recorded\n"},
           {{"lineage", "upstream", "warehouse://raw", "--format", "xml"},
            "weir: --format 'xml': use text, json or dot\n"},
           {{"lineage", "upstream", "warehouse://raw", "--depth", "-1"},
            "weir: --depth must be 0 (no limit) or more\n"},
           {{"lineage", "run", "lin@nope"}, "weir: no run 'lin@nope'\n"},
       }) {
    Output o = weir(args);
    INFO(args[2]);
    CHECK(o.exit_code == 2);
    CHECK(o.err == message);
    CHECK(o.out.empty());
  }
  Output no_depth = weir({"lineage", "upstream", "warehouse://raw", "--depth", "x"});
  CHECK(no_depth.exit_code == 2);
  CHECK(CountLines(no_depth.err) == 1);
  CHECK(DumpEveryTable(weir.Db()) == before);
}

TEST_CASE("weir task run refuses a bad spec or a missing command with exit 2", "[e2e][lineage]") {
  TempDir dir;
  for (auto [args, message] : {
           std::pair{std::vector<std::string>{"task", "run", "--spec", "not json", "--", "true"},
                     "weir task run: bad task spec: "},
           {{"task", "run", "--spec", R"({"manifest":"","config_hash":"x","inputs":[]})", "--",
             "true"},
            "weir task run: bad task spec: "},
           {{"task", "run", "--spec", "{}"}, "weir task run: bad task spec: "},
           {{"task", "run", "--spec",
             R"({"manifest":"m","config_hash":"x","inputs":[],"outputs":[]})"},
            "weir task run: no command after --"},
       }) {
    Output o = Weir(dir, args);
    INFO(args[3]);
    CHECK(o.exit_code == 2);
    CHECK(o.err.starts_with(message));
    CHECK(CountLines(o.err) == 1);
  }
}

TEST_CASE("a deep lineage tree stops indenting past 30 levels", "[e2e][lineage]") {
  TempDir dir;
  std::string yaml = "dag: deep\ntasks:\n";
  for (int i = 0; i < 40; ++i) {
    yaml += "  t" + std::to_string(i) + ":\n    kind: shell\n";
    if (i > 0) {
      yaml += "    deps: [t" + std::to_string(i - 1) + "]\n    inputs: [\"file:f" +
              std::to_string(i - 1) + "\"]\n";
    }
    yaml += "    outputs: [\"file:f" + std::to_string(i) + "\"]\n    command: [sh, -c, \"echo " +
            std::to_string(i) + " > f" + std::to_string(i) + "\"]\n";
  }
  dir.Write("dags/deep.yaml", yaml);
  std::vector<std::string> where = {"--dags", "dags", "--home", "home"};
  auto weir = [&](std::vector<std::string> args) {
    args.insert(args.end(), where.begin(), where.end());
    return Weir(dir, args);
  };
  REQUIRE(weir({"run", "deep", "--date", "2026-01-15"}).exit_code == 0);
  Output up = weir({"lineage", "upstream", "file:f39"});
  REQUIRE(up.exit_code == 0);
  CHECK(up.out.find("read file:f0@1") != std::string::npos);
  std::size_t longest = 0;
  std::istringstream lines(up.out);
  for (std::string line; std::getline(lines, line);) {
    longest = std::max(longest, line.find_first_not_of(" │└├─"));
  }
  CHECK(longest > 60);    // it does indent ...
  CHECK(longest <= 160);  // ... but not 40 levels deep
}

}  // namespace
}  // namespace weir

// The transform kind end to end: a DAG run by the real binary, its lineage down to the column,
// the cache, and its load errors.
#include <catch2/catch.hpp>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Output;
using testing::Query;
using testing::TempDir;
using testing::Weir;

constexpr const char* kDag = R"(dag: tr
params: { min_amount: 0 }
tasks:
  ingest:
    kind: shell
    inputs: ["file:events.csv"]
    outputs: ["warehouse://raw"]
    script: sqlite3 "$WEIR_WAREHOUSE" "DROP TABLE IF EXISTS raw; CREATE TABLE raw(user TEXT, amount INT, country TEXT);" ".import --csv --skip 1 events.csv raw"
  clean:
    kind: transform
    deps: [ingest]
    sql: |
      SELECT user, amount, upper(country) AS country, :ds AS ds
        FROM raw WHERE amount >= :min_amount
    into: clean
)";

struct Fixture : testing::Project {
  Fixture() {
    dir.Write("dags/tr.yaml", kDag);
    dir.Write("dags/events.csv", "user,amount,country\nu1,3,de\nu2,-5,fr\nu3,7,de\n");
  }
  std::string Warehouse(const std::string& sql) {
    return Query(dir / "home" / "warehouse.db", sql);
  }
};

TEST_CASE("a transform task writes its table, with lineage down to the column, and is cached",
          "[e2e][transform]") {
  Fixture weir;
  Output run = weir({"run", "tr", "--date", "2026-01-15"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(weir.Warehouse("SELECT * FROM clean ORDER BY 1") ==
        "u1|3|DE|2026-01-15|\nu3|7|DE|2026-01-15|\n");

  Output up = weir({"lineage", "upstream", "warehouse://clean", "--format", "json"});
  REQUIRE(up.exit_code == 0);
  CHECK(up.out.find(R"("output_column":"user","input_version":)") != std::string::npos);
  CHECK(up.out.find(R"("output_column":"amount",)") != std::string::npos);
  CHECK(up.out.find(R"("output_column":"country",)") == std::string::npos);  // an expression
  CHECK(up.out.find(R"("dataset":"file:events.csv")") != std::string::npos);

  Output again = weir({"run", "tr", "--date", "2026-01-15"});
  REQUIRE(again.exit_code == 0);
  CHECK(Query(weir.dir / "home" / "weir.db",
              "SELECT state FROM task_instances WHERE task_id = 'clean' AND run_id LIKE "
              "'%manual-2'") == "cached|\n");

  Output other = weir({"run", "tr", "--date", "2026-01-15", "--param", "min_amount=5"});
  REQUIRE(other.exit_code == 0);
  CHECK(weir.Warehouse("SELECT user FROM clean") == "u3|\n");
  Output why = weir({"explain", "tr@2026-01-15T00:00:00Z~manual-3", "clean"});
  CHECK(why.out.find("+ bindings.min_amount: \"5\"") != std::string::npos);

  Output events =
      weir({"lineage", "export", "--openlineage", "--run", "tr@2026-01-15T00:00:00Z~manual-1"});
  CHECK(events.out.find(R"("columnLineage":{)") != std::string::npos);
}

TEST_CASE("a transform whose SQL writes fails its attempt and leaves the warehouse as it was",
          "[e2e][transform]") {
  std::string dag = kDag;
  dag.replace(dag.find("SELECT user, amount"), 19, "DELETE FROM raw; SELECT user, amount");
  Fixture weir;
  weir.dir.Write("dags/tr.yaml", dag);
  Output run = weir({"run", "tr", "--date", "2026-01-15"});
  CHECK(run.exit_code == 1);
  CHECK(weir.Warehouse("SELECT count(*) FROM raw") == "3|\n");
  std::string log = testing::ReadFile(weir.dir / "home" / "logs" / "tr" /
                                      "tr@2026-01-15T00:00:00Z~manual-1" / "clean.1.log");
  CHECK(log.find("weir: transform: the SQL of a transform must only read (a SELECT)") !=
        std::string::npos);
}

TEST_CASE("transform config errors are load errors with file:line:col", "[e2e][transform]") {
  TempDir dir;
  dir.Write("dags/bad.yaml",
            "dag: bad\ntasks:\n"
            "  a: { kind: transform, sql: 'SELECT 1', into: 'bad name' }\n"
            "  b: { kind: transform, into: t }\n"
            "  c: { kind: transform, sql: \"SELECT {{ params.x }}\", into: t }\n"
            "  d: { kind: transform, sql: 'SELECT 1', into: t, mode: merge }\n"
            "  e: { kind: transform, sql: 'SELECT 1', into: t, mode: upsert }\n"
            "  f: { kind: transform, sql: 'SELECT 1', into: t, mode: partition }\n");
  Output o = Weir(dir, {"validate", "dags"});
  CHECK(o.exit_code == 2);
  for (const char* error :
       {"bad.yaml:3:48: 'into' must be a table name",
        "bad.yaml:4:6: a transform task needs exactly one of 'sql' (a SELECT) or 'sql_file'",
        "bad.yaml:5:30: params reach SQL only as bound parameters: write :name, not {{ "
        "params.name }}",
        "bad.yaml:6:57: 'mode' must be replace, append, upsert or partition",
        "bad.yaml:7:6: mode upsert needs 'key'",
        "bad.yaml:8:6: mode partition needs "
        "'partition_column'"}) {
    CHECK(o.err.find(error) != std::string::npos);
  }
}

TEST_CASE("a param whose default is null binds as NULL until a trigger gives it a value",
          "[e2e][transform]") {
  testing::Project weir;
  weir.dir.Write("dags/p.yaml", R"(dag: p
params: { maybe: null }
tasks:
  t:
    kind: transform
    sql: SELECT typeof(:maybe) AS type, :maybe AS value
    into: out
)");
  REQUIRE(weir({"run", "p", "--date", "2026-01-10"}).exit_code == 0);
  CHECK(Query(weir.dir / "home" / "warehouse.db", "SELECT * FROM out") == "null|NULL|\n");
  REQUIRE(weir({"run", "p", "--date", "2026-01-11", "--param", "maybe=x"}).exit_code == 0);
  CHECK(Query(weir.dir / "home" / "warehouse.db", "SELECT * FROM out") == "text|x|\n");
}

}  // namespace
}  // namespace weir

// The DAG several whole-binary lineage tests share: events.csv -> ingest -> warehouse://raw
// -> features -> file:out/features-DS.csv, with the sample data written beside it.
#ifndef WEIR_TESTS_E2E_LIN_DAG_H_
#define WEIR_TESTS_E2E_LIN_DAG_H_

#include <string>

#include "tests/testing/weir_cli.h"

namespace weir::testing {

inline constexpr const char* kLinDag = R"(dag: lin
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
    outputs: ["file:out/features-{{ ds }}.csv"]
    script: |
      mkdir -p out && sqlite3 -csv "$WEIR_WAREHOUSE" "SELECT user, sum(amount) FROM raw GROUP BY user ORDER BY 1" > out/features-{{ ds }}.csv
)";

// A project holding `dag` (by default kLinDag) as dags/lin.yaml and dags/data/events.csv.
struct LinProject : Project {
  explicit LinProject(const std::string& dag = kLinDag) {
    dir.Write("dags/lin.yaml", dag);
    dir.Write("dags/data/events.csv", "user,amount\nu1,3\nu2,5\n");
  }
};

}  // namespace weir::testing

#endif  // WEIR_TESTS_E2E_LIN_DAG_H_

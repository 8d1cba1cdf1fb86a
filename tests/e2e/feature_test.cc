// The feature kind end to end: ingested events and labels, point-in-time aggregates written by
// the real binary, column lineage from each feature to the events column it reads, the cache, a
// bad row that fails the task and leaves the warehouse as it was, and its load errors.
#include <catch2/catch.hpp>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Contains;
using testing::DumpEveryTable;
using testing::Output;
using testing::Query;

constexpr const char* kDag = R"(dag: feat
tasks:
  events:
    kind: ingest
    source: {format: csv, path: events.csv}
    columns: {user_id: INTEGER, event_ts: TIMESTAMP, ingested_at: TIMESTAMP, amount: REAL, country: TEXT}
    into: events
  labels:
    kind: ingest
    source: {format: csv, path: labels.csv}
    into: labels
  user_features:
    kind: feature
    deps: [events, labels]
    labels: {table: labels, entity: [user_id], timestamp: label_ts}
    events: {table: events, entity: [user_id], timestamp: event_ts, available_at: ingested_at}
    as_of: {boundary: exclusive, delay: 0s}
    features:
      - {name: amount_sum_30d, agg: sum, column: amount, window: 30d}
      - {name: txn_count_7d, agg: count, window: 7d}
      - {name: amount_avg_30d, agg: avg, column: amount, window: 30d}
      - {name: last_country, agg: last, column: country, window: 90d}
    into: training_features
)";

// User 1's second event arrived a day late: it counts for the label on the 10th, not the 5th.
constexpr const char* kEvents =
    "user_id,event_ts,ingested_at,amount,country\n"
    "1,2026-01-01T10:00:00Z,2026-01-01T10:00:00Z,10,DE\n"
    "1,2026-01-05T10:00:00Z,2026-01-06T00:00:00Z,20,FR\n"
    "1,2026-01-09T10:00:00Z,2026-01-09T10:00:00Z,5,\n"
    "2,2026-01-03T00:00:00Z,2026-01-03T00:00:00Z,7,US\n";

constexpr const char* kLabels =
    "user_id,label_ts,churned\n"
    "1,2026-01-05T12:00:00Z,1\n"
    "1,2026-01-10T00:00:00Z,0\n"
    "2,2026-01-03T00:00:00Z,1\n"
    "3,2026-01-10T00:00:00Z,0\n";

struct Fixture : testing::Project {
  Fixture() {
    dir.Write("dags/feat.yaml", kDag);
    dir.Write("dags/events.csv", kEvents);
    dir.Write("dags/labels.csv", kLabels);
  }
  std::filesystem::path Warehouse() const { return dir / "home" / "warehouse.db"; }
  Output Run() const { return (*this)({"run", "feat", "--date", "2026-01-15"}); }
};

TEST_CASE("a feature task writes one row per label with what was known at the label's time",
          "[e2e][feature]") {
  Fixture weir;
  Output run = weir.Run();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(Query(weir.Warehouse(), "SELECT * FROM training_features") ==
        "1|2026-01-05 12:00:00|1|10.0|1|10.0|DE|\n"
        "1|2026-01-10 00:00:00|0|35.0|2|11.6666666666667|FR|\n"
        "2|2026-01-03 00:00:00|1|NULL|0|NULL|NULL|\n"
        "3|2026-01-10 00:00:00|0|NULL|0|NULL|NULL|\n");

  // Each feature comes from the events column it aggregates; each label column from labels.
  CHECK(Query(weir.Db(),
              "SELECT c.output_column || ' <- ' || i.uri || '.' || c.input_column || ' ' || "
              "c.transformation FROM column_lineage c "
              "JOIN dataset_versions ov ON ov.id = c.output_version_id "
              "JOIN datasets o ON o.id = ov.dataset_id "
              "JOIN dataset_versions iv ON iv.id = c.input_version_id "
              "JOIN datasets i ON i.id = iv.dataset_id "
              "WHERE o.uri = 'warehouse://training_features' ORDER BY 1") ==
        "amount_avg_30d <- warehouse://events.amount aggregate: avg over 30d|\n"
        "amount_sum_30d <- warehouse://events.amount aggregate: sum over 30d|\n"
        "churned <- warehouse://labels.churned identity|\n"
        "label_ts <- warehouse://labels.label_ts identity|\n"
        "last_country <- warehouse://events.country aggregate: last over 90d|\n"
        "txn_count_7d <- warehouse://events.event_ts aggregate: count over 7d|\n"
        "user_id <- warehouse://labels.user_id identity|\n");

  Output logs = weir({"tasks", "logs", "feat@2026-01-15T00:00:00Z~manual-1", "user_features"});
  CHECK(Contains(logs.out,
                 "feature user_features: 4 features for 4 labels from 4 events of 2 entities into "
                 "training_features (mode replace)"));

  // Nothing changed upstream: the second run's feature task is cached.
  Output again = weir.Run();
  REQUIRE(again.exit_code == 0);
  CHECK(Query(weir.Db(),
              "SELECT state FROM task_instances WHERE task_id = 'user_features' ORDER BY run_id") ==
        "success|\ncached|\n");
}

TEST_CASE("a label time that does not parse fails the task, names the row and writes nothing",
          "[e2e][feature]") {
  Fixture weir;
  REQUIRE(weir.Run().exit_code == 0);
  weir.dir.Write("dags/labels.csv",
                 "user_id,label_ts,churned\n1,2026-01-05T12:00:00Z,1\n1,soon,0\n");
  const std::string before = Query(weir.Warehouse(), "SELECT * FROM training_features");
  Output run = weir.Run();
  CHECK(run.exit_code == 1);
  Output logs = weir({"tasks", "logs", "feat@2026-01-15T00:00:00Z~manual-2", "user_features"});
  CHECK(Contains(logs.out,
                 "weir: feature user_features: labels table labels row 2: label_ts 'soon' is not a "
                 "time"));
  CHECK(Query(weir.Warehouse(), "SELECT * FROM training_features") == before);
}

TEST_CASE("feature config errors are load errors with file:line:col, and weir run changes nothing",
          "[e2e][feature]") {
  Fixture weir;
  REQUIRE(weir.Run().exit_code == 0);
  const std::string before = DumpEveryTable(weir.Db());
  const std::string warehouse = DumpEveryTable(weir.Warehouse());
  weir.dir.Write("dags/feat.yaml", R"(dag: feat
tasks:
  a:
    kind: feature
    labels: {table: labels, entity: [user_id, day], timestamp: ts}
    events: {table: events, entity: [user_id], timestamp: ts, available: x}
    as_of: {boundary: before, delay: soon}
    features:
      - {name: n, agg: median, column: amount}
      - {name: n, agg: sum, window: 0s}
      - {name: 1bad, agg: count, window: 7d}
    into: labels
)");
  Output validate = testing::Weir(weir.dir, {"validate", "dags"});
  CHECK(validate.exit_code == 2);
  INFO(validate.err);
  for (const char* error : {
           "feat.yaml:6:63: unknown key 'available' in 'events' (did you mean 'available_at'?)\n",
           "feat.yaml:6:37: events name 1 entity columns and labels 2: they are matched in order\n",
           "feat.yaml:7:23: 'boundary' must be one of exclusive, inclusive\n",
           "feat.yaml:7:38: 'delay' must be a duration such as 30s, 5m or 1h\n",
           "feat.yaml:9:24: 'agg' must be one of count, sum, avg, min, max, first, last, "
           "count_distinct, stddev\n",
           "feat.yaml:10:16: feature 'n' is named twice\n",
           "feat.yaml:10:9: a sum feature needs 'column': the events column it reads\n",
           "feat.yaml:10:37: 'window' must be longer than 0 (leave it out for all history)\n",
           "feat.yaml:11:16: a feature needs 'name': its column name (letters, digits and '_')\n",
           "feat.yaml:12:11: 'into' must differ from the labels table\n",
       }) {
    CHECK(Contains(validate.err, error));
  }
  Output run = weir.Run();
  CHECK(run.exit_code == 2);
  CHECK(DumpEveryTable(weir.Db()) == before);
  CHECK(DumpEveryTable(weir.Warehouse()) == warehouse);
}

}  // namespace
}  // namespace weir

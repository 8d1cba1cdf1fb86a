// The validate kind end to end: every check passing and failing on a table an ingest wrote, run
// by the real binary; severities; drift against a table and against the previous version; the
// results in check_results and `weir quality`; and its load errors.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Contains;
using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::Query;
using testing::ReadFile;
using testing::Weir;

// Four rows: a NULL user, a duplicated (grp, country), amounts 0..11, the newest ts four hours
// before the end of 2026-01-10.
constexpr const char* kRows =
    "id,grp,user,amount,country,day,ts\n"
    "1,1,u1,0,de,2026-01-05,2026-01-10T01:00:00Z\n"
    "2,1,,5,de,2026-01-06,2026-01-10T02:00:00Z\n"
    "3,2,u3,10,fr,2026-01-07,2026-01-10T03:00:00Z\n"
    "4,2,uu,11,it,2026-01-08,2026-01-10T20:00:00Z\n";

// `good` holds checks that pass on those rows, `bad` the same kinds, each failing.
constexpr const char* kChecksDag = R"(dag: checks
params: {max_amount: 11}
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    columns: {id: INTEGER, grp: INTEGER, user: TEXT, amount: REAL, country: TEXT, day: TEXT, ts: TIMESTAMP}
    into: t
  load_good:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    columns: {id: INTEGER, grp: INTEGER, user: TEXT, amount: REAL, country: TEXT, day: TEXT, ts: TIMESTAMP}
    into: good_t
  good:
    kind: validate
    deps: [load_good]
    dataset: warehouse://good_t
    checks:
      - {check: row_count, min: 4, max: 4}
      - {check: not_null, column: id}
      - {check: not_null, column: user, mostly: 0.75}
      - {check: unique, column: id}
      - {check: unique, columns: [id, grp]}
      - {check: between, column: amount, min: 0, max: 11}
      - {check: between, column: amount, min: 0, max: 11, strict: true, mostly: 0.5}
      - {check: between, column: day, min: "2026-01-01", max: "2026-01-31"}
      - {check: in_set, column: country, values: [de, fr, it]}
      - {check: regex, column: user, pattern: "^u[0-9u]$"}
      - {check: freshness, column: ts, max_age: 4h}
      - {check: schema, required: {id: INTEGER, amount: REAL, ts: TIMESTAMP, user: null}, forbidden: [email]}
      - {check: sql, sql: "SELECT * FROM good_t WHERE amount > :max_amount"}
  bad:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks:
      - {check: row_count, min: 5}
      - {check: not_null, column: user}
      - {check: not_null, column: user, mostly: 0.8}
      - {check: unique, column: grp}
      - {check: unique, columns: [grp, country]}
      - {check: between, column: amount, min: 0, max: 10}
      - {check: between, column: amount, min: 0, max: 11, strict: true, mostly: 0.75}
      - {check: between, column: amount, min: 0, max: 11, strict_max: true}
      - {check: between, column: day, min: "2026-01-06"}
      - {check: in_set, column: country, values: [de, fr]}
      - {check: regex, column: user, pattern: "^u[0-9]$"}
      - {check: freshness, column: ts, max_age: 3h}
      - {check: schema, required: {id: TEXT, email: null}, forbidden: [user]}
      - {check: sql, sql: "SELECT id, amount FROM t WHERE amount >= :max_amount"}
      - {check: not_null, column: usr}
)";

constexpr const char* kChecksRun = "checks@2026-01-10T00:00:00Z~manual-1";

struct Fixture : testing::Project {
  Fixture(const std::string& dag_file, const std::string& dag) { dir.Write(dag_file, dag); }
  // The results an attempt of `task` stored, one check a line.
  std::string Results(const std::string& task, const std::string& run = kChecksRun) {
    return Query(Db(),
                 "SELECT c.position, c.check_name, c.column_name, c.method, c.severity, c.passed, "
                 "round(c.observed, 4), c.threshold, c.failing_count, c.total_count "
                 "FROM check_results c JOIN attempts a ON a.id = c.attempt_id "
                 "WHERE a.task_id = '" +
                     task + "' AND a.run_id = '" + run + "' ORDER BY c.position");
  }
  // One column of those results, one check a line.
  std::string Column(const std::string& task, const std::string& column,
                     const std::string& run = kChecksRun) {
    return Query(Db(), "SELECT c." + column +
                           " FROM check_results c JOIN attempts a ON a.id = c.attempt_id "
                           "WHERE a.task_id = '" +
                           task + "' AND a.run_id = '" + run + "' ORDER BY c.position");
  }
  std::string States(const std::string& run) {
    return Query(Db(), "SELECT task_id, state FROM task_instances WHERE run_id = '" + run +
                           "' ORDER BY task_id");
  }
  std::string Log(const std::string& dag, const std::string& run, const std::string& task) {
    return ReadFile(dir / "home" / "logs" / dag / run / (task + ".1.log"));
  }
};

struct ChecksFixture : Fixture {
  ChecksFixture() : Fixture("dags/checks.yaml", kChecksDag) { dir.Write("dags/data/t.csv", kRows); }
};

TEST_CASE("every check passes on data that meets it, and reports what it observed",
          "[e2e][validate]") {
  ChecksFixture weir;
  Output run = weir({"run", "checks", "--date", "2026-01-10"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);  // `bad` fails
  CHECK(weir.States(kChecksRun) ==
        "bad|failed|\ngood|success|\nload|success|\nload_good|success|\n");
  CHECK(weir.Results("good") ==
        "0|row_count|||error|1|4.0|4.0|0|4|\n"
        "1|not_null|id||error|1|1.0|1.0|0|4|\n"
        "2|not_null|user||error|1|0.75|0.75|1|4|\n"
        "3|unique|id||error|1|1.0|1.0|0|4|\n"
        "4|unique|id,grp||error|1|1.0|1.0|0|4|\n"
        "5|between|amount||error|1|1.0|1.0|0|4|\n"
        "6|between|amount||error|1|0.5|0.5|2|4|\n"
        "7|between|day||error|1|1.0|1.0|0|4|\n"
        "8|in_set|country||error|1|1.0|1.0|0|4|\n"
        "9|regex|user||error|1|1.0|1.0|0|3|\n"
        "10|freshness|ts||error|1|14400.0|14400.0|0|4|\n"
        "11|schema|||error|1|0.0|0.0|0|7|\n"
        "12|sql|||error|1|0.0|0.0|0|0|\n");
  std::string log = weir.Log("checks", kChecksRun, "good");
  CHECK(Contains(log, "weir: validate good: 13 checks passed on warehouse://good_t, in "));
  CHECK(Contains(log, "freshness  ts       error     pass    14400"));
  CHECK(Query(weir.Db(), "SELECT metrics_json FROM attempts WHERE task_id = 'good'") ==
        R"({"checks":13,"checks_failed":0,"checks_warned":0}|)"
        "\n");
}

TEST_CASE("every check fails on data that breaks it, with its failing rows and why",
          "[e2e][validate]") {
  ChecksFixture weir;
  Output run = weir({"run", "checks", "--date", "2026-01-10"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  CHECK(weir.Results("bad") ==
        "0|row_count|||error|0|4.0|5.0|1|4|\n"
        "1|not_null|user||error|0|0.75|1.0|1|4|\n"
        "2|not_null|user||error|0|0.75|0.8|1|4|\n"
        "3|unique|grp||error|0|0.0|1.0|4|4|\n"
        "4|unique|grp,country||error|0|0.5|1.0|2|4|\n"
        "5|between|amount||error|0|0.75|1.0|1|4|\n"
        "6|between|amount||error|0|0.5|0.75|2|4|\n"
        "7|between|amount||error|0|0.75|1.0|1|4|\n"
        "8|between|day||error|0|0.75|1.0|1|4|\n"
        "9|in_set|country||error|0|0.75|1.0|1|4|\n"
        "10|regex|user||error|0|0.6667|1.0|1|3|\n"
        "11|freshness|ts||error|0|14400.0|10800.0|1|4|\n"
        "12|schema|||error|0|3.0|0.0|3|7|\n"
        "13|sql|||error|0|1.0|0.0|1|0|\n"
        "14|not_null|usr||error|0|NULL|NULL|0|0|\n");
  std::string rows = weir.Column("bad", "failing_rows");
  CHECK(Contains(rows, R"([{"country":"de","grp":1,"rows":2}])"));
  CHECK(Contains(rows, R"([{"amount":11.0,"country":"it","day":"2026-01-08","grp":2,"id":4,)"
                       R"("ts":"2026-01-10 20:00:00","user":"uu"}])"));
  CHECK(Contains(rows, R"([{"column":"email","problem":"missing"},)"
                       R"({"column":"id","problem":"type INTEGER where TEXT is required"},)"
                       R"({"column":"user","problem":"forbidden"}])"));
  CHECK(Contains(rows, R"([{"amount":11.0,"id":4}])"));
  std::string details = weir.Column("bad", "detail");
  CHECK(Contains(details, "4 rows (expected at least 5)"));
  CHECK(Contains(details, "1 of 4 rows are NULL (mostly 0.8)"));
  CHECK(Contains(details, "2 of 4 rows share their (grp,country) with another row"));
  CHECK(Contains(details,
                 "newest 2026-01-10 20:00:00 is 4h00m before the interval end "
                 "2026-01-11T00:00:00Z (max_age 3h)"));
  CHECK(Contains(details,
                 "email missing; id type INTEGER where TEXT is required; user forbidden|\n"));
  // A misspelt column fails the check instead of passing it.
  CHECK(Contains(details,
                 "could not be evaluated: the SQL does not prepare: no such column: usr|\n"));

  std::string log = weir.Log("checks", kChecksRun, "bad");
  CHECK(Contains(log, "weir: validate bad: 15 of 15 checks failed on warehouse://t\n"));
  CHECK(Query(weir.Db(), "SELECT exit_code, metrics_json FROM attempts WHERE task_id = 'bad'") ==
        R"(1|{"checks":15,"checks_failed":15,"checks_warned":0}|)"
        "\n");
  // Each result names the version of the table it checked.
  CHECK(Query(weir.Db(),
              "SELECT DISTINCT c.dataset_uri, d.uri, v.version FROM check_results c "
              "JOIN dataset_versions v ON v.id = c.version_id JOIN datasets d ON d.id = "
              "v.dataset_id ORDER BY 1") ==
        "warehouse://good_t|warehouse://good_t|1|\nwarehouse://t|warehouse://t|1|\n");
}

TEST_CASE("freshness is measured against the run's interval end, not the clock",
          "[e2e][validate]") {
  ChecksFixture weir;
  weir.dir.Write("dags/checks.yaml", R"(dag: checks
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    into: t
  fresh:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks: [{check: freshness, column: ts, max_age: 1d}]
)");
  CHECK(weir({"run", "checks", "--date", "2026-01-10"}).exit_code == 0);
  CHECK(weir.Results("fresh") == "0|freshness|ts||error|1|14400.0|86400.0|0|4|\n");
  // The same rows, judged for the next day: the newest is 28 hours before that interval's end.
  CHECK(weir({"run", "checks", "--date", "2026-01-11"}).exit_code == 1);
  CHECK(weir.Results("fresh", "checks@2026-01-11T00:00:00Z~manual-1") ==
        "0|freshness|ts||error|0|100800.0|86400.0|1|4|\n");
}

constexpr const char* kSeverityDag = R"(dag: sev
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    into: t
  warned:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks:
      - {check: row_count, min: 1}
      - {check: in_set, column: country, values: [de], severity: warn}
  after_warned:
    kind: transform
    deps: [warned]
    sql: SELECT count(*) AS n, 1 AS one FROM t
    into: after_warned
  errored:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks:
      - {check: in_set, column: country, values: [de]}
      - {check: not_null, column: user, severity: warn}
      - {check: row_count, min: 1}
  after_errored:
    kind: transform
    deps: [errored]
    sql: SELECT count(*) AS n, 1 AS one FROM t
    into: after_errored
)";

TEST_CASE("a failed warn check leaves its task successful, a failed error check fails it, exit 1",
          "[e2e][validate]") {
  Fixture weir("dags/sev.yaml", kSeverityDag);
  weir.dir.Write("dags/data/t.csv", kRows);
  Output run = weir({"run", "sev", "--date", "2026-01-10"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  const std::string id = "sev@2026-01-10T00:00:00Z~manual-1";
  CHECK(weir.States(id) ==
        "after_errored|upstream_failed|\nafter_warned|success|\nerrored|failed|\nload|success|\n"
        "warned|success|\n");
  CHECK(Query(weir.Db(),
              "SELECT task_id, state, exit_code, metrics_json FROM attempts WHERE task_id IN "
              "('warned', 'errored') ORDER BY task_id") ==
        "errored|failed|1|{\"checks\":3,\"checks_failed\":1,\"checks_warned\":1}|\n"
        "warned|success|0|{\"checks\":2,\"checks_failed\":0,\"checks_warned\":1}|\n");
  CHECK(weir.Results("warned", id) ==
        "0|row_count|||error|1|4.0|1.0|0|4|\n1|in_set|country||warn|0|0.5|1.0|2|4|\n");
  CHECK(Contains(weir.Log("sev", id, "warned"),
                 "weir: validate warned: 1 checks passed on warehouse://t, 1 warned, in "));
  CHECK(
      Contains(weir.Log("sev", id, "errored"),
               "weir: validate errored: 1 of 3 checks failed on warehouse://t (1 more warned)\n"));
  CHECK(Contains(weir.Log("sev", id, "errored"),
                 "in_set     country  error     FAIL    0.5       2 of 4 rows are not in the set "
                 "of 1 values\n"));
}

TEST_CASE("a validate task on a table that does not exist fails before any check, exit 2",
          "[e2e][validate]") {
  Fixture weir("dags/none.yaml", R"(dag: none
tasks:
  other:
    kind: transform
    sql: SELECT 1 AS a, 2 AS b
    into: other
  check:
    kind: validate
    deps: [other]
    dataset: warehouse://nosuch
    checks: [{check: row_count, min: 1}]
)");
  Output run = weir({"run", "none", "--date", "2026-01-10"});
  CHECK(run.exit_code == 1);
  CHECK(Query(weir.Db(), "SELECT state, exit_code FROM attempts WHERE task_id = 'check'") ==
        "failed|2|\n");
  CHECK(Query(weir.Db(), "SELECT count(*) FROM check_results") == "0|\n");
  CHECK(Contains(weir.Log("none", "none@2026-01-10T00:00:00Z~manual-1", "check"),
                 "weir: input warehouse://nosuch: table 'nosuch' does not exist in "));
}

TEST_CASE("a param rendered into a check's values is compared as a value, never run as SQL",
          "[e2e][validate]") {
  Fixture weir("dags/inj.yaml", R"(dag: inj
params: {country: de, pattern: "^[a-z]{2}$"}
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    into: t
  check:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks:
      - {check: in_set, column: country, values: ["{{ params.country }}", fr, it]}
      - {check: regex, column: country, pattern: "{{ params.pattern }}"}
)");
  weir.dir.Write("dags/data/t.csv", kRows);
  REQUIRE(weir({"run", "inj", "--date", "2026-01-10"}).exit_code == 0);
  const std::string second = "inj@2026-01-10T00:00:00Z~manual-2";
  Output hostile = weir({"run", "inj", "--date", "2026-01-10", "--param",
                         "country=x') OR 1=1 OR ('", "--param", "pattern=("});
  CHECK(hostile.exit_code == 1);
  CHECK(weir.Results("check", second) ==
        "0|in_set|country||error|0|0.5|1.0|2|4|\n1|regex|country||error|0|NULL|NULL|0|0|\n");
  CHECK(weir.Column("check", "detail", second) ==
        "2 of 4 rows are not in the set of 3 values|\n"
        "could not be evaluated: bad pattern '(': missing ): (|\n");
  CHECK(Query(weir.dir / "home" / "warehouse.db", "SELECT count(*) FROM t") == "4|\n");
}

TEST_CASE("drift against the previous version of an empty table has nothing to compare",
          "[e2e][validate]") {
  Fixture weir("dags/empty.yaml", R"(dag: empty
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/d.csv}
    columns: {x: REAL, cat: TEXT}
    into: cur
  check:
    kind: validate
    deps: [load]
    dataset: warehouse://cur
    checks:
      - {check: drift, column: x, method: ks}
      - {check: drift, column: cat, method: chi2}
)");
  weir.dir.Write("dags/data/d.csv", "x,cat\n");
  Output first = weir({"run", "empty", "--date", "2026-01-10"});
  INFO(first.out << first.err);
  CHECK(first.exit_code == 0);
  weir.dir.Write("dags/data/d.csv", "x,cat\n1,a\n2,b\n");
  CHECK(weir({"run", "empty", "--date", "2026-01-11"}).exit_code == 0);
  CHECK(weir.Column("check", "detail", "empty@2026-01-11T00:00:00Z~manual-1") ==
        "nothing to compare: a sample is empty|\nnothing to compare: a sample is empty|\n");
  // A rerun on the same rows compares with the empty version again.
  CHECK(weir({"run", "empty", "--date", "2026-01-12"}).exit_code == 0);
  CHECK(weir.Column("check", "passed", "empty@2026-01-12T00:00:00Z~manual-1") == "1|\n1|\n");
}

// 200 rows: x cycles through 0..49 and cat through a, b, c.
std::string DriftRows(int shift = 0, const std::string& cats = "abc", int extra = 0) {
  std::string csv = "x,cat\n";
  for (int i = 0; i < 200 + extra; ++i) {
    csv += std::to_string(i % 50 + shift) + "," + cats[i % 3] + "\n";
  }
  return csv;
}

constexpr const char* kDriftDag = R"(dag: drift
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/d.csv}
    into: cur
  same:
    kind: transform
    deps: [load]
    sql: SELECT x, cat FROM cur
    into: same
  shifted:
    kind: transform
    deps: [load]
    sql: "SELECT x + 1000 AS x, 'z' || cat AS cat, x AS y FROM cur"
    into: shifted
  check:
    kind: validate
    deps: [same, shifted]
    dataset: warehouse://cur
    checks:
      - {check: drift, column: x, method: ks, reference: {table: same}}
      - {check: drift, column: x, method: ks, reference: {table: shifted}}
      - {check: drift, column: x, method: ks, reference: {table: shifted, column: y}}
      - {check: drift, column: x, method: psi, reference: {table: same}}
      - {check: drift, column: x, method: psi, reference: {table: shifted}, bins: 5}
      - {check: drift, column: x, method: wasserstein, reference: {table: same}}
      - {check: drift, column: x, method: wasserstein, reference: {table: shifted}}
      - {check: drift, column: cat, method: chi2, reference: {table: same}}
      - {check: drift, column: cat, method: chi2, reference: {table: shifted}}
      - {check: drift, column: cat, method: js, reference: {table: same}}
      - {check: drift, column: cat, method: js, reference: {table: shifted}, threshold: 0.9}
      - {check: drift, column: cat, method: js, reference: {table: shifted}}
      - {check: drift, column: x, method: ks, reference: {sql: "SELECT x * 2 FROM cur"}}
      - {check: drift, column: cat, method: psi, reference: {table: same}}
)";

TEST_CASE(
    "drift against a table: ks, psi, wasserstein, chi2 and js pass on the same values and "
    "fail on shifted ones",
    "[e2e][validate]") {
  Fixture weir("dags/drift.yaml", kDriftDag);
  weir.dir.Write("dags/data/d.csv", DriftRows());
  Output run = weir({"run", "drift", "--date", "2026-01-10"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  const std::string id = "drift@2026-01-10T00:00:00Z~manual-1";
  CHECK(Query(weir.Db(),
              "SELECT position, column_name, method, passed, round(observed, 4), "
              "p_value IS NOT NULL, p_value < 1e-10, threshold, failing_count, total_count "
              "FROM check_results ORDER BY position") ==
        "0|x|ks|1|0.0|1|0|0.05|0|200|\n"
        "1|x|ks|0|1.0|1|1|0.05|1|200|\n"
        "2|x|ks|1|0.0|1|0|0.05|0|200|\n"
        "3|x|psi|1|0.0|0|NULL|0.2|0|200|\n"
        "4|x|psi|0|7.3652|0|NULL|0.2|1|200|\n"
        "5|x|wasserstein|1|0.0|0|NULL|0.1|0|200|\n"
        // A shift by 1000 over the reference's standard deviation, sqrt((50^2 - 1) / 12).
        "6|x|wasserstein|0|69.2959|0|NULL|0.1|1|200|\n"
        "7|cat|chi2|1|0.0|1|0|0.05|0|200|\n"
        "8|cat|chi2|0|400.0|1|1|0.05|1|200|\n"
        "9|cat|js|1|0.0|0|NULL|0.1|0|200|\n"
        // Disjoint categories: the largest Jensen-Shannon distance, sqrt(ln 2).
        "10|cat|js|1|0.8326|0|NULL|0.9|0|200|\n"
        "11|cat|js|0|0.8326|0|NULL|0.1|1|200|\n"
        "12|x|ks|0|0.5|1|1|0.05|1|200|\n"
        "13|cat|psi|0|NULL|0|NULL|NULL|0|0|\n");
  std::string details = Query(weir.Db(), "SELECT detail FROM check_results ORDER BY position");
  CHECK(Contains(details, "ks statistic 1, p-value "));
  CHECK(Contains(details, " against table shifted (drift when p < 0.05)|\n"));
  CHECK(Contains(details, "against the reference query"));
  CHECK(Contains(details,
                 "could not be evaluated: the column holds values that are not numbers; "
                 "use method chi2 or js for categories"));
  CHECK(Contains(weir.Log("drift", id, "check"),
                 "weir: validate check: 7 of 14 checks failed on warehouse://cur\n"));
}

TEST_CASE("drift against the previous version: nothing on the first run, then the version before",
          "[e2e][validate]") {
  Fixture weir("dags/prev.yaml", R"(dag: prev
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/d.csv}
    into: cur
  check:
    kind: validate
    deps: [load]
    dataset: warehouse://cur
    checks:
      - {check: drift, column: x, method: ks, reference: previous}
      - {check: drift, column: cat, method: chi2}
)");
  auto results = [&](const std::string& day) {
    return weir.Results("check", "prev@" + day + "T00:00:00Z~manual-1");
  };
  auto details = [&](const std::string& day) {
    return weir.Column("check", "detail", "prev@" + day + "T00:00:00Z~manual-1");
  };
  weir.dir.Write("dags/data/d.csv", DriftRows());
  CHECK(weir({"run", "prev", "--date", "2026-01-10"}).exit_code == 0);
  CHECK(results("2026-01-10") ==
        "0|drift|x|ks|error|1|NULL|0.05|0|200|\n1|drift|cat|chi2|error|1|NULL|0.05|0|200|\n");
  CHECK(details("2026-01-10") ==
        "no previous version to compare with yet|\nno previous version to compare with yet|\n");

  // The same distribution with a row more: compared, and alike.
  weir.dir.Write("dags/data/d.csv", DriftRows(0, "abc", 1));
  CHECK(weir({"run", "prev", "--date", "2026-01-11"}).exit_code == 0);
  CHECK(Query(weir.Db(),
              "SELECT passed, observed < 0.01, p_value > 0.9 FROM check_results c JOIN attempts "
              "a ON a.id = c.attempt_id WHERE a.run_id LIKE 'prev@2026-01-11%' ORDER BY "
              "position") == "1|1|1|\n1|1|1|\n");
  CHECK(Contains(details("2026-01-11"), "against the previous version"));

  // Shifted values and a new category: drift.
  weir.dir.Write("dags/data/d.csv", DriftRows(40, "abd"));
  CHECK(weir({"run", "prev", "--date", "2026-01-12"}).exit_code == 1);
  CHECK(results("2026-01-12") ==
        "0|drift|x|ks|error|0|0.801|0.05|1|200|\n1|drift|cat|chi2|error|0|132.9983|0.05|1|200|\n");

  // A rerun on the unchanged table compares with the version before it, not with itself.
  CHECK(weir({"run", "prev", "--date", "2026-01-13"}).exit_code == 1);
  CHECK(Query(weir.Db(),
              "SELECT state FROM task_instances WHERE task_id = 'load' AND run_id "
              "LIKE 'prev@2026-01-13%'") == "cached|\n");
  CHECK(results("2026-01-13") == results("2026-01-12"));
  // Two profiles are kept per column: the latest two versions.
  CHECK(Query(weir.dir / "home" / "warehouse.db",
              "SELECT dataset, column_name, kind, count(*) FROM weir_profiles GROUP BY 1, 2, 3 "
              "ORDER BY 2") ==
        "warehouse://cur|cat|categorical|2|\nwarehouse://cur|x|numeric|2|\n");
}

constexpr const char* kQualityDag = R"(dag: q
warehouse: wh.db
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/t.csv}
    into: t
  check:
    kind: validate
    deps: [load]
    dataset: warehouse://t
    checks:
      - {check: row_count, min: 1}
      - {check: in_set, column: country, values: [de, fr], severity: warn}
      - {check: between, column: amount, max: 10}
      - {check: drift, column: amount, method: ks, reference: {sql: "SELECT amount + 100 FROM t"}}
      - {check: drift, column: amount, method: psi, reference: {table: t}}
)";

TEST_CASE("weir quality shows the latest checks of a dataset as a table or as JSON",
          "[e2e][validate]") {
  Fixture weir("dags/q.yaml", kQualityDag);
  weir.dir.Write("dags/data/t.csv", kRows);
  REQUIRE(weir({"run", "q", "--date", "2026-01-10"}).exit_code == 1);
  const std::string before = DumpEveryTable(weir.Db());

  Output text = weir({"quality", "sqlite://wh.db#t"});
  INFO(text.err);
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.starts_with(
      "sqlite://wh.db#t@1: checked by q@2026-01-10T00:00:00Z~manual-1 / check try 1 at 20"));
  CHECK(Contains(text.out, "\nCHECK      COLUMN   SEVERITY  RESULT  OBSERVED"));
  CHECK(Contains(text.out, "\nrow_count  -        error     pass    4 "));
  CHECK(Contains(text.out, "\nin_set     country  warn      FAIL    0.75 "));
  CHECK(Contains(text.out, "\ndrift ks   amount   error     FAIL    1 (p "));
  CHECK(text.out.ends_with("5 checks: 2 passed, 2 failed, 1 warned\n"));
  CHECK(text.err.empty());

  Output json_out = weir({"quality", "sqlite://wh.db#t", "--format", "json"});
  REQUIRE(json_out.exit_code == 0);
  CHECK(CountLines(json_out.out) == 1);
  nlohmann::json checks = nlohmann::json::parse(json_out.out, nullptr, false);
  REQUIRE(checks.is_array());
  REQUIRE(checks.size() == 5);
  for (const nlohmann::json& c : checks) {
    for (const char* key : {"check", "column", "method", "observed", "p_value", "threshold",
                            "passed", "failing_count", "severity", "total", "detail",
                            "failing_rows", "dataset", "version", "run_id", "task_id"}) {
      CHECK(c.contains(key));
    }
    CHECK(c["dataset"] == "sqlite://wh.db#t");
    CHECK(c["run_id"] == "q@2026-01-10T00:00:00Z~manual-1");
    CHECK(c["task_id"] == "check");
    CHECK(c["version"] == 1);
  }
  CHECK(checks[0]["check"] == "row_count");
  CHECK(checks[0]["column"].is_null());
  CHECK(checks[0]["method"].is_null());
  CHECK(checks[0]["observed"] == 4.0);
  CHECK(checks[0]["threshold"] == 1.0);
  CHECK(checks[0]["passed"] == true);
  CHECK(checks[1]["severity"] == "warn");
  CHECK(checks[1]["passed"] == false);
  CHECK(checks[1]["failing_count"] == 1);
  CHECK(checks[1]["failing_rows"].size() == 1);
  CHECK(checks[2]["failing_rows"][0]["id"] == 4);
  CHECK(checks[3]["method"] == "ks");
  CHECK(checks[3]["observed"] == 1.0);
  REQUIRE(checks[3]["p_value"].is_number());
  CHECK(checks[3]["p_value"].get<double>() < 0.05);
  CHECK(checks[3]["threshold"] == 0.05);
  CHECK(checks[4]["method"] == "psi");
  CHECK(checks[4]["p_value"].is_null());
  CHECK(checks[4]["observed"] == 0.0);
  CHECK(checks[4]["passed"] == true);

  CHECK(DumpEveryTable(weir.Db()) == before);  // it only reads
}

TEST_CASE("weir quality --run shows an earlier run's checks", "[e2e][validate]") {
  Fixture weir("dags/q.yaml", kQualityDag);
  weir.dir.Write("dags/data/t.csv", kRows);
  REQUIRE(weir({"run", "q", "--date", "2026-01-10"}).exit_code == 1);
  weir.dir.Write("dags/data/t.csv", "id,amount,country\n1,1,de\n");
  REQUIRE(weir({"run", "q", "--date", "2026-01-11"}).exit_code == 0);

  Output latest = weir({"quality", "sqlite://wh.db#t"});
  CHECK(latest.out.starts_with("sqlite://wh.db#t@2: checked by q@2026-01-11T00:00:00Z~manual-1"));
  CHECK(latest.out.ends_with("5 checks: 5 passed, 0 failed, 0 warned\n"));
  Output first = weir({"quality", "sqlite://wh.db#t", "--run", "q@2026-01-10T00:00:00Z~manual-1"});
  CHECK(first.exit_code == 0);
  CHECK(first.out.starts_with("sqlite://wh.db#t@1: checked by q@2026-01-10T00:00:00Z~manual-1"));
  CHECK(first.out.ends_with("5 checks: 2 passed, 2 failed, 1 warned\n"));
}

TEST_CASE("bad weir quality input gets a one-line error, exit 2, and changes nothing",
          "[e2e][validate]") {
  Fixture weir("dags/q.yaml", kQualityDag);
  weir.dir.Write("dags/data/t.csv", kRows);

  Output nothing = weir({"quality", "sqlite://wh.db#t"});
  CHECK(nothing.exit_code == 2);
  CHECK(nothing.err == "weir: no checks have run on 'sqlite://wh.db#t': nothing has run yet\n");
  CHECK(!std::filesystem::exists(weir.Db()));

  REQUIRE(weir({"run", "q", "--date", "2026-01-10"}).exit_code == 1);
  const std::string before = DumpEveryTable(weir.Db());
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"quality", "sqlite://wh.db#tt"},
            "weir: no checks have run on 'sqlite://wh.db#tt' (did you mean 'sqlite://wh.db#t'?)\n"},
           {{"quality", "sqlite://wh.db#t", "--run", "q@nope"}, "weir: no run 'q@nope'\n"},
           {{"quality", "sqlite://wh.db#t", "--format", "xml"},
            "weir: --format 'xml': use text or json\n"},
       }) {
    Output o = weir(c.args);
    INFO(c.args[1]);
    CHECK(o.exit_code == 2);
    CHECK(o.err == c.error);
    CHECK(o.out.empty());
  }
  // A dataset weir knows, which no check read.
  Output unchecked = weir({"quality", "file:data/t.csv"});
  CHECK(unchecked.exit_code == 2);
  CHECK(unchecked.err == "weir: no checks have run on 'file:data/t.csv'\n");
  // A run that did not check it.
  weir.dir.Write("dags/other.yaml",
                 "dag: other\ntasks:\n  t: {kind: transform, sql: 'SELECT 1 AS a, 2 AS b', into: "
                 "o}\n");
  REQUIRE(weir({"run", "other", "--date", "2026-01-10"}).exit_code == 0);
  const std::string after_other = DumpEveryTable(weir.Db());
  Output wrong_run =
      weir({"quality", "sqlite://wh.db#t", "--run", "other@2026-01-10T00:00:00Z~manual-1"});
  CHECK(wrong_run.exit_code == 2);
  CHECK(wrong_run.err ==
        "weir: no checks have run on 'sqlite://wh.db#t' in run "
        "'other@2026-01-10T00:00:00Z~manual-1'\n");
  CHECK(DumpEveryTable(weir.Db()) == after_other);
  CHECK(before != after_other);
}

TEST_CASE("bad checks are load errors with file:line:col, and weir run changes nothing",
          "[e2e][validate]") {
  ChecksFixture weir;
  REQUIRE(weir({"run", "checks", "--date", "2026-01-10"}).exit_code == 1);
  const std::string before = DumpEveryTable(weir.Db());
  const std::string warehouse_before = DumpEveryTable(weir.dir / "home" / "warehouse.db");
  weir.dir.Write("dags/checks.yaml", R"(dag: checks
tasks:
  v:
    kind: validate
    dataset: warehouse://t
    checks:
      - {check: not_nul, column: id}
      - {check: not_null}
      - {check: not_null, column: id, mostly: 1.5}
      - {check: regex, column: id, pattern: "a(b"}
      - {check: drift, column: id, method: kl}
      - {check: drift, column: id, reference: {table: r, sql: "SELECT 1"}}
      - {check: between, column: id, min: 3, max: 1}
      - {check: unique, column: id, columns: [id]}
      - {check: row_count, min: 1, column: id}
)");
  Output validate = Weir(weir.dir, {"validate", "dags"});
  CHECK(validate.exit_code == 2);
  for (const char* error : {
           "checks.yaml:7:17: 'check' must be one of row_count, not_null, unique, between, in_set, "
           "regex, freshness, schema, sql, drift (did you mean 'not_null'?)\n",
           "checks.yaml:8:9: a not_null check needs 'column'\n",
           "checks.yaml:9:47: 'mostly' must be a fraction above 0 and at most 1, e.g. 0.99\n",
           "checks.yaml:10:45: 'pattern' is not a valid regular expression: missing ): a(b\n",
           "checks.yaml:11:44: 'method' must be one of psi, ks, wasserstein, chi2, js (did you "
           "mean 'ks'?)\n",
           "checks.yaml:12:47: a drift reference needs 'table' or 'sql', not both\n",
           "checks.yaml:13:43: 'min' is above 'max'\n",
           "checks.yaml:14:9: a unique check needs 'column' or 'columns' (a list), not both\n",
           "checks.yaml:15:36: unknown key 'column' in a row_count check\n",
       }) {
    CHECK(Contains(validate.err, error));
  }
  CHECK(Contains(validate.err, "9 errors in 1 file\n"));

  Output run = weir({"run", "checks", "--date", "2026-01-11"});
  CHECK(run.exit_code == 2);
  CHECK(Contains(run.err, "weir: checks.yaml:10:45: 'pattern' is not a valid regular expression"));
  CHECK(DumpEveryTable(weir.Db()) == before);
  CHECK(DumpEveryTable(weir.dir / "home" / "warehouse.db") == warehouse_before);
}

}  // namespace
}  // namespace weir

// The ingest kind end to end: CSV, JSON lines and SQLite sources loaded by the real binary into
// the warehouse, reruns in partition mode, bad rows (quarantined, or failing the task with the
// warehouse as it was), params that reach SQL only as bound values, lineage, and load errors.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Contains;
using testing::DumpEveryTable;
using testing::Output;
using testing::Query;
using testing::ReadFile;
using testing::Weir;

constexpr const char* kPartitionDag = R"(dag: ing
schedule: "@daily"
start_date: 2026-01-10
tasks:
  load:
    kind: ingest
    source: {format: csv, path: "data/events_{{ ds_nodash }}.csv"}
    columns: {id: INTEGER, user: TEXT, amount: REAL, ts: TIMESTAMP}
    on_bad_row: quarantine
    into: events
    mode: partition
    partition_column: ts
)";

// Two good rows of 2026-01-10 (one with a UTC offset), one that is not a number, one of the day
// before.
constexpr const char* kDay10 =
    "id,user,amount,ts\n"
    "1,u1,3.5,2026-01-10T01:00:00Z\n"
    "2,u2,oops,2026-01-10T02:00:00Z\n"
    "3,u3,7,2026-01-10T09:30:00+01:00\n"
    "4,u4,1,2026-01-09T23:00:00Z\n";

struct Fixture : testing::Project {
  Fixture(const std::string& dag_file, const std::string& dag) { dir.Write(dag_file, dag); }
  std::filesystem::path Warehouse() const { return dir / "home" / "warehouse.db"; }
  std::string Table(const std::string& sql) { return Query(Warehouse(), sql); }
  std::string Log(const std::string& dag, const std::string& run, const std::string& task) {
    return ReadFile(dir / "home" / "logs" / dag / run / (task + ".1.log"));
  }
  std::string State(const std::string& run, const std::string& task) {
    return Query(Db(), "SELECT state FROM task_instances WHERE run_id = '" + run +
                           "' AND task_id = '" + task + "'");
  }
  Output Run(const std::string& dag, const std::string& date, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run", dag, "--date", date};
    args.insert(args.end(), extra.begin(), extra.end());
    return (*this)(args);
  }
};

struct PartitionFixture : Fixture {
  PartitionFixture() : Fixture("dags/ing.yaml", kPartitionDag) {
    dir.Write("dags/data/events_20260110.csv", kDay10);
    dir.Write("dags/data/events_20260111.csv",
              "id,user,amount,ts\n5,u5,2,2026-01-11T05:00:00Z\n6,u6,4,2026-01-11T23:59:59Z\n");
  }
  std::string Events() { return Table("SELECT * FROM events ORDER BY id"); }
};

TEST_CASE("a partition ingest run again for its date replaces that day's rows, never duplicates",
          "[e2e][ingest]") {
  PartitionFixture weir;
  Output first = weir.Run("ing", "2026-01-10");
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  const std::string day10 =
      "1|u1|3.5|2026-01-10 01:00:00|\n"
      "3|u3|7.0|2026-01-10 08:30:00|\n";
  CHECK(weir.Events() == day10);
  CHECK(Contains(weir.Log("ing", "ing@2026-01-10T00:00:00Z~manual-1", "load"),
                 "weir: ingest read 4 rows, wrote 2 into events (mode partition), rejected 2 (kept "
                 "in events_quarantine), in "));
  CHECK(Query(weir.Db(), "SELECT metrics_json FROM attempts WHERE task_id = 'load'") ==
        R"({"rows_read":4,"rows_rejected":2,"rows_written":2}|)"
        "\n");

  // Really run again (not cached): the same rows, the quarantine replaced rather than added to.
  Output again = weir.Run("ing", "2026-01-10", {"--no-cache"});
  REQUIRE(again.exit_code == 0);
  CHECK(weir.State("ing@2026-01-10T00:00:00Z~manual-2", "load") == "success|\n");
  CHECK(weir.Events() == day10);
  CHECK(weir.Table("SELECT line, run_id FROM events_quarantine ORDER BY line") ==
        "3|ing@2026-01-10T00:00:00Z~manual-2|\n5|ing@2026-01-10T00:00:00Z~manual-2|\n");

  // A corrected file for the same day replaces the day's rows.
  weir.dir.Write("dags/data/events_20260110.csv",
                 "id,user,amount,ts\n1,u1,3.5,2026-01-10T01:00:00Z\n2,u2,8,2026-01-10T02:00:00Z\n");
  REQUIRE(weir.Run("ing", "2026-01-10").exit_code == 0);
  CHECK(weir.State("ing@2026-01-10T00:00:00Z~manual-3", "load") == "success|\n");
  CHECK(weir.Events() ==
        "1|u1|3.5|2026-01-10 01:00:00|\n"
        "2|u2|8.0|2026-01-10 02:00:00|\n");
  CHECK(weir.Table("SELECT count(*) FROM events_quarantine") == "0|\n");

  // The next day adds its rows and keeps the first day's.
  REQUIRE(weir.Run("ing", "2026-01-11").exit_code == 0);
  CHECK(weir.Events() ==
        "1|u1|3.5|2026-01-10 01:00:00|\n"
        "2|u2|8.0|2026-01-10 02:00:00|\n"
        "5|u5|2.0|2026-01-11 05:00:00|\n"
        "6|u6|4.0|2026-01-11 23:59:59|\n");
  // Each day once more, the second cached and the first really run: still no duplicates.
  REQUIRE(weir.Run("ing", "2026-01-11").exit_code == 0);
  CHECK(weir.State("ing@2026-01-11T00:00:00Z~manual-2", "load") == "cached|\n");
  REQUIRE(weir.Run("ing", "2026-01-10", {"--no-cache"}).exit_code == 0);
  CHECK(weir.Table("SELECT count(*), count(DISTINCT id) FROM events") == "4|4|\n");
}

TEST_CASE("bad rows go to the quarantine table with their file, line, reason and raw text",
          "[e2e][ingest]") {
  PartitionFixture weir;
  weir.dir.Write("dags/data/events_20260110.csv",
                 "id,user,amount,ts\n"
                 "1,u1,3.5,2026-01-10T01:00:00Z\n"
                 "2,u2,x,2026-01-10T02:00:00Z\n"
                 "3,u3,1\n"
                 "4,u\xff"
                 "4,2,2026-01-10T03:00:00Z\n"
                 "\n"
                 "5,u5,2,2026-01-09T23:00:00Z\n"
                 "6,u6,2,yesterday\n"
                 "7,\"u\"\"7\",1e3,2026-01-10\n");
  REQUIRE(weir.Run("ing", "2026-01-10").exit_code == 0);
  CHECK(weir.Events() ==
        "1|u1|3.5|2026-01-10 01:00:00|\n"
        "7|u\"7|1000.0|2026-01-10 00:00:00|\n");
  const std::string run = "ing@2026-01-10T00:00:00Z~manual-1";
  CHECK(weir.Table("SELECT source, line, reason, typeof(raw), CAST(raw AS TEXT) = '2,u2,x,"
                   "2026-01-10T02:00:00Z', run_id, task_id, try_number FROM events_quarantine "
                   "WHERE line = 3") ==
        "data/events_20260110.csv|3|column amount: 'x' is not a REAL|text|1|" + run + "|load|1|\n");
  CHECK(weir.Table("SELECT line, reason, typeof(raw), hex(raw) FROM events_quarantine ORDER BY "
                   "line") ==
        "3|column amount: 'x' is not a REAL|text|322C75322C782C323032362D30312D31305430323A30303A"
        "30305A|\n"
        "4|3 fields where the header has 4|text|332C75332C31|\n"
        // Not UTF-8: kept byte for byte as a BLOB.
        "5|invalid UTF-8 at byte 4 of the record|blob|342C75FF342C322C323032362D30312D313054303"
        "33A30303A30305A|\n"
        // The blank line 6 is skipped but counted.
        "7|ts 2026-01-09 23:00:00 is outside the run's interval [2026-01-10 00:00:00, 2026-01-11 "
        "00:00:00)|text|352C75352C322C323032362D30312D30395432333A30303A30305A|\n"
        "8|column ts: 'yesterday' is not a TIMESTAMP (write ISO 8601: 2026-01-10T07:30:00Z)|text|"
        "362C75362C322C796573746572646179|\n");
  CHECK(Contains(weir.Log("ing", run, "load"),
                 "weir: ingest read 7 rows, wrote 2 into events (mode partition), rejected 5 (kept "
                 "in events_quarantine), in "));
}

TEST_CASE(
    "with on_bad_row fail a bad row fails the task, names the file and line, and leaves the "
    "warehouse as it was",
    "[e2e][ingest]") {
  std::string dag = kPartitionDag;
  dag.replace(dag.find("on_bad_row: quarantine"), 22, "on_bad_row: fail");
  Fixture weir("dags/ing.yaml", dag);
  weir.dir.Write("dags/data/events_20260110.csv",
                 "id,user,amount,ts\n1,u1,3.5,2026-01-10T01:00:00Z\n2,u2,4,2026-01-10T02:00:00Z\n");
  REQUIRE(weir.Run("ing", "2026-01-10").exit_code == 0);
  const std::string tables = DumpEveryTable(weir.Warehouse());
  const std::string bytes = ReadFile(weir.Warehouse());
  REQUIRE(Contains(tables, "1|u1|3.5|2026-01-10 01:00:00|\n2|u2|4.0|2026-01-10 02:00:00|\n"));

  // A new file for the same day: its first row would replace the day's rows, its second is bad.
  weir.dir.Write("dags/data/events_20260110.csv",
                 "id,user,amount,ts\n9,u9,1,2026-01-10T05:00:00Z\n10,u10,x,2026-01-10T06:00:00Z\n"
                 "11,u11,2,2026-01-10T07:00:00Z\n");
  Output run = weir.Run("ing", "2026-01-10");
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  const std::string id = "ing@2026-01-10T00:00:00Z~manual-2";
  CHECK(weir.State(id, "load") == "failed|\n");
  CHECK(Query(weir.Db(), "SELECT exit_code, metrics_json FROM attempts WHERE run_id = '" + id +
                             "'") == "2|NULL|\n");
  CHECK(Contains(weir.Log("ing", id, "load"),
                 "weir: ingest load: data/events_20260110.csv:3: column amount: 'x' is not a REAL "
                 "(on_bad_row: fail; 'skip' or 'quarantine' would go on)\n"));
  CHECK(DumpEveryTable(weir.Warehouse()) == tables);
  CHECK(ReadFile(weir.Warehouse()) == bytes);
  CHECK(!std::filesystem::exists(weir.dir / "home" / "warehouse.db-journal"));
}

TEST_CASE("a JSON lines source keeps JSON types, and its bad lines are quarantined by line",
          "[e2e][ingest]") {
  Fixture weir("dags/j.yaml", R"(dag: j
tasks:
  inferred:
    kind: ingest
    source: {format: jsonl, path: data/e.jsonl}
    infer_rows: 2
    on_bad_row: quarantine
    into: inferred
  declared:
    kind: ingest
    source: {format: jsonl, path: data/e.jsonl}
    columns: {id: INTEGER, score: REAL, meta: TEXT, ok: INTEGER, at: TIMESTAMP}
    on_bad_row: skip
    into: declared
)");
  weir.dir.Write(
      "dags/data/e.jsonl",
      R"({"id": 1, "score": 2.5, "meta": {"city": "Oslo"}, "ok": true, "at": "2026-01-10T07:30:00Z"}
{"id": 2, "score": 3, "meta": ["a", "b"], "ok": false, "at": null}

{"id": 3, "score": "4", "ok": true}
not json
[1, 2]
{"id": 5, "score": 1, "new_key": 1}
)");
  Output run = weir.Run("j", "2026-01-10");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const std::string both =
      "1|2.5|{\"city\":\"Oslo\"}|1|2026-01-10 07:30:00|integer|real|\n"
      "2|3.0|[\"a\",\"b\"]|0|NULL|integer|real|\n";
  CHECK(weir.Table("SELECT id, score, meta, ok, at, typeof(id), typeof(score) FROM inferred "
                   "ORDER BY id") == both);
  CHECK(weir.Table("SELECT name, type FROM pragma_table_info('inferred')") ==
        "id|INTEGER|\nscore|REAL|\nmeta|TEXT|\nok|INTEGER|\nat|TIMESTAMP|\n");
  CHECK(weir.Table("SELECT source, line, reason, raw FROM inferred_quarantine ORDER BY line") ==
        "data/e.jsonl|4|column score: '4' is not a REAL|{\"id\": 3, \"score\": \"4\", \"ok\": "
        "true}|\n"
        "data/e.jsonl|5|not valid JSON|not json|\n"
        "data/e.jsonl|6|not a JSON object|[1, 2]|\n"
        "data/e.jsonl|7|key 'new_key' is not among the columns found in the sample|{\"id\": 5, "
        "\"score\": 1, \"new_key\": 1}|\n");
  // Declared columns: other keys are ignored, and skipped rows are only counted.
  CHECK(weir.Table("SELECT id, score, meta, ok, at, typeof(id), typeof(score) FROM declared "
                   "ORDER BY id") == both + "5|1.0|NULL|NULL|NULL|integer|real|\n");
  CHECK(weir.Table("SELECT count(*) FROM sqlite_master WHERE name = 'declared_quarantine'") ==
        "0|\n");
  CHECK(
      Contains(weir.Log("j", "j@2026-01-10T00:00:00Z~manual-1", "declared"),
               "weir: ingest read 6 rows, wrote 3 into declared (mode replace), rejected 3, in "));
}

constexpr const char* kSqliteDag = R"(dag: s
params: {min_id: 1}
tasks:
  deletes:
    kind: ingest
    source: {format: sqlite, path: data/src.db, query: "DELETE FROM s RETURNING *"}
    into: s_deleted
  two:
    kind: ingest
    source: {format: sqlite, path: data/src.db, query: "SELECT * FROM s; DROP TABLE s"}
    into: s_two
  attach:
    kind: ingest
    source: {format: sqlite, path: data/src.db, query: "SELECT * FROM s WHERE (SELECT count(*) FROM pragma_table_info('s')) > 0"}
    into: s_attach
  good:
    kind: ingest
    source: {format: sqlite, path: data/src.db, query: "SELECT id, v FROM s WHERE id > :min_id"}
    into: s_good
)";

TEST_CASE("a sqlite source reads with one SELECT, a query that writes is refused",
          "[e2e][ingest]") {
  Fixture weir("dags/s.yaml", kSqliteDag);
  weir.dir.Write("dags/data/README", "the source database goes here\n");
  // The source database, written by a transform of another DAG whose warehouse it is.
  weir.dir.Write("dags/mk.yaml", R"(dag: mk
warehouse: data/src.db
tasks:
  s:
    kind: transform
    sql: SELECT 1 AS id, 'a' AS v UNION ALL SELECT 2, 'b' UNION ALL SELECT 3, 'c'
    into: s
)");
  REQUIRE(weir.Run("mk", "2026-01-10").exit_code == 0);
  const std::filesystem::path source = weir.dir / "dags" / "data" / "src.db";
  const std::string source_bytes = ReadFile(source);

  Output run = weir.Run("s", "2026-01-10");
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  const std::string id = "s@2026-01-10T00:00:00Z~manual-1";
  CHECK(Query(weir.Db(), "SELECT task_id, state, exit_code FROM attempts WHERE run_id = '" + id +
                             "' ORDER BY task_id") ==
        "attach|failed|2|\ndeletes|failed|2|\ngood|success|0|\ntwo|failed|2|\n");
  CHECK(Contains(weir.Log("s", id, "deletes"),
                 "weir: ingest deletes: the SQL of a sqlite source must only read (a SELECT); it "
                 "tried to change the warehouse or attach a database\n"));
  CHECK(Contains(weir.Log("s", id, "two"),
                 "weir: ingest two: the SQL of a sqlite source holds more than one statement; it "
                 "runs one SELECT\n"));
  CHECK(Contains(weir.Log("s", id, "attach"),
                 "weir: ingest attach: the SQL of a sqlite source must only read"));
  CHECK(ReadFile(source) == source_bytes);
  CHECK(Query(source, "SELECT * FROM s ORDER BY id") == "1|a|\n2|b|\n3|c|\n");
  CHECK(weir.Table("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1") ==
        "s_good|\n");
  CHECK(weir.Table("SELECT * FROM s_good ORDER BY id") == "2|b|\n3|c|\n");
  // The table the query read is the task's input, with its version.
  CHECK(Query(weir.Db(),
              "SELECT d.uri, v.version FROM attempt_reads r JOIN attempts a ON a.id = "
              "r.attempt_id JOIN dataset_versions v ON v.id = r.version_id JOIN datasets d ON "
              "d.id = v.dataset_id WHERE a.task_id = 'good'") == "sqlite://data/src.db#s|1|\n");
}

constexpr const char* kJoinDag = R"(dag: j
params: {country: de}
tasks:
  events:
    kind: ingest
    source: {format: csv, path: "data/events_{{ ds_nodash }}.csv"}
    into: events
  users:
    kind: ingest
    source: {format: jsonl, path: data/users.jsonl}
    into: users
  joined:
    kind: transform
    deps: [events, users]
    sql: |
      SELECT e.id, e.amount AS spent, u.name, e.amount * 2 AS doubled
        FROM events e JOIN users u ON u.user = e.user
       WHERE e.country = :country
    into: joined
)";

struct JoinFixture : Fixture {
  JoinFixture() : Fixture("dags/j.yaml", kJoinDag) {
    dir.Write("dags/data/events_20260110.csv",
              "id,user,amount,country\n1,u1,3.5,de\n2,u2,7,fr\n3,u1,1,de' OR '1'='1\n");
    dir.Write("dags/data/users.jsonl",
              "{\"user\": \"u1\", \"name\": \"Ann\"}\n{\"user\": \"u2\", \"name\": \"Bob\"}\n");
  }
};

TEST_CASE("a param that looks like SQL reaches a transform only as a bound value",
          "[e2e][ingest]") {
  JoinFixture weir;
  REQUIRE(weir.Run("j", "2026-01-10").exit_code == 0);
  CHECK(weir.Table("SELECT id, spent, name FROM joined ORDER BY id") == "1|3.5|Ann|\n");

  // Matches only the row whose country is that very text.
  REQUIRE(weir.Run("j", "2026-01-10", {"--param", "country=de' OR '1'='1"}).exit_code == 0);
  CHECK(weir.Table("SELECT id, spent, name FROM joined ORDER BY id") == "3|1.0|Ann|\n");

  Output drop = weir.Run("j", "2026-01-10", {"--param", "country=x'; DROP TABLE users; --"});
  REQUIRE(drop.exit_code == 0);
  CHECK(weir.Table("SELECT count(*) FROM joined") == "0|\n");
  CHECK(weir.Table("SELECT count(*) FROM users") == "2|\n");
  CHECK(Query(weir.Db(), "SELECT params_json FROM runs ORDER BY created_at_ms, run_id") ==
        "{\"country\":\"de\"}|\n"
        "{\"country\":\"de' OR '1'='1\"}|\n"
        "{\"country\":\"x'; DROP TABLE users; --\"}|\n");
  // The SQL run was the one in the DAG file: the value is in the bindings, not the text.
  CHECK(Query(weir.Db(),
              "SELECT DISTINCT json_extract(config_json, '$.sql') FROM attempts WHERE "
              "task_id = 'joined'")
            .find("WHERE e.country = :country") != std::string::npos);

  // Spliced into the SQL text instead, it is a load error.
  std::string spliced = kJoinDag;
  spliced.replace(spliced.find(":country"), 8, "'{{ params.country }}'");
  weir.dir.Write("dags/j.yaml", spliced);
  Output load = Weir(weir.dir, {"validate", "dags"});
  CHECK(load.exit_code == 2);
  CHECK(Contains(load.err,
                 "j.yaml:15:10: params reach SQL only as bound parameters: write :name, "
                 "not {{ params.name }}\n"));
}

TEST_CASE("lineage: an ingested table comes from its CSV file, and a join's columns from theirs",
          "[e2e][ingest]") {
  JoinFixture weir;
  REQUIRE(weir.Run("j", "2026-01-10").exit_code == 0);

  Output up = weir({"lineage", "upstream", "warehouse://events"});
  INFO(up.err);
  REQUIRE(up.exit_code == 0);
  CHECK(up.out.starts_with("warehouse://events@1  sha256:"));
  CHECK(Contains(up.out, "/ events try 1 (success, exit 0,"));
  CHECK(Contains(up.out, "read file:data/events_20260110.csv@1  sha256:"));
  CHECK(Contains(up.out, "(source: not written by weir)"));

  Output joined = weir({"lineage", "upstream", "warehouse://joined"});
  REQUIRE(joined.exit_code == 0);
  CHECK(Contains(joined.out, "read file:data/events_20260110.csv@1"));
  CHECK(Contains(joined.out, "read file:data/users.jsonl@1"));

  // Every column lineage edge, as OUTPUT.COLUMN <- INPUT.COLUMN.
  CHECK(Query(weir.Db(),
              "SELECT o.uri || '.' || c.output_column || ' <- ' || i.uri || '.' || "
              "c.input_column || ' ' || c.transformation FROM column_lineage c "
              "JOIN dataset_versions ov ON ov.id = c.output_version_id "
              "JOIN datasets o ON o.id = ov.dataset_id "
              "JOIN dataset_versions iv ON iv.id = c.input_version_id "
              "JOIN datasets i ON i.id = iv.dataset_id ORDER BY 1") ==
        "warehouse://events.amount <- file:data/events_20260110.csv.amount identity|\n"
        "warehouse://events.country <- file:data/events_20260110.csv.country identity|\n"
        "warehouse://events.id <- file:data/events_20260110.csv.id identity|\n"
        "warehouse://events.user <- file:data/events_20260110.csv.user identity|\n"
        "warehouse://joined.id <- warehouse://events.id identity|\n"
        "warehouse://joined.name <- warehouse://users.name identity|\n"
        "warehouse://joined.spent <- warehouse://events.amount identity|\n"
        "warehouse://users.name <- file:data/users.jsonl.name identity|\n"
        "warehouse://users.user <- file:data/users.jsonl.user identity|\n");
}

// A partition (or append, or upsert) load keeps the rows of the table's previous version, but
// the attempt records only the file it read: the lineage of the second day's version does not
// reach the first day's file, whose rows it holds.
TEST_CASE("after two daily partition loads, the table's lineage reaches both days' files",
          "[e2e][ingest]") {
  PartitionFixture weir;
  REQUIRE(weir.Run("ing", "2026-01-10").exit_code == 0);
  REQUIRE(weir.Run("ing", "2026-01-11").exit_code == 0);
  REQUIRE(weir.Table("SELECT count(*) FROM events") == "4|\n");
  Output up = weir({"lineage", "upstream", "warehouse://events@2"});
  REQUIRE(up.exit_code == 0);
  CHECK(Contains(up.out, "read file:data/events_20260111.csv@1"));
  CHECK(Contains(up.out, "file:data/events_20260110.csv@1"));
}

// weir creates a missing warehouse file, but not the folder it is to be in: SQLite's "unable to
// open database file" fails the task.
TEST_CASE("a warehouse in a folder that does not exist yet is created with its folder",
          "[e2e][ingest]") {
  Fixture weir("dags/w.yaml", R"(dag: w
warehouse: out/wh.db
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/e.csv}
    into: e
)");
  weir.dir.Write("dags/data/e.csv", "a,b\n1,x\n");
  Output run = weir.Run("w", "2026-01-10");
  INFO(run.out << run.err << weir.Log("w", "w@2026-01-10T00:00:00Z~manual-1", "load"));
  CHECK(run.exit_code == 0);
  REQUIRE(std::filesystem::exists(weir.dir / "dags" / "out" / "wh.db"));
  CHECK(Query(weir.dir / "dags" / "out" / "wh.db", "SELECT * FROM e") == "1|x|\n");
}

// `weir validate` accepts a quarantine table that is `into` itself; the run then fails with
// "the SQL does not prepare: no such column: source".
TEST_CASE("a quarantine_table that is the ingest's own table is a load error", "[e2e][ingest]") {
  Fixture weir("dags/q.yaml", R"(dag: q
tasks:
  load:
    kind: ingest
    source: {format: csv, path: data/e.csv}
    on_bad_row: quarantine
    quarantine_table: e
    into: e
)");
  weir.dir.Write("dags/data/e.csv", "a,b\n1,x\n2\n");
  Output validate = Weir(weir.dir, {"validate", "dags"});
  INFO(validate.out << validate.err);
  CHECK(validate.exit_code == 2);
  CHECK(Contains(validate.err, "q.yaml:7:23: "));
  Output run = weir.Run("q", "2026-01-10");
  INFO(weir.Log("q", "q@2026-01-10T00:00:00Z~manual-1", "load"));
  CHECK(run.exit_code == 2);
}

TEST_CASE("ingest config errors are load errors with file:line:col, and weir run changes nothing",
          "[e2e][ingest]") {
  PartitionFixture weir;
  REQUIRE(weir.Run("ing", "2026-01-10").exit_code == 0);
  const std::string before = DumpEveryTable(weir.Db());
  const std::string warehouse = DumpEveryTable(weir.Warehouse());
  weir.dir.Write("dags/ing.yaml", R"(dag: ing
tasks:
  a: {kind: ingest, source: {format: parquet, path: x.parquet}, into: t}
  b:
    kind: ingest
    source: {format: csv, path: x.csv, header: false}
    into: t
  c:
    kind: ingest
    source: {format: csv, path: x.csv}
    columns: {id: BIGINT, name: TEXT}
    into: t
  d:
    kind: ingest
    source: {format: jsonl, path: x.jsonl, delimiter: ";"}
    on_bad_row: ignore
    into: t
  e:
    kind: ingest
    source: {format: sqlite, path: x.db}
    columns: {id: INTEGER}
    quarantine_table: bad
    into: t
    mode: partition
    partition_column: ts
  f:
    kind: ingest
    source: {format: sqlite, path: x.db, query: "SELECT * FROM t WHERE id = {{ params.id }}"}
    into: t
  g:
    kind: ingest
    source: {format: http, url: "http://x/y", headers: {Authorization: WEIR_TOKEN}}
    into: t
)");
  Output validate = Weir(weir.dir, {"validate", "dags"});
  CHECK(validate.exit_code == 2);
  for (const char* error : {
           "ing.yaml:3:38: 'format' must be one of csv, jsonl, sqlite, http\n",
           "ing.yaml:6:48: a CSV without a header needs 'columns:' to name its columns\n",
           "ing.yaml:11:19: 'columns.id' must be one of INTEGER, REAL, TEXT, TIMESTAMP\n",
           "ing.yaml:15:44: unknown key 'delimiter' in a jsonl source\n",
           "ing.yaml:16:17: 'on_bad_row' must be one of fail, skip, quarantine\n",
           "ing.yaml:20:13: a sqlite source needs 'query': one SELECT, run read-only\n",
           "ing.yaml:22:23: 'quarantine_table' needs on_bad_row: quarantine\n",
           "ing.yaml:25:23: partition_column 'ts' is not among 'columns'\n",
           "ing.yaml:28:49: params reach SQL only as bound parameters: write :name, not {{ "
           "params.name }}\n",
           "ing.yaml:28:49: param 'id' is not declared in 'params:'\n",
           "ing.yaml:32:72: header 'Authorization': variables starting with WEIR_ are weir's own, "
           "not passed to the task; use another name\n",
       }) {
    CHECK(Contains(validate.err, error));
  }
  CHECK(Contains(validate.err, "11 errors in 1 file\n"));

  Output run = weir.Run("ing", "2026-01-11");
  CHECK(run.exit_code == 2);
  CHECK(Contains(run.err, "weir: ing.yaml:3:38: 'format' must be one of csv, jsonl, sqlite, http"));
  CHECK(DumpEveryTable(weir.Db()) == before);
  CHECK(DumpEveryTable(weir.Warehouse()) == warehouse);
}

}  // namespace
}  // namespace weir

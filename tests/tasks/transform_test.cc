// The transform kind against a real SQLite warehouse: what it reads, what it refuses, and each
// write mode, all or nothing.
#include "tasks/transform.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::TempDir;

struct Warehouse {
  TempDir dir;
  std::filesystem::path path = dir / "warehouse.db";

  Warehouse() {
    Sql("CREATE TABLE raw (user TEXT, amount INTEGER, country TEXT, event_ts TEXT);"
        "INSERT INTO raw VALUES ('u1', 3, 'DE', '2026-01-15T10:00:00Z'),"
        " ('u2', -5, 'FR', '2026-01-15T11:00:00Z'), ('u3', 7, 'DE', '2026-01-16T09:00:00Z');");
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }

  std::string Rows(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    std::string out;
    sqlite3_exec(
        db, sql.c_str(),
        [](void* sink, int n, char** values, char**) {
          auto* s = static_cast<std::string*>(sink);
          for (int i = 0; i < n; ++i) *s += std::string(values[i] ? values[i] : "NULL") + "|";
          *s += "\n";
          return 0;
        },
        &out, nullptr);
    sqlite3_close(db);
    return out;
  }

  TransformConfig Config(std::string sql, std::string mode = "replace") {
    TransformConfig c;
    c.sql = std::move(sql);
    c.target.into = "clean";
    c.target.mode = std::move(mode);
    c.warehouse = path;
    c.bindings = {{"min_amount", "0"}, {"ds", "\"2026-01-15\""}, {"country", "\"DE\""}};
    c.target.interval_start = "2026-01-15T00:00:00Z";
    c.target.interval_end = "2026-01-16T00:00:00Z";
    return c;
  }
};

TEST_CASE("a transform's plan names the tables and columns it reads and the parameters it binds",
          "[tasks]") {
  Warehouse w;
  auto plan = PlanTransform(
      w.Config("SELECT user, amount * 2 AS doubled, :ds AS ds FROM raw WHERE amount >= "
               ":min_amount"));
  REQUIRE(plan);
  CHECK(plan->tables == std::vector<std::string>{"raw"});
  REQUIRE(plan->columns.size() == 3);
  CHECK(plan->columns[0].output == "user");
  CHECK(plan->columns[0].table == "raw");
  CHECK(plan->columns[0].column == "user");
  CHECK(plan->columns[1].output == "doubled");
  CHECK(plan->columns[1].table.empty());  // an expression: dataset-level lineage only
  CHECK(plan->parameters == std::vector<std::string>{"ds", "min_amount"});
}

TEST_CASE("the plan of a join maps each output column to its table and column", "[tasks]") {
  Warehouse w;
  w.Sql("CREATE TABLE users (user TEXT, signup TEXT, plan TEXT)");
  auto plan = PlanTransform(
      w.Config("SELECT r.user AS who, u.plan, r.amount + 1 AS bumped, count(*) AS n FROM raw AS r "
               "JOIN users AS u ON u.user = r.user GROUP BY r.user, u.plan"));
  REQUIRE(plan);
  CHECK(plan->tables == std::vector<std::string>{"raw", "users"});
  REQUIRE(plan->columns.size() == 4);
  CHECK((plan->columns[0].output + "<-" + plan->columns[0].table + "." + plan->columns[0].column) ==
        "who<-raw.user");
  CHECK((plan->columns[1].output + "<-" + plan->columns[1].table + "." + plan->columns[1].column) ==
        "plan<-users.plan");
  CHECK(plan->columns[2].table.empty());  // an expression
  CHECK(plan->columns[3].table.empty());  // an aggregate
}

TEST_CASE("a script runs TEMP scratch statements, then its final SELECT, it may not write",
          "[tasks]") {
  Warehouse w;
  TransformConfig c = w.Config(
      "CREATE TEMP TABLE big AS SELECT * FROM raw WHERE amount > :min_amount;\n"
      "CREATE TEMP VIEW de AS SELECT * FROM big WHERE country = 'DE';\n"
      "SELECT user, amount FROM de;");
  c.script = true;
  auto plan = PlanTransform(c);
  REQUIRE(plan);
  CHECK(plan->tables == std::vector<std::string>{"raw"});  // read through the scratch tables
  REQUIRE(plan->columns.size() == 2);
  CHECK(plan->columns[0].table.empty());  // a TEMP table's column: no column lineage
  REQUIRE(RunTransform(c));
  CHECK(w.Rows("SELECT * FROM clean ORDER BY 1") == "u1|3|\nu3|7|\n");
  CHECK(w.Rows("SELECT name FROM sqlite_master WHERE name IN ('big', 'de')").empty());

  const std::string before = w.Rows("SELECT * FROM raw ORDER BY 1");
  for (const char* sql : {"DELETE FROM raw; SELECT 1 AS x", "CREATE TABLE kept (x); SELECT 1 AS x",
                          "ATTACH 'x.db' AS x; SELECT 1 AS x"}) {
    TransformConfig bad = w.Config(sql);
    bad.script = true;
    auto run = RunTransform(bad);
    INFO(sql);
    REQUIRE_FALSE(run);
    CHECK(run.error().message.find("statement 1 of the script may not change the warehouse") !=
          std::string::npos);
  }
  CHECK(w.Rows("SELECT * FROM raw ORDER BY 1") == before);
  TransformConfig no_select = w.Config("CREATE TEMP TABLE t AS SELECT 1 AS x;");
  no_select.script = true;
  CHECK_FALSE(RunTransform(no_select));
}

TEST_CASE("a transform refuses writes, several statements, unknown parameters and bad SQL",
          "[tasks]") {
  Warehouse w;
  const std::string before = w.Rows("SELECT * FROM raw ORDER BY 1");
  for (auto [sql, message] : {
           std::pair{"DELETE FROM raw",
                     "the SQL of a transform must only read (a SELECT); it "
                     "tried to change the warehouse or attach a database"},
           {"SELECT 1; DROP TABLE raw",
            "the SQL of a transform holds more than one statement; it runs one SELECT"},
           {"SELECT * FROM raw WHERE amount > :min_amont",
            "unknown SQL parameter ':min_amont' (did you mean ':min_amount'?): use :NAME with a "
            "param or a template variable (e.g. :ds)"},
           {"SELECT * FROM nowhere",
            "the SQL of a transform does not prepare: no such table: nowhere"},
           {"SELEC 1", "the SQL of a transform does not prepare: near \"SELEC\": syntax error"},
           {"ATTACH 'x.db' AS x",
            "the SQL of a transform must only read (a SELECT); it tried to "
            "change the warehouse or attach a database"},
       }) {
    INFO(sql);
    auto run = RunTransform(w.Config(sql));
    REQUIRE_FALSE(run);
    CHECK(run.error().message == message);
  }
  CHECK(w.Rows("SELECT * FROM raw ORDER BY 1") == before);
  CHECK(w.Rows("SELECT name FROM sqlite_master WHERE name = 'clean'").empty());
}

TEST_CASE("replace and append write the selected rows with bound, typed parameters", "[tasks]") {
  Warehouse w;
  auto written = RunTransform(
      w.Config("SELECT user, amount FROM raw WHERE amount >= :min_amount AND country = :country;"));
  REQUIRE(written);
  CHECK(*written == 2);
  CHECK(w.Rows("SELECT * FROM clean ORDER BY 1") == "u1|3|\nu3|7|\n");
  CHECK(w.Rows("SELECT typeof(amount) FROM clean LIMIT 1") == "integer|\n");
  // replace again: the same rows, not twice
  REQUIRE(
      RunTransform(w.Config("SELECT user, amount FROM raw WHERE amount >= :min_amount "
                            "AND country = :country")));
  CHECK(w.Rows("SELECT count(*) FROM clean") == "2|\n");
  auto appended = RunTransform(w.Config("SELECT user, amount FROM raw WHERE amount < 0", "append"));
  REQUIRE(appended);
  CHECK(*appended == 1);
  CHECK(w.Rows("SELECT * FROM clean ORDER BY 1") == "u1|3|\nu2|-5|\nu3|7|\n");
}

TEST_CASE("upsert replaces rows by key, partition replaces only the run's interval", "[tasks]") {
  Warehouse w;
  TransformConfig upsert = w.Config("SELECT user, amount FROM raw", "upsert");
  upsert.target.key = {"user"};
  REQUIRE(RunTransform(upsert));
  w.Sql(
      "UPDATE raw SET amount = 30 WHERE user = 'u1'; INSERT INTO raw VALUES ('u4', 1, 'US', "
      "'2026-01-15T12:00:00Z')");
  REQUIRE(RunTransform(upsert));
  CHECK(w.Rows("SELECT * FROM clean ORDER BY 1") == "u1|30|\nu2|-5|\nu3|7|\nu4|1|\n");

  TransformConfig partition = w.Config(
      "SELECT user, event_ts FROM raw WHERE julianday(event_ts) >= "
      "julianday(:data_interval_start) AND julianday(event_ts) < "
      "julianday(:data_interval_end)",
      "partition");
  partition.target.into = "daily";
  partition.target.partition_column = "event_ts";
  partition.bindings["data_interval_start"] = "\"2026-01-15T00:00:00Z\"";
  partition.bindings["data_interval_end"] = "\"2026-01-16T00:00:00Z\"";
  REQUIRE(RunTransform(partition));
  REQUIRE(RunTransform(partition));  // a rerun of the same day: no duplicates
  CHECK(w.Rows("SELECT count(*) FROM daily") == "3|\n");
  TransformConfig next = partition;
  next.target.interval_start = "2026-01-16T00:00:00Z";
  next.target.interval_end = "2026-01-17T00:00:00Z";
  next.bindings["data_interval_start"] = "\"2026-01-16T00:00:00Z\"";
  next.bindings["data_interval_end"] = "\"2026-01-17T00:00:00Z\"";
  REQUIRE(RunTransform(next));
  CHECK(w.Rows("SELECT user FROM daily ORDER BY 1") == "u1|\nu2|\nu3|\nu4|\n");
}

TEST_CASE("partition refuses NULL partition values and upsert refuses NULL keys", "[tasks]") {
  Warehouse w;
  w.Sql("INSERT INTO raw VALUES ('u5', 1, 'DE', NULL), (NULL, 2, 'FR', '2026-01-15T12:00:00Z')");
  TransformConfig partition = w.Config("SELECT user, event_ts FROM raw", "partition");
  partition.target.partition_column = "event_ts";
  auto refused = RunTransform(partition);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("outside the run's interval") != std::string::npos);

  TransformConfig upsert = w.Config("SELECT user, amount FROM raw", "upsert");
  upsert.target.key = {"user"};
  auto null_key = RunTransform(upsert);
  REQUIRE_FALSE(null_key);
  CHECK(null_key.error().message ==
        "1 rows have a NULL in the key (user), so they cannot be upserted");
  upsert.target.key = {"sku"};
  auto unknown = RunTransform(upsert);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message ==
        "key column 'sku' is not among the SELECT's columns (user, amount)");
  CHECK(w.Rows("SELECT name FROM sqlite_master WHERE name = 'clean'").empty());
}

TEST_CASE("a transform that fails half way leaves the warehouse as it was", "[tasks]") {
  Warehouse w;
  w.Sql(
      "CREATE TABLE clean (user TEXT, amount INTEGER NOT NULL);"
      "INSERT INTO clean VALUES ('u0', 1);"
      "INSERT INTO raw VALUES ('u9', NULL, 'DE', '2026-01-15T13:00:00Z')");
  const std::string before = w.Rows("SELECT * FROM clean ORDER BY 1");
  // The first rows go in, then the NULL breaks the constraint: none of them may stay.
  auto appended =
      RunTransform(w.Config("SELECT user, amount FROM raw ORDER BY amount IS NULL", "append"));
  REQUIRE_FALSE(appended);
  CHECK(appended.error().message == "the SQL failed: NOT NULL constraint failed: clean.amount");
  CHECK(w.Rows("SELECT * FROM clean ORDER BY 1") == before);
}

}  // namespace
}  // namespace weir::tasks

// The warehouse Writer against a real SQLite file: a replace builds the new version beside the
// old one and swaps them at commit, so that the old version is never copied into the rollback
// journal, views that name the table keep working, and a write that is not committed leaves the
// warehouse as it was.
#include "tasks/warehouse.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::ExecSql;
using testing::Query;
using testing::TempDir;

constexpr int kRows = 4000;  // of 1 KiB each: some 4.5 MiB of table

// Replaces `into` with kRows rows whose `n` is `value`, committing unless told not to. Returns
// the rollback journal's size in bytes at the moment of commit (0 when not committed).
std::uintmax_t Replace(const std::filesystem::path& warehouse, const std::string& into, int value,
                       bool commit = true) {
  auto writer = Writer::Begin(warehouse, WriteTarget{.into = into});
  REQUIRE(writer);
  REQUIRE(writer->Prepare("(id INTEGER PRIMARY KEY, n INTEGER, payload BLOB)"));
  auto insert = writer->connection().Prepare(
      writer->InsertSql({"id", "n", "payload"}, "VALUES (?1, ?2, ?3)"));
  REQUIRE(insert);
  const std::string payload(1024, 'x');
  for (int id = 1; id <= kRows; ++id) {
    sqlite3_bind_int(insert->get(), 1, id);
    sqlite3_bind_int(insert->get(), 2, value);
    sqlite3_bind_blob(insert->get(), 3, payload.data(), static_cast<int>(payload.size()),
                      SQLITE_STATIC);
    REQUIRE(sqlite3_step(insert->get()) == SQLITE_DONE);
    sqlite3_reset(insert->get());
  }
  if (!commit) return 0;
  struct Hook {
    std::filesystem::path journal;
    std::uintmax_t size = 0;
  } hook{warehouse.string() + "-journal"};
  sqlite3_commit_hook(
      writer->connection().get(),
      [](void* data) {
        auto* h = static_cast<Hook*>(data);
        std::error_code ec;
        h->size = std::filesystem::file_size(h->journal, ec);
        return 0;
      },
      &hook);
  REQUIRE(writer->Commit());
  return hook.size;
}

TEST_CASE("a replace of a table that exists journals none of its old version") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  REQUIRE(std::filesystem::file_size(db) > 4u << 20);
  // Before, the table was dropped first and its freed pages rewritten at once: each of them was
  // copied into the journal, the whole old version.
  for (int value = 2; value <= 4; ++value) {
    INFO("replace " << value);
    CHECK(Replace(db, "docs", value) < 256u << 10);
    CHECK(Query(db, "SELECT count(*), min(n), max(n) FROM docs") ==
          fmt::format("{}|{}|{}|\n", kRows, value, value));
  }
  // The file holds the new version and the old one's free pages, which the next replace reuses.
  CHECK(std::filesystem::file_size(db) < 11u << 20);
  CHECK(Query(db, "SELECT name FROM sqlite_master WHERE type = 'table'") == "docs|\n");
}

TEST_CASE("a replaced table keeps the views and the name of what it replaces") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  ExecSql(db, "CREATE VIEW doc_values AS SELECT DISTINCT n FROM docs");
  Replace(db, "docs", 2);
  CHECK(Query(db, "SELECT * FROM doc_values") == "2|\n");
  CHECK(Query(db, "SELECT sql FROM sqlite_master WHERE name = 'docs'") ==
        "CREATE TABLE \"docs\" (id INTEGER PRIMARY KEY, n INTEGER, payload BLOB)|\n");
}

TEST_CASE("a replace leaves a table that has the staging name alone") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  ExecSql(db,
          "CREATE TABLE weir_replacing_docs (mine TEXT); INSERT INTO weir_replacing_docs "
          "VALUES ('keep me')");
  Replace(db, "docs", 2);
  CHECK(Query(db, "SELECT * FROM weir_replacing_docs") == "keep me|\n");
  CHECK(Query(db, "SELECT DISTINCT n FROM docs") == "2|\n");
}

TEST_CASE("a replace finds the table whatever the case of its name") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  Replace(db, "Docs", 2);
  CHECK(Query(db, "SELECT name FROM sqlite_master WHERE type = 'table'") == "Docs|\n");
  CHECK(Query(db, "SELECT DISTINCT n FROM docs") == "2|\n");
}

TEST_CASE("TEMP tables named like the table or its staging name shadow neither") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  ExecSql(db, "CREATE VIEW weir_replacing_docs_2 AS SELECT 1");  // no staging name either
  for (const std::string mode : {"replace", "append"}) {
    INFO("mode " << mode);
    auto writer = Writer::Begin(db, WriteTarget{.into = "docs", .mode = mode});
    REQUIRE(writer);
    // What a script transform may leave behind on the writer's connection.
    REQUIRE(writer->connection().Exec("CREATE TEMP TABLE docs (x)"));
    REQUIRE(writer->connection().Exec("CREATE TEMP TABLE weir_replacing_docs (x)"));
    REQUIRE(writer->Prepare("(id INTEGER PRIMARY KEY, n INTEGER, payload BLOB)"));
    if (mode == "replace") CHECK(writer->table() == "weir_replacing_docs_3");
    const int id = mode == "replace" ? 1 : 2;
    REQUIRE(writer->connection().Exec(
        writer->InsertSql({"id", "n", "payload"}, fmt::format("VALUES ({}, 7, NULL)", id))));
    REQUIRE(writer->Commit());
    CHECK(Query(db, fmt::format("SELECT n FROM docs WHERE id = {}", id)) == "7|\n");
  }
  // The replace left its one row, the append added one.
  CHECK(Query(db, "SELECT id FROM docs ORDER BY id") == "1|\n2|\n");
  CHECK(Query(db, "SELECT name FROM sqlite_master ORDER BY 1") ==
        "docs|\nweir_replacing_docs_2|\n");
}

TEST_CASE("a replace that is not committed leaves the old version and no staging table") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  Replace(db, "docs", 1);
  const std::string before = testing::DumpEveryTable(db);
  Replace(db, "docs", 2, /*commit=*/false);
  CHECK(testing::DumpEveryTable(db) == before);
}

TEST_CASE("a replace into a table that is not there creates it under its own name") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  auto writer = Writer::Begin(db, WriteTarget{.into = "fresh"});
  REQUIRE(writer);
  REQUIRE(writer->Prepare("(n INTEGER)"));
  CHECK(writer->table() == "fresh");
  REQUIRE(writer->connection().Exec(writer->InsertSql({"n"}, "VALUES (7)")));
  REQUIRE(writer->Commit());
  CHECK(Query(db, "SELECT n FROM fresh") == "7|\n");
}

TEST_CASE("the other modes write into the table itself") {
  TempDir dir;
  const auto db = dir / "warehouse.db";
  ExecSql(db, "CREATE TABLE t (k INTEGER, v TEXT); INSERT INTO t VALUES (1, 'a')");
  auto writer = Writer::Begin(db, WriteTarget{.into = "t", .mode = "upsert", .key = {"k"}});
  REQUIRE(writer);
  REQUIRE(writer->Prepare("(k INTEGER, v TEXT)"));
  CHECK(writer->table() == "t");
  REQUIRE(writer->connection().Exec(writer->InsertSql({"k", "v"}, "VALUES (1, 'b'), (2, 'c')")));
  REQUIRE(writer->Commit());
  CHECK(Query(db, "SELECT k, v FROM t ORDER BY k") == "1|b|\n2|c|\n");
}

}  // namespace
}  // namespace weir::tasks

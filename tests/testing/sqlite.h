// Reading and writing real SQLite files in tests: the rows a query returns as text, SQL run to
// the end, and a dump of a whole database to compare before and after.
#ifndef WEIR_TESTS_TESTING_SQLITE_H_
#define WEIR_TESTS_TESTING_SQLITE_H_

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace weir::testing {

// Runs `sql` (any number of statements) on `db`, creating the file if needed.
inline void ExecSql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(handle);
  REQUIRE(rc == SQLITE_OK);
}

// The rows `sql` returns from `db`, each value followed by '|', one row a line.
inline std::string Query(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  auto collect = [](void* sink, int n, char** values, char**) {
    auto* s = static_cast<std::string*>(sink);
    for (int i = 0; i < n; ++i) *s += std::string(values[i] ? values[i] : "NULL") + "|";
    *s += "\n";
    return 0;
  };
  int rc = sqlite3_exec(handle, sql.c_str(), collect, &out, nullptr);
  sqlite3_close(handle);
  REQUIRE(rc == SQLITE_OK);
  return out;
}

// Every row of every table and the schema version: equal dumps mean an unchanged database.
inline std::string DumpEveryTable(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db)) return "<no database>";
  std::string out = Query(db, "PRAGMA user_version");
  std::string tables = Query(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1");
  std::size_t pos = 0;
  while (pos < tables.size()) {
    std::size_t end = tables.find("|\n", pos);
    std::string table = tables.substr(pos, end - pos);
    pos = end + 2;
    out += "## " + table + "\n" + Query(db, "SELECT * FROM \"" + table + "\" ORDER BY 1, 2");
  }
  return out;
}

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_SQLITE_H_

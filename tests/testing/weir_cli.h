// Running the real `weir` binary in tests and looking into the state database it wrote.
#ifndef WEIR_TESTS_TESTING_WEIR_CLI_H_
#define WEIR_TESTS_TESTING_WEIR_CLI_H_

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"

namespace weir::testing {

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs weir with `args` in `dir` (stdin empty, not a terminal).
inline Output Weir(const TempDir& dir, const std::vector<std::string>& args) {
  std::string command =
      fmt::format("cd {} && {}", ShellQuote(dir.path().string()), ShellQuote(WEIR_BINARY));
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += fmt::format(" </dev/null >{} 2>{}", ShellQuote((dir / "stdout").string()),
                         ShellQuote((dir / "stderr").string()));
  int status = std::system(command.c_str());
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = ReadFile(dir / "stdout");
  o.err = ReadFile(dir / "stderr");
  return o;
}

// A project folder for whole-binary tests: DAG files under dags/, state under home/. Calling it
// runs weir there with `--dags dags --home home` appended.
struct Project {
  TempDir dir;
  Output operator()(std::vector<std::string> args) const {
    for (const char* a : {"--dags", "dags", "--home", "home"}) args.push_back(a);
    return Weir(dir, args);
  }
  std::filesystem::path Db() const { return dir / "home" / "weir.db"; }
};

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

inline int CountLines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_WEIR_CLI_H_

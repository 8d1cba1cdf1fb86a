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
#include "tests/testing/sqlite.h"
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

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline int CountLines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_WEIR_CLI_H_

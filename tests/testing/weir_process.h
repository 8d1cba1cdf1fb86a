// A long-running weir command (`weir scheduler`, `weir serve`) started by a test, whose stdout
// the test reads line by line.
#ifndef WEIR_TESTS_TESTING_WEIR_PROCESS_H_
#define WEIR_TESTS_TESTING_WEIR_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

extern char** environ;

namespace weir::testing {

// The next line of `in`, with its line end; empty at the end.
inline std::string ReadLine(FILE* in) {
  char* line = nullptr;
  std::size_t size = 0;
  ssize_t n = ::getline(&line, &size, in);
  std::string text = n > 0 ? std::string(line, static_cast<std::size_t>(n)) : std::string();
  ::free(line);
  return text;
}

class WeirProcess {
 public:
  // Runs `weir COMMAND --dags DIR/dags --home DIR/home EXTRA...` (default: the scheduler), its
  // stderr appended to DIR/stderr, with `env` ("NAME=VALUE") added to this process's environment.
  WeirProcess(const TempDir& dir, std::vector<std::string> extra = {},
              const std::string& command = "scheduler", std::vector<std::string> env = {}) {
    std::vector<std::string> args = {
        WEIR_BINARY, command, "--dags", (dir / "dags").string(), "--home", (dir / "home").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, (dir / "stderr").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, WEIR_BINARY, &actions, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = ::fdopen(out[0], "r");
  }
  ~WeirProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) ::fclose(out_);
  }

  // The next line of output; empty at the end.
  std::string NextLine() { return ReadLine(out_); }
  // Reads lines until one contains `text`; false at the end of output.
  bool WaitFor(const std::string& text) {
    for (std::string line = NextLine(); !line.empty(); line = NextLine()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Sends `signal` and returns the exit code (or 128 + signal).
  int Stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_WEIR_PROCESS_H_

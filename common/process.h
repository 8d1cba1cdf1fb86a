// A command to start as a child process: what tasks/ prepares and executor/ runs.
#ifndef WEIR_COMMON_PROCESS_H_
#define WEIR_COMMON_PROCESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

struct Command {
  std::vector<std::string> argv;     // argv[0] is looked up in PATH when it has no slash
  std::vector<std::string> env;      // the whole environment, "NAME=value"
  std::string cwd;                   // working directory; empty: inherit
  std::vector<std::string> secrets;  // values masked as "***" in what it prints
};

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. With the pid
// it names one process for good, since a pid alone may be reused.
std::optional<std::int64_t> ProcessStartTicks(std::int64_t pid);

// This process's use of the machine, from /proc/self (the standard Prometheus process metrics).
struct ProcessUsage {
  std::int64_t resident_bytes = 0;  // RSS
  std::int64_t virtual_bytes = 0;
  double cpu_seconds = 0;         // user and system, since it started
  double start_time_seconds = 0;  // since the Unix epoch
  std::int64_t open_fds = 0;
  std::int64_t max_fds = 0;  // the soft RLIMIT_NOFILE; 0 when unlimited
};
std::optional<ProcessUsage> SelfUsage();

// Whether `pid` is a live process (not a zombie) and, when `start_ticks` is given, the same
// process that had them.
bool IsProcessAlive(std::int64_t pid, std::optional<std::int64_t> start_ticks);

// Processes (other than this one) whose environment holds every entry of `all_of` and at least
// one of `any_of` ("NAME=value" each), read from /proc/PID/environ (visible for processes of
// the same user, or all as root).
std::vector<std::int64_t> ProcessesWithEnvironment(const std::vector<std::string>& all_of,
                                                   const std::vector<std::string>& any_of);

// The children of this process, of all its threads (from /proc/self/task/*/children; by
// /proc/*/stat where the kernel lacks that file).
std::vector<std::int64_t> ChildProcesses();

// The value of `name` in the environment `pid` was started with, if readable and set.
std::optional<std::string> ProcessEnvironmentValue(std::int64_t pid, std::string_view name);

// The command name of `pid` (/proc/PID/comm), or empty.
std::string ProcessName(std::int64_t pid);

// This machine's host name.
std::string HostName();

}  // namespace weir

#endif  // WEIR_COMMON_PROCESS_H_

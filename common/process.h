// A command to start as a child process: what tasks/ prepares and executor/ runs.
#ifndef WEIR_COMMON_PROCESS_H_
#define WEIR_COMMON_PROCESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weir {

struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no slash
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  std::string cwd;                // working directory; empty: inherit
};

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. With the pid
// it names one process for good, since a pid alone may be reused.
std::optional<std::int64_t> ProcessStartTicks(std::int64_t pid);

// Whether `pid` is a live process (not a zombie) and, when `start_ticks` is given, the same
// process that had them.
bool IsProcessAlive(std::int64_t pid, std::optional<std::int64_t> start_ticks);

// This machine's host name.
std::string HostName();

}  // namespace weir

#endif  // WEIR_COMMON_PROCESS_H_

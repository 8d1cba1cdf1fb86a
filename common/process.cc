#include "common/process.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace weir {
namespace {

// The text of /proc/PID/stat after the command name, or empty. The name (field 2) may hold
// spaces and parentheses, so the fields start after its last ')'.
std::string StatFields(std::int64_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[1024];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return {};
  std::string_view line(buffer, static_cast<std::size_t>(n));
  std::size_t close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 > line.size()) return {};
  return std::string(line.substr(close + 2));  // starts with field 3, the state
}

// Field `n` (as proc(5) numbers them, from 3) of what StatFields returned, as a number.
std::optional<std::int64_t> StatField(std::string_view fields, int n) {
  std::size_t pos = 0;
  for (int field = 3; field < n && !fields.empty(); ++field) {
    pos = fields.find(' ', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  if (fields.empty()) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(fields.data() + pos, fields.data() + fields.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// The `btime` line of /proc/stat: when the machine booted, in seconds since the epoch.
std::optional<std::int64_t> BootTime() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("btime ")) continue;
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(line.data() + 6, line.data() + line.size(), seconds);
    if (ec == std::errc()) return seconds;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> ProcessStartTicks(std::int64_t pid) {
  return StatField(StatFields(pid), 22);
}

std::optional<ProcessUsage> SelfUsage() {
  const std::string fields = StatFields(::getpid());
  auto user = StatField(fields, 14), system = StatField(fields, 15);
  auto start = StatField(fields, 22), vsize = StatField(fields, 23), rss = StatField(fields, 24);
  auto boot = BootTime();
  if (!user || !system || !start || !vsize || !rss || !boot) return std::nullopt;
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  ProcessUsage usage;
  usage.resident_bytes = *rss * ::sysconf(_SC_PAGESIZE);
  usage.virtual_bytes = *vsize;
  usage.cpu_seconds = static_cast<double>(*user + *system) / ticks_per_second;
  usage.start_time_seconds =
      static_cast<double>(*boot) + static_cast<double>(*start) / ticks_per_second;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++usage.open_fds;
  }
  if (usage.open_fds > 0) --usage.open_fds;  // the one that lists them
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    usage.max_fds = static_cast<std::int64_t>(limit.rlim_cur);
  }
  return usage;
}

bool IsProcessAlive(std::int64_t pid, std::optional<std::int64_t> start_ticks) {
  if (pid <= 0) return false;
  std::string fields = StatFields(pid);
  if (fields.empty() || fields[0] == 'Z' || fields[0] == 'X') return false;
  return !start_ticks || ProcessStartTicks(pid) == start_ticks;
}

std::vector<std::int64_t> ProcessesWithEnvironment(const std::vector<std::string>& all_of,
                                                   const std::vector<std::string>& any_of) {
  std::vector<std::int64_t> out;
  if (any_of.empty()) return out;
  const std::int64_t self = ::getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid_text = entry.path().filename().string();
    std::int64_t pid = 0;
    auto [end, err] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    if (err != std::errc() || end != pid_text.data() + pid_text.size() || pid == self) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::size_t all_seen = 0;
    bool any_seen = false;
    std::string variable;
    while (std::getline(in, variable, '\0')) {
      if (std::find(all_of.begin(), all_of.end(), variable) != all_of.end()) ++all_seen;
      if (std::find(any_of.begin(), any_of.end(), variable) != any_of.end()) any_seen = true;
    }
    if (any_seen && all_seen == all_of.size()) out.push_back(pid);
  }
  return out;
}

std::vector<std::int64_t> ChildProcesses() {
  std::vector<std::int64_t> out;
  std::error_code ec;
  bool listed = false;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "children");
    if (!in) continue;
    listed = true;
    for (std::int64_t pid = 0; in >> pid;) out.push_back(pid);
  }
  if (listed) return out;
  const std::string self = " " + std::to_string(::getpid()) + " ";
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid_text = entry.path().filename().string();
    std::int64_t pid = 0;
    auto [end, err] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    if (err != std::errc() || end != pid_text.data() + pid_text.size()) continue;
    std::string fields = StatFields(pid);  // "S PPID ...": the parent is field 4
    std::size_t state_end = fields.find(' ');
    if (state_end != std::string::npos && fields.compare(state_end, self.size(), self) == 0) {
      out.push_back(pid);
    }
  }
  return out;
}

std::optional<std::string> ProcessEnvironmentValue(std::int64_t pid, std::string_view name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string variable;
  while (std::getline(in, variable, '\0')) {
    if (variable.size() > name.size() && variable.starts_with(name) &&
        variable[name.size()] == '=') {
      return variable.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

std::string ProcessName(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

}  // namespace weir

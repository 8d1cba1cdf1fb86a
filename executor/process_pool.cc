#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/secret_mask.h"
#include "executor/attempt_log.h"
#include "executor/executor.h"

namespace weir::executor {
namespace asio = boost::asio;
using scheduler::AttemptOutcome;
using scheduler::AttemptRequest;
using scheduler::ProcessInfo;

namespace {

// The variable that marks every process of an attempt with "POOL_PID:ATTEMPT_ID", so that
// what leaves the attempt's process group can still be told apart.
constexpr std::string_view kAttemptMarker = "WEIR_ATTEMPT_MARK";

// How long output may still come once the child has exited and its group been killed: only a
// process that left the group, is not known as the attempt's, and holds the pipe delays it.
constexpr auto kOutputGrace = std::chrono::seconds(2);

// One running child. Touched only on its strand once started.
struct Child {
  Child(asio::io_context& io, std::int64_t id, pid_t p, int pidfd, int output_fd,
        std::unique_ptr<AttemptLog> attempt_log)
      : attempt_id(id),
        pid(p),
        strand(asio::make_strand(io)),
        exit_watch(strand, pidfd),
        output(strand, output_fd),
        timeout_timer(strand),
        kill_timer(strand),
        output_timer(strand),
        log(std::move(attempt_log)) {}
  std::int64_t attempt_id;
  pid_t pid;
  asio::strand<asio::io_context::executor_type> strand;
  asio::posix::stream_descriptor exit_watch;  // the pidfd: readable once the child exits
  asio::posix::stream_descriptor output;      // the read end of its stdout and stderr
  asio::steady_timer timeout_timer;
  asio::steady_timer kill_timer;
  asio::steady_timer output_timer;  // bounds the wait for the output's end after the exit
  std::unique_ptr<AttemptLog> log;
  std::vector<char> buffer = std::vector<char>(64 * 1024);
  std::vector<std::string> notes;  // weir's own lines for the end of the log
  std::optional<int> status;       // set once reaped
  bool output_ended = false;
  bool timed_out = false;
  bool cancelled = false;
  bool terminating = false;
};

// The PATH a command will be looked up in: its own environment's, else weir's.
std::string SearchPath(const Command& command) {
  for (const std::string& e : command.env) {
    if (e.starts_with("PATH=")) return e.substr(5);
  }
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/usr/bin:/bin";
}

// Resolves a program name through `search_path` once per (path, name): posix_spawnp would try
// execve in every PATH folder for every task, which costs more than the task for a no-op.
class ProgramCache {
 public:
  std::string Resolve(const std::string& name, const std::string& search_path) {
    if (name.find('/') != std::string::npos) return name;
    std::lock_guard lock(mu_);
    auto key = search_path + '\0' + name;
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    std::string found;
    std::size_t start = 0;
    while (start <= search_path.size()) {
      std::size_t end = search_path.find(':', start);
      if (end == std::string::npos) end = search_path.size();
      std::string dir = search_path.substr(start, end - start);
      std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) {
        found = candidate;
        break;
      }
      start = end + 1;
    }
    if (!found.empty()) cache_.emplace(key, found);  // misses are not cached: it may appear
    return found.empty() ? name : found;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> cache_;
};

// Opens (appending) the log file, creating its folders only when the file cannot be opened
// because they are missing: most attempts log into a run folder that already exists.
Result<int> OpenLog(const std::filesystem::path& path) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  int fd = ::open(path.c_str(), kFlags, 0644);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Fail(ErrorCode::kIo, fmt::format("cannot create log folder {}: {}",
                                              path.parent_path().string(), ec.message()));
    }
    fd = ::open(path.c_str(), kFlags, 0644);
  }
  if (fd < 0) {
    return Fail(ErrorCode::kIo,
                fmt::format("cannot open log file {}: {}", path.string(), strerror(errno)));
  }
  return fd;
}

}  // namespace

class ProcessPool::Impl {
 public:
  explicit Impl(ExecutorOptions options)
      : options_(options), work_(asio::make_work_guard(io_)), self_(::getpid()) {
    if (options_.contain_descendants && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
      options_.contain_descendants = false;  // nothing is re-parented here: nothing to find
    }
    for (int i = 0; i < options_.threads; ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }

  ~Impl() {
    CancelAll();
    if (threads_.empty()) {
      while (!AllReaped()) io_.run_one();
    } else {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return children_.empty(); });
    }
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
    if (options_.contain_descendants) {
      KillLeftovers(nullptr);
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
  }

  Result<ProcessInfo> Start(const AttemptRequest& request) {
    if (request.command.argv.empty()) {
      return Fail(ErrorCode::kInvalidArgument, "empty command");
    }
    auto log_fd = OpenLog(request.log_path);
    if (!log_fd) return std::unexpected(log_fd.error());
    auto log = std::make_unique<AttemptLog>(*log_fd, LogOptions(request.command.secrets));
    int output[2];
    if (::pipe2(output, O_CLOEXEC) != 0) {
      return Fail(ErrorCode::kIo, fmt::format("cannot create a pipe: {}", strerror(errno)));
    }

    std::vector<char*> argv;
    for (const std::string& a : request.command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const std::string& e : request.command.env) envp.push_back(const_cast<char*>(e.c_str()));
    std::string mark = fmt::format("{}={}:{}", kAttemptMarker, self_, request.attempt_id);
    if (options_.contain_descendants) envp.push_back(mark.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, output[1], 1);
    posix_spawn_file_actions_adddup2(&actions, output[1], 2);
    if (!request.command.cwd.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, request.command.cwd.c_str());
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);  // its own process group, so a kill reaches grandchildren
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = 0;
    std::string program = programs_.Resolve(request.command.argv[0], SearchPath(request.command));
    int rc = program.find('/') != std::string::npos
                 ? posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data())
                 : posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(output[1]);
    if (rc != 0) {
      ::close(output[0]);
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("cannot execute '{}': {}", request.command.argv[0], strerror(rc)));
    }
    ProcessInfo info{pid, ProcessStartTicks(pid)};
    // Via syscall(): glibc 2.36 declares pidfd_open without C linkage for C++.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      ::close(output[0]);
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return Fail(ErrorCode::kIo, fmt::format("pidfd_open failed: {}", strerror(errno)));
    }

    auto child =
        std::make_shared<Child>(io_, request.attempt_id, pid, pidfd, output[0], std::move(log));
    {
      std::lock_guard lock(mu_);
      children_.emplace(request.attempt_id, child);
      ++in_flight_;
    }
    asio::post(child->strand, [this, child, timeout = request.timeout] {
      WatchExit(child);
      ReadOutput(child);
      if (timeout) {
        child->timeout_timer.expires_after(*timeout);
        child->timeout_timer.async_wait([this, child](const boost::system::error_code& ec) {
          if (ec) return;
          child->timed_out = true;
          Terminate(child);
        });
      }
    });
    return info;
  }

  std::optional<AttemptOutcome> Wait(std::optional<Timestamp> deadline) {
    if (threads_.empty()) return WaitRunning(deadline);
    std::unique_lock lock(mu_);
    auto ready = [&] { return !outcomes_.empty() || interrupted_; };
    if (!ready()) {
      if (deadline && options_.clock->IsManual()) return PassTimeTo(*deadline);
      if (deadline) {
        Duration remaining = *deadline - options_.clock->Now();
        cv_.wait_for(lock, std::max(remaining, Duration(0)), ready);
      } else {
        cv_.wait(lock, ready);
      }
    }
    return TakeOutcome();
  }

  void CancelAll() {
    std::lock_guard lock(mu_);
    for (auto& [id, child] : children_) {
      asio::post(child->strand, [this, child = child] {
        child->cancelled = true;
        Terminate(child);
      });
    }
  }

  void Cancel(std::int64_t attempt_id) {
    std::lock_guard lock(mu_);
    auto it = children_.find(attempt_id);
    if (it == children_.end()) return;
    asio::post(it->second->strand, [this, child = it->second] {
      child->cancelled = true;
      Terminate(child);
    });
  }

  void Interrupt() {
    std::lock_guard lock(mu_);
    interrupted_ = true;
    cv_.notify_all();
    if (threads_.empty()) asio::post(io_, [] {});  // wakes the thread running the io_context
  }

  int InFlight() const {
    std::lock_guard lock(mu_);
    return in_flight_;
  }

 private:
  // Wait without threads of its own: the caller runs the io_context (reaping, timeouts, kills)
  // until an outcome is there, an interrupt comes or the deadline passes. The run loop then
  // learns of an exit in the thread that noticed it, with no hand-off between threads.
  std::optional<AttemptOutcome> WaitRunning(std::optional<Timestamp> deadline) {
    // The wait is measured on the steady clock from now: the wall clock stepping while it waits
    // (NTP, a resumed VM) neither stretches it by hours nor cuts it short.
    const auto until = std::chrono::steady_clock::now() +
                       (deadline ? *deadline - options_.clock->Now() : Duration(0));
    while (true) {
      io_.poll();
      std::unique_lock lock(mu_);
      if (!outcomes_.empty() || interrupted_) return TakeOutcome();
      if (deadline && options_.clock->IsManual()) return PassTimeTo(*deadline);
      lock.unlock();
      if (!deadline) {
        io_.run_one();
        continue;
      }
      const auto remaining = until - std::chrono::steady_clock::now();
      if (remaining <= std::chrono::steady_clock::duration(0)) return std::nullopt;
      io_.run_one_for(remaining);
    }
  }

  // Nothing has finished: on a manual clock, time passes at once instead of sleeping.
  std::optional<AttemptOutcome> PassTimeTo(Timestamp deadline) {
    auto* manual = static_cast<ManualClock*>(options_.clock);
    if (manual->Now() < deadline) manual->Set(deadline);
    return std::nullopt;
  }

  // Takes the oldest outcome, if any, and clears an interrupt. Under mu_.
  std::optional<AttemptOutcome> TakeOutcome() {
    interrupted_ = false;
    if (outcomes_.empty()) return std::nullopt;
    AttemptOutcome outcome = outcomes_.front();
    outcomes_.pop_front();
    --in_flight_;
    return outcome;
  }

  bool AllReaped() const {
    std::lock_guard lock(mu_);
    return children_.empty();
  }

  // Reaps the child once it has exited. The pidfd's readiness is only a hint: epoll can report
  // an event meant for an earlier descriptor with the same number (this was seen under load),
  // so the exit is confirmed with waitid(WNOWAIT) before anything is killed or reaped.
  void WatchExit(const std::shared_ptr<Child>& child) {
    child->exit_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                                 [this, child](const boost::system::error_code& ec) {
                                   if (ec == asio::error::operation_aborted) return;
                                   siginfo_t info{};
                                   int rc = ::waitid(P_PID, static_cast<id_t>(child->pid), &info,
                                                     WEXITED | WNOHANG | WNOWAIT);
                                   if (rc == 0 && info.si_pid == 0) {
                                     WatchExit(child);  // still running: wait again
                                     return;
                                   }
                                   Reap(child);
                                 });
  }

  // SIGTERM to the whole group now, SIGKILL after the grace period. On the child's strand.
  void Terminate(const std::shared_ptr<Child>& child) {
    if (child->terminating) return;
    child->terminating = true;
    ::kill(-child->pid, SIGTERM);
    child->kill_timer.expires_after(options_.kill_grace);
    child->kill_timer.async_wait([child](const boost::system::error_code& ec) {
      if (!ec) ::kill(-child->pid, SIGKILL);
    });
  }

  // Copies the child's output into its log as it comes, until every writer has closed the pipe
  // (or it is closed at the end of the output grace). On the child's strand.
  void ReadOutput(const std::shared_ptr<Child>& child) {
    child->output.async_read_some(
        asio::buffer(child->buffer),
        [this, child](const boost::system::error_code& ec, std::size_t n) {
          if (n > 0) child->log->Write(std::string_view(child->buffer.data(), n));
          if (!ec) {
            ReadOutput(child);
            return;
          }
          child->output_ended = true;
          if (child->status) Complete(child);
        });
  }

  // The child has exited (its pidfd is readable): kills what it left running, reaps it, and
  // completes once its output has ended. On the child's strand.
  void Reap(const std::shared_ptr<Child>& child) {
    // The leader is a zombie until reaped, so its group id cannot be reused yet: kill whatever
    // it left behind in the group, then reap it.
    ::kill(-child->pid, SIGKILL);
    int status = 0;
    while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
    }
    child->status = status;
    child->timeout_timer.cancel();
    child->kill_timer.cancel();
    boost::system::error_code ignored;
    child->exit_watch.close(ignored);
    if (options_.contain_descendants) KillLeftovers(child.get());
    if (child->output_ended) {
      Complete(child);
      return;
    }
    child->output_timer.expires_after(kOutputGrace);
    child->output_timer.async_wait([child](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      child->output.close(ignored);  // the read completes, aborted, and completes the child
    });
  }

  // Exited, reaped, its output ended: finishes the log and hands the outcome over.
  void Complete(const std::shared_ptr<Child>& child) {
    child->output_timer.cancel();
    boost::system::error_code ignored;
    child->output.close(ignored);
    child->log->Finish(child->notes);
    const int status = *child->status;
    AttemptOutcome outcome;
    outcome.attempt_id = child->attempt_id;
    if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
    outcome.timed_out = child->timed_out;
    outcome.cancelled = child->cancelled && !child->timed_out;
    outcome.ended_at = options_.clock->Now();
    std::lock_guard lock(mu_);
    children_.erase(child->attempt_id);
    outcomes_.push_back(outcome);
    cv_.notify_all();
  }

  // Kills and reaps this process's children that belong to no running attempt: what an ended
  // attempt left running outside its process group (re-parented here, as the subreaper), and
  // what those leave in turn. `ended` (null at shutdown) has just been reaped; what it left is
  // noted in its log.
  void KillLeftovers(Child* ended) {
    std::set<pid_t> leaders;
    std::set<std::string> running_marks;
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, c] : children_) {
        if (c.get() == ended) continue;
        leaders.insert(c->pid);
        running_marks.insert(fmt::format("{}:{}", self_, id));
      }
    }
    const std::string own_mark =
        ended != nullptr ? fmt::format("{}:{}", self_, ended->attempt_id) : std::string();
    // Each round kills what the last one's victims had left behind, now re-parented here.
    for (int round = 0; round < 8; ++round) {
      int killed = 0;
      for (std::int64_t found : ChildProcesses()) {
        auto pid = static_cast<pid_t>(found);
        const pid_t group = ::getpgid(pid);
        if (leaders.contains(pid) || leaders.contains(group)) continue;
        std::optional<std::string> mark = AttemptMark(pid);
        if (mark && running_marks.contains(*mark)) continue;
        std::string name = ProcessName(pid);
        ::kill(group == pid ? -pid : pid, SIGKILL);
        ReapKilled(pid);
        ++killed;
        if (mark == own_mark && !own_mark.empty()) {
          ended->notes.push_back(fmt::format(
              "weir: killed process {} ({}), which the task left running after it exited", pid,
              name));
        }
      }
      if (killed == 0) return;
    }
  }

  // The attempt mark `pid` inherited. A process in the middle of an execve has an empty
  // environment for a moment (the new image's is not set up yet): a process that shows none is
  // read again for up to 100 ms, so that a running attempt's daemon caught mid-exec is not taken
  // for a stranger, and an ended one's is noted in its log.
  static std::optional<std::string> AttemptMark(pid_t pid) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (true) {
      std::optional<std::string> mark = ProcessEnvironmentValue(pid, kAttemptMarker);
      if (mark || std::chrono::steady_clock::now() >= give_up || !IsProcessAlive(pid, {})) {
        return mark;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Reaps `pid`, just sent SIGKILL, waiting at most a second for it to die (a process stuck in
  // the kernel may take longer: it is then reaped as a leftover later).
  static void ReapKilled(pid_t pid) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      pollfd exited{pidfd, POLLIN, 0};
      while (::poll(&exited, 1, 1000) < 0 && errno == EINTR) {
      }
      ::close(pidfd);
    }
    int status = 0;
    ::waitpid(pid, &status, WNOHANG);
  }

  AttemptLogOptions LogOptions(const std::vector<std::string>& secrets) const {
    AttemptLogOptions log{options_.log_limit_bytes, options_.log_tail_bytes, nullptr};
    if (!secrets.empty()) {
      auto mask = std::make_shared<SecretMask>();
      for (const std::string& secret : secrets) mask->Add(secret);
      log.mask = std::move(mask);
    }
    return log;
  }

  ExecutorOptions options_;
  ProgramCache programs_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  const pid_t self_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::int64_t, std::shared_ptr<Child>> children_;  // running, by attempt id
  std::deque<AttemptOutcome> outcomes_;                      // finished, not yet taken
  int in_flight_ = 0;
  bool interrupted_ = false;
};

ProcessPool::ProcessPool(ExecutorOptions options) : impl_(std::make_unique<Impl>(options)) {}
ProcessPool::~ProcessPool() = default;
Result<ProcessInfo> ProcessPool::Start(const AttemptRequest& r) { return impl_->Start(r); }
std::optional<AttemptOutcome> ProcessPool::Wait(std::optional<Timestamp> deadline) {
  return impl_->Wait(deadline);
}
void ProcessPool::CancelAll() { impl_->CancelAll(); }
void ProcessPool::Cancel(std::int64_t attempt_id) { impl_->Cancel(attempt_id); }
void ProcessPool::Interrupt() { impl_->Interrupt(); }
int ProcessPool::InFlight() const { return impl_->InFlight(); }

}  // namespace weir::executor

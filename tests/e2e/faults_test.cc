// Fault injection on the whole binary (issue 8): a disk that fills up during a run, a state
// database that another process keeps locked, and a wall clock that jumps while the scheduler
// runs. Each waits on lines of output, files and processes, never on a sleep.
#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "common/time.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"
#include "tests/testing/weir_process.h"

extern char** environ;

namespace weir {
namespace {

using testing::Contains;
using testing::Output;
using testing::Query;
using testing::ReadFile;
using testing::TempDir;
using testing::Weir;
using Scheduler = testing::WeirProcess;

// The last line of `text` (without its newline).
std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  std::size_t start = trimmed.rfind('\n');
  return start == std::string::npos ? trimmed : trimmed.substr(start + 1);
}

// A small tmpfs mounted on `dir` for the test's life: a real filesystem that fills up in
// milliseconds, giving ENOSPC as a full disk does. Mounting needs root (CAP_SYS_ADMIN);
// error() says why it could not be mounted.
class SmallDisk {
 public:
  SmallDisk(const std::filesystem::path& dir, std::size_t bytes) : dir_(dir) {
    std::filesystem::create_directories(dir);
    if (::geteuid() != 0) {
      error_ = "mounting a small tmpfs needs root";
    } else if (::mount("weir-test", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                       fmt::format("size={}", bytes).c_str()) != 0) {
      error_ = fmt::format("cannot mount a tmpfs on {}: {}", dir.string(), strerror(errno));
    }
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  const std::string& error() const { return error_; }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

  // Writes the file `name` until the disk has no room left.
  void Fill(const std::string& name) const {
    int fd = ::open((dir_ / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    std::vector<char> zeros(64 * 1024, 0);
    while (::write(fd, zeros.data(), zeros.size()) > 0) {
    }
    const int error = errno;
    ::close(fd);
    REQUIRE(error == ENOSPC);
  }

 private:
  std::filesystem::path dir_;
  std::string error_;
};

// Another program's long write transaction on a SQLite file (tests/testing/hold_write_lock.py,
// with /usr/bin/python3): holds the write lock from construction until Release().
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::filesystem::path& db) {
    int in[2], out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string python = "/usr/bin/python3";
    std::string script = std::string(WEIR_SOURCE_DIR) + "/tests/testing/hold_write_lock.py";
    std::string path = db.string();
    char* argv[] = {python.data(), script.data(), path.data(), nullptr};
    REQUIRE(posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = ::fdopen(out[0], "r");
    REQUIRE(ReadLine() == "locked\n");
  }
  ~WriteLockHolder() {
    if (to_ >= 0) ::close(to_);  // the end of its input ends the transaction too
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    if (from_ != nullptr) ::fclose(from_);
  }
  WriteLockHolder(const WriteLockHolder&) = delete;
  WriteLockHolder& operator=(const WriteLockHolder&) = delete;

  void Release() {
    REQUIRE(::write(to_, "\n", 1) == 1);
    REQUIRE(ReadLine() == "released\n");
    ::close(to_);
    to_ = -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

 private:
  std::string ReadLine() { return testing::ReadLine(from_); }

  pid_t pid_ = -1;
  int to_ = -1;
  FILE* from_ = nullptr;
};

// Whether a thread of process `pid` sleeps: in SQLite's busy handler, between its tries to take
// the state database's write lock. (weir sleeps elsewhere only in the executor, for up to
// 100 ms while a process a task left behind is mid-execve; no task of these tests leaves one.)
bool AsleepInBusyHandler(pid_t pid) {
  std::error_code ec;
  for (const auto& thread :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::string syscall = ReadFile(thread.path() / "syscall");
    long number = std::strtol(syscall.c_str(), nullptr, 10);
    if (number == SYS_clock_nanosleep || number == SYS_nanosleep) return true;
  }
  return false;
}

// `weir ARGS --dags DIR/dags --home DIR/home` started in the background, for a command that is
// to block; its output goes to DIR/NAME.out and DIR/NAME.err.
class Background {
 public:
  Background(const TempDir& dir, std::vector<std::string> args, const std::string& name)
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    args.insert(args.begin(), WEIR_BINARY);
    args.insert(args.end(), {"--dags", (dir / "dags").string(), "--home", (dir / "home").string()});
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, WEIR_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Returns once the command waits for the state database's write lock: asleep in SQLite's
  // busy handler, which sleeps between its tries (weir sleeps nowhere else). Fails the test if
  // the command ends instead.
  void WaitUntilBlocked() {
    while (!AsleepInBusyHandler(pid_)) {
      REQUIRE_FALSE(Exited());
      ::poll(nullptr, 0, 1);
    }
  }

  Output Wait() {
    if (!exited_) {
      ::waitpid(pid_, &status_, 0);
      exited_ = true;
    }
    Output o;
    o.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    o.out = ReadFile(out_);
    o.err = ReadFile(err_);
    return o;
  }

 private:
  bool Exited() {
    if (!exited_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }

  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

// --- A full disk --------------------------------------------------------------------------

TEST_CASE(
    "a task writing to a full disk fails in one line, the scheduler carries on, and the run "
    "completes once space is back",
    "[e2e]") {
  TempDir dir;
  SmallDisk disk(dir / "disk", 16 << 20);
  if (!disk.error().empty()) {
    WARN("SKIPPED: " << disk.error());
    return;
  }
  std::string csv = "id,name,amount\n";
  for (int i = 0; i < 20000; ++i) csv += fmt::format("{},name-{},{}.5\n", i, i, i);
  dir.Write("dags/data/rows.csv", csv);
  dir.Write("dags/w.yaml", fmt::format(R"(
dag: full_warehouse
schedule: "@once"
start_date: 2026-01-01
warehouse: {}
tasks:
  load: {{ kind: ingest, source: {{ format: csv, path: data/rows.csv }}, into: rows }}
  copy: {{ kind: transform, deps: [load], sql: "SELECT * FROM rows", into: rows_copy }}
)",
                                       (disk / "warehouse.db").string()));
  // The warehouse's disk is full; the state database is on another one.
  disk.Fill("ballast");
  const std::string run_id = "full_warehouse@2026-01-01T00:00:00Z";
  Scheduler scheduler(dir);
  REQUIRE(scheduler.WaitFor("run " + run_id + " failed"));
  const auto db = dir / "home" / "weir.db";
  CHECK(Query(db, "SELECT task_id, state FROM task_instances ORDER BY task_id") ==
        "copy|upstream_failed|\nload|failed|\n");
  std::string log_path = Query(db, "SELECT log_path FROM attempts WHERE task_id = 'load'");
  std::string log = ReadFile(log_path.substr(0, log_path.find('|')));
  INFO(log);
  // The attempt's log says why in one line.
  int full_lines = 0;
  for (std::size_t at = log.find("database or disk is full"); at != std::string::npos;
       at = log.find("database or disk is full", at + 1)) {
    ++full_lines;
  }
  CHECK(full_lines == 1);

  // Space is back: clearing the task runs it again under the same scheduler.
  std::filesystem::remove(disk / "ballast");
  CHECK(Query(dir / "disk" / "warehouse.db", "PRAGMA integrity_check") == "ok|\n");
  Output clear = Weir(
      dir, {"tasks", "clear", run_id, "load", "--downstream", "--dags", "dags", "--home", "home"});
  INFO(clear.err);
  REQUIRE(clear.exit_code == 0);
  REQUIRE(scheduler.WaitFor("run " + run_id + " success"));
  CHECK(scheduler.Stop(SIGTERM) == 0);
  CHECK(Query(dir / "disk" / "warehouse.db", "SELECT count(*) FROM rows_copy") == "20000|\n");
  CHECK(Query(dir / "disk" / "warehouse.db", "PRAGMA integrity_check") == "ok|\n");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
}

TEST_CASE(
    "a disk filling up under the state database stops weir run and the scheduler with a "
    "one-line error, corrupts nothing, and the run completes once space is back",
    "[e2e]") {
  TempDir dir;
  // The home (state database and logs) is the small disk.
  SmallDisk disk(dir / "home", 8 << 20);
  if (!disk.error().empty()) {
    WARN("SKIPPED: " << disk.error());
    return;
  }
  // The first task fills the disk while the marker file exists.
  const auto marker = dir / "fill-the-disk";
  dir.Write("dags/f.yaml",
            fmt::format(R"(
dag: filling
tasks:
  fill:
    kind: shell
    script: "if [ -f {} ]; then head -c 100000000 /dev/zero > {}; fi; exit 0"
  after: {{ kind: shell, command: [true], deps: [fill] }}
)",
                        ShellQuote(marker.string()), ShellQuote((disk / "ballast").string())));
  dir.Write("fill-the-disk", "");
  const auto db = disk / "weir.db";
  const std::string run_id = "filling@2026-01-01T00:00:00Z~manual-1";
  const std::string full =
      fmt::format("weir: state database {}: database or disk is full", db.string());

  // A foreground run stops when it cannot record the end of `fill`.
  Output run =
      Weir(dir, {"run", "filling", "--date", "2026-01-01", "--dags", "dags", "--home", "home"});
  INFO(run.err);
  CHECK(run.exit_code == 1);
  CHECK(LastLine(run.err) == full);
  std::filesystem::remove(disk / "ballast");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  CHECK(Query(db, "SELECT state FROM runs") == "running|\n");

  // A scheduler takes the run up, and `fill` fills the disk again: the scheduler stops too,
  // at once, having killed what it ran.
  {
    Scheduler scheduler(dir);
    CHECK(scheduler.Wait() == 1);
  }
  CHECK(LastLine(ReadFile(dir / "stderr")) == full);
  std::filesystem::remove(disk / "ballast");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");

  // Space is back (and the task no longer fills it): the next scheduler finishes the run.
  std::filesystem::remove(marker);
  {
    Scheduler scheduler(dir);
    REQUIRE(scheduler.WaitFor("run " + run_id + " success"));
    CHECK(scheduler.Stop(SIGTERM) == 0);
  }
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  CHECK(Query(db, "SELECT state FROM runs") == "success|\n");
  // Each attempt cut short by the full disk was recorded as orphaned and given back.
  CHECK(Query(db, "SELECT task_id, try_number, state, reason FROM attempts ORDER BY id") ==
        "fill|1|failed|orphaned: the weir process driving its run died|\n"
        "fill|2|failed|orphaned: the weir process driving its run died|\n"
        "fill|3|success||\n"
        "after|1|success||\n");
}

// --- A busy state database ----------------------------------------------------------------

const char* kBusyDags[][2] = {
    {"dags/busy.yaml", "dag: busy\ntasks:\n  a: { kind: shell, command: [true] }\n"},
    {"dags/other.yaml", "dag: other\ntasks:\n  a: { kind: shell, command: [true] }\n"},
};

TEST_CASE(
    "CLI commands wait while another process holds the state database's write lock, and "
    "succeed once it is released",
    "[e2e]") {
  testing::Project weir;
  const TempDir& dir = weir.dir;
  for (const auto& [name, text] : kBusyDags) dir.Write(name, text);
  REQUIRE(weir({"run", "busy", "--date", "2026-01-01"}).exit_code == 0);
  const auto db = weir.Db();
  WriteLockHolder lock(db);
  // Reads do not wait for a writer.
  Output list = weir({"runs", "list"});
  CHECK(list.exit_code == 0);
  CHECK(Contains(list.out, "busy@2026-01-01T00:00:00Z~manual-1"));
  // A trigger, a pause and a clear, all waiting for the lock at once.
  Background trigger(dir, {"run", "busy", "--date", "2026-01-02"}, "trigger");
  Background pause(dir, {"dags", "pause", "other", "--reason", "busy test"}, "pause");
  Background clear(dir, {"runs", "clear", "busy@2026-01-01T00:00:00Z~manual-1"}, "clear");
  trigger.WaitUntilBlocked();
  pause.WaitUntilBlocked();
  clear.WaitUntilBlocked();
  lock.Release();
  for (Background* command : {&trigger, &pause, &clear}) {
    Output o = command->Wait();
    INFO(o.out << o.err);
    CHECK(o.exit_code == 0);
  }
  CHECK(Query(db, "SELECT run_id, state FROM runs ORDER BY run_id") ==
        "busy@2026-01-01T00:00:00Z~manual-1|queued|\n"
        "busy@2026-01-02T00:00:00Z~manual-1|success|\n");
  CHECK(Query(db, "SELECT dag_id, paused FROM dag_settings") == "other|1|\n");
  CHECK(Query(db, "SELECT action, target FROM audit_events ORDER BY action, target") ==
        "clear|run:busy@2026-01-01T00:00:00Z~manual-1|\n"
        "pause|dag:other|\n"
        "trigger|run:busy@2026-01-01T00:00:00Z~manual-1|\n"
        "trigger|run:busy@2026-01-02T00:00:00Z~manual-1|\n");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
}

TEST_CASE(
    "a CLI command that waits longer than the busy timeout for the state database's write lock "
    "fails in one line with exit 1 and changes nothing",
    "[e2e]") {
  testing::Project weir;
  const TempDir& dir = weir.dir;
  for (const auto& [name, text] : kBusyDags) dir.Write(name, text);
  REQUIRE(weir({"run", "busy", "--date", "2026-01-01"}).exit_code == 0);
  const auto db = weir.Db();
  const std::string before = testing::DumpEveryTable(db);
  {
    WriteLockHolder lock(db);  // held until the command has given up (10 s)
    Output clear = weir({"runs", "clear", "busy@2026-01-01T00:00:00Z~manual-1"});
    INFO(clear.err);
    CHECK(clear.exit_code == 1);
    CHECK(testing::CountLines(clear.err) == 1);
    CHECK(Contains(clear.err, fmt::format("weir: state database {} is busy: another process has "
                                          "held its write lock too long",
                                          db.string())));
    lock.Release();
  }
  CHECK(testing::DumpEveryTable(db) == before);
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
}

TEST_CASE(
    "the scheduler outlasts a write lock held longer than its busy timeout and loses no state "
    "change",
    "[e2e]") {
  TempDir dir;
  const auto gate = dir / "gate";
  REQUIRE(::mkfifo(gate.c_str(), 0600) == 0);
  dir.Write("dags/once.yaml", fmt::format(R"(
dag: once
schedule: "@once"
start_date: 2026-01-01
tasks:
  wait: {{ kind: shell, script: "read line < {}" }}
  after: {{ kind: shell, command: [true], deps: [wait] }}
)",
                                          ShellQuote(gate.string())));
  dir.Write(kBusyDags[1][0], kBusyDags[1][1]);
  const auto db = dir / "home" / "weir.db";
  const std::string run_id = "once@2026-01-01T00:00:00Z";
  Scheduler scheduler(dir);
  REQUIRE(scheduler.WaitFor(run_id + "  wait  running (try 1)"));
  std::optional<WriteLockHolder> lock(std::in_place, db);
  // `wait` ends while the lock is held; its end cannot be recorded until the lock goes.
  {
    int fd = ::open(gate.c_str(), O_WRONLY | O_CLOEXEC);  // once the task reads
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "go\n", 3) == 3);
    ::close(fd);
  }
  // The scheduler waits for the lock first, so its busy timeout runs out before the CLI's.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!AsleepInBusyHandler(scheduler.pid())) {
    REQUIRE(std::chrono::steady_clock::now() < give_up);
    ::poll(nullptr, 0, 1);
  }
  Background pause(dir, {"dags", "pause", "other"}, "pause");
  pause.WaitUntilBlocked();
  // The scheduler's write gives up after its busy timeout, is logged, and is tried again.
  REQUIRE(scheduler.WaitFor(
      fmt::format("state database {} is busy: another process has held its write lock too long "
                  "(database is locked); trying again",
                  db.string())));
  lock->Release();
  lock.reset();
  REQUIRE(scheduler.WaitFor("the state database takes writes again"));
  REQUIRE(scheduler.WaitFor("run " + run_id + " success"));
  Output paused = pause.Wait();
  INFO(paused.err);
  CHECK(paused.exit_code == 0);
  CHECK(scheduler.Stop(SIGTERM) == 0);
  CHECK(Query(db, "SELECT task_id, try_number, state FROM attempts ORDER BY id") ==
        "wait|1|success|\nafter|1|success|\n");
  CHECK(Query(db, "SELECT task_id, state FROM task_instances ORDER BY task_id") ==
        "after|success|\nwait|success|\n");
  CHECK(Query(db, "SELECT dag_id, paused FROM dag_settings") == "other|1|\n");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
}

TEST_CASE(
    "a scheduler stopped while another process keeps the state database locked stops within "
    "its busy timeouts, and the next one finishes the run",
    "[e2e]") {
  TempDir dir;
  const auto gate = dir / "gate";
  REQUIRE(::mkfifo(gate.c_str(), 0600) == 0);
  auto open_gate = [&] {
    int fd = ::open(gate.c_str(), O_WRONLY | O_CLOEXEC);  // once the task reads
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "go\n", 3) == 3);
    ::close(fd);
  };
  dir.Write("dags/once.yaml", fmt::format(R"(
dag: once
schedule: "@once"
start_date: 2026-01-01
tasks:
  wait: {{ kind: shell, script: "read line < {}" }}
  after: {{ kind: shell, command: [true], deps: [wait] }}
)",
                                          ShellQuote(gate.string())));
  const auto db = dir / "home" / "weir.db";
  const std::string run_id = "once@2026-01-01T00:00:00Z";
  {
    Scheduler scheduler(dir);
    REQUIRE(scheduler.WaitFor(run_id + "  wait  running (try 1)"));
    WriteLockHolder lock(db);
    open_gate();
    REQUIRE(scheduler.WaitFor("is busy: another process has held its write lock too long"));
    // It cannot record that `wait` ended, nor give the lease back: it says so and exits.
    CHECK(scheduler.Stop(SIGTERM) == 1);
    CHECK(Contains(LastLine(ReadFile(dir / "stderr")), "is busy: another process has held"));
    lock.Release();
  }
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
  Scheduler scheduler(dir);
  REQUIRE(scheduler.WaitFor(run_id + "  wait  running (try 2)"));
  open_gate();
  REQUIRE(scheduler.WaitFor("run " + run_id + " success"));
  CHECK(scheduler.Stop(SIGTERM) == 0);
  CHECK(Query(db, "SELECT task_id, try_number, state, reason FROM attempts ORDER BY id") ==
        "wait|1|failed|orphaned: the weir process driving its run "
        "died|\nwait|2|success||\nafter|1|success||\n");
  CHECK(Query(db, "PRAGMA integrity_check") == "ok|\n");
}

// --- Wall-clock jumps ---------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// libfaketime (Debian's `faketime` package); empty when it is not installed.
std::string FakeTimeLibrary() {
  glob_t found;
  std::string library;
  if (::glob("/usr/lib/*/faketime/libfaketime.so.1", 0, nullptr, &found) == 0) {
    library = found.gl_pathv[0];
  }
  ::globfree(&found);
  return library;
}

// The wall clock of a process started with env(): libfaketime, preloaded, shifts it by the
// offset in a file that it reads at every call, so the clock jumps the moment the file
// changes. The monotonic clock is left alone, as a real step of the system clock leaves it.
class JumpingClock {
 public:
  JumpingClock(const TempDir& dir, const std::string& library)
      : library_(library), file_(dir / "faketime") {}

  std::vector<std::string> env() const {
    return {"LD_PRELOAD=" + library_, "FAKETIME_TIMESTAMP_FILE=" + file_.string(),
            "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"};
  }
  // Sets the wall clock to `iso` from now on (it goes on ticking from there).
  void Set(std::string_view iso) const {
    auto target = ParseTimestamp(iso);
    REQUIRE(target);
    const auto now = std::chrono::system_clock::now();
    const std::int64_t offset =
        std::chrono::duration_cast<std::chrono::seconds>(*target - now).count();
    // Written whole, then renamed over the old one: a reader never sees half a file.
    const auto next = file_.string() + ".next";
    std::ofstream(next) << fmt::format("{:+d}\n", offset);
    std::filesystem::rename(next, file_);
  }

 private:
  std::string library_;
  std::filesystem::path file_;
};

// Every line a long-running weir command printed, read on demand. A command that prints
// nothing for `patience` while Find waits on it is killed, so that a test waiting on a
// scheduler that has gone deaf fails saying what it waited for, instead of hanging until
// CTest's timeout.
class Transcript {
 public:
  Transcript(Scheduler& process, std::chrono::seconds patience)
      : process_(process), pid_(process.pid()), patience_(patience) {
    REQUIRE(pid_ > 0);
    watchdog_ = std::thread([this] { Watch(); });
  }
  ~Transcript() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }
  Transcript(const Transcript&) = delete;
  Transcript& operator=(const Transcript&) = delete;

  // The index of the first line from `from` on that contains `text`, reading more output as
  // needed; fails the test at the end of the output.
  std::size_t Find(const std::string& text, std::size_t from = 0) {
    for (std::size_t i = from;; ++i) {
      while (i >= lines_.size()) {
        Progress(/*waiting=*/true);
        std::string line = process_.NextLine();
        Progress(/*waiting=*/false);
        INFO("waiting for: " << text);
        REQUIRE_FALSE(line.empty());
        lines_.push_back(line);
      }
      if (Contains(lines_[i], text)) return i;
    }
  }
  std::size_t size() const { return lines_.size(); }
  int Count(const std::string& text) const {
    return static_cast<int>(std::count_if(lines_.begin(), lines_.end(),
                                          [&](const auto& l) { return Contains(l, text); }));
  }

 private:
  void Progress(bool waiting) {
    {
      std::lock_guard lock(mu_);
      waiting_ = waiting;
      ++events_;
    }
    cv_.notify_all();
  }
  void Watch() {
    std::unique_lock lock(mu_);
    while (!done_) {
      if (!waiting_) {
        cv_.wait(lock, [&] { return done_ || waiting_; });
        continue;
      }
      const std::size_t seen = events_;
      if (!cv_.wait_for(lock, patience_, [&] { return done_ || events_ != seen; })) {
        ::kill(pid_, SIGKILL);  // still our unreaped child: Find is reading its output
        return;
      }
    }
  }

  Scheduler& process_;
  const pid_t pid_;
  std::chrono::seconds patience_;
  std::vector<std::string> lines_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool waiting_ = false;  // Find is blocked reading a line
  std::size_t events_ = 0;
  bool done_ = false;
  std::thread watchdog_;
};

TEST_CASE(
    "with the wall clock jumping 5 hours forward and 3 hours back, the scheduler misses no "
    "scheduled run, doubles none, and keeps serving while the clock catches up",
    "[e2e]") {
  const std::string library = FakeTimeLibrary();
  if (library.empty()) {
    WARN("SKIPPED: libfaketime is not installed (apt-get install faketime)");
    return;
  }
  if (kSanitized) {
    WARN("SKIPPED: libfaketime cannot be preloaded ahead of a sanitizer's runtime");
    return;
  }
  TempDir dir;
  dir.Write("dags/hourly.yaml", R"(
dag: hourly
schedule: "@hourly"
start_date: 2026-01-04
catchup: true
tasks:
  a: { kind: shell, command: [true] }
)");
  auto run_of = [](int hour) { return fmt::format("hourly@2026-01-04T{:02}:00:00Z", hour); };
  JumpingClock clock(dir, library);
  clock.Set("2026-01-04T10:30:00Z");
  Scheduler scheduler(dir, {}, "scheduler", clock.env());
  Transcript out(scheduler, std::chrono::seconds(60));
  for (int hour = 0; hour <= 9; ++hour) out.Find("run " + run_of(hour) + " success");

  // Five hours forward: the intervals that closed meanwhile, each once.
  std::size_t mark = out.size();
  clock.Set("2026-01-04T15:30:00Z");
  for (int hour = 10; hour <= 14; ++hour) out.Find("run " + run_of(hour) + " success", mark);

  // Three hours back: nothing is created again, and the scheduler does not wait for its clock to
  // catch up before it serves again: a run cleared now runs at once.
  mark = out.size();
  clock.Set("2026-01-04T12:30:00Z");
  Output clear = Weir(dir, {"runs", "clear", run_of(3), "--dags", "dags", "--home", "home"});
  INFO(clear.err);
  REQUIRE(clear.exit_code == 0);
  out.Find("run " + run_of(3) + " success", mark);

  // The clock set right again: the next interval comes when it closes, once.
  mark = out.size();
  clock.Set("2026-01-04T16:00:30Z");
  out.Find("run " + run_of(15) + " success", mark);
  CHECK(scheduler.Stop(SIGTERM) == 0);

  CHECK(out.Count(" created (interval ") == 16);
  const auto db = dir / "home" / "weir.db";
  CHECK(Query(db,
              "SELECT count(*), count(DISTINCT interval_start_ms), min(run_id), max(run_id) "
              "FROM runs WHERE kind = 'scheduled' AND state = 'success'") ==
        fmt::format("16|16|{}|{}|\n", run_of(0), run_of(15)));
  CHECK(Query(db, "SELECT count(*) FROM runs") == "16|\n");
  // One success per run, and a second for the cleared one.
  CHECK(Query(db,
              "SELECT run_id FROM attempts WHERE state = 'success' GROUP BY run_id HAVING "
              "count(*) > 1") == run_of(3) + "|\n");
  CHECK(Query(db, "SELECT count(*) FROM attempts WHERE state = 'success'") == "17|\n");
}

}  // namespace
}  // namespace weir

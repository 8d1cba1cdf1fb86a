// executor: the process pool that runs attempts for the scheduler.
//
//   executor::ProcessPool pool;
//   scheduler::RunLoop loop(store, pool, tasks::BuildCommand, clock, options);
//
// One Asio io_context watches every child (a pidfd each, no thread blocking on a child) and
// runs its timers. By default the thread that calls Wait runs it, so an exit reaches the run
// loop in the thread that noticed it; timeouts and kills are then served only while a thread
// is in Wait (the run loop waits whenever it is not deciding). `threads` > 0 runs it on a pool
// of its own instead, for a caller that spends long between two Waits.
// Each attempt runs in its own process group with stdin from /dev/null; its stdout and stderr
// come through a pipe and are appended to its log file with its secrets masked, up to a limit
// (executor/attempt_log.h). At its timeout the group gets SIGTERM, then SIGKILL after
// `kill_grace`; when the main process exits, anything left in its group is killed too, and with
// `contain_descendants` also what left the group (a daemon in a session of its own).
// Thread-safety: Start, Wait, CancelAll and Interrupt may be called from any thread; Wait from
// one thread at a time.
#ifndef WEIR_EXECUTOR_EXECUTOR_H_
#define WEIR_EXECUTOR_EXECUTOR_H_

#include <cstdint>
#include <memory>

#include "common/clock.h"
#include "scheduler/scheduler.h"

namespace weir::executor {

struct ExecutorOptions {
  int threads = 0;  // threads of its own running the io_context; 0: the caller of Wait runs it
  Duration kill_grace = std::chrono::seconds(10);  // SIGTERM -> SIGKILL at a timeout or cancel
  Clock* clock = &SystemClock::Instance();         // end times, and Wait's deadlines
  // An attempt's log keeps at most this much of its output: the start, then the last
  // `log_tail_bytes`, with a line saying how much was dropped between. 0: no limit.
  std::uint64_t log_limit_bytes = std::uint64_t{64} << 20;
  std::uint64_t log_tail_bytes = std::uint64_t{1} << 20;
  // Makes this process the child subreaper (prctl), so that a process a task leaves behind
  // outside its process group is re-parented here instead of to init, and kills and reaps such
  // processes when their attempt ends. For a process whose only children are the pool's (the
  // scheduler, `weir run`): any other child that is no running attempt's is killed.
  bool contain_descendants = false;
};

class ProcessPool final : public scheduler::TaskRunner {
 public:
  explicit ProcessPool(ExecutorOptions options = {});
  // Cancels whatever still runs and waits for it to end (at most the kill grace).
  ~ProcessPool() override;

  [[nodiscard]] Result<scheduler::ProcessInfo> Start(
      const scheduler::AttemptRequest& request) override;
  std::optional<scheduler::AttemptOutcome> Wait(std::optional<Timestamp> deadline) override;
  void CancelAll() override;
  void Cancel(std::int64_t attempt_id) override;
  void Interrupt() override;

  // Attempts started whose outcome has not been taken by Wait yet.
  int InFlight() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::executor

#endif  // WEIR_EXECUTOR_EXECUTOR_H_

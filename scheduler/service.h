// The scheduler service behind `weir scheduler`: owns the database's scheduler lease, creates
// scheduled runs as their data intervals close (with catchup), adopts queued runs (backfills,
// triggers, runs left behind by a dead process) within each DAG's max_active_runs, picks up new,
// changed and deleted DAG files without a restart, and recovers from a crash of the process
// that held the lease before it.
//
//   SchedulerService service(store, loop, runner, clock, {.dags_dir = "dags"});
//   if (auto ok = service.Start(); !ok) ...   // kFailedPrecondition: another one holds the lease
//   service.Run();                             // until RequestStop()
//
// Thread-safety: one thread runs it; RequestStop() may be called from any thread.
#ifndef WEIR_SCHEDULER_SERVICE_H_
#define WEIR_SCHEDULER_SERVICE_H_

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "dags/dags.h"
#include "scheduler/operations.h"
#include "scheduler/scheduler.h"

namespace weir::scheduler {

struct SchedulerOptions {
  std::filesystem::path dags_dir;  // where the DAG files are
  // WEIR_HOME of the tasks (absolute): with it, tasks left behind by a dead driver are found
  // by their environment even when no attempt row names them. Empty: no such search.
  std::filesystem::path home;
  Duration scan_interval = std::chrono::seconds(5);  // how often DAG files are re-read
  Duration poll_interval = std::chrono::seconds(1);  // how often due and queued runs are sought
  Duration heartbeat_interval = std::chrono::seconds(5);  // lease renewal
  Duration lease_timeout = std::chrono::seconds(30);      // a lease from another host is free after
  std::string holder = "weir scheduler";                  // how the lease names this process
  int max_new_runs_per_pass = 1000;  // catchup creates at most this many runs per DAG per pass
  // Told how long each pass took (wall time, for the scheduler tick latency metric).
  std::function<void(Duration)> on_tick;
};

// Something worth a line in the scheduler's log: DAG files loaded, runs created, recovery.
using EventLog = std::function<void(const std::string& line)>;

class SchedulerService {
 public:
  SchedulerService(state::Store& store, RunLoop& loop, TaskRunner& runner, Clock& clock,
                   SchedulerOptions options, EventLog log = nullptr);
  ~SchedulerService();

  // Takes the lease (kFailedPrecondition naming the holder when another live process has it),
  // recovers attempts orphaned by a dead predecessor, and loads the DAGs.
  [[nodiscard]] Result<void> Start();
  // Schedules until RequestStop(); then cancels what runs and releases the lease. A busy state
  // database (kUnavailable) is logged once and waited out; any other error stops it.
  [[nodiscard]] Result<void> Run();
  // One pass without waiting: what Run does between two waits (for tests).
  [[nodiscard]] Result<void> Tick(std::optional<AttemptOutcome> outcome = std::nullopt);
  // The earliest time the service must act without an outcome.
  Timestamp NextWake() const;
  void RequestStop();

  const dags::LoadResult& loaded() const { return loaded_; }

 private:
  Result<void> Rescan();
  // Creates the runs of `dag` due by `now`; `latest` is its latest scheduled interval start.
  Result<void> CreateDueRuns(const dags::Dag& dag, std::optional<Timestamp> latest, Timestamp now);
  Result<void> AdoptRuns();
  // When the next interval of an active DAG closes after `now`, so that the poll that creates its
  // run comes then and not up to a poll interval later.
  Timestamp NextIntervalEnd(Timestamp now);
  bool HolderIsGone(const state::LeaseRecord& lease) const;
  void Log(const std::string& line) const;

  state::Store& store_;
  RunLoop& loop_;
  TaskRunner& runner_;
  Clock& clock_;
  SchedulerOptions options_;
  EventLog log_;
  const Driver self_;  // this process, as recorded in the lease and on the runs it drives
  state::LeaseRecord lease_;
  dags::LoadResult loaded_;
  dags::DagFileCache files_;  // rescans read only the files that changed
  std::set<std::string> paused_;
  RunDags run_dags_;                // the DAG of each run, by its version
  std::set<std::string> reported_;  // problems already logged, so they are logged once
  Timestamp next_scan_;
  Timestamp next_poll_;
  Timestamp next_heartbeat_;
  // DAG id -> (when computed, its next tick then); recomputed once passed, after the clock went
  // back before it was computed, and at every rescan (a schedule may have changed).
  std::map<std::string, std::pair<Timestamp, Timestamp>, std::less<>> next_ends_;
  std::atomic<bool> stop_requested_{false};
};

// Every data interval of `dag`'s schedule that has closed by `now` and starts after `after`
// (all since start_date when `after` is empty), oldest first, at most `limit`. With catchup off
// only the latest one. The interval of tick T is [the tick before T, T).
std::vector<std::pair<Timestamp, Timestamp>> DueIntervals(const dags::Dag& dag,
                                                          std::optional<Timestamp> after,
                                                          Timestamp now, int limit);

// Recovers from the death of the process that drove runs before this one (a killed `weir
// scheduler`, `weir backfill` or `weir run`): kills what its tasks left running and records each
// attempt still running as orphaned, its task instance scheduled again without using a try (the
// first three in a row). Runs that a live process drives are left alone. Call it holding the
// lease, before adopting runs; `home` (absolute; may be empty) finds tasks with no attempt row.
[[nodiscard]] Result<void> RecoverOrphans(state::Store& store, Clock& clock, const Driver& self,
                                          const std::filesystem::path& home, const EventLog& log);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_SERVICE_H_

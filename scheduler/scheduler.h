// scheduler: what to do now. Creates runs, decides which task instances are ready (trigger
// rules, priorities, the parallelism bound), when a failed one retries, and when a run is done.
// It never starts a process: it hands attempts to a TaskRunner (the executor implements it) and
// learns their outcome from it, recording every step in the store.
//
//   scheduler::RunLoop loop(store, runner, tasks::BuildCommand, clock, options, &progress);
//   auto run = scheduler::CreateManualRun(store, *dag, request, clock.Now());
//   auto done = loop.RunToCompletion(dag, run->run_id);   // blocks until every task finished
//
// Thread-safety: a RunLoop runs on one thread; RequestStop() may be called from any thread.
#ifndef WEIR_SCHEDULER_SCHEDULER_H_
#define WEIR_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/process.h"
#include "dags/dag.h"
#include "dags/template.h"
#include "state/records.h"

namespace weir::state {
class Store;
}

namespace weir::scheduler {

// One attempt handed to the runner.
struct AttemptRequest {
  std::int64_t attempt_id = 0;  // the runner's key for this attempt, unique per runner
  std::string run_id;
  std::string task_id;
  int try_number = 1;
  Command command;
  std::filesystem::path log_path;  // stdout and stderr go here (created with its folders)
  std::optional<Duration> timeout;
};

struct ProcessInfo {
  std::int64_t pid = 0;
  std::optional<std::int64_t> start_ticks;  // from /proc, to recognise the process later
};

struct AttemptOutcome {
  std::int64_t attempt_id = 0;
  std::optional<int> exit_code;  // set when the process exited
  std::optional<int> signal;     // set when a signal ended it
  bool timed_out = false;        // weir killed it at its timeout
  bool cancelled = false;        // weir killed it because the run was stopped
  Timestamp ended_at;
};

// Runs attempts. The executor's process pool implements it; tests may script it.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // Starts the attempt now. An error means it could not be started at all.
  [[nodiscard]] virtual Result<ProcessInfo> Start(const AttemptRequest& request) = 0;
  // Blocks until some started attempt finishes (returning its outcome) or until `deadline`
  // by the runner's clock passes (returning nullopt). A runner on a manual clock moves the
  // clock to the deadline instead of sleeping.
  virtual std::optional<AttemptOutcome> Wait(std::optional<Timestamp> deadline) = 0;
  // Terminates every running attempt; their outcomes still arrive through Wait.
  virtual void CancelAll() = 0;
  // Terminates one running attempt (no-op when it has ended); its outcome arrives through Wait.
  virtual void Cancel(std::int64_t attempt_id) = 0;
  // Wakes a blocked Wait (from another thread) so that it returns nullopt.
  virtual void Interrupt() = 0;
};

// Renders a task of a run into the command to execute (tasks/ provides it).
using CommandBuilder = std::function<Result<Command>(const dags::Dag&, const dags::TaskSpec&,
                                                     const dags::TemplateContext&)>;

// Told of every state change, on the RunLoop's thread, once the step that made it is committed
// (a reader of the state database then sees it). CLI progress, the web UI's events.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void OnRunChanged(const state::RunRecord&) {}
  // `attempt` is the attempt that caused the change, when there was one.
  virtual void OnTaskChanged(const state::RunRecord&, const state::TaskInstanceRecord&,
                             const state::AttemptRecord* /*attempt*/) {}
};

// The process driving runs, recorded on each run it adopts so that another process can tell
// whether the run is in live hands (see SchedulerService's recovery).
struct Driver {
  std::string host;
  std::int64_t pid = 0;
  std::optional<std::int64_t> start_ticks;
  // This process.
  static Driver Self();
};

// What an ended attempt read and wrote, if it reported any (the tasks that declare datasets
// do, through their manifest), and whether the task cache skipped its command; nullopt
// otherwise. Problems with the report are the reader's to log: the attempt's end is recorded
// either way.
using LineageReader = std::function<std::optional<state::AttemptLineage>(
    const dags::TaskSpec& task, const state::AttemptRecord& attempt)>;

// What an attempt's child is told about the task cache ($WEIR_CACHE), if anything: whether the
// cache is off for it, or the earlier success to compare with. Asked before every start.
using CacheAdvisor = std::function<std::optional<std::string>(
    const dags::Dag& dag, const dags::TaskSpec& task, const state::RunRecord& run)>;

struct RunLoopOptions {
  int parallelism = 0;             // attempts running at once; 0: the number of cores
  std::filesystem::path log_dir;   // attempt logs: LOG_DIR/DAG/RUN/TASK.TRY.log
  Driver driver = Driver::Self();  // recorded on every adopted run
  LineageReader lineage;           // none: no lineage is recorded, nothing is `cached`
  CacheAdvisor cache_advice;       // none: no task is told of an earlier success
  // Called after each step's commit with the attempts whose end it recorded (for exporters).
  std::function<void(const std::vector<std::int64_t>& attempt_ids)> on_recorded;
};

// What a person asks for when triggering a run.
struct RunRequest {
  Timestamp interval_start;
  Timestamp interval_end;
  dags::Value params;  // resolved (defaults plus overrides)
  state::RunKind kind = state::RunKind::kManual;
  std::string actor;           // who triggered it (audit)
  std::string source = "cli";  // "cli" or "api"
  bool no_cache = false;       // every task runs; none is `cached`
  std::string reason;          // why (audit)
};

// The data interval a manual run asks for: a local day, or an explicit start and end.
struct IntervalChoice {
  std::optional<std::string> date;   // YYYY-MM-DD
  std::optional<std::string> start;  // ISO 8601, with end
  std::optional<std::string> end;
};
struct ManualInterval {
  Timestamp start;
  Timestamp end;
};
// With a cron schedule, `date` D is the schedule's interval that starts on local day D (so that
// a manual run of a day matches that day's scheduled run), and no date the latest interval that
// has closed by `now`. Without one, D is the local day D and no date yesterday. start and end
// are taken as given. Errors name the fields as `prefix` + name ("--date", or "date").
[[nodiscard]] Result<ManualInterval> ResolveManualInterval(const dags::Dag& dag,
                                                           const IntervalChoice& choice,
                                                           std::string_view prefix, Timestamp now);

// Creates a run of `dag` with all its task instances pending, records the DAG version and an
// audit event. Manual runs get ids "DAG@START~manual-N"; scheduled and backfill runs "DAG@START".
[[nodiscard]] Result<state::RunRecord> CreateRun(state::Store& store, const dags::Dag& dag,
                                                 const RunRequest& request, Timestamp now);

// A run and its pending task instances (only the tasks marked in `only`, when it is not empty),
// not yet stored. Its id is DAG@START; CreateRun numbers manual runs.
std::pair<state::RunRecord, std::vector<state::TaskInstanceRecord>> NewRun(
    const dags::Dag& dag, std::int64_t dag_version_id, const RunRequest& request, Timestamp now,
    const std::vector<bool>& only = {});

// Drives runs: decides which task instances are ready (trigger rules), starts them through the
// TaskRunner within the bounds (global parallelism, each DAG's max_active_tasks, pool slots),
// records every outcome, schedules retries and finishes runs. Several runs share one loop; the
// ready task instances of all of them compete for slots by run kind (scheduled and manual runs
// before backfills), then priority weight, then interval.
class RunLoop {
 public:
  RunLoop(state::Store& store, TaskRunner& runner, CommandBuilder build_command, Clock& clock,
          RunLoopOptions options, RunObserver* observer = nullptr);
  ~RunLoop();

  // Takes charge of a run, resuming it from whatever state the store has: task instances left
  // queued or running by a process that is gone are scheduled again. `dag` must be the version
  // the run was created with. A run that has ended (marked by hand, its backfill cancelled) is
  // not taken: it is handed back by the next TakeFinished().
  [[nodiscard]] Result<void> Adopt(std::shared_ptr<const dags::Dag> dag, const std::string& run_id);
  // One scheduling step, committed as one batch: records `outcome` (if any), promotes retries
  // that are due, finishes runs that are done, and starts what the bounds allow.
  [[nodiscard]] Result<void> Step(std::optional<AttemptOutcome> outcome);
  // The earliest time the loop must step without an outcome (a retry coming due), if any.
  std::optional<Timestamp> NextDeadline() const;
  // Runs finished since the last call, with their final records.
  std::vector<state::RunRecord> TakeFinished();
  bool IsAdopted(const std::string& run_id) const;
  // Whether a released run still waits for its cancelled attempts to end.
  bool IsReleasing(const std::string& run_id) const;
  // Lets go of a run that was changed from outside (clear, mark): its running attempts are
  // cancelled (their ends still recorded) and it can be adopted again from the store.
  void Release(const std::string& run_id);
  // Releases every adopted run whose generation in the store (see
  // state::RunRecord::generation) is not the one it was adopted with; returns their ids.
  [[nodiscard]] Result<std::vector<std::string>> ReleaseChanged();
  int RunCount() const;      // adopted runs not finished yet
  int RunningCount() const;  // attempts running
  int ActiveRunsOf(const std::string& dag_id) const;
  // Slots of each pool; a task whose pool is missing here fails to start with that reason.
  void SetPoolSlots(std::map<std::string, int> slots);

  // Adopts the run and steps until it is finished; returns its final record.
  [[nodiscard]] Result<state::RunRecord> RunToCompletion(std::shared_ptr<const dags::Dag> dag,
                                                         const std::string& run_id);

  // Stops starting attempts and cancels the running ones. With `keep_runs` false (a foreground
  // run) their runs end as failed; with true (a scheduler stopping) the cancelled task instances
  // go back to scheduled without using a try and the runs stay running, for the next scheduler.
  // Safe from any thread (e.g. on SIGINT).
  void RequestStop(bool keep_runs = false);
  bool StopRequested() const { return stop_requested_; }
  // After RequestStop: waits for the cancelled attempts and fails their runs.
  [[nodiscard]] Result<void> Drain();

 private:
  class Execution;
  struct ReadyKey {
    int kind_rank;
    int neg_priority;
    std::int64_t interval_start_ms;
    int topo_pos;
    Execution* execution;
    int task;
    auto operator<=>(const ReadyKey&) const = default;
  };
  // An attempt's end, decided in memory and written after the step's next process has started
  // (before that attempt's own row): the next task of a chain starts without waiting for it.
  struct PendingEnd {
    state::TaskInstanceRecord task;
    state::AttemptRecord attempt;
    std::optional<state::AttemptLineage> lineage;
  };
  bool CanStart(const Execution& execution, int task) const;
  Result<void> WritePendingEnds();
  // Queues a change for the observer (task: a task instance's; else the run's); TellObserver
  // tells it all, after the step's commit.
  void Note(const state::RunRecord& run, const state::TaskInstanceRecord* task = nullptr,
            const state::AttemptRecord* attempt = nullptr);
  void TellObserver();

  state::Store& store_;
  TaskRunner& runner_;
  CommandBuilder build_command_;
  Clock& clock_;
  RunLoopOptions options_;
  RunObserver* observer_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> stop_keeps_runs_{false};
  std::int64_t next_token_ = 0;  // keys of attempts handed to the runner
  std::map<std::string, std::unique_ptr<Execution>> executions_;  // by run id
  std::set<ReadyKey> ready_;
  std::map<std::int64_t, Execution*> tokens_;         // running attempts: runner token -> its run
  std::vector<std::unique_ptr<Execution>> released_;  // let go, until their attempts end
  std::map<std::string, int> running_by_dag_;
  std::map<std::string, int> running_by_pool_;
  std::optional<std::map<std::string, int>> pool_slots_;  // none: pools are not enforced
  std::vector<state::RunRecord> finished_;
  std::vector<PendingEnd> pending_ends_;  // this step's, in the order they were decided
  // What the observer is told of this step's changes, once they are committed: a client that
  // reads the database when told then sees them.
  struct PendingNote {
    state::RunRecord run;
    std::optional<state::TaskInstanceRecord> task;  // none: the run changed
    std::optional<state::AttemptRecord> attempt;
  };
  std::vector<PendingNote> pending_notes_;
  std::vector<std::int64_t> recorded_;  // attempts whose end this step wrote
};

// Why an attempt ended, in words: "exit code 3", "killed by signal 9 (Killed)", ...
std::string DescribeOutcome(const AttemptOutcome& outcome, std::optional<Duration> timeout);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_SCHEDULER_H_

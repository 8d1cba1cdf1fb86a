#include <fmt/format.h>
#include <string.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "scheduler/retry.h"
#include "scheduler/scheduler.h"
#include "scheduler/trigger_rules.h"
#include "state/state.h"

namespace weir::scheduler {

using state::AttemptRecord;
using state::AttemptState;
using state::RunRecord;
using state::RunState;
using state::TaskInstanceRecord;
using state::TaskState;

std::string DescribeOutcome(const AttemptOutcome& outcome, std::optional<Duration> timeout) {
  if (outcome.timed_out) {
    return timeout ? fmt::format("timed out after {}", DurationToString(*timeout)) : "timed out";
  }
  if (outcome.cancelled) return "cancelled: the run was stopped";
  if (outcome.signal) {
    return fmt::format("killed by signal {} ({})", *outcome.signal, strsignal(*outcome.signal));
  }
  if (outcome.exit_code) return fmt::format("exit code {}", *outcome.exit_code);
  return "ended for an unknown reason";
}

Result<RunRecord> CreateRun(state::Store& store, const dags::Dag& dag, const RunRequest& request,
                            Timestamp now) {
  if (request.interval_end <= request.interval_start) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("the data interval must end after it starts ({} .. {})",
                            FormatIso(request.interval_start), FormatIso(request.interval_end)));
  }
  auto version = store.RecordDagVersion(dag, now);
  if (!version) return std::unexpected(version.error());

  RunRecord run;
  run.dag_id = dag.id;
  run.dag_version_id = *version;
  run.kind = request.kind;
  run.state = RunState::kQueued;
  run.interval_start = request.interval_start;
  run.interval_end = request.interval_end;
  run.logical_date = request.interval_start;
  run.params_json = request.params.is_map() ? request.params.ToJson() : "{}";
  run.created_at = now;

  std::vector<int> downstream = dag.graph.DownstreamCounts();
  std::vector<TaskInstanceRecord> tasks;
  tasks.reserve(dag.tasks.size());
  for (std::size_t i = 0; i < dag.tasks.size(); ++i) {
    const dags::TaskSpec& spec = dag.tasks[i];
    TaskInstanceRecord t;
    t.task_id = spec.id;
    t.max_tries = spec.retry.retries + 1;
    t.priority = spec.priority_weight.value_or(downstream[i]);
    tasks.push_back(std::move(t));
  }

  const std::string base = dag.id + "@" + FormatIso(request.interval_start);
  int number = 0;
  if (request.kind == state::RunKind::kManual) {
    auto count = store.CountRuns(dag.id, request.interval_start, request.kind);
    if (!count) return std::unexpected(count.error());
    number = *count;
  }
  // Manual ids take the next free number; a concurrent trigger may take it first, so retry.
  for (int tries = 0; tries < 100; ++tries) {
    run.run_id = request.kind == state::RunKind::kManual
                     ? fmt::format("{}~manual-{}", base, number + 1 + tries)
                     : base;
    for (TaskInstanceRecord& t : tasks) t.run_id = run.run_id;
    std::optional<state::AuditEvent> audit;
    if (request.kind == state::RunKind::kManual) {
      audit = state::AuditEvent{
          0,
          now,
          request.actor,
          request.source,
          "trigger",
          "run:" + run.run_id,
          "",
          fmt::format(R"({{"dag":{},"interval_start":"{}","interval_end":"{}","params":{}}})",
                      dags::Value::String(dag.id).ToJson(), FormatIso(run.interval_start),
                      FormatIso(run.interval_end), run.params_json)};
    }
    auto created = store.CreateRun(run, tasks, audit);
    if (created) return run;
    if (created.error().code != ErrorCode::kAlreadyExists ||
        request.kind != state::RunKind::kManual) {
      return std::unexpected(created.error());
    }
  }
  return Fail(ErrorCode::kUnavailable, "could not find a free run id; try again");
}

// The state of one RunToCompletion call.
class RunLoop::Execution {
 public:
  Execution(RunLoop& loop, std::shared_ptr<const dags::Dag> dag, RunRecord run,
            std::vector<TaskInstanceRecord> tasks)
      : loop_(loop), dag_(std::move(dag)), run_(std::move(run)), tis_(std::move(tasks)) {
    const auto& order = dag_->graph.TopologicalOrder();
    topo_pos_.resize(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) topo_pos_[order[i]] = static_cast<int>(i);
    int parallelism = loop_.options_.parallelism > 0
                          ? loop_.options_.parallelism
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    limit_ = std::max(1, std::min(parallelism, dag_->max_active_tasks));
    auto params = dags::Value::FromJson(run_.params_json);
    vars_.dag_id = dag_->id;
    vars_.run_id = run_.run_id;
    vars_.timezone = dag_->timezone;
    vars_.interval_start = run_.interval_start;
    vars_.interval_end = run_.interval_end;
    vars_.logical_date = run_.logical_date;
    vars_.params = params ? *params : dags::Value::MakeMap({});
  }

  Result<RunRecord> Drive() {
    Timestamp now = loop_.clock_.Now();
    if (run_.state == RunState::kQueued || run_.state == RunState::kRunning) {
      run_.state = RunState::kRunning;
      if (!run_.started_at) run_.started_at = now;
      run_.ended_at.reset();
      if (auto ok = loop_.store_.UpdateRun(run_); !ok) return std::unexpected(ok.error());
      if (loop_.observer_) loop_.observer_->OnRunChanged(run_);
    }
    // Resume whatever state the run is in: first take stock, then decide the pending tasks in
    // topological order (deciding one may decide its downstream tasks too).
    for (int v : dag_->graph.TopologicalOrder()) {
      TaskInstanceRecord& ti = tis_[v];
      switch (ti.state) {
        case TaskState::kPending:
          break;
        case TaskState::kScheduled:
        case TaskState::kQueued:
        case TaskState::kRunning:  // left over by a process that is gone: run it again
          SetState(v, TaskState::kScheduled);
          ready_.insert(ReadyKey(v));
          break;
        case TaskState::kUpForRetry:
          retries_.emplace(ti.next_try_at.value_or(now), v);
          break;
        default:
          ++finished_;
      }
    }
    for (int v : dag_->graph.TopologicalOrder()) Evaluate(v);

    // Each step (an outcome recorded, retries promoted, ready tasks started) is one batch:
    // its changes commit together, before the loop blocks for the next outcome.
    std::optional<AttemptOutcome> outcome;
    while (finished_ < static_cast<int>(tis_.size()) || outcome) {
      if (loop_.stop_requested_) return Stop();
      auto batch = loop_.store_.StartBatch();
      if (!batch) return Abandon(batch.error());
      if (outcome) {
        if (auto ok = Finish(*outcome); !ok) return Abandon(ok.error());
        outcome.reset();
      }
      now = loop_.clock_.Now();
      while (!retries_.empty() && retries_.begin()->first <= now) {
        int v = retries_.begin()->second;
        retries_.erase(retries_.begin());
        tis_[v].next_try_at.reset();
        SetState(v, TaskState::kScheduled);
        ready_.insert(ReadyKey(v));
      }
      while (!ready_.empty() && static_cast<int>(running_.size()) < limit_ &&
             !loop_.stop_requested_) {
        int v = std::get<2>(*ready_.begin());
        ready_.erase(ready_.begin());
        if (auto ok = StartAttempt(v); !ok) return Abandon(ok.error());
      }
      if (auto ok = Flush(); !ok) return Abandon(ok.error());
      if (auto ok = batch->Commit(); !ok) return Abandon(ok.error());
      if (finished_ >= static_cast<int>(tis_.size())) break;

      std::optional<Timestamp> deadline;
      if (!retries_.empty()) deadline = retries_.begin()->first;
      if (running_.empty() && !deadline && ready_.empty()) {
        return Abandon(Error{ErrorCode::kInternal,
                             "the run cannot make progress (no task is running, ready or "
                             "waiting to retry); this is a bug in weir"});
      }
      if (running_.empty() && !ready_.empty()) continue;
      outcome = loop_.runner_.Wait(deadline);
    }
    if (auto ok = Flush(); !ok) return std::unexpected(ok.error());
    return Complete();
  }

 private:
  using Key = std::tuple<int, int, int>;  // (-priority, topological position, task index)
  Key ReadyKey(int v) const { return {-tis_[v].priority, topo_pos_[v], v}; }

  void SetState(int v, TaskState state) {
    tis_[v].state = state;
    dirty_.insert(v);
  }

  // Decides a pending task from its upstream states; cascades skips and upstream failures.
  void Evaluate(int v) {
    std::vector<int> work = {v};
    while (!work.empty()) {
      int w = work.back();
      work.pop_back();
      if (tis_[w].state != TaskState::kPending) continue;
      std::vector<TaskState> upstream;
      for (int u : dag_->graph.Upstream(w)) upstream.push_back(tis_[u].state);
      switch (EvaluateTriggerRule(dag_->tasks[w].trigger_rule, UpstreamCounts::Of(upstream))) {
        case Verdict::kWait:
          break;
        case Verdict::kRun:
          SetState(w, TaskState::kScheduled);
          ready_.insert(ReadyKey(w));
          break;
        case Verdict::kUpstreamFailed:
          Decide(w, TaskState::kUpstreamFailed, &work);
          break;
        case Verdict::kSkip:
          Decide(w, TaskState::kSkipped, &work);
          break;
      }
    }
  }

  // Ends a task that will not run, and queues its downstream tasks for a decision.
  void Decide(int w, TaskState state, std::vector<int>* work) {
    SetState(w, state);
    tis_[w].ended_at = loop_.clock_.Now();
    ++finished_;
    for (int d : dag_->graph.Downstream(w)) work->push_back(d);
  }

  void Finished(int v) {
    ++finished_;
    for (int d : dag_->graph.Downstream(v)) Evaluate(d);
  }

  Result<void> Flush() {
    if (dirty_.empty()) return {};
    std::vector<TaskInstanceRecord> rows;
    rows.reserve(dirty_.size());
    for (int v : dirty_) rows.push_back(tis_[v]);
    auto ok = loop_.store_.UpdateTaskInstances(rows);
    if (!ok) return ok;
    if (loop_.observer_) {
      for (int v : dirty_) loop_.observer_->OnTaskChanged(run_, tis_[v], nullptr);
    }
    dirty_.clear();
    return {};
  }

  // LOG_DIR/DAG/RUN/TASK.TRY.log: one folder per run, not per task, since creating inodes is
  // most of what a no-op task costs beyond its process.
  std::filesystem::path LogPath(const std::string& task_id, int try_number) const {
    return loop_.options_.log_dir / dag_->id / run_.run_id /
           fmt::format("{}.{}.log", task_id, try_number);
  }

  // Starts the process first and then records the attempt, its pid and the task instance's
  // new state in one transaction: a no-op task then costs two transactions, not four. (A crash
  // between the two leaves a process with no attempt row; its WEIR_RUN_ID environment still
  // identifies it.)
  Result<void> StartAttempt(int v) {
    const dags::TaskSpec& spec = dag_->tasks[v];
    TaskInstanceRecord& ti = tis_[v];
    Timestamp now = loop_.clock_.Now();
    ti.try_number += 1;
    if (!ti.started_at) ti.started_at = now;
    ti.ended_at.reset();
    ti.next_try_at.reset();
    dirty_.erase(v);

    AttemptRecord attempt;
    attempt.run_id = run_.run_id;
    attempt.task_id = spec.id;
    attempt.try_number = ti.try_number;
    attempt.state = AttemptState::kRunning;
    attempt.log_path = LogPath(spec.id, ti.try_number).string();
    attempt.started_at = now;

    const std::int64_t token = ++loop_.next_token_;
    auto context = dags::MakeTemplateContext(vars_, spec.id, ti.try_number);
    Result<Command> command = context ? loop_.build_command_(*dag_, spec, *context)
                                      : Result<Command>(std::unexpected(context.error()));
    Result<ProcessInfo> process =
        command ? loop_.runner_.Start(AttemptRequest{token, run_.run_id, spec.id, ti.try_number,
                                                     *command, attempt.log_path, spec.timeout})
                : Result<ProcessInfo>(std::unexpected(command.error()));
    if (!process) {
      // Nothing ran: record why in the attempt and its log, and treat it as a failed try.
      ti.state = TaskState::kQueued;
      auto id = loop_.store_.BeginAttempt(ti, attempt);
      if (!id) return std::unexpected(id.error());
      attempt.id = *id;
      std::string why = fmt::format("cannot start: {}", process.error().message);
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(attempt.log_path).parent_path(),
                                          ec);
      std::ofstream(attempt.log_path, std::ios::app) << "weir: " << why << "\n";
      attempt.ended_at = now;
      return RecordFailure(v, attempt, why, /*may_retry=*/true);
    }
    ti.state = TaskState::kRunning;
    attempt.pid = process->pid;
    attempt.process_start_ticks = process->start_ticks;
    auto id = loop_.store_.BeginAttempt(ti, attempt);
    if (!id) {
      running_.emplace(token, v);  // so that Abandon waits for the process it cancels
      return std::unexpected(id.error());
    }
    attempt.id = *id;
    running_.emplace(token, v);
    attempts_.emplace(token, attempt);
    if (loop_.observer_) loop_.observer_->OnTaskChanged(run_, ti, &attempt);
    return {};
  }

  Result<void> Finish(const AttemptOutcome& outcome) {
    auto it = running_.find(outcome.attempt_id);
    if (it == running_.end()) return {};  // not ours (another run shares the runner)
    int v = it->second;
    running_.erase(it);
    AttemptRecord attempt = attempts_[outcome.attempt_id];
    attempts_.erase(outcome.attempt_id);
    attempt.exit_code = outcome.exit_code;
    attempt.signal = outcome.signal;
    attempt.ended_at = outcome.ended_at;
    const bool clean = !outcome.timed_out && !outcome.cancelled && !outcome.signal;
    if (clean && outcome.exit_code == 0) return RecordEnd(v, attempt, TaskState::kSuccess);
    if (clean && outcome.exit_code == 99) {
      attempt.reason = "skipped itself (exit code 99)";
      return RecordEnd(v, attempt, TaskState::kSkipped);
    }
    return RecordFailure(v, attempt, DescribeOutcome(outcome, dag_->tasks[v].timeout),
                         !outcome.cancelled);
  }

  Result<void> RecordEnd(int v, AttemptRecord& attempt, TaskState state) {
    TaskInstanceRecord& ti = tis_[v];
    attempt.state = state == TaskState::kSuccess ? AttemptState::kSuccess : AttemptState::kSkipped;
    ti.state = state;
    ti.ended_at = attempt.ended_at;
    if (auto ok = loop_.store_.FinishAttempt(ti, attempt); !ok) return ok;
    if (loop_.observer_) loop_.observer_->OnTaskChanged(run_, ti, &attempt);
    Finished(v);
    return {};
  }

  Result<void> RecordFailure(int v, AttemptRecord& attempt, std::string reason, bool may_retry) {
    TaskInstanceRecord& ti = tis_[v];
    const dags::TaskSpec& spec = dag_->tasks[v];
    attempt.state = AttemptState::kFailed;
    attempt.reason = std::move(reason);
    Timestamp ended = attempt.ended_at.value_or(loop_.clock_.Now());
    bool retry = may_retry && !loop_.stop_requested_ && ti.try_number < ti.max_tries;
    if (retry) {
      ti.state = TaskState::kUpForRetry;
      ti.next_try_at = ended + RetryDelay(spec.retry, ti.try_number, run_.run_id + "/" + spec.id);
      retries_.emplace(*ti.next_try_at, v);
    } else {
      ti.state = TaskState::kFailed;
      ti.ended_at = ended;
    }
    if (auto ok = loop_.store_.FinishAttempt(ti, attempt); !ok) return ok;
    if (loop_.observer_) loop_.observer_->OnTaskChanged(run_, ti, &attempt);
    if (!retry) Finished(v);
    return {};
  }

  // Cancels what runs, records the outcomes, and ends the run as failed.
  Result<RunRecord> Stop() {
    loop_.runner_.CancelAll();
    while (!running_.empty()) {
      std::optional<AttemptOutcome> outcome = loop_.runner_.Wait(std::nullopt);
      if (outcome) {
        if (auto ok = Finish(*outcome); !ok) return std::unexpected(ok.error());
      }
    }
    if (auto ok = Flush(); !ok) return std::unexpected(ok.error());
    run_.state = RunState::kFailed;
    run_.ended_at = loop_.clock_.Now();
    if (auto ok = loop_.store_.UpdateRun(run_); !ok) return std::unexpected(ok.error());
    if (loop_.observer_) loop_.observer_->OnRunChanged(run_);
    return run_;
  }

  // A store error mid-run: stop the processes we started, then report the error.
  Result<RunRecord> Abandon(Error error) {
    loop_.runner_.CancelAll();
    while (!running_.empty()) {
      std::optional<AttemptOutcome> outcome = loop_.runner_.Wait(std::nullopt);
      if (outcome) running_.erase(outcome->attempt_id);
    }
    return std::unexpected(std::move(error));
  }

  Result<RunRecord> Complete() {
    bool failed = std::any_of(tis_.begin(), tis_.end(), [](const TaskInstanceRecord& t) {
      return t.state == TaskState::kFailed || t.state == TaskState::kUpstreamFailed;
    });
    run_.state = failed ? RunState::kFailed : RunState::kSuccess;
    run_.ended_at = loop_.clock_.Now();
    if (auto ok = loop_.store_.UpdateRun(run_); !ok) return std::unexpected(ok.error());
    if (loop_.observer_) loop_.observer_->OnRunChanged(run_);
    return run_;
  }

  RunLoop& loop_;
  std::shared_ptr<const dags::Dag> dag_;
  RunRecord run_;
  std::vector<TaskInstanceRecord> tis_;  // by task index
  std::vector<int> topo_pos_;
  int limit_ = 1;
  dags::RunVariables vars_;
  std::set<Key> ready_;
  std::multimap<Timestamp, int> retries_;
  std::map<std::int64_t, int> running_;             // runner token -> task index
  std::map<std::int64_t, AttemptRecord> attempts_;  // runner token -> its attempt
  std::set<int> dirty_;  // task instances changed in memory, not yet written
  int finished_ = 0;
};

RunLoop::RunLoop(state::Store& store, TaskRunner& runner, CommandBuilder build_command,
                 Clock& clock, RunLoopOptions options, RunObserver* observer)
    : store_(store),
      runner_(runner),
      build_command_(std::move(build_command)),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer) {}

RunLoop::~RunLoop() = default;

void RunLoop::RequestStop() {
  stop_requested_ = true;
  runner_.Interrupt();
}

Result<RunRecord> RunLoop::RunToCompletion(std::shared_ptr<const dags::Dag> dag,
                                           const std::string& run_id) {
  auto run = store_.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  if (!*run) return Fail(ErrorCode::kNotFound, fmt::format("no run '{}'", run_id));
  auto rows = store_.TaskInstances(run_id);
  if (!rows) return std::unexpected(rows.error());
  std::vector<TaskInstanceRecord> tasks(dag->tasks.size());
  std::vector<bool> seen(dag->tasks.size(), false);
  for (TaskInstanceRecord& row : *rows) {
    int v = dag->TaskIndex(row.task_id);
    if (v < 0) {
      return Fail(ErrorCode::kFailedPrecondition,
                  fmt::format("run '{}' has task '{}', which DAG '{}' no longer has", run_id,
                              row.task_id, dag->id));
    }
    seen[v] = true;
    tasks[v] = std::move(row);
  }
  for (std::size_t v = 0; v < seen.size(); ++v) {
    if (!seen[v]) {
      return Fail(
          ErrorCode::kFailedPrecondition,
          fmt::format("run '{}' has no task instance for task '{}'", run_id, dag->tasks[v].id));
    }
  }
  Execution execution(*this, std::move(dag), std::move(**run), std::move(tasks));
  return execution.Drive();
}

}  // namespace weir::scheduler

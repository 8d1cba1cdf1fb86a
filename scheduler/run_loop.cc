#include <fmt/format.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "scheduler/operations.h"
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

std::pair<RunRecord, std::vector<TaskInstanceRecord>> NewRun(const dags::Dag& dag,
                                                             std::int64_t dag_version_id,
                                                             const RunRequest& request,
                                                             Timestamp now,
                                                             const std::vector<bool>& only) {
  RunRecord run;
  run.run_id = dag.id + "@" + FormatIso(request.interval_start);
  run.dag_id = dag.id;
  run.dag_version_id = dag_version_id;
  run.kind = request.kind;
  run.state = RunState::kQueued;
  run.interval_start = request.interval_start;
  run.interval_end = request.interval_end;
  run.logical_date = request.interval_start;
  run.params_json = request.params.is_map() ? request.params.ToJson() : "{}";
  run.no_cache = request.no_cache;
  run.created_at = now;
  std::vector<int> downstream = dag.graph.DownstreamCounts();
  std::vector<TaskInstanceRecord> tasks;
  tasks.reserve(dag.tasks.size());
  for (std::size_t i = 0; i < dag.tasks.size(); ++i) {
    if (!only.empty() && !only[i]) continue;
    const dags::TaskSpec& spec = dag.tasks[i];
    TaskInstanceRecord t;
    t.run_id = run.run_id;
    t.task_id = spec.id;
    t.max_tries = spec.retry.retries + 1;
    t.priority = spec.priority_weight.value_or(downstream[i]);
    tasks.push_back(std::move(t));
  }
  return {std::move(run), std::move(tasks)};
}

Result<ManualInterval> ResolveManualInterval(const dags::Dag& dag, const IntervalChoice& options,
                                             std::string_view prefix, Timestamp now) {
  if (options.date && (options.start || options.end)) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{0}date cannot be combined with {0}start/{0}end", prefix));
  }
  if (options.start.has_value() != options.end.has_value()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{0}start and {0}end go together", prefix));
  }
  if (options.start) {
    auto start = ParseTimestamp(*options.start);
    if (!start)
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}start: ", prefix) + start.error().message);
    auto end = ParseTimestamp(*options.end);
    if (!end)
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}end: ", prefix) + end.error().message);
    if (*end <= *start) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{0}end ({1}) must be after {0}start ({2})", prefix, FormatIso(*end),
                              FormatIso(*start)));
    }
    return ManualInterval{*start, *end};
  }
  const dags::Schedule& schedule = dag.schedule;
  const bool cron = schedule.kind() == dags::Schedule::Kind::kCron;
  CivilDate day;
  if (options.date) {
    auto d = ParseDate(*options.date);
    if (!d)
      return Fail(ErrorCode::kInvalidArgument, fmt::format("{}date: ", prefix) + d.error().message);
    day = *d;
  } else if (cron) {
    auto end = schedule.PreviousTick(now + Duration(1), dag.timezone);
    auto start = end ? schedule.PreviousTick(*end, dag.timezone) : std::nullopt;
    if (!start) {
      return Fail(
          ErrorCode::kInvalidArgument,
          fmt::format("DAG '{0}' has no closed interval yet; pass {1}date or {1}start/{1}end",
                      dag.id, prefix));
    }
    return ManualInterval{*start, *end};
  } else {
    auto today = LocalDate(now, dag.timezone);
    if (!today) return std::unexpected(today.error());
    day = AddDays(*today, -1);
  }
  auto midnight = StartOfLocalDay(day, dag.timezone);
  if (!midnight) return std::unexpected(midnight.error());
  auto next_midnight = StartOfLocalDay(AddDays(day, 1), dag.timezone);
  if (!next_midnight) return std::unexpected(next_midnight.error());
  if (!cron) return ManualInterval{*midnight, *next_midnight};
  auto start = schedule.NextTick(*midnight - Duration(1), dag.timezone);
  auto end = start ? schedule.NextTick(*start, dag.timezone) : std::nullopt;
  if (!start || !end || *start >= *next_midnight) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{0}date {1}: the schedule '{2}' of DAG '{3}' has no interval starting "
                            "that day; pass {0}start and {0}end",
                            prefix, FormatDate(day), schedule.text(), dag.id));
  }
  return ManualInterval{*start, *end};
}

Result<RunRecord> CreateRun(state::Store& store, const dags::Dag& dag, const RunRequest& request,
                            Timestamp now) {
  // An @once run may have an empty interval; every other run covers some time.
  if (request.interval_end < request.interval_start ||
      (request.interval_end == request.interval_start &&
       request.kind != state::RunKind::kScheduled)) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("the data interval must end after it starts ({} .. {})",
                            FormatIso(request.interval_start), FormatIso(request.interval_end)));
  }
  auto version = store.RecordDagVersion(dag, now);
  if (!version) return std::unexpected(version.error());
  auto [run, tasks] = NewRun(dag, *version, request, now);

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
      audit = Audit(
          Actor{request.actor, request.source, request.reason}, now, "trigger", "run:" + run.run_id,
          fmt::format(R"({{"dag":{},"interval_start":"{}","interval_end":"{}","params":{}}})",
                      dags::Value::String(dag.id).ToJson(), FormatIso(run.interval_start),
                      FormatIso(run.interval_end), run.params_json));
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

// One adopted run: its task instances in memory (by task index), which of them wait for a
// retry, and which attempts of it are running.
class RunLoop::Execution {
 public:
  // `present[v]`: task v is part of the run. A run may cover only some of its DAG's tasks (a
  // backfill of selected tasks); the others are left out of every decision.
  Execution(RunLoop& loop, std::shared_ptr<const dags::Dag> dag, RunRecord run,
            std::vector<TaskInstanceRecord> tasks, std::vector<bool> present)
      : loop_(loop),
        dag_(std::move(dag)),
        run_(std::move(run)),
        tis_(std::move(tasks)),
        present_(std::move(present)),
        present_count_(static_cast<int>(std::count(present_.begin(), present_.end(), true))) {
    const auto& order = dag_->graph.TopologicalOrder();
    topo_pos_.resize(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) topo_pos_[order[i]] = static_cast<int>(i);
    auto params = dags::Value::FromJson(run_.params_json);
    vars_.dag_id = dag_->id;
    vars_.run_id = run_.run_id;
    vars_.timezone = dag_->timezone;
    vars_.interval_start = run_.interval_start;
    vars_.interval_end = run_.interval_end;
    vars_.logical_date = run_.logical_date;
    vars_.params = params ? *params : dags::Value::MakeMap({});
  }

  const dags::Dag& dag() const { return *dag_; }
  const RunRecord& run() const { return run_; }
  const dags::TaskSpec& spec(int v) const { return dag_->tasks[v]; }
  int running() const { return static_cast<int>(running_.size()); }
  bool Done() const { return finished_ == present_count_ && running_.empty(); }
  std::optional<Timestamp> NextRetry() const {
    if (retries_.empty()) return std::nullopt;
    return retries_.begin()->first;
  }

  // Marks the run running and resumes every task instance from its stored state: first take
  // stock, then decide the pending ones in topological order (deciding one may decide its
  // downstream tasks too).
  Result<void> Begin() {
    Timestamp now = loop_.clock_.Now();
    run_.state = RunState::kRunning;
    run_.driver_host = loop_.options_.driver.host;
    run_.driver_pid = loop_.options_.driver.pid;
    run_.driver_start_ticks = loop_.options_.driver.start_ticks;
    if (!run_.started_at) run_.started_at = now;
    run_.ended_at.reset();
    if (auto ok = loop_.store_.UpdateRun(run_); !ok) return ok;
    loop_.Note(run_);
    for (int v : dag_->graph.TopologicalOrder()) {
      if (!present_[v]) continue;
      TaskInstanceRecord& ti = tis_[v];
      switch (ti.state) {
        case TaskState::kPending:
          break;
        case TaskState::kScheduled:
        case TaskState::kQueued:
        case TaskState::kRunning:  // left over by a process that is gone: run it again
          SetState(v, TaskState::kScheduled);
          Enqueue(v);
          break;
        case TaskState::kUpForRetry:
          retries_.emplace(ti.next_try_at.value_or(now), v);
          break;
        default:
          ++finished_;
      }
    }
    for (int v : dag_->graph.TopologicalOrder()) Evaluate(v);
    return {};
  }

  void PromoteRetries(Timestamp now) {
    // The wall clock may step back while a retry waits: a retry further off than its delay was
    // timed by a later clock, and comes its delay from now rather than once the clock has
    // caught up.
    for (auto it = retries_.begin(); it != retries_.end();) {
      const auto [at, v] = *it;
      Duration delay = RetryDelay(dag_->tasks[v].retry, tis_[v].try_number - tis_[v].free_tries,
                                  run_.run_id + "/" + dag_->tasks[v].id);
      if (at <= now + delay) {
        ++it;
        continue;
      }
      it = retries_.erase(it);
      tis_[v].next_try_at = now + delay;
      dirty_.insert(v);
      retries_.emplace(now + delay, v);
    }
    while (!retries_.empty() && retries_.begin()->first <= now) {
      int v = retries_.begin()->second;
      retries_.erase(retries_.begin());
      tis_[v].next_try_at.reset();
      SetState(v, TaskState::kScheduled);
      Enqueue(v);
    }
  }

  Result<void> Flush() {
    if (dirty_.empty()) return {};
    std::vector<TaskInstanceRecord> rows;
    rows.reserve(dirty_.size());
    for (int v : dirty_) rows.push_back(tis_[v]);
    auto ok = loop_.store_.UpdateTaskInstances(rows);
    if (!ok) return ok;
    for (int v : dirty_) loop_.Note(run_, &tis_[v]);
    dirty_.clear();
    return {};
  }

  // Starts the process first and then records the attempt, its pid and the task instance's
  // new state (in the step's batch). A crash between the two leaves a process with no attempt
  // row; its WEIR_RUN_ID environment still identifies it.
  Result<void> Start(int v) {
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
    Result<ProcessInfo> process = StartProcess(v, token, attempt);
    if (!process) {
      // Nothing ran: record why in the attempt and its log, and treat it as a failed try.
      ti.state = TaskState::kQueued;
      if (auto ok = loop_.WritePendingEnds(); !ok) return ok;
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
    running_.emplace(token, std::make_pair(v, attempt));
    loop_.tokens_.emplace(token, this);
    ++loop_.running_by_dag_[dag_->id];
    ++loop_.running_by_pool_[spec.pool];
    // Earlier ends first: one of them may be this task's previous try.
    if (auto ok = loop_.WritePendingEnds(); !ok) return ok;
    auto id = loop_.store_.BeginAttempt(ti, attempt);
    if (!id) return std::unexpected(id.error());
    running_[token].second.id = *id;
    loop_.Note(run_, &ti, &running_[token].second);
    return {};
  }

  Result<void> Finish(std::int64_t token, const AttemptOutcome& outcome) {
    auto it = running_.find(token);
    if (it == running_.end()) return {};
    auto [v, attempt] = std::move(it->second);
    running_.erase(it);
    --loop_.running_by_dag_[dag_->id];
    --loop_.running_by_pool_[dag_->tasks[v].pool];
    attempt.exit_code = outcome.exit_code;
    attempt.signal = outcome.signal;
    attempt.ended_at = outcome.ended_at;
    if (released_) {
      // The run was changed by hand and will be adopted again from the store. A task instance
      // the change left running (this very try) goes back to scheduled without using a try;
      // one the change rewrote keeps what the change said.
      attempt.state = AttemptState::kFailed;
      attempt.reason = "cancelled: the run was changed by hand (clear or mark)";
      auto stored = loop_.store_.TaskInstances(run_.run_id);
      if (!stored) return std::unexpected(stored.error());
      for (TaskInstanceRecord& ti : *stored) {
        if (ti.task_id == attempt.task_id && ti.state == TaskState::kRunning &&
            ti.try_number == attempt.try_number) {
          ti.state = TaskState::kScheduled;
          ti.free_tries += 1;
          return loop_.store_.FinishAttempt(ti, attempt);
        }
      }
      return loop_.store_.EndAttempt(attempt);
    }
    if (outcome.cancelled && loop_.stop_keeps_runs_) {
      // The scheduler is stopping, not the task failing: run it again later, for free.
      TaskInstanceRecord& ti = tis_[v];
      attempt.state = AttemptState::kFailed;
      attempt.reason = "cancelled: the scheduler stopped; it runs again when one starts";
      ti.free_tries += 1;
      ti.state = TaskState::kScheduled;
      return loop_.store_.FinishAttempt(ti, attempt);
    }
    // What it read and wrote, and whether the task cache let it skip its command.
    std::optional<state::AttemptLineage> lineage;
    if (loop_.options_.lineage) lineage = loop_.options_.lineage(dag_->tasks[v], attempt);
    const bool clean = !outcome.timed_out && !outcome.cancelled && !outcome.signal;
    if (clean && outcome.exit_code == 0) {
      if (lineage && lineage->cached) {
        attempt.reason = lineage->cache_note;
        return RecordEnd(v, attempt, TaskState::kCached, std::move(lineage));
      }
      return RecordEnd(v, attempt, TaskState::kSuccess, std::move(lineage));
    }
    if (clean && outcome.exit_code == 99) {
      attempt.reason = "skipped itself (exit code 99)";
      return RecordEnd(v, attempt, TaskState::kSkipped, std::move(lineage));
    }
    return RecordFailure(v, attempt, DescribeOutcome(outcome, dag_->tasks[v].timeout),
                         !outcome.cancelled, std::move(lineage));
  }

  // Ends the run: failed if a task failed or upstream_failed, or if it was stopped.
  Result<RunRecord> Complete(bool stopped) {
    bool failed = stopped;
    for (std::size_t v = 0; v < tis_.size(); ++v) {
      failed = failed || (present_[v] && (tis_[v].state == TaskState::kFailed ||
                                          tis_[v].state == TaskState::kUpstreamFailed));
    }
    run_.state = failed ? RunState::kFailed : RunState::kSuccess;
    run_.ended_at = loop_.clock_.Now();
    if (auto ok = loop_.store_.UpdateRun(run_); !ok) return std::unexpected(ok.error());
    loop_.Note(run_);
    return run_;
  }

  // Stops deciding anything for this run and cancels its running attempts.
  void Release() {
    released_ = true;
    for (const auto& [token, entry] : running_) loop_.runner_.Cancel(token);
  }

  ReadyKey KeyOf(int v) {
    int rank = run_.kind == state::RunKind::kBackfill ? 1 : 0;
    return ReadyKey{rank, -tis_[v].priority, ToMillis(run_.interval_start), topo_pos_[v], this, v};
  }

 private:
  void Enqueue(int v) { loop_.ready_.insert(KeyOf(v)); }

  void SetState(int v, TaskState state) {
    tis_[v].state = state;
    dirty_.insert(v);
  }

  Result<ProcessInfo> StartProcess(int v, std::int64_t token, const AttemptRecord& attempt) {
    const dags::TaskSpec& spec = dag_->tasks[v];
    if (loop_.pool_slots_ && loop_.pool_slots_->count(spec.pool) == 0) {
      return Fail(ErrorCode::kFailedPrecondition,
                  fmt::format("pool '{}' does not exist (create it with: weir pools set {} "
                              "SLOTS)",
                              spec.pool, spec.pool));
    }
    auto context = dags::MakeTemplateContext(vars_, spec.id, attempt.try_number);
    if (!context) return std::unexpected(context.error());
    auto command = loop_.build_command_(*dag_, spec, *context);
    if (!command) return std::unexpected(command.error());
    command->env.push_back("WEIR_LOG=" + attempt.log_path);
    if (loop_.options_.cache_advice) {
      if (auto advice = loop_.options_.cache_advice(*dag_, spec, run_)) {
        command->env.push_back("WEIR_CACHE=" + *advice);
      }
    }
    return loop_.runner_.Start(AttemptRequest{token, run_.run_id, spec.id, attempt.try_number,
                                              *command, attempt.log_path, spec.timeout});
  }

  // Decides a pending task from its upstream states; cascades skips and upstream failures.
  void Evaluate(int v) {
    std::vector<int> work = {v};
    while (!work.empty()) {
      int w = work.back();
      work.pop_back();
      if (!present_[w] || tis_[w].state != TaskState::kPending) continue;
      std::vector<TaskState> upstream;
      for (int u : dag_->graph.Upstream(w)) {
        if (present_[u]) upstream.push_back(tis_[u].state);
      }
      switch (EvaluateTriggerRule(dag_->tasks[w].trigger_rule, UpstreamCounts::Of(upstream))) {
        case Verdict::kWait:
          break;
        case Verdict::kRun:
          SetState(w, TaskState::kScheduled);
          Enqueue(w);
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

  // LOG_DIR/DAG/RUN/TASK.TRY.log: one folder per run, not per task, since creating inodes is
  // most of what a no-op task costs beyond its process.
  std::filesystem::path LogPath(const std::string& task_id, int try_number) const {
    return loop_.options_.log_dir / dag_->id / run_.run_id /
           fmt::format("{}.{}.log", task_id, try_number);
  }

  Result<void> RecordEnd(int v, AttemptRecord& attempt, TaskState state,
                         std::optional<state::AttemptLineage> lineage) {
    TaskInstanceRecord& ti = tis_[v];
    attempt.state = state == TaskState::kSkipped ? AttemptState::kSkipped : AttemptState::kSuccess;
    ti.state = state;
    ti.ended_at = attempt.ended_at;
    loop_.pending_ends_.push_back({ti, attempt, std::move(lineage)});
    loop_.Note(run_, &ti, &attempt);
    Finished(v);
    return {};
  }

  Result<void> RecordFailure(int v, AttemptRecord& attempt, std::string reason, bool may_retry,
                             std::optional<state::AttemptLineage> lineage = std::nullopt) {
    TaskInstanceRecord& ti = tis_[v];
    const dags::TaskSpec& spec = dag_->tasks[v];
    attempt.state = AttemptState::kFailed;
    attempt.reason = std::move(reason);
    Timestamp ended = attempt.ended_at.value_or(loop_.clock_.Now());
    bool retry = may_retry && !loop_.stop_requested_ && state::HasTriesLeft(ti);
    if (retry) {
      ti.state = TaskState::kUpForRetry;
      ti.next_try_at = ended + RetryDelay(spec.retry, ti.try_number - ti.free_tries,
                                          run_.run_id + "/" + spec.id);
      retries_.emplace(*ti.next_try_at, v);
    } else {
      ti.state = TaskState::kFailed;
      ti.ended_at = ended;
    }
    loop_.pending_ends_.push_back({ti, attempt, std::move(lineage)});
    loop_.Note(run_, &ti, &attempt);
    if (!retry) Finished(v);
    return {};
  }

  RunLoop& loop_;
  std::shared_ptr<const dags::Dag> dag_;
  RunRecord run_;
  std::vector<TaskInstanceRecord> tis_;  // by task index
  std::vector<bool> present_;            // by task index: part of this run
  int present_count_;
  std::vector<int> topo_pos_;
  dags::RunVariables vars_;
  std::multimap<Timestamp, int> retries_;
  std::map<std::int64_t, std::pair<int, AttemptRecord>> running_;  // token -> (task, attempt)
  std::set<int> dirty_;  // task instances changed in memory, not yet written
  int finished_ = 0;
  bool released_ = false;
};

Driver Driver::Self() {
  auto pid = static_cast<std::int64_t>(::getpid());
  return Driver{HostName(), pid, ProcessStartTicks(pid)};
}

RunLoop::RunLoop(state::Store& store, TaskRunner& runner, CommandBuilder build_command,
                 Clock& clock, RunLoopOptions options, RunObserver* observer)
    : store_(store),
      runner_(runner),
      build_command_(std::move(build_command)),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer) {
  if (options_.parallelism <= 0) {
    options_.parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
}

RunLoop::~RunLoop() = default;

void RunLoop::RequestStop(bool keep_runs) {
  stop_keeps_runs_ = keep_runs;
  stop_requested_ = true;
  runner_.Interrupt();
}

void RunLoop::SetPoolSlots(std::map<std::string, int> slots) { pool_slots_ = std::move(slots); }

bool RunLoop::IsAdopted(const std::string& run_id) const { return executions_.count(run_id) > 0; }
int RunLoop::RunCount() const { return static_cast<int>(executions_.size()); }
int RunLoop::RunningCount() const { return static_cast<int>(tokens_.size()); }
int RunLoop::ActiveRunsOf(const std::string& dag_id) const {
  int n = 0;
  for (const auto& [id, e] : executions_) n += e->run().dag_id == dag_id ? 1 : 0;
  return n;
}

bool RunLoop::IsReleasing(const std::string& run_id) const {
  return std::any_of(released_.begin(), released_.end(),
                     [&](const auto& e) { return e->run().run_id == run_id; });
}

Result<std::vector<std::string>> RunLoop::ReleaseChanged() {
  std::vector<std::string> changed;
  for (const auto& [id, execution] : executions_) {
    auto run = store_.GetRun(id);
    if (!run) return std::unexpected(run.error());
    if (*run && (*run)->generation != execution->run().generation) changed.push_back(id);
  }
  for (const std::string& id : changed) Release(id);
  return changed;
}

void RunLoop::Release(const std::string& run_id) {
  auto it = executions_.find(run_id);
  if (it == executions_.end()) return;
  Execution* execution = it->second.get();
  std::erase_if(ready_, [&](const ReadyKey& k) { return k.execution == execution; });
  execution->Release();
  if (execution->running() > 0) released_.push_back(std::move(it->second));
  executions_.erase(it);
}

std::vector<RunRecord> RunLoop::TakeFinished() { return std::exchange(finished_, {}); }

std::optional<Timestamp> RunLoop::NextDeadline() const {
  std::optional<Timestamp> out;
  for (const auto& [id, e] : executions_) {
    auto t = e->NextRetry();
    if (t && (!out || *t < *out)) out = t;
  }
  return out;
}

Result<void> RunLoop::Adopt(std::shared_ptr<const dags::Dag> dag, const std::string& run_id) {
  if (IsAdopted(run_id)) return {};
  // The run is read inside the write transaction that records its adoption, so a change made
  // meanwhile from outside (a mark, a cancelled backfill) is seen, never written over.
  pending_notes_.clear();  // a failed step's
  auto batch = store_.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  auto run = store_.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  if (!*run) return Fail(ErrorCode::kNotFound, fmt::format("no run '{}'", run_id));
  if ((*run)->state == RunState::kSuccess || (*run)->state == RunState::kFailed) {
    finished_.push_back(**run);  // ended by hand before its driver got to it: nothing to run
    return {};
  }
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
  auto execution = std::make_unique<Execution>(*this, std::move(dag), std::move(**run),
                                               std::move(tasks), std::move(seen));
  auto begun = execution->Begin();
  if (begun) begun = execution->Flush();
  if (begun) begun = batch->Commit();
  if (!begun) {
    // Nothing of the adoption was stored (a full disk, say): forget the tasks it made ready,
    // which point to it.
    std::erase_if(ready_, [&](const ReadyKey& k) { return k.execution == execution.get(); });
    pending_notes_.clear();
    return begun;
  }
  TellObserver();
  executions_.emplace(run_id, std::move(execution));
  return {};
}

bool RunLoop::CanStart(const Execution& execution, int task) const {
  const dags::TaskSpec& spec = execution.spec(task);
  auto dag_running = running_by_dag_.find(execution.dag().id);
  if (dag_running != running_by_dag_.end() &&
      dag_running->second >= execution.dag().max_active_tasks) {
    return false;
  }
  if (pool_slots_) {
    auto slots = pool_slots_->find(spec.pool);
    if (slots == pool_slots_->end()) return true;  // fails at start, saying why
    auto used = running_by_pool_.find(spec.pool);
    if ((used == running_by_pool_.end() ? 0 : used->second) >= slots->second) return false;
  }
  return true;
}

void RunLoop::Note(const state::RunRecord& run, const state::TaskInstanceRecord* task,
                   const state::AttemptRecord* attempt) {
  if (observer_ == nullptr) return;
  pending_notes_.push_back({run, task ? std::optional(*task) : std::nullopt,
                            attempt ? std::optional(*attempt) : std::nullopt});
}

void RunLoop::TellObserver() {
  for (const PendingNote& note : std::exchange(pending_notes_, {})) {
    if (note.task) {
      observer_->OnTaskChanged(note.run, *note.task, note.attempt ? &*note.attempt : nullptr);
    } else {
      observer_->OnRunChanged(note.run);
    }
  }
}

Result<void> RunLoop::WritePendingEnds() {
  for (const PendingEnd& end : std::exchange(pending_ends_, {})) {
    if (auto ok = store_.FinishAttempt(end.task, end.attempt); !ok) return ok;
    if (options_.on_recorded) recorded_.push_back(end.attempt.id);
    if (end.lineage) {
      // Lineage that does not add up (a manifest naming a dataset the attempt did not read) is
      // the task's problem, not the run's: it is noted in the attempt's log and left out (its
      // writes were rolled back to a savepoint). A database error still ends the step.
      if (auto ok = store_.RecordLineage(end.attempt.id, *end.lineage, clock_.Now()); !ok) {
        if (ok.error().code != ErrorCode::kInvalidArgument) return ok;
        std::ofstream(end.attempt.log_path, std::ios::app)
            << "weir: lineage not recorded: " << ok.error().message << "\n";
      }
    }
  }
  return {};
}

Result<void> RunLoop::Step(std::optional<AttemptOutcome> outcome) {
  pending_ends_.clear();  // a failed step's: its batch was rolled back
  pending_notes_.clear();
  recorded_.clear();
  auto batch = store_.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  if (outcome) {
    auto it = tokens_.find(outcome->attempt_id);
    if (it != tokens_.end()) {
      Execution* execution = it->second;
      tokens_.erase(it);
      if (auto ok = execution->Finish(outcome->attempt_id, *outcome); !ok) return ok;
      std::erase_if(released_, [](const auto& e) { return e->running() == 0; });
    }
  }
  if (!stop_requested_) {
    Timestamp now = clock_.Now();
    for (auto& [id, e] : executions_) e->PromoteRetries(now);
    for (auto it = ready_.begin();
         it != ready_.end() && RunningCount() < options_.parallelism && !stop_requested_;) {
      if (!CanStart(*it->execution, it->task)) {
        ++it;
        continue;
      }
      ReadyKey key = *it;
      it = ready_.erase(it);
      if (auto ok = key.execution->Start(key.task); !ok) return ok;
      it = ready_.lower_bound(key);  // starting may have made other tasks ready
    }
  }
  if (auto ok = WritePendingEnds(); !ok) return ok;
  for (auto it = executions_.begin(); it != executions_.end();) {
    if (auto ok = it->second->Flush(); !ok) return ok;
    if (it->second->Done()) {
      auto record = it->second->Complete(/*stopped=*/false);
      if (!record) return std::unexpected(record.error());
      finished_.push_back(*record);
      it = executions_.erase(it);
    } else {
      ++it;
    }
  }
  if (auto ok = batch->Commit(); !ok) return ok;
  TellObserver();
  if (options_.on_recorded && !recorded_.empty())
    options_.on_recorded(std::exchange(recorded_, {}));
  return {};
}

Result<void> RunLoop::Drain() {
  runner_.CancelAll();
  while (!tokens_.empty()) {
    std::optional<AttemptOutcome> outcome = runner_.Wait(std::nullopt);
    if (outcome) {
      if (auto ok = Step(outcome); !ok) return ok;
    }
  }
  auto batch = store_.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  for (auto& [id, e] : executions_) {
    if (auto ok = e->Flush(); !ok) return ok;
    if (stop_keeps_runs_) continue;  // left running, for the next scheduler
    auto record = e->Complete(/*stopped=*/true);
    if (!record) return std::unexpected(record.error());
    finished_.push_back(*record);
  }
  executions_.clear();
  ready_.clear();
  if (auto ok = batch->Commit(); !ok) return ok;
  TellObserver();
  return {};
}

Result<RunRecord> RunLoop::RunToCompletion(std::shared_ptr<const dags::Dag> dag,
                                           const std::string& run_id) {
  if (auto ok = Adopt(std::move(dag), run_id); !ok) return std::unexpected(ok.error());
  std::optional<AttemptOutcome> outcome;
  auto fail = [&](Error error) -> Result<RunRecord> {
    runner_.CancelAll();
    while (!tokens_.empty()) {
      if (auto o = runner_.Wait(std::nullopt)) tokens_.erase(o->attempt_id);
    }
    return std::unexpected(std::move(error));
  };
  while (true) {
    if (stop_requested_) {
      if (auto ok = Drain(); !ok) return fail(ok.error());
    } else if (auto ok = Step(std::exchange(outcome, std::nullopt)); !ok) {
      return fail(ok.error());
    }
    for (const RunRecord& r : TakeFinished()) {
      if (r.run_id == run_id) return r;
    }
    std::optional<Timestamp> deadline = NextDeadline();
    if (RunningCount() == 0 && !deadline) {
      if (!ready_.empty()) {
        // Ready but nothing may start and nothing runs: only a change of pools could help.
        const dags::TaskSpec& spec = ready_.begin()->execution->spec(ready_.begin()->task);
        return fail(Error{ErrorCode::kFailedPrecondition,
                          fmt::format("task '{}' waits for a slot in pool '{}', which has none",
                                      spec.id, spec.pool)});
      }
      return fail(Error{ErrorCode::kInternal,
                        "the run cannot make progress (no task is running, ready or waiting to "
                        "retry); this is a bug in weir"});
    }
    outcome = runner_.Wait(deadline);
  }
}

}  // namespace weir::scheduler

#include "scheduler/service.h"

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <deque>

#include "common/process.h"
#include "scheduler/operations.h"
#include "state/state.h"

namespace weir::scheduler {
namespace {

constexpr Duration kMillisecond(1);

// How many of a task instance's latest attempts in a row were orphaned (newest last).
int OrphanStreak(const std::vector<state::AttemptRecord>& attempts) {
  int streak = 0;
  for (auto it = attempts.rbegin(); it != attempts.rend(); ++it) {
    if (!it->reason.starts_with("orphaned")) break;
    ++streak;
  }
  return streak;
}

}  // namespace

std::vector<std::pair<Timestamp, Timestamp>> DueIntervals(const dags::Dag& dag,
                                                          std::optional<Timestamp> after,
                                                          Timestamp now, int limit) {
  std::vector<std::pair<Timestamp, Timestamp>> out;
  if (!dag.start_date) return out;
  auto start = StartOfLocalDay(*dag.start_date, dag.timezone);
  if (!start) return out;
  std::optional<Timestamp> end_limit;
  if (dag.end_date) {
    auto end = StartOfLocalDay(AddDays(*dag.end_date, 1), dag.timezone);
    if (end) end_limit = *end;
  }
  const dags::Schedule& schedule = dag.schedule;
  if (schedule.kind() == dags::Schedule::Kind::kOnce) {
    if (!after && *start <= now) out.emplace_back(*start, *start);
    return out;
  }
  if (schedule.kind() != dags::Schedule::Kind::kCron) return out;
  auto in_range = [&](Timestamp s) { return s >= *start && (!end_limit || s < *end_limit); };
  if (!dag.catchup) {
    // Only the latest closed interval.
    auto end = schedule.PreviousTick(now + kMillisecond, dag.timezone);
    if (!end) return out;
    auto begin = schedule.PreviousTick(*end, dag.timezone);
    if (begin && in_range(*begin) && (!after || *begin > *after)) out.emplace_back(*begin, *end);
    return out;
  }
  std::optional<Timestamp> begin = after ? schedule.NextTick(*after, dag.timezone)
                                         : schedule.NextTick(*start - kMillisecond, dag.timezone);
  while (begin && in_range(*begin) && static_cast<int>(out.size()) < limit) {
    auto end = schedule.NextTick(*begin, dag.timezone);
    if (!end || *end > now) break;
    out.emplace_back(*begin, *end);
    begin = end;
  }
  return out;
}

SchedulerService::SchedulerService(state::Store& store, RunLoop& loop, TaskRunner& runner,
                                   Clock& clock, SchedulerOptions options, EventLog log)
    : store_(store),
      loop_(loop),
      runner_(runner),
      clock_(clock),
      options_(std::move(options)),
      log_(std::move(log)),
      self_(Driver::Self()),
      run_dags_(options_.dags_dir) {}

SchedulerService::~SchedulerService() = default;

void SchedulerService::Log(const std::string& line) const {
  if (log_) log_(line);
}

bool SchedulerService::HolderIsGone(const state::LeaseRecord& lease) const {
  if (lease.host == lease_.host) return !IsProcessAlive(lease.pid, lease.process_start_ticks);
  return clock_.Now() - lease.heartbeat_at > options_.lease_timeout;
}

Result<void> SchedulerService::Start() {
  Timestamp now = clock_.Now();
  lease_ = state::LeaseRecord{options_.holder, self_.host, self_.pid, self_.start_ticks, now, now};
  auto refused = store_.TryAcquireLease(
      lease_, [this](const state::LeaseRecord& l) { return HolderIsGone(l); });
  if (!refused) return std::unexpected(refused.error());
  if (*refused) {
    const state::LeaseRecord& holder = **refused;
    return Fail(ErrorCode::kFailedPrecondition,
                fmt::format("another scheduler holds this database: {} (pid {} on {}, heartbeat "
                            "{} ago)",
                            holder.holder, holder.pid, holder.host,
                            FormatDuration(now - holder.heartbeat_at)));
  }
  if (auto ok = RecoverOrphans(store_, clock_, self_, options_.home, log_); !ok) return ok;
  if (auto ok = Rescan(); !ok) return ok;
  next_poll_ = now;
  next_heartbeat_ = now + options_.heartbeat_interval;
  return {};
}

Result<void> RecoverOrphans(state::Store& store, Clock& clock, const Driver& self,
                            const std::filesystem::path& home, const EventLog& log) {
  auto note = [&log](const std::string& line) {
    if (log) log(line);
  };
  auto attempts = store.RunningAttempts();
  if (!attempts) return std::unexpected(attempts.error());
  // A process started just before its driver died may have no attempt row yet (the row is
  // written after the spawn): find those by the WEIR_RUN_ID every task inherits, for the runs
  // whose driver is gone, and kill their process groups.
  auto unfinished = store.UnfinishedRuns();
  if (!unfinished) return std::unexpected(unfinished.error());
  std::vector<std::string> orphaned_runs;
  for (const state::RunRecord& r : *unfinished) {
    bool live_elsewhere = r.driver_pid && r.driver_host == self.host &&
                          !(r.driver_pid == self.pid) &&
                          IsProcessAlive(*r.driver_pid, r.driver_start_ticks);
    if (!live_elsewhere) orphaned_runs.push_back("WEIR_RUN_ID=" + r.run_id);
  }
  // The same run id may exist under another home: match the home too.
  std::vector<std::int64_t> leftovers;
  if (!home.empty()) {
    leftovers = ProcessesWithEnvironment({"WEIR_HOME=" + home.string()}, orphaned_runs);
  }
  for (std::int64_t pid : leftovers) {
    pid_t group = ::getpgid(static_cast<pid_t>(pid));
    if (group > 0 && group != ::getpgrp()) {
      ::kill(-group, SIGKILL);
      note(fmt::format("recovery: killed process group {} left running by a dead driver", group));
    }
  }
  for (state::AttemptRecord& attempt : *attempts) {
    auto run = store.GetRun(attempt.run_id);
    if (!run) return std::unexpected(run.error());
    if (!*run) continue;
    const state::RunRecord& r = **run;
    // A run in the live hands of another process (a foreground `weir run`) is left alone.
    bool ours = r.driver_host == self.host && r.driver_pid == self.pid;
    if (!ours && r.driver_pid && r.driver_host == self.host &&
        IsProcessAlive(*r.driver_pid, r.driver_start_ticks)) {
      continue;
    }
    // Kill what the dead driver left running: the attempt's process group, but only when its
    // leader is the very process recorded (a reused pid belongs to someone else).
    if (attempt.pid && IsProcessAlive(*attempt.pid, attempt.process_start_ticks)) {
      ::kill(-static_cast<pid_t>(*attempt.pid), SIGKILL);
      note(fmt::format("recovery: killed the orphaned process group {} of {} / {} try {}",
                       *attempt.pid, attempt.run_id, attempt.task_id, attempt.try_number));
    }
    auto tasks = store.TaskInstances(attempt.run_id);
    if (!tasks) return std::unexpected(tasks.error());
    auto ti = std::find_if(tasks->begin(), tasks->end(),
                           [&](const auto& t) { return t.task_id == attempt.task_id; });
    if (ti == tasks->end()) continue;
    auto history = store.Attempts(attempt.run_id, attempt.task_id);
    if (!history) return std::unexpected(history.error());
    attempt.state = state::AttemptState::kFailed;
    attempt.reason = "orphaned: the weir process driving its run died";
    attempt.ended_at = clock.Now();
    // The task did not fail, weir did: the try is free, unless this keeps happening (three
    // orphaned attempts in a row), so that a task that kills its scheduler cannot loop forever.
    std::vector<state::AttemptRecord> done(history->begin(), history->end());
    for (auto& a : done) {
      if (a.id == attempt.id) a.reason = attempt.reason;
    }
    if (OrphanStreak(done) <= 3) ti->free_tries += 1;
    ti->state = state::HasTriesLeft(*ti) ? state::TaskState::kScheduled : state::TaskState::kFailed;
    if (ti->state == state::TaskState::kFailed) ti->ended_at = attempt.ended_at;
    if (auto ok = store.FinishAttempt(*ti, attempt); !ok) return ok;
    note(fmt::format(
        "recovery: {} / {} try {} was orphaned; {}", attempt.run_id, attempt.task_id,
        attempt.try_number,
        ti->state == state::TaskState::kScheduled ? "it will run again" : "no tries left, failed"));
  }
  return {};
}

Result<void> SchedulerService::Rescan() {
  next_ends_.clear();
  dags::LoadResult loaded = dags::LoadDags({options_.dags_dir}, options_.dags_dir, {}, &files_);
  for (const auto& e : loaded.errors) {
    std::string line = e.ToString();
    if (reported_.insert(line).second) Log("DAG file error: " + line);
  }
  std::map<std::string_view, const dags::Dag*> before_by_id, after_by_id;
  for (const auto& dag : loaded_.dags) before_by_id.emplace(dag->id, dag.get());
  for (const auto& dag : loaded.dags) after_by_id.emplace(dag->id, dag.get());
  for (const auto& dag : loaded.dags) {
    auto found = before_by_id.find(dag->id);
    const dags::Dag* before = found == before_by_id.end() ? nullptr : found->second;
    if (!before) {
      Log(fmt::format("DAG {} loaded from {}", dag->id, dag->file_display));
    } else if (before->content_hash != dag->content_hash) {
      Log(fmt::format("DAG {} changed ({}); new runs use the new version", dag->id,
                      dag->file_display));
    }
  }
  for (const auto& dag : loaded_.dags) {
    if (after_by_id.count(dag->id) == 0 && loaded.broken.count(dag->id) == 0) {
      Log(fmt::format("DAG {} is gone; its runs in progress finish", dag->id));
    }
  }
  loaded_ = std::move(loaded);
  next_scan_ = clock_.Now() + options_.scan_interval;
  return {};
}

Result<void> SchedulerService::CreateDueRuns(const dags::Dag& dag, std::optional<Timestamp> latest,
                                             Timestamp now) {
  for (auto [start, end] : DueIntervals(dag, latest, now, options_.max_new_runs_per_pass)) {
    RunRequest request{start,           end,        dag.params, state::RunKind::kScheduled,
                       options_.holder, "scheduler"};
    auto run = CreateRun(store_, dag, request, now);
    if (!run) {
      if (run.error().code == ErrorCode::kAlreadyExists) continue;
      return std::unexpected(run.error());
    }
    Log(fmt::format("run {} created (interval {} .. {})", run->run_id, FormatIso(start),
                    FormatIso(end)));
  }
  return {};
}

Result<void> SchedulerService::AdoptRuns() {
  // Runs changed by hand (clear, mark) since they were adopted are let go and, if still
  // unfinished, adopted again below from what the store now says.
  auto changed = loop_.ReleaseChanged();
  if (!changed) return std::unexpected(changed.error());
  for (const std::string& run_id : *changed) {
    Log(fmt::format("run {} was changed by hand; reloading it", run_id));
  }
  auto runs = store_.UnfinishedRuns();
  if (!runs) return std::unexpected(runs.error());
  for (const state::RunRecord& run : *runs) {
    if (loop_.IsAdopted(run.run_id) || loop_.IsReleasing(run.run_id) ||
        paused_.count(run.dag_id) != 0) {
      continue;
    }
    bool ours = run.driver_host == self_.host && run.driver_pid == self_.pid;
    if (!ours && run.driver_pid && run.driver_host == self_.host &&
        IsProcessAlive(*run.driver_pid, run.driver_start_ticks)) {
      continue;  // a live `weir run` drives it
    }
    auto dag = run_dags_.Get(store_, run, loaded_.Find(run.dag_id));
    if (!dag) {
      std::string line =
          fmt::format("run {} cannot be resumed: {}", run.run_id, dag.error().message);
      if (reported_.insert(line).second) Log(line);
      continue;
    }
    if (loop_.ActiveRunsOf(run.dag_id) >= (*dag)->max_active_runs) continue;
    if (auto ok = loop_.Adopt(*dag, run.run_id); !ok) {
      std::string line =
          fmt::format("run {} cannot be resumed: {}", run.run_id, ok.error().message);
      if (reported_.insert(line).second) Log(line);
    }
  }
  return {};
}

Result<void> SchedulerService::Tick(std::optional<AttemptOutcome> outcome) {
  Timestamp now = clock_.Now();
  // The wall clock may step back (NTP, a resumed VM): a deadline further off than its period
  // was set by a later clock. It falls due within its period from now, not once the clock has
  // caught up again (which would leave the scheduler deaf for as long as the step).
  next_scan_ = std::min(next_scan_, now + options_.scan_interval);
  next_poll_ = std::min(next_poll_, now + options_.poll_interval);
  next_heartbeat_ = std::min(next_heartbeat_, now + options_.heartbeat_interval);
  if (now >= next_heartbeat_) {
    auto ours = store_.Heartbeat(lease_, now);
    if (!ours) return std::unexpected(ours.error());
    if (!*ours) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "the scheduler lease was taken over by another process; stopping");
    }
    next_heartbeat_ = now + options_.heartbeat_interval;
  }
  if (now >= next_scan_) {
    if (auto ok = Rescan(); !ok) return ok;
  }
  if (now >= next_poll_) {
    auto paused = store_.PausedDags();
    if (!paused) return std::unexpected(paused.error());
    paused_ = std::set<std::string>(paused->begin(), paused->end());
    auto pools = store_.Pools();
    if (!pools) return std::unexpected(pools.error());
    std::map<std::string, int> slots;
    for (const auto& p : *pools) slots[p.name] = p.slots;
    loop_.SetPoolSlots(std::move(slots));
    auto latest = store_.LatestScheduledStarts();
    if (!latest) return std::unexpected(latest.error());
    for (const auto& dag : loaded_.dags) {
      if (paused_.count(dag->id) != 0) continue;
      auto it = latest->find(dag->id);
      std::optional<Timestamp> after;
      if (it != latest->end()) after = it->second;
      if (auto ok = CreateDueRuns(*dag, after, now); !ok) return ok;
    }
    if (auto ok = AdoptRuns(); !ok) return ok;
    next_poll_ = std::min(now + options_.poll_interval, NextIntervalEnd(now));
  }
  if (auto ok = loop_.Step(std::move(outcome)); !ok) return ok;
  for (const state::RunRecord& run : loop_.TakeFinished()) {
    Log(fmt::format("run {} {}", run.run_id, state::Name(run.state)));
    next_poll_ = now;  // a slot under max_active_runs may have opened
  }
  return {};
}

Timestamp SchedulerService::NextIntervalEnd(Timestamp now) {
  Timestamp soonest = Timestamp::max();
  for (const auto& dag : loaded_.dags) {
    if (dag->schedule.kind() != dags::Schedule::Kind::kCron || paused_.count(dag->id) != 0) {
      continue;
    }
    auto& [computed, tick] = next_ends_[dag->id];
    if (tick <= now || now < computed) {
      computed = now;
      tick = dag->schedule.NextTick(now, dag->timezone).value_or(Timestamp::max());
    }
    soonest = std::min(soonest, tick);
  }
  return soonest;
}

Timestamp SchedulerService::NextWake() const {
  Timestamp wake = std::min({next_scan_, next_poll_, next_heartbeat_});
  if (auto retry = loop_.NextDeadline()) wake = std::min(wake, *retry);
  // Never more than a poll away by the clock read now: the clock may have stepped back since
  // the pass that set the deadlines (Tick clamps them only at its start).
  return std::min(wake, clock_.Now() + options_.poll_interval);
}

void SchedulerService::RequestStop() {
  stop_requested_ = true;
  runner_.Interrupt();
}

Result<void> SchedulerService::Run() {
  // Outcomes taken from the runner and not recorded yet. A pass that finds the state database
  // busy (another process held its write lock for longer than the busy timeout) failed at the
  // start of a transaction, before it changed anything, so it is tried again with the same
  // outcome: nothing is lost, and the scheduler outlasts the lock.
  std::deque<AttemptOutcome> outcomes;
  bool busy = false;
  Result<void> result;
  while (!stop_requested_) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<AttemptOutcome> outcome;
    if (!outcomes.empty()) outcome = outcomes.front();
    result = Tick(outcome);
    if (result) {
      if (outcome) outcomes.pop_front();
      if (std::exchange(busy, false)) Log("the state database takes writes again");
      if (options_.on_tick) {
        options_.on_tick(
            std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started));
      }
    } else if (result.error().code == ErrorCode::kUnavailable) {
      if (!std::exchange(busy, true)) Log(result.error().message + "; trying again");
    } else {
      break;
    }
    // Outcomes waiting to be recorded come first; a busy database is tried again a period
    // later (each try also waits out SQLite's busy timeout).
    Timestamp wake = busy               ? clock_.Now() + options_.poll_interval
                     : outcomes.empty() ? NextWake()
                                        : clock_.Now();
    if (auto ended = runner_.Wait(wake)) outcomes.push_back(*ended);
  }
  if (!result && result.error().code == ErrorCode::kUnavailable) result = {};  // asked to stop
  // Stopping: record what has ended, cancel what runs (the runs go back to the store as failed
  // attempts, and the next scheduler takes them up), then give up the lease.
  loop_.RequestStop(/*keep_runs=*/true);
  Result<void> drained;
  for (const AttemptOutcome& ended : outcomes) {
    drained = loop_.Step(ended);
    if (!drained) break;
  }
  // Drain waits for every attempt still running, so not for one whose outcome could not be
  // recorded (it would never come): what runs is then killed by the runner as the process
  // ends, and the next scheduler's recovery records it.
  if (drained) drained = loop_.Drain();
  auto released = store_.ReleaseLease(lease_);
  if (!result) return result;
  if (!drained) return drained;
  return released;
}

}  // namespace weir::scheduler

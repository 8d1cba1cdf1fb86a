#include "scheduler/operations.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

#include "common/hash.h"
#include "dags/dags.h"
#include "state/state.h"

namespace weir::scheduler {
using state::RunState;
using state::TaskInstanceRecord;
using state::TaskState;

state::AuditEvent Audit(const Actor& actor, Timestamp now, std::string action, std::string target,
                        std::string details) {
  return state::AuditEvent{0,
                           now,
                           actor.name,
                           actor.source,
                           std::move(action),
                           std::move(target),
                           actor.reason,
                           std::move(details)};
}

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<dags::Value> values;
  for (const auto& i : items) values.push_back(dags::Value::String(i));
  return dags::Value::MakeList(std::move(values)).ToJson();
}

namespace {

// The run's state after its task instances changed by hand: queued while any is undecided.
void Resettle(state::RunRecord* run, const std::vector<TaskInstanceRecord>& tasks, Timestamp now) {
  bool open = std::any_of(tasks.begin(), tasks.end(),
                          [](const auto& t) { return !state::IsFinished(t.state); });
  if (open) {
    run->state = RunState::kQueued;
    run->ended_at.reset();
    return;
  }
  bool failed = std::any_of(tasks.begin(), tasks.end(), [](const auto& t) {
    return t.state == TaskState::kFailed || t.state == TaskState::kUpstreamFailed;
  });
  run->state = failed ? RunState::kFailed : RunState::kSuccess;
  run->ended_at = now;
}

void ClearOne(TaskInstanceRecord* t, const dags::TaskSpec& spec) {
  t->state = TaskState::kPending;
  // A fresh budget: the tries used so far stay counted in try_number.
  t->max_tries = (t->try_number - t->free_tries) + spec.retry.retries + 1;
  t->next_try_at.reset();
  t->ended_at.reset();
}

// A change by hand to a run, read and written in one write transaction: `change(run, tasks)`
// gets the run and its task instances as they are under the lock, not the caller's older copy,
// so that nothing its driver recorded meanwhile (a task's end) is written over.
template <typename Change>
auto UnderWriteLock(state::Store& store, const std::string& run_id, Change change)
    -> decltype(change(std::declval<const state::RunRecord&>(),
                       std::declval<std::vector<TaskInstanceRecord>&>())) {
  auto batch = store.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  auto run = store.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  if (!*run) return Fail(ErrorCode::kNotFound, fmt::format("no run '{}'", run_id));
  auto tasks = store.TaskInstances(run_id);
  if (!tasks) return std::unexpected(tasks.error());
  auto out = change(**run, *tasks);
  if (!out) return out;
  if (auto ok = batch->Commit(); !ok) return std::unexpected(ok.error());
  return out;
}

// Clears the task instances of `run` that `which(task index, instance)` picks, resettles the
// run and records it all with one audit event ("details" are extra JSON members).
template <typename Which>
Result<std::vector<std::string>> Clear(state::Store& store, const dags::Dag& dag,
                                       const std::string& run_id, Which which, const Actor& actor,
                                       Timestamp now, const std::string& details) {
  return UnderWriteLock(
      store, run_id,
      [&](const state::RunRecord& run,
          std::vector<TaskInstanceRecord>& tasks) -> Result<std::vector<std::string>> {
        std::vector<TaskInstanceRecord> changed;
        std::vector<std::string> cleared;
        for (TaskInstanceRecord& t : tasks) {
          int v = dag.TaskIndex(t.task_id);
          if (v < 0 || !which(v, t)) continue;
          ClearOne(&t, dag.tasks[v]);
          changed.push_back(t);
          cleared.push_back(t.task_id);
        }
        state::RunRecord updated = run;
        Resettle(&updated, tasks, now);
        auto ok = store.ApplyOutsideChange(
            updated, changed,
            Audit(actor, now, "clear", "run:" + run.run_id,
                  fmt::format(R"({{"tasks":{},{}}})", JsonList(cleared), details)));
        if (!ok) return std::unexpected(ok.error());
        return cleared;
      });
}

}  // namespace

Result<std::shared_ptr<const dags::Dag>> LoadRunDag(state::Store& store,
                                                    const state::RunRecord& run,
                                                    const std::filesystem::path& dags_dir) {
  auto version = store.GetDagVersion(run.dag_version_id);
  if (!version) return std::unexpected(version.error());
  if (!*version || !(*version)->content) {
    return Fail(
        ErrorCode::kNotFound,
        fmt::format("run '{}' started with a DAG version whose text is not stored", run.run_id));
  }
  auto parsed = dags::LoadDagText(*(*version)->content, (*version)->file_path, {},
                                  dags_dir / (*version)->file_path);
  if (parsed.dags.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("run '{}': its DAG version no longer loads{}", run.run_id,
                            parsed.errors.empty() ? "" : ": " + parsed.errors[0].ToString()));
  }
  return parsed.dags.front();
}

Result<std::shared_ptr<const dags::Dag>> RunDags::Get(
    state::Store& store, const state::RunRecord& run,
    const std::shared_ptr<const dags::Dag>& current) {
  if (auto cached = by_version_.find(run.dag_version_id); cached != by_version_.end()) {
    return cached->second;
  }
  std::shared_ptr<const dags::Dag> dag;
  if (current != nullptr) {
    auto version = store.GetDagVersion(run.dag_version_id);
    if (!version) return std::unexpected(version.error());
    if (*version && (*version)->content_hash == current->content_hash) dag = current;
  }
  if (dag == nullptr) {  // the run started with another version of the file: that one
    auto parsed = LoadRunDag(store, run, dags_dir_);
    if (!parsed) return std::unexpected(parsed.error());
    dag = *parsed;
  }
  by_version_.emplace(run.dag_version_id, dag);
  return dag;
}

Result<std::vector<std::string>> ClearTasks(state::Store& store, const dags::Dag& dag,
                                            const state::RunRecord& run,
                                            const std::vector<std::string>& task_ids,
                                            bool downstream, bool upstream, const Actor& actor,
                                            Timestamp now) {
  std::set<int> chosen;
  for (const std::string& id : task_ids) {
    int v = dag.TaskIndex(id);
    if (v < 0) {
      return Fail(ErrorCode::kNotFound, fmt::format("run '{}' has no task '{}'", run.run_id, id));
    }
    chosen.insert(v);
    if (downstream) {
      for (int w : dag.graph.AllDownstream(v)) chosen.insert(w);
    }
    if (upstream) {
      for (int w : dag.graph.AllUpstream(v)) chosen.insert(w);
    }
  }
  return Clear(
      store, dag, run.run_id, [&](int v, const TaskInstanceRecord&) { return chosen.count(v) > 0; },
      actor, now, fmt::format(R"("downstream":{},"upstream":{})", downstream, upstream));
}

Result<std::vector<std::string>> ClearRun(state::Store& store, const dags::Dag& dag,
                                          const state::RunRecord& run, bool failed_only,
                                          const Actor& actor, Timestamp now) {
  return Clear(
      store, dag, run.run_id,
      [&](int, const TaskInstanceRecord& t) {
        return !failed_only || t.state == TaskState::kFailed ||
               t.state == TaskState::kUpstreamFailed;
      },
      actor, now, fmt::format(R"("failed_only":{})", failed_only));
}

namespace {

// MarkRun, with `actor`'s audit event, or none when the caller records one for many runs.
Result<void> Mark(state::Store& store, const std::string& run_id, RunState target,
                  const Actor* actor, Timestamp now) {
  if (target != RunState::kSuccess && target != RunState::kFailed) {
    return Fail(ErrorCode::kInvalidArgument, "a run can be marked success or failed");
  }
  return UnderWriteLock(
      store, run_id,
      [&](const state::RunRecord& fresh, std::vector<TaskInstanceRecord>& tasks) -> Result<void> {
        std::vector<TaskInstanceRecord> changed;
        for (TaskInstanceRecord& t : tasks) {
          if (target == RunState::kSuccess) {
            if (t.state == TaskState::kSuccess || t.state == TaskState::kSkipped ||
                t.state == TaskState::kCached) {
              continue;
            }
            t.state = TaskState::kSuccess;
          } else {
            if (state::IsFinished(t.state)) continue;
            t.state = t.state == TaskState::kRunning || t.state == TaskState::kQueued
                          ? TaskState::kFailed
                          : TaskState::kSkipped;
          }
          t.next_try_at.reset();
          t.ended_at = now;
          changed.push_back(t);
        }
        state::RunRecord updated = fresh;
        updated.state = target;
        updated.ended_at = now;
        std::optional<state::AuditEvent> audit;
        if (actor != nullptr) {
          audit = Audit(*actor, now, "mark", "run:" + fresh.run_id,
                        fmt::format(R"({{"state":"{}"}})", state::Name(target)));
        }
        return store.ApplyOutsideChange(updated, changed, audit);
      });
}

}  // namespace

Result<void> MarkRun(state::Store& store, const state::RunRecord& run, RunState target,
                     const Actor& actor, Timestamp now) {
  return Mark(store, run.run_id, target, &actor, now);
}

Result<void> FailRunUnaudited(state::Store& store, const std::string& run_id, Timestamp now) {
  return Mark(store, run_id, RunState::kFailed, nullptr, now);
}

Result<void> MarkTask(state::Store& store, const state::RunRecord& run, const std::string& task_id,
                      TaskState target, const Actor& actor, Timestamp now) {
  if (target != TaskState::kSuccess && target != TaskState::kFailed &&
      target != TaskState::kSkipped) {
    return Fail(ErrorCode::kInvalidArgument, "a task can be marked success, failed or skipped");
  }
  return UnderWriteLock(
      store, run.run_id,
      [&](const state::RunRecord& fresh, std::vector<TaskInstanceRecord>& tasks) -> Result<void> {
        auto t = std::find_if(tasks.begin(), tasks.end(),
                              [&](const auto& x) { return x.task_id == task_id; });
        if (t == tasks.end()) {
          return Fail(ErrorCode::kNotFound,
                      fmt::format("run '{}' has no task '{}'", fresh.run_id, task_id));
        }
        t->state = target;
        t->next_try_at.reset();
        t->ended_at = now;
        state::RunRecord updated = fresh;
        Resettle(&updated, tasks, now);
        return store.ApplyOutsideChange(
            updated, {*t},
            Audit(actor, now, "mark", "task:" + fresh.run_id + "/" + task_id,
                  fmt::format(R"({{"state":"{}"}})", state::Name(target))));
      });
}

}  // namespace weir::scheduler

#include "scheduler/backfill.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "scheduler/scheduler.h"
#include "state/state.h"

namespace weir::scheduler {

const char* Name(PlannedRun::Status status) {
  switch (status) {
    case PlannedRun::Status::kNew:
      return "new";
    case PlannedRun::Status::kDone:
      return "done";
    case PlannedRun::Status::kFailed:
      return "failed";
    case PlannedRun::Status::kUnfinished:
      return "unfinished";
  }
  return "?";
}

namespace {

// Which tasks the backfill covers: those whose id matches `pattern` (and everything
// downstream of them with `downstream`), or all.
Result<std::vector<bool>> SelectTasks(const dags::Dag& dag, const BackfillOptions& options) {
  std::vector<bool> selected(dag.tasks.size(), !options.tasks.has_value());
  if (!options.tasks) return selected;
  std::regex pattern;
  try {
    pattern = std::regex(*options.tasks, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("--tasks '{}' is not a valid regular expression: {}", *options.tasks,
                            e.what()));
  }
  bool any = false;
  for (std::size_t v = 0; v < dag.tasks.size(); ++v) {
    if (!std::regex_search(dag.tasks[v].id, pattern)) continue;
    any = true;
    selected[v] = true;
    if (options.downstream) {
      for (int w : dag.graph.AllDownstream(static_cast<int>(v))) selected[w] = true;
    }
  }
  if (!any) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("--tasks '{}' matches no task of DAG '{}'", *options.tasks, dag.id));
  }
  return selected;
}

}  // namespace

Result<BackfillPlan> PlanBackfill(state::Store& store, const dags::Dag& dag,
                                  const BackfillOptions& options) {
  if (options.to < options.from) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("--from {} is after --to {}", FormatDate(options.from),
                            FormatDate(options.to)));
  }
  if (dag.schedule.kind() != dags::Schedule::Kind::kCron) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("DAG '{}' has schedule '{}': a backfill needs a cron schedule to "
                            "know its intervals (use weir run for one interval)",
                            dag.id, dag.schedule.text()));
  }
  auto selected = SelectTasks(dag, options);
  if (!selected) return std::unexpected(selected.error());
  auto first = StartOfLocalDay(options.from, dag.timezone);
  if (!first) return std::unexpected(first.error());
  auto last = StartOfLocalDay(AddDays(options.to, 1), dag.timezone);
  if (!last) return std::unexpected(last.error());

  BackfillPlan plan;
  for (std::size_t v = 0; v < dag.tasks.size(); ++v) {
    if ((*selected)[v]) plan.tasks.push_back(dag.tasks[v].id);
  }
  // The intervals first (refusing a huge range before touching the store), then their runs.
  auto tick = dag.schedule.NextTick(*first - Duration(1), dag.timezone);
  while (tick && *tick < *last) {
    if (static_cast<int>(plan.runs.size()) >= kMaxBackfillIntervals && !options.allow_huge) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("the range holds more than {} intervals; narrow it or pass --yes",
                              kMaxBackfillIntervals));
    }
    auto end = dag.schedule.NextTick(*tick, dag.timezone);
    if (!end) break;
    plan.runs.push_back(PlannedRun{*tick, *end, dag.id + "@" + FormatIso(*tick)});
    tick = end;
  }
  for (PlannedRun& run : plan.runs) {
    auto existing = store.GetRun(run.run_id);
    if (!existing) return std::unexpected(existing.error());
    if (!*existing) {
      run.status = PlannedRun::Status::kNew;
      run.will_run = true;
      continue;
    }
    switch ((*existing)->state) {
      case state::RunState::kSuccess:
        run.status = PlannedRun::Status::kDone;
        run.will_run = options.rerun == BackfillOptions::Rerun::kAll;
        break;
      case state::RunState::kFailed:
        run.status = PlannedRun::Status::kFailed;
        run.will_run = options.rerun != BackfillOptions::Rerun::kNone;
        break;
      default:
        run.status = PlannedRun::Status::kUnfinished;
        run.will_run = true;  // resume it
    }
  }
  if (options.reverse) std::reverse(plan.runs.begin(), plan.runs.end());
  return plan;
}

Result<AppliedBackfill> ApplyBackfill(state::Store& store, const dags::Dag& dag,
                                      const BackfillOptions& options, const BackfillPlan& plan,
                                      const Actor& actor, Timestamp now) {
  auto selected = SelectTasks(dag, options);
  if (!selected) return std::unexpected(selected.error());
  auto batch = store.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  auto version = store.RecordDagVersion(dag, now);
  if (!version) return std::unexpected(version.error());

  std::vector<std::pair<state::RunRecord, std::vector<state::TaskInstanceRecord>>> created;
  std::vector<std::string> to_drive;
  RunDags run_dags(dag.file.parent_path());
  for (const PlannedRun& planned : plan.runs) {
    if (!planned.will_run) continue;
    to_drive.push_back(planned.run_id);
    if (planned.status == PlannedRun::Status::kNew) {
      RunRequest request{planned.start, planned.end, dag.params, state::RunKind::kBackfill,
                         actor.name,    actor.source};
      created.push_back(NewRun(dag, *version, request, now, *selected));
      continue;
    }
    if (planned.status == PlannedRun::Status::kUnfinished) continue;
    // An existing run to do again: its failed task instances, or all of them (of the selection).
    auto run = store.GetRun(planned.run_id);
    if (!run) return std::unexpected(run.error());
    auto run_dag = run_dags.Get(store, **run, nullptr);
    const dags::Dag& clear_dag = run_dag ? **run_dag : dag;
    auto instances = store.TaskInstances(planned.run_id);
    if (!instances) return std::unexpected(instances.error());
    std::vector<std::string> ids;
    for (const auto& t : *instances) {
      int v = dag.TaskIndex(t.task_id);
      if (v < 0 || !(*selected)[v]) continue;
      bool failed =
          t.state == state::TaskState::kFailed || t.state == state::TaskState::kUpstreamFailed;
      if (options.rerun == BackfillOptions::Rerun::kAll || failed) ids.push_back(t.task_id);
    }
    if (ids.empty()) continue;
    auto cleared = ClearTasks(store, clear_dag, **run, ids, /*downstream=*/false,
                              /*upstream=*/false, actor, now);
    if (!cleared) return std::unexpected(cleared.error());
  }
  const char* rerun = options.rerun == BackfillOptions::Rerun::kAll      ? "all"
                      : options.rerun == BackfillOptions::Rerun::kFailed ? "failed"
                                                                         : "none";
  std::string details = fmt::format(
      R"({{"rerun":"{}","reverse":{},"max_active_runs":{},"tasks":{},"downstream":{},"runs":{}}})",
      rerun, options.reverse, options.max_active_runs,
      options.tasks ? dags::Value::String(*options.tasks).ToJson() : "null", options.downstream,
      to_drive.size());
  state::BackfillRecord record{.dag_id = dag.id,
                               .from_date = FormatDate(options.from),
                               .to_date = FormatDate(options.to),
                               .options_json = details,
                               .actor = actor.name,
                               .created_at = now};
  auto id = store.CreateBackfill(record, created, to_drive,
                                 Audit(actor, now, "backfill", "dag:" + dag.id, details));
  if (!id) return std::unexpected(id.error());
  if (auto ok = batch->Commit(); !ok) return std::unexpected(ok.error());
  return AppliedBackfill{*id, std::move(to_drive)};
}

Result<CanceledBackfill> CancelBackfill(state::Store& store, std::int64_t id, const Actor& actor,
                                        Timestamp now) {
  auto batch = store.StartBatch();
  if (!batch) return std::unexpected(batch.error());
  std::vector<state::RunRecord> runs;
  auto backfill = store.GetBackfill(id, &runs);
  if (!backfill) return std::unexpected(backfill.error());
  if (!*backfill) return Fail(ErrorCode::kNotFound, fmt::format("no backfill {}", id));
  if ((*backfill)->queued + (*backfill)->running == 0) {
    return Fail(
        ErrorCode::kFailedPrecondition,
        fmt::format("backfill {} has ended ({}): nothing to cancel", id, (*backfill)->State()));
  }
  CanceledBackfill out{.dag_id = (*backfill)->plan.dag_id};
  for (const state::RunRecord& run : runs) {
    if (run.state == state::RunState::kRunning) ++out.still_running;
    if (run.state != state::RunState::kQueued) continue;
    // Queued, yet with an attempt running (cleared while it ran): it goes on, as running runs do.
    auto tasks = store.TaskInstances(run.run_id);
    if (!tasks) return std::unexpected(tasks.error());
    if (std::any_of(tasks->begin(), tasks->end(), [](const state::TaskInstanceRecord& t) {
          return t.state == state::TaskState::kRunning;
        })) {
      ++out.still_running;
      continue;
    }
    if (auto ok = FailRunUnaudited(store, run.run_id, now); !ok) return std::unexpected(ok.error());
    out.canceled.push_back(run.run_id);
  }
  if (auto ok = store.NoteBackfillCanceled(id, now); !ok) return std::unexpected(ok.error());
  auto audited =
      store.AppendAudit(Audit(actor, now, "cancel_backfill", "dag:" + out.dag_id,
                              fmt::format(R"({{"backfill":{},"canceled":{},"still_running":{}}})",
                                          id, JsonList(out.canceled), out.still_running)));
  if (!audited) return std::unexpected(audited.error());
  if (auto ok = batch->Commit(); !ok) return std::unexpected(ok.error());
  return out;
}

}  // namespace weir::scheduler

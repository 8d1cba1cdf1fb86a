// Read-only commands over the store: runs list|show, backfills list|show, tasks logs.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

std::string Elapsed(std::optional<Timestamp> start, std::optional<Timestamp> end) {
  if (!start || !end) return "-";
  return FormatDuration(*end - *start);
}

// "2/3 runs done, 1 failed"
std::string Progress(const state::BackfillProgress& b) {
  std::string text = fmt::format("{}/{} runs done", b.success + b.failed, b.runs);
  if (b.failed > 0) text += fmt::format(", {} failed", b.failed);
  if (b.running > 0) text += fmt::format(", {} running", b.running);
  return text;
}

}  // namespace

int RunRunsList(const Context& context, const std::string& dag_id, int limit) {
  if (limit <= 0) return Report(Error{ErrorCode::kInvalidArgument, "--limit must be positive"});
  auto store = context.OpenStore(false);
  if (!store) {
    if (store.error().code != ErrorCode::kNotFound) return Report(store.error());
    std::cout << "no runs yet\n";
    return 0;
  }
  auto runs = (*store)->ListRuns(dag_id, limit);
  if (!runs) return Report(runs.error());
  if (runs->empty()) {
    std::cout << (dag_id.empty() ? std::string("no runs yet\n")
                                 : fmt::format("no runs of DAG '{}'\n", dag_id));
    return 0;
  }
  Table table({"RUN", "KIND", "STATE", "INTERVAL START", "INTERVAL END", "DURATION"});
  for (const auto& run : *runs) {
    table.Add({run.run_id, state::Name(run.kind), state::Name(run.state),
               FormatIso(run.interval_start), FormatIso(run.interval_end),
               Elapsed(run.started_at, run.ended_at)});
  }
  table.Print(std::cout);
  return 0;
}

int RunBackfillsList(const Context& context, const std::string& dag_id, int limit) {
  if (limit <= 0) return Report(Error{ErrorCode::kInvalidArgument, "--limit must be positive"});
  auto store = context.OpenStore(false);
  if (!store) {
    if (store.error().code != ErrorCode::kNotFound) return Report(store.error());
    std::cout << "no backfills yet\n";
    return 0;
  }
  auto backfills = (*store)->ListBackfills(dag_id, limit);
  if (!backfills) return Report(backfills.error());
  if (backfills->empty()) {
    std::cout << (dag_id.empty() ? std::string("no backfills yet\n")
                                 : fmt::format("no backfills of DAG '{}'\n", Printable(dag_id)));
    return 0;
  }
  Table table({"ID", "DAG", "FROM", "TO", "STATE", "PROGRESS", "BY", "CREATED"});
  for (const auto& b : *backfills) {
    table.Add({std::to_string(b.plan.id), b.plan.dag_id, b.plan.from_date, b.plan.to_date,
               b.State(), Progress(b), b.plan.actor, FormatIso(b.plan.created_at)});
  }
  table.Print(std::cout);
  return 0;
}

int RunBackfillsShow(const Context& context, const std::string& id_text) {
  auto parsed = ParseBackfillId(id_text);
  if (!parsed) return Report(parsed.error());
  const std::int64_t id = *parsed;
  auto store = context.OpenStore(false);
  if (!store) return Report(store.error());
  std::vector<state::RunRecord> runs;
  auto backfill = (*store)->GetBackfill(id, &runs);
  if (!backfill) return Report(backfill.error());
  if (!*backfill) return Report(Error{ErrorCode::kNotFound, fmt::format("no backfill {}", id)});
  const state::BackfillProgress& b = **backfill;
  std::cout << fmt::format("backfill  {}\n", b.plan.id);
  std::cout << fmt::format("dag       {}\n", b.plan.dag_id);
  std::cout << fmt::format("range     {} .. {}\n", b.plan.from_date, b.plan.to_date);
  std::cout << fmt::format("options   {}\n", b.plan.options_json);
  std::cout << fmt::format("by        {} at {}\n", b.plan.actor, FormatIso(b.plan.created_at));
  std::cout << fmt::format("state     {}\n", b.State());
  std::cout << fmt::format("progress  {} ({} queued, {} running, {} success, {} failed)\n",
                           Progress(b), b.queued, b.running, b.success, b.failed);
  std::cout << fmt::format("ended     {}\n\n", b.ended_at ? FormatIso(*b.ended_at) : "-");
  Table table({"RUN", "STATE", "INTERVAL START", "INTERVAL END", "DURATION"});
  for (const auto& run : runs) {
    table.Add({run.run_id, state::Name(run.state), FormatIso(run.interval_start),
               FormatIso(run.interval_end), Elapsed(run.started_at, run.ended_at)});
  }
  table.Print(std::cout);
  return 0;
}

int RunRunsShow(const Context& context, const std::string& run_id) {
  auto store = context.OpenStore(false);
  if (!store) return Report(store.error());
  auto run = RequireRun(**store, run_id);
  if (!run) return Report(run.error());
  auto tasks = (*store)->TaskInstances(run_id);
  if (!tasks) return Report(tasks.error());
  auto attempts = (*store)->Attempts(run_id, "");
  if (!attempts) return Report(attempts.error());
  const state::RunRecord& r = *run;
  std::cout << fmt::format("run       {}\n", r.run_id);
  std::cout << fmt::format("dag       {}\n", r.dag_id);
  std::cout << fmt::format("kind      {}\n", state::Name(r.kind));
  std::cout << fmt::format("state     {}\n", state::Name(r.state));
  std::cout << fmt::format("interval  {} .. {}\n", FormatIso(r.interval_start),
                           FormatIso(r.interval_end));
  std::cout << fmt::format("params    {}\n", MaskStored(context, r.params_json));
  std::cout << fmt::format("duration  {}\n\n", Elapsed(r.started_at, r.ended_at));
  Table table({"TASK", "STATE", "TRIES", "DURATION", "LAST ATTEMPT"});
  for (const auto& t : *tasks) {
    std::string last;
    for (const auto& a : *attempts) {
      if (a.task_id == t.task_id) {
        last = a.reason.empty() ? state::Name(a.state) : a.reason;
      }
    }
    table.Add({t.task_id, state::Name(t.state), std::to_string(t.try_number),
               Elapsed(t.started_at, t.ended_at), last});
  }
  table.Print(std::cout);
  return 0;
}

int RunTaskLogs(const Context& context, const std::string& run_id, const std::string& task_id,
                std::optional<int> try_number) {
  if (try_number && *try_number <= 0) {
    return Report(Error{ErrorCode::kInvalidArgument, "--try must be 1 or more"});
  }
  auto store = context.OpenStore(false);
  if (!store) return Report(store.error());
  auto run = RequireRun(**store, run_id);
  if (!run) return Report(run.error());
  auto attempts = (*store)->Attempts(run_id, task_id);
  if (!attempts) return Report(attempts.error());
  if (attempts->empty()) {
    auto tasks = (*store)->TaskInstances(run_id);
    if (!tasks) return Report(tasks.error());
    auto task = std::find_if(tasks->begin(), tasks->end(),
                             [&](const auto& t) { return t.task_id == task_id; });
    if (task == tasks->end()) {
      return Report(Error{ErrorCode::kNotFound,
                          fmt::format("run '{}' has no task '{}'", run_id, Printable(task_id))});
    }
    return Report(
        Error{ErrorCode::kNotFound,
              state::IsFinished(task->state)
                  ? fmt::format("task '{}' of run '{}' did not run ({}), so it has no log", task_id,
                                run_id, state::Name(task->state))
                  : fmt::format("task '{}' of run '{}' has not run yet ({})", task_id, run_id,
                                state::Name(task->state))});
  }
  const state::AttemptRecord* chosen = &attempts->back();
  if (try_number) {
    chosen = nullptr;
    for (const auto& a : *attempts) {
      if (a.try_number == *try_number) chosen = &a;
    }
    if (chosen == nullptr) {
      return Report(
          Error{ErrorCode::kNotFound, fmt::format("task '{}' has no try {} (it has {})", task_id,
                                                  *try_number, attempts->back().try_number)});
    }
  }
  std::ifstream in(chosen->log_path, std::ios::binary);
  if (!in) {
    return Report(Error{ErrorCode::kNotFound, fmt::format("the log of try {} is gone ({})",
                                                          chosen->try_number, chosen->log_path)});
  }
  std::cout << in.rdbuf();
  std::cout.flush();
  std::cerr << fmt::format("-- try {} of {}: {}{}\n", chosen->try_number, task_id,
                           state::Name(chosen->state),
                           chosen->reason.empty() ? "" : " (" + chosen->reason + ")");
  return 0;
}

}  // namespace weir::cli

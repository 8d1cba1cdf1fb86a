// Operations on runs against a real store: finding the DAG a run was created with, and changes
// by hand made from a copy of the run read before its driver changed it.
#include "scheduler/operations.h"

#include <catch2/catch.hpp>

#include "dags/dags.h"
#include "scheduler/scheduler.h"
#include "state/state.h"
#include "tests/testing/temp_dir.h"

namespace weir::scheduler {
namespace {

std::shared_ptr<const dags::Dag> Load(const std::string& yaml) {
  auto loaded = dags::LoadDagText(yaml, "d.yaml");
  for (const auto& e : loaded.errors) FAIL(e.ToString());
  return loaded.dags.at(0);
}

TEST_CASE(
    "RunDags parses each DAG version once and gives a run of the current text the loaded "
    "DAG",
    "[scheduler]") {
  testing::TempDir dir;
  auto store = state::Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto v1 = Load("dag: d\ntasks:\n  a: {kind: shell, script: 'true'}\n");
  auto v2 = Load(
      "dag: d\ntasks:\n  a: {kind: shell, script: 'true'}\n"
      "  b: {kind: shell, script: 'true', deps: [a]}\n");
  Timestamp now = FromMillis(1'800'000'000'000);
  auto id1 = (*store)->RecordDagVersion(*v1, now);
  auto id2 = (*store)->RecordDagVersion(*v2, now);
  REQUIRE(id1);
  REQUIRE(id2);
  state::RunRecord old_run, new_run, lost_run;
  old_run.run_id = "d@old";
  old_run.dag_version_id = *id1;
  new_run.run_id = "d@new";
  new_run.dag_version_id = *id2;
  lost_run.run_id = "d@lost";
  lost_run.dag_version_id = *id2 + 100;

  RunDags dags(dir.path());
  auto old_dag = dags.Get(**store, old_run, v2);
  REQUIRE(old_dag);
  CHECK(*old_dag != v1);  // parsed again from the stored text ...
  CHECK((*old_dag)->tasks.size() == 1);
  CHECK((*old_dag)->content_hash == v1->content_hash);
  auto again = dags.Get(**store, old_run, v2);
  REQUIRE(again);
  CHECK(*again == *old_dag);  // ... once

  auto new_dag = dags.Get(**store, new_run, v2);
  REQUIRE(new_dag);
  CHECK(*new_dag == v2);

  auto lost = dags.Get(**store, lost_run, v2);
  REQUIRE_FALSE(lost);
  CHECK(lost.error().code == ErrorCode::kNotFound);
  CHECK(lost.error().message == "run 'd@lost' started with a DAG version whose text is not stored");
}

// A run of a -> b whose driver, after `stale` was read, started it and recorded a's success
// through its own connection.
struct DrivenRun {
  testing::TempDir dir;
  std::unique_ptr<state::Store> store;
  std::shared_ptr<const dags::Dag> dag = Load(
      "dag: d\ntasks:\n  a: {kind: shell, script: 'true'}\n"
      "  b: {kind: shell, script: 'true', deps: [a]}\n");
  Timestamp now = FromMillis(1'800'000'000'000);
  state::RunRecord stale;

  DrivenRun() {
    auto opened = state::Store::Open(dir / "weir.db");
    REQUIRE(opened);
    store = std::move(*opened);
    auto version = store->RecordDagVersion(*dag, now);
    REQUIRE(version);
    auto [run, tasks] =
        NewRun(*dag, *version, RunRequest{now, now + std::chrono::hours(1), {}}, now);
    REQUIRE(store->CreateRun(run, tasks));
    stale = run;

    auto driver = state::Store::Open(dir / "weir.db");
    REQUIRE(driver);
    run.state = state::RunState::kRunning;
    run.started_at = now + std::chrono::seconds(1);
    REQUIRE((*driver)->UpdateRun(run));
    tasks.at(0).state = state::TaskState::kSuccess;
    tasks.at(0).ended_at = now + std::chrono::seconds(2);
    REQUIRE((*driver)->UpdateTaskInstances(tasks));
  }

  state::RunRecord Run() {
    auto run = store->GetRun(stale.run_id);
    REQUIRE(run);
    REQUIRE(*run);
    return **run;
  }
  state::TaskState TaskState(const std::string& task_id) {
    auto tasks = store->TaskInstances(stale.run_id);
    REQUIRE(tasks);
    for (const auto& t : *tasks) {
      if (t.task_id == task_id) return t.state;
    }
    FAIL("no task " << task_id);
    return state::TaskState::kPending;
  }
};

TEST_CASE("Marking a task from a stale copy of its run keeps what the driver recorded since",
          "[scheduler]") {
  DrivenRun r;
  REQUIRE(r.stale.started_at == std::nullopt);
  Timestamp later = r.now + std::chrono::minutes(1);
  REQUIRE(MarkTask(*r.store, r.stale, "b", state::TaskState::kSuccess, {"ann", "cli", ""}, later));
  state::RunRecord run = r.Run();
  CHECK(run.state == state::RunState::kSuccess);  // a's success counts: the run is done
  CHECK(run.started_at == r.now + std::chrono::seconds(1));
  CHECK(run.ended_at == later);
  CHECK(r.TaskState("a") == state::TaskState::kSuccess);
}

TEST_CASE("Clearing and marking a run from a stale copy use the run as it is now", "[scheduler]") {
  DrivenRun r;
  Timestamp later = r.now + std::chrono::minutes(1);
  SECTION("clear the failed ones: a, which succeeded since, stays") {
    auto cleared =
        ClearRun(*r.store, *r.dag, r.stale, /*failed_only=*/true, {"ann", "cli", ""}, later);
    REQUIRE(cleared);
    CHECK(cleared->empty());
    CHECK(r.TaskState("a") == state::TaskState::kSuccess);
    CHECK(r.Run().started_at == r.now + std::chrono::seconds(1));
  }
  SECTION("mark failed: only b, still to run, is skipped") {
    REQUIRE(MarkRun(*r.store, r.stale, state::RunState::kFailed, {"ann", "cli", ""}, later));
    CHECK(r.TaskState("a") == state::TaskState::kSuccess);
    CHECK(r.TaskState("b") == state::TaskState::kSkipped);
    state::RunRecord run = r.Run();
    CHECK(run.state == state::RunState::kFailed);
    CHECK(run.started_at == r.now + std::chrono::seconds(1));
  }
  SECTION("a run that is gone") {
    r.stale.run_id = "d@gone";
    auto marked = MarkRun(*r.store, r.stale, state::RunState::kFailed, {"ann", "cli", ""}, later);
    REQUIRE_FALSE(marked);
    CHECK(marked.error().code == ErrorCode::kNotFound);
    CHECK(marked.error().message == "no run 'd@gone'");
  }
}

}  // namespace
}  // namespace weir::scheduler

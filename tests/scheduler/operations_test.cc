// Operations on runs against a real store: here, finding the DAG a run was created with.
#include "scheduler/operations.h"

#include <catch2/catch.hpp>

#include "dags/dags.h"
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

}  // namespace
}  // namespace weir::scheduler

// Lineage in a real store: recording what attempts read and wrote, and walking the provenance
// graph both ways.
#include <algorithm>
#include <catch2/catch.hpp>

#include "dags/dags.h"
#include "state/state.h"
#include "tests/testing/temp_dir.h"

namespace weir::state {
namespace {

// A store with one run of a three-task DAG, and attempts made on demand.
struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<Store> store;
  Timestamp now = FromMillis(1'800'000'000'000);

  Fixture() {
    auto loaded = dags::LoadDagText(R"(
dag: build
tasks:
  ingest: { kind: shell, command: [true] }
  clean: { kind: shell, command: [true], deps: [ingest] }
  features: { kind: shell, command: [true], deps: [clean] }
)",
                                    "build.yaml");
    REQUIRE(loaded.errors.empty());
    auto opened = Store::Open(dir / "weir.db");
    REQUIRE(opened);
    store = std::move(*opened);
    auto version = store->RecordDagVersion(*loaded.dags.at(0), now);
    REQUIRE(version);
    dag_version = *version;
  }

  // A run with the three tasks; returns its id.
  std::string Run(const std::string& id) {
    RunRecord run;
    run.run_id = id;
    run.dag_id = "build";
    run.dag_version_id = dag_version;
    run.interval_start = FromMillis(0);
    run.interval_end = FromMillis(86'400'000);
    run.logical_date = run.interval_start;
    run.params_json = R"({"min_events":5})";
    run.created_at = now;
    std::vector<TaskInstanceRecord> tasks;
    for (const char* t : {"ingest", "clean", "features"}) tasks.push_back({id, t});
    REQUIRE(store->CreateRun(run, tasks));
    return id;
  }

  std::int64_t Attempt(const std::string& run_id, const std::string& task, int try_number = 1) {
    TaskInstanceRecord ti{run_id, task};
    ti.state = TaskState::kRunning;
    ti.try_number = try_number;
    AttemptRecord a;
    a.run_id = run_id;
    a.task_id = task;
    a.try_number = try_number;
    a.log_path = "log";
    a.started_at = now;
    auto id = store->BeginAttempt(ti, a);
    REQUIRE(id);
    return *id;
  }

  std::int64_t dag_version = 0;
};

ObservedDataset Seen(const std::string& uri, const std::string& fingerprint) {
  return ObservedDataset{uri, fingerprint, R"([{"name":"user","type":"TEXT"}])", 10, 100};
}

std::vector<std::string> Uris(const LineageGraph& g) {
  std::vector<std::string> out;
  for (const auto& v : g.versions) out.push_back(v.uri + "@" + std::to_string(v.version));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Tasks(const LineageGraph& g) {
  std::vector<std::string> out;
  for (const auto& a : g.attempts) out.push_back(a.attempt.run_id + "/" + a.attempt.task_id);
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("a chain's lineage: reads resolve to the version written, walks go both ways",
          "[state]") {
  Fixture f;
  std::string run = f.Run("build@1");
  std::int64_t ingest = f.Attempt(run, "ingest");
  std::int64_t clean = f.Attempt(run, "clean");
  std::int64_t features = f.Attempt(run, "features");
  REQUIRE(f.store->RecordLineage(ingest,
                                 {{Seen("file:data/events.csv", "sha256:e1")},
                                  {Seen("warehouse://raw", "sha256:r1")},
                                  {},
                                  "sha256:cfg-ingest"},
                                 f.now));
  REQUIRE(f.store->RecordLineage(clean,
                                 {{Seen("warehouse://raw", "sha256:r1")},
                                  {Seen("warehouse://clean", "sha256:c1")},
                                  {{"warehouse://clean", "user", "warehouse://raw", "user", ""}}},
                                 f.now));
  REQUIRE(f.store->RecordLineage(
      features,
      {{Seen("warehouse://clean", "sha256:c1")}, {Seen("warehouse://features", "sha256:f1")}},
      f.now));

  // The read of raw is the version ingest wrote, not a new one.
  auto raw = f.store->FindDatasetVersion("warehouse://raw");
  REQUIRE(raw);
  REQUIRE(*raw);
  CHECK((*raw)->version == 1);
  CHECK((*raw)->attempt_id == ingest);
  CHECK((*raw)->row_count == 10);
  auto uris = f.store->DatasetUris();
  REQUIRE(uris);
  CHECK(*uris == std::vector<std::string>{"file:data/events.csv", "warehouse://clean",
                                          "warehouse://features", "warehouse://raw"});

  auto top = f.store->FindDatasetVersion("warehouse://features", 1);
  REQUIRE(top);
  REQUIRE(*top);
  auto up = f.store->Lineage((*top)->id, LineageDirection::kUpstream);
  REQUIRE(up);
  CHECK(Uris(*up) == std::vector<std::string>{"file:data/events.csv@1", "warehouse://clean@1",
                                              "warehouse://features@1", "warehouse://raw@1"});
  CHECK(Tasks(*up) ==
        std::vector<std::string>{"build@1/clean", "build@1/features", "build@1/ingest"});
  CHECK(up->reads.size() == 3);
  CHECK(up->writes.size() == 3);
  REQUIRE(up->columns.size() == 1);
  CHECK(up->columns[0].output_column == "user");
  const LineageAttempt& first =
      *std::find_if(up->attempts.begin(), up->attempts.end(),
                    [&](const auto& a) { return a.attempt.id == ingest; });
  CHECK(first.dag_id == "build");
  CHECK(first.dag_file == "build.yaml");
  CHECK(first.dag_hash.size() == 64);
  CHECK(first.params_json == R"({"min_events":5})");
  CHECK(first.config_hash == "sha256:cfg-ingest");

  auto shallow = f.store->Lineage((*top)->id, LineageDirection::kUpstream, 1);
  REQUIRE(shallow);
  CHECK(Uris(*shallow) ==
        std::vector<std::string>{"warehouse://clean@1", "warehouse://features@1"});
  CHECK(Tasks(*shallow) == std::vector<std::string>{"build@1/features"});

  auto source = f.store->FindDatasetVersion("file:data/events.csv");
  REQUIRE(source);
  REQUIRE(*source);
  CHECK_FALSE((*source)->attempt_id.has_value());  // nobody wrote it: a source
  auto down = f.store->Lineage((*source)->id, LineageDirection::kDownstream);
  REQUIRE(down);
  CHECK(Uris(*down) == Uris(*up));
  CHECK(Tasks(*down) == Tasks(*up));

  auto by_run = f.store->RunLineage(run);
  REQUIRE(by_run);
  CHECK(Tasks(*by_run) == Tasks(*up));
  CHECK(by_run->reads.size() == 3);
  CHECK(by_run->writes.size() == 3);
}

TEST_CASE("a rerun over changed input makes new versions, old ones keep their provenance",
          "[state]") {
  Fixture f;
  std::string run1 = f.Run("build@1");
  REQUIRE(f.store->RecordLineage(
      f.Attempt(run1, "ingest"),
      {{Seen("file:events.csv", "sha256:e1")}, {Seen("warehouse://raw", "sha256:r1")}}, f.now));
  std::string run2 = f.Run("build@2");
  // The file changed outside weir: reading it makes version 2, with no producer.
  REQUIRE(f.store->RecordLineage(
      f.Attempt(run2, "ingest"),
      {{Seen("file:events.csv", "sha256:e2")}, {Seen("warehouse://raw", "sha256:r2")}}, f.now));
  // Reading the unchanged file again makes no version.
  std::string run3 = f.Run("build@3");
  REQUIRE(f.store->RecordLineage(
      f.Attempt(run3, "ingest"),
      {{Seen("file:events.csv", "sha256:e2")}, {Seen("warehouse://raw", "sha256:r2")}}, f.now));

  auto events = f.store->FindDatasetVersion("file:events.csv");
  REQUIRE(events);
  CHECK((*events)->version == 2);
  auto raw = f.store->FindDatasetVersion("warehouse://raw");
  REQUIRE(raw);
  CHECK((*raw)->version == 3);  // every write is a version, same content or not

  auto raw1 = f.store->FindDatasetVersion("warehouse://raw", 1);
  REQUIRE(raw1);
  REQUIRE(*raw1);
  auto up1 = f.store->Lineage((*raw1)->id, LineageDirection::kUpstream);
  REQUIRE(up1);
  CHECK(Uris(*up1) == std::vector<std::string>{"file:events.csv@1", "warehouse://raw@1"});
  auto up3 = f.store->Lineage((*raw)->id, LineageDirection::kUpstream);
  REQUIRE(up3);
  CHECK(Uris(*up3) == std::vector<std::string>{"file:events.csv@2", "warehouse://raw@3"});
  CHECK(Tasks(*up3) == std::vector<std::string>{"build@3/ingest"});

  auto events2 = f.store->FindDatasetVersion("file:events.csv", 2);
  REQUIRE(events2);
  auto down = f.store->Lineage((*events2)->id, LineageDirection::kDownstream);
  REQUIRE(down);
  CHECK(Tasks(*down) == std::vector<std::string>{"build@2/ingest", "build@3/ingest"});

  auto missing = f.store->FindDatasetVersion("warehouse://raw", 9);
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("lineage naming a column of a dataset the attempt did not touch records nothing",
          "[state]") {
  Fixture f;
  std::string run = f.Run("build@1");
  auto done =
      f.store->RecordLineage(f.Attempt(run, "clean"),
                             {{Seen("warehouse://raw", "sha256:r1")},
                              {Seen("warehouse://clean", "sha256:c1")},
                              {{"warehouse://clean", "user", "warehouse://elsewhere", "user", ""}}},
                             f.now);
  REQUIRE_FALSE(done);
  CHECK(done.error().message ==
        "column lineage warehouse://clean#user <- warehouse://elsewhere#user names a dataset "
        "the attempt did not write or read");
  auto uris = f.store->DatasetUris();
  REQUIRE(uris);
  CHECK(uris->empty());
}

}  // namespace
}  // namespace weir::state

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "dags/dags.h"
#include "state/schema.h"
#include "state/sqlite.h"
#include "state/state.h"
#include "tests/testing/temp_dir.h"

namespace weir::state {
namespace {

using testing::TempDir;

std::shared_ptr<const dags::Dag> TinyDag() {
  auto loaded = dags::LoadDagText(R"(
dag: tiny
tasks:
  a: { kind: shell, command: [true] }
  b: { kind: shell, command: [true], deps: [a] }
)",
                                  "tiny.yaml");
  REQUIRE(loaded.errors.empty());
  return loaded.dags.at(0);
}

RunRecord MakeRun(std::int64_t version, const std::string& id) {
  RunRecord run;
  run.run_id = id;
  run.dag_id = "tiny";
  run.dag_version_id = version;
  run.interval_start = FromMillis(1'000);
  run.interval_end = FromMillis(2'000);
  run.logical_date = FromMillis(1'000);
  run.created_at = FromMillis(5'000);
  return run;
}

std::vector<TaskInstanceRecord> MakeTasks(const std::string& run_id) {
  TaskInstanceRecord a{run_id, "a"};
  TaskInstanceRecord b{run_id, "b"};
  return {a, b};
}

std::string Query(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  std::string out;
  char* error = nullptr;
  int rc = sqlite3_exec(
      handle, sql.c_str(),
      [](void* sink, int n, char** values, char**) {
        auto* s = static_cast<std::string*>(sink);
        for (int i = 0; i < n; ++i)
          *s += (i ? "|" : "") + std::string(values[i] ? values[i] : "NULL");
        *s += "\n";
        return 0;
      },
      &out, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(handle);
  if (rc != SQLITE_OK) return "ERROR: " + message;
  return out;
}

TEST_CASE("a new store creates the current schema in WAL mode", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  CHECK(Query(dir / "weir.db", "PRAGMA user_version") ==
        std::to_string(CurrentSchemaVersion()) + "\n");
  CHECK(Query(dir / "weir.db", "PRAGMA journal_mode") == "wal\n");
  CHECK(Query(dir / "weir.db", "PRAGMA integrity_check") == "ok\n");
}

TEST_CASE("a WAL file that grew while a reader held it is cut back to 16 MiB at its next reset",
          "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  const std::filesystem::path wal = dir / "weir.db-wal";
  // A reader's open snapshot keeps every checkpoint from going past it: the WAL only grows.
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open((dir / "weir.db").c_str(), &reader) == SQLITE_OK);
  REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM runs;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  const std::string big = "\"" + std::string(1 << 20, 'x') + "\"";
  for (int i = 0; i < 24; ++i) {
    REQUIRE((*store)->AppendAudit(
        AuditEvent{0, FromMillis(i), "ann", "cli", "note", "dag:d", "", "{\"text\":" + big + "}"}));
  }
  CHECK(std::filesystem::file_size(wal) > 20u << 20);
  REQUIRE(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(reader);
  // The next commit checkpoints all of it; the one after starts the WAL over and cuts it.
  for (int i = 0; i < 3; ++i) {
    REQUIRE((*store)->AppendAudit(
        AuditEvent{0, FromMillis(100 + i), "ann", "cli", "note", "dag:d", "", "{}"}));
  }
  CHECK(std::filesystem::file_size(wal) <= 16u << 20);
  CHECK(Query(dir / "weir.db", "SELECT count(*) FROM audit_events") == "27\n");
}

TEST_CASE("opening without create refuses a missing database and creates nothing", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "missing.db", StoreOptions{.create = false});
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kNotFound);
  CHECK_FALSE(std::filesystem::exists(dir / "missing.db"));
}

TEST_CASE("a database of every older schema version is migrated forward keeping its rows",
          "[state]") {
  for (int old_version = 0; old_version < CurrentSchemaVersion(); ++old_version) {
    TempDir dir;
    {
      auto db = Database::Open(dir / "weir.db", true);
      REQUIRE(db);
      REQUIRE(Migrate(**db, old_version));
      if (old_version >= 1) {
        REQUIRE(
            (*db)->Exec("INSERT INTO dag_versions (dag_id, file_path, content_hash, "
                        "first_seen_ms) VALUES ('old', 'old.yaml', 'abc', 1)"));
      }
    }
    CHECK(Query(dir / "weir.db", "PRAGMA user_version") == std::to_string(old_version) + "\n");
    auto store = Store::Open(dir / "weir.db");
    REQUIRE(store);
    CHECK(Query(dir / "weir.db", "PRAGMA user_version") ==
          std::to_string(CurrentSchemaVersion()) + "\n");
    if (old_version >= 1) {
      CHECK(Query(dir / "weir.db", "SELECT dag_id FROM dag_versions") == "old\n");
    }
    CHECK(Query(dir / "weir.db", "PRAGMA integrity_check") == "ok\n");
  }
}

TEST_CASE(
    "a backfill recorded before schema 6 keeps the runs it created, oldest first, and its "
    "state is counted from them",
    "[state]") {
  TempDir dir;
  {
    auto db = Database::Open(dir / "weir.db", true);
    REQUIRE(db);
    REQUIRE(Migrate(**db, 5));
    // Left 'running' by a scheduler that drove its runs: nothing marked it done.
    REQUIRE((*db)->Exec(
        "INSERT INTO dag_versions (id, dag_id, file_path, content_hash, first_seen_ms) "
        "VALUES (1, 'tiny', 'tiny.yaml', 'abc', 1);"
        "INSERT INTO backfills (id, dag_id, from_date, to_date, state, actor, created_at_ms) "
        "VALUES (7, 'tiny', '2026-01-01', '2026-01-02', 'running', 'ann', 5);"
        "INSERT INTO runs (run_id, dag_id, dag_version_id, kind, state, interval_start_ms, "
        "interval_end_ms, logical_date_ms, created_at_ms, ended_at_ms, backfill_id) VALUES "
        "('tiny@2', 'tiny', 1, 'backfill', 'failed', 2000, 3000, 2000, 5, 90, 7),"
        "('tiny@1', 'tiny', 1, 'backfill', 'success', 1000, 2000, 1000, 5, 80, 7),"
        "('tiny@0', 'tiny', 1, 'manual', 'success', 0, 1000, 0, 5, 70, NULL);"));
  }
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto backfill = (*store)->GetBackfill(7);
  REQUIRE(backfill);
  REQUIRE(backfill->has_value());
  const BackfillProgress& b = **backfill;
  CHECK(b.runs == 2);
  CHECK(b.success == 1);
  CHECK(b.failed == 1);
  CHECK(std::string(b.State()) == "failed");
  CHECK(b.ended_at == FromMillis(90));
  CHECK(b.plan.actor == "ann");
  auto runs = (*store)->BackfillRuns(7);
  REQUIRE(runs);
  REQUIRE(runs->size() == 2);
  CHECK(runs->at(0).run_id == "tiny@1");
  CHECK(runs->at(1).run_id == "tiny@2");
  CHECK(Query(dir / "weir.db", "PRAGMA foreign_key_check") == "");
}

TEST_CASE("a database from a newer weir is refused and left untouched", "[state]") {
  TempDir dir;
  {
    auto store = Store::Open(dir / "weir.db");
    REQUIRE(store);
  }
  int newer = CurrentSchemaVersion() + 1;
  REQUIRE(Query(dir / "weir.db", "PRAGMA user_version = " + std::to_string(newer)) == "");
  auto store = Store::Open(dir / "weir.db");
  REQUIRE_FALSE(store);
  CHECK(store.error().message.find("newer") != std::string::npos);
  CHECK(Query(dir / "weir.db", "PRAGMA user_version") == std::to_string(newer) + "\n");
}

TEST_CASE("a DAG version is recorded once per content hash", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto dag = TinyDag();
  auto first = (*store)->RecordDagVersion(*dag, FromMillis(1));
  auto second = (*store)->RecordDagVersion(*dag, FromMillis(2));
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first == *second);
  CHECK(Query(dir / "weir.db", "SELECT count(*), content_hash FROM dag_versions") ==
        "1|" + dag->content_hash + "\n");
}

TEST_CASE("a run and its task instances are created together and read back", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto version = (*store)->RecordDagVersion(*TinyDag(), FromMillis(1));
  REQUIRE(version);
  RunRecord run = MakeRun(*version, "tiny@x");
  run.params_json = R"({"n":3})";
  REQUIRE((*store)->CreateRun(run, MakeTasks(run.run_id)));

  auto read = (*store)->GetRun("tiny@x");
  REQUIRE(read);
  REQUIRE(read->has_value());
  CHECK((*read)->params_json == R"({"n":3})");
  CHECK((*read)->interval_end == FromMillis(2'000));
  CHECK_FALSE((*read)->started_at.has_value());
  auto tasks = (*store)->TaskInstances("tiny@x");
  REQUIRE(tasks);
  REQUIRE(tasks->size() == 2);
  CHECK((*tasks)[0].task_id == "a");
  CHECK((*tasks)[1].state == TaskState::kPending);

  SECTION("creating the same run id again is refused and changes nothing") {
    auto again = (*store)->CreateRun(run, MakeTasks(run.run_id));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == ErrorCode::kAlreadyExists);
    CHECK(Query(dir / "weir.db", "SELECT count(*) FROM task_instances") == "2\n");
  }
  SECTION("a missing run reads as empty, not as an error") {
    auto missing = (*store)->GetRun("nope");
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());
  }
}

TEST_CASE("an attempt's start and end are recorded with its task instance", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto version = (*store)->RecordDagVersion(*TinyDag(), FromMillis(1));
  REQUIRE(version);
  REQUIRE((*store)->CreateRun(MakeRun(*version, "r"), MakeTasks("r")));

  TaskInstanceRecord ti{"r", "a", TaskState::kRunning, 1, 3};
  AttemptRecord attempt;
  attempt.run_id = "r";
  attempt.task_id = "a";
  attempt.try_number = 1;
  attempt.log_path = "/tmp/x.log";
  attempt.started_at = FromMillis(10);
  auto id = (*store)->BeginAttempt(ti, attempt);
  REQUIRE(id);
  attempt.id = *id;
  attempt.state = AttemptState::kFailed;
  attempt.pid = 4242;
  attempt.process_start_ticks = 99;
  attempt.exit_code = 3;
  attempt.reason = "exit code 3";
  attempt.ended_at = FromMillis(20);
  ti.state = TaskState::kUpForRetry;
  ti.next_try_at = FromMillis(30);
  REQUIRE((*store)->FinishAttempt(ti, attempt));

  auto attempts = (*store)->Attempts("r", "a");
  REQUIRE(attempts);
  REQUIRE(attempts->size() == 1);
  const AttemptRecord& a = attempts->front();
  CHECK(a.state == AttemptState::kFailed);
  CHECK(a.pid == 4242);
  CHECK(a.process_start_ticks == 99);
  CHECK(a.exit_code == 3);
  CHECK_FALSE(a.signal.has_value());
  CHECK(a.ended_at == FromMillis(20));
  auto tasks = (*store)->TaskInstances("r");
  REQUIRE(tasks);
  CHECK((*tasks)[0].state == TaskState::kUpForRetry);
  CHECK((*tasks)[0].next_try_at == FromMillis(30));
  CHECK((*tasks)[0].max_tries == 3);

  SECTION("the same try number cannot be recorded twice") {
    auto duplicate = (*store)->BeginAttempt(ti, attempt);
    CHECK_FALSE(duplicate);
    CHECK(Query(dir / "weir.db", "SELECT count(*) FROM attempts") == "1\n");
  }
}

TEST_CASE("the audit log is append-only, even for direct SQL", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  AuditEvent event{0, FromMillis(7), "alice", "cli", "trigger", "run:r", "because", "{}"};
  REQUIRE((*store)->AppendAudit(event));
  auto events = (*store)->ListAudit(10);
  REQUIRE(events);
  REQUIRE(events->size() == 1);
  CHECK(events->front().actor == "alice");
  CHECK(events->front().reason == "because");
  CHECK(Query(dir / "weir.db", "UPDATE audit_events SET actor = 'mallory'").find("append-only") !=
        std::string::npos);
  CHECK(Query(dir / "weir.db", "DELETE FROM audit_events").find("append-only") !=
        std::string::npos);
  CHECK(Query(dir / "weir.db", "SELECT actor FROM audit_events") == "alice\n");
}

TEST_CASE("runs are listed newest interval first and filtered by DAG", "[state]") {
  TempDir dir;
  auto store = Store::Open(dir / "weir.db");
  REQUIRE(store);
  auto version = (*store)->RecordDagVersion(*TinyDag(), FromMillis(1));
  REQUIRE(version);
  for (int i = 0; i < 3; ++i) {
    RunRecord run = MakeRun(*version, "tiny@" + std::to_string(i));
    run.interval_start = FromMillis(i * 1000);
    REQUIRE((*store)->CreateRun(run, MakeTasks(run.run_id)));
  }
  auto runs = (*store)->ListRuns("tiny", 2);
  REQUIRE(runs);
  REQUIRE(runs->size() == 2);
  CHECK((*runs)[0].run_id == "tiny@2");
  CHECK((*runs)[1].run_id == "tiny@1");
  auto none = (*store)->ListRuns("other", 10);
  REQUIRE(none);
  CHECK(none->empty());
  auto count = (*store)->CountRuns("tiny", FromMillis(1000), RunKind::kManual);
  REQUIRE(count);
  CHECK(*count == 1);
}

}  // namespace
}  // namespace weir::state

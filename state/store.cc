#include <fmt/format.h>

#include "common/secret_mask.h"
#include "state/rows.h"
#include "state/schema.h"
#include "state/sqlite.h"
#include "state/state.h"

namespace weir::state {
namespace {

constexpr const char* kRunColumns =
    "run_id, dag_id, dag_version_id, kind, state, interval_start_ms, interval_end_ms, "
    "logical_date_ms, params_json, created_at_ms, started_at_ms, ended_at_ms, backfill_id, "
    "driver_host, driver_pid, driver_start_ticks, generation, no_cache";

RunRecord ReadRun(const Statement& s) {
  RunRecord r;
  r.run_id = s.Text(0);
  r.dag_id = s.Text(1);
  r.dag_version_id = s.Int(2);
  r.kind = ParseRunKind(s.Text(3)).value_or(RunKind::kManual);
  r.state = ParseRunState(s.Text(4)).value_or(RunState::kFailed);
  r.interval_start = FromMillis(s.Int(5));
  r.interval_end = FromMillis(s.Int(6));
  r.logical_date = FromMillis(s.Int(7));
  r.params_json = s.Text(8);
  r.created_at = FromMillis(s.Int(9));
  r.started_at = OptionalTime(s, 10);
  r.ended_at = OptionalTime(s, 11);
  r.backfill_id = s.OptionalInt(12);
  r.driver_host = s.Text(13);
  r.driver_pid = s.OptionalInt(14);
  r.driver_start_ticks = s.OptionalInt(15);
  r.generation = s.Int(16);
  r.no_cache = s.Int(17) != 0;
  return r;
}

constexpr const char* kTaskColumns =
    "run_id, task_id, state, try_number, max_tries, priority, next_try_at_ms, started_at_ms, "
    "ended_at_ms, free_tries";

TaskInstanceRecord ReadTask(const Statement& s) {
  TaskInstanceRecord t;
  t.run_id = s.Text(0);
  t.task_id = s.Text(1);
  t.state = ParseTaskState(s.Text(2)).value_or(TaskState::kFailed);
  t.try_number = static_cast<int>(s.Int(3));
  t.max_tries = static_cast<int>(s.Int(4));
  t.priority = static_cast<int>(s.Int(5));
  t.next_try_at = OptionalTime(s, 6);
  t.started_at = OptionalTime(s, 7);
  t.ended_at = OptionalTime(s, 8);
  t.free_tries = static_cast<int>(s.Int(9));
  return t;
}

// Steps `stmt` to its end, turning each row into a T with `read`.
// Binds a task instance to ?1..?10 in the order of kTaskColumns.
Statement& BindTask(Statement& stmt, const TaskInstanceRecord& t) {
  return stmt.Bind(1, t.run_id)
      .Bind(2, t.task_id)
      .Bind(3, Name(t.state))
      .Bind(4, t.try_number)
      .Bind(5, t.max_tries)
      .Bind(6, t.priority)
      .Bind(7, OptionalMillis(t.next_try_at))
      .Bind(8, OptionalMillis(t.started_at))
      .Bind(9, OptionalMillis(t.ended_at))
      .Bind(10, t.free_tries);
}

Result<void> WriteTask(Database& db, const TaskInstanceRecord& t) {
  auto stmt = db.Prepare(
      "UPDATE task_instances SET state = ?3, try_number = ?4, max_tries = ?5, priority = ?6, "
      "next_try_at_ms = ?7, started_at_ms = ?8, ended_at_ms = ?9, free_tries = ?10 "
      "WHERE run_id = ?1 AND task_id = ?2");
  if (!stmt) return std::unexpected(stmt.error());
  return BindTask(**stmt, t).Run();
}

// Records a person's action. Its reason and details (params typed by a person) are stored with
// the secrets this process knows masked.
Result<std::int64_t> InsertAudit(Database& db, const AuditEvent& event) {
  const std::shared_ptr<const SecretMask> mask = ProcessSecrets::Instance().Mask();
  auto stmt = db.Prepare(
      "INSERT INTO audit_events (at_ms, actor, source, action, target, reason, details_json) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!stmt) return std::unexpected(stmt.error());
  auto ok = (*stmt)
                ->Bind(1, ToMillis(event.at))
                .Bind(2, event.actor)
                .Bind(3, event.source)
                .Bind(4, event.action)
                .Bind(5, event.target)
                .Bind(6, mask->empty() ? event.reason : mask->Apply(event.reason))
                .Bind(7, mask->empty() ? event.details_json : mask->Apply(event.details_json))
                .Run();
  if (!ok) return std::unexpected(ok.error());
  return db.LastInsertRowId();
}

// Inserts a run and its task instances (inside the caller's transaction). kAlreadyExists when
// the run id is taken.
Result<void> InsertRun(Database& db, const RunRecord& run,
                       const std::vector<TaskInstanceRecord>& tasks) {
  auto exists = db.Prepare("SELECT 1 FROM runs WHERE run_id = ?1");
  if (!exists) return std::unexpected(exists.error());
  (*exists)->Bind(1, run.run_id);
  auto row = (*exists)->Step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    (*exists)->Reset();
    return Fail(ErrorCode::kAlreadyExists, fmt::format("run '{}' already exists", run.run_id));
  }
  auto insert = db.Prepare(fmt::format(
      "INSERT INTO runs ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
      "?14, ?15, ?16, ?17, ?18)",
      kRunColumns));
  if (!insert) return std::unexpected(insert.error());
  auto inserted = (*insert)
                      ->Bind(1, run.run_id)
                      .Bind(2, run.dag_id)
                      .Bind(3, run.dag_version_id)
                      .Bind(4, Name(run.kind))
                      .Bind(5, Name(run.state))
                      .Bind(6, ToMillis(run.interval_start))
                      .Bind(7, ToMillis(run.interval_end))
                      .Bind(8, ToMillis(run.logical_date))
                      .Bind(9, run.params_json)
                      .Bind(10, ToMillis(run.created_at))
                      .Bind(11, OptionalMillis(run.started_at))
                      .Bind(12, OptionalMillis(run.ended_at))
                      .Bind(13, run.backfill_id)
                      .Bind(14, run.driver_host)
                      .Bind(15, run.driver_pid)
                      .Bind(16, run.driver_start_ticks)
                      .Bind(17, run.generation)
                      .Bind(18, run.no_cache ? 1 : 0)
                      .Run();
  if (!inserted) return inserted;
  auto task_insert = db.Prepare(fmt::format(
      "INSERT INTO task_instances ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      kTaskColumns));
  if (!task_insert) return std::unexpected(task_insert.error());
  for (const TaskInstanceRecord& t : tasks) {
    auto ok = BindTask(**task_insert, t).Run();
    if (!ok) return ok;
  }
  return {};
}

}  // namespace

Store::Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path,
                                           const StoreOptions& options) {
  auto db = Database::Open(path, options.create, options.busy_timeout_ms);
  if (!db) return std::unexpected(db.error());
  auto migrated = Migrate(**db);
  if (!migrated) return std::unexpected(migrated.error());
  return std::unique_ptr<Store>(new Store(std::move(*db)));
}

Result<std::int64_t> Store::RecordDagVersion(const dags::Dag& dag, Timestamp now) {
  std::int64_t id = 0;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto insert = db_->Prepare(
        "INSERT INTO dag_versions (dag_id, file_path, content_hash, first_seen_ms, content) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dag_id, content_hash) DO UPDATE SET content = "
        "coalesce(content, excluded.content)");
    if (!insert) return std::unexpected(insert.error());
    auto inserted = (*insert)
                        ->Bind(1, dag.id)
                        .Bind(2, dag.file_display)
                        .Bind(3, dag.content_hash)
                        .Bind(4, ToMillis(now))
                        .Bind(5, dag.source)
                        .Run();
    if (!inserted) return inserted;
    auto select =
        db_->Prepare("SELECT id FROM dag_versions WHERE dag_id = ?1 AND content_hash = ?2");
    if (!select) return std::unexpected(select.error());
    (*select)->Bind(1, dag.id).Bind(2, dag.content_hash);
    auto row = (*select)->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return Fail(ErrorCode::kInternal, "dag version vanished after insert");
    id = (*select)->Int(0);
    (*select)->Reset();
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return id;
}

Result<void> Store::CreateRun(const RunRecord& run, const std::vector<TaskInstanceRecord>& tasks,
                              const std::optional<AuditEvent>& audit) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto created = InsertRun(*db_, run, tasks);
    if (!created) return created;
    if (audit) {
      auto appended = InsertAudit(*db_, *audit);
      if (!appended) return std::unexpected(appended.error());
    }
    return {};
  });
}

Result<std::optional<RunRecord>> Store::GetRun(const std::string& run_id) {
  auto stmt = db_->Prepare(fmt::format("SELECT {} FROM runs WHERE run_id = ?1", kRunColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, run_id);
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<RunRecord>();
  RunRecord run = ReadRun(**stmt);
  (*stmt)->Reset();
  return run;
}

Result<std::vector<RunRecord>> Store::ListRuns(const std::string& dag_id, int limit) {
  auto stmt = db_->Prepare(
      fmt::format("SELECT {} FROM runs WHERE (?1 = '' OR dag_id = ?1) "
                  "ORDER BY interval_start_ms DESC, created_at_ms DESC, run_id DESC LIMIT ?2",
                  kRunColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, dag_id).Bind(2, limit);
  return CollectRows<RunRecord>(**stmt, [](const Statement& s) { return ReadRun(s); });
}

namespace {
// The WHERE clause of a run query, with only the conditions it has, so that SQLite can walk the
// index runs_by_dag (a condition such as "?1 = '' OR dag_id = ?1" would make it scan).
std::string RunFilter(const RunQuery& query) {
  std::string where = "1";
  if (!query.dag_id.empty()) where += " AND dag_id = ?1";
  if (query.state) where += " AND state = ?2";
  return where;
}
}  // namespace

Result<std::vector<RunRecord>> Store::ListRuns(const RunQuery& query) {
  auto stmt = db_->Prepare(fmt::format(
      "SELECT {} FROM runs WHERE {} "
      "ORDER BY interval_start_ms DESC, created_at_ms DESC, run_id DESC LIMIT ?3 OFFSET ?4",
      kRunColumns, RunFilter(query)));
  if (!stmt) return std::unexpected(stmt.error());
  if (!query.dag_id.empty()) (*stmt)->Bind(1, query.dag_id);
  if (query.state) (*stmt)->Bind(2, Name(*query.state));
  (*stmt)->Bind(3, query.limit).Bind(4, query.offset);
  return CollectRows<RunRecord>(**stmt, [](const Statement& s) { return ReadRun(s); });
}

Result<std::int64_t> Store::CountRuns(const RunQuery& query) {
  auto stmt = db_->Prepare(fmt::format("SELECT count(*) FROM runs WHERE {}", RunFilter(query)));
  if (!stmt) return std::unexpected(stmt.error());
  if (!query.dag_id.empty()) (*stmt)->Bind(1, query.dag_id);
  if (query.state) (*stmt)->Bind(2, Name(*query.state));
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  const std::int64_t count = (*stmt)->Int(0);
  (*stmt)->Reset();
  return count;
}

Result<Store::StateCounts> Store::CountStates() {
  StateCounts counts;
  for (auto [table, out] :
       {std::pair{"runs", &counts.runs}, std::pair{"task_instances", &counts.tasks}}) {
    auto stmt = db_->Prepare(fmt::format("SELECT state, count(*) FROM {} GROUP BY state", table));
    if (!stmt) return std::unexpected(stmt.error());
    auto rows = CollectRows<std::pair<std::string, std::int64_t>>(
        **stmt, [](const Statement& s) { return std::make_pair(s.Text(0), s.Int(1)); });
    if (!rows) return std::unexpected(rows.error());
    out->insert(rows->begin(), rows->end());
  }
  return counts;
}

Result<int> Store::CountRuns(const std::string& dag_id, Timestamp start, RunKind kind) {
  auto stmt = db_->Prepare(
      "SELECT count(*) FROM runs WHERE dag_id = ?1 AND interval_start_ms = ?2 AND kind = ?3");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, dag_id).Bind(2, ToMillis(start)).Bind(3, Name(kind));
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  int count = static_cast<int>((*stmt)->Int(0));
  (*stmt)->Reset();
  return count;
}

Result<void> Store::UpdateRun(const RunRecord& run) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "UPDATE runs SET state = ?2, started_at_ms = ?3, ended_at_ms = ?4, driver_host = ?5, "
        "driver_pid = ?6, driver_start_ticks = ?7 WHERE run_id = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)
        ->Bind(1, run.run_id)
        .Bind(2, Name(run.state))
        .Bind(3, OptionalMillis(run.started_at))
        .Bind(4, OptionalMillis(run.ended_at))
        .Bind(5, run.driver_host)
        .Bind(6, run.driver_pid)
        .Bind(7, run.driver_start_ticks)
        .Run();
  });
}

Result<std::vector<TaskInstanceRecord>> Store::TaskInstances(const std::string& run_id) {
  auto stmt = db_->Prepare(
      fmt::format("SELECT {} FROM task_instances WHERE run_id = ?1 ORDER BY rowid", kTaskColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, run_id);
  return CollectRows<TaskInstanceRecord>(**stmt, [](const Statement& s) { return ReadTask(s); });
}

Result<void> Store::UpdateTaskInstances(const std::vector<TaskInstanceRecord>& tasks) {
  if (tasks.empty()) return {};
  return InTransaction(*db_, [&]() -> Result<void> {
    for (const TaskInstanceRecord& t : tasks) {
      auto ok = WriteTask(*db_, t);
      if (!ok) return ok;
    }
    return {};
  });
}

Result<std::int64_t> Store::BeginAttempt(const TaskInstanceRecord& task,
                                         const AttemptRecord& attempt) {
  std::int64_t id = 0;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto ok = WriteTask(*db_, task);
    if (!ok) return ok;
    auto stmt = db_->Prepare(
        "INSERT INTO attempts (run_id, task_id, try_number, state, pid, process_start_ticks, "
        "log_path, started_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!stmt) return std::unexpected(stmt.error());
    auto inserted = (*stmt)
                        ->Bind(1, attempt.run_id)
                        .Bind(2, attempt.task_id)
                        .Bind(3, attempt.try_number)
                        .Bind(4, Name(attempt.state))
                        .Bind(5, attempt.pid)
                        .Bind(6, attempt.process_start_ticks)
                        .Bind(7, attempt.log_path)
                        .Bind(8, ToMillis(attempt.started_at))
                        .Run();
    if (!inserted) return inserted;
    id = db_->LastInsertRowId();
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return id;
}

Result<void> Store::FinishAttempt(const TaskInstanceRecord& task, const AttemptRecord& attempt) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto ok = WriteTask(*db_, task);
    if (!ok) return ok;
    auto stmt = db_->Prepare(
        "UPDATE attempts SET state = ?2, pid = ?3, process_start_ticks = ?4, exit_code = ?5, "
        "signal = ?6, reason = ?7, ended_at_ms = ?8 WHERE id = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)
        ->Bind(1, attempt.id)
        .Bind(2, Name(attempt.state))
        .Bind(3, attempt.pid)
        .Bind(4, attempt.process_start_ticks)
        .Bind(5, attempt.exit_code)
        .Bind(6, attempt.signal)
        .Bind(7, attempt.reason)
        .Bind(8, OptionalMillis(attempt.ended_at))
        .Run();
  });
}

Result<void> Store::EndAttempt(const AttemptRecord& attempt) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "UPDATE attempts SET state = ?2, exit_code = ?3, signal = ?4, reason = ?5, "
        "ended_at_ms = ?6 WHERE id = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)
        ->Bind(1, attempt.id)
        .Bind(2, Name(attempt.state))
        .Bind(3, attempt.exit_code)
        .Bind(4, attempt.signal)
        .Bind(5, attempt.reason)
        .Bind(6, OptionalMillis(attempt.ended_at))
        .Run();
  });
}

Result<void> Store::UpdateAttemptProcess(std::int64_t attempt_id, std::int64_t pid,
                                         std::optional<std::int64_t> start_ticks) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt =
        db_->Prepare("UPDATE attempts SET pid = ?2, process_start_ticks = ?3 WHERE id = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)->Bind(1, attempt_id).Bind(2, pid).Bind(3, start_ticks).Run();
  });
}

Result<std::vector<AttemptRecord>> Store::Attempts(const std::string& run_id,
                                                   const std::string& task_id) {
  auto stmt = db_->Prepare(fmt::format(
      "SELECT {} FROM attempts WHERE run_id = ?1 AND (?2 = '' OR task_id = ?2) ORDER BY id",
      kAttemptColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, run_id).Bind(2, task_id);
  return CollectRows<AttemptRecord>(**stmt, [](const Statement& s) { return ReadAttempt(s); });
}

Result<std::optional<AttemptRecord>> Store::GetAttempt(std::int64_t id) {
  auto stmt = db_->Prepare(fmt::format("SELECT {} FROM attempts WHERE id = ?1", kAttemptColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, id);
  auto rows = CollectRows<AttemptRecord>(**stmt, [](const Statement& s) { return ReadAttempt(s); });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<AttemptRecord>();
  return std::optional<AttemptRecord>(std::move(rows->front()));
}

Result<std::int64_t> Store::AppendAudit(const AuditEvent& event) {
  std::int64_t id = 0;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto inserted = InsertAudit(*db_, event);
    if (!inserted) return std::unexpected(inserted.error());
    id = *inserted;
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return id;
}

Result<std::vector<AuditEvent>> Store::ListAudit(int limit) {
  return ListAudit(AuditQuery{.limit = limit});
}

Result<std::vector<AuditEvent>> Store::ListAudit(const AuditQuery& query) {
  // A DAG's events name it as dag:D, run:D@... or task:D@.../TASK (run ids start with "D@").
  auto stmt = db_->Prepare(
      "SELECT id, at_ms, actor, source, action, target, reason, details_json FROM audit_events "
      "WHERE (?1 IS NULL OR at_ms >= ?1) AND (?2 = '' OR actor = ?2) AND (?3 = '' OR "
      "target = 'dag:' || ?3 OR substr(target, 1, length(?3) + 5) = 'run:' || ?3 || '@' OR "
      "substr(target, 1, length(?3) + 6) = 'task:' || ?3 || '@') "
      "ORDER BY id DESC LIMIT ?4");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)
      ->Bind(1, OptionalMillis(query.since))
      .Bind(2, query.actor)
      .Bind(3, query.dag)
      .Bind(4, query.limit);
  return CollectRows<AuditEvent>(**stmt, [](const Statement& s) {
    return AuditEvent{
        s.Int(0), FromMillis(s.Int(1)), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6),
        s.Text(7)};
  });
}

struct Store::Batch::Impl {
  WriteTransaction transaction;
};
Store::Batch::Batch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Batch::Batch(Batch&&) noexcept = default;
Store::Batch::~Batch() = default;
Result<void> Store::Batch::Commit() { return impl_->transaction.Commit(); }

Result<Store::Batch> Store::StartBatch() {
  auto transaction = WriteTransaction::Begin(*db_);
  if (!transaction) return std::unexpected(transaction.error());
  return Batch(std::make_unique<Batch::Impl>(Batch::Impl{std::move(*transaction)}));
}

Result<std::optional<Store::DagVersion>> Store::GetDagVersion(std::int64_t id) {
  auto stmt = db_->Prepare(
      "SELECT id, dag_id, file_path, content_hash, content FROM dag_versions WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, id);
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<DagVersion>();
  const Statement& s = **stmt;
  DagVersion v{s.Int(0), s.Text(1), s.Text(2), s.Text(3), std::nullopt};
  if (!s.IsNull(4)) v.content = s.Text(4);
  (*stmt)->Reset();
  return v;
}

namespace {

Result<std::vector<RunRecord>> SelectRuns(Database& db, const std::string& where) {
  auto stmt = db.Prepare(fmt::format("SELECT {} FROM runs WHERE {}", kRunColumns, where));
  if (!stmt) return std::unexpected(stmt.error());
  return CollectRows<RunRecord>(**stmt, [](const Statement& s) { return ReadRun(s); });
}

}  // namespace

Result<std::vector<RunRecord>> Store::UnfinishedRuns() {
  return SelectRuns(*db_,
                    "state IN ('queued', 'running') ORDER BY interval_start_ms, created_at_ms");
}

Result<std::map<std::string, Timestamp>> Store::LatestScheduledStarts() {
  auto stmt = db_->Prepare(
      "SELECT dag_id, max(interval_start_ms) FROM runs WHERE kind = 'scheduled' GROUP BY dag_id");
  if (!stmt) return std::unexpected(stmt.error());
  auto rows = CollectRows<std::pair<std::string, Timestamp>>(
      **stmt, [](const Statement& s) { return std::make_pair(s.Text(0), FromMillis(s.Int(1))); });
  if (!rows) return std::unexpected(rows.error());
  return std::map<std::string, Timestamp>(rows->begin(), rows->end());
}

Result<std::vector<AttemptRecord>> Store::RunningAttempts() {
  auto stmt = db_->Prepare(
      fmt::format("SELECT {} FROM attempts WHERE state = 'running' ORDER BY id", kAttemptColumns));
  if (!stmt) return std::unexpected(stmt.error());
  return CollectRows<AttemptRecord>(**stmt, [](const Statement& s) { return ReadAttempt(s); });
}

Result<std::vector<std::string>> Store::PausedDags() {
  auto stmt = db_->Prepare("SELECT dag_id FROM dag_settings WHERE paused = 1 ORDER BY dag_id");
  if (!stmt) return std::unexpected(stmt.error());
  return CollectRows<std::string>(**stmt, [](const Statement& s) { return s.Text(0); });
}

Result<void> Store::SetPaused(const std::string& dag_id, bool paused, const AuditEvent& audit) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "INSERT INTO dag_settings (dag_id, paused, updated_at_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused, "
        "updated_at_ms = excluded.updated_at_ms");
    if (!stmt) return std::unexpected(stmt.error());
    auto ok = (*stmt)->Bind(1, dag_id).Bind(2, paused ? 1 : 0).Bind(3, ToMillis(audit.at)).Run();
    if (!ok) return ok;
    auto appended = InsertAudit(*db_, audit);
    if (!appended) return std::unexpected(appended.error());
    return {};
  });
}

Result<std::vector<PoolRecord>> Store::Pools() {
  auto stmt = db_->Prepare("SELECT name, slots FROM pools ORDER BY name");
  if (!stmt) return std::unexpected(stmt.error());
  return CollectRows<PoolRecord>(**stmt, [](const Statement& s) {
    return PoolRecord{s.Text(0), static_cast<int>(s.Int(1))};
  });
}

Result<void> Store::SetPool(const std::string& name, int slots, const AuditEvent& audit) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "INSERT INTO pools (name, slots, updated_at_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, "
        "updated_at_ms = excluded.updated_at_ms");
    if (!stmt) return std::unexpected(stmt.error());
    auto ok = (*stmt)->Bind(1, name).Bind(2, slots).Bind(3, ToMillis(audit.at)).Run();
    if (!ok) return ok;
    auto appended = InsertAudit(*db_, audit);
    if (!appended) return std::unexpected(appended.error());
    return {};
  });
}

namespace {

Result<std::optional<LeaseRecord>> ReadLease(Database& db) {
  auto stmt = db.Prepare(
      "SELECT holder, host, pid, process_start_ticks, acquired_at_ms, heartbeat_at_ms "
      "FROM scheduler_lease WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<LeaseRecord>();
  const Statement& s = **stmt;
  LeaseRecord lease{
      s.Text(0), s.Text(1), s.Int(2), s.OptionalInt(3), FromMillis(s.Int(4)), FromMillis(s.Int(5))};
  (*stmt)->Reset();
  return lease;
}

bool SameHolder(const LeaseRecord& a, const LeaseRecord& b) {
  return a.host == b.host && a.pid == b.pid && a.process_start_ticks == b.process_start_ticks;
}

}  // namespace

Result<std::optional<LeaseRecord>> Store::GetLease() { return ReadLease(*db_); }

Result<std::optional<LeaseRecord>> Store::TryAcquireLease(
    const LeaseRecord& me, const std::function<bool(const LeaseRecord&)>& holder_is_gone) {
  std::optional<LeaseRecord> refused;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto current = ReadLease(*db_);
    if (!current) return std::unexpected(current.error());
    if (*current && !SameHolder(**current, me) && !holder_is_gone(**current)) {
      refused = **current;
      return {};
    }
    auto stmt = db_->Prepare(
        "INSERT OR REPLACE INTO scheduler_lease (id, holder, host, pid, process_start_ticks, "
        "acquired_at_ms, heartbeat_at_ms) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)
        ->Bind(1, me.holder)
        .Bind(2, me.host)
        .Bind(3, me.pid)
        .Bind(4, me.process_start_ticks)
        .Bind(5, ToMillis(me.acquired_at))
        .Bind(6, ToMillis(me.heartbeat_at))
        .Run();
  });
  if (!done) return std::unexpected(done.error());
  return refused;
}

Result<bool> Store::Heartbeat(const LeaseRecord& me, Timestamp now) {
  bool ours = false;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto current = ReadLease(*db_);
    if (!current) return std::unexpected(current.error());
    ours = *current && SameHolder(**current, me);
    if (!ours) return {};
    auto stmt = db_->Prepare("UPDATE scheduler_lease SET heartbeat_at_ms = ?1 WHERE id = 1");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)->Bind(1, ToMillis(now)).Run();
  });
  if (!done) return std::unexpected(done.error());
  return ours;
}

Result<void> Store::ReleaseLease(const LeaseRecord& me) {
  return InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "DELETE FROM scheduler_lease WHERE id = 1 AND host = ?1 AND pid = ?2 AND "
        "process_start_ticks IS ?3");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)->Bind(1, me.host).Bind(2, me.pid).Bind(3, me.process_start_ticks).Run();
  });
}

Result<void> Store::ApplyOutsideChange(const RunRecord& run,
                                       const std::vector<TaskInstanceRecord>& tasks,
                                       const std::optional<AuditEvent>& audit) {
  return InTransaction(*db_, [&]() -> Result<void> {
    for (const TaskInstanceRecord& t : tasks) {
      auto ok = WriteTask(*db_, t);
      if (!ok) return ok;
    }
    auto stmt = db_->Prepare(
        "UPDATE runs SET state = ?2, started_at_ms = ?3, ended_at_ms = ?4, "
        "generation = generation + 1 WHERE run_id = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    auto ok = (*stmt)
                  ->Bind(1, run.run_id)
                  .Bind(2, Name(run.state))
                  .Bind(3, OptionalMillis(run.started_at))
                  .Bind(4, OptionalMillis(run.ended_at))
                  .Run();
    if (!ok) return ok;
    if (!audit) return {};
    auto appended = InsertAudit(*db_, *audit);
    if (!appended) return std::unexpected(appended.error());
    return {};
  });
}

Result<std::int64_t> Store::CreateBackfill(
    const BackfillRecord& plan,
    const std::vector<std::pair<RunRecord, std::vector<TaskInstanceRecord>>>& runs,
    const std::vector<std::string>& run_ids, const AuditEvent& audit) {
  std::int64_t id = 0;
  auto done = InTransaction(*db_, [&]() -> Result<void> {
    auto stmt = db_->Prepare(
        "INSERT INTO backfills (dag_id, from_date, to_date, options_json, actor, created_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!stmt) return std::unexpected(stmt.error());
    auto ok = (*stmt)
                  ->Bind(1, plan.dag_id)
                  .Bind(2, plan.from_date)
                  .Bind(3, plan.to_date)
                  .Bind(4, plan.options_json)
                  .Bind(5, plan.actor)
                  .Bind(6, ToMillis(plan.created_at))
                  .Run();
    if (!ok) return ok;
    id = db_->LastInsertRowId();
    for (const auto& [run, tasks] : runs) {
      RunRecord r = run;
      r.backfill_id = id;
      auto created = InsertRun(*db_, r, tasks);
      if (!created) return created;
    }
    auto member = db_->Prepare(
        "INSERT INTO backfill_runs (backfill_id, position, run_id) VALUES (?1, ?2, ?3)");
    if (!member) return std::unexpected(member.error());
    for (std::size_t i = 0; i < run_ids.size(); ++i) {
      auto added =
          (*member)->Bind(1, id).Bind(2, static_cast<std::int64_t>(i)).Bind(3, run_ids[i]).Run();
      if (!added) return added;
    }
    auto appended = InsertAudit(*db_, audit);
    if (!appended) return std::unexpected(appended.error());
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return id;
}

namespace {

// A backfill and its runs' states counted; `where` selects the backfills (binding ?1), newest
// first.
std::string BackfillQuery(std::string_view where) {
  return fmt::format(
      "SELECT b.id, b.dag_id, b.from_date, b.to_date, b.options_json, b.actor, b.created_at_ms, "
      "b.canceled_at_ms, count(r.run_id), count(CASE WHEN r.state = 'queued' THEN 1 END), "
      "count(CASE WHEN r.state = 'running' THEN 1 END), "
      "count(CASE WHEN r.state = 'success' THEN 1 END), "
      "count(CASE WHEN r.state = 'failed' THEN 1 END), max(r.ended_at_ms) "
      "FROM backfills b LEFT JOIN backfill_runs m ON m.backfill_id = b.id "
      "LEFT JOIN runs r ON r.run_id = m.run_id WHERE {} GROUP BY b.id ORDER BY b.id DESC",
      where);
}

BackfillProgress ReadBackfill(const Statement& s) {
  BackfillProgress b;
  b.plan.id = s.Int(0);
  b.plan.dag_id = s.Text(1);
  b.plan.from_date = s.Text(2);
  b.plan.to_date = s.Text(3);
  b.plan.options_json = s.Text(4);
  b.plan.actor = s.Text(5);
  b.plan.created_at = FromMillis(s.Int(6));
  b.plan.canceled_at = OptionalTime(s, 7);
  b.runs = static_cast<int>(s.Int(8));
  b.queued = static_cast<int>(s.Int(9));
  b.running = static_cast<int>(s.Int(10));
  b.success = static_cast<int>(s.Int(11));
  b.failed = static_cast<int>(s.Int(12));
  if (b.queued + b.running == 0) {
    b.ended_at = b.runs > 0 ? OptionalTime(s, 13) : b.plan.created_at;  // none: done at once
  }
  return b;
}

}  // namespace

Result<std::vector<BackfillProgress>> Store::ListBackfills(const std::string& dag_id, int limit) {
  auto stmt = db_->Prepare(BackfillQuery(dag_id.empty() ? "1" : "b.dag_id = ?1") + " LIMIT ?2");
  if (!stmt) return std::unexpected(stmt.error());
  if (!dag_id.empty()) (*stmt)->Bind(1, dag_id);
  (*stmt)->Bind(2, limit);
  return CollectRows<BackfillProgress>(**stmt, ReadBackfill);
}

Result<std::optional<BackfillProgress>> Store::GetBackfill(std::int64_t id,
                                                           std::vector<RunRecord>* runs) {
  ReadSnapshot snapshot(*db_);
  if (runs != nullptr) {
    auto read = BackfillRuns(id);
    if (!read) return std::unexpected(read.error());
    *runs = std::move(*read);
  }
  auto stmt = db_->Prepare(BackfillQuery("b.id = ?1"));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, id);
  auto rows = CollectRows<BackfillProgress>(**stmt, ReadBackfill);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return std::move(rows->front());
}

Result<void> Store::NoteBackfillCanceled(std::int64_t id, Timestamp now) {
  auto stmt = db_->Prepare(
      "UPDATE backfills SET canceled_at_ms = coalesce(canceled_at_ms, ?2) WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->Bind(1, id).Bind(2, ToMillis(now)).Run();
}

Result<std::vector<RunRecord>> Store::BackfillRuns(std::int64_t id) {
  auto stmt = db_->Prepare(
      fmt::format("SELECT {} FROM runs JOIN (SELECT run_id AS member, position FROM backfill_runs "
                  "WHERE backfill_id = ?1) ON run_id = member ORDER BY position",
                  kRunColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, id);
  return CollectRows<RunRecord>(**stmt, [](const Statement& s) { return ReadRun(s); });
}

}  // namespace weir::state

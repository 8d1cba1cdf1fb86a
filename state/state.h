// state: the SQLite store, the truth about every run. A typed repository over one connection:
// DAG versions, runs, task instances, attempts and audit events. Each mutating call is one
// IMMEDIATE transaction, so a crash leaves either all of a change or none of it.
//
// Only the parent process (the scheduler, `weir run`, the server) writes; task processes never
// open it. Thread-safety: a Store is used by one thread at a time; other threads open their own.
#ifndef WEIR_STATE_STATE_H_
#define WEIR_STATE_STATE_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "dags/dag.h"
#include "state/openlineage.h"
#include "state/records.h"

namespace weir::state {

class Database;

struct StoreOptions {
  bool create = true;            // create the file (and migrate it) when missing
  int busy_timeout_ms = 10'000;  // how long a write waits for another writer before failing
};

// A lineage graph as the JSON `weir lineage --format json` prints and the API serves: versions,
// attempts, reads, writes and column edges, with `root` the version asked about (or null).
std::string LineageGraphToJson(const LineageGraph& graph, std::optional<std::int64_t> root);

// The memory SQLite holds in this process now, over all its connections: page caches (each at
// most about 2 MB), prepared statements, schemas.
std::int64_t SqliteMemoryUsed();

class Store {
 public:
  // Opens the database at `path`, migrating its schema forward.
  [[nodiscard]] static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& path,
                                                           const StoreOptions& options = {});
  ~Store();

  // The id of this exact DAG file content, recording it the first time it is seen.
  [[nodiscard]] Result<std::int64_t> RecordDagVersion(const dags::Dag& dag, Timestamp now);

  // Creates a run with its task instances (and the audit event of the person who asked for it)
  // in one transaction. kAlreadyExists when the run id is taken.
  [[nodiscard]] Result<void> CreateRun(const RunRecord& run,
                                       const std::vector<TaskInstanceRecord>& tasks,
                                       const std::optional<AuditEvent>& audit = std::nullopt);
  [[nodiscard]] Result<std::optional<RunRecord>> GetRun(const std::string& run_id);
  // Newest first (by interval start, then creation); all DAGs when `dag_id` is empty.
  [[nodiscard]] Result<std::vector<RunRecord>> ListRuns(const std::string& dag_id, int limit);
  // One page of the runs `query` selects, and how many it selects in all.
  [[nodiscard]] Result<std::vector<RunRecord>> ListRuns(const RunQuery& query);
  [[nodiscard]] Result<std::int64_t> CountRuns(const RunQuery& query);
  // How many runs, and how many task instances, there are in each state (states with none are
  // absent).
  struct StateCounts {
    std::map<std::string, std::int64_t> runs, tasks;
  };
  [[nodiscard]] Result<StateCounts> CountStates();
  // How many runs of `kind` `dag_id` has for the interval starting at `start`.
  [[nodiscard]] Result<int> CountRuns(const std::string& dag_id, Timestamp start, RunKind kind);
  [[nodiscard]] Result<void> UpdateRun(const RunRecord& run);

  [[nodiscard]] Result<std::vector<TaskInstanceRecord>> TaskInstances(const std::string& run_id);
  // Writes every given task instance in one transaction.
  [[nodiscard]] Result<void> UpdateTaskInstances(const std::vector<TaskInstanceRecord>& tasks);

  // Records a new attempt and its task instance's new state together; returns the attempt id.
  [[nodiscard]] Result<std::int64_t> BeginAttempt(const TaskInstanceRecord& task,
                                                  const AttemptRecord& attempt);
  // Records an attempt's end (and pid, once known) with its task instance's new state.
  [[nodiscard]] Result<void> FinishAttempt(const TaskInstanceRecord& task,
                                           const AttemptRecord& attempt);
  // Records how an attempt ended without touching its task instance.
  [[nodiscard]] Result<void> EndAttempt(const AttemptRecord& attempt);
  [[nodiscard]] Result<void> UpdateAttemptProcess(std::int64_t attempt_id, std::int64_t pid,
                                                  std::optional<std::int64_t> start_ticks);
  // Attempts of one task instance (every task of the run when `task_id` is empty), oldest first.
  [[nodiscard]] Result<std::optional<AttemptRecord>> GetAttempt(std::int64_t id);
  [[nodiscard]] Result<std::vector<AttemptRecord>> Attempts(const std::string& run_id,
                                                            const std::string& task_id);

  // Appends to the audit log, which no code path updates or deletes (SQLite triggers agree).
  [[nodiscard]] Result<std::int64_t> AppendAudit(const AuditEvent& event);

  // The newest `limit` audit events, newest first.
  [[nodiscard]] Result<std::vector<AuditEvent>> ListAudit(int limit);
  // The newest audit events that match every given filter, newest first.
  [[nodiscard]] Result<std::vector<AuditEvent>> ListAudit(const AuditQuery& query);

  // --- Scheduling ---------------------------------------------------------------------------

  struct DagVersion {
    std::int64_t id = 0;
    std::string dag_id;
    std::string file_path;
    std::string content_hash;
    std::optional<std::string> content;  // absent for versions recorded before schema v2
  };
  [[nodiscard]] Result<std::optional<DagVersion>> GetDagVersion(std::int64_t id);

  // Runs still queued or running, oldest interval first.
  [[nodiscard]] Result<std::vector<RunRecord>> UnfinishedRuns();
  // The latest interval start of each DAG's scheduled runs (DAGs without any are absent).
  [[nodiscard]] Result<std::map<std::string, Timestamp>> LatestScheduledStarts();
  // Attempts still marked running (after a crash: attempts whose process may be gone).
  [[nodiscard]] Result<std::vector<AttemptRecord>> RunningAttempts();

  [[nodiscard]] Result<std::vector<std::string>> PausedDags();
  // Pauses or unpauses a DAG, with the audit event of who did it, in one transaction.
  [[nodiscard]] Result<void> SetPaused(const std::string& dag_id, bool paused,
                                       const AuditEvent& audit);
  [[nodiscard]] Result<std::vector<PoolRecord>> Pools();
  [[nodiscard]] Result<void> SetPool(const std::string& name, int slots, const AuditEvent& audit);

  // Takes the scheduler lease for `me` unless a live holder has it: `holder_is_gone` decides
  // about the current holder (dead process, stale heartbeat). Returns the holder when refused.
  [[nodiscard]] Result<std::optional<LeaseRecord>> TryAcquireLease(
      const LeaseRecord& me, const std::function<bool(const LeaseRecord&)>& holder_is_gone);
  [[nodiscard]] Result<std::optional<LeaseRecord>> GetLease();
  // Renews the heartbeat; false when the lease is no longer ours.
  [[nodiscard]] Result<bool> Heartbeat(const LeaseRecord& me, Timestamp now);
  [[nodiscard]] Result<void> ReleaseLease(const LeaseRecord& me);

  // A change made from outside a run's driver (clear, mark): writes the run and the given task
  // instances, bumps the run's generation so its driver reloads it, and appends the audit event,
  // all in one transaction.
  // Without `audit` the caller records one event for a change of many runs (inside its batch).
  [[nodiscard]] Result<void> ApplyOutsideChange(const RunRecord& run,
                                                const std::vector<TaskInstanceRecord>& tasks,
                                                const std::optional<AuditEvent>& audit);

  // Records a backfill plan with its new runs (and their task instances) and the audit event in
  // one transaction; `run_ids` are every run it drives, new or existing, in the plan's order.
  // Returns the plan's id.
  [[nodiscard]] Result<std::int64_t> CreateBackfill(
      const BackfillRecord& plan,
      const std::vector<std::pair<RunRecord, std::vector<TaskInstanceRecord>>>& runs,
      const std::vector<std::string>& run_ids, const AuditEvent& audit);
  // The backfills of `dag_id` (every DAG's when empty), newest first, at most `limit`.
  [[nodiscard]] Result<std::vector<BackfillProgress>> ListBackfills(const std::string& dag_id,
                                                                    int limit);
  // With `runs`, also the runs it drives in its plan's order, read in the same snapshot.
  [[nodiscard]] Result<std::optional<BackfillProgress>> GetBackfill(
      std::int64_t id, std::vector<RunRecord>* runs = nullptr);
  // The runs backfill `id` drives, in its plan's order.
  [[nodiscard]] Result<std::vector<RunRecord>> BackfillRuns(std::int64_t id);
  // Notes that backfill `id` was canceled at `now` (the first time counts).
  [[nodiscard]] Result<void> NoteBackfillCanceled(std::int64_t id, Timestamp now);

  // Groups every change made until Commit() into one transaction (the calls above then nest
  // as savepoints); rolled back if destroyed uncommitted. The run loop makes one batch per
  // scheduling step, so a step's changes land together and cost one commit.
  class Batch {
   public:
    Batch(Batch&&) noexcept;
    ~Batch();
    [[nodiscard]] Result<void> Commit();

   private:
    friend class Store;
    struct Impl;
    explicit Batch(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };
  [[nodiscard]] Result<Batch> StartBatch();

  // --- Lineage (state/lineage.cc) ---
  // Records what attempt `attempt_id` read and wrote, in one transaction: a read of content
  // already recorded for its dataset is that version, any other read a new version with no
  // producer (a source, or a change made outside weir); every write is a new version produced
  // by the attempt. Column edges name datasets among these reads and writes.
  [[nodiscard]] Result<void> RecordLineage(std::int64_t attempt_id, const AttemptLineage& lineage,
                                           Timestamp now);
  // Version `version` of the dataset `uri` (its latest when nullopt); nullopt if there is none.
  [[nodiscard]] Result<std::optional<DatasetVersionRecord>> FindDatasetVersion(
      const std::string& uri, std::optional<int> version = std::nullopt);
  // The versions of the dataset `uri`, newest first, at most `limit`.
  [[nodiscard]] Result<std::vector<DatasetVersionRecord>> DatasetVersions(const std::string& uri,
                                                                          int limit);
  // Every dataset URI recorded, sorted.
  [[nodiscard]] Result<std::vector<std::string>> DatasetUris();
  // The provenance of a version (upstream: the attempt that wrote it, what that attempt read,
  // and so on down to the sources) or what was built from it (downstream), at most `max_depth`
  // attempts away (0: no limit).
  [[nodiscard]] Result<LineageGraph> Lineage(std::int64_t version_id, LineageDirection direction,
                                             int max_depth = 0);
  // What the attempts of one run read and wrote.
  [[nodiscard]] Result<LineageGraph> RunLineage(const std::string& run_id);
  // The results of the latest validate attempt that checked `dataset_uri` (in run `run_id`
  // when not empty), in check order; empty when none did.
  [[nodiscard]] Result<std::vector<CheckResultRecord>> CheckResults(const std::string& dataset_uri,
                                                                    const std::string& run_id);
  // --- Task cache (state/lineage.cc) ---
  // The latest successful attempt of DAG `dag_id`'s task `task_id` that recorded a cache key
  // and wrote its outputs itself (not one that was cached).
  [[nodiscard]] Result<std::optional<CacheCandidate>> FindCacheCandidate(
      const std::string& dag_id, const std::string& task_id);
  // What an attempt recorded for the cache: its key, config, note, what it was compared with,
  // and the versions it read. nullopt for an attempt that recorded none.
  [[nodiscard]] Result<std::optional<AttemptCacheRecord>> CacheRecord(std::int64_t attempt_id);

  // Attempts (of one run when `run_id` is not empty) that started or ended at or after `since`,
  // oldest first, each with what it read and wrote: what an OpenLineage export needs.
  [[nodiscard]] Result<std::vector<AttemptExport>> AttemptsForExport(std::optional<Timestamp> since,
                                                                     const std::string& run_id);
  // One attempt, as AttemptsForExport gives it.
  [[nodiscard]] Result<AttemptExport> ExportAttempt(std::int64_t attempt_id);

  Database& database() { return *db_; }

 private:
  explicit Store(std::unique_ptr<Database> db);
  std::unique_ptr<Database> db_;
};

}  // namespace weir::state

#endif  // WEIR_STATE_STATE_H_

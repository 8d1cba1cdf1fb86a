#include "state/schema.h"

#include <fmt/format.h>

#include "state/sqlite.h"

namespace weir::state {
namespace {

// kMigrations[i] takes a database from user_version i to i + 1. Never edit a released entry:
// add a new one. Times are UTC milliseconds since the epoch (INTEGER), portable to PostgreSQL.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the foundation.
    R"sql(
CREATE TABLE dag_versions (
  id             INTEGER PRIMARY KEY,
  dag_id         TEXT NOT NULL,
  file_path      TEXT NOT NULL,
  content_hash   TEXT NOT NULL,
  first_seen_ms  INTEGER NOT NULL,
  UNIQUE (dag_id, content_hash)
);

CREATE TABLE runs (
  run_id             TEXT PRIMARY KEY,
  dag_id             TEXT NOT NULL,
  dag_version_id     INTEGER NOT NULL REFERENCES dag_versions (id),
  kind               TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual', 'backfill')),
  state              TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
  interval_start_ms  INTEGER NOT NULL,
  interval_end_ms    INTEGER NOT NULL,
  logical_date_ms    INTEGER NOT NULL,
  params_json        TEXT NOT NULL DEFAULT '{}',
  created_at_ms      INTEGER NOT NULL,
  started_at_ms      INTEGER,
  ended_at_ms        INTEGER
);
CREATE INDEX runs_by_dag ON runs (dag_id, interval_start_ms);
CREATE INDEX runs_by_state ON runs (state);

CREATE TABLE task_instances (
  run_id          TEXT NOT NULL REFERENCES runs (run_id),
  task_id         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'scheduled', 'queued', 'running',
                    'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped', 'cached')),
  try_number      INTEGER NOT NULL DEFAULT 0,
  max_tries       INTEGER NOT NULL DEFAULT 1,
  priority        INTEGER NOT NULL DEFAULT 0,
  next_try_at_ms  INTEGER,
  started_at_ms   INTEGER,
  ended_at_ms     INTEGER,
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE attempts (
  id                   INTEGER PRIMARY KEY,
  run_id               TEXT NOT NULL,
  task_id              TEXT NOT NULL,
  try_number           INTEGER NOT NULL,
  state                TEXT NOT NULL CHECK (state IN ('running', 'success', 'failed', 'skipped')),
  pid                  INTEGER,
  process_start_ticks  INTEGER,
  exit_code            INTEGER,
  signal               INTEGER,
  reason               TEXT NOT NULL DEFAULT '',
  log_path             TEXT NOT NULL,
  started_at_ms        INTEGER NOT NULL,
  ended_at_ms          INTEGER,
  UNIQUE (run_id, task_id, try_number),
  FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id)
);
CREATE INDEX attempts_running ON attempts (state) WHERE state = 'running';

CREATE TABLE audit_events (
  id            INTEGER PRIMARY KEY,
  at_ms         INTEGER NOT NULL,
  actor         TEXT NOT NULL,
  source        TEXT NOT NULL CHECK (source IN ('cli', 'api', 'scheduler')),
  action        TEXT NOT NULL,
  target        TEXT NOT NULL,
  reason        TEXT NOT NULL DEFAULT '',
  details_json  TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
)sql",
    // 1 -> 2: scheduling. DAG file contents (so a run keeps its version), pause, pools, the
    // scheduler lease, persisted backfill plans, who drives a run, and retries not counted
    // because the scheduler (not the task) died.
    R"sql(
ALTER TABLE dag_versions ADD COLUMN content TEXT;

CREATE TABLE dag_settings (
  dag_id         TEXT PRIMARY KEY,
  paused         INTEGER NOT NULL DEFAULT 0,
  updated_at_ms  INTEGER NOT NULL
);

CREATE TABLE pools (
  name           TEXT PRIMARY KEY,
  slots          INTEGER NOT NULL CHECK (slots >= 0),
  updated_at_ms  INTEGER NOT NULL
);
INSERT INTO pools (name, slots, updated_at_ms) VALUES ('default', 128, 0);

CREATE TABLE scheduler_lease (
  id                   INTEGER PRIMARY KEY CHECK (id = 1),
  holder               TEXT NOT NULL,
  host                 TEXT NOT NULL,
  pid                  INTEGER NOT NULL,
  process_start_ticks  INTEGER,
  acquired_at_ms       INTEGER NOT NULL,
  heartbeat_at_ms      INTEGER NOT NULL
);

CREATE TABLE backfills (
  id             INTEGER PRIMARY KEY,
  dag_id         TEXT NOT NULL,
  from_date      TEXT NOT NULL,
  to_date        TEXT NOT NULL,
  options_json   TEXT NOT NULL DEFAULT '{}',
  state          TEXT NOT NULL CHECK (state IN ('running', 'done')),
  actor          TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  ended_at_ms    INTEGER
);

ALTER TABLE runs ADD COLUMN backfill_id INTEGER REFERENCES backfills (id);
ALTER TABLE runs ADD COLUMN driver_host TEXT;
ALTER TABLE runs ADD COLUMN driver_pid INTEGER;
ALTER TABLE runs ADD COLUMN driver_start_ticks INTEGER;
ALTER TABLE runs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

ALTER TABLE task_instances ADD COLUMN free_tries INTEGER NOT NULL DEFAULT 0;
)sql",
    // 2 -> 3: datasets and lineage. Every dataset version with the attempt that wrote it, what
    // each attempt read, and which columns came from which.
    R"sql(
CREATE TABLE datasets (
  id             INTEGER PRIMARY KEY,
  uri            TEXT NOT NULL UNIQUE,
  first_seen_ms  INTEGER NOT NULL
);

CREATE TABLE dataset_versions (
  id              INTEGER PRIMARY KEY,
  dataset_id      INTEGER NOT NULL REFERENCES datasets (id),
  version         INTEGER NOT NULL,
  fingerprint     TEXT NOT NULL,
  schema_json     TEXT NOT NULL DEFAULT '[]',
  row_count       INTEGER,
  bytes           INTEGER,
  attempt_id      INTEGER REFERENCES attempts (id),
  recorded_at_ms  INTEGER NOT NULL,
  UNIQUE (dataset_id, version)
);
CREATE INDEX dataset_versions_by_attempt ON dataset_versions (attempt_id);

CREATE TABLE attempt_reads (
  attempt_id  INTEGER NOT NULL REFERENCES attempts (id),
  version_id  INTEGER NOT NULL REFERENCES dataset_versions (id),
  PRIMARY KEY (attempt_id, version_id)
) WITHOUT ROWID;
CREATE INDEX attempt_reads_by_version ON attempt_reads (version_id, attempt_id);

CREATE TABLE column_lineage (
  output_version_id  INTEGER NOT NULL REFERENCES dataset_versions (id),
  output_column      TEXT NOT NULL,
  input_version_id   INTEGER NOT NULL REFERENCES dataset_versions (id),
  input_column       TEXT NOT NULL,
  transformation     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (output_version_id, output_column, input_version_id, input_column)
) WITHOUT ROWID;
CREATE INDEX column_lineage_by_input ON column_lineage (input_version_id);

ALTER TABLE attempts ADD COLUMN config_hash TEXT;
)sql",
    // 3 -> 4: the task cache. What each attempt's cache key was, what it was compared with and
    // why it ran or was skipped, the rendered config (for `weir explain`), and runs that must
    // not use the cache.
    R"sql(
ALTER TABLE attempts ADD COLUMN cache_key TEXT;
ALTER TABLE attempts ADD COLUMN config_json TEXT;
ALTER TABLE attempts ADD COLUMN cache_note TEXT;
ALTER TABLE attempts ADD COLUMN cache_compared_to INTEGER REFERENCES attempts (id);
CREATE INDEX attempts_cache ON attempts (task_id, id) WHERE cache_key IS NOT NULL;
ALTER TABLE runs ADD COLUMN no_cache INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4 -> 5: data quality. The result of each check a validate attempt ran on a dataset version,
    // and the counts a built-in kind reports (rows read, written, rejected; checks failed).
    R"sql(
CREATE TABLE check_results (
  attempt_id     INTEGER NOT NULL REFERENCES attempts (id),
  position       INTEGER NOT NULL,
  version_id     INTEGER REFERENCES dataset_versions (id),
  dataset_uri    TEXT NOT NULL,
  check_name     TEXT NOT NULL,
  column_name    TEXT NOT NULL DEFAULT '',
  method         TEXT NOT NULL DEFAULT '',
  severity       TEXT NOT NULL,
  observed       REAL,
  p_value        REAL,
  threshold      REAL,
  passed         INTEGER NOT NULL,
  failing_count  INTEGER NOT NULL,
  total_count    INTEGER NOT NULL,
  failing_rows   TEXT NOT NULL DEFAULT '[]',
  detail         TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (attempt_id, position)
) WITHOUT ROWID;
CREATE INDEX check_results_by_dataset ON check_results (dataset_uri, attempt_id);

ALTER TABLE attempts ADD COLUMN metrics_json TEXT;
)sql",
    // 5 -> 6: which runs each backfill drives (the runs it created, resumed or ran again), in
    // its plan's order. A backfill's state and end are counted from them; the stored ones are
    // dropped (nothing marked a backfill done that a scheduler or the API drove), and when it
    // was canceled is kept. Earlier backfills get the runs they created, oldest interval first.
    R"sql(
CREATE TABLE backfill_runs (
  backfill_id  INTEGER NOT NULL REFERENCES backfills (id),
  position     INTEGER NOT NULL,
  run_id       TEXT NOT NULL REFERENCES runs (run_id),
  PRIMARY KEY (backfill_id, position)
) WITHOUT ROWID;
INSERT INTO backfill_runs (backfill_id, position, run_id)
  SELECT backfill_id,
         row_number() OVER (PARTITION BY backfill_id ORDER BY interval_start_ms, run_id) - 1,
         run_id
  FROM runs WHERE backfill_id IS NOT NULL;
CREATE INDEX backfills_by_dag ON backfills (dag_id, id);
ALTER TABLE backfills DROP COLUMN state;
ALTER TABLE backfills DROP COLUMN ended_at_ms;
ALTER TABLE backfills ADD COLUMN canceled_at_ms INTEGER;
)sql",
};

constexpr int kCurrentVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

Result<int> UserVersion(Database& db) {
  auto stmt = db.Prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  int version = static_cast<int>((*stmt)->Int(0));
  (*stmt)->Reset();
  return version;
}

}  // namespace

int CurrentSchemaVersion() { return kCurrentVersion; }

Result<void> Migrate(Database& db, int target) {
  if (target < 0) target = kCurrentVersion;
  auto version = UserVersion(db);
  if (!version) return std::unexpected(version.error());
  if (*version > kCurrentVersion) {
    return Fail(ErrorCode::kFailedPrecondition,
                fmt::format("the state database has schema version {}, newer than this weir "
                            "knows ({}); use a newer weir",
                            *version, kCurrentVersion));
  }
  for (int v = *version; v < target; ++v) {
    auto txn = WriteTransaction::Begin(db);
    if (!txn) return std::unexpected(txn.error());
    // Re-read inside the write lock: another process may have migrated meanwhile.
    auto current = UserVersion(db);
    if (!current) return std::unexpected(current.error());
    if (*current > v) continue;
    auto applied = db.Exec(kMigrations[v]);
    if (!applied) {
      return Fail(applied.error().code,
                  fmt::format("migrating the state database to version {}: {}", v + 1,
                              applied.error().message));
    }
    auto bumped = db.Exec(fmt::format("PRAGMA user_version = {}", v + 1));
    if (!bumped) return bumped;
    auto committed = txn->Commit();
    if (!committed) return committed;
  }
  return {};
}

}  // namespace weir::state

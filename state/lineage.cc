// The store's lineage: datasets, their versions, what each attempt read and wrote, and the
// provenance graph walked from any version (docs/lineage.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "state/rows.h"
#include "state/state.h"

namespace weir::state {
namespace {

constexpr const char* kVersionColumns =
    "v.id, d.uri, v.version, v.fingerprint, v.schema_json, v.row_count, v.bytes, v.attempt_id, "
    "v.recorded_at_ms";

DatasetVersionRecord ReadVersion(const Statement& s) {
  DatasetVersionRecord v;
  v.id = s.Int(0);
  v.uri = s.Text(1);
  v.version = static_cast<int>(s.Int(2));
  v.fingerprint = s.Text(3);
  v.schema_json = s.Text(4);
  v.row_count = s.OptionalInt(5);
  v.bytes = s.OptionalInt(6);
  v.attempt_id = s.OptionalInt(7);
  v.recorded_at = FromMillis(s.Int(8));
  return v;
}

Result<std::int64_t> EnsureDataset(Database& db, const std::string& uri, Timestamp now) {
  auto insert = db.Prepare(
      "INSERT INTO datasets (uri, first_seen_ms) VALUES (?1, ?2) ON CONFLICT (uri) DO NOTHING");
  if (!insert) return std::unexpected(insert.error());
  if (auto ok = (*insert)->Bind(1, uri).Bind(2, ToMillis(now)).Run(); !ok) {
    return std::unexpected(ok.error());
  }
  auto select = db.Prepare("SELECT id FROM datasets WHERE uri = ?1");
  if (!select) return std::unexpected(select.error());
  (*select)->Bind(1, uri);
  auto row = (*select)->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return Fail(ErrorCode::kInternal, "dataset vanished after insert");
  std::int64_t id = (*select)->Int(0);
  (*select)->Reset();
  return id;
}

// The latest version of a dataset: (id, version number, fingerprint), if any.
Result<std::optional<std::tuple<std::int64_t, int, std::string>>> LatestVersion(
    Database& db, std::int64_t dataset_id) {
  auto stmt = db.Prepare(
      "SELECT id, version, fingerprint FROM dataset_versions WHERE dataset_id = ?1 "
      "ORDER BY version DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, dataset_id);
  auto row = (*stmt)->Step();
  if (!row) return std::unexpected(row.error());
  std::optional<std::tuple<std::int64_t, int, std::string>> out;
  if (*row) {
    out.emplace((*stmt)->Int(0), static_cast<int>((*stmt)->Int(1)), (*stmt)->Text(2));
  }
  (*stmt)->Reset();
  return out;
}

Result<std::int64_t> InsertVersion(Database& db, std::int64_t dataset_id, int version,
                                   const ObservedDataset& seen,
                                   std::optional<std::int64_t> attempt_id, Timestamp now) {
  auto stmt = db.Prepare(
      "INSERT INTO dataset_versions (dataset_id, version, fingerprint, schema_json, row_count, "
      "bytes, attempt_id, recorded_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!stmt) return std::unexpected(stmt.error());
  auto ok = (*stmt)
                ->Bind(1, dataset_id)
                .Bind(2, version)
                .Bind(3, seen.fingerprint)
                .Bind(4, seen.schema_json)
                .Bind(5, seen.row_count)
                .Bind(6, seen.bytes)
                .Bind(7, attempt_id)
                .Bind(8, ToMillis(now))
                .Run();
  if (!ok) return std::unexpected(ok.error());
  return db.LastInsertRowId();
}

// Runs a query of one int64 parameter whose rows are a single id each.
Result<std::vector<std::int64_t>> Ids(Database& db, const std::string& sql, std::int64_t arg) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, arg);
  return CollectRows<std::int64_t>(**stmt, [](const Statement& s) { return s.Int(0); });
}

constexpr const char* kReadsOfAttempt =
    "SELECT version_id FROM attempt_reads WHERE attempt_id = ?1 ORDER BY version_id";
constexpr const char* kWritesOfAttempt =
    "SELECT id FROM dataset_versions WHERE attempt_id = ?1 ORDER BY id";
constexpr const char* kReadersOfVersion =
    "SELECT attempt_id FROM attempt_reads WHERE version_id = ?1 ORDER BY attempt_id";

// Collects versions, attempts and edges into a graph, each node once.
class GraphBuilder {
 public:
  explicit GraphBuilder(Database& db) : db_(db) {}

  // Adds the version; true when it was not there yet.
  Result<bool> AddVersion(std::int64_t id) {
    if (!versions_.insert(id).second) return false;
    static const std::string kSql = fmt::format(
        "SELECT {} FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE v.id = ?1",
        kVersionColumns);
    auto stmt = db_.Prepare(kSql);
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id);
    auto rows = CollectRows<DatasetVersionRecord>(**stmt, ReadVersion);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return Fail(ErrorCode::kNotFound, fmt::format("no dataset version {}", id));
    graph_.versions.push_back(std::move(rows->front()));
    return true;
  }

  Result<bool> AddAttempt(std::int64_t id) {
    if (!attempts_.insert(id).second) return false;
    static const std::string kSql = fmt::format(
        "SELECT {}, r.dag_id, dv.file_path, dv.content_hash, r.params_json, "
        "coalesce(a.config_hash, ''), r.interval_start_ms, r.interval_end_ms "
        "FROM attempts a JOIN runs r ON r.run_id = a.run_id "
        "JOIN dag_versions dv ON dv.id = r.dag_version_id WHERE a.id = ?1",
        Qualified("a.", kAttemptColumns));
    auto stmt = db_.Prepare(kSql);
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->Bind(1, id);
    auto rows = CollectRows<LineageAttempt>(**stmt, [](const Statement& s) {
      LineageAttempt a;
      a.attempt = ReadAttempt(s);
      a.dag_id = s.Text(13);
      a.dag_file = s.Text(14);
      a.dag_hash = s.Text(15);
      a.params_json = s.Text(16);
      a.config_hash = s.Text(17);
      a.interval_start = FromMillis(s.Int(18));
      a.interval_end = FromMillis(s.Int(19));
      return a;
    });
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return Fail(ErrorCode::kNotFound, fmt::format("no attempt {}", id));
    graph_.attempts.push_back(std::move(rows->front()));
    return true;
  }

  // Adds the attempt with every version it read and wrote (unless it has none and
  // `skip_without_io`); true when it was added.
  Result<bool> AddAttemptWithIo(std::int64_t attempt, bool skip_without_io) {
    auto reads = Ids(db_, kReadsOfAttempt, attempt);
    if (!reads) return std::unexpected(reads.error());
    auto writes = Ids(db_, kWritesOfAttempt, attempt);
    if (!writes) return std::unexpected(writes.error());
    if (skip_without_io && reads->empty() && writes->empty()) return false;
    if (auto ok = AddAttempt(attempt); !ok) return std::unexpected(ok.error());
    for (std::int64_t v : *reads) {
      if (auto ok = AddVersion(v); !ok) return std::unexpected(ok.error());
      Read(attempt, v);
    }
    for (std::int64_t v : *writes) {
      if (auto ok = AddVersion(v); !ok) return std::unexpected(ok.error());
      Wrote(attempt, v);
    }
    return true;
  }

  void Read(std::int64_t attempt, std::int64_t version) {
    graph_.reads.emplace_back(attempt, version);
  }
  void Wrote(std::int64_t attempt, std::int64_t version) {
    graph_.writes.emplace_back(attempt, version);
  }

  // Adds the column edges whose both ends are in the graph, and returns the graph.
  Result<LineageGraph> Finish() {
    for (const DatasetVersionRecord& v : graph_.versions) {
      auto stmt = db_.Prepare(
          "SELECT output_version_id, output_column, input_version_id, input_column, "
          "transformation FROM column_lineage WHERE output_version_id = ?1 "
          "ORDER BY output_column, input_version_id, input_column");
      if (!stmt) return std::unexpected(stmt.error());
      (*stmt)->Bind(1, v.id);
      auto rows = CollectRows<ColumnLineageRecord>(**stmt, [](const Statement& s) {
        return ColumnLineageRecord{s.Int(0), s.Text(1), s.Int(2), s.Text(3), s.Text(4)};
      });
      if (!rows) return std::unexpected(rows.error());
      for (ColumnLineageRecord& c : *rows) {
        if (versions_.count(c.input_version_id) != 0) graph_.columns.push_back(std::move(c));
      }
    }
    return std::move(graph_);
  }

 private:
  // "id, run_id" -> "a.id, a.run_id"
  static std::string Qualified(std::string_view prefix, std::string_view columns) {
    std::string out(prefix);
    for (char c : columns) {
      out += c;
      if (c == ' ') out += prefix;
    }
    return out;
  }

  Database& db_;
  std::set<std::int64_t> versions_;
  std::set<std::int64_t> attempts_;
  LineageGraph graph_;
};

}  // namespace

namespace {

// The check results attempt `attempt_id` recorded (on `dataset_uri` only, when not empty).
Result<std::vector<CheckResultRecord>> ReadCheckResults(Database& db, std::int64_t attempt_id,
                                                        const std::string& dataset_uri) {
  auto stmt = db.Prepare(
      "SELECT c.dataset_uri, v.version, c.check_name, c.column_name, c.method, c.severity, "
      "c.observed, c.p_value, c.threshold, c.passed, c.failing_count, c.total_count, "
      "c.failing_rows, c.detail, a.id, a.run_id, a.task_id, a.try_number, a.ended_at_ms "
      "FROM check_results c JOIN attempts a ON a.id = c.attempt_id "
      "LEFT JOIN dataset_versions v ON v.id = c.version_id "
      "WHERE c.attempt_id = ?1 AND (?2 = '' OR c.dataset_uri = ?2) ORDER BY c.position");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, attempt_id).Bind(2, dataset_uri);
  auto real = [](const Statement& s, int col) -> std::optional<double> {
    if (s.IsNull(col)) return std::nullopt;
    return s.Real(col);
  };
  return CollectRows<CheckResultRecord>(**stmt, [&](const Statement& s) {
    CheckResultRecord c;
    c.dataset_uri = s.Text(0);
    if (auto v = s.OptionalInt(1)) c.dataset_version = static_cast<int>(*v);
    c.check = s.Text(2);
    c.column = s.Text(3);
    c.method = s.Text(4);
    c.severity = s.Text(5);
    c.observed = real(s, 6);
    c.p_value = real(s, 7);
    c.threshold = real(s, 8);
    c.passed = s.Int(9) != 0;
    c.failing_count = s.Int(10);
    c.total = s.Int(11);
    c.failing_rows = s.Text(12);
    c.detail = s.Text(13);
    c.attempt_id = s.Int(14);
    c.run_id = s.Text(15);
    c.task_id = s.Text(16);
    c.try_number = static_cast<int>(s.Int(17));
    if (auto end = OptionalTime(s, 18)) c.ended_at = *end;
    return c;
  });
}

}  // namespace

Result<void> Store::RecordLineage(std::int64_t attempt_id, const AttemptLineage& lineage,
                                  Timestamp now) {
  Database& db = *db_;
  return InTransaction(db, [&]() -> Result<void> {
    std::map<std::string, std::int64_t> read_versions, written_versions;
    for (const ObservedDataset& seen : lineage.reads) {
      auto dataset = EnsureDataset(db, seen.uri, now);
      if (!dataset) return std::unexpected(dataset.error());
      auto latest = LatestVersion(db, *dataset);
      if (!latest) return std::unexpected(latest.error());
      std::int64_t version_id = 0;
      if (*latest && std::get<2>(**latest) == seen.fingerprint) {
        version_id = std::get<0>(**latest);
      } else {
        auto inserted = InsertVersion(db, *dataset, *latest ? std::get<1>(**latest) + 1 : 1, seen,
                                      std::nullopt, now);
        if (!inserted) return std::unexpected(inserted.error());
        version_id = *inserted;
      }
      read_versions[seen.uri] = version_id;
      auto edge = db.Prepare(
          "INSERT INTO attempt_reads (attempt_id, version_id) VALUES (?1, ?2) "
          "ON CONFLICT DO NOTHING");
      if (!edge) return std::unexpected(edge.error());
      if (auto ok = (*edge)->Bind(1, attempt_id).Bind(2, version_id).Run(); !ok) return ok;
    }
    for (const ObservedDataset& seen : lineage.writes) {
      auto dataset = EnsureDataset(db, seen.uri, now);
      if (!dataset) return std::unexpected(dataset.error());
      auto latest = LatestVersion(db, *dataset);
      if (!latest) return std::unexpected(latest.error());
      auto inserted = InsertVersion(db, *dataset, *latest ? std::get<1>(**latest) + 1 : 1, seen,
                                    attempt_id, now);
      if (!inserted) return std::unexpected(inserted.error());
      written_versions[seen.uri] = *inserted;
    }
    for (const ColumnEdge& edge : lineage.columns) {
      auto out = written_versions.find(edge.output_uri);
      auto in = read_versions.find(edge.input_uri);
      if (out == written_versions.end() || in == read_versions.end()) {
        return Fail(
            ErrorCode::kInvalidArgument,
            fmt::format("column lineage {}#{} <- {}#{} names a dataset the attempt did "
                        "not write or read",
                        edge.output_uri, edge.output_column, edge.input_uri, edge.input_column));
      }
      auto stmt = db.Prepare(
          "INSERT INTO column_lineage (output_version_id, output_column, input_version_id, "
          "input_column, transformation) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
      if (!stmt) return std::unexpected(stmt.error());
      auto ok = (*stmt)
                    ->Bind(1, out->second)
                    .Bind(2, edge.output_column)
                    .Bind(3, in->second)
                    .Bind(4, edge.input_column)
                    .Bind(5, edge.transformation)
                    .Run();
      if (!ok) return ok;
    }
    if (!lineage.config_hash.empty() || !lineage.cache_key.empty()) {
      auto stmt = db.Prepare(
          "UPDATE attempts SET config_hash = nullif(?2, ''), cache_key = nullif(?3, ''), "
          "config_json = nullif(?4, ''), cache_note = nullif(?5, ''), cache_compared_to = ?6 "
          "WHERE id = ?1");
      if (!stmt) return std::unexpected(stmt.error());
      auto ok = (*stmt)
                    ->Bind(1, attempt_id)
                    .Bind(2, lineage.config_hash)
                    .Bind(3, lineage.cache_key)
                    .Bind(4, lineage.config_json)
                    .Bind(5, lineage.cache_note)
                    .Bind(6, lineage.cache_compared_to)
                    .Run();
      if (!ok) return ok;
    }
    if (!lineage.metrics.empty()) {
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& [name, value] : lineage.metrics) metrics[name] = value;
      auto stmt = db.Prepare("UPDATE attempts SET metrics_json = ?2 WHERE id = ?1");
      if (!stmt) return std::unexpected(stmt.error());
      if (auto ok = (*stmt)->Bind(1, attempt_id).Bind(2, metrics.dump()).Run(); !ok) return ok;
    }
    for (std::size_t i = 0; i < lineage.checks.size(); ++i) {
      const CheckResultRecord& c = lineage.checks[i];
      auto version = read_versions.find(c.dataset_uri);
      auto stmt = db.Prepare(
          "INSERT INTO check_results (attempt_id, position, version_id, dataset_uri, check_name, "
          "column_name, method, severity, observed, p_value, threshold, passed, failing_count, "
          "total_count, failing_rows, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
          "?11, ?12, ?13, ?14, ?15, ?16)");
      if (!stmt) return std::unexpected(stmt.error());
      auto ok = (*stmt)
                    ->Bind(1, attempt_id)
                    .Bind(2, static_cast<std::int64_t>(i))
                    .Bind(3, version == read_versions.end()
                                 ? std::nullopt
                                 : std::optional<std::int64_t>(version->second))
                    .Bind(4, c.dataset_uri)
                    .Bind(5, c.check)
                    .Bind(6, c.column)
                    .Bind(7, c.method)
                    .Bind(8, c.severity)
                    .Bind(9, c.observed)
                    .Bind(10, c.p_value)
                    .Bind(11, c.threshold)
                    .Bind(12, c.passed ? 1 : 0)
                    .Bind(13, c.failing_count)
                    .Bind(14, c.total)
                    .Bind(15, c.failing_rows)
                    .Bind(16, c.detail)
                    .Run();
      if (!ok) return ok;
    }
    return {};
  });
}

Result<std::vector<CheckResultRecord>> Store::CheckResults(const std::string& dataset_uri,
                                                           const std::string& run_id) {
  Database& db = *db_;
  // The latest attempt that checked the dataset (in the run, when one is named).
  auto latest = db.Prepare(
      "SELECT max(c.attempt_id) FROM check_results c JOIN attempts a ON a.id = c.attempt_id "
      "WHERE c.dataset_uri = ?1 AND (?2 = '' OR a.run_id = ?2)");
  if (!latest) return std::unexpected(latest.error());
  (*latest)->Bind(1, dataset_uri).Bind(2, run_id);
  auto row = (*latest)->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row || (*latest)->IsNull(0)) return std::vector<CheckResultRecord>{};
  const std::int64_t attempt_id = (*latest)->Int(0);
  return ReadCheckResults(db, attempt_id, dataset_uri);
}

Result<std::optional<DatasetVersionRecord>> Store::FindDatasetVersion(const std::string& uri,
                                                                      std::optional<int> version) {
  auto stmt = db_->Prepare(fmt::format(
      "SELECT {} FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id "
      "WHERE d.uri = ?1 AND (?2 IS NULL OR v.version = ?2) ORDER BY v.version DESC LIMIT 1",
      kVersionColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, uri).Bind(2, version);
  auto rows = CollectRows<DatasetVersionRecord>(**stmt, ReadVersion);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<DatasetVersionRecord>();
  return std::optional<DatasetVersionRecord>(std::move(rows->front()));
}

Result<std::vector<DatasetVersionRecord>> Store::DatasetVersions(const std::string& uri,
                                                                 int limit) {
  auto stmt = db_->Prepare(
      fmt::format("SELECT {} FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id "
                  "WHERE d.uri = ?1 ORDER BY v.version DESC LIMIT ?2",
                  kVersionColumns));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, uri).Bind(2, limit);
  return CollectRows<DatasetVersionRecord>(**stmt, ReadVersion);
}

Result<std::vector<std::string>> Store::DatasetUris() {
  auto stmt = db_->Prepare("SELECT uri FROM datasets ORDER BY uri");
  if (!stmt) return std::unexpected(stmt.error());
  return CollectRows<std::string>(**stmt, [](const Statement& s) { return s.Text(0); });
}

Result<LineageGraph> Store::Lineage(std::int64_t version_id, LineageDirection direction,
                                    int max_depth) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  GraphBuilder graph(db);
  if (auto added = graph.AddVersion(version_id); !added) return std::unexpected(added.error());
  std::deque<std::pair<std::int64_t, int>> todo = {{version_id, 0}};  // (version, depth)
  while (!todo.empty()) {
    auto [version, depth] = todo.front();
    todo.pop_front();
    if (max_depth > 0 && depth >= max_depth) continue;
    // Upstream: the attempt that wrote this version; downstream: the attempts that read it.
    std::vector<std::int64_t> attempts;
    if (direction == LineageDirection::kUpstream) {
      auto producer = Ids(db,
                          "SELECT attempt_id FROM dataset_versions WHERE id = ?1 AND "
                          "attempt_id IS NOT NULL",
                          version);
      if (!producer) return std::unexpected(producer.error());
      attempts = std::move(*producer);
    } else {
      auto readers = Ids(db, kReadersOfVersion, version);
      if (!readers) return std::unexpected(readers.error());
      attempts = std::move(*readers);
    }
    for (std::int64_t attempt : attempts) {
      auto new_attempt = graph.AddAttempt(attempt);
      if (!new_attempt) return std::unexpected(new_attempt.error());
      if (direction == LineageDirection::kUpstream) {
        graph.Wrote(attempt, version);
      } else {
        graph.Read(attempt, version);
      }
      if (!*new_attempt) continue;  // its other side is already in the graph
      auto next =
          Ids(db, direction == LineageDirection::kUpstream ? kReadsOfAttempt : kWritesOfAttempt,
              attempt);
      if (!next) return std::unexpected(next.error());
      for (std::int64_t v : *next) {
        auto new_version = graph.AddVersion(v);
        if (!new_version) return std::unexpected(new_version.error());
        if (direction == LineageDirection::kUpstream) {
          graph.Read(attempt, v);
        } else {
          graph.Wrote(attempt, v);
        }
        if (*new_version) todo.emplace_back(v, depth + 1);
      }
    }
  }
  return graph.Finish();
}

Result<LineageGraph> Store::RunLineage(const std::string& run_id) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  auto stmt = db.Prepare("SELECT id FROM attempts WHERE run_id = ?1 ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, run_id);
  auto attempts = CollectRows<std::int64_t>(**stmt, [](const Statement& s) { return s.Int(0); });
  if (!attempts) return std::unexpected(attempts.error());
  GraphBuilder graph(db);
  for (std::int64_t attempt : *attempts) {
    if (auto ok = graph.AddAttemptWithIo(attempt, /*skip_without_io=*/true); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return graph.Finish();
}

Result<AttemptExport> Store::ExportAttempt(std::int64_t attempt) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  GraphBuilder graph(db);
  if (auto ok = graph.AddAttemptWithIo(attempt, /*skip_without_io=*/false); !ok) {
    return std::unexpected(ok.error());
  }
  auto built = graph.Finish();
  if (!built) return std::unexpected(built.error());
  AttemptExport e;
  e.attempt = std::move(built->attempts.front());
  std::set<std::int64_t> read_ids, written_ids;
  for (auto [a, v] : built->reads) read_ids.insert(v);
  for (auto [a, v] : built->writes) written_ids.insert(v);
  for (DatasetVersionRecord& v : built->versions) {
    if (read_ids.count(v.id) != 0) e.reads.push_back(v);
    if (written_ids.count(v.id) != 0) e.writes.push_back(std::move(v));
  }
  e.columns = std::move(built->columns);
  auto checks = ReadCheckResults(db, attempt, "");
  if (!checks) return std::unexpected(checks.error());
  e.checks = std::move(*checks);
  return e;
}

Result<std::vector<AttemptExport>> Store::AttemptsForExport(std::optional<Timestamp> since,
                                                            const std::string& run_id) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  auto stmt = db.Prepare(
      "SELECT id FROM attempts WHERE (?1 = '' OR run_id = ?1) AND (?2 IS NULL OR "
      "started_at_ms >= ?2 OR ended_at_ms >= ?2) ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, run_id).Bind(2, OptionalMillis(since));
  auto ids = CollectRows<std::int64_t>(**stmt, [](const Statement& s) { return s.Int(0); });
  if (!ids) return std::unexpected(ids.error());
  std::vector<AttemptExport> out;
  for (std::int64_t attempt : *ids) {
    auto one = ExportAttempt(attempt);
    if (!one) return std::unexpected(one.error());
    out.push_back(std::move(*one));
  }
  return out;
}

Result<std::optional<CacheCandidate>> Store::FindCacheCandidate(const std::string& dag_id,
                                                                const std::string& task_id) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  auto stmt = db.Prepare(
      "SELECT a.id, a.run_id, a.try_number, a.cache_key FROM attempts a "
      "JOIN runs r ON r.run_id = a.run_id WHERE a.task_id = ?1 AND a.cache_key IS NOT NULL "
      "AND r.dag_id = ?2 AND a.state = 'success' AND EXISTS (SELECT 1 FROM dataset_versions v "
      "WHERE v.attempt_id = a.id) ORDER BY a.id DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, task_id).Bind(2, dag_id);
  auto rows = CollectRows<CacheCandidate>(**stmt, [](const Statement& s) {
    return CacheCandidate{s.Int(0), s.Text(1), static_cast<int>(s.Int(2)), s.Text(3), {}};
  });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<CacheCandidate>();
  CacheCandidate candidate = std::move(rows->front());
  auto outputs = db.Prepare(
      "SELECT d.uri, v.fingerprint FROM dataset_versions v JOIN datasets d ON d.id = "
      "v.dataset_id WHERE v.attempt_id = ?1 ORDER BY d.uri");
  if (!outputs) return std::unexpected(outputs.error());
  (*outputs)->Bind(1, candidate.attempt_id);
  auto written =
      CollectRows<std::pair<std::string, std::string>>(**outputs, [](const Statement& s) {
        return std::pair{s.Text(0), s.Text(1)};
      });
  if (!written) return std::unexpected(written.error());
  candidate.outputs = std::move(*written);
  return std::optional<CacheCandidate>(std::move(candidate));
}

Result<std::optional<AttemptCacheRecord>> Store::CacheRecord(std::int64_t attempt_id) {
  Database& db = *db_;
  ReadSnapshot snapshot(db);
  auto stmt = db.Prepare(
      "SELECT coalesce(cache_key, ''), coalesce(config_json, ''), coalesce(config_hash, ''), "
      "coalesce(cache_note, ''), cache_compared_to FROM attempts WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->Bind(1, attempt_id);
  auto rows = CollectRows<AttemptCacheRecord>(**stmt, [&](const Statement& s) {
    return AttemptCacheRecord{attempt_id, s.Text(0),        s.Text(1), s.Text(2),
                              s.Text(3),  s.OptionalInt(4), {}};
  });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || (rows->front().cache_key.empty() && rows->front().cache_note.empty())) {
    return std::optional<AttemptCacheRecord>();
  }
  AttemptCacheRecord record = std::move(rows->front());
  auto reads = Ids(db, kReadsOfAttempt, attempt_id);
  if (!reads) return std::unexpected(reads.error());
  GraphBuilder graph(db);
  for (std::int64_t v : *reads) {
    if (auto ok = graph.AddVersion(v); !ok) return std::unexpected(ok.error());
  }
  auto built = graph.Finish();
  if (!built) return std::unexpected(built.error());
  record.reads = std::move(built->versions);
  return std::optional<AttemptCacheRecord>(std::move(record));
}

namespace {
std::string Json(const std::string& text) { return dags::Value::String(text).ToJson(); }
std::string JsonOr(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("null");
}
}  // namespace

std::string LineageGraphToJson(const LineageGraph& g, std::optional<std::int64_t> root) {
  std::vector<std::string> versions, attempts, reads, writes, columns;
  for (const auto& v : g.versions) {
    versions.push_back(fmt::format(
        R"({{"id":{},"dataset":{},"version":{},"fingerprint":{},"schema":{},"rows":{},)"
        R"("bytes":{},"written_by":{},"recorded_at":"{}"}})",
        v.id, Json(v.uri), v.version, Json(v.fingerprint), v.schema_json, JsonOr(v.row_count),
        JsonOr(v.bytes), JsonOr(v.attempt_id), FormatIso(v.recorded_at)));
  }
  for (const auto& a : g.attempts) {
    const AttemptRecord& t = a.attempt;
    attempts.push_back(fmt::format(
        R"({{"id":{},"run":{},"dag":{},"task":{},"try":{},"state":"{}","exit_code":{},)"
        R"("signal":{},"started_at":"{}","ended_at":{},"dag_file":{},"dag_hash":{},)"
        R"("config_hash":{},"params":{},"interval_start":"{}","interval_end":"{}"}})",
        t.id, Json(t.run_id), Json(a.dag_id), Json(t.task_id), t.try_number, Name(t.state),
        JsonOr(t.exit_code ? std::optional<std::int64_t>(*t.exit_code) : std::nullopt),
        JsonOr(t.signal ? std::optional<std::int64_t>(*t.signal) : std::nullopt),
        FormatIso(t.started_at), t.ended_at ? Json(FormatIso(*t.ended_at)) : "null",
        Json(a.dag_file), Json(a.dag_hash), a.config_hash.empty() ? "null" : Json(a.config_hash),
        a.params_json, FormatIso(a.interval_start), FormatIso(a.interval_end)));
  }
  for (auto [a, v] : g.reads)
    reads.push_back(fmt::format(R"({{"attempt":{},"version":{}}})", a, v));
  for (auto [a, v] : g.writes) {
    writes.push_back(fmt::format(R"({{"attempt":{},"version":{}}})", a, v));
  }
  for (const auto& c : g.columns) {
    columns.push_back(fmt::format(
        R"({{"output_version":{},"output_column":{},"input_version":{},"input_column":{},)"
        R"("transformation":{}}})",
        c.output_version_id, Json(c.output_column), c.input_version_id, Json(c.input_column),
        Json(c.transformation)));
  }
  return fmt::format(
      R"({{"root":{},"versions":[{}],"attempts":[{}],"reads":[{}],"writes":[{}],"columns":[{}]}})",
      JsonOr(root), fmt::join(versions, ","), fmt::join(attempts, ","), fmt::join(reads, ","),
      fmt::join(writes, ","), fmt::join(columns, ","));
}

}  // namespace weir::state

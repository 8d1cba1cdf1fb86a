#include "tasks/datasets.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/hash.h"
#include "common/strings.h"
#include "dags/dataset.h"

namespace weir::tasks {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// `path` (relative to the DAG's folder) as an absolute path and as its identity relative to
// the DAGs folder; an error when it leaves that folder, also through a symlink.
Result<std::pair<fs::path, std::string>> Inside(const std::string& uri, const std::string& path,
                                                const DatasetPlace& place) {
  std::error_code ec;
  fs::path joined = (place.dag_dir / path).lexically_normal();
  fs::path real = fs::weakly_canonical(joined, ec);
  if (ec) real = joined;
  fs::path root = fs::weakly_canonical(place.dags_root, ec);
  if (ec) root = place.dags_root.lexically_normal();
  fs::path relative = real.lexically_relative(root);
  if (relative.empty() || *relative.begin() == ".." || relative == ".") {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("dataset '{}' is outside the DAGs folder {} (paths may not leave it, "
                            "through '..' or a symlink)",
                            Printable(uri), root.string()));
  }
  return std::pair{real, relative.generic_string()};
}

class Db {
 public:
  ~Db() { sqlite3_close_v2(db_); }
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  ~Stmt() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* stmt_ = nullptr;
};

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }  // names are checked

Result<Fingerprint> TableFingerprint(const ResolvedDataset& d) {
  auto missing = [&](std::string why) { return Fail(ErrorCode::kNotFound, std::move(why)); };
  if (!fs::exists(d.path)) {
    return missing(fmt::format("{}: the SQLite file {} does not exist", d.uri, d.path.string()));
  }
  Db db;
  if (sqlite3_open_v2(d.path.c_str(), &db.db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return Fail(ErrorCode::kIo, fmt::format("{}: cannot open {}: {}", d.uri, d.path.string(),
                                            sqlite3_errmsg(db.db_)));
  }
  sqlite3_busy_timeout(db.db_, 10'000);
  Sha256 hash;
  json schema = json::array();
  int columns = 0;
  {
    Stmt info;
    std::string sql = "PRAGMA table_info(" + Quoted(d.table) + ")";
    if (sqlite3_prepare_v2(db.db_, sql.c_str(), -1, &info.stmt_, nullptr) != SQLITE_OK) {
      return Fail(ErrorCode::kIo, fmt::format("{}: {}", d.uri, sqlite3_errmsg(db.db_)));
    }
    while (sqlite3_step(info.stmt_) == SQLITE_ROW) {
      std::string name = reinterpret_cast<const char*>(sqlite3_column_text(info.stmt_, 1));
      std::string type = reinterpret_cast<const char*>(sqlite3_column_text(info.stmt_, 2));
      schema.push_back({{"name", name}, {"type", type}});
      hash.Update(name);
      hash.Update("\x1f");
      hash.Update(type);
      hash.Update("\x1e");
      ++columns;
    }
  }
  if (columns == 0) {
    return missing(
        fmt::format("{}: table '{}' does not exist in {}", d.uri, d.table, d.path.string()));
  }
  // Each row is digested on its own and the digests are added up (mod 2^256): the sum does
  // not depend on the order rows are read in, so no sort is needed, and a repeated row counts
  // each time it is there.
  Stmt rows;
  std::string sql = "SELECT * FROM " + Quoted(d.table);
  if (sqlite3_prepare_v2(db.db_, sql.c_str(), -1, &rows.stmt_, nullptr) != SQLITE_OK) {
    return Fail(ErrorCode::kIo, fmt::format("{}: {}", d.uri, sqlite3_errmsg(db.db_)));
  }
  std::int64_t count = 0, bytes = 0;
  int rc = 0;
  Sha256 row_hash;
  std::string row;
  std::uint64_t sum[4] = {0, 0, 0, 0};  // little-endian limbs
  while ((rc = sqlite3_step(rows.stmt_)) == SQLITE_ROW) {
    ++count;
    row.clear();
    for (int c = 0; c < columns; ++c) {
      int type = sqlite3_column_type(rows.stmt_, c);
      char number[32];
      switch (type) {
        case SQLITE_NULL:
          row += 'n';
          break;
        case SQLITE_INTEGER: {
          // Numbers are read as numbers: asking for their bytes would make SQLite print them.
          auto end = std::to_chars(number, number + sizeof number,
                                   static_cast<long long>(sqlite3_column_int64(rows.stmt_, c)));
          row += 'i';
          row.append(number, end.ptr);
          bytes += 8;
          break;
        }
        case SQLITE_FLOAT: {  // the shortest text that reads back as the same double
          auto end =
              std::to_chars(number, number + sizeof number, sqlite3_column_double(rows.stmt_, c));
          row += 'f';
          row.append(number, end.ptr);
          bytes += 8;
          break;
        }
        default: {  // text and blobs: their bytes, after their length
          const void* data = sqlite3_column_blob(rows.stmt_, c);
          int size = sqlite3_column_bytes(rows.stmt_, c);
          auto end = std::to_chars(number, number + sizeof number, size);
          row += type == SQLITE_TEXT ? 't' : 'b';
          row.append(number, end.ptr);
          row += ':';
          if (size > 0) row.append(static_cast<const char*>(data), static_cast<std::size_t>(size));
          bytes += size;
        }
      }
      row += '\x1f';
    }
    unsigned char digest[32];
    row_hash.Update(row);
    row_hash.DigestAndReset(digest);
    unsigned carry = 0;
    for (int limb = 0; limb < 4; ++limb) {
      std::uint64_t part = 0;
      for (int k = 0; k < 8; ++k) part |= std::uint64_t{digest[limb * 8 + k]} << (8 * k);
      const std::uint64_t before = sum[limb];
      sum[limb] = before + part + carry;
      carry = (sum[limb] < before || (carry && sum[limb] == before)) ? 1 : 0;
    }
  }
  if (rc != SQLITE_DONE) {
    return Fail(ErrorCode::kIo, fmt::format("{}: {}", d.uri, sqlite3_errmsg(db.db_)));
  }
  hash.Update(fmt::format("rows:{}:", count));
  for (std::uint64_t limb : sum) hash.Update(fmt::format("{:016x}", limb));
  return Fingerprint{d.uri, "sha256:" + hash.HexDigest(), schema.dump(), count, bytes};
}

Result<Fingerprint> FileFingerprint(const ResolvedDataset& d) {
  int fd = ::open(d.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Fail(ErrorCode::kNotFound,
                  fmt::format("{}: the file {} does not exist", d.uri, d.path.string()));
    }
    return Fail(ErrorCode::kIo,
                fmt::format("{}: cannot read {}: {}", d.uri, d.path.string(), strerror(errno)));
  }
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  std::int64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return Fail(ErrorCode::kIo,
                  fmt::format("{}: cannot read {}: {}", d.uri, d.path.string(), strerror(error)));
    }
    if (n == 0) break;
    hash.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    total += n;
  }
  ::close(fd);
  return Fingerprint{d.uri, "sha256:" + hash.HexDigest(), "[]", std::nullopt, total};
}

json ToJson(const ResolvedDataset& d) {
  return {{"uri", d.uri}, {"path", d.path.string()}, {"table", d.table}};
}

json ToJson(const Fingerprint& f) {
  json out = {
      {"uri", f.uri}, {"fingerprint", f.fingerprint}, {"schema", json::parse(f.schema_json)}};
  out["rows"] = f.row_count ? json(*f.row_count) : json(nullptr);
  out["bytes"] = f.bytes ? json(*f.bytes) : json(nullptr);
  return out;
}

std::optional<std::int64_t> OptionalInt(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<std::int64_t>();
}

}  // namespace

std::string WarehouseUriPrefix(const DatasetPlace& place) {
  if (place.default_warehouse) return "warehouse://";
  // A DAG with its own warehouse file: its tables are that SQLite file's, sqlite://FILE#TABLE.
  std::error_code ec;
  fs::path root = fs::weakly_canonical(place.dags_root, ec);
  fs::path relative = place.warehouse.lexically_relative(ec ? place.dags_root : root);
  bool inside = !relative.empty() && *relative.begin() != "..";
  return "sqlite://" + (inside ? relative.generic_string() : place.warehouse.string()) + "#";
}

Result<ResolvedDataset> ResolveDataset(std::string_view text, const DatasetPlace& place) {
  auto uri = dags::ParseDatasetUri(text);
  if (!uri) return std::unexpected(uri.error());
  ResolvedDataset out;
  switch (uri->scheme) {
    case dags::DatasetUri::Scheme::kWarehouse: {
      out.table = uri->table;
      out.path = place.warehouse;
      out.uri = WarehouseUriPrefix(place) + uri->table;
      return out;
    }
    case dags::DatasetUri::Scheme::kSqlite: {
      auto inside = Inside(std::string(text), uri->path, place);
      if (!inside) return std::unexpected(inside.error());
      out.path = inside->first;
      out.table = uri->table;
      out.uri = "sqlite://" + inside->second + "#" + uri->table;
      return out;
    }
    case dags::DatasetUri::Scheme::kFile: {
      auto inside = Inside(std::string(text), uri->path, place);
      if (!inside) return std::unexpected(inside.error());
      out.path = inside->first;
      out.uri = "file:" + inside->second;
      return out;
    }
  }
  return Fail(ErrorCode::kInternal, "unreachable dataset scheme");
}

Result<Fingerprint> TakeFingerprint(const ResolvedDataset& dataset) {
  return dataset.table.empty() ? FileFingerprint(dataset) : TableFingerprint(dataset);
}

std::string SpecToJson(const ManifestSpec& spec) {
  json inputs = json::array(), outputs = json::array();
  for (const auto& d : spec.inputs) inputs.push_back(ToJson(d));
  for (const auto& d : spec.outputs) outputs.push_back(ToJson(d));
  return json{{"manifest", spec.manifest.string()},
              {"config_hash", spec.config_hash},
              {"config_json", spec.config_json},
              {"kind_version", spec.kind_version},
              {"builtin", spec.builtin},
              {"builtin_config", spec.builtin_config},
              {"inputs", inputs},
              {"outputs", outputs}}
      .dump();
}

Result<ManifestSpec> SpecFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    ManifestSpec spec;
    spec.manifest = j.at("manifest").get<std::string>();
    spec.config_hash = j.at("config_hash").get<std::string>();
    spec.config_json = j.value("config_json", "");
    spec.kind_version = j.value("kind_version", "");
    spec.builtin = j.value("builtin", "");
    spec.builtin_config = j.value("builtin_config", "");
    for (const char* key : {"inputs", "outputs"}) {
      for (const json& d : j.at(key)) {
        ResolvedDataset r{d.at("uri").get<std::string>(), d.at("path").get<std::string>(),
                          d.at("table").get<std::string>()};
        (std::string_view(key) == "inputs" ? spec.inputs : spec.outputs).push_back(std::move(r));
      }
    }
    return spec;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad task spec: {}", e.what()));
  }
}

Result<void> WriteManifest(const fs::path& path, const Manifest& m) {
  json reads = json::array(), writes = json::array();
  for (const auto& f : m.reads) reads.push_back(ToJson(f));
  for (const auto& f : m.writes) writes.push_back(ToJson(f));
  json out = {{"config_hash", m.config_hash},
              {"reads", reads},
              {"writes", writes},
              {"cache_key", m.cache_key},
              {"config_json", m.config_json},
              {"cache_note", m.cache_note},
              {"cached", m.cached}};
  out["compared_to"] = m.compared_to ? json(*m.compared_to) : json(nullptr);
  out["columns"] = json::array();
  for (const Manifest::Column& c : m.columns) {
    out["columns"].push_back({{"output", c.output_uri},
                              {"output_column", c.output_column},
                              {"input", c.input_uri},
                              {"input_column", c.input_column},
                              {"transformation", c.transformation}});
  }
  out["metrics"] = json::array();
  for (const auto& [name, value] : m.metrics) out["metrics"].push_back({name, value});
  if (!m.checks_json.empty()) out["checks"] = json::parse(m.checks_json);
  std::string text = out.dump() + "\n";
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return Fail(ErrorCode::kIo, fmt::format("cannot write {}", temporary.string()));
    }
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    return Fail(ErrorCode::kIo, fmt::format("cannot write {}: {}", path.string(), ec.message()));
  }
  return {};
}

Result<std::optional<Manifest>> ReadManifest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<Manifest>();
  std::ostringstream buffer;
  buffer << in.rdbuf();
  try {
    json j = json::parse(buffer.str());
    Manifest m;
    m.config_hash = j.at("config_hash").get<std::string>();
    m.cache_key = j.value("cache_key", "");
    m.config_json = j.value("config_json", "");
    m.cache_note = j.value("cache_note", "");
    m.cached = j.value("cached", false);
    m.compared_to = OptionalInt(j, "compared_to");
    for (const json& c : j.value("columns", json::array())) {
      m.columns.push_back({c.at("output").get<std::string>(),
                           c.at("output_column").get<std::string>(),
                           c.at("input").get<std::string>(),
                           c.at("input_column").get<std::string>(), c.value("transformation", "")});
    }
    if (j.contains("checks")) m.checks_json = j["checks"].dump();
    for (const json& metric : j.value("metrics", json::array())) {
      m.metrics.emplace_back(metric.at(0).get<std::string>(), metric.at(1).get<std::int64_t>());
    }
    for (const char* key : {"reads", "writes"}) {
      for (const json& f : j.at(key)) {
        Fingerprint fp{f.at("uri").get<std::string>(), f.at("fingerprint").get<std::string>(),
                       f.at("schema").dump(), OptionalInt(f, "rows"), OptionalInt(f, "bytes")};
        (std::string_view(key) == "reads" ? m.reads : m.writes).push_back(std::move(fp));
      }
    }
    return std::optional<Manifest>(std::move(m));
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is not a task manifest: {}", path.string(), e.what()));
  }
}

std::string CacheKey(const ManifestSpec& spec, const std::vector<Fingerprint>& inputs) {
  std::vector<std::string> parts;
  for (const Fingerprint& f : inputs) parts.push_back(f.uri + "=" + f.fingerprint);
  std::sort(parts.begin(), parts.end());
  Sha256 hash;
  hash.Update(spec.kind_version);
  hash.Update("\n");
  hash.Update(spec.config_hash);
  hash.Update("\n");
  for (const std::string& p : parts) {
    hash.Update(p);
    hash.Update("\n");
  }
  return "sha256:" + hash.HexDigest();
}

std::string CacheAdviceToEnv(const CacheAdvice& a) {
  if (!a.off.empty()) return "off:" + a.off;
  json outputs = json::object();
  for (const auto& [uri, fingerprint] : a.outputs) outputs[uri] = fingerprint;
  return json{{"attempt", a.attempt.value_or(0)},
              {"run", a.run_id},
              {"task", a.task_id},
              {"try", a.try_number},
              {"key", a.key},
              {"outputs", outputs}}
      .dump();
}

Result<CacheAdvice> CacheAdviceFromEnv(std::string_view text) {
  CacheAdvice a;
  if (text.starts_with("off:")) {
    a.off = text.substr(4);
    return a;
  }
  try {
    json j = json::parse(text);
    a.attempt = j.at("attempt").get<std::int64_t>();
    a.run_id = j.at("run").get<std::string>();
    a.task_id = j.at("task").get<std::string>();
    a.try_number = j.at("try").get<int>();
    a.key = j.at("key").get<std::string>();
    for (const auto& [uri, fingerprint] : j.at("outputs").items()) {
      a.outputs.emplace_back(uri, fingerprint.get<std::string>());
    }
    return a;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad $WEIR_CACHE: {}", e.what()));
  }
}

fs::path ManifestPathFor(const fs::path& log_path) {
  fs::path out = log_path;
  out.replace_extension(".manifest.json");
  return out;
}

}  // namespace weir::tasks

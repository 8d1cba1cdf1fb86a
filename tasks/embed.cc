#include "tasks/embed.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "common/hash.h"
#include "common/strings.h"
#include "tasks/datasets.h"
#include "tasks/warehouse.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

// The byte offset of every code point of `text` and its end, or the offset of the first byte
// that is not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
Result<std::vector<std::size_t>> CodePoints(std::string_view text) {
  std::vector<std::size_t> starts;
  starts.reserve(text.size() + 1);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    starts.push_back(i);
    const unsigned char c = s[i];
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xc0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("byte {} is not valid UTF-8", i + 1));
    }
    i += len;
  }
  starts.push_back(n);
  return starts;
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// A stored vector: float32 values as bytes.
std::string VectorBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A stable id for chunk `index` of the document whose id is `doc_key`: 63 bits of a SHA-256.
std::int64_t ChunkId(const std::string& doc_key, std::int64_t index) {
  const std::string hex = Sha256Hex(fmt::format("{}\x1f{}", doc_key, index));
  return static_cast<std::int64_t>(std::stoull(hex.substr(0, 16), nullptr, 16) >> 1);
}

Result<void> WriteFile(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return Fail(ErrorCode::kIo, fmt::format("cannot write {}: {}", path.string(), strerror(errno)));
  }
  return {};
}

// Files written beside their final names, then put in place together with the table: Publish
// moves each into place and keeps what was there as a backup; Keep (once the table committed)
// drops the backups. Anything else, a failed rename included, puts the earlier files back.
class PendingFiles {
 public:
  std::filesystem::path Add(const std::filesystem::path& final_path) {
    File f{final_path, final_path, final_path};
    f.temp += fmt::format(".tmp-{}", ::getpid());
    f.backup += fmt::format(".old-{}", ::getpid());
    files_.push_back(f);
    return f.temp;
  }
  Result<void> Publish() {
    for (File& f : files_) {
      std::error_code ec;
      if (std::filesystem::exists(f.final_path, ec)) {
        std::filesystem::rename(f.final_path, f.backup, ec);
        if (ec) return std::unexpected(Failed(f.final_path, f.backup, ec));
        f.backed_up = true;
      }
      std::filesystem::rename(f.temp, f.final_path, ec);
      if (ec) return std::unexpected(Failed(f.temp, f.final_path, ec));
      f.placed = true;
    }
    return {};
  }
  void Keep() {
    for (File& f : files_) {
      std::error_code ec;
      if (f.backed_up) std::filesystem::remove(f.backup, ec);
    }
    files_.clear();
  }
  ~PendingFiles() {
    for (File& f : files_) {
      std::error_code ec;
      if (f.placed) std::filesystem::remove(f.final_path, ec);
      if (f.backed_up) std::filesystem::rename(f.backup, f.final_path, ec);
      std::filesystem::remove(f.temp, ec);
    }
  }

 private:
  struct File {
    std::filesystem::path final_path, temp, backup;
    bool backed_up = false, placed = false;
  };
  static Error Failed(const std::filesystem::path& from, const std::filesystem::path& to,
                      const std::error_code& ec) {
    return Error{ErrorCode::kIo, fmt::format("cannot rename {} to {}: {}", from.string(),
                                             to.string(), ec.message())};
  }
  std::vector<File> files_;
};

struct Chunk {
  std::int64_t id = 0, index = 0, start_char = 0, end_char = 0;
  std::size_t document = 0;  // into documents
  std::string text, sha256;
  std::string vector;   // float32 bytes
  bool reused = false;  // the vector is the table's previous one
};

struct Document {
  int id_type = SQLITE_NULL;
  std::string id;  // its value as text (or blob bytes)
  std::int64_t id_integer = 0;
  double id_real = 0;
};

}  // namespace

Result<std::vector<TextChunk>> ChunkText(std::string_view text, const ChunkOptions& options) {
  if (options.size <= 0 || options.overlap < 0 || options.overlap >= options.size) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("chunk size {} and overlap {}: the size must be above 0 and the "
                            "overlap from 0 to below it",
                            options.size, options.overlap));
  }
  auto starts = CodePoints(text);
  if (!starts) return std::unexpected(starts.error());
  const std::int64_t n = static_cast<std::int64_t>(starts->size()) - 1;
  const std::int64_t size = options.size;
  const std::int64_t step = std::max<std::int64_t>(1, options.size - options.overlap);
  std::vector<TextChunk> chunks;
  auto add = [&](std::int64_t first, std::int64_t last) {
    chunks.push_back({first, last, (*starts)[first], (*starts)[last]});
  };
  if (options.unit == "words") {
    std::vector<std::pair<std::int64_t, std::int64_t>> words;  // code point spans
    for (std::int64_t i = 0; i < n;) {
      if (IsBlank(text[(*starts)[i]])) {
        ++i;
        continue;
      }
      std::int64_t j = i;
      while (j < n && !IsBlank(text[(*starts)[j]])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    const std::int64_t w = static_cast<std::int64_t>(words.size());
    for (std::int64_t first = 0; first < w; first += step) {
      const std::int64_t last = std::min(first + size, w);
      add(words[first].first, words[last - 1].second);
      if (last == w) break;
    }
    return chunks;
  }
  for (std::int64_t first = 0; first < n; first += step) {
    const std::int64_t last = std::min(first + size, n);
    add(first, last);
    if (last == n) break;
  }
  return chunks;
}

std::filesystem::path IndexManifestPath(const std::filesystem::path& index_path) {
  std::filesystem::path manifest = index_path;
  manifest += ".manifest.json";
  return manifest;
}

Result<void> PlanEmbed(const EmbedConfig& c) {
  auto connection = Connection::Open(c.warehouse, /*read_only=*/true);
  if (!connection) {
    return Fail(connection.error().code,
                fmt::format("embed {}: {}", c.task, connection.error().message));
  }
  auto stmt =
      connection->Prepare(fmt::format("SELECT {}, {} FROM {} LIMIT 0", QuoteIdentifier(c.id_column),
                                      QuoteIdentifier(c.text_column), QuoteIdentifier(c.table)));
  if (!stmt) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("embed {}: cannot read {}.{} and {}.{}: {}", c.task, c.table,
                            c.id_column, c.table, c.text_column, stmt.error().message));
  }
  if (c.into == c.table) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("embed {}: 'into' must differ from the source table", c.task));
  }
  return {};
}

Result<EmbedReport> RunEmbed(const EmbedConfig& c) {
  if (auto ok = PlanEmbed(c); !ok) return std::unexpected(ok.error());
  const std::string where = fmt::format("embed {}: ", c.task);
  auto fail = [&](const Error& e) { return Fail(e.code, where + e.message); };
  auto writer = Writer::Begin(c.warehouse, WriteTarget{.into = c.into});
  if (!writer) return fail(writer.error());
  const Connection& db = writer->connection();
  auto provider = MakeProvider(c.provider);
  const std::string model = provider->model();

  // The vectors of the table's previous version, by text hash, for this model.
  std::map<std::string, std::pair<int, std::string>> stored;
  if (db.TableExists(c.into)) {
    auto previous = db.Prepare(fmt::format(
        "SELECT text_sha256, dim, embedding FROM {} WHERE model = ?1", QuoteIdentifier(c.into)));
    if (previous) {  // a table of another shape has nothing to reuse
      sqlite3_bind_text(previous->get(), 1, model.c_str(), -1, SQLITE_TRANSIENT);
      while (sqlite3_step(previous->get()) == SQLITE_ROW) {
        const char* sha = reinterpret_cast<const char*>(sqlite3_column_text(previous->get(), 0));
        const int dim = sqlite3_column_int(previous->get(), 1);
        const void* blob = sqlite3_column_blob(previous->get(), 2);
        const int bytes = sqlite3_column_bytes(previous->get(), 2);
        if (sha == nullptr || blob == nullptr || bytes != dim * 4) continue;
        stored[sha] = {dim, std::string(static_cast<const char*>(blob), bytes)};
      }
    }
  }

  // Documents and their chunks.
  std::vector<Document> documents;
  std::vector<Chunk> chunks;
  std::string id_type;
  {
    auto read = db.Prepare(fmt::format("SELECT rowid, {}, {} FROM {}", QuoteIdentifier(c.id_column),
                                       QuoteIdentifier(c.text_column), QuoteIdentifier(c.table)));
    if (!read) {
      read = db.Prepare(fmt::format("SELECT 0, {}, {} FROM {}", QuoteIdentifier(c.id_column),
                                    QuoteIdentifier(c.text_column), QuoteIdentifier(c.table)));
    }
    if (!read) return fail(read.error());
    if (const char* type = sqlite3_column_decltype(read->get(), 1)) id_type = type;
    std::unordered_set<std::string> seen;
    std::int64_t position = 0;
    int rc;
    while ((rc = sqlite3_step(read->get())) == SQLITE_ROW) {
      sqlite3_stmt* s = read->get();
      ++position;
      const std::int64_t row =
          sqlite3_column_int64(s, 0) != 0 ? sqlite3_column_int64(s, 0) : position;
      auto bad = [&](std::string why) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("{}{} row {}: {}", where, c.table, row, why));
      };
      Document doc;
      doc.id_type = sqlite3_column_type(s, 1);
      if (doc.id_type == SQLITE_NULL) return bad(fmt::format("{} is NULL", c.id_column));
      doc.id_integer = sqlite3_column_int64(s, 1);
      doc.id_real = sqlite3_column_double(s, 1);
      doc.id.assign(static_cast<const char*>(sqlite3_column_blob(s, 1)) == nullptr
                        ? ""
                        : static_cast<const char*>(sqlite3_column_blob(s, 1)),
                    sqlite3_column_bytes(s, 1));
      const std::string key = fmt::format("{}:{}", doc.id_type, doc.id);
      if (!seen.insert(key).second) {
        return bad(fmt::format("{} {} appears twice; each document needs its own id", c.id_column,
                               Printable(doc.id, 40)));
      }
      if (sqlite3_column_type(s, 2) != SQLITE_TEXT) {
        return bad(
            fmt::format("{} is {}, not text", c.text_column,
                        sqlite3_column_type(s, 2) == SQLITE_NULL ? "NULL" : "a number or a blob"));
      }
      const std::string_view text(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)),
                                  sqlite3_column_bytes(s, 2));
      auto spans = ChunkText(text, c.chunk);
      if (!spans) return bad(fmt::format("{}: {}", c.text_column, spans.error().message));
      if (spans->empty())
        return bad(fmt::format("{} is empty; there is nothing to embed", c.text_column));
      for (std::size_t i = 0; i < spans->size(); ++i) {
        const TextChunk& span = (*spans)[i];
        Chunk chunk;
        chunk.id = ChunkId(key, static_cast<std::int64_t>(i));
        chunk.index = static_cast<std::int64_t>(i);
        chunk.start_char = span.start_char;
        chunk.end_char = span.end_char;
        chunk.document = documents.size();
        chunk.text = std::string(text.substr(span.start_byte, span.end_byte - span.start_byte));
        chunk.sha256 = Sha256Hex(chunk.text);
        chunks.push_back(std::move(chunk));
      }
      documents.push_back(std::move(doc));
    }
    if (rc != SQLITE_DONE) return fail(db.LastError("reading " + c.table));
  }

  // Vectors: stored ones of the same model and dimension, the rest from the provider. An openai
  // provider without `dimensions` learns its dimension from its first answer.
  EmbedReport report{.documents = static_cast<std::int64_t>(documents.size()),
                     .chunks = static_cast<std::int64_t>(chunks.size())};
  // Vectors: a stored one of the same model and dimension, else the provider's. An openai
  // provider without `dimensions` learns its dimension from its first answer; stored vectors of
  // another dimension than that are then embedded again.
  auto embed_missing = [&](int dim) -> Result<void> {
    std::vector<std::size_t> missing;
    std::vector<std::string_view> texts;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      auto it = stored.find(chunks[i].sha256);
      if (it != stored.end() && (dim == 0 || it->second.first == dim)) {
        chunks[i].vector = it->second.second;
        chunks[i].reused = true;
      } else if (chunks[i].vector.empty() || chunks[i].reused) {
        missing.push_back(i);
        texts.push_back(chunks[i].text);
      }
    }
    if (texts.empty()) return {};
    auto vectors = provider->Embed(texts);
    if (!vectors) return std::unexpected(vectors.error());
    for (std::size_t k = 0; k < missing.size(); ++k) {
      chunks[missing[k]].vector = VectorBytes((*vectors)[k]);
      chunks[missing[k]].reused = false;
    }
    return {};
  };
  if (auto ok = embed_missing(provider->dim()); !ok) return fail(ok.error());
  int dim = provider->dim();
  if (dim == 0 && !chunks.empty()) dim = static_cast<int>(chunks[0].vector.size() / 4);
  const auto other_dim = [&](const Chunk& ch) {
    return ch.vector.size() != static_cast<std::size_t>(dim) * sizeof(float);
  };
  if (std::any_of(chunks.begin(), chunks.end(), other_dim)) {
    if (auto ok = embed_missing(dim); !ok) return fail(ok.error());
  }
  for (const Chunk& ch : chunks) ++(ch.reused ? report.reused : report.embedded);

  // The table.
  if (auto ok = writer->Prepare(fmt::format(
          "(chunk_id INTEGER PRIMARY KEY, {} {}, chunk_index INTEGER, start_char INTEGER, "
          "end_char INTEGER, text TEXT, text_sha256 TEXT, model TEXT, dim INTEGER, embedding BLOB)",
          QuoteIdentifier("doc_id"), id_type.empty() ? "" : id_type));
      !ok) {
    return fail(ok.error());
  }
  auto insert =
      db.Prepare(writer->InsertSql({"chunk_id", "doc_id", "chunk_index", "start_char", "end_char",
                                    "text", "text_sha256", "model", "dim", "embedding"},
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  if (!insert) return fail(insert.error());
  sqlite3_stmt* s = insert->get();
  for (const Chunk& ch : chunks) {
    const Document& doc = documents[ch.document];
    sqlite3_bind_int64(s, 1, ch.id);
    switch (doc.id_type) {
      case SQLITE_INTEGER:
        sqlite3_bind_int64(s, 2, doc.id_integer);
        break;
      case SQLITE_FLOAT:
        sqlite3_bind_double(s, 2, doc.id_real);
        break;
      case SQLITE_TEXT:
        sqlite3_bind_text(s, 2, doc.id.data(), static_cast<int>(doc.id.size()), SQLITE_STATIC);
        break;
      default:
        sqlite3_bind_blob(s, 2, doc.id.data(), static_cast<int>(doc.id.size()), SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 3, ch.index);
    sqlite3_bind_int64(s, 4, ch.start_char);
    sqlite3_bind_int64(s, 5, ch.end_char);
    sqlite3_bind_text(s, 6, ch.text.data(), static_cast<int>(ch.text.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 7, ch.sha256.data(), static_cast<int>(ch.sha256.size()), SQLITE_STATIC);
    sqlite3_bind_text(s, 8, model.data(), static_cast<int>(model.size()), SQLITE_STATIC);
    sqlite3_bind_int(s, 9, dim);
    sqlite3_bind_blob(s, 10, ch.vector.data(), static_cast<int>(ch.vector.size()), SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
      return fail(db.LastError(fmt::format("writing chunk {} of document {}", ch.index,
                                           Printable(documents[ch.document].id, 40))));
    }
    sqlite3_reset(s);
  }

  // The index and its manifest, beside their final names until the table is committed.
  PendingFiles pending;
  if (!c.index_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(c.index_path.parent_path(), ec);
    std::vector<float> matrix(chunks.size() * static_cast<std::size_t>(dim));
    std::vector<std::int64_t> ids(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      std::memcpy(matrix.data() + i * dim, chunks[i].vector.data(), chunks[i].vector.size());
      ids[i] = chunks[i].id;
    }
    const std::filesystem::path index_temp = pending.Add(c.index_path);
    if (auto ok =
            WriteVectorIndex(c.index, dim, matrix.data(), ids.data(), chunks.size(), index_temp);
        !ok) {
      return fail(ok.error());
    }
    // The same SHA-256 the task's lineage records for the index file.
    auto index_fingerprint = TakeFingerprint(ResolvedDataset{.path = index_temp});
    if (!index_fingerprint) return fail(index_fingerprint.error());
    json manifest = {
        {"format", "weir-vector-index/1"},
        {"factory", c.index.factory},
        {"metric", c.index.metric},
        {"dim", dim},
        {"ntotal", chunks.size()},
        {"model", model},
        {"provider", json::parse(ProviderConfigToJson(c.provider))},
        {"index_sha256", index_fingerprint->fingerprint},
        {"input", {{"dataset", c.table_uri_prefix + c.table}, {"version", c.source_version}}},
        {"table",
         {{"dataset", c.table_uri_prefix + c.into},
          {"warehouse", c.warehouse.string()},
          {"name", c.into}}}};
    if (auto ok = WriteFile(pending.Add(IndexManifestPath(c.index_path)), manifest.dump(2) + "\n");
        !ok) {
      return fail(ok.error());
    }
  }
  if (auto ok = pending.Publish(); !ok) return fail(ok.error());
  if (auto ok = writer->Commit(); !ok) return fail(ok.error());
  pending.Keep();
  return report;
}

Result<std::vector<ChunkHit>> SearchChunks(const std::filesystem::path& index_path,
                                           std::string_view query, int k) {
  const std::filesystem::path manifest_path = IndexManifestPath(index_path);
  if (std::error_code ec; !std::filesystem::is_regular_file(index_path, ec)) {
    return Fail(ErrorCode::kNotFound, fmt::format("{} does not exist", index_path.string()));
  }
  std::ifstream in(manifest_path, std::ios::binary);
  if (!in) {
    return Fail(ErrorCode::kNotFound,
                fmt::format("{} has no manifest beside it ({}): is it an index an embed task "
                            "wrote?",
                            index_path.string(), manifest_path.filename().string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  json manifest = json::parse(text.str(), nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() ||
      manifest.value("format", "") != "weir-vector-index/1") {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is not a weir vector index manifest", manifest_path.string()));
  }
  try {
    auto provider_config = ProviderConfigFromJson(manifest.at("provider").dump());
    if (!provider_config) return std::unexpected(provider_config.error());
    auto provider = MakeProvider(*provider_config);
    auto vectors = provider->Embed({query});
    if (!vectors) return std::unexpected(vectors.error());
    auto hits = SearchVectorIndex(index_path, vectors->at(0), k);
    if (!hits) return std::unexpected(hits.error());
    const json& table = manifest.at("table");
    auto db = Connection::Open(table.at("warehouse").get<std::string>(), /*read_only=*/true);
    if (!db) return std::unexpected(db.error());
    auto lookup =
        db->Prepare(fmt::format("SELECT doc_id, chunk_index, text FROM {} WHERE chunk_id = ?1",
                                QuoteIdentifier(table.at("name").get<std::string>())));
    if (!lookup) return std::unexpected(lookup.error());
    std::vector<ChunkHit> out;
    for (const VectorHit& hit : *hits) {
      ChunkHit h{.chunk_id = hit.id, .score = hit.score};
      sqlite3_reset(lookup->get());
      sqlite3_bind_int64(lookup->get(), 1, hit.id);
      if (sqlite3_step(lookup->get()) == SQLITE_ROW) {
        const unsigned char* doc = sqlite3_column_text(lookup->get(), 0);
        h.doc_id = doc == nullptr ? "NULL" : reinterpret_cast<const char*>(doc);
        h.chunk_index = sqlite3_column_int64(lookup->get(), 1);
        const unsigned char* chunk = sqlite3_column_text(lookup->get(), 2);
        h.text = chunk == nullptr ? "" : reinterpret_cast<const char*>(chunk);
      } else {
        h.text = "(not in the table any more: the index is older than the table)";
      }
      out.push_back(std::move(h));
    }
    return out;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{}: {}", manifest_path.string(), e.what()));
  }
}

std::string EmbedConfigToJson(const EmbedConfig& c) {
  return json{
      {"task", c.task},
      {"table", c.table},
      {"id", c.id_column},
      {"text", c.text_column},
      {"chunk", {{"unit", c.chunk.unit}, {"size", c.chunk.size}, {"overlap", c.chunk.overlap}}},
      {"provider", json::parse(ProviderConfigToJson(c.provider))},
      {"into", c.into},
      {"index_path", c.index_path.string()},
      {"factory", c.index.factory},
      {"metric", c.index.metric},
      {"warehouse", c.warehouse.string()},
      {"table_uri_prefix", c.table_uri_prefix}}
      .dump();
}

Result<EmbedConfig> EmbedConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    EmbedConfig c;
    c.task = j.at("task").get<std::string>();
    c.table = j.at("table").get<std::string>();
    c.id_column = j.at("id").get<std::string>();
    c.text_column = j.at("text").get<std::string>();
    c.chunk.unit = j.at("chunk").at("unit").get<std::string>();
    c.chunk.size = j.at("chunk").at("size").get<int>();
    c.chunk.overlap = j.at("chunk").at("overlap").get<int>();
    auto provider = ProviderConfigFromJson(j.at("provider").dump());
    if (!provider) return std::unexpected(provider.error());
    c.provider = std::move(*provider);
    c.into = j.at("into").get<std::string>();
    c.index_path = j.at("index_path").get<std::string>();
    c.index.factory = j.at("factory").get<std::string>();
    c.index.metric = j.at("metric").get<std::string>();
    c.warehouse = j.at("warehouse").get<std::string>();
    c.table_uri_prefix = j.at("table_uri_prefix").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad embed config: {}", e.what()));
  }
}

}  // namespace weir::tasks

// The `embed` kind (docs/tasks.md#embed): the texts of a table cut into chunks, each chunk
// embedded by a provider (tasks/embedding.h) and written with its vector into a table, and
// optionally a FAISS index of the vectors (tasks/vector_index.h) with a manifest beside it.
// Incremental: a chunk whose text, model and dimension were embedded before (in the table's
// previous version) keeps its stored vector, so only what changed is sent to the provider.
#ifndef WEIR_TASKS_EMBED_H_
#define WEIR_TASKS_EMBED_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "tasks/embedding.h"
#include "tasks/vector_index.h"

namespace weir::tasks {

struct ChunkOptions {
  std::string unit = "chars";  // chars (code points) | words (runs of non-space)
  int size = 800;              // units per chunk
  int overlap = 100;           // units shared by neighbouring chunks; below size
};

// One chunk of a text: code point offsets [start_char, end_char) and the same span in bytes.
struct TextChunk {
  std::int64_t start_char = 0, end_char = 0;
  std::size_t start_byte = 0, end_byte = 0;
};

// Cuts `text` into chunks; never inside a UTF-8 code point. Text that is not valid UTF-8 is an
// error naming the byte. Empty text (or, by words, text of blanks only) has no chunks.
[[nodiscard]] Result<std::vector<TextChunk>> ChunkText(std::string_view text,
                                                       const ChunkOptions& options);

struct EmbedConfig {
  std::string task;  // for messages
  std::string table, id_column, text_column;
  ChunkOptions chunk;
  ProviderConfig provider;
  std::string into;
  std::filesystem::path index_path;  // empty: no index
  IndexSpec index;
  std::filesystem::path warehouse;
  std::string table_uri_prefix = "warehouse://";
  std::string source_version;  // the fingerprint of `table` as read, for the index manifest
};

// The manifest beside an index: what it holds and how to query it.
std::filesystem::path IndexManifestPath(const std::filesystem::path& index_path);

struct EmbedReport {
  std::int64_t documents = 0, chunks = 0;
  std::int64_t reused = 0;    // vectors kept from the table's previous version
  std::int64_t embedded = 0;  // vectors the provider made now
};

// Reads, chunks, embeds and writes `into` in one transaction, then the index (written to a
// temporary file and renamed). Errors name the task and the row or the request; the table, an
// earlier index and its manifest are then as they were.
[[nodiscard]] Result<EmbedReport> RunEmbed(const EmbedConfig& config);

// Checks the source table and its columns before anything runs.
[[nodiscard]] Result<void> PlanEmbed(const EmbedConfig& config);

struct ChunkHit {
  std::int64_t chunk_id = 0;
  float score = 0;
  std::string doc_id;  // as text
  std::int64_t chunk_index = 0;
  std::string text;
};
// The `k` chunks nearest to `query` in the index at `index_path`: the query is embedded by the
// provider its manifest records, and each hit is looked up in the table the index was built
// from.
[[nodiscard]] Result<std::vector<ChunkHit>> SearchChunks(const std::filesystem::path& index_path,
                                                         std::string_view query, int k);

std::string EmbedConfigToJson(const EmbedConfig& config);
[[nodiscard]] Result<EmbedConfig> EmbedConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_EMBED_H_

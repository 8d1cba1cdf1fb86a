// The hash provider alone, on one core: reads every text of a warehouse column, cuts it into
// chunks as the embed task does, then times HashEmbed over the chunks (nothing else).
//
//   weir-bench-hash-embed WAREHOUSE TABLE COLUMN DIM CHUNK_SIZE OVERLAP
//
// Prints "BYTES SECONDS": the bytes of chunk text embedded and the best of three passes.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tasks/embed.h"
#include "tasks/embedding.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s WAREHOUSE TABLE COLUMN DIM CHUNK_SIZE OVERLAP\n", argv[0]);
    return 2;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  const std::string sql = std::string("SELECT \"") + argv[3] + "\" FROM \"" + argv[2] + "\"";
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  const weir::tasks::ChunkOptions options{
      .unit = "chars", .size = std::stoi(argv[5]), .overlap = std::stoi(argv[6])};
  std::vector<std::string> chunks;
  std::size_t bytes = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string text(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    auto spans = weir::tasks::ChunkText(text, options);
    if (!spans) {
      std::fprintf(stderr, "%s\n", spans.error().message.c_str());
      return 1;
    }
    for (const weir::tasks::TextChunk& s : *spans) {
      chunks.push_back(text.substr(s.start_byte, s.end_byte - s.start_byte));
      bytes += chunks.back().size();
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  const int dim = std::stoi(argv[4]);
  std::vector<float> vector(static_cast<std::size_t>(dim));
  double best = 1e30, checksum = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& chunk : chunks) {
      weir::tasks::HashEmbed(chunk, dim, vector.data());
      checksum += vector[0];  // keeps the work from being optimised away
    }
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf("%zu %.4f\n", bytes, best);
  return checksum == checksum ? 0 : 1;
}

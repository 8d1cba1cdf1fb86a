// `weir vectors search INDEX --text "..." [-k N] [--format text|json]`: the chunks nearest to a
// text in an index an embed task wrote, so that a user can check the artifact
// (docs/tasks.md#embed).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/strings.h"
#include "tasks/embed.h"

namespace weir::cli {

int RunVectorsSearch(const VectorsOptions& options) {
  if (options.text.empty()) {
    return Report(Error{ErrorCode::kInvalidArgument, "--text is empty: give the text to look for"});
  }
  if (options.k < 1 || options.k > 1000) {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("-k {}: give a number of results from 1 to 1000", options.k)});
  }
  if (options.format != "text" && options.format != "json") {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("--format '{}': use text or json", Printable(options.format))});
  }
  auto hits = tasks::SearchChunks(options.index, options.text, options.k);
  if (!hits) return Report(hits.error());
  if (options.format == "json") {
    for (const tasks::ChunkHit& h : *hits) {
      std::cout << nlohmann::json{{"chunk_id", h.chunk_id},
                                  {"score", h.score},
                                  {"doc_id", h.doc_id},
                                  {"chunk_index", h.chunk_index},
                                  {"text", h.text}}
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    }
    return 0;
  }
  Table table({"RANK", "SCORE", "CHUNK", "DOC", "#", "TEXT"});
  for (std::size_t i = 0; i < hits->size(); ++i) {
    const tasks::ChunkHit& h = (*hits)[i];
    std::string text = Printable(h.text, 70);
    table.Add({std::to_string(i + 1), fmt::format("{:.4f}", h.score), std::to_string(h.chunk_id),
               Printable(h.doc_id, 30), std::to_string(h.chunk_index), text});
  }
  table.Print(std::cout);
  return 0;
}

}  // namespace weir::cli

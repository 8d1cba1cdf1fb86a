// dags: what a DAG is. Loads YAML DAG files into validated, immutable Dag models and reports
// every problem as "FILE:LINE:COL: reason". Hostile files (alias bombs, deep nesting, huge or
// binary files) are refused with an error instead of exhausting memory.
//
//   dags::LoadResult loaded = dags::LoadDags({"dags/"}, "dags/");
//   for (const auto& e : loaded.errors) std::cerr << e.ToString() << "\n";
//   const dags::Dag* dag = loaded.Find("user_training_set");
//
// Thread-safety: loading is reentrant; a loaded Dag is immutable and may be shared.
#ifndef WEIR_DAGS_DAGS_H_
#define WEIR_DAGS_DAGS_H_

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dags/dag.h"

namespace weir::dags {

struct Diagnostic {
  SourceLocation loc;
  std::string message;
  // "file:line:col: message"
  std::string ToString() const;
};

struct LoadOptions {
  std::size_t max_file_bytes = 10 << 20;  // larger files are refused without being parsed
  std::size_t max_tasks = 100'000;        // tasks in one DAG
  int max_depth = 64;                     // nesting of YAML maps and lists
  std::size_t max_nodes = 1'000'000;      // YAML nodes visited, aliases expanded (alias bombs)
};

struct LoadResult {
  std::vector<std::shared_ptr<const Dag>> dags;  // every valid DAG, sorted by id
  std::vector<Diagnostic> errors;                // every problem in every file, in file order
  std::size_t files = 0;                         // DAG files read
  // DAG id -> file, for DAGs whose file had errors (so "unknown DAG" is not said of them).
  std::map<std::string, std::string> broken;

  std::shared_ptr<const Dag> Find(std::string_view id) const;
};

// What each DAG file parsed to, kept between loads of the same folder (the scheduler rescans
// every few seconds) so that only files whose size or modification time changed are read again.
class DagFileCache {
 private:
  friend LoadResult LoadDags(const std::vector<std::filesystem::path>&,
                             const std::filesystem::path&, const LoadOptions&, DagFileCache*);
  struct Entry {
    std::int64_t mtime_ns = 0;  // modification time, nanoseconds
    std::uintmax_t size = 0;
    LoadResult result;  // the file's own result
  };
  std::unordered_map<std::string, Entry> entries_;  // by the file's path as given
};

// Loads every *.yaml and *.yml file under `paths` (files, or folders searched recursively).
// Display paths and dataset paths are relative to `root` (the DAGs folder). With `cache`,
// unchanged files are not read again.
LoadResult LoadDags(const std::vector<std::filesystem::path>& paths,
                    const std::filesystem::path& root, const LoadOptions& options = {},
                    DagFileCache* cache = nullptr);

// Loads one document from memory; `display_name` names it in errors, and `file` (default: the
// display name) is where it stands, for paths relative to the DAG file.
LoadResult LoadDagText(std::string_view text, const std::string& display_name,
                       const LoadOptions& options = {}, const std::filesystem::path& file = {});

// What ParseYaml says of a file that is not UTF-8 text or holds a second document.
struct YamlFileRules {
  std::string_view text = "the file must be UTF-8 text";
  std::string_view one_document = "the file holds one document";
};

// Parses one YAML document (a DAG file, the config file) into a Value tree whose nodes know
// where they were written, with the limits of `options` on nesting and nodes (alias bombs).
// Duplicate keys are recorded in `errors` and parsing goes on; nullopt when the text cannot be
// read at all (not UTF-8, invalid YAML, a limit, a second document), with its error recorded.
// An empty text is a null Value.
std::optional<Value> ParseYaml(std::string_view text, const std::string& display,
                               const LoadOptions& options, std::vector<Diagnostic>* errors,
                               const YamlFileRules& rules = {});

}  // namespace weir::dags

#endif  // WEIR_DAGS_DAGS_H_

// `weir lineage upstream|downstream|run` (what a dataset version was built from, what was built
// from it, what a run read and wrote) and `weir task run`, the child side of an attempt of a
// task that declares datasets.
#include <fmt/format.h>

#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/strings.h"
#include "dags/value.h"
#include "tasks/task_run.h"

namespace weir::cli {
namespace {

using state::DatasetVersionRecord;
using state::LineageAttempt;
using state::LineageGraph;

// DATASET[@N]: the dataset as the store names it, and the version if one is given. An absolute
// file path becomes file:PATH relative to the DAGs folder.
std::pair<std::string, std::optional<int>> SplitTarget(const Context& context,
                                                       const std::string& text) {
  std::string uri = text;
  std::optional<int> version;
  std::size_t at = text.rfind('@');
  if (at != std::string::npos && at + 1 < text.size() && text.size() - at <= 10 &&
      text.find_first_not_of("0123456789", at + 1) == std::string::npos) {
    uri = text.substr(0, at);
    version = std::stoi(text.substr(at + 1));
  }
  if (uri.starts_with("/")) {
    std::error_code ec;
    auto root = std::filesystem::weakly_canonical(context.dags_dir, ec);
    auto relative = std::filesystem::path(uri).lexically_normal().lexically_relative(root);
    if (!relative.empty() && *relative.begin() != "..") uri = "file:" + relative.generic_string();
  }
  return {uri, version};
}

std::string Describe(const DatasetVersionRecord& v) {
  std::string out = fmt::format("{}@{}  {}", v.uri, v.version, v.fingerprint.substr(0, 19));
  if (v.row_count) out += fmt::format("  {} rows", *v.row_count);
  if (v.bytes) out += fmt::format("  {} bytes", *v.bytes);
  return out;
}

std::string Describe(const LineageAttempt& a) {
  const state::AttemptRecord& t = a.attempt;
  std::string ended = t.ended_at ? FormatIso(*t.ended_at) : "running";
  std::string exit = t.exit_code
                         ? fmt::format(", exit {}", *t.exit_code)
                         : (t.signal ? fmt::format(", signal {}", *t.signal) : std::string());
  return fmt::format("{} / {} try {} ({}{}, {} .. {})", t.run_id, t.task_id, t.try_number,
                     state::Name(t.state), exit, FormatIso(t.started_at), ended);
}

void MaskParams(const Context& context, LineageGraph& graph) {
  for (LineageAttempt& a : graph.attempts) a.params_json = MaskStored(context, a.params_json);
}

// The indentation one level down. Past 30 levels it stops growing, so that a chain thousands of
// levels deep prints in linear, not quadratic, size; the tree's order still tells the levels.
std::string Deeper(const std::string& prefix, std::string_view step) {
  constexpr std::size_t kMaxIndent = 30 * 5;  // a level is 3 columns, up to 5 bytes of UTF-8
  if (prefix.size() >= kMaxIndent) return prefix;
  return prefix + std::string(step);
}

// A readable tree from `root`: for upstream, version -> "written by" attempt -> "read" versions;
// for downstream, version -> "read by" attempt -> "wrote" versions. A node met again is named
// and not expanded twice.
void PrintTree(const LineageGraph& g, std::int64_t root, state::LineageDirection direction) {
  std::map<std::int64_t, const DatasetVersionRecord*> versions;
  std::map<std::int64_t, const LineageAttempt*> attempts;
  for (const auto& v : g.versions) versions[v.id] = &v;
  for (const auto& a : g.attempts) attempts[a.attempt.id] = &a;
  const bool up = direction == state::LineageDirection::kUpstream;
  std::multimap<std::int64_t, std::int64_t> from_version, from_attempt;  // child edges
  for (auto [a, v] : up ? g.writes : g.reads) from_version.emplace(v, a);
  for (auto [a, v] : up ? g.reads : g.writes) from_attempt.emplace(a, v);
  std::set<std::int64_t> shown_attempts;

  std::function<void(std::int64_t, const std::string&)> version_node;
  auto attempt_node = [&](std::int64_t id, const std::string& prefix, bool last) {
    const LineageAttempt& a = *attempts.at(id);
    std::cout << prefix << (last ? "└─ " : "├─ ") << (up ? "written by " : "read by ")
              << Describe(a);
    std::string inner = Deeper(prefix, last ? "   " : "│  ");
    if (!shown_attempts.insert(id).second) {
      std::cout << " (shown above)\n";
      return;
    }
    std::cout << "\n"
              << inner
              << fmt::format("DAG {} ({} sha256:{}), config {}, params {}\n", a.dag_id, a.dag_file,
                             a.dag_hash.substr(0, 12),
                             a.config_hash.empty() ? "-" : a.config_hash.substr(0, 19),
                             a.params_json);
    auto [begin, end] = from_attempt.equal_range(id);
    for (auto it = begin; it != end; ++it) {
      std::cout << inner << (std::next(it) == end ? "└─ " : "├─ ") << (up ? "read " : "wrote ");
      version_node(it->second, Deeper(inner, std::next(it) == end ? "   " : "│  "));
    }
  };
  version_node = [&](std::int64_t id, const std::string& prefix) {
    const DatasetVersionRecord& v = *versions.at(id);
    std::cout << Describe(v);
    auto [begin, end] = from_version.equal_range(id);
    if (up && begin == end) std::cout << "  (source: not written by weir)";
    std::cout << "\n";
    for (auto it = begin; it != end; ++it) attempt_node(it->second, prefix, std::next(it) == end);
  };
  version_node(root, "");
}

void PrintJson(const LineageGraph& g, std::optional<std::int64_t> root) {
  std::cout << state::LineageGraphToJson(g, root) << "\n";
}

std::string DotLabel(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void PrintDot(const LineageGraph& g) {
  std::cout << "digraph lineage {\n  rankdir=LR;\n";
  for (const auto& v : g.versions) {
    std::cout << fmt::format("  v{} [shape=box, label=\"{}@{}\"];\n", v.id, DotLabel(v.uri),
                             v.version);
  }
  for (const auto& a : g.attempts) {
    std::cout << fmt::format("  a{} [shape=ellipse, label=\"{}\\n{} try {}\"];\n", a.attempt.id,
                             DotLabel(a.attempt.run_id), DotLabel(a.attempt.task_id),
                             a.attempt.try_number);
  }
  for (auto [a, v] : g.reads) std::cout << fmt::format("  v{} -> a{};\n", v, a);
  for (auto [a, v] : g.writes) std::cout << fmt::format("  a{} -> v{};\n", a, v);
  std::cout << "}\n";
}

void PrintRun(const LineageGraph& g) {
  std::map<std::int64_t, const DatasetVersionRecord*> versions;
  for (const auto& v : g.versions) versions[v.id] = &v;
  if (g.attempts.empty()) {
    std::cout << "the run recorded no datasets\n";
    return;
  }
  for (const auto& a : g.attempts) {
    std::cout << Describe(a) << "\n";
    for (auto [attempt, v] : g.reads) {
      if (attempt == a.attempt.id) std::cout << "  read   " << Describe(*versions.at(v)) << "\n";
    }
    for (auto [attempt, v] : g.writes) {
      if (attempt == a.attempt.id) std::cout << "  wrote  " << Describe(*versions.at(v)) << "\n";
    }
  }
}

}  // namespace

int RunTaskRun(const std::string& spec, const std::vector<std::string>& argv) {
  return tasks::RunTaskChild(spec, argv);
}

int RunLineageExport(const Context& context, const LineageOptions& options) {
  if (!options.openlineage) {
    return Report(
        Error{ErrorCode::kInvalidArgument, "weir lineage export needs a format: --openlineage"});
  }
  if (options.job_namespace.empty()) {
    return Report(Error{ErrorCode::kInvalidArgument, "--namespace must not be empty"});
  }
  std::optional<Timestamp> since;
  if (options.since) {
    auto parsed = ParseSince(*options.since, SystemClock::Instance().Now());
    if (!parsed) return Report(parsed.error());
    since = *parsed;
  }
  auto store = context.OpenStore(false);
  if (!store) {
    if (store.error().code != ErrorCode::kNotFound) return Report(store.error());
    if (!options.run.empty()) {
      return Report(
          Error{ErrorCode::kNotFound, fmt::format("no run '{}'", Printable(options.run))});
    }
    return 0;  // nothing recorded: no events
  }
  if (!options.run.empty()) {
    if (auto run = RequireRun(**store, options.run); !run) return Report(run.error());
  }
  auto attempts = (*store)->AttemptsForExport(since, options.run);
  if (!attempts) return Report(attempts.error());
  state::OpenLineageOptions ol{.job_namespace = options.job_namespace};
  for (const state::AttemptExport& attempt : *attempts) {
    for (const std::string& event : state::OpenLineageEvents(attempt, ol)) {
      std::cout << event << "\n";
    }
  }
  return 0;
}

int RunLineage(const Context& context, const LineageOptions& options) {
  if (options.mode == "export") return RunLineageExport(context, options);
  if (options.format != "text" && options.format != "json" && options.format != "dot") {
    return Report(
        Error{ErrorCode::kInvalidArgument,
              fmt::format("--format '{}': use text, json or dot", Printable(options.format))});
  }
  if (options.depth < 0) {
    return Report(Error{ErrorCode::kInvalidArgument, "--depth must be 0 (no limit) or more"});
  }
  auto store = context.OpenStore(false);
  if (!store && store.error().code != ErrorCode::kNotFound) return Report(store.error());
  if (options.mode == "run") {
    if (!store)
      return Report(
          Error{ErrorCode::kNotFound, fmt::format("no run '{}'", Printable(options.target))});
    if (auto run = RequireRun(**store, options.target); !run) return Report(run.error());
    auto graph = (*store)->RunLineage(options.target);
    if (!graph) return Report(graph.error());
    MaskParams(context, *graph);
    if (options.format == "json") {
      PrintJson(*graph, std::nullopt);
    } else if (options.format == "dot") {
      PrintDot(*graph);
    } else {
      PrintRun(*graph);
    }
    return 0;
  }
  auto [uri, version] = SplitTarget(context, options.target);
  std::optional<DatasetVersionRecord> found;
  if (store) {
    auto lookup = (*store)->FindDatasetVersion(uri, version);
    if (!lookup) return Report(lookup.error());
    found = std::move(*lookup);
  }
  if (!found) {
    std::vector<std::string> known;
    if (store) {
      auto uris = (*store)->DatasetUris();
      if (!uris) return Report(uris.error());
      known = std::move(*uris);
    }
    if (std::find(known.begin(), known.end(), uri) != known.end()) {
      auto latest = (*store)->FindDatasetVersion(uri);
      return Report(
          Error{ErrorCode::kNotFound,
                fmt::format("dataset '{}' has no version {} (its versions are 1 to {})",
                            Printable(uri), *version, latest && *latest ? (*latest)->version : 0)});
    }
    auto hint = ClosestMatch(uri, known);
    return Report(Error{ErrorCode::kNotFound,
                        fmt::format("no dataset '{}' has been recorded{}", Printable(uri),
                                    hint ? fmt::format(" (did you mean '{}'?)", *hint) : "")});
  }
  auto direction = options.mode == "upstream" ? state::LineageDirection::kUpstream
                                              : state::LineageDirection::kDownstream;
  auto graph = (*store)->Lineage(found->id, direction, options.depth);
  if (!graph) return Report(graph.error());
  MaskParams(context, *graph);
  if (options.format == "json") {
    PrintJson(*graph, found->id);
  } else if (options.format == "dot") {
    PrintDot(*graph);
  } else {
    PrintTree(*graph, found->id, direction);
  }
  return 0;
}

}  // namespace weir::cli

// `weir quality DATASET [--run RUN] [--format text|json]`: the results of the latest checks a
// validate task ran on a dataset (docs/tasks.md#validate).
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

using json = nlohmann::json;

json Optional(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? json(*v) : json(nullptr);
}

std::string Shown(const std::optional<double>& v) {
  if (!v) return "-";
  if (std::trunc(*v) == *v && std::fabs(*v) < 1e15) return fmt::format("{}", *v);
  return fmt::format("{:.4g}", *v);
}

}  // namespace

int RunQuality(const Context& context, const QualityOptions& options) {
  if (options.format != "text" && options.format != "json") {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("--format '{}': use text or json", Printable(options.format))});
  }
  auto store = context.OpenStore(false);
  if (!store) {
    if (store.error().code != ErrorCode::kNotFound) return Report(store.error());
    return Report(
        Error{ErrorCode::kNotFound, fmt::format("no checks have run on '{}': nothing has run yet",
                                                Printable(options.dataset))});
  }
  if (!options.run.empty()) {
    if (auto run = RequireRun(**store, options.run); !run) return Report(run.error());
  }
  auto results = (*store)->CheckResults(options.dataset, options.run);
  if (!results) return Report(results.error());
  if (results->empty()) {
    auto uris = (*store)->DatasetUris();
    if (!uris) return Report(uris.error());
    auto hint = ClosestMatch(options.dataset, *uris);
    return Report(Error{
        ErrorCode::kNotFound,
        fmt::format(
            "no checks have run on '{}'{}{}", Printable(options.dataset),
            options.run.empty() ? "" : fmt::format(" in run '{}'", options.run),
            hint && *hint != options.dataset ? fmt::format(" (did you mean '{}'?)", *hint) : "")});
  }
  if (options.format == "json") {
    json out = json::array();
    for (const state::CheckResultRecord& r : *results) {
      out.push_back({{"dataset", r.dataset_uri},
                     {"version", r.dataset_version ? json(*r.dataset_version) : json(nullptr)},
                     {"check", r.check},
                     {"column", r.column.empty() ? json(nullptr) : json(r.column)},
                     {"method", r.method.empty() ? json(nullptr) : json(r.method)},
                     {"observed", Optional(r.observed)},
                     {"p_value", Optional(r.p_value)},
                     {"threshold", Optional(r.threshold)},
                     {"passed", r.passed},
                     {"failing_count", r.failing_count},
                     {"total", r.total},
                     {"severity", r.severity},
                     {"failing_rows", json::parse(r.failing_rows, nullptr, false)},
                     {"detail", r.detail},
                     {"run_id", r.run_id},
                     {"task_id", r.task_id},
                     {"try_number", r.try_number}});
    }
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  const state::CheckResultRecord& first = results->front();
  int failed = 0, warned = 0;
  for (const auto& r : *results) {
    if (!r.passed) ++(r.severity == "warn" ? warned : failed);
  }
  std::cout << fmt::format("{}{}: checked by {} / {} try {} at {}\n", first.dataset_uri,
                           first.dataset_version ? fmt::format("@{}", *first.dataset_version) : "",
                           first.run_id, first.task_id, first.try_number,
                           FormatIso(first.ended_at));
  Table table(
      {"CHECK", "COLUMN", "SEVERITY", "RESULT", "OBSERVED", "THRESHOLD", "FAILING", "DETAIL"});
  for (const auto& r : *results) {
    std::string observed = Shown(r.observed);
    if (r.p_value) observed += fmt::format(" (p {})", Shown(r.p_value));
    table.Add({r.method.empty() ? r.check : r.check + " " + r.method,
               r.column.empty() ? "-" : r.column, r.severity, r.passed ? "pass" : "FAIL", observed,
               Shown(r.threshold), std::to_string(r.failing_count), r.detail});
  }
  table.Print(std::cout);
  std::cout << fmt::format("{} checks: {} passed, {} failed, {} warned\n", results->size(),
                           results->size() - failed - warned, failed, warned);
  return 0;
}

}  // namespace weir::cli

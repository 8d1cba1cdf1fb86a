// The `validate` kind (docs/tasks.md#validate): checks on one table, each passing or failing
// with the value it observed, run inside `weir task run`. A failed check of severity `error`
// fails the task; one of severity `warn` is reported only. Per-row checks take `mostly:`, the
// fraction of rows that must pass. `drift` compares a column with a reference (the dataset's
// previous version, another table, or a query) by PSI, Kolmogorov-Smirnov, Wasserstein,
// chi-squared or Jensen-Shannon (tasks/drift.h).
#ifndef WEIR_TASKS_VALIDATE_H_
#define WEIR_TASKS_VALIDATE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

struct ValidateConfig {
  std::string task;            // for messages
  std::string dataset;         // its URI: warehouse://T or sqlite://FILE#T
  std::filesystem::path path;  // the SQLite file holding the table
  std::string table;
  std::string checks_json;  // the `checks:` list as the DAG wrote it (rendered), JSON
  std::map<std::string, std::string> bindings;  // :name values for `sql` checks, as JSON
  std::string interval_end;                     // ISO 8601: freshness is measured against it
};

struct CheckResult {
  std::string check;               // row_count, not_null, ...
  std::string column;              // the column(s) checked, comma-separated; empty for table checks
  std::string method;              // drift: psi, ks, wasserstein, chi2, js
  std::string severity;            // error | warn
  std::optional<double> observed;  // the count, fraction, age (s) or statistic measured
  std::optional<double> p_value;   // ks and chi2
  std::optional<double> threshold;  // the bound `observed` (or p_value) was held to
  bool passed = false;
  std::int64_t failing_count = 0;   // rows (or problems) that failed
  std::int64_t total = 0;           // rows considered
  std::string failing_rows = "[]";  // JSON: up to five failing rows, as objects
  std::string detail;               // one line for people
};

// Runs every check. An error is returned only when the checks cannot be run at all (the table
// is missing, a check's SQL does not prepare); a check that fails is a result. `fingerprint`
// is the dataset's version now: `reference: previous` compares with the profile kept for the
// last other version and then keeps one for this one (in the table weir_profiles).
[[nodiscard]] Result<std::vector<CheckResult>> RunValidate(const ValidateConfig& config,
                                                           std::string_view fingerprint);

// The results as a table for the task's log.
std::string FormatCheckResults(const std::vector<CheckResult>& results);

std::string CheckResultsToJson(const std::vector<CheckResult>& results);
[[nodiscard]] Result<std::vector<CheckResult>> CheckResultsFromJson(std::string_view json);

std::string ValidateConfigToJson(const ValidateConfig& config);
[[nodiscard]] Result<ValidateConfig> ValidateConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_VALIDATE_H_

#include "tasks/validate.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strings.h"
#include "common/time.h"
#include "tasks/drift.h"
#include "tasks/ingest.h"
#include "tasks/warehouse.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

constexpr int kFailingRowsShown = 5;

// regexp(pattern, value) for SQLite's REGEXP operator, by RE2: linear time whatever the pattern,
// so a hostile pattern cannot hang a check. The compiled pattern is cached per statement.
void RegexpFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto* re = static_cast<RE2*>(sqlite3_get_auxdata(context, 0));
  if (re == nullptr) {
    const char* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    re = new RE2(pattern == nullptr ? "" : pattern, RE2::Quiet);
    if (!re->ok()) {
      std::string error = "bad regex: " + re->error();
      delete re;
      sqlite3_result_error(context, error.c_str(), -1);
      return;
    }
    sqlite3_set_auxdata(context, 0, re, [](void* p) { delete static_cast<RE2*>(p); });
    re = static_cast<RE2*>(sqlite3_get_auxdata(context, 0));
    if (re == nullptr) {
      sqlite3_result_error_nomem(context);
      return;
    }
  }
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  int size = sqlite3_value_bytes(argv[1]);
  sqlite3_result_int(context, RE2::PartialMatch(re2::StringPiece(text, size), *re) ? 1 : 0);
}

double Number(const json& j, const char* key, double fallback) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

std::string Text(const json& j, const char* key, std::string fallback = "") {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

// A SQL literal for a JSON scalar of a check's config.
std::string Literal(const json& value) {
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (value.is_null()) return "NULL";
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  std::string quoted = "'";
  for (char c : text) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  return quoted + "'";
}

std::string FormatNumber(double v) {
  if (std::trunc(v) == v && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{:.4g}", v);
}

class Validator {
 public:
  Validator(const ValidateConfig& config, std::string_view fingerprint)
      : c_(config), fingerprint_(fingerprint), table_(QuoteIdentifier(config.table)) {}

  Result<std::vector<CheckResult>> Run() {
    auto connection = Connection::Open(c_.path);
    if (!connection) return std::unexpected(connection.error());
    db_.emplace(std::move(*connection));
    sqlite3_create_function_v2(db_->get(), "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                               RegexpFunction, nullptr, nullptr, nullptr);
    if (!db_->TableExists(c_.table)) {
      return Fail(ErrorCode::kNotFound,
                  fmt::format("validate {}: the table {} does not exist in {}", c_.task, c_.table,
                              c_.path.string()));
    }
    json checks = json::parse(c_.checks_json, nullptr, false);
    if (!checks.is_array()) {
      return Fail(ErrorCode::kInvalidArgument, "validate: 'checks' is not a list");
    }
    auto rows = Scalar("SELECT count(*) FROM " + table_);
    if (!rows) return std::unexpected(rows.error());
    rows_ = static_cast<std::int64_t>(*rows);
    std::vector<CheckResult> results(checks.size());  // sized once: per-row checks point in
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const json& check = checks[i];
      CheckResult& r = results[i];
      r.check = Text(check, "check");
      r.severity = Text(check, "severity", "error");
      if (check.contains("column")) r.column = Text(check, "column");
      if (auto ok = Evaluate(check, &r); !ok) CouldNotEvaluate(&r, ok.error());
    }
    CountPerRow();
    if (auto ok = SaveProfiles(); !ok) return std::unexpected(ok.error());
    return results;
  }

 private:
  Result<double> Scalar(const std::string& sql) {
    auto stmt = db_->Prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) {
      return std::unexpected(db_->LastError("the check's SQL failed"));
    }
    return sqlite3_column_double(stmt->get(), 0);
  }

  // Up to five rows of `sql` as JSON objects.
  Result<std::string> Sample(const std::string& sql, bool bind = false) {
    auto stmt = db_->Prepare(sql + fmt::format(" LIMIT {}", kFailingRowsShown));
    if (!stmt) return std::unexpected(stmt.error());
    if (bind) {
      if (auto ok = BindParameters(stmt->get(), c_.bindings); !ok) {
        return std::unexpected(ok.error());
      }
    }
    return RowsJson(stmt->get(), kFailingRowsShown);
  }

  static Result<std::string> RowsJson(sqlite3_stmt* stmt, int limit) {
    json rows = json::array();
    int rc = SQLITE_ROW;
    while (static_cast<int>(rows.size()) < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      json row = json::object();
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const char* name = sqlite3_column_name(stmt, i);
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_INTEGER:
            row[name] = sqlite3_column_int64(stmt, i);
            break;
          case SQLITE_FLOAT:
            row[name] = sqlite3_column_double(stmt, i);
            break;
          case SQLITE_NULL:
            row[name] = nullptr;
            break;
          default:
            row[name] = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                                    sqlite3_column_bytes(stmt, i));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  // A check that cannot be evaluated (its SQL does not prepare, a column is not numeric) fails,
  // and says why.
  static void CouldNotEvaluate(CheckResult* r, const Error& error) {
    r->passed = false;
    r->observed.reset();
    r->detail = "could not be evaluated: " + error.message;
  }

  // A per-row check: `failing` is the SQL condition of a failing row among `considered` rows.
  // Its rows are counted later, in one scan of the table for all per-row checks.
  Result<void> PerRow(const json& check, CheckResult* r, const std::string& considered,
                      const std::string& failing, const std::string& what) {
    pending_.push_back({&check, r, considered, failing, what});
    return {};
  }

  // Counts the rows of every per-row check in one scan; when that scan cannot run (a check names
  // a column that is not there), each check is counted alone, so that only the bad one fails.
  void CountPerRow() {
    CountNative();
    if (pending_.empty()) return;
    std::vector<std::string> sums;
    for (const PendingRow& p : pending_) {
      sums.push_back(fmt::format("coalesce(sum(CASE WHEN {} THEN 1 ELSE 0 END), 0)", p.considered));
      sums.push_back(fmt::format("coalesce(sum(CASE WHEN ({}) AND ({}) THEN 1 ELSE 0 END), 0)",
                                 p.considered, p.failing));
    }
    auto all = db_->Prepare(fmt::format("SELECT {} FROM {}", fmt::join(sums, ", "), table_));
    if (all && sqlite3_step(all->get()) == SQLITE_ROW) {
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        Finish(pending_[i], sqlite3_column_int64(all->get(), 2 * i),
               sqlite3_column_int64(all->get(), 2 * i + 1));
      }
    } else {
      for (const PendingRow& p : pending_) {
        auto counts = db_->Prepare(fmt::format(
            "SELECT coalesce(sum(CASE WHEN {0} THEN 1 ELSE 0 END), 0), coalesce(sum(CASE WHEN "
            "({0}) AND ({1}) THEN 1 ELSE 0 END), 0) FROM {2}",
            p.considered, p.failing, table_));
        if (!counts) {
          CouldNotEvaluate(p.result, counts.error());
        } else if (sqlite3_step(counts->get()) != SQLITE_ROW) {
          CouldNotEvaluate(p.result, db_->LastError("the check failed"));
        } else {
          Finish(p, sqlite3_column_int64(counts->get(), 0), sqlite3_column_int64(counts->get(), 1));
        }
      }
    }
    pending_.clear();
  }

  // How a per-row check is counted without SQL, when its semantics allow: read the column and
  // test each value in C++, in one scan for all such checks.
  struct Native {
    enum class Kind { kNone, kNotNull, kBetween, kInSetText, kRegex } kind = Kind::kNone;
    std::string column;
    std::optional<double> min, max;
    bool strict_min = false, strict_max = false;
    std::set<std::string, std::less<>> values;
    std::shared_ptr<RE2> re;
  };

  // Whether `column` of the table has TEXT affinity (its declared type holds CHAR, CLOB or TEXT
  // and not INT), as SQLite decides it.
  bool TextAffinity(const std::string& column) {
    auto info = db_->Prepare("SELECT upper(type) FROM pragma_table_info(?1) WHERE name = ?2");
    if (!info) return false;
    sqlite3_bind_text(info->get(), 1, c_.table.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(info->get(), 2, column.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(info->get()) != SQLITE_ROW) return false;
    std::string type = reinterpret_cast<const char*>(sqlite3_column_text(info->get(), 0));
    return type.find("INT") == std::string::npos &&
           (type.find("CHAR") != std::string::npos || type.find("CLOB") != std::string::npos ||
            type.find("TEXT") != std::string::npos);
  }

  // Counts the checks that have a native form in one read of their columns, and takes them off
  // `pending_`. If the read cannot run (a column is not there), they stay for the SQL count,
  // which says which one is wrong.
  void CountNative() {
    std::vector<std::string> columns;
    std::vector<std::size_t> natives;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Native& n = pending_[i].native;
      if (n.kind == Native::Kind::kNone) continue;
      natives.push_back(i);
      if (std::find(columns.begin(), columns.end(), n.column) == columns.end()) {
        columns.push_back(n.column);
      }
    }
    if (natives.empty()) return;
    std::vector<std::string> quoted;
    for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
    auto read = db_->Prepare(fmt::format("SELECT {} FROM {}", fmt::join(quoted, ", "), table_));
    if (!read) return;
    std::vector<int> at(natives.size());
    for (std::size_t k = 0; k < natives.size(); ++k) {
      at[k] = static_cast<int>(
          std::find(columns.begin(), columns.end(), pending_[natives[k]].native.column) -
          columns.begin());
    }
    std::vector<std::int64_t> considered(natives.size(), 0), failing(natives.size(), 0);
    sqlite3_stmt* stmt = read->get();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (std::size_t k = 0; k < natives.size(); ++k) {
        const Native& n = pending_[natives[k]].native;
        const int type = sqlite3_column_type(stmt, at[k]);
        if (n.kind == Native::Kind::kNotNull) {
          ++considered[k];
          failing[k] += type == SQLITE_NULL;
          continue;
        }
        if (type == SQLITE_NULL) continue;
        ++considered[k];
        bool bad = false;
        switch (n.kind) {
          case Native::Kind::kBetween: {
            if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) {
              bad = true;
              break;
            }
            const double v = sqlite3_column_double(stmt, at[k]);
            bad = (n.min && (n.strict_min ? v <= *n.min : v < *n.min)) ||
                  (n.max && (n.strict_max ? v >= *n.max : v > *n.max));
            break;
          }
          case Native::Kind::kInSetText:
          case Native::Kind::kRegex: {
            std::string_view text(reinterpret_cast<const char*>(sqlite3_column_text(stmt, at[k])),
                                  sqlite3_column_bytes(stmt, at[k]));
            bad = n.kind == Native::Kind::kInSetText
                      ? n.values.find(text) == n.values.end()
                      : !RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *n.re);
            break;
          }
          default:
            break;
        }
        failing[k] += bad;
      }
    }
    if (rc != SQLITE_DONE) return;
    for (std::size_t k = 0; k < natives.size(); ++k) {
      Finish(pending_[natives[k]], considered[k], failing[k]);
    }
    for (auto it = natives.rbegin(); it != natives.rend(); ++it) {
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }

  struct PendingRow {
    const json* check;
    CheckResult* result;
    std::string considered, failing, what;
    Native native;
  };

  void Finish(const PendingRow& p, std::int64_t total, std::int64_t failing) {
    CheckResult* r = p.result;
    r->total = total;
    r->failing_count = failing;
    const double mostly = Number(*p.check, "mostly", 1.0);
    const double passing = total == 0 ? 1.0 : 1.0 - static_cast<double>(failing) / total;
    r->observed = passing;
    r->threshold = mostly;
    r->passed = passing >= mostly;
    r->detail = fmt::format("{} of {} rows {}{}", failing, total, p.what,
                            p.check->contains("mostly") ? fmt::format(" (mostly {})", mostly) : "");
    if (failing > 0) {
      auto sample = Sample(
          fmt::format("SELECT * FROM {} WHERE ({}) AND ({})", table_, p.considered, p.failing));
      if (!sample) {
        CouldNotEvaluate(r, sample.error());
        return;
      }
      r->failing_rows = std::move(*sample);
    }
  }

  Result<void> Evaluate(const json& check, CheckResult* r) {
    const std::string& kind = r->check;
    const std::string column = QuoteIdentifier(r->column);
    if (kind == "row_count") {
      r->observed = static_cast<double>(rows_);
      r->total = rows_;
      double min = Number(check, "min", 0);
      double max = Number(check, "max", INFINITY);
      r->passed = rows_ >= min && rows_ <= max;
      r->threshold = check.contains("min") ? min : max;
      r->failing_count = r->passed ? 0 : 1;
      r->detail = fmt::format(
          "{} rows (expected {}{})", rows_,
          check.contains("min") ? fmt::format("at least {}", FormatNumber(min)) : "",
          check.contains("max")
              ? fmt::format("{}at most {}", check.contains("min") ? ", " : "", FormatNumber(max))
              : "");
      return {};
    }
    if (kind == "not_null") {
      auto ok = PerRow(check, r, "true", column + " IS NULL", "are NULL");
      pending_.back().native = {.kind = Native::Kind::kNotNull, .column = r->column};
      return ok;
    }
    if (kind == "unique") {
      std::vector<std::string> columns;
      if (check.contains("columns")) {
        for (const json& c : check["columns"]) columns.push_back(c.get<std::string>());
      } else {
        columns.push_back(r->column);
      }
      r->column = fmt::format("{}", fmt::join(columns, ","));
      std::vector<std::string> quoted, not_null;
      for (const std::string& c : columns) {
        quoted.push_back(QuoteIdentifier(c));
        not_null.push_back(QuoteIdentifier(c) + " IS NOT NULL");
      }
      const std::string key = fmt::format("{}", fmt::join(quoted, ", "));
      const std::string considered = fmt::format("{}", fmt::join(not_null, " AND "));
      // Rows whose key another row shares; rows with a NULL in the key are not compared.
      auto counts = db_->Prepare(fmt::format(
          "SELECT coalesce(sum(n), 0), coalesce(sum(CASE WHEN n > 1 THEN n ELSE 0 END), 0) FROM "
          "(SELECT count(*) AS n FROM {} WHERE {} GROUP BY {})",
          table_, considered, key));
      if (!counts) return std::unexpected(counts.error());
      if (sqlite3_step(counts->get()) != SQLITE_ROW) {
        return std::unexpected(db_->LastError("the check failed"));
      }
      r->total = sqlite3_column_int64(counts->get(), 0);
      r->failing_count = sqlite3_column_int64(counts->get(), 1);
      const double mostly = Number(check, "mostly", 1.0);
      const double passing =
          r->total == 0 ? 1.0 : 1.0 - static_cast<double>(r->failing_count) / r->total;
      r->observed = passing;
      r->threshold = mostly;
      r->passed = passing >= mostly;
      r->detail = fmt::format("{} of {} rows share their ({}) with another row", r->failing_count,
                              r->total, r->column);
      if (r->failing_count > 0) {
        auto sample = Sample(fmt::format(
            "SELECT {0}, count(*) AS rows FROM {1} WHERE {2} GROUP BY {0} HAVING count(*) > 1", key,
            table_, considered));
        if (!sample) return std::unexpected(sample.error());
        r->failing_rows = std::move(*sample);
      }
      return {};
    }
    if (kind == "between") {
      std::vector<std::string> bounds;
      const bool strict = check.value("strict", false);
      if (check.contains("min")) {
        bounds.push_back(fmt::format("{} {} {}", column,
                                     check.value("strict_min", strict) ? "<=" : "<",
                                     Literal(check["min"])));
      }
      if (check.contains("max")) {
        bounds.push_back(fmt::format("{} {} {}", column,
                                     check.value("strict_max", strict) ? ">=" : ">",
                                     Literal(check["max"])));
      }
      std::string failing =
          fmt::format("typeof({}) NOT IN ('integer', 'real') OR {}", column,
                      bounds.empty() ? "false" : fmt::format("{}", fmt::join(bounds, " OR ")));
      if ((check.contains("min") && check["min"].is_string()) ||
          (check.contains("max") && check["max"].is_string())) {
        failing = fmt::format("{}", fmt::join(bounds, " OR "));  // text bounds: dates, names
      }
      r->threshold = std::nullopt;
      auto ok = PerRow(
          check, r, column + " IS NOT NULL", failing,
          fmt::format("are outside [{}, {}]", check.contains("min") ? check["min"].dump() : "-inf",
                      check.contains("max") ? check["max"].dump() : "inf"));
      const bool numeric = (!check.contains("min") || check["min"].is_number()) &&
                           (!check.contains("max") || check["max"].is_number());
      if (numeric) {
        Native& n = pending_.back().native;
        n = {.kind = Native::Kind::kBetween, .column = r->column};
        if (check.contains("min")) n.min = check["min"].get<double>();
        if (check.contains("max")) n.max = check["max"].get<double>();
        n.strict_min = check.value("strict_min", strict);
        n.strict_max = check.value("strict_max", strict);
      }
      return ok;
    }
    if (kind == "in_set") {
      std::vector<std::string> values;
      for (const json& v : check["values"]) values.push_back(Literal(v));
      auto ok = PerRow(check, r, column + " IS NOT NULL",
                       fmt::format("{} NOT IN ({})", column, fmt::join(values, ", ")),
                       fmt::format("are not in the set of {} values", values.size()));
      // Strings against a TEXT column compare as text, byte for byte, as SQL's IN does there.
      const bool strings = std::all_of(check["values"].begin(), check["values"].end(),
                                       [](const json& v) { return v.is_string(); });
      if (strings && TextAffinity(r->column)) {
        Native& n = pending_.back().native;
        n = {.kind = Native::Kind::kInSetText, .column = r->column};
        for (const json& v : check["values"]) n.values.insert(v.get<std::string>());
      }
      return ok;
    }
    if (kind == "regex") {
      const std::string pattern = Text(check, "pattern");
      RE2 re(pattern, RE2::Quiet);
      if (!re.ok()) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("bad pattern '{}': {}", Printable(pattern), re.error()));
      }
      auto ok = PerRow(check, r, column + " IS NOT NULL",
                       fmt::format("NOT regexp({}, CAST({} AS TEXT))", Literal(pattern), column),
                       fmt::format("do not match {}", Printable(pattern, 40)));
      pending_.back().native = {.kind = Native::Kind::kRegex,
                                .column = r->column,
                                .re = std::make_shared<RE2>(pattern, RE2::Quiet)};
      return ok;
    }
    if (kind == "freshness") return Freshness(check, r, column);
    if (kind == "schema") return Schema(check, r);
    if (kind == "sql") return SqlCheck(check, r);
    if (kind == "drift") return Drift(check, r, column);
    return Fail(ErrorCode::kInvalidArgument, fmt::format("unknown check '{}'", kind));
  }

  Result<void> Freshness(const json& check, CheckResult* r, const std::string& column) {
    auto max_age = ParseDuration(Text(check, "max_age"));
    if (!max_age) return std::unexpected(max_age.error());
    auto end = ParseTimestamp(c_.interval_end);
    if (!end) return std::unexpected(end.error());
    auto stmt = db_->Prepare(fmt::format("SELECT max({}) FROM {}", column, table_));
    if (!stmt) return std::unexpected(stmt.error());
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) {
      return std::unexpected(db_->LastError("the check failed"));
    }
    r->threshold = static_cast<double>(max_age->count()) / 1000;
    r->total = rows_;
    const unsigned char* newest = sqlite3_column_text(stmt->get(), 0);
    if (newest == nullptr) {
      r->passed = false;
      r->failing_count = rows_;
      r->detail = "no timestamp: the column is empty";
      return {};
    }
    auto at = ParseTimestamp(reinterpret_cast<const char*>(newest));
    if (!at) {
      r->passed = false;
      r->detail = fmt::format("the newest value '{}' is not a timestamp",
                              Printable(reinterpret_cast<const char*>(newest)));
      return {};
    }
    const double age = static_cast<double>((*end - *at).count()) / 1000;
    r->observed = age;
    r->passed = age <= *r->threshold;
    r->failing_count = r->passed ? 0 : 1;
    r->detail = fmt::format("newest {} is {} before the interval end {} (max_age {})",
                            reinterpret_cast<const char*>(newest),
                            FormatDuration(Duration(static_cast<std::int64_t>(age * 1000))),
                            c_.interval_end, Text(check, "max_age"));
    return {};
  }

  Result<void> Schema(const json& check, CheckResult* r) {
    std::map<std::string, std::string> types;  // column -> declared type, upper case
    auto info = db_->Prepare("SELECT name, upper(type) FROM pragma_table_info(?1)");
    if (!info) return std::unexpected(info.error());
    sqlite3_bind_text(info->get(), 1, c_.table.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(info->get()) == SQLITE_ROW) {
      types[reinterpret_cast<const char*>(sqlite3_column_text(info->get(), 0))] =
          reinterpret_cast<const char*>(sqlite3_column_text(info->get(), 1));
    }
    json problems = json::array();
    if (check.contains("required")) {
      for (auto& [name, type] : check["required"].items()) {
        auto it = types.find(name);
        std::string wanted = type.is_string() ? type.get<std::string>() : "";
        std::transform(wanted.begin(), wanted.end(), wanted.begin(), ::toupper);
        if (it == types.end()) {
          problems.push_back({{"column", name}, {"problem", "missing"}});
        } else if (!wanted.empty() && it->second != wanted) {
          problems.push_back(
              {{"column", name},
               {"problem", fmt::format("type {} where {} is required",
                                       it->second.empty() ? "(none)" : it->second, wanted)}});
        }
      }
    }
    if (check.contains("forbidden")) {
      for (const json& name : check["forbidden"]) {
        if (types.count(name.get<std::string>()) > 0) {
          problems.push_back({{"column", name}, {"problem", "forbidden"}});
        }
      }
    }
    r->total = static_cast<std::int64_t>(types.size());
    r->failing_count = static_cast<std::int64_t>(problems.size());
    r->observed = static_cast<double>(problems.size());
    r->threshold = 0;
    r->passed = problems.empty();
    r->failing_rows = problems.dump();
    std::vector<std::string> lines;
    for (const json& p : problems) {
      lines.push_back(p["column"].get<std::string>() + " " + p["problem"].get<std::string>());
    }
    r->detail = problems.empty() ? fmt::format("{} columns as required", types.size())
                                 : fmt::format("{}", fmt::join(lines, "; "));
    return {};
  }

  Result<void> SqlCheck(const json& check, CheckResult* r) {
    const std::string sql = Text(check, "sql");
    auto query = PrepareReadOnly(*db_, sql, "sql check");
    if (!query) return std::unexpected(query.error());
    if (auto ok = BindParameters(query->statement.get(), c_.bindings); !ok) {
      return std::unexpected(ok.error());
    }
    auto sample = RowsJson(query->statement.get(), kFailingRowsShown);
    if (!sample) return std::unexpected(sample.error());
    std::int64_t count = static_cast<std::int64_t>(json::parse(*sample).size());
    if (count == kFailingRowsShown) {
      while (sqlite3_step(query->statement.get()) == SQLITE_ROW) ++count;
    }
    r->failing_rows = std::move(*sample);
    r->failing_count = count;
    r->observed = static_cast<double>(count);
    r->threshold = 0;
    r->passed = count == 0;
    r->detail = fmt::format("the query returned {} failing rows", count);
    return {};
  }

  // ---- drift ----

  struct Profile {
    std::vector<double> numbers;                               // sorted
    std::vector<std::pair<std::string, std::int64_t>> counts;  // by value
  };

  static bool IsNumeric(std::string_view method) {
    return method == "psi" || method == "ks" || method == "wasserstein";
  }

  // The values of the first column of `sql` (NULLs left out).
  Result<Profile> Load(const std::string& sql, bool numeric, bool bind) {
    Profile p;
    std::string query = numeric
                            ? fmt::format("SELECT v FROM ({}) WHERE v IS NOT NULL", sql)
                            : fmt::format(
                                  "SELECT CAST(v AS TEXT), count(*) FROM ({}) WHERE v IS NOT NULL "
                                  "GROUP BY 1 ORDER BY 1",
                                  sql);
    auto stmt = db_->Prepare(query);
    if (!stmt) return std::unexpected(stmt.error());
    if (bind) {
      if (auto ok = BindParameters(stmt->get(), c_.bindings); !ok) {
        return std::unexpected(ok.error());
      }
    }
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
      if (numeric) {
        int type = sqlite3_column_type(stmt->get(), 0);
        if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) {
          return Fail(ErrorCode::kInvalidArgument,
                      "the column holds values that are not numbers; use method chi2 or js for "
                      "categories");
        }
        p.numbers.push_back(sqlite3_column_double(stmt->get(), 0));
      } else {
        p.counts.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 0)),
                              sqlite3_column_int64(stmt->get(), 1));
      }
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_->LastError("reading values"));
    std::sort(p.numbers.begin(), p.numbers.end());
    return p;
  }

  // The profile kept for the latest other version of this dataset's column, if any.
  Result<std::optional<Profile>> PreviousProfile(const std::string& column, bool numeric) {
    if (!db_->TableExists("weir_profiles")) return std::optional<Profile>();
    auto stmt = db_->Prepare(
        "SELECT data FROM weir_profiles WHERE dataset = ?1 AND column_name = ?2 AND kind = ?3 "
        "AND fingerprint <> ?4 ORDER BY recorded DESC, rowid DESC LIMIT 1");
    if (!stmt) return std::unexpected(stmt.error());
    sqlite3_bind_text(stmt->get(), 1, c_.dataset.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt->get(), 2, column.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt->get(), 3, numeric ? "numeric" : "categorical", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt->get(), 4, fingerprint_.data(), static_cast<int>(fingerprint_.size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) return std::optional<Profile>();
    Profile p;
    const void* data = sqlite3_column_blob(stmt->get(), 0);
    int bytes = sqlite3_column_bytes(stmt->get(), 0);
    if (numeric) {
      p.numbers.resize(bytes / sizeof(double));
      if (bytes > 0) std::memcpy(p.numbers.data(), data, p.numbers.size() * sizeof(double));
    } else {
      json counts =
          json::parse(std::string_view(static_cast<const char*>(data), bytes), nullptr, false);
      if (counts.is_array()) {
        for (const json& c : counts) {
          p.counts.emplace_back(c.at(0).get<std::string>(), c.at(1).get<std::int64_t>());
        }
      }
    }
    return std::optional<Profile>(std::move(p));
  }

  Result<void> Drift(const json& check, CheckResult* r, const std::string& column) {
    const std::string method = Text(check, "method", "psi");
    const bool numeric = IsNumeric(method);
    r->method = method;
    auto current = Load(fmt::format("SELECT {} AS v FROM {}", column, table_), numeric, false);
    if (!current) return std::unexpected(current.error());
    std::optional<Profile> reference;
    std::string against;
    const json& ref = check.contains("reference") ? check["reference"] : json("previous");
    if (ref.is_string()) {  // previous
      auto previous = PreviousProfile(r->column, numeric);
      if (!previous) return std::unexpected(previous.error());
      reference = std::move(*previous);
      against = "the previous version";
      profiles_.push_back({r->column, numeric, *current});
    } else {
      std::string sql = ref.contains("table")
                            ? fmt::format("SELECT {} AS v FROM {}",
                                          QuoteIdentifier(Text(ref, "column", r->column)),
                                          QuoteIdentifier(Text(ref, "table")))
                            : fmt::format("SELECT * FROM ({})", Text(ref, "sql"));
      if (ref.contains("sql")) {
        auto query = PrepareReadOnly(*db_, Text(ref, "sql"), "drift reference");
        if (!query) return std::unexpected(query.error());
        sql = fmt::format("SELECT {} AS v FROM ({})",
                          QuoteIdentifier(sqlite3_column_name(query->statement.get(), 0)),
                          Text(ref, "sql"));
      }
      auto loaded = Load(sql, numeric, ref.contains("sql"));
      if (!loaded) return std::unexpected(loaded.error());
      reference = std::move(*loaded);
      against = ref.contains("table") ? "table " + Text(ref, "table") : "the reference query";
    }
    r->total = static_cast<std::int64_t>(current->numbers.size());
    if (!numeric) {
      r->total = 0;
      for (const auto& [v, n] : current->counts) r->total += n;
    }
    const double fallback = method == "psi" ? 0.2 : method == "ks" || method == "chi2" ? 0.05 : 0.1;
    r->threshold = Number(check, "threshold", fallback);
    if (!reference || (numeric ? reference->numbers.empty() : reference->counts.empty()) ||
        r->total == 0) {
      r->passed = true;
      r->detail = !reference ? "no previous version to compare with yet"
                             : "nothing to compare: a sample is empty";
      return {};
    }
    if (numeric) {
      const std::vector<double>& a = reference->numbers;
      const std::vector<double>& b = current->numbers;
      if (method == "psi") {
        r->observed = PopulationStabilityIndex(a, b, static_cast<int>(Number(check, "bins", 10)));
      } else if (method == "ks") {
        KsResult ks = KolmogorovSmirnov(a, b);
        r->observed = ks.statistic;
        r->p_value = ks.p_value;
      } else {
        double sd = StandardDeviation(a);
        double w = Wasserstein(a, b);
        r->observed = sd > 0 ? w / sd : (w == 0 ? 0 : INFINITY);
      }
    } else {
      // Counts over the union of categories, in one order.
      std::map<std::string, std::pair<std::int64_t, std::int64_t>> both;
      for (const auto& [v, n] : reference->counts) both[v].first = n;
      for (const auto& [v, n] : current->counts) both[v].second = n;
      std::vector<std::int64_t> a, b;
      for (const auto& [v, n] : both) {
        a.push_back(n.first);
        b.push_back(n.second);
      }
      if (method == "chi2") {
        ChiSquaredResult chi = ChiSquared(a, b);
        r->observed = chi.statistic;
        r->p_value = chi.p_value;
      } else {
        r->observed = JensenShannon(a, b);
      }
    }
    // The p-value tests decide by the p-value; the distances by the statistic.
    if (r->p_value) {
      r->passed = *r->p_value >= *r->threshold;
      r->detail = fmt::format("{} statistic {:.4g}, p-value {:.4g} against {} (drift when p < {})",
                              method, *r->observed, *r->p_value, against, *r->threshold);
    } else {
      r->passed = *r->observed <= *r->threshold;
      r->detail = fmt::format("{} {:.4g} against {} (drift when above {})", method, *r->observed,
                              against, *r->threshold);
    }
    r->failing_count = r->passed ? 0 : 1;
    return {};
  }

  // Keeps this version's profile of each column compared with `previous`, and the one before.
  Result<void> SaveProfiles() {
    if (profiles_.empty() || fingerprint_.empty()) return {};
    auto fail = [&](const Error& e) {
      return Fail(e.code,
                  fmt::format("validate {}: keeping the drift profile: {}", c_.task, e.message));
    };
    if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) return fail(ok.error());
    auto body = [&]() -> Result<void> {
      auto created = db_->Exec(
          "CREATE TABLE IF NOT EXISTS weir_profiles (dataset TEXT NOT NULL, column_name TEXT NOT "
          "NULL, kind TEXT NOT NULL, fingerprint TEXT NOT NULL, recorded TEXT NOT NULL, data BLOB "
          "NOT NULL, PRIMARY KEY (dataset, column_name, kind, fingerprint))");
      if (!created) return std::unexpected(created.error());
      for (const SavedProfile& p : profiles_) {
        auto insert = db_->Prepare(
            "INSERT OR REPLACE INTO weir_profiles VALUES (?1, ?2, ?3, ?4, "
            "strftime('%Y-%m-%d %H:%M:%f', 'now'), ?5)");
        if (!insert) return std::unexpected(insert.error());
        sqlite3_stmt* s = insert->get();
        sqlite3_bind_text(s, 1, c_.dataset.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, p.column.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, p.numeric ? "numeric" : "categorical", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, fingerprint_.data(), static_cast<int>(fingerprint_.size()),
                          SQLITE_TRANSIENT);
        std::string counts;
        if (p.numeric) {
          // An empty sample is an empty BLOB, not NULL (a null pointer would bind NULL).
          static const double kNone = 0;
          const double* data = p.profile.numbers.empty() ? &kNone : p.profile.numbers.data();
          sqlite3_bind_blob64(s, 5, data, p.profile.numbers.size() * sizeof(double), SQLITE_STATIC);
        } else {
          json list = json::array();
          for (const auto& [v, n] : p.profile.counts) list.push_back({v, n});
          counts = list.dump(-1, ' ', false, json::error_handler_t::replace);
          sqlite3_bind_blob64(s, 5, counts.c_str(), counts.size(), SQLITE_STATIC);
        }
        if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(db_->LastError("saving"));
        auto pruned = db_->Exec(
            "DELETE FROM weir_profiles WHERE dataset = ?1 AND column_name = ?2 AND kind = ?3 AND "
            "rowid NOT IN (SELECT rowid FROM weir_profiles WHERE dataset = ?1 AND column_name = "
            "?2 AND kind = ?3 ORDER BY recorded DESC, rowid DESC LIMIT 2)",
            [&](sqlite3_stmt* d) -> Result<void> {
              sqlite3_bind_text(d, 1, c_.dataset.c_str(), -1, SQLITE_TRANSIENT);
              sqlite3_bind_text(d, 2, p.column.c_str(), -1, SQLITE_TRANSIENT);
              sqlite3_bind_text(d, 3, p.numeric ? "numeric" : "categorical", -1, SQLITE_STATIC);
              return {};
            });
        if (!pruned) return std::unexpected(pruned.error());
      }
      return {};
    };
    if (auto ok = body(); !ok) {
      (void)db_->Exec("ROLLBACK");
      return fail(ok.error());
    }
    if (auto ok = db_->Exec("COMMIT"); !ok) return fail(ok.error());
    return {};
  }

  struct SavedProfile {
    std::string column;
    bool numeric;
    Profile profile;
  };

  const ValidateConfig& c_;
  std::string fingerprint_;
  std::string table_;
  std::optional<Connection> db_;
  std::int64_t rows_ = 0;
  std::vector<SavedProfile> profiles_;
  std::vector<PendingRow> pending_;  // per-row checks to count in one scan
};

}  // namespace

Result<std::vector<CheckResult>> RunValidate(const ValidateConfig& config,
                                             std::string_view fingerprint) {
  return Validator(config, fingerprint).Run();
}

std::string FormatCheckResults(const std::vector<CheckResult>& results) {
  std::vector<std::vector<std::string>> rows = {
      {"CHECK", "COLUMN", "SEVERITY", "RESULT", "OBSERVED", "DETAIL"}};
  for (const CheckResult& r : results) {
    std::string check = r.method.empty() ? r.check : r.check + " " + r.method;
    rows.push_back({check, r.column.empty() ? "-" : r.column, r.severity,
                    r.passed ? "pass" : "FAIL", r.observed ? FormatNumber(*r.observed) : "-",
                    r.detail});
  }
  std::vector<std::size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], widths[i]);
    }
    out += "\n";
  }
  return out;
}

std::string CheckResultsToJson(const std::vector<CheckResult>& results) {
  json out = json::array();
  auto optional = [](const std::optional<double>& v) {
    return v && std::isfinite(*v) ? json(*v) : json(nullptr);
  };
  for (const CheckResult& r : results) {
    out.push_back({{"check", r.check},
                   {"column", r.column},
                   {"method", r.method},
                   {"severity", r.severity},
                   {"observed", optional(r.observed)},
                   {"p_value", optional(r.p_value)},
                   {"threshold", optional(r.threshold)},
                   {"passed", r.passed},
                   {"failing_count", r.failing_count},
                   {"total", r.total},
                   {"failing_rows", json::parse(r.failing_rows, nullptr, false)},
                   {"detail", r.detail}});
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<CheckResult>> CheckResultsFromJson(std::string_view text) {
  try {
    std::vector<CheckResult> results;
    for (const json& j : json::parse(text)) {
      CheckResult r;
      r.check = j.at("check").get<std::string>();
      r.column = j.at("column").get<std::string>();
      r.method = j.at("method").get<std::string>();
      r.severity = j.at("severity").get<std::string>();
      for (auto [key, into] : {std::pair{"observed", &r.observed}, std::pair{"p_value", &r.p_value},
                               std::pair{"threshold", &r.threshold}}) {
        if (j.at(key).is_number()) *into = j.at(key).get<double>();
      }
      r.passed = j.at("passed").get<bool>();
      r.failing_count = j.at("failing_count").get<std::int64_t>();
      r.total = j.at("total").get<std::int64_t>();
      r.failing_rows = j.at("failing_rows").dump();
      r.detail = j.at("detail").get<std::string>();
      results.push_back(std::move(r));
    }
    return results;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad check results: {}", e.what()));
  }
}

std::string ValidateConfigToJson(const ValidateConfig& c) {
  return json{{"task", c.task},
              {"dataset", c.dataset},
              {"path", c.path.string()},
              {"table", c.table},
              {"checks", json::parse(c.checks_json)},
              {"bindings", c.bindings},
              {"interval_end", c.interval_end}}
      .dump();
}

Result<ValidateConfig> ValidateConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    ValidateConfig c;
    c.task = j.at("task").get<std::string>();
    c.dataset = j.at("dataset").get<std::string>();
    c.path = j.at("path").get<std::string>();
    c.table = j.at("table").get<std::string>();
    c.checks_json = j.at("checks").dump();
    c.bindings = j.at("bindings").get<std::map<std::string, std::string>>();
    c.interval_end = j.at("interval_end").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad validate config: {}", e.what()));
  }
}

}  // namespace weir::tasks

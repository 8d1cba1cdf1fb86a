#include "dags/kinds.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "common/strings.h"
#include "common/time.h"
#include "dags/dags.h"
#include "dags/dataset.h"

namespace weir::dags {
namespace {

bool IsEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

void Add(std::vector<Diagnostic>* errors, const Value& at, std::string message) {
  errors->push_back(Diagnostic{at.loc, std::move(message)});
}

void ValidateShell(const Value& config, std::vector<Diagnostic>* errors) {
  const Value* command = config.Find("command");
  const Value* script = config.Find("script");
  if ((command == nullptr) == (script == nullptr)) {
    Add(errors, config,
        "a shell task needs exactly one of 'command' (a list: program and arguments, run "
        "without a shell) or 'script' (text run by /bin/sh -c)");
  }
  if (command != nullptr) {
    if (!command->is_list() || command->AsList().empty()) {
      Add(errors, *command, "'command' must be a non-empty list of strings, e.g. [python3, x.py]");
    } else {
      for (const Value& arg : command->AsList()) {
        if (!arg.is_scalar() || arg.is_null()) {
          Add(errors, arg, "each 'command' argument must be a string");
        }
      }
    }
  }
  if (script != nullptr && (!script->is_string() || script->AsString().empty())) {
    Add(errors, *script, "'script' must be a non-empty string");
  }
  if (const Value* env = config.Find("env")) {
    if (!env->is_map()) {
      Add(errors, *env, "'env' must be a map of NAME: value");
    } else {
      for (const auto& [name, value] : env->AsMap()) {
        if (!IsEnvName(name)) {
          errors->push_back(
              {value.key_loc,
               fmt::format("'{}' is not a valid environment variable name", Printable(name))});
        } else if (name.starts_with("WEIR_")) {
          errors->push_back(
              {value.key_loc,
               fmt::format("'{}': names starting with WEIR_ are set by weir itself", name)});
        }
        if (!value.is_scalar() || value.is_null()) {
          Add(errors, value, fmt::format("env '{}' must be a string or number", name));
        }
      }
    }
  }
  for (const char* key : {"inputs", "outputs"}) {
    const Value* list = config.Find(key);
    if (list == nullptr) continue;
    if (!list->is_list()) {
      Add(errors, *list,
          fmt::format("'{}' must be a list of dataset URIs (file:PATH, warehouse://TABLE or "
                      "sqlite://PATH#TABLE)",
                      key));
      continue;
    }
    for (const Value& item : list->AsList()) {
      if (!item.is_string()) {
        Add(errors, item, fmt::format("each of '{}' must be a dataset URI string", key));
        continue;
      }
      // A templated URI is checked once rendered; its scheme can be checked now.
      const std::string& text = item.AsString();
      std::string_view checked = text;
      if (auto brace = text.find("{{"); brace != std::string::npos) {
        checked = std::string_view(text).substr(0, brace);
        if (checked.starts_with("file:") || checked.starts_with("sqlite://") ||
            checked.starts_with("warehouse://")) {
          continue;
        }
      }
      if (auto uri = ParseDatasetUri(text); !uri) Add(errors, item, uri.error().message);
    }
  }
  if (const Value* cwd = config.Find("cwd")) {
    if (!cwd->is_string() || cwd->AsString().empty()) {
      Add(errors, *cwd, "'cwd' must be a non-empty path");
    }
  }
}

// SQL text: params may reach it only as bound parameters.
void ValidateSqlText(const Value& sql, std::vector<Diagnostic>* errors) {
  const std::string& text = sql.AsString();
  if (text.find("params.") != std::string::npos && text.find("{{") != std::string::npos) {
    Add(errors, sql,
        "params reach SQL only as bound parameters: write :name, not {{ params.name }}");
  }
}

// `into`, `mode`, `key` and `partition_column`: how ingest and transform write their table.
void ValidateWrite(const Value& config, std::string_view kind, std::vector<Diagnostic>* errors) {
  const Value* into = config.Find("into");
  if (into == nullptr) {
    Add(errors, config, fmt::format("a {} task needs 'into': the table it writes", kind));
  } else if (!into->is_string() || !IsTableName(into->AsString())) {
    Add(errors, *into,
        "'into' must be a table name: letters, digits and '_', not starting with a digit");
  }
  std::string mode = "replace";
  if (const Value* m = config.Find("mode")) {
    if (!m->is_string() || (m->AsString() != "replace" && m->AsString() != "append" &&
                            m->AsString() != "upsert" && m->AsString() != "partition")) {
      Add(errors, *m, "'mode' must be replace, append, upsert or partition");
    } else {
      mode = m->AsString();
    }
  }
  const Value* key = config.Find("key");
  if (key != nullptr) {
    bool ok = key->is_list() && !key->AsList().empty();
    for (const Value& k : ok ? key->AsList() : Value::List{}) {
      ok = ok && k.is_string() && IsTableName(k.AsString());
    }
    if (!ok) Add(errors, *key, "'key' must be a non-empty list of column names");
  }
  if (mode == "upsert" && key == nullptr) {
    Add(errors, config, "mode upsert needs 'key': the columns that identify a row");
  }
  const Value* partition = config.Find("partition_column");
  if (partition != nullptr && (!partition->is_string() || !IsTableName(partition->AsString()))) {
    Add(errors, *partition, "'partition_column' must be a column name");
  }
  if (mode == "partition" && partition == nullptr) {
    Add(errors, config,
        "mode partition needs 'partition_column': the column whose values in the run's data "
        "interval are replaced");
  }
}

// `transform`: SQL run in the warehouse into a table (tasks/transform.h).
void ValidateTransform(const Value& config, std::vector<Diagnostic>* errors) {
  const Value* sql = config.Find("sql");
  const Value* sql_file = config.Find("sql_file");
  if ((sql == nullptr) == (sql_file == nullptr)) {
    Add(errors, config,
        "a transform task needs exactly one of 'sql' (a SELECT) or 'sql_file' (a file holding "
        "one)");
  }
  for (const Value* text : {sql, sql_file}) {
    if (text == nullptr) continue;
    if (!text->is_string() || text->AsString().empty()) {
      Add(errors, *text, "'sql' and 'sql_file' must be non-empty strings");
    } else {
      ValidateSqlText(*text, errors);
    }
  }
  if (const Value* script = config.Find("script");
      script != nullptr && script->type() != Value::Type::kBool) {
    Add(errors, *script,
        "'script' must be true or false (true: several statements, TEMP scratch work then the "
        "final SELECT)");
  }
  ValidateWrite(config, "transform", errors);
}

// A string among `allowed`; appends an error otherwise. Returns the value, or "" if bad.
std::string OneOf(const Value& v, std::string_view key, const std::vector<std::string>& allowed,
                  std::vector<Diagnostic>* errors) {
  if (v.is_string() && std::find(allowed.begin(), allowed.end(), v.AsString()) != allowed.end()) {
    return v.AsString();
  }
  auto hint = v.is_string() ? ClosestMatch(v.AsString(), allowed) : std::nullopt;
  Add(errors, v,
      fmt::format("'{}' must be one of {}{}", Printable(key), fmt::join(allowed, ", "),
                  hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
  return "";
}

void PositiveInt(const Value* v, std::string_view key, std::vector<Diagnostic>* errors) {
  if (v != nullptr && (v->type() != Value::Type::kInt || v->AsInt() <= 0)) {
    Add(errors, *v, fmt::format("'{}' must be a positive whole number", key));
  }
}

void DurationValue(const Value* v, std::string_view key, std::vector<Diagnostic>* errors) {
  if (v == nullptr) return;
  if (!v->is_string() || !ParseDuration(v->AsString())) {
    Add(errors, *v, fmt::format("'{}' must be a duration such as 30s, 5m or 1h", key));
  }
}

void ValidateCsvOptions(const Value& source, std::vector<Diagnostic>* errors) {
  for (const char* key : {"delimiter", "quote"}) {
    const Value* v = source.Find(key);
    if (v == nullptr) continue;
    if (!v->is_string() || v->AsString().size() != 1 || v->AsString() == "\n" ||
        v->AsString() == "\r") {
      Add(errors, *v, fmt::format("'{}' must be one character, e.g. \",\" or \"\\t\"", key));
    }
  }
  if (const Value* header = source.Find("header");
      header != nullptr && header->type() != Value::Type::kBool) {
    Add(errors, *header, "'header' must be true or false");
  }
  if (const Value* nulls = source.Find("null_values")) {
    bool ok = nulls->is_list();
    for (const Value& n : ok ? nulls->AsList() : Value::List{}) ok = ok && n.is_string();
    if (!ok) Add(errors, *nulls, "'null_values' must be a list of strings, e.g. [\"\", NA]");
  }
  PositiveInt(source.Find("max_field_bytes"), "max_field_bytes", errors);
}

// `ingest`: rows from a file, a query or a URL into a table (tasks/ingest.h).
void ValidateIngest(const Value& config, std::vector<Diagnostic>* errors) {
  const Value* source = config.Find("source");
  std::string format;
  if (source == nullptr || !source->is_map()) {
    Add(errors, source == nullptr ? config : *source,
        "an ingest task needs 'source': a map with 'format' (csv, jsonl, sqlite or http) and "
        "where to read");
  } else if (const Value* f = source->Find("format"); f == nullptr) {
    Add(errors, *source, "'source' needs 'format': csv, jsonl, sqlite or http");
  } else {
    format = OneOf(*f, "format", {"csv", "jsonl", "sqlite", "http"}, errors);
  }
  bool csv = format == "csv";
  if (!format.empty()) {
    std::vector<std::string> keys = {"format"};
    if (format == "http") {
      keys.insert(keys.end(),
                  {"url", "body", "headers", "timeout", "retries", "backoff", "max_bytes",
                   "delimiter", "quote", "header", "null_values", "max_field_bytes"});
      const Value* url = source->Find("url");
      if (url == nullptr || !url->is_string() ||
          !(url->AsString().starts_with("http://") || url->AsString().starts_with("https://"))) {
        Add(errors, url == nullptr ? *source : *url,
            "an http source needs 'url': an http:// or https:// URL");
      }
      if (const Value* body = source->Find("body")) {
        csv = OneOf(*body, "body", {"json", "jsonl", "csv"}, errors) == "csv";
      }
      if (const Value* headers = source->Find("headers")) {
        if (!headers->is_map()) {
          Add(errors, *headers,
              "'headers' must map a header name to the environment variable holding its value, "
              "e.g. {Authorization: API_TOKEN}");
        } else {
          for (const auto& [name, variable] : headers->AsMap()) {
            if (variable.is_string() && variable.AsString().starts_with("WEIR_")) {
              Add(errors, variable,
                  fmt::format("header '{}': variables starting with WEIR_ are weir's own, not "
                              "passed to the task; use another name",
                              Printable(name)));
            } else if (!variable.is_string() || !IsEnvName(variable.AsString())) {
              Add(errors, variable,
                  fmt::format("header '{}' must name an environment variable (its value is "
                              "read from there, so secrets stay out of the DAG file)",
                              Printable(name)));
            }
          }
        }
      }
      DurationValue(source->Find("timeout"), "timeout", errors);
      DurationValue(source->Find("backoff"), "backoff", errors);
      if (const Value* r = source->Find("retries");
          r != nullptr && (r->type() != Value::Type::kInt || r->AsInt() < 0 || r->AsInt() > 20)) {
        Add(errors, *r, "'retries' must be a whole number from 0 to 20");
      }
      PositiveInt(source->Find("max_bytes"), "max_bytes", errors);
    } else {
      keys.push_back("path");
      const Value* path = source->Find("path");
      if (path == nullptr || !path->is_string() || path->AsString().empty()) {
        Add(errors, path == nullptr ? *source : *path,
            fmt::format("a {} source needs 'path': the file, relative to the DAG's folder",
                        format));
      }
      if (format == "csv") {
        keys.insert(keys.end(), {"delimiter", "quote", "header", "null_values", "max_field_bytes"});
      }
      if (format == "sqlite") {
        keys.push_back("query");
        const Value* query = source->Find("query");
        if (query == nullptr || !query->is_string() || query->AsString().empty()) {
          Add(errors, query == nullptr ? *source : *query,
              "a sqlite source needs 'query': one SELECT, run read-only");
        } else {
          ValidateSqlText(*query, errors);
        }
      }
    }
    CheckKnownKeys(*source, keys, fmt::format("a {} source", format), errors);
    if (csv) ValidateCsvOptions(*source, errors);
  }
  const Value* columns = config.Find("columns");
  if (columns != nullptr) {
    if (!columns->is_map() || columns->AsMap().empty()) {
      Add(errors, *columns, "'columns' must map each column to its type, e.g. {id: INTEGER}");
    } else {
      for (const auto& [name, type] : columns->AsMap()) {
        if (!IsTableName(name)) {
          errors->push_back({type.key_loc, fmt::format("'{}' is not a column name (letters, "
                                                       "digits and '_')",
                                                       Printable(name))});
        }
        OneOf(type, "columns." + name, {"INTEGER", "REAL", "TEXT", "TIMESTAMP"}, errors);
      }
    }
  }
  if (csv && columns == nullptr) {
    if (const Value* header = source->Find("header");
        header != nullptr && header->type() == Value::Type::kBool && !header->AsBool()) {
      Add(errors, *header, "a CSV without a header needs 'columns:' to name its columns");
    }
  }
  PositiveInt(config.Find("infer_rows"), "infer_rows", errors);
  std::string on_bad_row = "fail";
  if (const Value* v = config.Find("on_bad_row")) {
    on_bad_row = OneOf(*v, "on_bad_row", {"fail", "skip", "quarantine"}, errors);
  }
  if (const Value* q = config.Find("quarantine_table")) {
    if (!q->is_string() || !IsTableName(q->AsString())) {
      Add(errors, *q, "'quarantine_table' must be a table name");
    } else if (on_bad_row != "quarantine") {
      Add(errors, *q, "'quarantine_table' needs on_bad_row: quarantine");
    } else if (const Value* into = config.Find("into");
               into != nullptr && into->is_string() && into->AsString() == q->AsString()) {
      Add(errors, *q, "'quarantine_table' must differ from 'into'");
    }
  }
  ValidateWrite(config, "ingest", errors);
  const Value* partition = config.Find("partition_column");
  if (columns != nullptr && columns->is_map() && partition != nullptr && partition->is_string() &&
      columns->Find(partition->AsString()) == nullptr) {
    Add(errors, *partition,
        fmt::format("partition_column '{}' is not among 'columns'",
                    Printable(partition->AsString())));
  }
}

bool IsNumber(const Value& v) {
  return v.type() == Value::Type::kInt || v.type() == Value::Type::kDouble;
}

double NumberOf(const Value& v) {
  return v.type() == Value::Type::kInt ? static_cast<double>(v.AsInt()) : v.AsDouble();
}

// One entry of a validate task's `checks:`.
void ValidateCheck(const Value& check, std::vector<Diagnostic>* errors) {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kChecks = {
      {"row_count", {"min", "max"}},
      {"not_null", {"column", "mostly"}},
      {"unique", {"column", "columns", "mostly"}},
      {"between", {"column", "min", "max", "strict", "strict_min", "strict_max", "mostly"}},
      {"in_set", {"column", "values", "mostly"}},
      {"regex", {"column", "pattern", "mostly"}},
      {"freshness", {"column", "max_age"}},
      {"schema", {"required", "forbidden"}},
      {"sql", {"sql"}},
      {"drift", {"column", "reference", "method", "threshold", "bins"}},
  };
  if (!check.is_map()) {
    Add(errors, check, "each check must be a map such as {check: not_null, column: id}");
    return;
  }
  const Value* name = check.Find("check");
  std::vector<std::string> names;
  for (const auto& [n, keys] : kChecks) names.push_back(n);
  if (name == nullptr) {
    Add(errors, check, fmt::format("a check needs 'check': one of {}", fmt::join(names, ", ")));
    return;
  }
  std::string kind = OneOf(*name, "check", names, errors);
  if (kind.empty()) return;
  std::vector<std::string> allowed = {"check", "severity"};
  for (const auto& [n, keys] : kChecks) {
    if (n == kind) allowed.insert(allowed.end(), keys.begin(), keys.end());
  }
  CheckKnownKeys(check, allowed, fmt::format("a {} check", kind), errors);
  if (const Value* severity = check.Find("severity")) {
    OneOf(*severity, "severity", {"error", "warn"}, errors);
  }
  if (const Value* mostly = check.Find("mostly")) {
    if (!IsNumber(*mostly) || NumberOf(*mostly) <= 0 || NumberOf(*mostly) > 1) {
      Add(errors, *mostly, "'mostly' must be a fraction above 0 and at most 1, e.g. 0.99");
    }
  }
  const Value* column = check.Find("column");
  if (column != nullptr && (!column->is_string() || !IsTableName(column->AsString()))) {
    Add(errors, *column, "'column' must be a column name");
  }
  const bool needs_column =
      kind != "row_count" && kind != "schema" && kind != "sql" && kind != "unique";
  if (needs_column && column == nullptr) {
    Add(errors, check, fmt::format("a {} check needs 'column'", kind));
  }
  auto number = [&](const char* key) {
    const Value* v = check.Find(key);
    if (v != nullptr && !IsNumber(*v) && !(kind == "between" && v->is_string())) {
      Add(errors, *v, fmt::format("'{}' must be a number", key));
    }
    return v;
  };
  for (const char* key : {"strict", "strict_min", "strict_max"}) {
    if (const Value* v = check.Find(key); v != nullptr && v->type() != Value::Type::kBool) {
      Add(errors, *v, fmt::format("'{}' must be true or false", key));
    }
  }
  if (kind == "row_count" || kind == "between") {
    const Value* min = number("min");
    const Value* max = number("max");
    if (min == nullptr && max == nullptr) {
      Add(errors, check, fmt::format("a {} check needs 'min', 'max' or both", kind));
    } else if (min != nullptr && max != nullptr && IsNumber(*min) && IsNumber(*max) &&
               NumberOf(*min) > NumberOf(*max)) {
      Add(errors, *min, "'min' is above 'max'");
    }
  } else if (kind == "unique") {
    const Value* columns = check.Find("columns");
    if ((column == nullptr) == (columns == nullptr)) {
      Add(errors, check, "a unique check needs 'column' or 'columns' (a list), not both");
    } else if (columns != nullptr) {
      bool ok = columns->is_list() && !columns->AsList().empty();
      for (const Value& c : ok ? columns->AsList() : Value::List{}) {
        ok = ok && c.is_string() && IsTableName(c.AsString());
      }
      if (!ok) Add(errors, *columns, "'columns' must be a non-empty list of column names");
    }
  } else if (kind == "in_set") {
    const Value* values = check.Find("values");
    bool ok = values != nullptr && values->is_list() && !values->AsList().empty();
    for (const Value& v : ok ? values->AsList() : Value::List{}) ok = ok && v.is_scalar();
    if (!ok) {
      Add(errors, values == nullptr ? check : *values,
          "an in_set check needs 'values': a non-empty list of allowed values");
    }
  } else if (kind == "regex") {
    const Value* pattern = check.Find("pattern");
    if (pattern == nullptr || !pattern->is_string() || pattern->AsString().empty()) {
      Add(errors, pattern == nullptr ? check : *pattern,
          "a regex check needs 'pattern': a regular expression (RE2 syntax)");
    } else if (RE2 re(pattern->AsString(), RE2::Quiet); !re.ok()) {
      Add(errors, *pattern,
          fmt::format("'pattern' is not a valid regular expression: {}",
                      Printable(re.error(), 200)));
    }
  } else if (kind == "freshness") {
    const Value* max_age = check.Find("max_age");
    if (max_age == nullptr) {
      Add(errors, check, "a freshness check needs 'max_age', e.g. 2d");
    } else {
      DurationValue(max_age, "max_age", errors);
    }
  } else if (kind == "schema") {
    const Value* required = check.Find("required");
    const Value* forbidden = check.Find("forbidden");
    if (required == nullptr && forbidden == nullptr) {
      Add(errors, check, "a schema check needs 'required' (column: TYPE), 'forbidden' or both");
    }
    if (required != nullptr) {
      bool ok = required->is_map();
      for (const auto& [c, type] : ok ? required->AsMap() : Value::Map{}) {
        ok = ok && IsTableName(c) && (type.is_string() || type.is_null());
      }
      if (!ok) Add(errors, *required, "'required' must map column names to types");
    }
    if (forbidden != nullptr) {
      bool ok = forbidden->is_list();
      for (const Value& c : ok ? forbidden->AsList() : Value::List{}) ok = ok && c.is_string();
      if (!ok) Add(errors, *forbidden, "'forbidden' must be a list of column names");
    }
  } else if (kind == "sql") {
    const Value* sql = check.Find("sql");
    if (sql == nullptr || !sql->is_string() || sql->AsString().empty()) {
      Add(errors, sql == nullptr ? check : *sql,
          "a sql check needs 'sql': a SELECT returning the failing rows");
    } else {
      ValidateSqlText(*sql, errors);
    }
  } else if (kind == "drift") {
    if (const Value* method = check.Find("method")) {
      OneOf(*method, "method", {"psi", "ks", "wasserstein", "chi2", "js"}, errors);
    }
    if (const Value* threshold = number("threshold");
        threshold != nullptr && IsNumber(*threshold) && NumberOf(*threshold) <= 0) {
      Add(errors, *threshold, "'threshold' must be above 0");
    }
    if (const Value* bins = check.Find("bins");
        bins != nullptr &&
        (bins->type() != Value::Type::kInt || bins->AsInt() < 2 || bins->AsInt() > 1000)) {
      Add(errors, *bins, "'bins' must be a whole number from 2 to 1000");
    }
    if (const Value* reference = check.Find("reference")) {
      if (reference->is_string()) {
        if (reference->AsString() != "previous") {
          Add(errors, *reference,
              "'reference' must be previous, {table: NAME} or {sql: \"SELECT ...\"}");
        }
      } else if (!reference->is_map()) {
        Add(errors, *reference,
            "'reference' must be previous, {table: NAME} or {sql: \"SELECT ...\"}");
      } else {
        CheckKnownKeys(*reference, {"table", "column", "sql"}, "a drift reference", errors);
        const Value* table = reference->Find("table");
        const Value* sql = reference->Find("sql");
        if ((table == nullptr) == (sql == nullptr)) {
          Add(errors, *reference,
              table == nullptr ? "a drift reference needs 'table' or 'sql'"
                               : "a drift reference needs 'table' or 'sql', not both");
        }
        if (table != nullptr && (!table->is_string() || !IsTableName(table->AsString()))) {
          Add(errors, *table, "'table' must be a table name");
        }
        if (sql != nullptr) {
          if (!sql->is_string() || sql->AsString().empty()) {
            Add(errors, *sql, "'sql' must be a SELECT whose first column holds the values");
          } else {
            ValidateSqlText(*sql, errors);
          }
        }
      }
    }
  }
}

// `validate`: checks on a table (tasks/validate.h).
void ValidateValidate(const Value& config, std::vector<Diagnostic>* errors) {
  const Value* dataset = config.Find("dataset");
  if (dataset == nullptr || !dataset->is_string()) {
    Add(errors, dataset == nullptr ? config : *dataset,
        "a validate task needs 'dataset': the table it checks, warehouse://TABLE or "
        "sqlite://FILE#TABLE");
  } else {
    const std::string& text = dataset->AsString();
    if (!text.starts_with("warehouse://") && !text.starts_with("sqlite://")) {
      Add(errors, *dataset, "'dataset' must be a table: warehouse://TABLE or sqlite://FILE#TABLE");
    } else if (text.find("{{") == std::string::npos) {
      if (auto uri = ParseDatasetUri(text); !uri) Add(errors, *dataset, uri.error().message);
    }
  }
  const Value* checks = config.Find("checks");
  if (checks == nullptr || !checks->is_list() || checks->AsList().empty()) {
    Add(errors, checks == nullptr ? config : *checks,
        "a validate task needs 'checks': a non-empty list of checks");
    return;
  }
  for (const Value& check : checks->AsList()) ValidateCheck(check, errors);
}

// A column name, or a non-empty list of them when `list_ok`; returns the names (empty if bad).
std::vector<std::string> ColumnNames(const Value& v, std::string_view key, bool list_ok,
                                     std::vector<Diagnostic>* errors) {
  std::vector<std::string> names;
  if (v.is_string() && IsTableName(v.AsString())) return {v.AsString()};
  bool ok = list_ok && v.is_list() && !v.AsList().empty();
  for (const Value& item : ok ? v.AsList() : Value::List{}) {
    ok = ok && item.is_string() && IsTableName(item.AsString());
    if (ok) names.push_back(item.AsString());
  }
  if (!ok) {
    Add(errors, v,
        fmt::format("'{}' must be {}", key,
                    list_ok ? "a column name or a list of them" : "a column name"));
    return {};
  }
  return names;
}

// `labels:` or `events:` of a feature task; returns the number of entity columns (0 if bad).
std::size_t ValidateFeatureSide(const Value& config, std::string_view side,
                                std::vector<Diagnostic>* errors) {
  const Value* map = config.Find(side);
  const bool events = side == "events";
  const std::string shape = fmt::format("{{table: NAME, entity: [COLUMN...], timestamp: COLUMN{}}}",
                                        events ? ", available_at: COLUMN" : "");
  if (map == nullptr || !map->is_map()) {
    Add(errors, map == nullptr ? config : *map,
        fmt::format("a feature task needs '{}': {}", side, shape));
    return 0;
  }
  std::vector<std::string> keys = {"table", "entity", "timestamp"};
  if (events) keys.push_back("available_at");
  CheckKnownKeys(*map, keys, fmt::format("'{}'", side), errors);
  std::size_t entities = 0;
  for (const std::string& key : keys) {
    const Value* v = map->Find(key);
    if (v == nullptr) {
      if (key != "available_at")
        Add(errors, *map, fmt::format("'{}' needs '{}': {}", side, key, shape));
      continue;
    }
    if (key == "table") {
      if (!v->is_string() || !IsTableName(v->AsString())) {
        Add(errors, *v, "'table' must be a table name");
      }
    } else {
      auto names = ColumnNames(*v, key, key == "entity", errors);
      if (key == "entity") entities = names.size();
    }
  }
  return entities;
}

// `feature`: point-in-time aggregates of events, one row per label (tasks/feature.h).
void ValidateFeature(const Value& config, std::vector<Diagnostic>* errors) {
  const std::size_t label_entities = ValidateFeatureSide(config, "labels", errors);
  const std::size_t event_entities = ValidateFeatureSide(config, "events", errors);
  if (label_entities > 0 && event_entities > 0 && label_entities != event_entities) {
    Add(errors, *config.Find("events")->Find("entity"),
        fmt::format("events name {} entity columns and labels {}: they are matched in order",
                    event_entities, label_entities));
  }
  if (const Value* as_of = config.Find("as_of")) {
    if (!as_of->is_map()) {
      Add(errors, *as_of, "'as_of' must be a map: {boundary: exclusive|inclusive, delay: 0s}");
    } else {
      CheckKnownKeys(*as_of, {"boundary", "delay"}, "'as_of'", errors);
      if (const Value* boundary = as_of->Find("boundary")) {
        OneOf(*boundary, "boundary", {"exclusive", "inclusive"}, errors);
      }
      DurationValue(as_of->Find("delay"), "delay", errors);
    }
  }
  static const std::vector<std::string> kAggs = {
      "count", "sum", "avg", "min", "max", "first", "last", "count_distinct", "stddev"};
  const Value* features = config.Find("features");
  if (features == nullptr || !features->is_list() || features->AsList().empty()) {
    Add(errors, features == nullptr ? config : *features,
        "a feature task needs 'features': a non-empty list of {name, agg, column, window}");
  } else {
    std::set<std::string> names;
    for (const Value& f : features->AsList()) {
      if (!f.is_map()) {
        Add(errors, f, "each feature must be a map such as {name: n_7d, agg: count, window: 7d}");
        continue;
      }
      CheckKnownKeys(f, {"name", "agg", "column", "window"}, "a feature", errors);
      const Value* name = f.Find("name");
      if (name == nullptr || !name->is_string() || !IsTableName(name->AsString())) {
        Add(errors, name == nullptr ? f : *name,
            "a feature needs 'name': its column name (letters, digits and '_')");
      } else if (!names.insert(name->AsString()).second) {
        Add(errors, *name, fmt::format("feature '{}' is named twice", name->AsString()));
      }
      const Value* agg = f.Find("agg");
      std::string kind;
      if (agg == nullptr) {
        Add(errors, f, fmt::format("a feature needs 'agg': one of {}", fmt::join(kAggs, ", ")));
      } else {
        kind = OneOf(*agg, "agg", kAggs, errors);
      }
      if (const Value* column = f.Find("column")) {
        ColumnNames(*column, "column", /*list_ok=*/false, errors);
      } else if (!kind.empty() && kind != "count") {
        Add(errors, f,
            fmt::format("a {} feature needs 'column': the events column it reads", kind));
      }
      if (const Value* window = f.Find("window")) {
        DurationValue(window, "window", errors);
        if (window->is_string() && ParseDuration(window->AsString()) &&
            ParseDuration(window->AsString())->count() == 0) {
          Add(errors, *window, "'window' must be longer than 0 (leave it out for all history)");
        }
      }
    }
  }
  ValidateWrite(config, "feature", errors);
  const Value* into = config.Find("into");
  for (const char* side : {"labels", "events"}) {
    const Value* map = config.Find(side);
    const Value* table = map != nullptr && map->is_map() ? map->Find("table") : nullptr;
    if (into != nullptr && table != nullptr && into->is_string() && table->is_string() &&
        into->AsString() == table->AsString()) {
      Add(errors, *into, fmt::format("'into' must differ from the {} table", side));
    }
  }
}

// `embed`: chunks of a table's texts, their vectors and a FAISS index (tasks/embed.h).
void ValidateEmbed(const Value& config, std::vector<Diagnostic>* errors) {
  const Value* source = config.Find("source");
  if (source == nullptr || !source->is_map()) {
    Add(errors, source == nullptr ? config : *source,
        "an embed task needs 'source': {table: NAME, id: COLUMN, text: COLUMN}");
  } else {
    CheckKnownKeys(*source, {"table", "id", "text"}, "'source'", errors);
    for (const char* key : {"table", "id", "text"}) {
      const Value* v = source->Find(key);
      if (v == nullptr || !v->is_string() || !IsTableName(v->AsString())) {
        Add(errors, v == nullptr ? *source : *v,
            fmt::format("'source' needs '{}': a {} name", key,
                        std::string_view(key) == "table" ? "table" : "column"));
      }
    }
  }
  if (const Value* chunk = config.Find("chunk")) {
    if (!chunk->is_map()) {
      Add(errors, *chunk, "'chunk' must be a map: {unit: chars|words, size: 800, overlap: 100}");
    } else {
      CheckKnownKeys(*chunk, {"unit", "size", "overlap"}, "'chunk'", errors);
      if (const Value* unit = chunk->Find("unit")) OneOf(*unit, "unit", {"chars", "words"}, errors);
      PositiveInt(chunk->Find("size"), "size", errors);
      const Value* size = chunk->Find("size");
      const std::int64_t units =
          size != nullptr && size->type() == Value::Type::kInt ? size->AsInt() : 800;
      if (const Value* overlap = chunk->Find("overlap");
          overlap != nullptr && (overlap->type() != Value::Type::kInt || overlap->AsInt() < 0 ||
                                 overlap->AsInt() >= units)) {
        Add(errors, *overlap, "'overlap' must be a whole number from 0 to below 'size'");
      }
    }
  }
  const Value* provider = config.Find("provider");
  if (provider == nullptr || !provider->is_map()) {
    Add(errors, provider == nullptr ? config : *provider,
        "an embed task needs 'provider': {kind: hash, dim: 256} or {kind: openai, base_url: ..., "
        "model: ...}");
  } else if (const Value* kind = provider->Find("kind"); kind == nullptr) {
    Add(errors, *provider, "'provider' needs 'kind': hash or openai");
  } else if (std::string k = OneOf(*kind, "kind", {"hash", "openai"}, errors); k == "hash") {
    CheckKnownKeys(*provider, {"kind", "dim"}, "a hash provider", errors);
    if (const Value* dim = provider->Find("dim");
        dim != nullptr &&
        (dim->type() != Value::Type::kInt || dim->AsInt() < 2 || dim->AsInt() > 65536)) {
      Add(errors, *dim, "'dim' must be a whole number from 2 to 65536");
    }
  } else if (k == "openai") {
    CheckKnownKeys(*provider,
                   {"kind", "base_url", "model", "api_key_env", "batch", "batch_chars",
                    "max_concurrency", "dimensions", "timeout", "retries", "backoff"},
                   "an openai provider", errors);
    const Value* url = provider->Find("base_url");
    if (url == nullptr || !url->is_string() ||
        !(url->AsString().starts_with("http://") || url->AsString().starts_with("https://"))) {
      Add(errors, url == nullptr ? *provider : *url,
          "an openai provider needs 'base_url': http://HOST:PORT (weir adds /v1/embeddings)");
    }
    const Value* model = provider->Find("model");
    if (model == nullptr || !model->is_string() || model->AsString().empty()) {
      Add(errors, model == nullptr ? *provider : *model,
          "an openai provider needs 'model': the model name the server knows");
    }
    if (const Value* key = provider->Find("api_key_env");
        key != nullptr && (!key->is_string() || !IsEnvName(key->AsString()) ||
                           key->AsString().starts_with("WEIR_"))) {
      Add(errors, *key,
          "'api_key_env' must name the environment variable that holds the key (not a WEIR_ "
          "one), so that the key stays out of the DAG file");
    }
    for (auto [key, max] : {std::pair{"batch", 2048}, std::pair{"max_concurrency", 64},
                            std::pair{"dimensions", 65536}, std::pair{"batch_chars", 1 << 30}}) {
      if (const Value* v = provider->Find(key);
          v != nullptr && (v->type() != Value::Type::kInt || v->AsInt() < 1 || v->AsInt() > max)) {
        Add(errors, *v, fmt::format("'{}' must be a whole number from 1 to {}", key, max));
      }
    }
    if (const Value* r = provider->Find("retries");
        r != nullptr && (r->type() != Value::Type::kInt || r->AsInt() < 0 || r->AsInt() > 20)) {
      Add(errors, *r, "'retries' must be a whole number from 0 to 20");
    }
    DurationValue(provider->Find("timeout"), "timeout", errors);
    DurationValue(provider->Find("backoff"), "backoff", errors);
  }
  const Value* into = config.Find("into");
  if (into == nullptr || !into->is_string() || !IsTableName(into->AsString())) {
    Add(errors, into == nullptr ? config : *into,
        "an embed task needs 'into': the table of chunks and vectors it writes");
  } else if (source != nullptr && source->is_map() && source->Find("table") != nullptr &&
             source->Find("table")->is_string() &&
             source->Find("table")->AsString() == into->AsString()) {
    Add(errors, *into, "'into' must differ from the source table");
  }
  if (const Value* index = config.Find("index")) {
    if (!index->is_map()) {
      Add(errors, *index, "'index' must be a map: {path: FILE, factory: HNSW32, metric: ip}");
    } else {
      CheckKnownKeys(*index, {"path", "factory", "metric"}, "'index'", errors);
      const Value* path = index->Find("path");
      if (path == nullptr || !path->is_string() || path->AsString().empty()) {
        Add(errors, path == nullptr ? *index : *path,
            "'index' needs 'path': the index file, relative to the DAG's folder");
      } else if (auto uri = ParseDatasetUri("file:" + path->AsString()); !uri) {
        Add(errors, *path, uri.error().message);
      }
      if (const Value* factory = index->Find("factory");
          factory != nullptr && (!factory->is_string() || factory->AsString().empty())) {
        Add(errors, *factory,
            "'factory' must be a FAISS index_factory string such as HNSW32 or Flat");
      }
      if (const Value* metric = index->Find("metric"))
        OneOf(*metric, "metric", {"ip", "l2"}, errors);
    }
  }
}

}  // namespace

const std::vector<std::string>& KnownKinds() {
  static const std::vector<std::string> kKinds = {"shell",   "ingest", "transform",
                                                  "feature", "embed",  "validate"};
  return kKinds;
}

const std::vector<std::string>& KindKeys(std::string_view kind) {
  static const std::vector<std::string> kShell = {"command", "script", "env",
                                                  "cwd",     "inputs", "outputs"};
  static const std::vector<std::string> kTransform = {"sql",  "sql_file", "script",          "into",
                                                      "mode", "key",      "partition_column"};
  static const std::vector<std::string> kIngest = {
      "source", "columns", "infer_rows", "on_bad_row",      "quarantine_table",
      "into",   "mode",    "key",        "partition_column"};
  static const std::vector<std::string> kValidate = {"dataset", "checks"};
  static const std::vector<std::string> kFeature = {
      "labels", "events", "as_of", "features", "into", "mode", "key", "partition_column"};
  static const std::vector<std::string> kEmbed = {"source", "chunk", "provider", "into", "index"};
  static const std::vector<std::string> kNone;
  if (kind == "shell") return kShell;
  if (kind == "validate") return kValidate;
  if (kind == "ingest") return kIngest;
  if (kind == "transform") return kTransform;
  if (kind == "feature") return kFeature;
  if (kind == "embed") return kEmbed;
  return kNone;
}

void ValidateKindConfig(std::string_view kind, const Value& config,
                        std::vector<Diagnostic>* errors) {
  if (kind == "shell") ValidateShell(config, errors);
  if (kind == "ingest") ValidateIngest(config, errors);
  if (kind == "transform") ValidateTransform(config, errors);
  if (kind == "validate") ValidateValidate(config, errors);
  if (kind == "feature") ValidateFeature(config, errors);
  if (kind == "embed") ValidateEmbed(config, errors);
}

void CheckKnownKeys(const Value& map, const std::vector<std::string>& allowed,
                    std::string_view what, std::vector<Diagnostic>* errors) {
  for (const auto& [key, value] : map.AsMap()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    auto hint = ClosestMatch(key, allowed);
    errors->push_back(
        {value.key_loc, fmt::format("unknown key '{}' in {}{}", Printable(key), what,
                                    hint ? fmt::format(" (did you mean '{}'?)", *hint) : "")});
  }
}

bool IsShellText(std::string_view kind, std::string_view key) {
  return kind == "shell" && key == "script";
}

}  // namespace weir::dags

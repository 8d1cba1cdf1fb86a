#include "dags/kinds.h"

#include <fmt/format.h>

#include "common/strings.h"
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
    } else if (text->AsString().find("params.") != std::string::npos &&
               text->AsString().find("{{") != std::string::npos) {
      Add(errors, *text,
          "params reach SQL only as bound parameters: write :name, not {{ params.name }}");
    }
  }
  const Value* into = config.Find("into");
  if (into == nullptr) {
    Add(errors, config, "a transform task needs 'into': the table it writes");
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

}  // namespace

const std::vector<std::string>& KnownKinds() {
  static const std::vector<std::string> kKinds = {"shell", "transform"};
  return kKinds;
}

const std::vector<std::string>& KindKeys(std::string_view kind) {
  static const std::vector<std::string> kShell = {"command", "script", "env",
                                                  "cwd",     "inputs", "outputs"};
  static const std::vector<std::string> kTransform = {"sql",  "sql_file", "into",
                                                      "mode", "key",      "partition_column"};
  static const std::vector<std::string> kNone;
  if (kind == "shell") return kShell;
  if (kind == "transform") return kTransform;
  return kNone;
}

void ValidateKindConfig(std::string_view kind, const Value& config,
                        std::vector<Diagnostic>* errors) {
  if (kind == "shell") ValidateShell(config, errors);
  if (kind == "transform") ValidateTransform(config, errors);
}

bool IsShellText(std::string_view kind, std::string_view key) {
  return kind == "shell" && key == "script";
}

}  // namespace weir::dags

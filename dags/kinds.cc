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

}  // namespace

const std::vector<std::string>& KnownKinds() {
  static const std::vector<std::string> kKinds = {"shell"};
  return kKinds;
}

const std::vector<std::string>& KindKeys(std::string_view kind) {
  static const std::vector<std::string> kShell = {"command", "script", "env",
                                                  "cwd",     "inputs", "outputs"};
  static const std::vector<std::string> kNone;
  if (kind == "shell") return kShell;
  return kNone;
}

void ValidateKindConfig(std::string_view kind, const Value& config,
                        std::vector<Diagnostic>* errors) {
  if (kind == "shell") ValidateShell(config, errors);
}

bool IsShellText(std::string_view kind, std::string_view key) {
  return kind == "shell" && key == "script";
}

}  // namespace weir::dags

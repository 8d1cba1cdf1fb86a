#include "dags/kinds.h"

#include <fmt/format.h>

#include "common/strings.h"
#include "dags/dags.h"

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
  static const std::vector<std::string> kShell = {"command", "script", "env", "cwd"};
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

#include "dags/dag.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/strings.h"

namespace weir::dags {
namespace {

struct RuleName {
  TriggerRule rule;
  const char* name;
};
constexpr RuleName kRules[] = {
    {TriggerRule::kAllSuccess, "all_success"}, {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},       {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},   {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kAlways, "always"},
};

}  // namespace

const char* TriggerRuleName(TriggerRule rule) {
  for (const auto& r : kRules) {
    if (r.rule == rule) return r.name;
  }
  return "?";
}

std::optional<TriggerRule> ParseTriggerRule(std::string_view name) {
  for (const auto& r : kRules) {
    if (name == r.name) return r.rule;
  }
  return std::nullopt;
}

const std::vector<std::string>& TriggerRuleNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& r : kRules) names.emplace_back(r.name);
    return names;
  }();
  return kNames;
}

int Dag::TaskIndex(std::string_view task_id) const {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].id == task_id) return static_cast<int>(i);
  }
  return -1;
}

const TaskSpec* Dag::FindTask(std::string_view task_id) const {
  int i = TaskIndex(task_id);
  return i < 0 ? nullptr : &tasks[i];
}

Result<Value> ResolveParams(const Dag& dag,
                            const std::vector<std::pair<std::string, std::string>>& overrides) {
  Value params = dag.params;
  for (const auto& [name, text] : overrides) {
    Value* slot = nullptr;
    for (auto& [key, value] : params.AsMap()) {
      if (key == name) slot = &value;
    }
    if (slot == nullptr) {
      std::vector<std::string> declared;
      for (const auto& [key, value] : dag.params.AsMap()) declared.push_back(key);
      auto hint = ClosestMatch(name, declared);
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("--param {}: DAG '{}' declares no param '{}'{}", Printable(name),
                              dag.id, Printable(name),
                              hint ? fmt::format(" (did you mean '{}'?)", *hint)
                              : declared.empty()
                                  ? std::string(" (it declares none)")
                                  : fmt::format(" (it declares: {})", fmt::join(declared, ", "))));
    }
    auto bad = [&](const char* what) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("--param {}={}: expected {}, like its default {}", name,
                              Printable(text), what, slot->ToText()));
    };
    switch (slot->type()) {
      case Value::Type::kInt: {
        std::int64_t i = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
        if (ec != std::errc() || end != text.data() + text.size()) return bad("a whole number");
        *slot = Value::Int(i);
        break;
      }
      case Value::Type::kDouble: {
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(d)) {
          return bad("a number");
        }
        *slot = Value::Double(d);
        break;
      }
      case Value::Type::kBool:
        if (text == "true") {
          *slot = Value::Bool(true);
        } else if (text == "false") {
          *slot = Value::Bool(false);
        } else {
          return bad("true or false");
        }
        break;
      default:
        if (FindInvalidUtf8(text) || text.find('\0') != std::string::npos) {
          return bad("UTF-8 text");
        }
        *slot = Value::String(text);
    }
  }
  return params;
}

}  // namespace weir::dags

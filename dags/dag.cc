#include "dags/dag.h"

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

}  // namespace weir::dags

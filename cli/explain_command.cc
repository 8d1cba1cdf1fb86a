// `weir explain RUN TASK`: why a task instance ran or was cached, from what its attempts
// recorded for the task cache (docs/lineage.md#the-task-cache).
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

using json = nlohmann::json;

std::string Short(const std::string& fingerprint) { return fingerprint.substr(0, 19); }

// "- key: old" / "+ key: new" for each top-level key of the two configs that differs.
std::vector<std::string> ConfigDiff(const std::string& before, const std::string& after) {
  json a = json::parse(before, nullptr, false), b = json::parse(after, nullptr, false);
  std::vector<std::string> out;
  if (!a.is_object() || !b.is_object()) return out;
  std::map<std::string, bool> keys;
  for (const auto& [k, v] : a.items()) keys[k] = true;
  for (const auto& [k, v] : b.items()) keys[k] = true;
  for (const auto& [key, unused] : keys) {
    json old_value = a.contains(key) ? a[key] : json(),
         new_value = b.contains(key) ? b[key] : json();
    if (old_value == new_value) continue;
    if (old_value.is_object() && new_value.is_object()) {  // one level down: "bindings.x"
      for (const std::string& line : ConfigDiff(old_value.dump(), new_value.dump())) {
        out.push_back(line.substr(0, 2) + key + "." + line.substr(2));
      }
      continue;
    }
    if (!old_value.is_null()) out.push_back(fmt::format("- {}: {}", key, old_value.dump()));
    if (!new_value.is_null()) out.push_back(fmt::format("+ {}: {}", key, new_value.dump()));
  }
  return out;
}

}  // namespace

int RunExplain(const Context& context, const std::string& run_id, const std::string& task_id) {
  auto store = context.OpenStore(false);
  if (!store) {
    if (store.error().code != ErrorCode::kNotFound) return Report(store.error());
    return Report(Error{ErrorCode::kNotFound, fmt::format("no run '{}'", Printable(run_id))});
  }
  auto run = RequireRun(**store, run_id);
  if (!run) return Report(run.error());
  auto tasks = (*store)->TaskInstances(run_id);
  if (!tasks) return Report(tasks.error());
  const state::TaskInstanceRecord* ti = nullptr;
  std::vector<std::string> ids;
  for (const auto& t : *tasks) {
    ids.push_back(t.task_id);
    if (t.task_id == task_id) ti = &t;
  }
  if (ti == nullptr) {
    auto hint = ClosestMatch(task_id, ids);
    return Report(Error{ErrorCode::kNotFound,
                        fmt::format("run '{}' has no task '{}'{}", run_id, Printable(task_id),
                                    hint ? fmt::format(" (did you mean '{}'?)", *hint) : "")});
  }
  auto attempts = (*store)->Attempts(run_id, task_id);
  if (!attempts) return Report(attempts.error());
  std::cout << fmt::format("{} / {}: {}", run_id, task_id, state::Name(ti->state));
  if (attempts->empty()) {
    std::cout << "\nit has not run yet, so there is nothing to explain\n";
    return 0;
  }
  const state::AttemptRecord& last = attempts->back();
  std::cout << fmt::format(" (try {})\n", last.try_number);
  auto record = (*store)->CacheRecord(last.id);
  if (!record) return Report(record.error());
  if (!*record) {
    std::cout << "it ran: the task declares no inputs or outputs, so the cache does not apply\n";
    return 0;
  }
  const state::AttemptCacheRecord& now = **record;
  std::cout << now.cache_note << "\n";
  std::cout << fmt::format("  cache key {}, config {}\n", Short(now.cache_key),
                           Short(now.config_hash));
  if (!now.compared_to) return 0;
  auto earlier = (*store)->GetAttempt(*now.compared_to);
  if (!earlier) return Report(earlier.error());
  auto earlier_record = (*store)->CacheRecord(*now.compared_to);
  if (!earlier_record) return Report(earlier_record.error());
  if (!*earlier || !*earlier_record) return 0;
  const state::AttemptCacheRecord& then = **earlier_record;
  std::cout << fmt::format("compared with {} / {} try {} (cache key {}):\n", (*earlier)->run_id,
                           (*earlier)->task_id, (*earlier)->try_number, Short(then.cache_key));
  // Inputs, by dataset: which version each read, then and now.
  std::map<std::string,
           std::pair<const state::DatasetVersionRecord*, const state::DatasetVersionRecord*>>
      inputs;
  for (const auto& v : then.reads) inputs[v.uri].first = &v;
  for (const auto& v : now.reads) inputs[v.uri].second = &v;
  bool inputs_changed = false;
  for (const auto& [uri, pair] : inputs) {
    auto [before, after] = pair;
    if (before && after && before->fingerprint == after->fingerprint) continue;
    inputs_changed = true;
    if (!before) {
      std::cout << fmt::format("  input {}: new (version {})\n", uri, after->version);
    } else if (!after) {
      std::cout << fmt::format("  input {}: no longer read\n", uri);
    } else {
      std::cout << fmt::format("  input {}: version {} -> {} ({} -> {})\n", uri, before->version,
                               after->version, Short(before->fingerprint),
                               Short(after->fingerprint));
    }
  }
  if (!inputs_changed) std::cout << "  inputs: unchanged\n";
  auto diff = ConfigDiff(then.config_json, now.config_json);
  if (then.config_hash == now.config_hash || diff.empty()) {
    std::cout << "  config: unchanged\n";
  } else {
    std::cout << "  config:\n";
    for (const std::string& line : diff) std::cout << "    " << line << "\n";
  }
  return 0;
}

}  // namespace weir::cli

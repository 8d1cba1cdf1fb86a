#include "tasks/tasks.h"

#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <tuple>

#include "common/hash.h"
#include "tasks/datasets.h"
#include "tasks/shell.h"

extern char** environ;

namespace weir::tasks {
namespace {

// Appends NAME=value, replacing an earlier entry of the same name.
void SetEnv(std::vector<std::string>* env, std::string_view name, std::string_view value) {
  std::string prefix = std::string(name) + "=";
  std::erase_if(*env, [&](const std::string& e) { return e.starts_with(prefix); });
  env->push_back(prefix + std::string(value));
}

}  // namespace

bool DeclaresDatasets(const dags::TaskSpec& task) {
  return task.config.Find("inputs") != nullptr || task.config.Find("outputs") != nullptr;
}

CommandFactory::CommandFactory(TaskOptions options) : options_(std::move(options)) {
  options_.home = std::filesystem::absolute(options_.home).lexically_normal();
  if (options_.weir_binary.empty()) {
    std::error_code ec;
    options_.weir_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  }
  if (options_.inherit_environment) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("WEIR_")) base_env_.emplace_back(*e);
    }
  }
}

std::filesystem::path CommandFactory::WarehousePath(const dags::Dag& dag) const {
  if (dag.warehouse.empty()) return options_.home / "warehouse.db";
  return (dag.file.parent_path() / dag.warehouse).lexically_normal();
}

Result<Command> CommandFactory::Build(const dags::Dag& dag, const dags::TaskSpec& task,
                                      const dags::TemplateContext& context) const {
  Command command;
  std::vector<std::string> task_env;
  if (task.kind == "shell") {
    if (auto ok = BuildShellCommand(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
    task_env = std::move(command.env);
    command.env.clear();
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("task kind '{}' cannot run in this build", task.kind));
  }

  // Environment: weir's own (PATH, HOME, ...), then every template variable as WEIR_*, then the
  // task's `env:`. Params therefore reach scripts safely as "$WEIR_PARAM_NAME".
  // base_env_ holds no WEIR_ variable and variable names are unique (the loader refuses params
  // whose names would clash), so the WEIR_ ones are appended without a search.
  command.env.reserve(base_env_.size() + context.variables.size() + 3 + task_env.size());
  command.env = base_env_;
  for (const auto& [name, value] : context.variables) {
    command.env.push_back(dags::EnvironmentName(name) + "=" + value);
  }
  command.env.push_back("WEIR_HOME=" + options_.home.string());
  command.env.push_back("WEIR_WAREHOUSE=" + WarehousePath(dag).string());
  command.env.push_back("WEIR_DAG_FOLDER=" + dag.file.parent_path().string());
  for (const std::string& entry : task_env) {
    std::size_t eq = entry.find('=');
    SetEnv(&command.env, entry.substr(0, eq), entry.substr(eq + 1));
  }
  if (auto ok = WrapForDatasets(dag, task, context, task_env, &command); !ok) {
    return std::unexpected(ok.error());
  }
  return command;
}

Result<void> CommandFactory::WrapForDatasets(const dags::Dag& dag, const dags::TaskSpec& task,
                                             const dags::TemplateContext& context,
                                             const std::vector<std::string>& task_env,
                                             Command* command) const {
  if (!DeclaresDatasets(task)) return {};
  const dags::Value* inputs = task.config.Find("inputs");
  const dags::Value* outputs = task.config.Find("outputs");
  DatasetPlace place{dag.file.parent_path(),
                     options_.dags_root.empty() ? dag.file.parent_path() : options_.dags_root,
                     WarehousePath(dag), dag.warehouse.empty()};
  ManifestSpec spec;
  nlohmann::json config = {{"kind", task.kind},
                           {"argv", command->argv},
                           {"cwd", command->cwd},
                           {"env", task_env},
                           {"inputs", nlohmann::json::array()},
                           {"outputs", nlohmann::json::array()}};
  for (auto [list, key, into] : {std::tuple{inputs, "inputs", &spec.inputs},
                                 std::tuple{outputs, "outputs", &spec.outputs}}) {
    if (list == nullptr) continue;
    for (const dags::Value& item : list->AsList()) {
      auto parsed = dags::Template::Parse(item.AsString());
      if (!parsed) return std::unexpected(parsed.error());
      auto rendered = parsed->Render(context, dags::Quoting::kNone);
      if (!rendered) return std::unexpected(rendered.error());
      auto resolved = ResolveDataset(*rendered, place);
      if (!resolved) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("'{}': {}", key, resolved.error().message));
      }
      config[key].push_back(resolved->uri);
      into->push_back(std::move(*resolved));
    }
  }
  spec.config_json = config.dump();
  spec.config_hash = "sha256:" + Sha256Hex(spec.config_json);
  spec.kind_version = task.kind + "/1";
  std::vector<std::string> argv = {
      options_.weir_binary.string(), "task", "run", "--spec", SpecToJson(spec), "--"};
  argv.insert(argv.end(), command->argv.begin(), command->argv.end());
  command->argv = std::move(argv);
  return {};
}

}  // namespace weir::tasks

#include "tasks/tasks.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "common/hash.h"
#include "tasks/datasets.h"
#include "tasks/shell.h"
#include "tasks/transform.h"

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
  return task.kind != "shell" || task.config.Find("inputs") != nullptr ||
         task.config.Find("outputs") != nullptr;
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
  } else if (task.kind == "transform") {
    if (auto ok = BuildTransform(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
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
  if (task.kind == "shell") {
    if (auto ok = WrapForDatasets(dag, task, context, task_env, &command); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return command;
}

DatasetPlace CommandFactory::PlaceOf(const dags::Dag& dag) const {
  return DatasetPlace{dag.file.parent_path(),
                      options_.dags_root.empty() ? dag.file.parent_path() : options_.dags_root,
                      WarehousePath(dag), dag.warehouse.empty()};
}

Result<void> CommandFactory::BuildTransform(const dags::Dag& dag, const dags::TaskSpec& task,
                                            const dags::TemplateContext& context,
                                            Command* command) const {
  const std::filesystem::path dag_dir = dag.file.parent_path();
  std::string sql_text;
  if (const dags::Value* sql = task.config.Find("sql")) {
    sql_text = sql->AsString();
  } else {
    std::filesystem::path file = dag_dir / task.config.Find("sql_file")->AsString();
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("'sql_file': cannot read {}", file.string()));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    sql_text = buffer.str();
  }
  auto parsed = dags::Template::Parse(sql_text);
  if (!parsed) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("'sql': {}", parsed.error().message));
  }
  auto rendered = parsed->Render(context, dags::Quoting::kNone);
  if (!rendered) return std::unexpected(rendered.error());

  TransformConfig transform;
  transform.sql = std::move(*rendered);
  transform.into = task.config.Find("into")->AsString();
  if (const dags::Value* mode = task.config.Find("mode")) transform.mode = mode->AsString();
  if (const dags::Value* key = task.config.Find("key")) {
    for (const dags::Value& k : key->AsList()) transform.key.push_back(k.AsString());
  }
  if (const dags::Value* column = task.config.Find("partition_column")) {
    transform.partition_column = column->AsString();
  }
  DatasetPlace place = PlaceOf(dag);
  transform.warehouse = place.warehouse;
  transform.table_uri_prefix = WarehouseUriPrefix(place);
  // :name binds a param (typed as its default) or a template variable (text; try_number is a
  // number).
  for (const auto& [name, value] : context.variables) {
    if (name.starts_with("params.")) {
      std::string param = name.substr(7);
      const dags::Value* declared = dag.params.Find(param);
      nlohmann::json typed = value;
      if (declared != nullptr && !declared->is_string() && !declared->is_null()) {
        typed = nlohmann::json::parse(value, nullptr, false);
        if (typed.is_discarded()) typed = value;
      }
      transform.bindings[param] = typed.dump();
    } else if (name == "try_number") {
      transform.bindings[name] = value;
    } else {
      transform.bindings[name] = nlohmann::json(value).dump();
    }
  }
  auto start = context.variables.find("data_interval_start");
  auto end = context.variables.find("data_interval_end");
  if (start != context.variables.end()) transform.interval_start = start->second;
  if (end != context.variables.end()) transform.interval_end = end->second;

  ManifestSpec spec;
  auto into = ResolveDataset("warehouse://" + transform.into, place);
  if (!into) return std::unexpected(into.error());
  spec.outputs.push_back(*into);
  nlohmann::json config = {{"kind", task.kind},
                           {"sql", transform.sql},
                           {"into", into->uri},
                           {"mode", transform.mode},
                           {"key", transform.key},
                           {"partition_column", transform.partition_column},
                           {"bindings", transform.bindings}};
  spec.config_json = config.dump();
  spec.config_hash = "sha256:" + Sha256Hex(spec.config_json);
  spec.kind_version = "transform/1";
  spec.builtin = "transform";
  spec.builtin_config = TransformConfigToJson(transform);
  command->argv = {options_.weir_binary.string(), "task", "run", "--spec", SpecToJson(spec)};
  command->cwd = dag_dir.string();
  return {};
}

Result<void> CommandFactory::WrapForDatasets(const dags::Dag& dag, const dags::TaskSpec& task,
                                             const dags::TemplateContext& context,
                                             const std::vector<std::string>& task_env,
                                             Command* command) const {
  if (!DeclaresDatasets(task)) return {};
  const dags::Value* inputs = task.config.Find("inputs");
  const dags::Value* outputs = task.config.Find("outputs");
  DatasetPlace place = PlaceOf(dag);
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

// tasks: the built-in task kinds. Turns one attempt of a task (its config rendered for the run)
// into the command the executor starts. Every task runs as a child process, so a timeout can
// always be enforced and a crash never takes the scheduler down.
//
//   tasks::CommandFactory factory({.home = home});
//   Result<Command> cmd = factory.Build(dag, dag.tasks[0], context);
#ifndef WEIR_TASKS_TASKS_H_
#define WEIR_TASKS_TASKS_H_

#include <filesystem>

#include "common/error.h"
#include "common/process.h"
#include "dags/dag.h"
#include "dags/template.h"

namespace weir::tasks {

struct TaskOptions {
  std::filesystem::path home;       // WEIR_HOME: the default warehouse lives here
  bool inherit_environment = true;  // start from weir's own environment (PATH, HOME, ...)
  std::filesystem::path dags_root;  // the DAGs folder: dataset paths may not leave it
  // The `weir` binary that runs `weir task run` for tasks that declare datasets; empty: this
  // process's own executable.
  std::filesystem::path weir_binary;
  // The config file's secrets, which every task gets (a DAG's own of the same name win).
  dags::SecretSources secrets;
};

// Whether the task has `inputs:` or `outputs:`, and so runs under `weir task run`.
bool DeclaresDatasets(const dags::TaskSpec& task);

class CommandFactory {
 public:
  explicit CommandFactory(TaskOptions options);

  // The command for one attempt. Errors (a template that does not render, a dataset outside
  // the DAGs folder, a secret that cannot be read) fail the attempt. The secrets are read now,
  // so a rotated one is used by the next attempt; each is set as the variable of its name and
  // masked in the attempt's log and recorded config. A task with `inputs:` or `outputs:` runs under
  // `weir task run`, which records them (tasks/task_run.h).
  [[nodiscard]] Result<Command> Build(const dags::Dag& dag, const dags::TaskSpec& task,
                                      const dags::TemplateContext& context) const;

  // The warehouse file of `dag`: its `warehouse:` relative to the DAG file, or HOME/warehouse.db.
  std::filesystem::path WarehousePath(const dags::Dag& dag) const;

 private:
  Result<void> BuildIngest(const dags::Dag& dag, const dags::TaskSpec& task,
                           const dags::TemplateContext& context, Command* command) const;
  Result<void> BuildValidate(const dags::Dag& dag, const dags::TaskSpec& task,
                             const dags::TemplateContext& context, Command* command) const;
  Result<void> BuildEmbed(const dags::Dag& dag, const dags::TaskSpec& task,
                          const dags::TemplateContext& context, Command* command) const;
  Result<void> BuildFeature(const dags::Dag& dag, const dags::TaskSpec& task,
                            const dags::TemplateContext& context, Command* command) const;
  Result<void> BuildTransform(const dags::Dag& dag, const dags::TaskSpec& task,
                              const dags::TemplateContext& context, Command* command) const;
  struct DatasetPlace PlaceOf(const dags::Dag& dag) const;
  // Makes `command` run the built-in `kind` under `weir task run`: `config_json` is what its cache
  // key covers, `builtin_config` what the child runs.
  void RunBuiltin(std::string_view kind, std::string config_json, std::string builtin_config,
                  const dags::Dag& dag, struct ManifestSpec* spec, Command* command) const;
  Result<void> WrapForDatasets(const dags::Dag& dag, const dags::TaskSpec& task,
                               const dags::TemplateContext& context,
                               const std::vector<std::string>& task_env, Command* command) const;

  TaskOptions options_;
  std::vector<std::string> base_env_;  // weir's own environment minus WEIR_*, read once
};

}  // namespace weir::tasks

#endif  // WEIR_TASKS_TASKS_H_

// The `shell` kind: `command: [argv...]` executed directly (no shell), or `script: "..."` run
// by /bin/sh -c, with `env:` and `cwd:`. Params rendered into a script are single-quoted words.
#ifndef WEIR_TASKS_SHELL_H_
#define WEIR_TASKS_SHELL_H_

#include "common/error.h"
#include "common/process.h"
#include "dags/dag.h"
#include "dags/template.h"

namespace weir::tasks {

// One config string rendered for the run; errors name the key ("'cwd': unknown variable ...").
[[nodiscard]] Result<std::string> RenderText(const dags::Value& value,
                                             const dags::TemplateContext& context,
                                             dags::Quoting quoting, std::string_view key);

// Fills argv, cwd and the task's own env entries (appended to `command->env`).
[[nodiscard]] Result<void> BuildShellCommand(const dags::Dag& dag, const dags::TaskSpec& task,
                                             const dags::TemplateContext& context,
                                             Command* command);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_SHELL_H_

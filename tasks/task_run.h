// The child side of an attempt of a task that declares `inputs:` or `outputs:` (DESIGN §1:
// `weir task run`). It fingerprints the inputs, runs the task's command as its own child in
// the same process group, and once the command succeeded fingerprints the outputs; then it
// writes the manifest the parent records as the attempt's lineage, and exits as the command
// did. A declared input that is missing, or an output the command did not write, fails the
// attempt with a line in its log saying which.
#ifndef WEIR_TASKS_TASK_RUN_H_
#define WEIR_TASKS_TASK_RUN_H_

#include <string>
#include <string_view>
#include <vector>

namespace weir::tasks {

// Returns the exit status for `weir task run`; re-raises the command's signal if one ended it.
int RunTaskChild(std::string_view spec_json, const std::vector<std::string>& argv);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_TASK_RUN_H_

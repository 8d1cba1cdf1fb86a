// weir: builds ML training data from YAML DAGs. Parses the command line and dispatches.
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "common/logging.h"

namespace {

std::string CurrentUser() {
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  if (const char* user = std::getenv("USER")) return user;
  return "uid:" + std::to_string(geteuid());
}

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace weir::cli;
  weir::SetupLogging(weir::LogLevel::kWarn);

  CLI::App app{"weir: builds ML training data from YAML DAGs, on a schedule, with lineage.",
               "weir"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "weir 0.1.0");
  std::string dags_dir = EnvOr("WEIR_DAGS", "dags");
  std::string home = EnvOr("WEIR_HOME", ".weir");
  // Every subcommand accepts --dags and --home, before or after its own arguments.
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--dags", dags_dir, "Folder of DAG files (default: $WEIR_DAGS, else ./dags)");
    sub->add_option("--home", home,
                    "Folder of weir.db, logs/ and the default warehouse "
                    "(default: $WEIR_HOME, else ./.weir)");
  };
  add_common(&app);

  std::vector<std::string> validate_paths;
  CLI::App* validate = app.add_subcommand("validate", "Check DAG files; report every error");
  validate->add_option("paths", validate_paths, "Files or folders (default: the DAGs folder)");
  add_common(validate);

  CLI::App* dags = app.add_subcommand("dags", "List DAGs");
  dags->require_subcommand(1);
  CLI::App* dags_list = dags->add_subcommand("list", "List every DAG and its schedule");
  add_common(dags);
  add_common(dags_list);

  RunOptions run_options;
  CLI::App* run =
      app.add_subcommand("run", "Run a DAG now for one data interval, in the foreground");
  run->add_option("dag", run_options.dag_id, "DAG id")->required();
  run->add_option("--date", run_options.date, "Data interval: this local day (YYYY-MM-DD)");
  run->add_option("--start", run_options.start, "Data interval start (ISO-8601)");
  run->add_option("--end", run_options.end, "Data interval end (ISO-8601)");
  run->add_option("--param", run_options.params, "Override a declared param: NAME=VALUE (repeat)")
      ->take_all()
      ->expected(1)
      ->allow_extra_args(false);
  run->add_option("--parallelism", run_options.parallelism,
                  "Tasks running at once (default: number of cores)");
  add_common(run);

  CLI::App* runs = app.add_subcommand("runs", "Inspect runs");
  runs->require_subcommand(1);
  add_common(runs);
  std::string runs_dag;
  int runs_limit = 50;
  CLI::App* runs_list = runs->add_subcommand("list", "List runs, newest first");
  runs_list->add_option("dag", runs_dag, "Only runs of this DAG");
  runs_list->add_option("--limit", runs_limit, "At most this many runs (default 50)");
  add_common(runs_list);
  std::string show_run;
  CLI::App* runs_show = runs->add_subcommand("show", "Show a run and its task instances");
  runs_show->add_option("run", show_run, "Run id")->required();
  add_common(runs_show);

  CLI::App* tasks = app.add_subcommand("tasks", "Inspect task instances");
  tasks->require_subcommand(1);
  add_common(tasks);
  std::string logs_run, logs_task;
  std::optional<int> logs_try;
  CLI::App* logs = tasks->add_subcommand("logs", "Print the log of a task's attempt");
  logs->add_option("run", logs_run, "Run id")->required();
  logs->add_option("task", logs_task, "Task id")->required();
  logs->add_option("--try", logs_try, "Which try (default: the latest)");
  add_common(logs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::cerr << "weir: " << message << " (see weir --help)\n";
    return 2;
  }

  // Absolute, so that paths recorded in the store (attempt logs) work from any directory.
  Context context{std::filesystem::absolute(dags_dir).lexically_normal(),
                  std::filesystem::absolute(home).lexically_normal(), CurrentUser()};
  if (*validate) return RunValidate(context, validate_paths);
  if (*dags_list) return RunDagsList(context);
  if (*run) return RunRun(context, run_options);
  if (*runs_list) return RunRunsList(context, runs_dag, runs_limit);
  if (*runs_show) return RunRunsShow(context, show_run);
  if (*logs) return RunTaskLogs(context, logs_run, logs_task, logs_try);
  std::cerr << "weir: no command (see weir --help)\n";
  return 2;
}

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

  CLI::App* dags = app.add_subcommand("dags", "List, inspect and pause DAGs");
  dags->require_subcommand(1);
  CLI::App* dags_list =
      dags->add_subcommand("list", "List every DAG, its schedule and whether it is paused");
  add_common(dags);
  add_common(dags_list);
  NextOptions next_options;
  CLI::App* dags_next =
      dags->add_subcommand("next", "Print the next data intervals of a DAG's schedule");
  dags_next->add_option("dag", next_options.dag_id, "DAG id")->required();
  dags_next->add_option("--from", next_options.from,
                        "Intervals ending after this instant (ISO-8601; default: now)");
  dags_next->add_option("--count", next_options.count, "How many intervals (1..10000, default 5)");
  add_common(dags_next);
  std::string pause_dag, pause_reason;
  CLI::App* dags_pause = dags->add_subcommand("pause", "Stop scheduling new runs of a DAG");
  CLI::App* dags_unpause = dags->add_subcommand("unpause", "Resume scheduling a paused DAG");
  for (CLI::App* sub : {dags_pause, dags_unpause}) {
    sub->add_option("dag", pause_dag, "DAG id")->required();
    sub->add_option("--reason", pause_reason, "Why, for the audit log");
    add_common(sub);
  }

  CLI::App* pools = app.add_subcommand("pools", "List and size the pools of task slots");
  pools->require_subcommand(1);
  add_common(pools);
  CLI::App* pools_list = pools->add_subcommand("list", "List every pool and its slots");
  add_common(pools_list);
  std::string pool_name, pool_slots, pool_reason;
  CLI::App* pools_set = pools->add_subcommand("set", "Create a pool or change its slots");
  pools_set->add_option("name", pool_name, "Pool name ([A-Za-z0-9_.-]+)")->required();
  pools_set->add_option("slots", pool_slots, "Tasks of the pool running at once (0..100000)")
      ->required();
  pools_set->add_option("--reason", pool_reason, "Why, for the audit log");
  add_common(pools_set);

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
  run->add_flag("--no-cache", run_options.no_cache,
                "Run every task, even those whose inputs and config did not change");
  add_common(run);

  BackfillCommand backfill_command;
  CLI::App* backfill = app.add_subcommand(
      "backfill", "Run a DAG over past intervals, as a plan that resumes when run again");
  backfill->add_option("dag", backfill_command.dag_id, "DAG id")->required();
  backfill->add_option("--from", backfill_command.from, "First local day (YYYY-MM-DD)")->required();
  backfill->add_option("--to", backfill_command.to, "Last local day (YYYY-MM-DD)")->required();
  backfill->add_flag("--rerun-failed", backfill_command.rerun_failed,
                     "Rerun the failed tasks of existing failed runs");
  backfill->add_flag("--rerun-all", backfill_command.rerun_all,
                     "Rerun every task of existing runs");
  backfill->add_option("--max-active-runs", backfill_command.max_active_runs,
                       "Runs at once (default: the DAG's max_active_runs)");
  backfill->add_flag("--reverse", backfill_command.reverse, "Newest intervals first");
  backfill->add_flag("--dry-run", backfill_command.dry_run, "Print the plan; change nothing");
  backfill->add_option("--tasks", backfill_command.tasks, "Only tasks whose id matches REGEX");
  backfill->add_flag("--downstream", backfill_command.downstream,
                     "With --tasks: also what is downstream of them");
  backfill->add_flag("--yes", backfill_command.yes, "Allow more than 100,000 intervals");
  backfill->add_option("--parallelism", backfill_command.parallelism,
                       "Tasks running at once (default: number of cores)");
  backfill->add_option("--reason", backfill_command.reason, "Why (kept in the audit log)");
  add_common(backfill);

  std::optional<int> scheduler_parallelism;
  CLI::App* scheduler = app.add_subcommand(
      "scheduler", "Schedule forever: create runs as intervals close, run them, recover crashes");
  scheduler->add_option("--parallelism", scheduler_parallelism,
                        "Tasks running at once (default: number of cores)");
  add_common(scheduler);

  ServeOptions serve_options;
  CLI::App* serve =
      app.add_subcommand("serve", "Schedule and serve the dashboard and JSON API in one process");
  serve->add_option("--host", serve_options.host,
                    "Address to listen on (default 127.0.0.1; another needs WEIR_API_TOKENS)");
  serve->add_option("--port", serve_options.port, "Port to listen on (default 8080; 0: any free)");
  serve->add_flag("--auth-reads", serve_options.auth_reads,
                  "Reads need a token too, even from this machine");
  serve->add_option("--parallelism", serve_options.parallelism,
                    "Tasks running at once (default: number of cores)");
  add_common(serve);

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
  CLI::App* backfills = app.add_subcommand("backfills", "Inspect backfills and their progress");
  backfills->require_subcommand(1);
  add_common(backfills);
  std::string backfills_dag;
  int backfills_limit = 25;
  CLI::App* backfills_list = backfills->add_subcommand("list", "List backfills, newest first");
  backfills_list->add_option("dag", backfills_dag, "Only backfills of this DAG");
  backfills_list->add_option("--limit", backfills_limit, "At most this many (default 25)");
  add_common(backfills_list);
  std::string show_backfill;
  CLI::App* backfills_show =
      backfills->add_subcommand("show", "Show a backfill, its progress and its runs");
  backfills_show->add_option("id", show_backfill, "Backfill id")->required();
  add_common(backfills_show);
  std::string cancel_backfill, cancel_reason;
  CLI::App* backfills_cancel = backfills->add_subcommand(
      "cancel", "Cancel a backfill: its queued runs fail, its running ones go on to their end");
  backfills_cancel->add_option("id", cancel_backfill, "Backfill id")->required();
  backfills_cancel->add_option("--reason", cancel_reason, "Why (kept in the audit log)");
  add_common(backfills_cancel);

  std::string admin_run, admin_task, admin_state, admin_reason;
  bool failed_only = false, downstream = false, upstream = false;
  CLI::App* runs_clear = runs->add_subcommand("clear", "Run a run's task instances again");
  runs_clear->add_option("run", admin_run, "Run id")->required();
  runs_clear->add_flag("--failed-only", failed_only, "Only failed and upstream_failed tasks");
  runs_clear->add_option("--reason", admin_reason, "Why (kept in the audit log)");
  add_common(runs_clear);
  CLI::App* runs_mark = runs->add_subcommand("mark", "Set a run's state by hand");
  runs_mark->add_option("run", admin_run, "Run id")->required();
  runs_mark->add_option("state", admin_state, "success or failed")->required();
  runs_mark->add_option("--reason", admin_reason, "Why (kept in the audit log)");
  add_common(runs_mark);

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
  CLI::App* tasks_clear = tasks->add_subcommand("clear", "Run a task instance again");
  tasks_clear->add_option("run", admin_run, "Run id")->required();
  tasks_clear->add_option("task", admin_task, "Task id")->required();
  tasks_clear->add_flag("--downstream", downstream, "Also every task downstream of it");
  tasks_clear->add_flag("--upstream", upstream, "Also every task upstream of it");
  tasks_clear->add_option("--reason", admin_reason, "Why (kept in the audit log)");
  add_common(tasks_clear);
  CLI::App* tasks_mark = tasks->add_subcommand("mark", "Set a task instance's state by hand");
  tasks_mark->add_option("run", admin_run, "Run id")->required();
  tasks_mark->add_option("task", admin_task, "Task id")->required();
  tasks_mark->add_option("state", admin_state, "success, failed or skipped")->required();
  tasks_mark->add_option("--reason", admin_reason, "Why (kept in the audit log)");
  add_common(tasks_mark);

  AuditOptions audit_options;
  CLI::App* audit =
      app.add_subcommand("audit", "Show the audit log: who changed what, newest first");
  audit->add_option("--since", audit_options.since,
                    "From this time, day (UTC) or duration ago (e.g. 7d)");
  audit->add_option("--actor", audit_options.actor, "Only this actor");
  audit->add_option("--dag", audit_options.dag, "Only this DAG, its runs and their tasks");
  audit->add_option("--limit", audit_options.limit, "At most this many events (default 100)");
  audit->add_option("--format", audit_options.format, "text (a table) or json (JSON lines)");
  add_common(audit);

  QualityOptions quality_options;
  CLI::App* quality =
      app.add_subcommand("quality", "The latest data-quality check results on a dataset");
  quality
      ->add_option("dataset", quality_options.dataset, "warehouse://TABLE or sqlite://FILE#TABLE")
      ->required();
  quality->add_option("--run", quality_options.run, "The checks of this run");
  quality->add_option("--format", quality_options.format, "text (a table) or json");
  add_common(quality);

  VectorsOptions vectors_options;
  CLI::App* vectors =
      app.add_subcommand("vectors", "Look into the vector indexes embed tasks wrote");
  vectors->require_subcommand(1);
  CLI::App* vectors_search =
      vectors->add_subcommand("search", "The chunks nearest to a text, with their scores");
  vectors_search
      ->add_option("index", vectors_options.index, "The index file (its .manifest.json beside it)")
      ->required();
  vectors_search->add_option("--text", vectors_options.text, "The text to look for")->required();
  vectors_search->add_option("-k", vectors_options.k, "How many chunks (default 5)");
  vectors_search->add_option("--format", vectors_options.format, "text (a table) or json (lines)");
  add_common(vectors_search);

  LineageOptions lineage_options;
  CLI::App* lineage = app.add_subcommand("lineage", "What a dataset was built from, or fed");
  lineage->require_subcommand(1);
  add_common(lineage);
  std::vector<CLI::App*> lineage_commands;
  for (auto [name, help, what] :
       {std::tuple{"upstream", "What DATASET[@N] was built from, down to the sources",
                   "DATASET[@N]: e.g. warehouse://features or file:data/x.csv@2"},
        std::tuple{"downstream", "Everything built from DATASET[@N]", "DATASET[@N]"},
        std::tuple{"run", "What a run read and wrote", "Run id"}}) {
    CLI::App* sub = lineage->add_subcommand(name, help);
    sub->add_option("target", lineage_options.target, what)->required();
    if (std::string_view(name) != "run") {
      sub->add_option("--depth", lineage_options.depth, "At most N attempts away (0: no limit)");
    }
    sub->add_option("--format", lineage_options.format, "text, json or dot");
    add_common(sub);
    lineage_commands.push_back(sub);
  }

  CLI::App* lineage_export = lineage->add_subcommand(
      "export", "Write OpenLineage RunEvents (JSON lines) for the recorded attempts");
  lineage_export->add_flag("--openlineage", lineage_options.openlineage,
                           "OpenLineage RunEvents (the only format)");
  lineage_export->add_option("--since", lineage_options.since,
                             "Attempts that started or ended from this time, day or duration ago");
  lineage_export->add_option("--run", lineage_options.run, "Only this run's attempts");
  lineage_export->add_option("--namespace", lineage_options.job_namespace,
                             "OpenLineage namespace of jobs and datasets (default weir)");
  add_common(lineage_export);
  lineage_commands.push_back(lineage_export);

  std::string explain_run, explain_task;
  CLI::App* explain = app.add_subcommand("explain", "Why a task instance ran, or was cached");
  explain->add_option("run", explain_run, "Run id")->required();
  explain->add_option("task", explain_task, "Task id")->required();
  add_common(explain);

  std::string task_spec;
  std::vector<std::string> task_argv;
  CLI::App* task = app.add_subcommand("task", "Internal: the child side of a task attempt");
  task->require_subcommand(1);
  task->group("");  // not listed in --help
  CLI::App* task_run = task->add_subcommand("run", "Run one attempt's command and record it");
  task_run->add_option("--spec", task_spec, "What to fingerprint (JSON)")->required();
  task_run->add_option("command", task_argv, "The command, after -- (none for a built-in kind)");

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

  if (*task_run) return RunTaskRun(task_spec, task_argv);

  // Absolute, so that paths recorded in the store (attempt logs) work from any directory.
  Context context{std::filesystem::absolute(dags_dir).lexically_normal(),
                  std::filesystem::absolute(home).lexically_normal(), CurrentUser()};
  // What a command records or prints is masked with the config file's secrets it can read (the
  // commands that run tasks refuse a broken config file; the others need none of it).
  if (auto config = weir::dags::LoadConfig(context.home))
    weir::dags::MaskReadableSecrets(config->secrets);
  if (*validate) return RunValidate(context, validate_paths);
  if (*dags_list) return RunDagsList(context);
  if (*dags_next) return RunDagsNext(context, next_options);
  if (*dags_pause) return RunDagsPause(context, pause_dag, true, pause_reason);
  if (*dags_unpause) return RunDagsPause(context, pause_dag, false, pause_reason);
  if (*pools_list) return RunPoolsList(context);
  if (*pools_set) return RunPoolsSet(context, pool_name, pool_slots, pool_reason);
  if (*run) return RunRun(context, run_options);
  if (*scheduler) return RunScheduler(context, scheduler_parallelism);
  if (*serve) return RunServe(context, serve_options);
  if (*backfill) return RunBackfill(context, backfill_command);
  if (*runs_list) return RunRunsList(context, runs_dag, runs_limit);
  if (*runs_show) return RunRunsShow(context, show_run);
  if (*backfills_list) return RunBackfillsList(context, backfills_dag, backfills_limit);
  if (*backfills_show) return RunBackfillsShow(context, show_backfill);
  if (*backfills_cancel) return RunBackfillsCancel(context, cancel_backfill, cancel_reason);
  if (*logs) return RunTaskLogs(context, logs_run, logs_task, logs_try);
  if (*runs_clear) return RunRunsClear(context, admin_run, failed_only, admin_reason);
  if (*runs_mark) return RunRunsMark(context, admin_run, admin_state, admin_reason);
  if (*tasks_clear) {
    return RunTasksClear(context, admin_run, admin_task, downstream, upstream, admin_reason);
  }
  if (*tasks_mark) return RunTasksMark(context, admin_run, admin_task, admin_state, admin_reason);
  if (*audit) return RunAudit(context, audit_options);
  if (*explain) return RunExplain(context, explain_run, explain_task);
  if (*quality) return RunQuality(context, quality_options);
  if (*vectors_search) return RunVectorsSearch(vectors_options);
  for (CLI::App* sub : lineage_commands) {
    if (*sub) {
      lineage_options.mode = sub->get_name();
      return RunLineage(context, lineage_options);
    }
  }
  std::cerr << "weir: no command (see weir --help)\n";
  return 2;
}

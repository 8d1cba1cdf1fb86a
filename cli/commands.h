// The subcommands and what they share: where the DAGs and the home folder are, who is acting,
// and how errors are printed. Each Run* function returns the process exit status:
// 0 success, 1 a run or task failed, 2 bad input.
#ifndef WEIR_CLI_COMMANDS_H_
#define WEIR_CLI_COMMANDS_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "dags/dags.h"
#include "executor/executor.h"
#include "scheduler/operations.h"
#include "scheduler/scheduler.h"
#include "state/state.h"
#include "tasks/tasks.h"
#include "webui/webui.h"

namespace weir::cli {

struct Context {
  std::filesystem::path dags_dir;  // --dags, else $WEIR_DAGS, else ./dags
  std::filesystem::path home;      // --home, else $WEIR_HOME, else ./.weir
  std::string actor;               // the OS user, for the audit log

  std::filesystem::path StatePath() const { return home / "weir.db"; }
  std::filesystem::path LogDir() const { return home / "logs"; }

  // Loads every DAG under dags_dir. The secrets they name that can be read now are masked by
  // this process from then on.
  dags::LoadResult LoadDags() const;
  // The DAG `id`, or an error that says why not (its file's errors, or a did-you-mean).
  Result<std::shared_ptr<const dags::Dag>> FindDag(const dags::LoadResult& loaded,
                                                   const std::string& id) const;
  // Opens the state database; `create` makes home and the file when missing. Without `create`
  // a missing database is kNotFound, so read-only commands leave no file behind.
  Result<std::unique_ptr<state::Store>> OpenStore(bool create) const;
};

// --since T: a time, a day (from its start, UTC), or a duration back from `now` (7d).
[[nodiscard]] Result<Timestamp> ParseSince(const std::string& text, Timestamp now);

// How the commands that run tasks build them: the home, the DAGs folder that dataset paths may
// not leave, and the config file's secrets (an error when the config file is broken). The
// secrets that can be read now are masked by this process from then on.
[[nodiscard]] Result<tasks::TaskOptions> TaskOptionsFor(const Context& context);

// The process pool of a command that runs tasks (scheduler, serve, run, backfill): its only
// children are the tasks', so it contains what they leave running.
executor::ExecutorOptions PoolOptions();
// The run loop's options for those commands: logs under HOME/logs, and each attempt's lineage
// read from the manifest its `weir task run` child left (a bad manifest is noted in the log).
// `store` answers the task cache's questions (the earlier success of a task); with `openlineage`,
// every recorded attempt end is also sent there as OpenLineage events.
class OpenLineageClient;
scheduler::RunLoopOptions RunLoopOptionsFor(const Context& context, std::optional<int> parallelism,
                                            state::Store& store,
                                            OpenLineageClient* openlineage = nullptr);
// The OpenLineage client the environment asks for (OPENLINEAGE_URL; see openlineage_client.h),
// or null. It starts a thread: make it after the SignalWatcher.
std::unique_ptr<OpenLineageClient> MakeOpenLineageClient(
    const std::optional<struct OpenLineageConfig>& config);

// A backfill id as typed: a whole number from 1, else kInvalidArgument naming it.
[[nodiscard]] Result<std::int64_t> ParseBackfillId(const std::string& text);

// The run `run_id`, or kNotFound "no run 'ID'".
Result<state::RunRecord> RequireRun(state::Store& store, const std::string& run_id);

// Prints "weir: <message>" on stderr and returns the error's exit code.
int Report(const Error& error);

// The person running this command, from the CLI, for the audit log.
scheduler::Actor Who(const Context& context, const std::string& reason);

// Masks what a person typed and the store kept as typed (a run's params, which tasks must get
// unmasked) with the secrets of the config file and of every DAG under context.dags_dir that
// can be read now, as the API does.
std::string MaskStored(const Context& context, const std::string& text);

int RunValidate(const Context& context, const std::vector<std::string>& paths);

// dags list, dags next, dags pause|unpause, pools list|set (dag_commands.cc).
// `dags list` with each DAG's PAUSED state from the store (none paused without a database).
int RunDagsList(const Context& context);

struct NextOptions {
  std::string dag_id;
  std::optional<std::string> from;  // --from T; none: now
  int count = 5;                    // --count N, 1..10000
};
// Prints the next data intervals of the DAG's schedule, one per line as "START END" (UTC).
int RunDagsNext(const Context& context, const NextOptions& options);
// Pauses or unpauses a DAG (it must load without errors), with an audit event.
int RunDagsPause(const Context& context, const std::string& dag_id, bool paused,
                 const std::string& reason);
int RunPoolsList(const Context& context);
// `slots` as typed, so that "-1" and "many" get the same one-line error as other bad input.
int RunPoolsSet(const Context& context, const std::string& name, const std::string& slots,
                const std::string& reason);

struct RunOptions {
  std::string dag_id;
  std::optional<std::string> date;   // --date YYYY-MM-DD
  std::optional<std::string> start;  // --start T
  std::optional<std::string> end;    // --end T
  std::vector<std::string> params;   // --param k=v
  std::optional<int> parallelism;    // --parallelism; none: the number of cores
  bool no_cache = false;             // --no-cache
};
int RunRun(const Context& context, const RunOptions& options);

int RunRunsList(const Context& context, const std::string& dag_id, int limit);
int RunRunsShow(const Context& context, const std::string& run_id);
// backfills list [DAG], backfills show ID: each backfill's progress, counted from its runs.
int RunBackfillsList(const Context& context, const std::string& dag_id, int limit);
int RunBackfillsShow(const Context& context, const std::string& id);
// backfills cancel ID: its queued runs fail, its running ones go on (admin_commands.cc).
int RunBackfillsCancel(const Context& context, const std::string& id, const std::string& reason);
// Clear and mark (audited; a running scheduler picks the change up).
int RunRunsClear(const Context& context, const std::string& run_id, bool failed_only,
                 const std::string& reason);
int RunTasksClear(const Context& context, const std::string& run_id, const std::string& task_id,
                  bool downstream, bool upstream, const std::string& reason);
int RunRunsMark(const Context& context, const std::string& run_id, const std::string& state_name,
                const std::string& reason);
int RunTasksMark(const Context& context, const std::string& run_id, const std::string& task_id,
                 const std::string& state_name, const std::string& reason);

struct BackfillCommand {
  std::string dag_id;
  std::string from;  // YYYY-MM-DD
  std::string to;
  bool rerun_failed = false;
  bool rerun_all = false;
  std::optional<int> max_active_runs;
  bool reverse = false;
  bool dry_run = false;
  std::optional<std::string> tasks;  // regex
  bool downstream = false;
  bool yes = false;
  std::optional<int> parallelism;
  std::string reason;
};
int RunBackfill(const Context& context, const BackfillCommand& command);

// `weir scheduler`: schedules until SIGINT or SIGTERM.
int RunScheduler(const Context& context, std::optional<int> parallelism);

struct ServeOptions {
  std::string host = "127.0.0.1";       // --host: a numeric IPv4 or IPv6 address
  int port = 8080;                      // --port; 0: any free port
  bool auth_reads = false;              // --auth-reads: reads need a token even from loopback
  std::optional<int> parallelism;       // --parallelism
  std::vector<webui::ApiToken> tokens;  // WEIR_API_TOKENS and the config file (filled by RunServe)
};
// `weir serve`: the scheduler, the JSON API and the dashboard in one process, until SIGINT or
// SIGTERM. Refuses a non-loopback address when no API token is configured.
int RunServe(const Context& context, const ServeOptions& options);

struct AuditOptions {
  std::optional<std::string> since;  // --since: a time, a day, or a duration back from now
  std::string actor;                 // --actor
  std::string dag;                   // --dag
  int limit = 100;                   // --limit
  std::string format = "text";       // --format text|json (JSON lines)
};
// `weir audit`: who changed what, newest first (audit_command.cc).
int RunAudit(const Context& context, const AuditOptions& options);

struct LineageOptions {
  std::string mode;             // upstream, downstream, run or export
  std::string target;           // DATASET[@N], or a run id
  int depth = 0;                // --depth: attempts away at most; 0: no limit
  std::string format = "text";  // --format text|json|dot
  // export: --openlineage (the only export format), --since, --run, --namespace
  bool openlineage = false;
  std::optional<std::string> since;
  std::string run;
  std::string job_namespace = "weir";
};
// `weir lineage ...` and `weir task run` (lineage_command.cc).
int RunLineage(const Context& context, const LineageOptions& options);
int RunTaskRun(const std::string& spec, const std::vector<std::string>& argv);

// `weir quality DATASET`: the latest check results on a dataset (quality_command.cc).
struct QualityOptions {
  std::string dataset;
  std::string run;              // only that run's checks
  std::string format = "text";  // text | json
};
int RunQuality(const Context& context, const QualityOptions& options);

// `weir vectors search INDEX --text T`: the chunks nearest to T (vectors_command.cc).
struct VectorsOptions {
  std::string index;  // the index file
  std::string text;
  int k = 5;
  std::string format = "text";  // text | json
};
int RunVectorsSearch(const VectorsOptions& options);

// `weir explain RUN TASK`: why it ran or was cached (explain_command.cc).
int RunExplain(const Context& context, const std::string& run_id, const std::string& task_id);

int RunTaskLogs(const Context& context, const std::string& run_id, const std::string& task_id,
                std::optional<int> try_number);

}  // namespace weir::cli

#endif  // WEIR_CLI_COMMANDS_H_

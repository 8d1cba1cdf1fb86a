#include "cli/commands.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>

#include "cli/openlineage_client.h"
#include "cli/table.h"
#include "common/secret_mask.h"
#include "common/strings.h"
#include "tasks/datasets.h"
#include "tasks/validate.h"

namespace weir::cli {

Result<Timestamp> ParseSince(const std::string& text, Timestamp now) {
  if (auto t = ParseTimestamp(text)) return *t;
  if (auto day = ParseDate(text)) return StartOfLocalDay(*day, "UTC");
  if (auto back = ParseDuration(text)) return now - *back;
  return Fail(ErrorCode::kInvalidArgument,
              fmt::format("--since '{}': use a time (2026-11-21T10:00:00Z), a day (2026-11-21) "
                          "or a duration back from now (7d, 12h)",
                          Printable(text)));
}

Result<tasks::TaskOptions> TaskOptionsFor(const Context& context) {
  auto config = dags::LoadConfig(context.home);
  if (!config) return std::unexpected(config.error());
  dags::MaskReadableSecrets(config->secrets);
  return tasks::TaskOptions{
      .home = context.home, .dags_root = context.dags_dir, .secrets = config->secrets};
}

executor::ExecutorOptions PoolOptions() {
  return executor::ExecutorOptions{.contain_descendants = true};
}

std::unique_ptr<OpenLineageClient> MakeOpenLineageClient(
    const std::optional<OpenLineageConfig>& config) {
  if (!config) return nullptr;
  return std::make_unique<OpenLineageClient>(
      *config, [](const std::string& line) { std::cerr << "weir: " << line << "\n"; });
}

scheduler::Actor Who(const Context& context, const std::string& reason) {
  return scheduler::Actor{context.actor, "cli", reason};
}

scheduler::RunLoopOptions RunLoopOptionsFor(const Context& context, std::optional<int> parallelism,
                                            state::Store& store, OpenLineageClient* openlineage) {
  scheduler::RunLoopOptions options{.parallelism = parallelism.value_or(0),
                                    .log_dir = context.LogDir()};
  options.lineage =
      [](const dags::TaskSpec& task,
         const state::AttemptRecord& attempt) -> std::optional<state::AttemptLineage> {
    if (!tasks::DeclaresDatasets(task)) return std::nullopt;
    auto manifest = tasks::ReadManifest(tasks::ManifestPathFor(attempt.log_path));
    if (!manifest) {
      std::ofstream(attempt.log_path, std::ios::app)
          << "weir: lineage not recorded: " << manifest.error().message << "\n";
      return std::nullopt;
    }
    if (!*manifest) return std::nullopt;
    state::AttemptLineage lineage;
    lineage.config_hash = (*manifest)->config_hash;
    lineage.cache_key = (*manifest)->cache_key;
    lineage.config_json = (*manifest)->config_json;
    lineage.cache_note = (*manifest)->cache_note;
    lineage.cache_compared_to = (*manifest)->compared_to;
    lineage.cached = (*manifest)->cached;
    for (const tasks::Manifest::Column& c : (*manifest)->columns) {
      lineage.columns.push_back(
          {c.output_uri, c.output_column, c.input_uri, c.input_column, c.transformation});
    }
    lineage.metrics = (*manifest)->metrics;
    if (!(*manifest)->checks_json.empty()) {
      auto checks = tasks::CheckResultsFromJson((*manifest)->checks_json);
      if (!checks) {
        std::ofstream(attempt.log_path, std::ios::app)
            << "weir: check results not recorded: " << checks.error().message << "\n";
      } else {
        const std::string dataset =
            (*manifest)->reads.empty() ? "" : (*manifest)->reads.front().uri;
        for (const tasks::CheckResult& r : *checks) {
          lineage.checks.push_back({.dataset_uri = dataset,
                                    .check = r.check,
                                    .column = r.column,
                                    .method = r.method,
                                    .severity = r.severity,
                                    .observed = r.observed,
                                    .p_value = r.p_value,
                                    .threshold = r.threshold,
                                    .passed = r.passed,
                                    .failing_count = r.failing_count,
                                    .total = r.total,
                                    .failing_rows = r.failing_rows,
                                    .detail = r.detail});
        }
      }
    }
    for (auto [from, into] : {std::pair{&(*manifest)->reads, &lineage.reads},
                              std::pair{&(*manifest)->writes, &lineage.writes}}) {
      for (const tasks::Fingerprint& f : *from) {
        into->push_back({f.uri, f.fingerprint, f.schema_json, f.row_count, f.bytes});
      }
    }
    return lineage;
  };
  options.cache_advice = [&store](const dags::Dag& dag, const dags::TaskSpec& task,
                                  const state::RunRecord& run) -> std::optional<std::string> {
    if (!tasks::DeclaresDatasets(task)) return std::nullopt;
    tasks::CacheAdvice advice;
    if (!task.cache) {
      advice.off = "task";
    } else if (run.no_cache) {
      advice.off = "run";
    } else {
      auto candidate = store.FindCacheCandidate(dag.id, task.id);
      if (!candidate || !*candidate) return std::nullopt;  // a read error: no advice, it runs
      advice.attempt = (*candidate)->attempt_id;
      advice.run_id = (*candidate)->run_id;
      advice.task_id = task.id;
      advice.try_number = (*candidate)->try_number;
      advice.key = (*candidate)->cache_key;
      advice.outputs = (*candidate)->outputs;
    }
    return tasks::CacheAdviceToEnv(advice);
  };
  if (openlineage != nullptr) {
    options.on_recorded = [&store, openlineage](const std::vector<std::int64_t>& attempts) {
      state::OpenLineageOptions ol{.job_namespace = openlineage->config().job_namespace};
      for (std::int64_t id : attempts) {
        auto exported = store.ExportAttempt(id);
        if (exported) openlineage->Send(state::OpenLineageEvents(*exported, ol));
      }
    };
  }
  return options;
}

Result<std::int64_t> ParseBackfillId(const std::string& text) {
  auto id = ParseWholeNumber(text, 1, std::numeric_limits<std::int64_t>::max());
  if (!id) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("backfill id '{}': expected a whole number from 1 (see weir backfills "
                            "list)",
                            Printable(text)));
  }
  return *id;
}

Result<state::RunRecord> RequireRun(state::Store& store, const std::string& run_id) {
  auto run = store.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  if (!*run) return Fail(ErrorCode::kNotFound, fmt::format("no run '{}'", Printable(run_id)));
  return **run;
}

int Report(const Error& error) {
  std::cerr << "weir: " << error.message << "\n";
  return error.ExitCode();
}

std::string MaskStored(const Context& context, const std::string& text) {
  static std::once_flag learned;  // the config file's secrets are learned in main
  std::call_once(learned, [&] { context.LoadDags(); });
  return ProcessSecrets::Instance().Apply(text);
}

dags::LoadResult Context::LoadDags() const {
  dags::LoadResult loaded = dags::LoadDags({dags_dir}, dags_dir);
  for (const auto& dag : loaded.dags) dags::MaskReadableSecrets(dag->secrets);
  return loaded;
}

Result<std::shared_ptr<const dags::Dag>> Context::FindDag(const dags::LoadResult& loaded,
                                                          const std::string& id) const {
  if (auto dag = loaded.Find(id)) return dag;
  std::error_code ec;
  if (!std::filesystem::is_directory(dags_dir, ec)) {
    return Fail(
        ErrorCode::kInvalidArgument,
        fmt::format("no DAGs folder at {} (pass --dags DIR or set WEIR_DAGS)", dags_dir.string()));
  }
  auto broken = loaded.broken.find(id);
  if (broken != loaded.broken.end()) {
    // Each error is already one line naming file, line, column and reason.
    std::vector<std::string> lines;
    for (const auto& e : loaded.errors) {
      if (e.loc.file == broken->second) lines.push_back(e.ToString());
    }
    return Fail(ErrorCode::kInvalidArgument, fmt::format("{}", fmt::join(lines, "\nweir: ")));
  }
  std::vector<std::string> ids;
  for (const auto& d : loaded.dags) ids.push_back(d->id);
  for (const auto& [broken_id, file] : loaded.broken) ids.push_back(broken_id);
  auto hint = ClosestMatch(id, ids);
  std::string unloadable;
  if (!loaded.errors.empty()) {
    // The DAG may be in a file that could not be read far enough to know its id.
    unloadable = fmt::format(
        "; DAG files with errors may hide it (`weir validate` lists them), "
        "first: {}",
        loaded.errors.front().ToString());
  }
  return Fail(ErrorCode::kNotFound,
              fmt::format("unknown DAG '{}' in {}{}{}", Printable(id), dags_dir.string(),
                          hint ? fmt::format(" (did you mean '{}'?)", *hint) : "", unloadable));
}

Result<std::unique_ptr<state::Store>> Context::OpenStore(bool create) const {
  std::error_code ec;
  if (!create && !std::filesystem::exists(StatePath(), ec)) {
    return Fail(ErrorCode::kNotFound,
                fmt::format("no state database at {} (nothing has run with this --home yet)",
                            StatePath().string()));
  }
  if (create) {
    std::filesystem::create_directories(home, ec);
    if (ec) {
      return Fail(ErrorCode::kIo,
                  fmt::format("cannot create home folder {}: {}", home.string(), ec.message()));
    }
  }
  return state::Store::Open(StatePath(), state::StoreOptions{.create = create});
}

int RunValidate(const Context& context, const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> targets;
  for (const std::string& p : paths) targets.emplace_back(p);
  if (targets.empty()) targets.push_back(context.dags_dir);
  dags::LoadResult loaded = dags::LoadDags(targets, context.dags_dir);
  for (const auto& e : loaded.errors) std::cerr << e.ToString() << "\n";
  std::size_t tasks = 0;
  for (const auto& dag : loaded.dags) tasks += dag->tasks.size();
  if (!loaded.errors.empty()) {
    std::cerr << fmt::format("{} error{} in {} file{}\n", loaded.errors.size(),
                             loaded.errors.size() == 1 ? "" : "s", loaded.files,
                             loaded.files == 1 ? "" : "s");
    return 2;
  }
  if (loaded.files == 0) {
    std::cerr << "weir: no DAG files (*.yaml, *.yml) found\n";
    return 2;
  }
  std::cout << fmt::format("ok: {} DAG{}, {} task{} in {} file{}\n", loaded.dags.size(),
                           loaded.dags.size() == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s",
                           loaded.files, loaded.files == 1 ? "" : "s");
  return 0;
}

}  // namespace weir::cli

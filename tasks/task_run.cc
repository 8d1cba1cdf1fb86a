#include "tasks/task_run.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/hash.h"
#include "tasks/datasets.h"
#include "tasks/embed.h"
#include "tasks/feature.h"
#include "tasks/ingest.h"
#include "tasks/transform.h"
#include "tasks/validate.h"
#include "tasks/warehouse.h"

extern char** environ;

namespace weir::tasks {
namespace {

// Starts argv in this process's group with default signal handling; returns its pid.
Result<pid_t> Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("cannot execute '{}': {}", argv[0], strerror(rc)));
  }
  return pid;
}

// Decides from $WEIR_CACHE whether the command can be skipped: true when an earlier success
// had this very cache key and its outputs are still what it wrote. Notes why in the manifest.
Result<bool> CheckCache(const ManifestSpec& spec, Manifest* manifest) {
  if (spec.outputs.empty()) {
    manifest->cache_note = "ran: the task declares no outputs, so there is nothing to reuse";
    return false;
  }
  const char* env = std::getenv("WEIR_CACHE");
  if (env == nullptr || *env == '\0') {
    manifest->cache_note = "ran: no earlier success of this task to reuse";
    return false;
  }
  auto advice = CacheAdviceFromEnv(env);
  if (!advice) return std::unexpected(advice.error());
  if (advice->off == "task") {
    manifest->cache_note = "ran: the cache is off for this task (cache: false)";
    return false;
  }
  if (!advice->off.empty()) {
    manifest->cache_note = "ran: the run asked for no cache (--no-cache)";
    return false;
  }
  manifest->compared_to = advice->attempt;
  const std::string earlier =
      fmt::format("{} / {} try {}", advice->run_id, advice->task_id, advice->try_number);
  if (advice->key != manifest->cache_key) {
    manifest->cache_note =
        fmt::format("ran: its inputs or config differ from {} (weir explain shows which)", earlier);
    return false;
  }
  std::map<std::string, std::string> recorded(advice->outputs.begin(), advice->outputs.end());
  for (const ResolvedDataset& output : spec.outputs) {
    auto was = recorded.find(output.uri);
    if (was == recorded.end()) {
      manifest->cache_note =
          fmt::format("ran: output {} was not among those of {}", output.uri, earlier);
      return false;
    }
    auto now = TakeFingerprint(output);
    if (!now) {
      manifest->cache_note = fmt::format("ran: output {} is missing since {}", output.uri, earlier);
      return false;
    }
    if (now->fingerprint != was->second) {
      manifest->cache_note =
          fmt::format("ran: output {} was modified since {}", output.uri, earlier);
      return false;
    }
  }
  manifest->cached = true;
  manifest->cache_note =
      fmt::format("cached: same inputs and config as {}, and its outputs are unchanged", earlier);
  return true;
}

// Records what the attempt wrote, once it succeeded.
Result<void> FingerprintOutputs(const ManifestSpec& spec, Manifest* manifest) {
  for (const ResolvedDataset& output : spec.outputs) {
    auto seen = TakeFingerprint(output);
    if (!seen) return std::unexpected(seen.error());
    manifest->writes.push_back(std::move(*seen));
  }
  return {};
}

// The warehouse tables a built-in reads, as datasets.
void AddTableInputs(const std::vector<std::string>& tables, const std::string& uri_prefix,
                    const std::filesystem::path& warehouse, ManifestSpec* spec) {
  for (const std::string& table : tables) {
    spec->inputs.push_back({uri_prefix + table, warehouse, table});
  }
}

// `into` when the mode keeps some of its rows (append, upsert, partition) and it exists: the
// version the write builds on.
std::vector<ResolvedDataset> KeptTable(const WriteTarget& target, const std::string& uri_prefix,
                                       const std::filesystem::path& warehouse) {
  if (target.mode == "replace") return {};
  auto connection = Connection::Open(warehouse, /*read_only=*/true);
  if (!connection || !connection->TableExists(target.into)) return {};
  return {ResolvedDataset{uri_prefix + target.into, warehouse, target.into}};
}

// A built-in kind, run inside `weir task run` instead of a command.
class Builtin {
 public:
  virtual ~Builtin() = default;
  // Before the cache check: adds the inputs learned from the config (the tables a query reads)
  // and narrows the hashed config to what the run can see.
  [[nodiscard]] virtual Result<void> Plan(ManifestSpec* spec) = 0;
  // Whether an earlier success may stand in for this run.
  virtual std::string Uncacheable() const { return ""; }
  // Datasets it reads for lineage only, not for the cache key: the earlier version of a table
  // that a mode other than replace keeps rows of.
  virtual std::vector<ResolvedDataset> KeptInputs() const { return {}; }
  // Runs it; adds what it learned to the manifest; returns a line for the log.
  [[nodiscard]] virtual Result<std::string> Run(Manifest* manifest) = 0;
};

// Keeps only the bindings named in `used` in the hashed config, so that a new run id or day does
// not count as a change where the SQL does not use it.
void NarrowBindings(const std::vector<std::string>& used, const WriteTarget& target,
                    ManifestSpec* spec) {
  nlohmann::json hashed = nlohmann::json::parse(spec->config_json, nullptr, false);
  if (!hashed.is_object() || !hashed.contains("bindings")) return;
  nlohmann::json kept = nlohmann::json::object();
  for (const std::string& name : used) {
    if (hashed["bindings"].contains(name)) kept[name] = hashed["bindings"][name];
  }
  if (target.mode == "partition") {
    kept["data_interval_start"] = target.interval_start;
    kept["data_interval_end"] = target.interval_end;
  }
  hashed["bindings"] = kept;
  spec->config_json = hashed.dump();
  spec->config_hash = "sha256:" + Sha256Hex(spec->config_json);
}

class TransformBuiltin : public Builtin {
 public:
  explicit TransformBuiltin(TransformConfig config) : c_(std::move(config)) {}

  Result<void> Plan(ManifestSpec* spec) override {
    auto plan = PlanTransform(c_);
    if (!plan) return Fail(plan.error().code, "transform: " + plan.error().message);
    plan_ = std::move(*plan);
    NarrowBindings(plan_.parameters, c_.target, spec);
    AddTableInputs(plan_.tables, c_.table_uri_prefix, c_.warehouse, spec);
    return {};
  }

  std::vector<ResolvedDataset> KeptInputs() const override {
    return KeptTable(c_.target, c_.table_uri_prefix, c_.warehouse);
  }

  Result<std::string> Run(Manifest* manifest) override {
    auto rows = RunTransform(c_);
    if (!rows) return Fail(rows.error().code, "transform: " + rows.error().message);
    const std::string into_uri = c_.table_uri_prefix + c_.target.into;
    for (const TransformPlan::Column& c : plan_.columns) {
      if (c.table.empty() || c.table == c_.target.into) continue;
      manifest->columns.push_back(
          {into_uri, c.output, c_.table_uri_prefix + c.table, c.column, "identity"});
    }
    return fmt::format("transform wrote {} rows into {} (mode {})", *rows, c_.target.into,
                       c_.target.mode);
  }

 private:
  TransformConfig c_;
  TransformPlan plan_;
};

class IngestBuiltin : public Builtin {
 public:
  explicit IngestBuiltin(IngestConfig config) : c_(std::move(config)) {}

  Result<void> Plan(ManifestSpec* spec) override {
    if (c_.source.format != "sqlite") return {};
    auto plan = PlanIngestQuery(c_);
    if (!plan) return std::unexpected(plan.error());
    NarrowBindings(plan->parameters, c_.target, spec);
    for (const std::string& table : plan->tables) {
      spec->inputs.push_back({c_.source.uri + table, c_.source.path, table});
    }
    return {};
  }

  std::string Uncacheable() const override {
    return c_.source.format == "http" ? "ran: an http source is read anew on every run" : "";
  }

  std::vector<ResolvedDataset> KeptInputs() const override {
    return KeptTable(c_.target, c_.table_uri_prefix, c_.warehouse);
  }

  Result<std::string> Run(Manifest* manifest) override {
    const auto started = std::chrono::steady_clock::now();
    auto report = RunIngest(c_);
    if (!report) return std::unexpected(report.error());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!report->source_fingerprint.empty()) {
      manifest->reads.push_back(Fingerprint{.uri = c_.source.uri,
                                            .fingerprint = report->source_fingerprint,
                                            .bytes = report->source_bytes});
    }
    // A file's columns flow into the table's columns of the same name.
    if (c_.source.format != "sqlite") {
      for (const auto& [name, type] : report->columns) {
        manifest->columns.push_back(
            {c_.table_uri_prefix + c_.target.into, name, c_.source.uri, name, "identity"});
      }
    }
    manifest->metrics = {{"rows_read", report->rows_read},
                         {"rows_written", report->rows_written},
                         {"rows_rejected", report->rows_rejected}};
    return fmt::format("ingest read {} rows, wrote {} into {} (mode {}), rejected {}{}, in {:.2f}s",
                       report->rows_read, report->rows_written, c_.target.into, c_.target.mode,
                       report->rows_rejected,
                       report->rows_rejected > 0 && c_.on_bad_row == "quarantine"
                           ? " (kept in " + c_.quarantine_table + ")"
                           : "",
                       seconds);
  }

 private:
  IngestConfig c_;
};

class ValidateBuiltin : public Builtin {
 public:
  explicit ValidateBuiltin(ValidateConfig config) : c_(std::move(config)) {}

  Result<void> Plan(ManifestSpec* /*spec*/) override { return {}; }

  Result<std::string> Run(Manifest* manifest) override {
    std::string fingerprint;
    for (const Fingerprint& read : manifest->reads) {
      if (read.uri == c_.dataset) fingerprint = read.fingerprint;
    }
    const auto started = std::chrono::steady_clock::now();
    auto results = RunValidate(c_, fingerprint);
    if (!results) return std::unexpected(results.error());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    manifest->checks_json = CheckResultsToJson(*results);
    std::cerr << FormatCheckResults(*results);
    int failed = 0, warned = 0;
    for (const CheckResult& r : *results) {
      if (!r.passed) ++(r.severity == "warn" ? warned : failed);
    }
    manifest->metrics = {{"checks", static_cast<std::int64_t>(results->size())},
                         {"checks_failed", failed},
                         {"checks_warned", warned}};
    if (failed > 0) {
      return Fail(ErrorCode::kFailedPrecondition,
                  fmt::format("validate {}: {} of {} checks failed on {}{}", c_.task, failed,
                              results->size(), c_.dataset,
                              warned > 0 ? fmt::format(" ({} more warned)", warned) : ""));
    }
    return fmt::format("validate {}: {} checks passed on {}{}, in {:.2f}s", c_.task,
                       results->size() - warned, c_.dataset,
                       warned > 0 ? fmt::format(", {} warned", warned) : "", seconds);
  }

 private:
  ValidateConfig c_;
};

class EmbedBuiltin : public Builtin {
 public:
  explicit EmbedBuiltin(EmbedConfig config) : c_(std::move(config)) {}

  Result<void> Plan(ManifestSpec* /*spec*/) override { return PlanEmbed(c_); }

  Result<std::string> Run(Manifest* manifest) override {
    const std::string source = c_.table_uri_prefix + c_.table;
    for (const Fingerprint& read : manifest->reads) {
      if (read.uri == source) c_.source_version = read.fingerprint;
    }
    const auto started = std::chrono::steady_clock::now();
    auto report = RunEmbed(c_);
    if (!report) return std::unexpected(report.error());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string into = c_.table_uri_prefix + c_.into;
    manifest->columns.push_back({into, "doc_id", source, c_.id_column, "identity"});
    manifest->columns.push_back({into, "text", source, c_.text_column, "chunk"});
    manifest->columns.push_back({into, "embedding", source, c_.text_column, "embedding"});
    manifest->metrics = {{"documents", report->documents},
                         {"chunks", report->chunks},
                         {"reused", report->reused},
                         {"embedded", report->embedded}};
    return fmt::format(
        "embed {}: {} chunks of {} documents into {}: {} reused, {} embedded by {}{}, in {:.2f}s",
        c_.task, report->chunks, report->documents, c_.into, report->reused, report->embedded,
        c_.provider.kind == "hash" ? "the hash provider" : c_.provider.model,
        c_.index_path.empty() ? "" : "; index " + c_.index_path.filename().string(), seconds);
  }

 private:
  EmbedConfig c_;
};

class FeatureBuiltin : public Builtin {
 public:
  explicit FeatureBuiltin(FeatureConfig config) : c_(std::move(config)) {}

  Result<void> Plan(ManifestSpec* spec) override {
    auto plan = PlanFeatures(c_);
    if (!plan) return std::unexpected(plan.error());
    plan_ = std::move(*plan);
    AddTableInputs(plan_.tables, c_.table_uri_prefix, c_.warehouse, spec);
    return {};
  }

  std::vector<ResolvedDataset> KeptInputs() const override {
    return KeptTable(c_.target, c_.table_uri_prefix, c_.warehouse);
  }

  Result<std::string> Run(Manifest* manifest) override {
    const auto started = std::chrono::steady_clock::now();
    auto report = RunFeatures(c_);
    if (!report) return std::unexpected(report.error());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string into_uri = c_.table_uri_prefix + c_.target.into;
    for (const FeaturePlan::Column& c : plan_.columns) {
      manifest->columns.push_back(
          {into_uri, c.output, c_.table_uri_prefix + c.table, c.column, c.transformation});
    }
    manifest->metrics = {
        {"labels", report->labels}, {"events", report->events}, {"entities", report->entities}};
    return fmt::format(
        "feature {}: {} features for {} labels from {} events of {} entities into {} (mode {}), "
        "in {:.2f}s",
        c_.task, c_.features.size(), report->labels, report->events, report->entities,
        c_.target.into, c_.target.mode, seconds);
  }

 private:
  FeatureConfig c_;
  FeaturePlan plan_;
};

// The built-in `B` run with the config `parse` reads from `json`.
template <typename B, typename Parse>
Result<std::unique_ptr<Builtin>> Make(Parse parse, std::string_view json) {
  auto config = parse(json);
  if (!config) return std::unexpected(config.error());
  return std::make_unique<B>(std::move(*config));
}

Result<std::unique_ptr<Builtin>> MakeBuiltin(const ManifestSpec& spec) {
  const std::string& config = spec.builtin_config;
  if (spec.builtin == "transform") return Make<TransformBuiltin>(TransformConfigFromJson, config);
  if (spec.builtin == "ingest") return Make<IngestBuiltin>(IngestConfigFromJson, config);
  if (spec.builtin == "validate") return Make<ValidateBuiltin>(ValidateConfigFromJson, config);
  if (spec.builtin == "feature") return Make<FeatureBuiltin>(FeatureConfigFromJson, config);
  if (spec.builtin == "embed") return Make<EmbedBuiltin>(EmbedConfigFromJson, config);
  return Fail(ErrorCode::kInvalidArgument, fmt::format("unknown built-in kind '{}'", spec.builtin));
}

}  // namespace

int RunTaskChild(std::string_view spec_json, const std::vector<std::string>& argv) {
  auto spec = SpecFromJson(spec_json);
  if (!spec) {
    std::cerr << "weir task run: " << spec.error().message << "\n";
    return 2;
  }
  if (argv.empty() && spec->builtin.empty()) {
    std::cerr << "weir task run: no command after --\n";
    return 2;
  }
  if (spec->manifest.empty()) {
    const char* log = std::getenv("WEIR_LOG");
    if (log == nullptr || *log == '\0') {
      std::cerr << "weir task run: no manifest path and no $WEIR_LOG\n";
      return 2;
    }
    spec->manifest = ManifestPathFor(log);
  }
  Manifest manifest;
  manifest.config_hash = spec->config_hash;
  auto finish = [&](int status) {
    if (auto ok = WriteManifest(spec->manifest, manifest); !ok) {
      std::cerr << "weir: " << ok.error().message << "\n";
      return status == 0 ? 2 : status;
    }
    return status;
  };
  std::unique_ptr<Builtin> builtin;
  if (!spec->builtin.empty()) {
    auto made = MakeBuiltin(*spec);
    if (!made) {
      std::cerr << "weir task run: " << made.error().message << "\n";
      return 2;
    }
    builtin = std::move(*made);
    if (auto ok = builtin->Plan(&*spec); !ok) {
      std::cerr << "weir: " << ok.error().message << "\n";
      return finish(2);
    }
    manifest.config_hash = spec->config_hash;
  }
  for (const ResolvedDataset& input : spec->inputs) {
    auto seen = TakeFingerprint(input);
    if (!seen) {
      std::cerr << "weir: input " << seen.error().message << "\n";
      return finish(2);
    }
    manifest.reads.push_back(std::move(*seen));
  }

  manifest.config_json = spec->config_json;
  manifest.cache_key = CacheKey(*spec, manifest.reads);
  std::string uncacheable = builtin ? builtin->Uncacheable() : "";
  if (!uncacheable.empty()) {
    manifest.cache_note = uncacheable;
  } else if (auto cached = CheckCache(*spec, &manifest); !cached) {
    std::cerr << "weir: " << cached.error().message << "\n";
    return finish(2);
  } else if (*cached) {
    std::cerr << "weir: " << manifest.cache_note << "\n";
    return finish(0);
  }
  std::cerr << "weir: " << manifest.cache_note << "\n";

  if (builtin) {
    for (const ResolvedDataset& kept : builtin->KeptInputs()) {
      auto seen = TakeFingerprint(kept);
      if (!seen) {
        std::cerr << "weir: input " << seen.error().message << "\n";
        return finish(2);
      }
      manifest.reads.push_back(std::move(*seen));
    }
    auto done = builtin->Run(&manifest);
    if (!done) {
      // A check that failed is exit 1; a task that could not run, 2.
      std::cerr << "weir: " << done.error().message << "\n";
      return finish(done.error().code == ErrorCode::kFailedPrecondition ? 1 : 2);
    }
    std::cerr << "weir: " << *done << "\n";
    if (auto ok = FingerprintOutputs(*spec, &manifest); !ok) {
      std::cerr << "weir: output " << ok.error().message << "\n";
      return finish(2);
    }
    return finish(0);
  }
  // The group's SIGTERM (a timeout, a stop) is for the command: this process waits for it.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_IGN);
  auto pid = Spawn(argv);
  if (!pid) {
    std::cerr << "weir: " << pid.error().message << "\n";
    return finish(127);
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    (void)finish(0);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return 128 + sig;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code == 0) {
    if (auto ok = FingerprintOutputs(*spec, &manifest); !ok) {
      std::cerr << "weir: the command succeeded but did not write its output " << ok.error().message
                << "\n";
      return finish(2);
    }
  }
  return finish(code);
}

}  // namespace weir::tasks

#include "tasks/task_run.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/hash.h"
#include "tasks/datasets.h"
#include "tasks/transform.h"

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
  if (!spec->builtin.empty() && spec->builtin != "transform") {
    std::cerr << "weir task run: unknown built-in kind '" << spec->builtin << "'\n";
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
  // A transform learns its inputs by preparing its SQL.
  std::optional<TransformConfig> transform;
  std::optional<TransformPlan> plan;
  if (spec->builtin == "transform") {
    auto config = TransformConfigFromJson(spec->builtin_config);
    if (!config) {
      std::cerr << "weir task run: " << config.error().message << "\n";
      return 2;
    }
    transform = std::move(*config);
    auto planned = PlanTransform(*transform);
    if (!planned) {
      std::cerr << "weir: transform: " << planned.error().message << "\n";
      return finish(2);
    }
    plan = std::move(*planned);
    // The config the cache key covers holds only the values the statement binds, so that a new
    // run id or day does not count as a change where the SQL does not use it.
    nlohmann::json hashed = nlohmann::json::parse(spec->config_json, nullptr, false);
    if (hashed.is_object() && hashed.contains("bindings")) {
      nlohmann::json used = nlohmann::json::object();
      for (const std::string& name : plan->parameters) {
        if (hashed["bindings"].contains(name)) used[name] = hashed["bindings"][name];
      }
      if (transform->mode == "partition") {
        used["data_interval_start"] = transform->interval_start;
        used["data_interval_end"] = transform->interval_end;
      }
      hashed["bindings"] = used;
      spec->config_json = hashed.dump();
      spec->config_hash = "sha256:" + Sha256Hex(spec->config_json);
      manifest.config_hash = spec->config_hash;
    }
    for (const std::string& table : plan->tables) {
      spec->inputs.push_back({transform->table_uri_prefix + table, transform->warehouse, table});
    }
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
  if (auto cached = CheckCache(*spec, &manifest); !cached) {
    std::cerr << "weir: " << cached.error().message << "\n";
    return finish(2);
  } else if (*cached) {
    std::cerr << "weir: " << manifest.cache_note << "\n";
    return finish(0);
  }
  std::cerr << "weir: " << manifest.cache_note << "\n";

  if (transform) {
    auto rows = RunTransform(*transform);
    if (!rows) {
      std::cerr << "weir: transform: " << rows.error().message << "\n";
      return finish(2);
    }
    std::cerr << fmt::format("weir: transform wrote {} rows into {} (mode {})\n", *rows,
                             transform->into, transform->mode);
    for (const ResolvedDataset& output : spec->outputs) {
      auto seen = TakeFingerprint(output);
      if (!seen) {
        std::cerr << "weir: output " << seen.error().message << "\n";
        return finish(2);
      }
      manifest.writes.push_back(std::move(*seen));
    }
    const std::string into_uri = transform->table_uri_prefix + transform->into;
    for (const TransformPlan::Column& c : plan->columns) {
      if (c.table.empty() || c.table == transform->into) continue;
      manifest.columns.push_back(
          {into_uri, c.output, transform->table_uri_prefix + c.table, c.column, "identity"});
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
    for (const ResolvedDataset& output : spec->outputs) {
      auto seen = TakeFingerprint(output);
      if (!seen) {
        std::cerr << "weir: the command succeeded but did not write its output "
                  << seen.error().message << "\n";
        return finish(2);
      }
      manifest.writes.push_back(std::move(*seen));
    }
  }
  return finish(code);
}

}  // namespace weir::tasks

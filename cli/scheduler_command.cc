// `weir scheduler` and `weir serve`: schedule forever, until SIGINT or SIGTERM; `serve` also
// answers HTTP on its own threads while the scheduler runs on the main one.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/openlineage_client.h"
#include "cli/signals.h"
#include "common/process.h"
#include "common/strings.h"
#include "dags/config.h"
#include "executor/executor.h"
#include "scheduler/service.h"
#include "tasks/tasks.h"
#include "webui/webui.h"

namespace weir::cli {
namespace {

std::string Now() { return FormatIso(SystemClock::Instance().Now()).substr(0, 19) + "Z"; }

// One line per attempt that starts or ends, for the scheduler's log.
class EventLines final : public scheduler::RunObserver {
 public:
  // `also` (may be null) is told of every change as well: the server's telemetry.
  explicit EventLines(scheduler::RunObserver* also) : also_(also) {}
  void OnRunChanged(const state::RunRecord& run) override {
    if (also_ != nullptr) also_->OnRunChanged(run);
  }
  void OnTaskChanged(const state::RunRecord& run, const state::TaskInstanceRecord& task,
                     const state::AttemptRecord* attempt) override {
    if (also_ != nullptr) also_->OnTaskChanged(run, task, attempt);
    if (attempt == nullptr && !state::IsFinished(task.state)) return;
    std::string detail;
    if (attempt != nullptr && !attempt->reason.empty()) detail = " (" + attempt->reason + ")";
    std::cout << fmt::format(
        "{}  {}  {}  {}{}{}\n", Now(), run.run_id, task.task_id, state::Name(task.state),
        task.state == state::TaskState::kRunning ? fmt::format(" (try {})", task.try_number) : "",
        detail);
    std::cout.flush();
  }

 private:
  scheduler::RunObserver* also_;
};

bool IsLoopback(const std::string& host) {
  return host == "::1" || host.starts_with("127.") || host == "localhost";
}

// Schedules until stopped; with `serve`, the HTTP server answers from once the scheduler has
// started until it stops.
int Schedule(const Context& context, std::optional<int> parallelism, const ServeOptions* serve) {
  if (parallelism && *parallelism < 1) {
    return Report(Error{ErrorCode::kInvalidArgument, "--parallelism must be 1 or more"});
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(context.dags_dir, ec)) {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("no DAGs folder at {} (pass --dags DIR or set WEIR_DAGS)",
                                    context.dags_dir.string())});
  }
  auto openlineage_config = OpenLineageConfigFromEnvironment();
  if (!openlineage_config) return Report(openlineage_config.error());
  auto task_options = TaskOptionsFor(context);
  if (!task_options) return Report(task_options.error());
  auto store = context.OpenStore(true);
  if (!store) return Report(store.error());

  SignalWatcher signals;  // before any thread starts
  auto openlineage = MakeOpenLineageClient(*openlineage_config);
  SystemClock& clock = SystemClock::Instance();
  tasks::CommandFactory factory(*task_options);
  executor::ProcessPool pool(PoolOptions());
  webui::Telemetry telemetry;  // what the server reports; unused by `weir scheduler`
  EventLines lines(serve != nullptr ? &telemetry : nullptr);
  scheduler::RunLoop loop(
      **store, pool,
      [&factory](const dags::Dag& d, const dags::TaskSpec& t, const dags::TemplateContext& c) {
        return factory.Build(d, t, c);
      },
      clock, RunLoopOptionsFor(context, parallelism, **store, openlineage.get()), &lines);
  scheduler::SchedulerService service(
      **store, loop, pool, clock,
      scheduler::SchedulerOptions{
          .dags_dir = context.dags_dir,
          .home = std::filesystem::absolute(context.home),
          .on_tick = [&telemetry](Duration took) { telemetry.ObserveTick(took); }},
      [](const std::string& line) {
        std::cout << Now() << "  " << line << "\n";
        std::cout.flush();
      });
  std::unique_ptr<webui::Api> api;
  std::unique_ptr<webui::HttpServer> server;
  if (serve != nullptr) {  // bound first: a taken port or a bad address stops us before the lease
    api = std::make_unique<webui::Api>(webui::ApiOptions{.state_path = context.StatePath(),
                                                         .dags_dir = context.dags_dir,
                                                         .tokens = serve->tokens,
                                                         .auth_reads = serve->auth_reads,
                                                         .telemetry = &telemetry},
                                       clock);
    auto started_server = webui::HttpServer::Start(
        {.host = serve->host, .port = serve->port},
        [api = api.get()](const webui::HttpRequest& r) { return api->Handle(r); });
    if (!started_server) return Report(started_server.error());
    server = std::move(*started_server);
  }
  if (auto started = service.Start(); !started) return Report(started.error());
  std::cout << fmt::format("{}  scheduler started: pid {}, DAGs in {}, state in {}\n", Now(),
                           ::getpid(), context.dags_dir.string(), context.StatePath().string());
  if (server) {
    const std::string host =
        serve->host.find(':') != std::string::npos ? "[" + serve->host + "]" : serve->host;
    std::cout << fmt::format("{}  serving the dashboard and API on http://{}:{}/\n", Now(), host,
                             server->port());
  }
  std::cout.flush();
  signals.Watch([&service] {
    std::cerr << "weir: stopping: running tasks go back to the queue for the next scheduler\n";
    service.RequestStop();
  });
  auto done = service.Run();
  if (server) server->Stop();
  if (!done) return Report(done.error());
  std::cout << Now() << "  scheduler stopped\n";
  return 0;
}

// The API's tokens: those of WEIR_API_TOKENS, then those of the config file, read now.
Result<std::vector<webui::ApiToken>> ConfiguredTokens(const Context& context) {
  const char* env = std::getenv("WEIR_API_TOKENS");
  auto tokens = webui::ParseApiTokens(env == nullptr ? "" : env);
  if (!tokens) return tokens;
  auto config = dags::LoadConfig(context.home);
  if (!config) return std::unexpected(config.error());
  for (const auto& [name, source] : config->api_tokens) {
    const std::string where = "api.tokens." + name;
    auto token = dags::ReadSecret(source, where);
    if (!token) return std::unexpected(token.error());
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: {}: {}", source.loc.ToString(), where, why));
    };
    // The file's names are its map's keys, so a name given twice is in WEIR_API_TOKENS too.
    if (std::any_of(tokens->begin(), tokens->end(),
                    [&](const webui::ApiToken& t) { return t.name == name; })) {
      return bad("WEIR_API_TOKENS names a token '" + name + "' too");
    }
    if (auto why = webui::AddApiToken(&*tokens, name, std::move(*token))) return bad(*why);
  }
  return tokens;
}

}  // namespace

int RunScheduler(const Context& context, std::optional<int> parallelism) {
  return Schedule(context, parallelism, nullptr);
}

int RunServe(const Context& context, const ServeOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return Report(
        Error{ErrorCode::kInvalidArgument, fmt::format("--port {}: use 0 to 65535", options.port)});
  }
  auto tokens = ConfiguredTokens(context);
  if (!tokens) return Report(tokens.error());
  if (!IsLoopback(options.host) && tokens->empty()) {
    return Report(Error{
        ErrorCode::kInvalidArgument,
        fmt::format("--host {} can be reached from other machines, and no API token is "
                    "configured: set WEIR_API_TOKENS=name:token (tokens of 16 characters or more) "
                    "or api.tokens in the config file, or serve on 127.0.0.1",
                    Printable(options.host, 60))});
  }
  ServeOptions serve = options;
  serve.tokens = std::move(*tokens);
  return Schedule(context, options.parallelism, &serve);
}

}  // namespace weir::cli

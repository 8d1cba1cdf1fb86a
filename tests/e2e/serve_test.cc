// `weir serve` as a whole binary: the scheduler and the API in one process, over a real socket.
#include <httplib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"
#include "tests/testing/weir_process.h"
#include "tests/testing/weir_server.h"

namespace weir {
namespace {

using json = nlohmann::json;
using testing::Auth;
using testing::kToken;
using testing::ReadFile;
using testing::Server;
using testing::TempDir;
using testing::WeirProcess;

void WriteDag(const TempDir& dir) {
  dir.Write("dags/hello.yaml",
            "dag: hello\n"
            "schedule: none\n"
            "tasks:\n"
            "  greet: { kind: shell, script: 'echo hello from {{ ds }}' }\n"
            "  after: { kind: shell, script: 'true', deps: [greet] }\n");
}

TEST_CASE(
    "weir serve schedules and answers: a run triggered over HTTP succeeds, and its log and the "
    "metrics are served",
    "[e2e][serve]") {
  TempDir dir;
  WriteDag(dir);
  Server server(dir);
  httplib::Client client = server.Client();

  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(health->get_header_value("Content-Security-Policy").find("default-src 'self'") !=
        std::string::npos);

  auto refused =
      client.Post("/api/v1/dags/hello/runs", R"({"date": "2026-03-01"})", "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 401);

  auto triggered = client.Post("/api/v1/dags/hello/runs", Auth(), R"({"date": "2026-03-01"})",
                               "application/json");
  REQUIRE(triggered);
  INFO(triggered->body);
  REQUIRE(triggered->status == 201);
  const std::string run_id = json::parse(triggered->body)["run_id"];
  CHECK(run_id == "hello@2026-03-01T00:00:00Z~manual-1");
  // The scheduler in the same process adopts the queued run and runs it.
  REQUIRE(server.process.WaitFor(run_id + "  after  success"));

  auto run = client.Get("/api/v1/runs/" + run_id);
  REQUIRE(run);
  json body = json::parse(run->body);
  CHECK(body["state"] == "success");
  CHECK(body["attempts"].size() == 2);
  auto log = client.Get("/api/v1/runs/" + run_id + "/tasks/greet/logs");
  REQUIRE(log);
  CHECK(json::parse(log->body)["text"].get<std::string>().find("hello from 2026-03-01") !=
        std::string::npos);

  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->get_header_value("Content-Type").starts_with("text/plain"));
  CHECK(testing::Contains(metrics->body, "weir_runs{state=\"success\"} 1"));
  CHECK(testing::Contains(metrics->body, "weir_task_instances{state=\"success\"} 2"));
  CHECK(testing::Contains(metrics->body, "weir_task_duration_seconds_count 2"));
  CHECK(testing::Contains(metrics->body,
                          "weir_http_requests_total{route=\"/api/v1/dags/{dag_id}/runs\","
                          "status=\"201\"} 1"));
  CHECK(testing::Contains(metrics->body, "weir_scheduler_tick_seconds_count"));
  // The process metrics are the server's own: its RSS and open fds as /proc tells them.
  auto gauge = [&](const std::string& name) {
    std::size_t at = metrics->body.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    return std::stod(metrics->body.substr(at + name.size() + 2));
  };
  const std::string status = testing::ReadFile(std::filesystem::path("/proc") /
                                               std::to_string(server.process.pid()) / "status");
  const std::size_t vm_rss = status.find("VmRSS:");
  REQUIRE(vm_rss != std::string::npos);
  const double rss_kib = std::stod(status.substr(vm_rss + 6));
  CHECK(gauge("process_resident_memory_bytes") / 1024 == Approx(rss_kib).epsilon(0.2));
  CHECK(gauge("process_open_fds") >= 5);  // std streams, the listener, the state database
  CHECK(gauge("process_max_fds") >= gauge("process_open_fds"));
  CHECK(gauge("process_start_time_seconds") > 1.7e9);
  CHECK(gauge("weir_sqlite_memory_bytes") > 0);

  CHECK(server.process.Stop(SIGTERM) == 0);
}

TEST_CASE("weir serve streams run and task state changes as Server-Sent Events", "[e2e][serve]") {
  TempDir dir;
  WriteDag(dir);
  Server server(dir);
  httplib::Client watcher = server.Client();
  std::string events;
  std::promise<void> open;
  std::thread trigger([&] {
    open.get_future().wait();  // the stream's first bytes came: it is subscribed
    httplib::Client client = server.Client();
    client.Post("/api/v1/dags/hello/runs", Auth(), R"({"date": "2026-03-02"})", "application/json");
  });
  auto stream = watcher.Get("/api/v1/events", [&](const char* data, std::size_t size) {
    if (events.empty()) open.set_value();
    events.append(data, size);
    return !testing::Contains(events, R"("state":"success","task_id":"after")");
  });
  trigger.join();
  INFO(events);
  CHECK(testing::Contains(events, "event: task\n"));
  CHECK(testing::Contains(events, R"("task_id":"greet")"));
  CHECK(testing::Contains(events, R"("state":"success")"));
}

TEST_CASE("weir serve refuses another address without a token, and malformed tokens",
          "[e2e][serve]") {
  TempDir dir;
  WriteDag(dir);
  {
    WeirProcess open(dir, {"--host", "0.0.0.0", "--port", "0"}, "serve", {"WEIR_API_TOKENS="});
    CHECK(open.Wait() == 2);
    CHECK(testing::Contains(ReadFile(dir / "stderr"),
                            "weir: --host 0.0.0.0 can be reached from other machines, and no API "
                            "token is configured"));
  }
  {
    WeirProcess bad(dir, {"--port", "0"}, "serve", {"WEIR_API_TOKENS=ci:short"});
    CHECK(bad.Wait() == 2);
    const std::string err = ReadFile(dir / "stderr");
    CHECK(testing::Contains(err, "WEIR_API_TOKENS entry 1 ('ci'): the token is shorter than 16"));
    CHECK_FALSE(testing::Contains(err, "short\n"));
  }
  {
    WeirProcess name(dir, {"--host", "localhost", "--port", "0"}, "serve");
    CHECK(name.Wait() == 2);
  }
}

TEST_CASE("weir serve takes tokens from the config file, and a broken one stops it",
          "[e2e][serve]") {
  TempDir dir;
  WriteDag(dir);
  const std::string config_token = "from-config-0123456789";
  dir.Write("secrets/ops", config_token + "\n");
  dir.Write("home/weir.yaml", "api:\n  tokens:\n    ops: { file: ../secrets/ops }\n");
  {
    Server server(dir);  // WEIR_API_TOKENS has `ci` too: both sign changes
    httplib::Client client = server.Client();
    auto paused =
        client.Post("/api/v1/dags/hello/pause", {{"Authorization", "Bearer " + config_token}}, "{}",
                    "application/json");
    REQUIRE(paused);
    CHECK(paused->status == 200);
    auto unpaused = client.Post("/api/v1/dags/hello/unpause", Auth(), "{}", "application/json");
    REQUIRE(unpaused);
    CHECK(unpaused->status == 200);
    auto audit = client.Get("/api/v1/audit");
    REQUIRE(audit);
    const json entries = json::parse(audit->body)["events"];
    REQUIRE(entries.size() == 2);
    CHECK(entries[1]["actor"] == "ops");  // oldest last
    CHECK(entries[0]["actor"] == "ci");
    CHECK(server.process.Stop(SIGTERM) == 0);
  }
  // Each broken config stops serve before anything is changed or created.
  std::filesystem::remove_all(dir / "home");
  struct Case {
    std::string config;
    std::vector<std::string> env;
    std::string error;
  };
  const std::string config = (dir / "home/weir.yaml").string();
  const Case cases[] = {
      {"api:\n  tokens:\n    ops: { env: WEIR_OPS_TOKEN }\n",
       {},
       config + ":3:10: api.tokens.ops: environment variable WEIR_OPS_TOKEN is not set"},
      {"api:\n  tokens:\n    ops: { env: WEIR_OPS_TOKEN }\n",
       {"WEIR_OPS_TOKEN=short"},
       config + ":3:10: api.tokens.ops: the token is shorter than 16 characters"},
      {"api:\n  tokens:\n    ci: { file: ../secrets/ops }\n",
       {},
       config + ":3:9: api.tokens.ci: WEIR_API_TOKENS names a token 'ci' too"},
      {"api:\n  tokns: {}\n", {}, config + ":2:3: api: unknown key 'tokns' (known: tokens)"},
  };
  for (const Case& c : cases) {
    INFO(c.config);
    dir.Write("home/weir.yaml", c.config);
    std::filesystem::remove(dir / "stderr");
    std::vector<std::string> env = c.env;
    env.push_back(std::string("WEIR_API_TOKENS=ci:") + kToken);
    WeirProcess serve(dir, {"--port", "0"}, "serve", env);
    CHECK(serve.Wait() == 2);
    CHECK(ReadFile(dir / "stderr") == "weir: " + c.error + "\n");
    CHECK_FALSE(std::filesystem::exists(dir / "home/weir.db"));
  }
}

// Why the browser test cannot run here, or "" when it can.
std::string MissingForBrowserTest(const std::filesystem::path& ui) {
  if (!std::filesystem::exists("/usr/bin/chromium"))
    return "no /usr/bin/chromium (apt install chromium)";
  if (std::system("node --version >/dev/null 2>&1") != 0) return "no node (apt install nodejs)";
  if (!std::filesystem::exists(ui / "node_modules/playwright-core/package.json")) {
    return "no playwright-core in tests/e2e/ui/node_modules (dev/install-deps runs npm ci there)";
  }
  return "";
}

TEST_CASE(
    "in headless Chromium the dashboard lists the DAGs, triggers a run whose grid cells turn "
    "green without a reload, shows a log and the training set's lineage, and masks a secret",
    "[e2e][serve][ui]") {
  const std::filesystem::path ui = std::filesystem::path(WEIR_SOURCE_DIR) / "tests/e2e/ui";
  if (std::string missing = MissingForBrowserTest(ui); !missing.empty()) {
    std::cout << "SKIPPED: " << missing << "\n";
    return;
  }
  TempDir dir;
  std::filesystem::copy(std::string(WEIR_SOURCE_DIR) + "/examples/dags", dir / "dags",
                        std::filesystem::copy_options::recursive);
  // The sample week up to the day before the one the browser triggers.
  testing::Output backfill = testing::Weir(
      dir, {"backfill", "user_training_set", "--dags", (dir / "dags").string(), "--home",
            (dir / "home").string(), "--from", "2026-01-10", "--to", "2026-01-15"});
  INFO(backfill.out << backfill.err);
  REQUIRE(backfill.exit_code == 0);
  // A DAG with a secret, run with the secret's value typed into a param: the browser must find
  // it masked on the run page, in the task's log and in the audit log.
  constexpr const char* kSecret = "ui-secret-Pw3n8Q";
  const std::string secret_run = "masked@2026-01-16T00:00:00Z~manual-1";
  ::setenv("WEIR_UI_SECRET_SOURCE", kSecret, 1);
  ::setenv("UI_SECRET", kSecret, 1);
  ::setenv("UI_SECRET_RUN", secret_run.c_str(), 1);
  dir.Write(
      "dags/masked.yaml",
      "dag: masked\n"
      "schedule: none\n"
      "params: { note: none }\n"
      "secrets: { DB_PASSWORD: { env: WEIR_UI_SECRET_SOURCE } }\n"
      "tasks:\n"
      "  leak: { kind: shell, script: 'echo \"password=$DB_PASSWORD note={{ params.note }}\"' }\n");
  testing::Output masked = testing::Weir(
      dir, {"run", "masked", "--dags", (dir / "dags").string(), "--home", (dir / "home").string(),
            "--date", "2026-01-16", "--param", std::string("note=") + kSecret});
  INFO(masked.out << masked.err);
  REQUIRE(masked.exit_code == 0);
  Server server(dir);
  const std::filesystem::path shots =
      std::filesystem::path(WEIR_BINARY).parent_path() / "ui-screenshots";
  std::filesystem::create_directories(shots);
  const std::string command = fmt::format(
      "node {} http://127.0.0.1:{} {} {} >{} 2>&1", ShellQuote((ui / "ui_test.mjs").string()),
      server.port, kToken, ShellQuote(shots.string()), ShellQuote((dir / "ui.log").string()));
  const int status = std::system(command.c_str());
  INFO(ReadFile(dir / "ui.log"));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(server.process.Stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace weir

// The JSON API's answers, called directly over a real state database and a real DAG folder:
// what each endpoint returns, who may change what, and that hostile or malformed requests get a
// 4xx and change nothing. (Over HTTP, against `weir serve`, in tests/e2e/serve_test.cc.)
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "state/state.h"
#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"
#include "webui/webui.h"

namespace weir::webui {
namespace {

using json = nlohmann::json;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
using testing::Query;
using testing::TempDir;

constexpr const char* kToken = "ci-token-0123456789";

// A DAG folder with one daily DAG of two tasks, a store, and the API over both.
struct Fixture {
  TempDir dir;
  ManualClock clock{FromMillis(1'800'000'000'000)};  // 2027-01-15T08:00:00Z
  Telemetry telemetry;
  std::unique_ptr<Api> api;

  Fixture(bool auth_reads = false) {
    dir.Write("dags/daily.yaml",
              "dag: daily\n"
              "description: a small daily build\n"
              "schedule: \"@daily\"\n"
              "start_date: 2027-01-01\n"
              "params: { min_events: 3 }\n"
              "tasks:\n"
              "  extract: { kind: shell, script: 'true' }\n"
              "  load: { kind: shell, script: 'true', deps: [extract] }\n");
    api = std::make_unique<Api>(ApiOptions{.state_path = dir / "home/weir.db",
                                           .dags_dir = dir / "dags",
                                           .tokens = {{"ci", kToken}},
                                           .auth_reads = auth_reads,
                                           .telemetry = &telemetry},
                                clock);
  }

  HttpResponse Send(std::string method, std::string target, std::string body = "",
                    std::optional<std::string> token = std::nullopt, bool loopback = true) {
    HttpRequest r;
    r.method = std::move(method);
    const std::size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
    if (token) r.headers.emplace_back("authorization", "Bearer " + *token);
    r.body = std::move(body);
    r.from_loopback = loopback;
    r.peer = loopback ? "127.0.0.1" : "192.0.2.7";
    return api->Handle(r);
  }
  HttpResponse Post(std::string target, std::string body = "",
                    std::optional<std::string> token = kToken) {
    return Send("POST", std::move(target), std::move(body), std::move(token));
  }

  // The one value `sql` returns.
  std::string Db(const std::string& sql) const {
    std::string rows = Query(dir / "home/weir.db", sql);
    return rows.substr(0, rows.find("|\n"));
  }
  void Exec(const std::string& sql) const { testing::ExecSql(dir / "home/weir.db", sql); }
  // Starts try 1 of `task_id` (the run's first task) in `run_id`, logging to `log`; the
  // attempt's id.
  std::int64_t StartExtract(const std::string& run_id, const std::string& log) {
    auto store = state::Store::Open(dir / "home/weir.db");
    REQUIRE(store);
    auto tasks = (*store)->TaskInstances(run_id);
    REQUIRE(tasks);
    state::TaskInstanceRecord task = tasks->at(0);
    REQUIRE(task.task_id == "extract");
    task.state = state::TaskState::kRunning;
    task.try_number = 1;
    auto attempt = (*store)->BeginAttempt(
        task, {.run_id = run_id, .task_id = "extract", .log_path = log, .started_at = clock.Now()});
    REQUIRE(attempt);
    return *attempt;
  }

  // Every row of every table, to compare before and after a refused request.
  std::string Snapshot() const { return testing::DumpEveryTable(dir / "home/weir.db"); }
};

json Body(const HttpResponse& r) {
  INFO(r.body);
  json j = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

TEST_CASE("the DAG list shows each DAG's schedule, paused state and next run", "[webui]") {
  Fixture f;
  HttpResponse r = f.Send("GET", "/api/v1/dags");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  json dags = Body(r)["dags"];
  REQUIRE(dags.size() == 1);
  CHECK(dags[0]["dag_id"] == "daily");
  CHECK(dags[0]["schedule"] == "@daily");
  CHECK(dags[0]["paused"] == false);
  CHECK(dags[0]["tasks"] == 2);
  CHECK(dags[0]["next_run_at"] == "2027-01-16T00:00:00Z");

  json dag = Body(f.Send("GET", "/api/v1/dags/daily"));
  CHECK(dag["tasks"][1]["task_id"] == "load");
  CHECK(dag["tasks"][1]["deps"] == json::array({"extract"}));
  CHECK(dag["params"]["min_events"] == 3);
  CHECK(f.Send("GET", "/api/v1/dags/nope").status == 404);
  CHECK(f.Send("GET", "/healthz").status == 200);
  CHECK(f.Send("GET", "/api/v2/dags").status == 404);
}

TEST_CASE("a trigger needs a known token, and its audit event names the token", "[webui]") {
  Fixture f;
  const std::string body =
      R"({"date": "2027-01-10", "params": {"min_events": 5}, "reason": "late data"})";
  REQUIRE(f.Send("GET", "/api/v1/dags").status == 200);  // creates the database
  const std::string before = f.Snapshot();

  HttpResponse none = f.Post("/api/v1/dags/daily/runs", body, std::nullopt);
  CHECK(none.status == 401);
  CHECK(none.headers.at(0).first == "WWW-Authenticate");
  CHECK(f.Post("/api/v1/dags/daily/runs", body, "wrong-token-0123456789").status == 403);
  CHECK(f.Post("/api/v1/dags/daily/runs", body, "").status == 401);
  CHECK(f.Snapshot() == before);

  HttpResponse ok = f.Post("/api/v1/dags/daily/runs", body);
  REQUIRE(ok.status == 201);
  json run = Body(ok);
  CHECK(run["run_id"] == "daily@2027-01-10T00:00:00Z~manual-1");
  CHECK(run["state"] == "queued");
  CHECK(run["params"]["min_events"] == 5);
  CHECK(
      f.Db("SELECT actor || ' ' || source || ' ' || action || ': ' || reason FROM audit_events") ==
      "ci api trigger: late data");
  CHECK(f.Db("SELECT count(*) FROM task_instances WHERE state = 'pending'") == "2");
}

TEST_CASE("runs are listed newest first, a page at a time, filtered by state", "[webui]") {
  Fixture f;
  for (const char* day : {"2027-01-10", "2027-01-11", "2027-01-12"}) {
    REQUIRE(f.Post("/api/v1/dags/daily/runs", fmt::format(R"({{"date": "{}"}})", day)).status ==
            201);
  }
  f.Exec("UPDATE runs SET state = 'failed' WHERE run_id LIKE 'daily@2027-01-11%'");
  json page = Body(f.Send("GET", "/api/v1/dags/daily/runs?limit=2"));
  CHECK(page["total"] == 3);
  REQUIRE(page["runs"].size() == 2);
  CHECK(page["runs"][0]["interval_start"] == "2027-01-12T00:00:00Z");
  CHECK(page["runs"][0]["task_states"]["load"] == "pending");
  json next = Body(f.Send("GET", "/api/v1/dags/daily/runs?limit=2&offset=2"));
  REQUIRE(next["runs"].size() == 1);
  CHECK(next["runs"][0]["interval_start"] == "2027-01-10T00:00:00Z");
  json failed = Body(f.Send("GET", "/api/v1/dags/daily/runs?state=failed"));
  CHECK(failed["total"] == 1);

  json run = Body(f.Send("GET", "/api/v1/runs/daily@2027-01-12T00:00:00Z~manual-1"));
  CHECK(run["tasks"].size() == 2);
  CHECK(f.Send("GET", "/api/v1/runs/nope").status == 404);

  for (const char* bad : {"limit=0", "limit=501", "limit=ten", "offset=-1", "state=done",
                          "limit=1&limit=2", "colour=red", "limit=%zz"}) {
    INFO(bad);
    HttpResponse r = f.Send("GET", std::string("/api/v1/dags/daily/runs?") + bad);
    CHECK(r.status == 400);
    CHECK_FALSE(Body(r)["error"].get<std::string>().empty());
  }
}

TEST_CASE("an attempt's log is served by byte range, found by its row and never by a path",
          "[webui]") {
  Fixture f;
  REQUIRE(f.Post("/api/v1/dags/daily/runs", R"({"date": "2027-01-10"})").status == 201);
  const std::string run_id = "daily@2027-01-10T00:00:00Z~manual-1";
  const auto log = f.dir.Write("home/logs/daily/x/extract.1.log", "line one\nline two\n");
  f.StartExtract(run_id, log.string());

  json all = Body(f.Send("GET", "/api/v1/runs/" + run_id + "/tasks/extract/logs"));
  CHECK(all["text"] == "line one\nline two\n");
  CHECK(all["size"] == 18);
  CHECK(all["complete"] == false);
  json tail =
      Body(f.Send("GET", "/api/v1/runs/" + run_id + "/tasks/extract/logs?offset=9&length=4"));
  CHECK(tail["text"] == "line");
  CHECK(tail["next_offset"] == 13);
  json past = Body(f.Send("GET", "/api/v1/runs/" + run_id + "/tasks/extract/logs?offset=999"));
  CHECK(past["text"] == "");
  CHECK(past["offset"] == 18);
  CHECK(f.Send("GET", "/api/v1/runs/" + run_id + "/tasks/load/logs").status == 404);
  CHECK(f.Send("GET", "/api/v1/runs/" + run_id + "/tasks/extract/logs?try=2").status == 404);
  // Encoded path tricks are refused before anything is looked up.
  for (const char* path :
       {"/api/v1/runs/%2e%2e/tasks/extract/logs", "/api/v1/runs/..%2F..%2Fetc/tasks/x/logs",
        "/api/v1/runs/a%00b/tasks/extract/logs", "/api/v1/runs/%ff/tasks/extract/logs",
        "/api/v1/runs/x/tasks/%2E%2E/logs", "/api/v1/runs/x%5c..%5c/tasks/extract/logs"}) {
    INFO(path);
    CHECK(f.Send("GET", path).status == 400);
  }
}

TEST_CASE("a token in the query string and hostile bodies are refused and change nothing",
          "[webui]") {
  Fixture f;
  REQUIRE(f.Send("GET", "/api/v1/dags").status == 200);
  const std::string before = f.Snapshot();
  CHECK(f.Send("POST", std::string("/api/v1/dags/daily/runs?token=") + kToken, "{}").status == 400);
  CHECK(f.Send("GET", std::string("/api/v1/dags?access_token=") + kToken).status == 400);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/api/v1/dags/daily/runs", "{"},
      {"/api/v1/dags/daily/runs", "[1, 2]"},
      {"/api/v1/dags/daily/runs", R"({"date": "2027-02-30"})"},
      {"/api/v1/dags/daily/runs", R"({"date": 20270110})"},
      {"/api/v1/dags/daily/runs", R"({"date": "2027-01-10", "start": "2027-01-10T00:00:00Z"})"},
      {"/api/v1/dags/daily/runs", R"({"start": "2027-01-10T00:00:00Z"})"},
      {"/api/v1/dags/daily/runs", R"({"params": {"min_events": "many"}})"},
      {"/api/v1/dags/daily/runs", R"({"params": {"min_event": 5}})"},
      {"/api/v1/dags/daily/runs", R"({"params": {"min_events": [5]}})"},
      {"/api/v1/dags/daily/runs", R"({"dates": "2027-01-10"})"},
      {"/api/v1/dags/daily/backfills", R"({"from": "2027-01-10"})"},
      {"/api/v1/dags/daily/backfills", R"({"from": "2027-01-10", "to": "2027-01-01"})"},
      {"/api/v1/dags/daily/backfills",
       R"({"from": "2027-01-10", "to": "2027-01-11", "rerun": "x"})"},
      {"/api/v1/dags/daily/pause", R"({"reason": 5})"},
      {"/api/v1/runs/nope/mark", R"({"state": "success"})"},
      {"/api/v1/dags/nope/runs", "{}"},
  };
  for (const auto& [target, body] : bad) {
    INFO(target << " " << body);
    HttpResponse r = f.Post(target, body);
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    CHECK(Body(r)["error"].get<std::string>().find('\n') == std::string::npos);
  }
  HttpRequest not_json;
  not_json.method = "POST";
  not_json.path = "/api/v1/dags/daily/runs";
  not_json.body = "date=2027-01-10";
  not_json.headers = {{"content-type", "application/x-www-form-urlencoded"},
                      {"authorization", std::string("Bearer ") + kToken}};
  CHECK(f.api->Handle(not_json).status == 400);
  CHECK(f.Send("DELETE", "/api/v1/dags/daily", "", kToken).status == 405);
  CHECK(f.Snapshot() == before);
}

TEST_CASE("reads from another machine, or with auth_reads, need a token", "[webui]") {
  Fixture open;
  CHECK(open.Send("GET", "/api/v1/dags", "", std::nullopt, /*loopback=*/false).status == 401);
  CHECK(open.Send("GET", "/api/v1/dags", "", kToken, /*loopback=*/false).status == 200);
  Fixture closed(/*auth_reads=*/true);
  CHECK(closed.Send("GET", "/api/v1/dags").status == 401);
  CHECK(closed.Send("GET", "/api/v1/dags", "", kToken).status == 200);
}

TEST_CASE("pause, backfill, clear and mark act through the scheduler's operations, audited",
          "[webui]") {
  Fixture f;
  CHECK(Body(f.Post("/api/v1/dags/daily/pause", R"({"reason": "maintenance"})"))["paused"] == true);
  CHECK(Body(f.Send("GET", "/api/v1/dags"))["dags"][0]["paused"] == true);
  CHECK(Body(f.Post("/api/v1/dags/daily/unpause"))["paused"] == false);

  json dry = Body(f.Post("/api/v1/dags/daily/backfills",
                         R"({"from": "2027-01-01", "to": "2027-01-03", "dry_run": true})"));
  CHECK(dry["runs"].size() == 3);
  CHECK(f.Db("SELECT count(*) FROM runs") == "0");
  HttpResponse applied =
      f.Post("/api/v1/dags/daily/backfills", R"({"from": "2027-01-01", "to": "2027-01-03"})");
  REQUIRE(applied.status == 201);
  CHECK(Body(applied)["run_ids"].size() == 3);
  CHECK(f.Db("SELECT count(*) FROM runs WHERE kind = 'backfill' AND state = 'queued'") == "3");

  const std::string run_id = "daily@2027-01-01T00:00:00Z";
  json marked =
      Body(f.Post("/api/v1/runs/" + run_id + "/tasks/extract/mark", R"({"state": "failed"})"));
  CHECK(marked["state"] == "failed");
  CHECK(
      f.Post("/api/v1/runs/" + run_id + "/tasks/extract/mark", R"({"state": "running"})").status ==
      400);
  json cleared = Body(f.Post("/api/v1/runs/" + run_id + "/tasks/extract/clear",
                             R"({"downstream": true, "reason": "fixed the source"})"));
  CHECK(cleared["cleared"] == json::array({"extract", "load"}));
  CHECK(Body(f.Post("/api/v1/runs/" + run_id + "/mark", R"({"state": "success"})"))["state"] ==
        "success");
  CHECK(f.Db("SELECT state FROM runs WHERE run_id = '" + run_id + "'") == "success");
  CHECK(
      f.Db("SELECT group_concat(action, ',') FROM (SELECT action FROM audit_events ORDER BY id)") ==
      "pause,unpause,backfill,mark,clear,mark");
  CHECK(f.Db("SELECT count(*) FROM audit_events WHERE actor = 'ci' AND source = 'api'") == "6");
  json audit = Body(f.Send("GET", "/api/v1/audit?limit=2"));
  CHECK(audit["events"].size() == 2);
  CHECK(audit["events"][0]["action"] == "mark");
  CHECK(f.Send("GET", "/api/v1/audit?since=yesterday-ish").status == 400);
}

TEST_CASE(
    "a backfill made through the API is listed with its progress, counted from its runs, and "
    "shows its runs in its plan's order",
    "[webui]") {
  Fixture f;
  HttpResponse applied = f.Post("/api/v1/dags/daily/backfills",
                                R"({"from": "2027-01-01", "to": "2027-01-03", "reverse": true})");
  REQUIRE(applied.status == 201);
  const std::int64_t id = Body(applied)["backfill_id"];
  json listed = Body(f.Send("GET", "/api/v1/backfills?dag=daily"));
  REQUIRE(listed["backfills"].size() == 1);
  json b = listed["backfills"][0];
  CHECK(b["backfill_id"] == id);
  CHECK(b["dag_id"] == "daily");
  CHECK(b["from"] == "2027-01-01");
  CHECK(b["to"] == "2027-01-03");
  CHECK(b["actor"] == "ci");
  CHECK(b["options"]["reverse"] == true);
  CHECK(b["state"] == "running");
  CHECK(b["ended_at"].is_null());
  CHECK(b["counts"] ==
        json{{"total", 3}, {"queued", 3}, {"running", 0}, {"success", 0}, {"failed", 0}});
  CHECK(Body(f.Send("GET", "/api/v1/backfills?dag=other"))["backfills"].empty());

  // Marked by hand, one failed and two succeeded: the backfill has ended, failed.
  const char* outcomes[][2] = {{"daily@2027-01-01T00:00:00Z", "failed"},
                               {"daily@2027-01-02T00:00:00Z", "success"},
                               {"daily@2027-01-03T00:00:00Z", "success"}};
  for (auto [run_id, state] : outcomes) {
    REQUIRE(f.Post(fmt::format("/api/v1/runs/{}/mark", run_id),
                   fmt::format(R"({{"state": "{}"}})", state))
                .status == 200);
  }
  json one = Body(f.Send("GET", fmt::format("/api/v1/backfills/{}", id)));
  CHECK(one["state"] == "failed");
  CHECK(one["ended_at"].is_string());
  CHECK(one["counts"]["success"] == 2);
  CHECK(one["counts"]["failed"] == 1);
  std::vector<std::string> runs;
  for (const json& r : one["runs"]) runs.push_back(r["run_id"]);
  CHECK(runs == std::vector<std::string>{"daily@2027-01-03T00:00:00Z", "daily@2027-01-02T00:00:00Z",
                                         "daily@2027-01-01T00:00:00Z"});
  CHECK(one["runs"][2]["state"] == "failed");

  // Cancelling: a second backfill's queued runs fail; an ended backfill cannot be canceled.
  HttpResponse more =
      f.Post("/api/v1/dags/daily/backfills", R"({"from": "2027-01-04", "to": "2027-01-05"})");
  REQUIRE(more.status == 201);
  const std::int64_t second = Body(more)["backfill_id"];
  CHECK(f.Send("POST", fmt::format("/api/v1/backfills/{}/cancel", second), "{}", std::nullopt)
            .status == 401);
  HttpResponse canceled =
      f.Post(fmt::format("/api/v1/backfills/{}/cancel", second), R"({"reason": "wrong days"})");
  REQUIRE(canceled.status == 200);
  json c = Body(canceled);
  CHECK(c["state"] == "canceled");
  CHECK(c["canceled"] == json::array({"daily@2027-01-04T00:00:00Z", "daily@2027-01-05T00:00:00Z"}));
  CHECK(c["still_running"] == 0);
  CHECK(c["counts"]["failed"] == 2);
  CHECK(f.Db("SELECT action, reason FROM audit_events ORDER BY id DESC LIMIT 1") ==
        "cancel_backfill|wrong days");
  HttpResponse ended = f.Post(fmt::format("/api/v1/backfills/{}/cancel", id));
  CHECK(ended.status == 409);
  CHECK(Body(ended)["error"] ==
        fmt::format("backfill {} has ended (failed): nothing to cancel", id));

  // Metrics name the routes, never the ids.
  const std::string metrics = f.Send("GET", "/metrics").body;
  for (const char* route : {"/api/v1/backfills", "/api/v1/backfills/{backfill_id}",
                            "/api/v1/backfills/{backfill_id}/cancel"}) {
    INFO(route);
    CHECK(metrics.find(fmt::format("route=\"{}\"", route)) != std::string::npos);
  }
}

TEST_CASE("bad backfill ids and query strings get a 4xx naming them and change nothing",
          "[webui]") {
  Fixture f;
  REQUIRE(f.Post("/api/v1/dags/daily/backfills", R"({"from": "2027-01-01", "to": "2027-01-01"})")
              .status == 201);
  const std::string before = f.Snapshot();
  const std::pair<const char*, const char*> cases[] = {
      {"/api/v1/backfills/abc", "backfill id 'abc': expected a whole number from 1"},
      {"/api/v1/backfills/0", "backfill id '0': expected a whole number from 1"},
      {"/api/v1/backfills/-1", "backfill id '-1': expected a whole number from 1"},
      {"/api/v1/backfills/99999999999999999999999",
       "backfill id '99999999999999999999999': expected a whole number from 1"},
      {"/api/v1/backfills/1%0a2", "backfill id '1\\n2': expected a whole number from 1"},
      {"/api/v1/backfills/999", "no backfill 999"},
      {"/api/v1/backfills?limit=0",
       "query parameter limit: expected a whole number from 1 to 500, got '0'"},
      {"/api/v1/backfills?limit=x",
       "query parameter limit: expected a whole number from 1 to 500, got 'x'"},
      {"/api/v1/backfills?state=running", "unknown query parameter 'state' (known: dag, limit)"},
  };
  for (auto [target, error] : cases) {
    INFO(target);
    HttpResponse r = f.Send("GET", target);
    CHECK(r.status == (std::string(error).starts_with("no backfill") ? 404 : 400));
    CHECK(Body(r)["error"] == error);
  }
  CHECK(f.Send("POST", "/api/v1/backfills", "{}", kToken).status == 404);
  // A DAG name is only ever a bound value: SQL in it matches no DAG.
  HttpResponse injected = f.Send("GET", "/api/v1/backfills?dag=%27%20OR%201%3D1--");
  CHECK(injected.status == 200);
  CHECK(Body(injected)["backfills"].empty());
  const std::pair<std::string, std::string> cancels[] = {
      {"/api/v1/backfills/abc/cancel", "backfill id 'abc': expected a whole number from 1"},
      {"/api/v1/backfills/999/cancel", "no backfill 999"},
  };
  for (const auto& [target, error] : cancels) {
    INFO(target);
    HttpResponse r = f.Post(target);
    CHECK(r.status == (error.starts_with("no backfill") ? 404 : 400));
    CHECK(Body(r)["error"] == error);
  }
  HttpResponse unknown = f.Post("/api/v1/backfills/1/cancel", R"({"force": true})");
  CHECK(unknown.status == 400);
  CHECK(Body(unknown)["error"].get<std::string>().find("force") != std::string::npos);
  CHECK(f.Snapshot() == before);
}

// The value of the session cookie an answer sets.
std::string SessionCookie(const HttpResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Set-Cookie" && value.starts_with("weir_session=")) {
      return value.substr(0, value.find(';'));
    }
  }
  return "";
}

TEST_CASE(
    "the dashboard signs in with a token into an HttpOnly SameSite=Strict cookie, and its "
    "changes need the session's CSRF token",
    "[webui]") {
  Fixture f;
  REQUIRE(f.Send("GET", "/api/v1/dags").status == 200);
  CHECK(Body(f.Send("GET", "/api/v1/session"))["actor"].is_null());
  CHECK(f.Post("/api/v1/session", R"({"token": "wrong-token-0123456789"})", std::nullopt).status ==
        403);
  CHECK(f.Post("/api/v1/session", R"({"token": ""})", std::nullopt).status == 400);
  HttpResponse signed_in =
      f.Post("/api/v1/session", fmt::format(R"({{"token": "{}"}})", kToken), std::nullopt);
  REQUIRE(signed_in.status == 200);
  const std::string cookie = SessionCookie(signed_in);
  REQUIRE(cookie.size() == std::string("weir_session=").size() + 64);
  bool strict = false;
  for (const auto& [name, value] : signed_in.headers) {
    if (name == "Set-Cookie")
      strict = Contains(value, "HttpOnly") && Contains(value, "SameSite=Strict");
  }
  CHECK(strict);
  const std::string csrf = Body(signed_in)["csrf"];
  CHECK(Body(signed_in)["actor"] == "ci");

  auto with = [&](std::string method, std::string target, std::string body,
                  std::vector<std::pair<std::string, std::string>> extra) {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(target);
    r.body = std::move(body);
    r.from_loopback = true;
    r.headers = {{"cookie", "theme=dark; " + cookie}, {"content-type", "application/json"}};
    for (auto& h : extra) r.headers.push_back(std::move(h));
    return f.api->Handle(r);
  };
  json who = Body(with("GET", "/api/v1/session", "", {}));
  CHECK(who["actor"] == "ci");
  CHECK(who["csrf"] == csrf);

  const std::string before = f.Snapshot();
  const std::string trigger = R"({"date": "2027-01-10"})";
  CHECK(with("POST", "/api/v1/dags/daily/runs", trigger, {}).status == 403);
  CHECK(with("POST", "/api/v1/dags/daily/runs", trigger, {{"x-csrf-token", "nope"}}).status == 403);
  CHECK(
      with("POST", "/api/v1/dags/daily/runs", trigger,
           {{"x-csrf-token", csrf}, {"origin", "http://evil.example"}, {"host", "127.0.0.1:8080"}})
          .status == 403);
  CHECK(f.Snapshot() == before);
  HttpResponse made = with(
      "POST", "/api/v1/dags/daily/runs", trigger,
      {{"x-csrf-token", csrf}, {"origin", "http://127.0.0.1:8080"}, {"host", "127.0.0.1:8080"}});
  CHECK(made.status == 201);
  CHECK(f.Db("SELECT actor || ' ' || source FROM audit_events") == "ci api");

  HttpResponse out = with("POST", "/api/v1/session/logout", "", {{"x-csrf-token", csrf}});
  CHECK(out.status == 200);
  CHECK(Body(with("GET", "/api/v1/session", "", {}))["actor"].is_null());
  CHECK(with("POST", "/api/v1/dags/daily/runs", trigger, {{"x-csrf-token", csrf}}).status == 401);
}

TEST_CASE("the dashboard's files are served from the binary, and nothing else by name", "[webui]") {
  Fixture f;
  HttpResponse index = f.Send("GET", "/");
  REQUIRE(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(Contains(index.body, "/assets/app.js"));
  HttpResponse js = f.Send("GET", "/assets/app.js");
  CHECK(js.status == 200);
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(f.Send("GET", "/assets/nope.js").status == 404);
  CHECK(f.Send("GET", "/assets/%2e%2e/webui.h").status == 400);
  CHECK(f.Send("GET", "/assets/..%2fapi.cc").status == 400);
  CHECK(f.Send("GET", "/assets/a/b.js").status == 404);
  CHECK(f.Send("POST", "/assets/app.js", "{}", kToken).status == 404);
}

TEST_CASE("the OpenAPI document describes every route the API answers, and only those", "[webui]") {
  Fixture f;
  REQUIRE(f.Post("/api/v1/dags/daily/runs", R"({"date": "2027-01-10"})").status == 201);
  HttpResponse r = f.Send("GET", "/api/v1/openapi.json");
  REQUIRE(r.status == 200);
  json doc = Body(r);
  CHECK(doc["openapi"] == "3.1.0");
  int routes = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    std::string target = path;
    for (auto [from, to] : {std::pair<std::string, std::string>{"{dag_id}", "daily"},
                            {"{run_id}", "daily@2027-01-10T00:00:00Z~manual-1"},
                            {"{task_id}", "extract"},
                            {"{backfill_id}", "1"}}) {
      if (auto at = target.find(from); at != std::string::npos) target.replace(at, from.size(), to);
    }
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters") continue;
      ++routes;
      INFO(method << " " << target);
      std::string upper = method == "get" ? "GET" : "POST";
      HttpResponse answer =
          upper == "GET" ? f.Send("GET", target) : f.Post(target, R"({"reason": "openapi check"})");
      const std::string error = answer.status >= 400 ? Body(answer).value("error", "") : "";
      CHECK(error != "no such API endpoint");
      CHECK(error != "no such page");
      CHECK(answer.status != 405);
    }
  }
  CHECK(routes == 28);
  CHECK(Body(f.Send("GET", "/api/v1/dags/daily/nothing"))["error"] == "no such API endpoint");
}

TEST_CASE(
    "an answer about a DAG is cached until its runs change, through the run loop or the API, "
    "and for at most a second",
    "[webui]") {
  Fixture f;
  REQUIRE(f.Post("/api/v1/dags/daily/runs", R"({"date": "2027-01-10"})").status == 201);
  auto total = [&] { return Body(f.Send("GET", "/api/v1/dags/daily/runs"))["total"].get<int>(); };
  REQUIRE(total() == 1);
  // A run made by another process (the CLI) is not seen at once...
  f.Exec(
      "INSERT INTO runs SELECT 'daily@other', dag_id, dag_version_id, kind, state, "
      "interval_start_ms + 86400000, interval_end_ms, logical_date_ms, params_json, created_at_ms, "
      "started_at_ms, ended_at_ms, backfill_id, driver_host, driver_pid, driver_start_ticks, "
      "generation, no_cache FROM runs");
  CHECK(total() == 1);
  // ... nor after an event of another DAG ...
  state::RunRecord other;
  other.dag_id = "other";
  other.run_id = "other@x";
  f.telemetry.OnRunChanged(other);
  CHECK(total() == 1);
  // ... but after one of this DAG's, or a second later.
  state::RunRecord daily;
  daily.dag_id = "daily";
  daily.run_id = "daily@x";
  f.telemetry.OnRunChanged(daily);
  CHECK(total() == 2);
  f.Exec("DELETE FROM runs WHERE run_id = 'daily@other'");
  CHECK(total() == 2);
  f.clock.Advance(std::chrono::seconds(1));
  CHECK(total() == 1);
  // A change made through the API shows at once.
  REQUIRE(f.Post("/api/v1/dags/daily/runs", R"({"date": "2027-01-11"})").status == 201);
  CHECK(total() == 2);
}

TEST_CASE("a dataset's versions name the run, task and try that wrote them", "[webui]") {
  Fixture f;
  REQUIRE(f.Post("/api/v1/dags/daily/runs", R"({"date": "2027-01-10"})").status == 201);
  const std::string run_id = "daily@2027-01-10T00:00:00Z~manual-1";
  const std::int64_t attempt = f.StartExtract(run_id, "x.log");
  auto store = state::Store::Open(f.dir / "home/weir.db");
  REQUIRE(store);
  state::AttemptLineage lineage;
  lineage.writes.push_back(
      {.uri = "warehouse://events", .fingerprint = "sha256:00", .row_count = 3});
  REQUIRE((*store)->RecordLineage(attempt, lineage, f.clock.Now()));

  json dataset = Body(f.Send("GET", "/api/v1/dataset?uri=warehouse%3A%2F%2Fevents"));
  REQUIRE(dataset["versions"].size() == 1);
  json writer = dataset["versions"][0]["writer"];
  CHECK(writer["run_id"] == run_id);
  CHECK(writer["task_id"] == "extract");
  CHECK(writer["try_number"] == 1);
  CHECK(Body(f.Send("GET", "/api/v1/datasets"))["datasets"][0]["latest"]["writer"]["task_id"] ==
        "extract");
  CHECK(f.Send("GET", "/api/v1/dataset?uri=warehouse%3A%2F%2Fnope").status == 404);
  CHECK(f.Send("GET", "/api/v1/dataset").status == 400);
}

TEST_CASE("API tokens are parsed from name:token pairs and bad entries are named, not shown",
          "[webui]") {
  auto tokens = ParseApiTokens(" ci:0123456789abcdef , alice:fedcba9876543210,");
  REQUIRE(tokens);
  REQUIRE(tokens->size() == 2);
  CHECK(tokens->at(1).name == "alice");
  CHECK(tokens->at(1).token == "fedcba9876543210");
  CHECK(ParseApiTokens("")->empty());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ci0123456789abcdef",
       "WEIR_API_TOKENS entry 1: expected name:token (write name:token,name2:token2)"},
      {":0123456789abcdef",
       "WEIR_API_TOKENS entry 1: no name before ':' (write name:token,name2:token2)"},
      {"ci:short-secret",
       "WEIR_API_TOKENS entry 1 ('ci'): the token is shorter than 16 characters (write "
       "name:token,name2:token2)"},
      {"a:0123456789abcdef,a:fedcba9876543210",
       "WEIR_API_TOKENS entry 2 ('a'): this name is given twice (write name:token,name2:token2)"},
  };
  for (const auto& [text, message] : bad) {
    auto parsed = ParseApiTokens(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message == message);
    CHECK(parsed.error().message.find("short-secret") == std::string::npos);
  }
}

}  // namespace
}  // namespace weir::webui

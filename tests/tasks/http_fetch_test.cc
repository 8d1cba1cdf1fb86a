// HttpFetch and the http source of ingest against a stand-in remote API on loopback
// (tests/testing/http_stub_server.py): retries, Retry-After, the deadline, the size cap, headers
// from the environment, and the URLs and servers it must give up on.
#include "tasks/http_fetch.h"

#include <date/date.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common/hash.h"
#include "common/strings.h"
#include "tasks/ingest.h"
#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::TempDir;

const std::string kRowsJson =
    R"([{"id": 1, "name": "ada"}, {"id": 2, "name": "grace, \"amazing\""}])";
const std::string kRowsCsv = "id,name\r\n1,ada\r\n2,\"grace, \"\"amazing\"\"\"\r\n";

// The stand-in API, started per test and stopped at its end. Its first line of output says
// that it listens, so nothing here sleeps.
class StubServer {
 public:
  StubServer() {
    std::string command =
        "exec /usr/bin/python3 " +
        ShellQuote(std::string(WEIR_SOURCE_DIR) + "/tests/testing/http_stub_server.py") + " " +
        ShellQuote(log_.string());
    pipe_ = popen(command.c_str(), "r");
    REQUIRE(pipe_ != nullptr);
    REQUIRE(fscanf(pipe_, "%d %d", &port_, &pid_) == 2);  // blocks until it listens
  }
  ~StubServer() { Stop(); }
  StubServer(const StubServer&) = delete;
  StubServer& operator=(const StubServer&) = delete;

  void Stop() {
    if (pipe_ == nullptr) return;
    ::kill(pid_, SIGTERM);
    pclose(pipe_);  // waits for it to exit
    pipe_ = nullptr;
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // The paths requested so far, in order.
  std::vector<std::string> Requests() const {
    std::vector<std::string> out;
    std::istringstream lines(testing::ReadFile(log_));
    for (std::string line; std::getline(lines, line);) out.push_back(line);
    return out;
  }

 private:
  TempDir dir_;
  std::filesystem::path log_ = dir_ / "requests.log";
  FILE* pipe_ = nullptr;
  int port_ = 0, pid_ = 0;
};

// Sets an environment variable for the length of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// A request that fails fast: short waits, few retries.
HttpRequest Fast(std::string url) {
  return HttpRequest{.url = std::move(url),
                     .timeout_seconds = 5,
                     .retries = 2,
                     .backoff_seconds = 0.01,
                     .max_bytes = 1 << 20};
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_CASE("a GET returns the body of a 2xx answer after one request", "[http]") {
  StubServer server;
  auto body = HttpFetch(Fast(server.Url("/json")));
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(*body == kRowsJson);
  CHECK(server.Requests() == std::vector<std::string>{"/json"});
}

TEST_CASE("a header takes its value from an environment variable, an unset one is named",
          "[http]") {
  StubServer server;
  ScopedEnv token("WEIR_TEST_HTTP_TOKEN", "Bearer s3cret");
  HttpRequest request = Fast(server.Url("/echo?header=Authorization"));
  request.headers = {{"Authorization", "WEIR_TEST_HTTP_TOKEN"}};
  auto body = HttpFetch(request);
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(*body == "Bearer s3cret");

  ::unsetenv("WEIR_TEST_HTTP_UNSET");
  request.headers = {{"Authorization", "WEIR_TEST_HTTP_TOKEN"},
                     {"X-Api-Key", "WEIR_TEST_HTTP_UNSET"}};
  auto unset = HttpFetch(request);
  REQUIRE_FALSE(unset);
  CHECK(unset.error().code == ErrorCode::kInvalidArgument);
  CHECK(unset.error().message == "GET " + request.url +
                                     ": header X-Api-Key comes from $WEIR_TEST_HTTP_UNSET, which "
                                     "is not set");
  CHECK(server.Requests().size() == 1);  // nothing sent without it
}

TEST_CASE("a 5xx that never ends fails after retries + 1 tries, naming the status and the URL",
          "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/fail"));
  request.retries = 3;
  auto body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == ErrorCode::kUnavailable);
  CHECK(body.error().message == "GET " + request.url + ": HTTP 500: internal error (4 tries)");
  CHECK(server.Requests().size() == 4);

  request.retries = 0;
  body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().message == "GET " + request.url + ": HTTP 500: internal error (1 try)");
  CHECK(server.Requests().size() == 5);
}

TEST_CASE("a 4xx other than 429 is not retried", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/no/such/path"));
  auto body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == ErrorCode::kInvalidArgument);
  CHECK(body.error().message == "GET " + request.url + ": HTTP 404: no such path (1 try)");
  CHECK(server.Requests().size() == 1);
}

TEST_CASE("a 429 with Retry-After: 0 is retried at once, not after the backoff", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/flaky"));
  request.backoff_seconds = 3;  // were Retry-After ignored, this would take 9 s
  const auto start = std::chrono::steady_clock::now();
  auto body = HttpFetch(request);
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(*body == kRowsJson);
  CHECK(server.Requests() == std::vector<std::string>{"/flaky", "/flaky", "/flaky"});
  CHECK(SecondsSince(start) < 2);
}

TEST_CASE("Retry-After is read as seconds or as an HTTP-date", "[http]") {
  using std::chrono::system_clock;
  const system_clock::time_point now =
      date::sys_days{date::year{2026} / 10 / 21} + std::chrono::hours(7) + std::chrono::minutes(28);
  CHECK(RetryAfterSeconds("120", now) == 120);
  CHECK(RetryAfterSeconds("0", now) == 0);
  CHECK(RetryAfterSeconds("Wed, 21 Oct 2026 07:28:30 GMT", now) == 30);
  CHECK(RetryAfterSeconds("Wed, 21 Oct 2026 07:00:00 GMT", now) == 0);  // past: at once
  CHECK(RetryAfterSeconds("soon", now) == -1);
  CHECK(RetryAfterSeconds("-5", now) == -1);
  CHECK(RetryAfterSeconds("", now) == -1);
}

TEST_CASE("a Retry-After given as an HTTP-date in the past is retried at once", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/flaky-date"));
  request.backoff_seconds = 3;  // were the date not understood, this would take 9 s
  const auto start = std::chrono::steady_clock::now();
  auto body = HttpFetch(request);
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(server.Requests().size() == 3);
  CHECK(SecondsSince(start) < 2);
}

TEST_CASE("a server that never answers is cut by the timeout, and each try is cut", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/hang"));
  request.timeout_seconds = 0.3;
  request.retries = 1;
  const auto start = std::chrono::steady_clock::now();
  auto body = HttpFetch(request);
  const double took = SecondsSince(start);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == ErrorCode::kUnavailable);
  CHECK(body.error().message ==
        "GET " + request.url + ": no complete answer within the timeout (0.3s) (2 tries)");
  CHECK(server.Requests().size() == 2);
  CHECK(took >= 0.6);
  CHECK(took < 3);
}

TEST_CASE("a body without end is cut by max_bytes, and not retried", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/endless"));
  auto body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == ErrorCode::kInvalidArgument);
  CHECK(body.error().message ==
        "GET " + request.url + ": the body is larger than max_bytes (1048576 bytes) (1 try)");
  CHECK(server.Requests().size() == 1);
}

TEST_CASE("a body that trickles without end is cut by the deadline", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/trickle"));
  request.timeout_seconds = 0.3;
  request.retries = 0;
  const auto start = std::chrono::steady_clock::now();
  auto body = HttpFetch(request);
  const double took = SecondsSince(start);
  REQUIRE_FALSE(body);
  CHECK(body.error().message ==
        "GET " + request.url + ": no complete answer within the timeout (0.3s) (1 try)");
  CHECK(took >= 0.3);
  CHECK(took < 2);
}

TEST_CASE("a body of exactly max_bytes is read whole, one byte more is refused", "[http]") {
  StubServer server;
  HttpRequest request = Fast(server.Url("/large?bytes=3000000"));
  request.max_bytes = 3'000'000;
  auto body = HttpFetch(request);
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(body->size() == 3'000'000);
  CHECK(body->find_first_not_of('x') == std::string::npos);

  request.max_bytes = 2'999'999;
  body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().message ==
        "GET " + request.url + ": the body is larger than max_bytes (2999999 bytes) (1 try)");
}

TEST_CASE("a malformed URL is an error at once, without retries", "[http]") {
  for (auto [url, message] : {
           std::pair<std::string, std::string>{
               "ftp://127.0.0.1/x", "'ftp://127.0.0.1/x' is not an http:// or https:// URL"},
           {"127.0.0.1/x", "'127.0.0.1/x' is not an http:// or https:// URL"},
           {"", "'' is not an http:// or https:// URL"},
           {"http:///x", "'http:///x' names no host"},
           {"http://", "'http://' names no host"},
       }) {
    INFO(url);
    HttpRequest request = Fast(url);
    request.backoff_seconds = 5;  // a retry would show in the time taken
    const auto start = std::chrono::steady_clock::now();
    auto body = HttpFetch(request);
    REQUIRE_FALSE(body);
    CHECK(body.error().code == ErrorCode::kInvalidArgument);
    CHECK(body.error().message == message);
    CHECK(SecondsSince(start) < 1);
  }
}

TEST_CASE("a URL with a bad port or host is an error at once (bug: a huge port threw)", "[http]") {
  for (auto [url, message] : {
           std::pair<std::string, std::string>{
               "http://127.0.0.1:99999999999/x",
               "'http://127.0.0.1:99999999999/x' has a bad port '99999999999' (1 to 65535)"},
           {"http://127.0.0.1:70000/x",
            "'http://127.0.0.1:70000/x' has a bad port '70000' (1 to 65535)"},
           {"http://127.0.0.1:port/x",
            "'http://127.0.0.1:port/x' has a bad port 'port' (1 to 65535)"},
           {"http://127.0.0.1:/x", "'http://127.0.0.1:/x' has a bad port '' (1 to 65535)"},
           {"http://exa mple.com/x",
            "'http://exa mple.com/x' names no valid host ('exa mple.com')"},
           {"http://user@example.com/x",
            "'http://user@example.com/x' names no valid host ('user@example.com')"},
       }) {
    INFO(url);
    HttpRequest request = Fast(url);
    request.backoff_seconds = 5;
    const auto start = std::chrono::steady_clock::now();
    auto body = HttpFetch(request);
    REQUIRE_FALSE(body);
    CHECK(body.error().code == ErrorCode::kInvalidArgument);
    CHECK(body.error().message == message);
    CHECK(SecondsSince(start) < 1);
  }
  // An IPv6 literal with a port passes (nothing listens on port 1: refused, not malformed).
  HttpRequest request = Fast("http://[::1]:1/x");
  request.retries = 0;
  auto refused = HttpFetch(request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("a redirect is followed, with the request's headers", "[http]") {
  StubServer server;
  ScopedEnv token("WEIR_TEST_HTTP_TOKEN", "Bearer s3cret");
  HttpRequest request =
      Fast(server.Url("/redirect?to=") + server.Url("/echo?header=Authorization"));
  request.headers = {{"Authorization", "WEIR_TEST_HTTP_TOKEN"}};
  auto body = HttpFetch(request);
  INFO((body ? "" : body.error().message));
  REQUIRE(body);
  CHECK(*body == "Bearer s3cret");
  REQUIRE(server.Requests().size() == 2);
  CHECK(server.Requests()[1] == "/echo?header=Authorization");
}

TEST_CASE("a redirect to another origin does not carry the request's headers there", "[http]") {
  StubServer api, elsewhere;
  ScopedEnv token("WEIR_TEST_HTTP_TOKEN", "Bearer s3cret");
  HttpRequest request =
      Fast(api.Url("/redirect?to=") + elsewhere.Url("/echo?header=Authorization"));
  request.headers = {{"Authorization", "WEIR_TEST_HTTP_TOKEN"}};
  request.retries = 0;
  auto body = HttpFetch(request);
  REQUIRE_FALSE(body);  // the echo answers 404: no Authorization reached it
  CHECK(body.error().message.find("HTTP 404") != std::string::npos);
  REQUIRE(elsewhere.Requests().size() == 1);
  CHECK(elsewhere.Requests()[0] == "/echo?header=Authorization");
}

TEST_CASE("a refused connection is retried, then reported with the URL", "[http]") {
  std::string url;
  {
    StubServer gone;  // a port that nothing listens on once it is stopped
    url = gone.Url("/json");
  }
  HttpRequest request = Fast(url);
  request.retries = 1;
  auto body = HttpFetch(request);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == ErrorCode::kUnavailable);
  CHECK(body.error().message.starts_with("GET " + url + ": "));
  CHECK(body.error().message.ends_with(" (2 tries)"));
}

// ---- Through ingest ----------------------------------------------------------------------------

IngestConfig HttpIngest(const TempDir& dir, const std::string& url, const std::string& body) {
  IngestConfig c;
  c.task = "load_api";
  c.source.format = "http";
  c.source.url = url;
  c.source.uri = url;
  c.source.body = body;
  c.source.timeout_seconds = 5;
  c.source.retries = 1;
  c.source.backoff_seconds = 0.01;
  c.target.into = "api_rows";
  c.warehouse = dir / "warehouse.db";
  return c;
}

TEST_CASE("an http source's rows land in the table, from a JSON array, JSON lines or CSV body",
          "[http][ingest]") {
  StubServer server;
  TempDir dir;
  for (auto [path, body, text] :
       {std::tuple<std::string, std::string, std::string>{"/json", "json", kRowsJson},
        {"/jsonl", "jsonl", ""},
        {"/csv", "csv", kRowsCsv}}) {
    INFO(path);
    IngestConfig c = HttpIngest(dir, server.Url(path), body);
    auto report = RunIngest(c);
    INFO((report ? "" : report.error().message));
    REQUIRE(report);
    CHECK(report->rows_written == 2);
    CHECK(testing::Query(c.warehouse, "SELECT id, typeof(id), name FROM api_rows ORDER BY id") ==
          "1|integer|ada|\n2|integer|grace, \"amazing\"|\n");
    if (!text.empty()) {
      CHECK(report->source_fingerprint == "sha256:" + Sha256Hex(text));
      CHECK(report->source_bytes == static_cast<std::int64_t>(text.size()));
    }
  }
}

TEST_CASE("an http source that fails names the task and the URL, and writes nothing",
          "[http][ingest]") {
  StubServer server;
  TempDir dir;
  IngestConfig c = HttpIngest(dir, server.Url("/fail"), "json");
  auto report = RunIngest(c);
  REQUIRE_FALSE(report);
  CHECK(report.error().code == ErrorCode::kUnavailable);
  CHECK(report.error().message.starts_with("ingest load_api: "));
  CHECK(report.error().message.ends_with("GET " + c.source.url +
                                         ": HTTP 500: internal error (2 tries)"));
  CHECK_FALSE(std::filesystem::exists(c.warehouse));

  // A body that is not what `body:` says is an error too, before anything is written.
  IngestConfig csv_as_json = HttpIngest(dir, server.Url("/csv"), "json");
  auto wrong = RunIngest(csv_as_json);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message ==
        "ingest load_api: " + csv_as_json.source.url + ": the body is not a JSON array of objects");
  CHECK_FALSE(std::filesystem::exists(c.warehouse));
}

}  // namespace
}  // namespace weir::tasks

// webui: the JSON API v1 that `weir serve` answers beside the scheduler, over the same state
// database and the scheduler's operations (trigger, backfill, clear, mark, pause), with named
// bearer tokens for every change. The HTTP server it runs behind is in http_server.h.
//
//   auto tokens = ParseApiTokens(getenv("WEIR_API_TOKENS"));   // "ci:s3cret,alice:t0ken"
//   Api api({.state_path = home / "weir.db", .dags_dir = dags, .tokens = *tokens}, clock);
//   auto server = HttpServer::Start({.port = 8080},
//                                   [&api](const HttpRequest& r) { return api.Handle(r); });
//
// Thread-safety: Handle may be called from several threads at once; each uses its own
// connection to the state database.
#ifndef WEIR_WEBUI_WEBUI_H_
#define WEIR_WEBUI_WEBUI_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "webui/http_server.h"
#include "webui/telemetry.h"

namespace weir::webui {

// A named API token: the name is the actor in the audit log, the token the secret.
struct ApiToken {
  std::string name;
  std::string token;
};

// "name:token,name2:token2" (blank entries ignored). An entry without a name or a token, a
// repeated name, or a token shorter than 16 characters is an error that names the entry by its
// position and name, never by its token.
[[nodiscard]] Result<std::vector<ApiToken>> ParseApiTokens(std::string_view text);

// Adds a token to `tokens`, or says why not (shorter than 16 characters, a name given twice).
std::optional<std::string> AddApiToken(std::vector<ApiToken>* tokens, std::string name,
                                       std::string token);

struct ApiOptions {
  std::filesystem::path state_path;  // the state database (weir.db); created when missing
  std::filesystem::path dags_dir;    // the DAG files, re-read when they change
  std::vector<ApiToken> tokens;      // who may change things; none: nobody may
  bool auth_reads = false;           // reads need a token even from loopback
  Duration dag_refresh = std::chrono::seconds(2);  // DAG files are looked at most this often
  Telemetry* telemetry = nullptr;  // events and metrics; none: /api/v1/events and /metrics 404
};

class Api {
 public:
  Api(ApiOptions options, Clock& clock);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Answers one request under /api/v1/, /healthz or /metrics; anything else is a 404.
  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::webui

#endif  // WEIR_WEBUI_WEBUI_H_

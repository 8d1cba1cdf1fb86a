// The JSON API v1 (docs/api.md). Every request is checked in the same order: the path's
// segments decoded and refused when they could name something else (".", "..", "/", NUL,
// invalid UTF-8), the query string parsed (a token there is refused), then authentication, then
// the route. Nothing is read from disk by a name taken from the request: logs are found by the
// attempt's row in the state database.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <variant>

#include "common/hash.h"
#include "common/secret_mask.h"
#include "common/strings.h"
#include "dags/dags.h"
#include "scheduler/backfill.h"
#include "scheduler/operations.h"
#include "scheduler/scheduler.h"
#include "state/state.h"
#include "webui/assets.h"
#include "webui/webui.h"

namespace weir::webui {
namespace {

using json = nlohmann::json;

constexpr int kMaxPageSize = 500;
constexpr std::int64_t kMaxLogChunk = 1 << 20;

// ---- Answers -------------------------------------------------------------------------------

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse Json(int status, const json& body) {
  return HttpResponse{.status = status, .content_type = "application/json", .body = Dump(body)};
}

HttpResponse ErrorAnswer(int status, std::string_view message) {
  return Json(status, {{"error", message}});
}

int StatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return 409;
    default:
      return 500;
  }
}

HttpResponse ErrorAnswer(const Error& error) {
  return ErrorAnswer(StatusOf(error.code), error.message);
}

json Iso(const std::optional<Timestamp>& t) { return t ? json(FormatIso(*t)) : json(nullptr); }

template <typename T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json ParsedOr(const std::string& text, json fallback) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

json RunJson(const state::RunRecord& r) {
  return {{"run_id", r.run_id},
          {"dag_id", r.dag_id},
          {"kind", state::Name(r.kind)},
          {"state", state::Name(r.state)},
          {"interval_start", FormatIso(r.interval_start)},
          {"interval_end", FormatIso(r.interval_end)},
          {"params", ParsedOr(r.params_json, json::object())},
          {"created_at", FormatIso(r.created_at)},
          {"started_at", Iso(r.started_at)},
          {"ended_at", Iso(r.ended_at)},
          {"backfill_id", OrNull(r.backfill_id)}};
}

// A backfill with its runs' states counted (see state::BackfillProgress).
json BackfillJson(const state::BackfillProgress& b) {
  return {{"backfill_id", b.plan.id},
          {"dag_id", b.plan.dag_id},
          {"from", b.plan.from_date},
          {"to", b.plan.to_date},
          {"options", ParsedOr(b.plan.options_json, json::object())},
          {"actor", b.plan.actor},
          {"created_at", FormatIso(b.plan.created_at)},
          {"canceled_at", Iso(b.plan.canceled_at)},
          {"ended_at", Iso(b.ended_at)},
          {"state", b.State()},
          {"counts",
           {{"total", b.runs},
            {"queued", b.queued},
            {"running", b.running},
            {"success", b.success},
            {"failed", b.failed}}}};
}

json TaskJson(const state::TaskInstanceRecord& t) {
  return {{"task_id", t.task_id},
          {"state", state::Name(t.state)},
          {"try_number", t.try_number},
          {"max_tries", t.max_tries},
          {"next_try_at", Iso(t.next_try_at)},
          {"started_at", Iso(t.started_at)},
          {"ended_at", Iso(t.ended_at)}};
}

json AttemptJson(const state::AttemptRecord& a) {
  return {{"attempt_id", a.id},
          {"task_id", a.task_id},
          {"try_number", a.try_number},
          {"state", state::Name(a.state)},
          {"exit_code", OrNull(a.exit_code)},
          {"signal", OrNull(a.signal)},
          {"reason", a.reason},
          {"started_at", FormatIso(a.started_at)},
          {"ended_at", Iso(a.ended_at)}};
}

json VersionJson(const state::DatasetVersionRecord& v) {
  return {{"id", v.id},
          {"dataset", v.uri},
          {"version", v.version},
          {"fingerprint", v.fingerprint},
          {"schema", ParsedOr(v.schema_json, json::array())},
          {"rows", OrNull(v.row_count)},
          {"bytes", OrNull(v.bytes)},
          {"written_by", OrNull(v.attempt_id)},
          {"recorded_at", FormatIso(v.recorded_at)}};
}

json CheckJson(const state::CheckResultRecord& c) {
  return {{"check", c.check},
          {"column", c.column},
          {"method", c.method},
          {"severity", c.severity},
          {"passed", c.passed},
          {"observed", OrNull(c.observed)},
          {"p_value", OrNull(c.p_value)},
          {"threshold", OrNull(c.threshold)},
          {"failing_count", c.failing_count},
          {"total", c.total},
          {"failing_rows", ParsedOr(c.failing_rows, json::array())},
          {"detail", c.detail},
          {"dataset_version", OrNull(c.dataset_version)},
          {"run_id", c.run_id},
          {"task_id", c.task_id},
          {"try_number", c.try_number},
          {"ended_at", FormatIso(c.ended_at)}};
}

json AuditJson(const state::AuditEvent& e) {
  return {{"id", e.id},         {"at", FormatIso(e.at)},
          {"actor", e.actor},   {"source", e.source},
          {"action", e.action}, {"target", e.target},
          {"reason", e.reason}, {"details", ParsedOr(e.details_json, json::object())}};
}

// ---- Reading the request -------------------------------------------------------------------

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded (and '+' as a space in a query); nullopt for a bad escape or invalid UTF-8.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  if (FindInvalidUtf8(out)) return std::nullopt;
  return out;
}

// The path's segments, decoded; nullopt when one could reach outside what it names.
std::optional<std::vector<std::string>> PathSegments(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view raw = path.substr(start, end - start);
    if (!raw.empty()) {
      auto decoded = PercentDecode(raw, false);
      if (!decoded || *decoded == "." || *decoded == ".." ||
          decoded->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
        return std::nullopt;
      }
      segments.push_back(std::move(*decoded));
    }
    start = end + 1;
  }
  return segments;
}

using Query = std::map<std::string, std::string>;

Result<Query> ParseQuery(std::string_view text) {
  Query query;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq), true);
    auto value =
        PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), /*plus=*/true);
    if (!name || !value) {
      return Fail(ErrorCode::kInvalidArgument, "bad query string: a malformed %-escape");
    }
    if (*name == "token" || *name == "access_token" || *name == "api_key") {
      return Fail(ErrorCode::kInvalidArgument,
                  "a token in the query string is refused (it would be logged and cached); send "
                  "it as 'Authorization: Bearer TOKEN'");
    }
    if (!query.emplace(std::move(*name), std::move(*value)).second) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("query parameter '{}' is given twice",
                                                           Printable(pair.substr(0, eq))));
    }
  }
  return query;
}

// A backfill id from a path: a whole number from 1.
Result<std::int64_t> BackfillId(const std::string& text) {
  auto id = ParseWholeNumber(text, 1, std::numeric_limits<std::int64_t>::max());
  if (!id) {
    return Fail(
        ErrorCode::kInvalidArgument,
        fmt::format("backfill id '{}': expected a whole number from 1", Printable(text, 40)));
  }
  return *id;
}

// A whole number in [min, max] from the query, `fallback` when absent.
Result<std::int64_t> IntParam(const Query& query, const std::string& name, std::int64_t fallback,
                              std::int64_t min, std::int64_t max) {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  auto value = ParseWholeNumber(it->second, min, max);
  if (!value) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("query parameter {}: expected a whole number from {} to {}, got '{}'",
                            name, min, max, Printable(it->second, 40)));
  }
  return *value;
}

// The JSON object of a request body (an empty body is {}).
Result<json> BodyObject(const HttpRequest& request) {
  if (request.body.empty()) return json::object();
  const std::string* type = request.Header("content-type");
  if (type == nullptr || type->find("application/json") == std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "the body must be JSON (Content-Type: application/json)");
  }
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "the body is not valid JSON");
  if (!body.is_object()) return Fail(ErrorCode::kInvalidArgument, "the body must be a JSON object");
  return body;
}

// Field `name` of `body`, which must be of `kind` when present.
template <typename T>
Result<std::optional<T>> Field(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<T>();
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean())
      return Fail(ErrorCode::kInvalidArgument, name + ": expected true or false");
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Fail(ErrorCode::kInvalidArgument, name + ": expected a string");
  } else {
    if (!it->is_number_integer()) {
      return Fail(ErrorCode::kInvalidArgument, name + ": expected a whole number");
    }
  }
  return std::optional<T>(it->get<T>());
}

// Refuses fields the endpoint does not know, so that a typo is not silently ignored.
Result<void> KnownFields(const json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown field '{}' (known: {})", Printable(key, 40),
                              fmt::join(known, ", ")));
    }
  }
  return {};
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Compares a fixed-size digest of each, so neither the length nor the content leaks by time.
  unsigned char da[32], db[32];
  Sha256 ha, hb;
  ha.Update(a);
  hb.Update(b);
  ha.DigestAndReset(da);
  hb.DigestAndReset(db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

constexpr std::string_view kSessionCookie = "weir_session";
constexpr Duration kCacheLifetime = std::chrono::seconds(1);
constexpr std::size_t kCacheEntries = 1024;
constexpr Duration kSessionLifetime = std::chrono::hours(12);

// The value of cookie `name` in a Cookie header ("a=1; weir_session=XYZ").
std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t end = header.find(';');
    std::string_view pair = Trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return std::nullopt;
}

// `bytes` random bytes from OpenSSL's CSPRNG, as hex.
std::string RandomHex(int bytes) {
  std::vector<unsigned char> raw(static_cast<std::size_t>(bytes));
  if (RAND_bytes(raw.data(), bytes) != 1) throw std::runtime_error("no random bytes");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

// Whether a browser sent the request from another site: its Origin (sent with every POST by
// browsers) names another host than the one it asked.
bool CrossSite(const HttpRequest& request) {
  const std::string* origin = request.Header("origin");
  if (origin == nullptr) return false;  // not a browser's cross-site request
  const std::string* host = request.Header("host");
  return host == nullptr || (*origin != "http://" + *host && *origin != "https://" + *host);
}

// The route template of a path, for metrics: ids become placeholders, and anything that is not
// a route becomes "other", so that clients cannot mint new label values.
std::string RouteName(const std::vector<std::string>& p) {
  static const std::set<std::string, std::less<>> kWords = {
      "dags",   "runs",      "tasks",    "logs",    "clear",   "mark",  "pause",  "unpause",
      "cancel", "backfills", "datasets", "dataset", "lineage", "audit", "events", "openapi.json"};
  if (p.size() == 1 && (p[0] == "healthz" || p[0] == "metrics")) return "/" + p[0];
  if (p.size() < 2 || p[0] != "api" || p[1] != "v1") return "other";
  std::string route = "/api/v1";
  for (std::size_t i = 2; i < p.size(); ++i) {
    if (i == 3 && p[2] == "dags") {
      route += "/{dag_id}";
    } else if (i == 3 && p[2] == "runs") {
      route += "/{run_id}";
    } else if (i == 3 && p[2] == "backfills") {
      route += "/{backfill_id}";
    } else if (i == 5 && p[4] == "tasks") {
      route += "/{task_id}";
    } else if (kWords.contains(p[i])) {
      route += "/" + p[i];
    } else {
      return "other";
    }
  }
  return route;
}

}  // namespace

std::optional<std::string> AddApiToken(std::vector<ApiToken>* tokens, std::string name,
                                       std::string token) {
  if (token.size() < 16) return "the token is shorter than 16 characters";
  if (std::any_of(tokens->begin(), tokens->end(),
                  [&](const ApiToken& t) { return t.name == name; })) {
    return "this name is given twice";
  }
  tokens->push_back({std::move(name), std::move(token)});
  return std::nullopt;
}

Result<std::vector<ApiToken>> ParseApiTokens(std::string_view text) {
  std::vector<ApiToken> tokens;
  std::size_t start = 0, position = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view entry = Trim(text.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) {
      if (end == text.size()) break;
      continue;
    }
    ++position;
    const std::size_t colon = entry.find(':');
    const std::string name(Trim(entry.substr(0, colon == std::string_view::npos ? 0 : colon)));
    const std::string token(colon == std::string_view::npos ? "" : Trim(entry.substr(colon + 1)));
    auto bad = [&](std::string_view why) {
      return Fail(
          ErrorCode::kInvalidArgument,
          fmt::format("WEIR_API_TOKENS entry {}{}: {} (write name:token,name2:token2)", position,
                      name.empty() ? "" : " ('" + Printable(name, 40) + "')", why));
    };
    if (colon == std::string_view::npos) return bad("expected name:token");
    if (name.empty()) return bad("no name before ':'");
    if (token.empty()) return bad("no token after ':'");
    if (auto why = AddApiToken(&tokens, name, token)) return bad(*why);
    if (end == text.size()) break;
  }
  return tokens;
}

// ---- The API -------------------------------------------------------------------------------

struct Api::Impl {
  Impl(ApiOptions o, Clock& c) : options(std::move(o)), clock(c) {}

  ApiOptions options;
  Clock& clock;

  // Stores, one per thread at a time.
  std::mutex stores_mutex;
  std::vector<std::unique_ptr<state::Store>> idle_stores;

  // The DAG files, re-read when dag_refresh has passed.
  std::mutex dags_mutex;
  dags::DagFileCache dag_cache;
  std::shared_ptr<const dags::LoadResult> loaded;
  Timestamp loaded_at{};

  class StoreLease {
   public:
    StoreLease(Impl* impl, std::unique_ptr<state::Store> store)
        : impl_(impl), store_(std::move(store)) {}
    StoreLease(StoreLease&&) = default;
    ~StoreLease() {
      if (!store_) return;
      std::lock_guard lock(impl_->stores_mutex);
      impl_->idle_stores.push_back(std::move(store_));
    }
    state::Store& operator*() const { return *store_; }
    state::Store* operator->() const { return store_.get(); }

   private:
    Impl* impl_;
    std::unique_ptr<state::Store> store_;
  };

  Result<StoreLease> Store() {
    {
      std::lock_guard lock(stores_mutex);
      if (!idle_stores.empty()) {
        auto store = std::move(idle_stores.back());
        idle_stores.pop_back();
        return StoreLease(this, std::move(store));
      }
    }
    std::error_code ec;  // a fresh home: made as `weir serve` would have made it
    std::filesystem::create_directories(options.state_path.parent_path(), ec);
    auto store = state::Store::Open(options.state_path);
    if (!store) return std::unexpected(store.error());
    return StoreLease(this, std::move(*store));
  }

  std::shared_ptr<const dags::LoadResult> Dags() {
    std::lock_guard lock(dags_mutex);
    const Timestamp now = clock.Now();
    if (!loaded || now - loaded_at >= options.dag_refresh) {
      loaded = std::make_shared<const dags::LoadResult>(
          dags::LoadDags({options.dags_dir}, options.dags_dir, {}, &dag_cache));
      loaded_at = now;
      for (const auto& dag : loaded->dags) dags::MaskReadableSecrets(dag->secrets);
    }
    return loaded;
  }

  Result<std::shared_ptr<const dags::Dag>> FindDag(const std::string& id) {
    auto all = Dags();
    if (auto dag = all->Find(id)) return dag;
    if (auto broken = all->broken.find(id); broken != all->broken.end()) {
      return Fail(ErrorCode::kFailedPrecondition,
                  fmt::format("DAG '{}' has errors in {}; fix them first", id, broken->second));
    }
    return Fail(ErrorCode::kNotFound, fmt::format("no DAG '{}'", Printable(id, 80)));
  }

  // ---- Who is asking ----

  // A dashboard session: signed in with a token, it acts as the token's name; its changes must
  // carry its CSRF token.
  struct Session {
    std::string actor;
    std::string csrf;
    Timestamp expires;
  };
  std::mutex sessions_mutex;
  std::map<std::string, Session, std::less<>> sessions;  // by cookie value

  // The name of the token `given` is, if any (every token compared: no early exit by time).
  std::optional<std::string> TokenName(std::string_view given) const {
    std::optional<std::string> name;
    for (const ApiToken& t : options.tokens) {
      if (ConstantTimeEquals(given, t.token) && !name) name = t.name;
    }
    return name;
  }

  std::optional<Session> FindSession(const HttpRequest& request) {
    const std::string* cookies = request.Header("cookie");
    if (cookies == nullptr) return std::nullopt;
    auto id = CookieValue(*cookies, kSessionCookie);
    if (!id) return std::nullopt;
    std::lock_guard lock(sessions_mutex);
    auto it = sessions.find(*id);
    if (it == sessions.end()) return std::nullopt;
    if (it->second.expires <= clock.Now()) {
      sessions.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

  // The actor of a request that carries a known bearer token, or a session cookie (with its
  // CSRF token when `change`); an answer (401, 403) otherwise.
  std::variant<std::string, HttpResponse> Authenticate(const HttpRequest& request, bool change) {
    const std::string* header = request.Header("authorization");
    if (header == nullptr) {
      if (auto session = FindSession(request)) {
        if (!change) return session->actor;
        const std::string* csrf = request.Header("x-csrf-token");
        if (csrf == nullptr || !ConstantTimeEquals(*csrf, session->csrf)) {
          return ErrorAnswer(403, "the X-CSRF-Token header is missing or wrong for this session");
        }
        return session->actor;
      }
      HttpResponse answer =
          ErrorAnswer(401, "this needs a token: send 'Authorization: Bearer TOKEN', or sign in");
      answer.headers.emplace_back("WWW-Authenticate", "Bearer");
      return answer;
    }
    constexpr std::string_view kBearer = "Bearer ";
    if (header->size() <= kBearer.size() || !header->starts_with(kBearer)) {
      HttpResponse answer = ErrorAnswer(401, "the Authorization header must be 'Bearer TOKEN'");
      answer.headers.emplace_back("WWW-Authenticate", "Bearer");
      return answer;
    }
    auto name = TokenName(std::string_view(*header).substr(kBearer.size()));
    if (!name) return ErrorAnswer(403, "the token is not one of the server's tokens");
    return *name;
  }

  // /api/v1/session: sign in with a token (a session cookie and its CSRF token), ask who is
  // signed in, sign out.
  HttpResponse SessionRoute(const HttpRequest& request, const std::vector<std::string>& path) {
    if (path.size() == 3 && (request.method == "GET" || request.method == "HEAD")) {
      auto session = FindSession(request);
      if (!session) return Json(200, {{"actor", nullptr}, {"csrf", nullptr}});
      return Json(200, {{"actor", session->actor}, {"csrf", session->csrf}});
    }
    if (request.method != "POST") return ErrorAnswer(405, "sign in with POST");
    if (path.size() == 4 && path[3] == "logout") {
      auto who = Authenticate(request, /*change=*/true);
      if (auto* answer = std::get_if<HttpResponse>(&who)) return std::move(*answer);
      if (const std::string* cookies = request.Header("cookie")) {
        if (auto id = CookieValue(*cookies, kSessionCookie)) {
          std::lock_guard lock(sessions_mutex);
          sessions.erase(std::string(*id));
        }
      }
      HttpResponse answer = Json(200, {{"signed_out", true}});
      answer.headers.emplace_back(
          "Set-Cookie",
          fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", kSessionCookie));
      return answer;
    }
    if (path.size() != 3) return ErrorAnswer(404, "no such API endpoint");
    auto body = BodyObject(request);
    if (!body) return ErrorAnswer(body.error());
    if (auto ok = KnownFields(*body, {"token"}); !ok) return ErrorAnswer(ok.error());
    auto token = Field<std::string>(*body, "token");
    if (!token) return ErrorAnswer(token.error());
    if (!*token || (*token)->empty()) return ErrorAnswer(400, "token is required");
    auto name = TokenName(**token);
    if (!name) return ErrorAnswer(403, "the token is not one of the server's tokens");
    const std::string id = RandomHex(32), csrf = RandomHex(32);
    {
      std::lock_guard lock(sessions_mutex);
      const Timestamp now = clock.Now();
      std::erase_if(sessions, [&](const auto& entry) { return entry.second.expires <= now; });
      sessions[id] = Session{*name, csrf, now + kSessionLifetime};
    }
    HttpResponse answer = Json(200, {{"actor", *name}, {"csrf", csrf}});
    answer.headers.emplace_back(
        "Set-Cookie",
        fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", kSessionCookie, id,
                    std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count()));
    return answer;
  }

  // ---- Answers to reads, kept while nothing they show can have changed ----
  //
  // An answer about one DAG (its page, its runs, one of its runs) is kept until its runs change
  // (an event of the run loop, or a change made through the API), any other until anything
  // changes; none longer than kCacheLifetime, so that a change made by another process (the
  // CLI) shows within it. Without telemetry nothing is cached.
  struct Cached {
    std::uint64_t changes = 0;
    Timestamp filled;
    HttpResponse answer;
  };
  std::mutex cache_mutex;
  std::unordered_map<std::string, Cached> cache;

  // What a cacheable read's answer depends on: the DAG it is about, "" for everything; nullopt
  // when it is not cached (logs, audit, lineage, datasets, events, metrics).
  static std::optional<std::string> CacheScope(const std::vector<std::string>& p) {
    if (p.size() < 3 || p[0] != "api" || p[1] != "v1") return std::nullopt;
    if (p.size() == 3 && (p[2] == "dags" || p[2] == "runs")) return "";
    if (p[2] == "dags" && (p.size() == 4 || (p.size() == 5 && p[4] == "runs"))) return p[3];
    if (p[2] == "runs" && p.size() == 4) return p[3].substr(0, p[3].find('@'));
    return std::nullopt;
  }

  std::uint64_t Changes(const std::string& scope) const {
    return scope.empty() ? options.telemetry->Changes() : options.telemetry->Changes(scope);
  }

  // A change made through the API to the runs (or the pause) of `dag_id`.
  void Changed(const std::string& dag_id) {
    if (options.telemetry != nullptr) options.telemetry->NoteChange(dag_id);
  }

  // A version with the attempt that wrote it (run, task, try), so that a page can link to it.
  static json VersionWithWriter(state::Store& store, const state::DatasetVersionRecord& v) {
    json out = VersionJson(v);
    out["writer"] = nullptr;
    if (v.attempt_id) {
      if (auto attempt = store.GetAttempt(*v.attempt_id); attempt && *attempt) {
        out["writer"] = {{"attempt_id", (*attempt)->id},
                         {"run_id", (*attempt)->run_id},
                         {"task_id", (*attempt)->task_id},
                         {"try_number", (*attempt)->try_number}};
      }
    }
    return out;
  }

  HttpResponse Handle(const HttpRequest& request);
  HttpResponse Answer(const HttpRequest& request, const std::vector<std::string>& path);
  HttpResponse Route(const HttpRequest& request, const std::vector<std::string>& path,
                     const Query& query, const std::string& actor);

  // GET
  HttpResponse ListDags(state::Store& store);
  HttpResponse GetDag(state::Store& store, const std::string& dag_id);
  HttpResponse ListRuns(state::Store& store, const std::string& dag_id, const Query& query);
  HttpResponse GetRun(state::Store& store, const std::string& run_id);
  HttpResponse GetLog(state::Store& store, const std::string& run_id, const std::string& task_id,
                      const Query& query);
  HttpResponse ListDatasets(state::Store& store);
  HttpResponse GetDataset(state::Store& store, const Query& query);
  HttpResponse GetLineage(state::Store& store, const Query& query);
  HttpResponse ListAudit(state::Store& store, const Query& query);
  HttpResponse ListBackfills(state::Store& store, const Query& query);
  HttpResponse GetBackfill(state::Store& store, const std::string& id);
  HttpResponse CancelBackfill(state::Store& store, const std::string& id, const json& body,
                              const scheduler::Actor& actor);
  // POST
  HttpResponse Trigger(state::Store& store, const std::string& dag_id, const json& body,
                       const scheduler::Actor& actor);
  HttpResponse Backfill(state::Store& store, const std::string& dag_id, const json& body,
                        const scheduler::Actor& actor);
  HttpResponse Pause(state::Store& store, const std::string& dag_id, bool paused,
                     const scheduler::Actor& actor);
  HttpResponse ClearRun(state::Store& store, const std::string& run_id, const json& body,
                        const scheduler::Actor& actor);
  HttpResponse ClearTask(state::Store& store, const std::string& run_id, const std::string& task_id,
                         const json& body, const scheduler::Actor& actor);
  HttpResponse Mark(state::Store& store, const std::string& run_id, const std::string* task_id,
                    const json& body, const scheduler::Actor& actor);
};

Api::Api(ApiOptions options, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {}
Api::~Api() = default;

HttpResponse Api::Handle(const HttpRequest& request) { return impl_->Handle(request); }

HttpResponse Api::Impl::Handle(const HttpRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  auto path = PathSegments(request.path);
  HttpResponse answer =
      path ? Answer(request, *path)
           : ErrorAnswer(400,
                         "bad path: a segment is '.', '..', has a '/' or NUL once decoded, a "
                         "malformed %-escape, or is not UTF-8");
  if (options.telemetry != nullptr) {
    options.telemetry->CountRequest(
        path ? RouteName(*path) : "other", answer.status,
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started));
  }
  return answer;
}

HttpResponse Api::Impl::Answer(const HttpRequest& request, const std::vector<std::string>& path) {
  auto query = ParseQuery(request.query);
  if (!query) return ErrorAnswer(query.error());
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (!read && request.method != "POST") {
    HttpResponse answer = ErrorAnswer(405, "only GET and POST are served");
    answer.headers.emplace_back("Allow", "GET, POST");
    return answer;
  }
  if (path == std::vector<std::string>{"healthz"}) {
    auto store = Store();
    if (!store) return ErrorAnswer(503, "the state database cannot be opened");
    return Json(200, {{"status", "ok"}});
  }
  if (read && (path.empty() || (path.size() == 2 && path[0] == "assets"))) {
    // The dashboard: public files, like the login page of any site.
    const Asset* asset = FindAsset(path.empty() ? "index.html" : path[1]);
    if (asset == nullptr) return ErrorAnswer(404, "no such file");
    return HttpResponse{.status = 200,
                        .content_type = std::string(ContentTypeOf(asset->name)),
                        .body = std::string(asset->bytes),
                        .headers = {{"Cache-Control", "no-cache"}}};
  }
  const bool metrics = path == std::vector<std::string>{"metrics"};
  if (!metrics && (path.size() < 2 || path[0] != "api" || path[1] != "v1")) {
    return ErrorAnswer(404, "no such page");
  }
  if (!read && CrossSite(request)) {
    return ErrorAnswer(403,
                       "a change from another site is refused (its Origin is not this server)");
  }
  if (path.size() >= 3 && path[0] == "api" && path[1] == "v1" && path[2] == "session") {
    return SessionRoute(request, path);
  }
  std::string actor;
  if (!read || options.auth_reads || !request.from_loopback) {
    auto who = Authenticate(request, /*change=*/!read);
    if (auto* answer = std::get_if<HttpResponse>(&who)) return std::move(*answer);
    actor = std::get<std::string>(who);
  }
  if (metrics) {
    if (!read) return ErrorAnswer(405, "/metrics is read with GET");
    if (options.telemetry == nullptr) return ErrorAnswer(404, "no metrics here");
    auto store = Store();
    if (!store) return ErrorAnswer(503, "the state database cannot be opened");
    auto text = options.telemetry->Render(**store);
    if (!text) return ErrorAnswer(text.error());
    return HttpResponse{.status = 200,
                        .content_type = "text/plain; version=0.0.4; charset=utf-8",
                        .body = std::move(*text)};
  }
  // Every answer is masked: a run's params, a log, an error may hold a secret's value.
  auto route = [&]() -> HttpResponse {
    try {
      HttpResponse answer = Route(request, path, *query, actor);
      if (auto mask = ProcessSecrets::Instance().Mask(); !mask->empty()) {
        answer.body = mask->Apply(answer.body);
      }
      return answer;
    } catch (const std::exception& e) {  // json type errors and the like: our bug, not the user's
      return ErrorAnswer(500, fmt::format("internal error: {}", e.what()));
    }
  };
  std::optional<std::string> scope;
  if (read && options.telemetry != nullptr) scope = CacheScope(path);
  if (!scope) return route();
  const std::string key = request.path + "?" + request.query;
  const std::uint64_t changes = Changes(*scope);  // read before the answer is made
  const Timestamp now = clock.Now();
  {
    std::lock_guard lock(cache_mutex);
    auto it = cache.find(key);
    if (it != cache.end() && it->second.changes == changes &&
        now - it->second.filled < kCacheLifetime) {
      return it->second.answer;
    }
  }
  HttpResponse answer = route();
  if (answer.status == 200) {
    std::lock_guard lock(cache_mutex);
    if (cache.size() >= kCacheEntries) cache.clear();
    cache[key] = Cached{changes, now, answer};
  }
  return answer;
}

HttpResponse Api::Impl::Route(const HttpRequest& request, const std::vector<std::string>& path,
                              const Query& query, const std::string& actor_name) {
  auto store = Store();
  if (!store)
    return ErrorAnswer(503, "the state database cannot be opened: " + store.error().message);
  const std::size_t n = path.size();
  auto at = [&](std::size_t i) -> const std::string& { return path[i]; };
  if (request.method != "POST") {
    if (n == 3 && at(2) == "dags") return ListDags(**store);
    if (n == 4 && at(2) == "dags") return GetDag(**store, at(3));
    if (n == 5 && at(2) == "dags" && at(4) == "runs") return ListRuns(**store, at(3), query);
    if (n == 3 && at(2) == "runs") return ListRuns(**store, "", query);
    if (n == 4 && at(2) == "runs") return GetRun(**store, at(3));
    if (n == 7 && at(2) == "runs" && at(4) == "tasks" && at(6) == "logs") {
      return GetLog(**store, at(3), at(5), query);
    }
    if (n == 3 && at(2) == "datasets") return ListDatasets(**store);
    if (n == 3 && at(2) == "dataset") return GetDataset(**store, query);
    if (n == 3 && at(2) == "lineage") return GetLineage(**store, query);
    if (n == 3 && at(2) == "audit") return ListAudit(**store, query);
    if (n == 3 && at(2) == "backfills") return ListBackfills(**store, query);
    if (n == 4 && at(2) == "backfills") return GetBackfill(**store, at(3));
    if (n == 3 && at(2) == "openapi.json") {
      const Asset* document = FindAsset("openapi.json");
      if (document == nullptr) return ErrorAnswer(404, "no OpenAPI document in this build");
      return HttpResponse{
          .status = 200, .content_type = "application/json", .body = std::string(document->bytes)};
    }
    if (n == 3 && at(2) == "events" && options.telemetry != nullptr) {
      Telemetry* telemetry = options.telemetry;
      return HttpResponse{.status = 200,
                          .content_type = "text/event-stream",
                          .body = ": run and task state changes, as they happen\n\n",
                          .stream = [telemetry](std::function<void(std::string)> send) {
                            return telemetry->Subscribe(std::move(send));
                          }};
    }
    return ErrorAnswer(404, "no such API endpoint");
  }
  auto body = BodyObject(request);
  if (!body) return ErrorAnswer(body.error());
  auto reason = Field<std::string>(*body, "reason");
  if (!reason) return ErrorAnswer(reason.error());
  const scheduler::Actor actor{actor_name, "api", reason->value_or("")};
  if (n == 5 && at(2) == "dags" && at(4) == "runs") return Trigger(**store, at(3), *body, actor);
  if (n == 5 && at(2) == "dags" && at(4) == "backfills")
    return Backfill(**store, at(3), *body, actor);
  if (n == 5 && at(2) == "dags" && (at(4) == "pause" || at(4) == "unpause")) {
    if (auto ok = KnownFields(*body, {"reason"}); !ok) return ErrorAnswer(ok.error());
    return Pause(**store, at(3), at(4) == "pause", actor);
  }
  if (n == 5 && at(2) == "backfills" && at(4) == "cancel") {
    return CancelBackfill(**store, at(3), *body, actor);
  }
  if (n == 5 && at(2) == "runs" && at(4) == "clear") return ClearRun(**store, at(3), *body, actor);
  if (n == 5 && at(2) == "runs" && at(4) == "mark")
    return Mark(**store, at(3), nullptr, *body, actor);
  if (n == 7 && at(2) == "runs" && at(4) == "tasks" && at(6) == "clear") {
    return ClearTask(**store, at(3), at(5), *body, actor);
  }
  if (n == 7 && at(2) == "runs" && at(4) == "tasks" && at(6) == "mark") {
    return Mark(**store, at(3), &at(5), *body, actor);
  }
  return ErrorAnswer(404, "no such API endpoint");
}

// ---- Reads ---------------------------------------------------------------------------------

HttpResponse Api::Impl::ListDags(state::Store& store) {
  auto all = Dags();
  auto paused = store.PausedDags();
  if (!paused) return ErrorAnswer(paused.error());
  const Timestamp now = clock.Now();
  json out = json::array();
  for (const auto& dag : all->dags) {
    auto runs = store.ListRuns(state::RunQuery{.dag_id = dag->id, .limit = 10});
    if (!runs) return ErrorAnswer(runs.error());
    json recent = json::array();
    for (const auto& r : *runs) {
      recent.push_back({{"run_id", r.run_id},
                        {"state", state::Name(r.state)},
                        {"interval_start", FormatIso(r.interval_start)}});
    }
    json next = nullptr;
    if (dag->schedule.kind() == dags::Schedule::Kind::kCron) {
      if (auto tick = dag->schedule.NextTick(now, dag->timezone)) next = FormatIso(*tick);
    }
    out.push_back({{"dag_id", dag->id},
                   {"description", dag->description},
                   {"file", dag->file_display},
                   {"schedule", dag->schedule.text()},
                   {"timezone", dag->timezone},
                   {"paused", std::find(paused->begin(), paused->end(), dag->id) != paused->end()},
                   {"tasks", dag->tasks.size()},
                   {"next_run_at", next},
                   {"recent_runs", recent}});
  }
  json errors = json::array();
  for (const auto& e : all->errors) errors.push_back(e.ToString());
  return Json(200, {{"dags", out}, {"errors", errors}});
}

HttpResponse Api::Impl::GetDag(state::Store& store, const std::string& dag_id) {
  auto dag = FindDag(dag_id);
  if (!dag) return ErrorAnswer(dag.error());
  const dags::Dag& d = **dag;
  auto paused = store.PausedDags();
  if (!paused) return ErrorAnswer(paused.error());
  json tasks = json::array();
  for (const dags::TaskSpec& t : d.tasks) {
    tasks.push_back(
        {{"task_id", t.id}, {"kind", t.kind}, {"description", t.description}, {"deps", t.deps}});
  }
  json next = json::array();
  if (d.schedule.kind() == dags::Schedule::Kind::kCron) {
    Timestamp after = clock.Now();
    for (int i = 0; i < 5; ++i) {
      auto tick = d.schedule.NextTick(after, d.timezone);
      if (!tick) break;
      next.push_back(FormatIso(*tick));
      after = *tick;
    }
  }
  return Json(200, {{"dag_id", d.id},
                    {"description", d.description},
                    {"file", d.file_display},
                    {"schedule", d.schedule.text()},
                    {"timezone", d.timezone},
                    {"catchup", d.catchup},
                    {"max_active_runs", d.max_active_runs},
                    {"paused", std::find(paused->begin(), paused->end(), d.id) != paused->end()},
                    {"params", json::parse(d.params.ToJson(), nullptr, false)},
                    {"tasks", tasks},
                    {"next_runs_at", next}});
}

HttpResponse Api::Impl::ListRuns(state::Store& store, const std::string& dag_id,
                                 const Query& query) {
  state::RunQuery q{.dag_id = dag_id};
  auto limit = IntParam(query, "limit", 25, 1, kMaxPageSize);
  if (!limit) return ErrorAnswer(limit.error());
  auto offset = IntParam(query, "offset", 0, 0, std::numeric_limits<std::int32_t>::max());
  if (!offset) return ErrorAnswer(offset.error());
  q.limit = static_cast<int>(*limit);
  q.offset = static_cast<int>(*offset);
  if (auto it = query.find("state"); it != query.end()) {
    q.state = state::ParseRunState(it->second);
    if (!q.state) {
      return ErrorAnswer(400, fmt::format("state '{}': use queued, running, success or failed",
                                          Printable(it->second, 40)));
    }
  }
  for (const auto& [name, value] : query) {
    if (name != "limit" && name != "offset" && name != "state") {
      return ErrorAnswer(400, fmt::format("unknown query parameter '{}' (known: state, limit, "
                                          "offset)",
                                          Printable(name, 40)));
    }
  }
  if (!dag_id.empty()) {
    auto dag = FindDag(dag_id);
    if (!dag && dag.error().code == ErrorCode::kNotFound) return ErrorAnswer(dag.error());
  }
  auto runs = store.ListRuns(q);
  if (!runs) return ErrorAnswer(runs.error());
  auto total = store.CountRuns(q);
  if (!total) return ErrorAnswer(total.error());
  json out = json::array();
  for (const auto& r : *runs) {
    json run = RunJson(r);
    auto tasks = store.TaskInstances(r.run_id);
    if (!tasks) return ErrorAnswer(tasks.error());
    json states = json::object();
    for (const auto& t : *tasks) states[t.task_id] = state::Name(t.state);
    run["task_states"] = states;
    out.push_back(std::move(run));
  }
  return Json(200, {{"runs", out}, {"total", *total}, {"limit", q.limit}, {"offset", q.offset}});
}

HttpResponse Api::Impl::GetRun(state::Store& store, const std::string& run_id) {
  auto run = store.GetRun(run_id);
  if (!run) return ErrorAnswer(run.error());
  if (!*run) return ErrorAnswer(404, fmt::format("no run '{}'", Printable(run_id, 120)));
  auto tasks = store.TaskInstances(run_id);
  if (!tasks) return ErrorAnswer(tasks.error());
  auto attempts = store.Attempts(run_id, "");
  if (!attempts) return ErrorAnswer(attempts.error());
  json out = RunJson(**run);
  out["tasks"] = json::array();
  for (const auto& t : *tasks) out["tasks"].push_back(TaskJson(t));
  out["attempts"] = json::array();
  for (const auto& a : *attempts) out["attempts"].push_back(AttemptJson(a));
  return Json(200, out);
}

HttpResponse Api::Impl::GetLog(state::Store& store, const std::string& run_id,
                               const std::string& task_id, const Query& query) {
  auto attempts = store.Attempts(run_id, task_id);
  if (!attempts) return ErrorAnswer(attempts.error());
  if (attempts->empty()) {
    return ErrorAnswer(404, fmt::format("no attempt of task '{}' in run '{}'",
                                        Printable(task_id, 80), Printable(run_id, 120)));
  }
  auto try_number = IntParam(query, "try", attempts->back().try_number, 1, 1'000'000);
  if (!try_number) return ErrorAnswer(try_number.error());
  auto offset = IntParam(query, "offset", 0, 0, std::numeric_limits<std::int64_t>::max() / 2);
  if (!offset) return ErrorAnswer(offset.error());
  auto length = IntParam(query, "length", kMaxLogChunk, 1, kMaxLogChunk);
  if (!length) return ErrorAnswer(length.error());
  auto attempt =
      std::find_if(attempts->rbegin(), attempts->rend(),
                   [&](const state::AttemptRecord& a) { return a.try_number == *try_number; });
  if (attempt == attempts->rend()) {
    return ErrorAnswer(404,
                       fmt::format("task '{}' has no try {}", Printable(task_id, 80), *try_number));
  }
  // The path comes from the attempt's row, never from the request.
  std::ifstream in(attempt->log_path, std::ios::binary);
  std::int64_t size = 0;
  std::string text;
  if (in) {
    in.seekg(0, std::ios::end);
    size = static_cast<std::int64_t>(in.tellg());
    const std::int64_t from = std::min(*offset, size);
    const std::int64_t count = std::min(*length, size - from);
    text.resize(static_cast<std::size_t>(count));
    in.seekg(from);
    in.read(text.data(), count);
    text.resize(static_cast<std::size_t>(in.gcount()));
  }
  const std::int64_t from = std::min(*offset, size);
  return Json(200, {{"run_id", run_id},
                    {"task_id", task_id},
                    {"try_number", *try_number},
                    {"state", state::Name(attempt->state)},
                    {"offset", from},
                    {"next_offset", from + static_cast<std::int64_t>(text.size())},
                    {"size", size},
                    {"complete", attempt->ended_at.has_value()},
                    {"text", text}});
}

HttpResponse Api::Impl::ListDatasets(state::Store& store) {
  auto uris = store.DatasetUris();
  if (!uris) return ErrorAnswer(uris.error());
  json out = json::array();
  for (const std::string& uri : *uris) {
    auto latest = store.FindDatasetVersion(uri);
    if (!latest) return ErrorAnswer(latest.error());
    out.push_back({{"dataset", uri},
                   {"latest", *latest ? VersionWithWriter(store, **latest) : json(nullptr)}});
  }
  return Json(200, {{"datasets", out}});
}

HttpResponse Api::Impl::GetDataset(state::Store& store, const Query& query) {
  auto uri = query.find("uri");
  if (uri == query.end() || uri->second.empty()) {
    return ErrorAnswer(400, "query parameter uri is required (e.g. ?uri=warehouse://events)");
  }
  auto limit = IntParam(query, "limit", 50, 1, kMaxPageSize);
  if (!limit) return ErrorAnswer(limit.error());
  auto versions = store.DatasetVersions(uri->second, static_cast<int>(*limit));
  if (!versions) return ErrorAnswer(versions.error());
  if (versions->empty()) {
    return ErrorAnswer(404, fmt::format("no dataset '{}'", Printable(uri->second, 120)));
  }
  auto checks = store.CheckResults(uri->second, "");
  if (!checks) return ErrorAnswer(checks.error());
  json out_versions = json::array(), out_checks = json::array();
  for (const auto& v : *versions) out_versions.push_back(VersionWithWriter(store, v));
  for (const auto& c : *checks) out_checks.push_back(CheckJson(c));
  return Json(200, {{"dataset", uri->second}, {"versions", out_versions}, {"checks", out_checks}});
}

HttpResponse Api::Impl::GetLineage(state::Store& store, const Query& query) {
  auto dataset = query.find("dataset");
  if (dataset == query.end() || dataset->second.empty()) {
    return ErrorAnswer(400, "query parameter dataset is required (URI, or URI@VERSION)");
  }
  std::string uri = dataset->second;
  std::optional<int> version;
  if (const std::size_t at = uri.rfind('@'); at != std::string::npos) {
    if (auto v = ParseWholeNumber(std::string_view(uri).substr(at + 1), 1,
                                  std::numeric_limits<int>::max())) {
      version = static_cast<int>(*v);
      uri.resize(at);
    }
  }
  state::LineageDirection direction = state::LineageDirection::kUpstream;
  if (auto it = query.find("direction"); it != query.end()) {
    if (it->second == "downstream") {
      direction = state::LineageDirection::kDownstream;
    } else if (it->second != "upstream") {
      return ErrorAnswer(400, fmt::format("direction '{}': use upstream or downstream",
                                          Printable(it->second, 40)));
    }
  }
  auto depth = IntParam(query, "depth", 0, 0, 1000);
  if (!depth) return ErrorAnswer(depth.error());
  auto found = store.FindDatasetVersion(uri, version);
  if (!found) return ErrorAnswer(found.error());
  if (!*found) {
    return ErrorAnswer(404,
                       fmt::format("no dataset version '{}'", Printable(dataset->second, 120)));
  }
  auto graph = store.Lineage((*found)->id, direction, static_cast<int>(*depth));
  if (!graph) return ErrorAnswer(graph.error());
  return HttpResponse{.status = 200,
                      .content_type = "application/json",
                      .body = state::LineageGraphToJson(*graph, (*found)->id)};
}

HttpResponse Api::Impl::ListAudit(state::Store& store, const Query& query) {
  state::AuditQuery q;
  auto limit = IntParam(query, "limit", 100, 1, kMaxPageSize);
  if (!limit) return ErrorAnswer(limit.error());
  q.limit = static_cast<int>(*limit);
  if (auto it = query.find("since"); it != query.end()) {
    auto since = ParseTimestamp(it->second);
    if (!since) return ErrorAnswer(400, "since: " + since.error().message);
    q.since = *since;
  }
  if (auto it = query.find("actor"); it != query.end()) q.actor = it->second;
  if (auto it = query.find("dag"); it != query.end()) q.dag = it->second;
  auto events = store.ListAudit(q);
  if (!events) return ErrorAnswer(events.error());
  json out = json::array();
  for (const auto& e : *events) out.push_back(AuditJson(e));
  return Json(200, {{"events", out}});
}

HttpResponse Api::Impl::ListBackfills(state::Store& store, const Query& query) {
  for (const auto& [name, value] : query) {
    if (name != "dag" && name != "limit") {
      return ErrorAnswer(400, fmt::format("unknown query parameter '{}' (known: dag, limit)",
                                          Printable(name, 40)));
    }
  }
  auto limit = IntParam(query, "limit", 25, 1, kMaxPageSize);
  if (!limit) return ErrorAnswer(limit.error());
  auto dag = query.find("dag");
  auto backfills =
      store.ListBackfills(dag == query.end() ? "" : dag->second, static_cast<int>(*limit));
  if (!backfills) return ErrorAnswer(backfills.error());
  json out = json::array();
  for (const auto& b : *backfills) out.push_back(BackfillJson(b));
  return Json(200, {{"backfills", out}});
}

HttpResponse Api::Impl::GetBackfill(state::Store& store, const std::string& id_text) {
  auto parsed = BackfillId(id_text);
  if (!parsed) return ErrorAnswer(parsed.error());
  const std::int64_t id = *parsed;
  std::vector<state::RunRecord> runs;
  auto backfill = store.GetBackfill(id, &runs);
  if (!backfill) return ErrorAnswer(backfill.error());
  if (!*backfill) return ErrorAnswer(404, fmt::format("no backfill {}", id));
  json out = BackfillJson(**backfill);
  out["runs"] = json::array();
  for (const auto& r : runs) out["runs"].push_back(RunJson(r));
  return Json(200, out);
}

// ---- Changes -------------------------------------------------------------------------------

HttpResponse Api::Impl::Trigger(state::Store& store, const std::string& dag_id, const json& body,
                                const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"date", "start", "end", "params", "no_cache", "reason"}); !ok) {
    return ErrorAnswer(ok.error());
  }
  auto date = Field<std::string>(body, "date");
  auto start = Field<std::string>(body, "start");
  auto end = Field<std::string>(body, "end");
  auto no_cache = Field<bool>(body, "no_cache");
  for (const auto* r : {&date, &start, &end}) {
    if (!*r) return ErrorAnswer(r->error());
  }
  if (!no_cache) return ErrorAnswer(no_cache.error());
  std::vector<std::pair<std::string, std::string>> overrides;
  if (auto it = body.find("params"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return ErrorAnswer(400, "params: expected an object of name: value");
    for (const auto& [name, value] : it->items()) {
      if (value.is_object() || value.is_array()) {
        return ErrorAnswer(400, fmt::format("params.{}: expected text, a number or a boolean",
                                            Printable(name, 40)));
      }
      overrides.emplace_back(name, value.is_string() ? value.get<std::string>()
                                   : value.is_null() ? std::string()
                                                     : value.dump());
    }
  }
  auto dag = FindDag(dag_id);
  if (!dag) return ErrorAnswer(dag.error());
  auto params = dags::ResolveParams(**dag, overrides);
  if (!params) return ErrorAnswer(params.error());
  const Timestamp now = clock.Now();
  auto interval = scheduler::ResolveManualInterval(
      **dag, {.date = *date, .start = *start, .end = *end}, "", now);
  if (!interval) return ErrorAnswer(interval.error());
  scheduler::RunRequest request{.interval_start = interval->start,
                                .interval_end = interval->end,
                                .params = *params,
                                .kind = state::RunKind::kManual,
                                .actor = actor.name,
                                .source = "api",
                                .no_cache = no_cache->value_or(false),
                                .reason = actor.reason};
  auto run = scheduler::CreateRun(store, **dag, request, now);
  if (!run) return ErrorAnswer(run.error());
  Changed(run->dag_id);
  return Json(201, RunJson(*run));
}

HttpResponse Api::Impl::Backfill(state::Store& store, const std::string& dag_id, const json& body,
                                 const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"from", "to", "rerun", "max_active_runs", "reverse", "tasks",
                                   "downstream", "dry_run", "reason"});
      !ok) {
    return ErrorAnswer(ok.error());
  }
  auto from = Field<std::string>(body, "from");
  auto to = Field<std::string>(body, "to");
  auto rerun = Field<std::string>(body, "rerun");
  auto tasks = Field<std::string>(body, "tasks");
  auto max_active = Field<std::int64_t>(body, "max_active_runs");
  auto reverse = Field<bool>(body, "reverse");
  auto downstream = Field<bool>(body, "downstream");
  auto dry_run = Field<bool>(body, "dry_run");
  for (const auto* r : {&from, &to, &rerun, &tasks}) {
    if (!*r) return ErrorAnswer(r->error());
  }
  for (const auto* r : {&reverse, &downstream, &dry_run}) {
    if (!*r) return ErrorAnswer(r->error());
  }
  if (!max_active) return ErrorAnswer(max_active.error());
  if (!*from || !*to) return ErrorAnswer(400, "from and to are required (YYYY-MM-DD)");
  scheduler::BackfillOptions options;
  auto from_date = ParseDate(**from);
  if (!from_date) return ErrorAnswer(400, "from: " + from_date.error().message);
  auto to_date = ParseDate(**to);
  if (!to_date) return ErrorAnswer(400, "to: " + to_date.error().message);
  if (*to_date < *from_date) return ErrorAnswer(400, "to must not be before from");
  options.from = *from_date;
  options.to = *to_date;
  const std::string rerun_text = rerun->value_or("none");
  if (rerun_text == "failed") {
    options.rerun = scheduler::BackfillOptions::Rerun::kFailed;
  } else if (rerun_text == "all") {
    options.rerun = scheduler::BackfillOptions::Rerun::kAll;
  } else if (rerun_text != "none") {
    return ErrorAnswer(
        400, fmt::format("rerun '{}': use none, failed or all", Printable(rerun_text, 40)));
  }
  if (*max_active) {
    if (**max_active < 1 || **max_active > 10'000) {
      return ErrorAnswer(400, "max_active_runs: expected a whole number from 1 to 10000");
    }
    options.max_active_runs = static_cast<int>(**max_active);
  }
  options.reverse = reverse->value_or(false);
  options.tasks = *tasks;
  options.downstream = downstream->value_or(false);
  if (options.downstream && !options.tasks) return ErrorAnswer(400, "downstream needs tasks");
  auto dag = FindDag(dag_id);
  if (!dag) return ErrorAnswer(dag.error());
  auto plan = scheduler::PlanBackfill(store, **dag, options);
  if (!plan) return ErrorAnswer(plan.error());
  json runs = json::array();
  for (const auto& r : plan->runs) {
    runs.push_back({{"run_id", r.run_id},
                    {"interval_start", FormatIso(r.start)},
                    {"interval_end", FormatIso(r.end)},
                    {"status", scheduler::Name(r.status)},
                    {"will_run", r.will_run}});
  }
  if (dry_run->value_or(false)) return Json(200, {{"dry_run", true}, {"runs", runs}});
  auto applied = scheduler::ApplyBackfill(store, **dag, options, *plan, actor, clock.Now());
  if (!applied) return ErrorAnswer(applied.error());
  Changed((*dag)->id);
  return Json(201, {{"backfill_id", applied->id}, {"runs", runs}, {"run_ids", applied->run_ids}});
}

HttpResponse Api::Impl::Pause(state::Store& store, const std::string& dag_id, bool paused,
                              const scheduler::Actor& actor) {
  auto dag = FindDag(dag_id);
  if (!dag) return ErrorAnswer(dag.error());
  auto audit =
      scheduler::Audit(actor, clock.Now(), paused ? "pause" : "unpause", "dag:" + (*dag)->id, "{}");
  if (auto ok = store.SetPaused((*dag)->id, paused, audit); !ok) return ErrorAnswer(ok.error());
  Changed((*dag)->id);
  return Json(200, {{"dag_id", (*dag)->id}, {"paused", paused}});
}

namespace {

// The run `run_id` and the DAG it was created with.
Result<std::pair<state::RunRecord, std::shared_ptr<const dags::Dag>>> RunAndDag(
    state::Store& store, const std::string& run_id, const std::filesystem::path& dags_dir) {
  auto run = store.GetRun(run_id);
  if (!run) return std::unexpected(run.error());
  if (!*run) return Fail(ErrorCode::kNotFound, fmt::format("no run '{}'", Printable(run_id, 120)));
  auto dag = scheduler::LoadRunDag(store, **run, dags_dir);
  if (!dag) return std::unexpected(dag.error());
  return std::make_pair(std::move(**run), std::move(*dag));
}

}  // namespace

HttpResponse Api::Impl::ClearRun(state::Store& store, const std::string& run_id, const json& body,
                                 const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"failed_only", "reason"}); !ok) return ErrorAnswer(ok.error());
  auto failed_only = Field<bool>(body, "failed_only");
  if (!failed_only) return ErrorAnswer(failed_only.error());
  auto found = RunAndDag(store, run_id, options.dags_dir);
  if (!found) return ErrorAnswer(found.error());
  auto cleared = scheduler::ClearRun(store, *found->second, found->first,
                                     failed_only->value_or(false), actor, clock.Now());
  if (!cleared) return ErrorAnswer(cleared.error());
  Changed(found->first.dag_id);
  return Json(200, {{"run_id", run_id}, {"cleared", *cleared}});
}

HttpResponse Api::Impl::ClearTask(state::Store& store, const std::string& run_id,
                                  const std::string& task_id, const json& body,
                                  const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"downstream", "upstream", "reason"}); !ok) {
    return ErrorAnswer(ok.error());
  }
  auto downstream = Field<bool>(body, "downstream");
  auto upstream = Field<bool>(body, "upstream");
  if (!downstream) return ErrorAnswer(downstream.error());
  if (!upstream) return ErrorAnswer(upstream.error());
  auto found = RunAndDag(store, run_id, options.dags_dir);
  if (!found) return ErrorAnswer(found.error());
  auto cleared = scheduler::ClearTasks(store, *found->second, found->first, {task_id},
                                       downstream->value_or(false), upstream->value_or(false),
                                       actor, clock.Now());
  if (!cleared) return ErrorAnswer(cleared.error());
  Changed(found->first.dag_id);
  return Json(200, {{"run_id", run_id}, {"cleared", *cleared}});
}

HttpResponse Api::Impl::Mark(state::Store& store, const std::string& run_id,
                             const std::string* task_id, const json& body,
                             const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"state", "reason"}); !ok) return ErrorAnswer(ok.error());
  auto target = Field<std::string>(body, "state");
  if (!target) return ErrorAnswer(target.error());
  if (!*target) return ErrorAnswer(400, "state is required");
  auto run = store.GetRun(run_id);
  if (!run) return ErrorAnswer(run.error());
  if (!*run) return ErrorAnswer(404, fmt::format("no run '{}'", Printable(run_id, 120)));
  const Timestamp now = clock.Now();
  if (task_id == nullptr) {
    auto state = state::ParseRunState(**target);
    if (!state || (*state != state::RunState::kSuccess && *state != state::RunState::kFailed)) {
      return ErrorAnswer(400, fmt::format("state '{}': a run is marked success or failed",
                                          Printable(**target, 40)));
    }
    if (auto ok = scheduler::MarkRun(store, **run, *state, actor, now); !ok) {
      return ErrorAnswer(ok.error());
    }
    Changed((*run)->dag_id);
    return Json(200, {{"run_id", run_id}, {"state", **target}});
  }
  auto state = state::ParseTaskState(**target);
  if (!state || (*state != state::TaskState::kSuccess && *state != state::TaskState::kFailed &&
                 *state != state::TaskState::kSkipped)) {
    return ErrorAnswer(400, fmt::format("state '{}': a task is marked success, failed or skipped",
                                        Printable(**target, 40)));
  }
  if (auto ok = scheduler::MarkTask(store, **run, *task_id, *state, actor, now); !ok) {
    return ErrorAnswer(ok.error());
  }
  Changed((*run)->dag_id);
  return Json(200, {{"run_id", run_id}, {"task_id", *task_id}, {"state", **target}});
}

HttpResponse Api::Impl::CancelBackfill(state::Store& store, const std::string& id_text,
                                       const json& body, const scheduler::Actor& actor) {
  if (auto ok = KnownFields(body, {"reason"}); !ok) return ErrorAnswer(ok.error());
  auto id = BackfillId(id_text);
  if (!id) return ErrorAnswer(id.error());
  auto canceled = scheduler::CancelBackfill(store, *id, actor, clock.Now());
  if (!canceled) return ErrorAnswer(canceled.error());
  Changed(canceled->dag_id);
  auto backfill = store.GetBackfill(*id);
  if (!backfill) return ErrorAnswer(backfill.error());
  if (!*backfill) return ErrorAnswer(404, fmt::format("no backfill {}", *id));
  json out = BackfillJson(**backfill);
  out["canceled"] = canceled->canceled;
  out["still_running"] = canceled->still_running;
  return Json(200, out);
}

}  // namespace weir::webui

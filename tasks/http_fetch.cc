#include "tasks/http_fetch.h"

#include <date/date.h>
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "common/strings.h"

namespace weir::tasks {
namespace {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string origin;  // scheme://host[:port]
  std::string target;  // /path?query
};

Result<Url> SplitUrl(const std::string& url) {
  std::size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}' is not an http:// or https:// URL", Printable(url)));
  }
  std::size_t path = url.find('/', scheme_end + 3);
  Url out{url.substr(0, path), path == std::string::npos ? "/" : url.substr(path)};
  if (out.origin.size() == scheme_end + 3) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("'{}' names no host", Printable(url)));
  }
  // host[:port] as httplib takes it, checked here: it throws on a port beyond an int, wraps one
  // beyond 65535, and looks up a host with spaces in it (a network error, retried).
  std::string_view host = std::string_view(out.origin).substr(scheme_end + 3), port;
  const std::size_t colon = host.find(':', host.starts_with('[') ? host.find(']') : 0);
  if (colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  int number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (colon != std::string_view::npos &&
      (ec != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535)) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("'{}' has a bad port '{}' (1 to 65535)",
                                                         Printable(url), Printable(port)));
  }
  if (host.empty() || std::any_of(host.begin(), host.end(), [](unsigned char c) {
        return c <= ' ' || c == 0x7f || c == '@';
      })) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}' names no valid host ('{}')", Printable(url), Printable(host)));
  }
  return out;
}

// How one try ended.
struct Try {
  int status = 0;           // 0: no answer
  std::string error;        // why there is no body
  bool retryable = false;   // 429, 5xx, a network error or a deadline
  double retry_after = -1;  // seconds, from a Retry-After header
  std::string body;
};

// One request to `url`, redirects not followed; `location` gets a redirect's target.
Try SendOne(const Url& url, const httplib::Headers& headers, const HttpRequest& request,
            Clock::time_point deadline, std::string* location) {
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(request.timeout_seconds));
  httplib::Client client(url.origin);
  client.set_follow_location(false);
  client.set_connection_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
  client.set_read_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
  client.set_write_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
  Try t;
  bool late = false, too_big = false;
  std::string error_page;  // the start of a non-2xx body, for the message
  httplib::Request req;
  req.method = request.method;
  req.path = url.target;
  req.headers = headers;
  if (request.method == "POST") {
    req.body = request.body;
    req.set_header("Content-Type", request.content_type);
  }
  req.response_handler = [&](const httplib::Response& response) {
    t.status = response.status;
    if (response.status >= 300 && response.status < 400 && response.has_header("Location")) {
      *location = response.get_header_value("Location");
    }
    if (response.has_header("Retry-After")) {
      t.retry_after = RetryAfterSeconds(response.get_header_value("Retry-After"),
                                        std::chrono::system_clock::now());
    }
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    if (Clock::now() > deadline) {
      late = true;
      return false;
    }
    if (t.status < 200 || t.status >= 300) {
      error_page.append(
          data, std::min<std::size_t>(size, 200 - std::min<std::size_t>(200, error_page.size())));
      return true;
    }
    if (static_cast<std::int64_t>(t.body.size() + size) > request.max_bytes) {
      too_big = true;
      return false;
    }
    t.body.append(data, size);
    return true;
  };
  auto result = client.send(req);
  const std::string page = error_page.empty() ? "" : ": " + Printable(error_page, 200);
  if (too_big) {
    t.error = fmt::format("the body is larger than max_bytes ({} bytes)", request.max_bytes);
  } else if (late || (!result && Clock::now() > deadline)) {
    t.error = fmt::format("no complete answer within the timeout ({}s)", request.timeout_seconds);
    t.retryable = true;
  } else if (!result) {
    t.error = httplib::to_string(result.error());
    t.retryable = true;
  } else if (t.status == 408 || t.status == 409 || t.status == 429 || t.status >= 500) {
    t.error = fmt::format("HTTP {}{}", t.status, page);
    t.retryable = true;
  } else if (t.status < 200 || t.status >= 300) {
    t.error = fmt::format("HTTP {}{}", t.status, page);
  }
  return t;
}

// One try: the request and the redirects it leads to (at most 5), all before one deadline.
// Headers (tokens, from the environment) go only to the origin they were configured for.
Try SendOnce(const Url& url, const httplib::Headers& headers, const HttpRequest& request) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(request.timeout_seconds));
  Url at = url;
  for (int hop = 0;; ++hop) {
    std::string location;
    const bool same_origin = at.origin == url.origin;
    Try t = SendOne(at, same_origin ? headers : httplib::Headers{}, request, deadline, &location);
    if (location.empty() || t.status < 300 || t.status >= 400) return t;
    if (request.method != "GET") {
      t.error = fmt::format("HTTP {} redirects a {} to {}, which weir does not follow", t.status,
                            request.method, Printable(location));
      return t;
    }
    if (hop == 5) {
      t.error = "more than 5 redirects";
      return t;
    }
    if (location.starts_with("/")) {
      at.target = location;
    } else if (auto next = SplitUrl(location)) {
      at = *next;
    } else {
      t.error = fmt::format("HTTP {} redirects to {}, which weir does not follow", t.status,
                            Printable(location));
      return t;
    }
  }
}

}  // namespace

double RetryAfterSeconds(std::string_view value, std::chrono::system_clock::time_point now) {
  if (!value.empty() && std::all_of(value.begin(), value.end(), ::isdigit)) {
    return std::atof(std::string(value).c_str());
  }
  std::istringstream in{std::string(value)};
  date::sys_seconds at;
  in >> date::parse("%a, %d %b %Y %H:%M:%S GMT", at);
  if (in.fail()) return -1;
  auto wait = at - std::chrono::time_point_cast<std::chrono::seconds>(now);
  return std::max<double>(0, static_cast<double>(wait.count()));
}

Result<std::string> HttpFetch(const HttpRequest& request) {
  auto url = SplitUrl(request.url);
  if (!url) return std::unexpected(url.error());
  httplib::Headers headers;
  for (const auto& [name, variable] : request.headers) {
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} {}: header {} comes from ${}, which is not set", request.method,
                              request.url, name, variable));
    }
    headers.emplace(name, value);
  }
  for (const auto& [name, value] : request.header_values) headers.emplace(name, value);
  std::minstd_rand jitter(std::random_device{}());
  double backoff = request.backoff_seconds;
  for (int attempt = 1;; ++attempt) {
    Try t = SendOnce(*url, headers, request);
    if (t.error.empty()) return std::move(t.body);
    if (!t.retryable || attempt > request.retries) {
      return Fail(t.retryable ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument,
                  fmt::format("{} {}: {} ({} {})", request.method, request.url, t.error, attempt,
                              attempt == 1 ? "try" : "tries"));
    }
    const double jittered = backoff * std::uniform_real_distribution<double>(0.75, 1.25)(jitter);
    double wait = t.retry_after >= 0 ? std::min(t.retry_after, 60.0) : jittered;
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    backoff *= 2;
  }
}

}  // namespace weir::tasks

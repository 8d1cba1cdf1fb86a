// One HTTP request as an `ingest` source (a GET) or an embedding provider (a POST) makes it
// (docs/tasks.md#http): headers whose values come from environment variables (so that tokens
// stay out of DAG files), retries with jittered exponential backoff on 408, 409, 429, 5xx and
// network errors, a deadline per try that also ends a body that trickles without end, and a
// cap on the body's size.
#ifndef WEIR_TASKS_HTTP_FETCH_H_
#define WEIR_TASKS_HTTP_FETCH_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

struct HttpRequest {
  std::string method = "GET";                                // GET or POST
  std::string url;                                           // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;  // header name, environment variable
  std::vector<std::pair<std::string, std::string>> header_values;  // header name, its value
  std::string body;                                                // POST: sent as content_type
  std::string content_type = "application/json";
  double timeout_seconds = 30;  // one try, from connecting to the body's last byte
  int retries = 3;              // more tries after a 408, 409, 429, 5xx or a network error
  // Before the first retry, jittered by up to a quarter either way, doubling with each; a
  // Retry-After header (up to 60 s) stands instead.
  double backoff_seconds = 1;
  std::int64_t max_bytes = 100 << 20;
};

// The body of a 2xx answer. Errors name the method and URL and say why: the status of the last
// try (with the start of its body) and how many tries were made, a deadline passed, the size cap
// exceeded, a header's environment variable unset, a malformed URL. A GET follows up to 5
// redirects; a POST follows none.
[[nodiscard]] Result<std::string> HttpFetch(const HttpRequest& request);

// A Retry-After value in seconds from `now`: delay-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2026 07:28:00 GMT", RFC 9110; 0 once past); -1 when it is neither.
double RetryAfterSeconds(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_HTTP_FETCH_H_

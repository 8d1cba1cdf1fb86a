#include "scheduler/retry.h"

#include <catch2/catch.hpp>

namespace weir::scheduler {
namespace {

using std::chrono::seconds;

TEST_CASE("fixed backoff waits retry_delay before every retry", "[scheduler]") {
  dags::RetryPolicy policy{.retries = 5, .retry_delay = seconds(30)};
  for (int t = 1; t <= 5; ++t) CHECK(RetryDelay(policy, t, "run/task") == seconds(30));
}

TEST_CASE(
    "exponential backoff doubles the delay, capped at max_retry_delay, jittered down by "
    "at most half",
    "[scheduler]") {
  dags::RetryPolicy policy{.retries = 10,
                           .retry_delay = seconds(10),
                           .backoff = dags::Backoff::kExponential,
                           .max_retry_delay = seconds(100)};
  const Duration uncapped[] = {seconds(10),  seconds(20),  seconds(40), seconds(80),
                               seconds(100), seconds(100), seconds(100)};
  for (int t = 1; t <= 7; ++t) {
    Duration d = RetryDelay(policy, t, "daily@2026-01-01T00:00:00Z/extract");
    Duration full = uncapped[t - 1];
    INFO("try " << t << ": " << d.count() << "ms");
    CHECK(d <= full);
    CHECK(d >= full / 2);
  }
}

TEST_CASE("the jitter is deterministic for a key and differs between keys", "[scheduler]") {
  dags::RetryPolicy policy{.retry_delay = seconds(60),
                           .backoff = dags::Backoff::kExponential,
                           .max_retry_delay = std::chrono::hours(1)};
  CHECK(RetryDelay(policy, 3, "a") == RetryDelay(policy, 3, "a"));
  int differing = 0;
  for (int i = 0; i < 20; ++i) {
    if (RetryDelay(policy, 3, "a") != RetryDelay(policy, 3, "key" + std::to_string(i))) {
      ++differing;
    }
  }
  CHECK(differing >= 18);
}

TEST_CASE("a huge try number neither overflows nor exceeds the cap", "[scheduler]") {
  dags::RetryPolicy policy{.retry_delay = std::chrono::hours(24),
                           .backoff = dags::Backoff::kExponential,
                           .max_retry_delay = std::chrono::hours(48)};
  Duration d = RetryDelay(policy, 100, "k");
  CHECK(d <= std::chrono::hours(48));
  CHECK(d >= std::chrono::hours(24));
}

}  // namespace
}  // namespace weir::scheduler

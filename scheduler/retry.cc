#include "scheduler/retry.h"

#include <algorithm>
#include <string>

#include "common/hash.h"

namespace weir::scheduler {

Duration RetryDelay(const dags::RetryPolicy& policy, int try_number, std::string_view jitter_key) {
  if (policy.backoff == dags::Backoff::kFixed) return policy.retry_delay;
  const std::int64_t base = policy.retry_delay.count();
  const std::int64_t cap = std::max(policy.max_retry_delay.count(), std::int64_t{0});
  std::int64_t delay = base;
  for (int i = 1; i < try_number && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  // Jitter: keep between half and all of the delay.
  std::uint64_t h = Fnv1a64(std::string(jitter_key) + "#" + std::to_string(try_number));
  double fraction = static_cast<double>(h % 1'000'000) / 1'000'000.0;  // [0, 1)
  return Duration(delay - static_cast<std::int64_t>(static_cast<double>(delay) * 0.5 * fraction));
}

}  // namespace weir::scheduler

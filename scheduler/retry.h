// Retry delays: fixed, or exponential with jitter and a cap.
#ifndef WEIR_SCHEDULER_RETRY_H_
#define WEIR_SCHEDULER_RETRY_H_

#include <string_view>

#include "common/time.h"
#include "dags/dag.h"

namespace weir::scheduler {

// The delay before the retry that follows failed try `try_number` (1 = the first attempt).
// Fixed: retry_delay. Exponential: retry_delay * 2^(try_number - 1), capped at max_retry_delay,
// then jittered down by up to half, deterministically from `jitter_key` (so a replay of the
// same run computes the same delays and tests need no randomness).
Duration RetryDelay(const dags::RetryPolicy& policy, int try_number, std::string_view jitter_key);

}  // namespace weir::scheduler

#endif  // WEIR_SCHEDULER_RETRY_H_

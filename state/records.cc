#include "state/records.h"

#include <array>

namespace weir::state {
namespace {

template <typename E, std::size_t N>
const char* NameOf(E value, const std::array<const char*, N>& names) {
  auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : "?";
}

template <typename E, std::size_t N>
std::optional<E> Parse(std::string_view text, const std::array<const char*, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::array<const char*, 3> kRunKinds = {"scheduled", "manual", "backfill"};
constexpr std::array<const char*, 4> kRunStates = {"queued", "running", "success", "failed"};
constexpr std::array<const char*, 10> kTaskStates = {
    "pending", "scheduled",    "queued",          "running", "success",
    "failed",  "up_for_retry", "upstream_failed", "skipped", "cached"};
constexpr std::array<const char*, 4> kAttemptStates = {"running", "success", "failed", "skipped"};

}  // namespace

const char* Name(RunKind k) { return NameOf(k, kRunKinds); }
const char* Name(RunState s) { return NameOf(s, kRunStates); }
const char* Name(TaskState s) { return NameOf(s, kTaskStates); }
const char* Name(AttemptState s) { return NameOf(s, kAttemptStates); }
std::optional<RunKind> ParseRunKind(std::string_view s) { return Parse<RunKind>(s, kRunKinds); }
std::optional<RunState> ParseRunState(std::string_view s) { return Parse<RunState>(s, kRunStates); }
std::optional<TaskState> ParseTaskState(std::string_view s) {
  return Parse<TaskState>(s, kTaskStates);
}
std::optional<AttemptState> ParseAttemptState(std::string_view s) {
  return Parse<AttemptState>(s, kAttemptStates);
}

bool IsFinished(TaskState s) {
  switch (s) {
    case TaskState::kSuccess:
    case TaskState::kFailed:
    case TaskState::kUpstreamFailed:
    case TaskState::kSkipped:
    case TaskState::kCached:
      return true;
    default:
      return false;
  }
}

}  // namespace weir::state

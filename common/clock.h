// The clock seam. Everything that asks "what time is it" or "wake me at T" goes through a Clock,
// so tests drive time by hand instead of sleeping (LevelDB's Env, ninja's tests).
// Thread-safety: both clocks may be used from several threads.
#ifndef WEIR_COMMON_CLOCK_H_
#define WEIR_COMMON_CLOCK_H_

#include <atomic>

#include "common/time.h"

namespace weir {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
  // True for a clock that only moves when a test advances it; waits then never block on it.
  virtual bool IsManual() const { return false; }
};

// The wall clock (CLOCK_REALTIME), truncated to milliseconds.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  static SystemClock& Instance();
};

// A clock that moves only when told to. Used by tests and by simulations.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_ms_(ToMillis(start)) {}
  Timestamp Now() const override { return FromMillis(now_ms_.load()); }
  bool IsManual() const override { return true; }
  void Set(Timestamp t) { now_ms_.store(ToMillis(t)); }
  void Advance(Duration d) { now_ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace weir

#endif  // WEIR_COMMON_CLOCK_H_

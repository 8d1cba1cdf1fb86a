// A DAG's schedule: a 5-field cron expression, a macro (@hourly, @daily, @weekly, @monthly,
// @yearly/@annually, @once) or "none", and its ticks in a time zone. Cron fields are matched
// against local wall-clock time; across DST changes a local time that does not exist fires once,
// at the first valid instant after the gap, and an ambiguous one fires once, at its first
// occurrence. The data interval of a tick T is [the tick before T, T).
#ifndef WEIR_DAGS_SCHEDULE_H_
#define WEIR_DAGS_SCHEDULE_H_

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/time.h"

namespace weir::dags {

class Schedule {
 public:
  enum class Kind { kNone, kOnce, kCron };

  Schedule() = default;  // "none"
  // Errors say which field is wrong and why: "minute field: 61 is out of range 0-59".
  [[nodiscard]] static Result<Schedule> Parse(std::string_view text);

  Kind kind() const { return kind_; }
  // The expression as written ("0 2 * * *", "@daily", "none").
  const std::string& text() const { return text_; }

  // The first tick strictly after `after` in `zone` (an IANA name), or nullopt when there is
  // none (kNone, kOnce, an unknown zone, or no matching date within 50 years).
  std::optional<Timestamp> NextTick(Timestamp after, std::string_view zone) const;
  // The last tick strictly before `before`, or nullopt.
  std::optional<Timestamp> PreviousTick(Timestamp before, std::string_view zone) const;

  // Cron fields (only meaningful for kCron). Bit i set: value i matches. Day of week 0 = Sunday.
  const std::bitset<60>& minutes() const { return minutes_; }
  const std::bitset<24>& hours() const { return hours_; }
  const std::bitset<32>& days_of_month() const { return days_of_month_; }
  const std::bitset<13>& months() const { return months_; }
  const std::bitset<7>& days_of_week() const { return days_of_week_; }
  // Whether day-of-month / day-of-week was "*" (cron's OR rule applies when neither is).
  bool day_of_month_any() const { return dom_any_; }
  bool day_of_week_any() const { return dow_any_; }

 private:
  // Whether the month, day-of-month and day-of-week fields match this local date.
  bool MatchesDay(int year, unsigned month, unsigned day) const;

  Kind kind_ = Kind::kNone;
  std::string text_ = "none";
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;
  std::bitset<13> months_;
  std::bitset<7> days_of_week_;
  bool dom_any_ = true;
  bool dow_any_ = true;
};

}  // namespace weir::dags

#endif  // WEIR_DAGS_SCHEDULE_H_

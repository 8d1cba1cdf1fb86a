// Time in weir is UTC, in whole milliseconds since the Unix epoch, everywhere it is stored or
// compared. Zones matter only at the edges: rendering `ds` in a DAG's timezone and turning a
// local calendar date into an instant. These helpers keep HowardHinnant date out of headers.
#ifndef WEIR_COMMON_TIME_H_
#define WEIR_COMMON_TIME_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace weir {

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t ToMillis(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp FromMillis(std::int64_t ms) { return Timestamp(Duration(ms)); }

// "500ms", "30s", "10m", "2h", "7d", or a sum written without spaces ("1h30m"). Not negative.
[[nodiscard]] Result<Duration> ParseDuration(std::string_view text);

// Short human form: "850ms", "4.2s", "3m05s", "2h10m", "3d4h".
std::string FormatDuration(Duration d);

// The same text ParseDuration accepts, in the largest exact unit ("90s" -> "90s", "2h" -> "2h").
std::string DurationToString(Duration d);

// A calendar date, validated (2026-02-30 is refused).
struct CivilDate {
  int year = 1970;
  unsigned month = 1;
  unsigned day = 1;
  auto operator<=>(const CivilDate&) const = default;
};

// Strict "YYYY-MM-DD".
[[nodiscard]] Result<CivilDate> ParseDate(std::string_view text);
std::string FormatDate(CivilDate d);
CivilDate AddDays(CivilDate d, int days);

// ISO-8601: "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z", an
// offset "+HH:MM", or nothing (UTC).
[[nodiscard]] Result<Timestamp> ParseTimestamp(std::string_view text);

// "2026-02-01T03:00:00Z"; milliseconds appear only when not zero.
std::string FormatIso(Timestamp t);

// Whether `zone` names an IANA time zone in the system tzdata ("UTC" always does).
bool IsKnownZone(std::string_view zone);

// The instant at which local midnight of `date` begins in `zone` (the first valid local time
// that day when midnight itself falls in a DST gap). `zone` must be known.
[[nodiscard]] Result<Timestamp> StartOfLocalDay(CivilDate date, std::string_view zone);

// The local calendar date of instant `t` in `zone`.
[[nodiscard]] Result<CivilDate> LocalDate(Timestamp t, std::string_view zone);

}  // namespace weir

#endif  // WEIR_COMMON_TIME_H_

#include "common/time.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "common/strings.h"

namespace weir {
namespace {

// Reads exactly `width` digits at `pos`; advances pos.
bool ReadDigits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool Expect(std::string_view s, std::size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// UTC needs no time zone database: the first lookup in it reads the names of every zone
// (a walk of /usr/share/zoneinfo, a few milliseconds at every command's start).
bool IsUtc(std::string_view zone) { return zone == "UTC" || zone == "Etc/UTC"; }

Result<const date::time_zone*> LocateZone(std::string_view zone) {
  try {
    return date::locate_zone(zone);
  } catch (const std::exception&) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("unknown time zone '{}'", Printable(zone)));
  }
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Fail(ErrorCode::kInvalidArgument, "empty duration");
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("bad duration '{}': {} (use e.g. 500ms, 30s, 10m, 2h, 7d)",
                            Printable(text), why));
  };
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 4;
  std::int64_t total_ms = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // from_chars would take a sign; "-5s" and "1h-30m" are not durations.
    if (text[pos] == '-' || text[pos] == '+') return bad("a duration has no sign");
    std::int64_t number = 0;
    auto [next, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), number);
    if (ec == std::errc::result_out_of_range) return bad("too large");
    if (ec != std::errc() || next == text.data() + pos) return bad("expected a whole number");
    pos = static_cast<std::size_t>(next - text.data());
    std::size_t unit_start = pos;
    while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    std::int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit.empty()) {
      return bad("missing unit");
    } else {
      return bad(fmt::format("unknown unit '{}'", unit));
    }
    if (number > kMax / scale || total_ms > kMax - number * scale) return bad("too large");
    total_ms += number * scale;
  }
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  std::int64_t ms = d.count();
  if (ms < 0) return "-" + FormatDuration(Duration(-ms));
  if (ms < 1000) return fmt::format("{}ms", ms);
  // Truncated like the larger units, so 59999ms is "59.9s", never "60.0s".
  if (ms < 60'000) return fmt::format("{}.{}s", ms / 1000, (ms % 1000) / 100);
  std::int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{}h", s / 86400, (s % 86400) / 3600);
}

std::string DurationToString(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 86'400'000 == 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Result<CivilDate> ParseDate(std::string_view text) {
  std::size_t pos = 0;
  int y = 0, m = 0, d = 0;
  if (!ReadDigits(text, pos, 4, y) || !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, m) ||
      !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, d) || pos != text.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("bad date '{}': expected YYYY-MM-DD", Printable(text)));
  }
  date::year_month_day ymd{date::year(y), date::month(static_cast<unsigned>(m)),
                           date::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("bad date '{}': no such day", Printable(text)));
  }
  return CivilDate{y, static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

std::string FormatDate(CivilDate d) {
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

CivilDate AddDays(CivilDate d, int days) {
  date::sys_days day =
      date::year_month_day{date::year(d.year), date::month(d.month), date::day(d.day)};
  date::year_month_day out{day + date::days(days)};
  return CivilDate{static_cast<int>(out.year()), static_cast<unsigned>(out.month()),
                   static_cast<unsigned>(out.day())};
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("bad timestamp '{}': {} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
                            Printable(text), why));
  };
  if (text.size() < 10) return bad("too short");
  auto day = ParseDate(text.substr(0, 10));
  if (!day) return bad("not a valid date");
  date::sys_days days =
      date::year_month_day{date::year(day->year), date::month(day->month), date::day(day->day)};
  Timestamp t = std::chrono::time_point_cast<Duration>(date::sys_time<Duration>(days));
  std::size_t pos = 10;
  if (pos == text.size()) return t;
  if (text[pos] != 'T' && text[pos] != ' ') return bad("expected 'T' after the date");
  ++pos;
  int hh = 0, mm = 0, ss = 0, frac = 0;
  if (!ReadDigits(text, pos, 2, hh) || !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, mm)) {
    return bad("expected HH:MM");
  }
  if (Expect(text, pos, ':')) {
    if (!ReadDigits(text, pos, 2, ss)) return bad("expected seconds");
    if (Expect(text, pos, '.')) {
      std::size_t start = pos;
      int digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits < 3) frac = frac * 10 + (text[pos] - '0'), ++digits;
        ++pos;
      }
      if (pos == start) return bad("expected fractional seconds");
      while (digits < 3) frac *= 10, ++digits;
    }
  }
  if (hh > 23 || mm > 59 || ss > 59) return bad("time of day out of range");
  t +=
      std::chrono::hours(hh) + std::chrono::minutes(mm) + std::chrono::seconds(ss) + Duration(frac);
  if (pos == text.size()) return t;
  if (text[pos] == 'Z' && pos + 1 == text.size()) return t;
  if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int oh = 0, om = 0;
    if (!ReadDigits(text, pos, 2, oh)) return bad("bad UTC offset");
    Expect(text, pos, ':');
    if (!ReadDigits(text, pos, 2, om) || pos != text.size() || oh > 23 || om > 59) {
      return bad("bad UTC offset");
    }
    return t - sign * (std::chrono::hours(oh) + std::chrono::minutes(om));
  }
  return bad("unexpected text after the time");
}

std::string FormatIso(Timestamp t) {
  auto days = std::chrono::floor<date::days>(t);
  date::year_month_day ymd{days};
  date::hh_mm_ss<Duration> tod{t - days};
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  tod.hours().count(), tod.minutes().count(), tod.seconds().count());
  if (tod.subseconds().count() != 0) out += fmt::format(".{:03}", tod.subseconds().count());
  out += 'Z';
  return out;
}

bool IsKnownZone(std::string_view zone) { return IsUtc(zone) || LocateZone(zone).has_value(); }

Result<Timestamp> StartOfLocalDay(CivilDate day, std::string_view zone_name) {
  date::local_days local{
      date::year_month_day{date::year(day.year), date::month(day.month), date::day(day.day)}};
  if (IsUtc(zone_name)) {
    return std::chrono::time_point_cast<Duration>(date::sys_days(local.time_since_epoch()));
  }
  auto zone = LocateZone(zone_name);
  if (!zone) return std::unexpected(zone.error());
  date::local_info info = (*zone)->get_info(date::local_seconds(local));
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // midnight twice: the first one
      return std::chrono::time_point_cast<Duration>(
          date::sys_seconds(local.time_since_epoch() - info.first.offset));
    case date::local_info::nonexistent:  // midnight skipped: the day starts at the transition
      return std::chrono::time_point_cast<Duration>(info.second.begin);
  }
  return Fail(ErrorCode::kInternal, "unreachable local_info result");
}

Result<CivilDate> LocalDate(Timestamp t, std::string_view zone_name) {
  date::year_month_day ymd;
  if (IsUtc(zone_name)) {
    ymd = date::year_month_day{std::chrono::floor<date::days>(t)};
  } else {
    auto zone = LocateZone(zone_name);
    if (!zone) return std::unexpected(zone.error());
    ymd = date::year_month_day{std::chrono::floor<date::days>((*zone)->to_local(t))};
  }
  return CivilDate{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                   static_cast<unsigned>(ymd.day())};
}

}  // namespace weir

#include "dags/schedule.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <vector>

#include "common/strings.h"

namespace weir::dags {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names for min..min+n-1, or nullptr
  int name_count;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kDayNames, 7},
}};

Result<int> ParseFieldValue(std::string_view text, const FieldSpec& spec) {
  if (spec.names != nullptr && text.size() == 3) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    for (int i = 0; i < spec.name_count; ++i) {
      if (lower == spec.names[i]) return spec.names == kMonthNames ? i + 1 : i;
    }
  }
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{} field: '{}' is not a number{}", spec.name, Printable(text),
                            spec.names ? " or a name" : ""));
  }
  if (value < spec.min || value > spec.max) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("{} field: {} is out of range {}-{}",
                                                         spec.name, value, spec.min, spec.max));
  }
  return value;
}

// Parses one field ("*/15", "1-5", "mon,wed-fri", "5/10") into the set of matching values.
Result<std::vector<bool>> ParseField(std::string_view field, const FieldSpec& spec, bool* any) {
  std::vector<bool> set(spec.max + 1, false);
  *any = field == "*" || field == "?";
  std::size_t pos = 0;
  while (pos <= field.size()) {
    std::size_t comma = field.find(',', pos);
    if (comma == std::string_view::npos) comma = field.size();
    std::string_view item = field.substr(pos, comma - pos);
    if (item.empty()) {
      return Fail(ErrorCode::kInvalidArgument, fmt::format("{} field: empty list item", spec.name));
    }
    int step = 1;
    std::size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    if (slash != std::string_view::npos) {
      std::string_view step_text = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || end != step_text.data() + step_text.size() || step <= 0 ||
          step > spec.max) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("{} field: bad step '{}'", spec.name, Printable(step_text)));
      }
    }
    int lo = spec.min, hi = spec.max;
    if (range != "*" && range != "?") {
      std::size_t dash = range.find('-', 1);
      auto first = ParseFieldValue(range.substr(0, dash), spec);
      if (!first) return std::unexpected(first.error());
      lo = *first;
      if (dash != std::string_view::npos) {
        auto last = ParseFieldValue(range.substr(dash + 1), spec);
        if (!last) return std::unexpected(last.error());
        hi = *last;
        if (hi < lo) {
          return Fail(ErrorCode::kInvalidArgument,
                      fmt::format("{} field: range {}-{} runs backwards", spec.name, lo, hi));
        }
      } else if (slash == std::string_view::npos) {
        hi = lo;  // a single value; "5/10" means from 5 to the end in steps of 10
      }
    }
    for (int v = lo; v <= hi; v += step) set[v] = true;
    pos = comma + 1;
  }
  return set;
}

template <std::size_t N>
void Fill(std::bitset<N>& bits, const std::vector<bool>& set) {
  for (std::size_t i = 0; i < N && i < set.size(); ++i) bits[i] = set[i];
}

// How far a search for the next or previous tick looks before giving up: enough for
// "0 0 29 2 1" (29 February on a Monday), which recurs only every 28 years or so.
constexpr int kSearchDays = 366 * 50;

}  // namespace

namespace {

// The instant a local wall-clock time stands for, by the DST rule of the header: a time in a
// gap becomes the end of the gap; a repeated time, its first occurrence.
Timestamp ToInstant(const date::time_zone& zone, date::local_seconds local) {
  date::local_info info = zone.get_info(local);
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:
      return std::chrono::time_point_cast<Duration>(
          date::sys_seconds(local.time_since_epoch() - info.first.offset));
    case date::local_info::nonexistent:
      return std::chrono::time_point_cast<Duration>(info.second.begin);
  }
  return Timestamp();
}

const date::time_zone* FindZone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

bool Schedule::MatchesDay(int year, unsigned month, unsigned day) const {
  if (!months_[month]) return false;
  date::year_month_day ymd{date::year(year), date::month(month), date::day(day)};
  unsigned weekday = date::weekday(date::sys_days(ymd)).c_encoding();  // 0 = Sunday
  bool dom = days_of_month_[day];
  bool dow = days_of_week_[weekday];
  // Vixie cron and croniter: when both fields are restricted, either one matching is enough.
  if (!dom_any_ && !dow_any_) return dom || dow;
  return dom && dow;
}

std::optional<Timestamp> Schedule::NextTick(Timestamp after, std::string_view zone_name) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  const date::time_zone* zone = FindZone(zone_name);
  if (zone == nullptr) return std::nullopt;
  // Start at the local minute after `after`'s own local time.
  auto local = zone->to_local(std::chrono::floor<std::chrono::seconds>(after));
  auto start = std::chrono::floor<std::chrono::minutes>(local) + std::chrono::minutes(1);
  date::local_days day = std::chrono::floor<date::days>(start);
  int first_minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(start - day).count());
  for (int d = 0; d < kSearchDays; ++d, day += date::days(1), first_minute = 0) {
    date::year_month_day ymd{day};
    if (!MatchesDay(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                    static_cast<unsigned>(ymd.day()))) {
      continue;
    }
    for (int minute_of_day = first_minute; minute_of_day < 24 * 60; ++minute_of_day) {
      int h = minute_of_day / 60, m = minute_of_day % 60;
      if (!hours_[h]) {
        minute_of_day = h * 60 + 59;  // skip the rest of this hour
        continue;
      }
      if (!minutes_[m]) continue;
      Timestamp t =
          ToInstant(*zone, date::local_seconds(day) + std::chrono::minutes(minute_of_day));
      if (t > after) return t;
    }
  }
  return std::nullopt;
}

std::optional<Timestamp> Schedule::PreviousTick(Timestamp before,
                                                std::string_view zone_name) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  const date::time_zone* zone = FindZone(zone_name);
  if (zone == nullptr) return std::nullopt;
  auto local = zone->to_local(std::chrono::ceil<std::chrono::seconds>(before));
  auto start = std::chrono::ceil<std::chrono::minutes>(local);
  date::local_days day = std::chrono::floor<date::days>(start);
  int last_minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(start - day).count());
  if (last_minute >= 24 * 60) last_minute = 24 * 60 - 1;
  for (int d = 0; d < kSearchDays; ++d, day -= date::days(1), last_minute = 24 * 60 - 1) {
    date::year_month_day ymd{day};
    if (!MatchesDay(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                    static_cast<unsigned>(ymd.day()))) {
      continue;
    }
    for (int minute_of_day = last_minute; minute_of_day >= 0; --minute_of_day) {
      int h = minute_of_day / 60, m = minute_of_day % 60;
      if (!hours_[h]) {
        minute_of_day = h * 60;  // skip to the previous hour
        continue;
      }
      if (!minutes_[m]) continue;
      Timestamp t =
          ToInstant(*zone, date::local_seconds(day) + std::chrono::minutes(minute_of_day));
      if (t < before) return t;
    }
  }
  return std::nullopt;
}

Result<Schedule> Schedule::Parse(std::string_view text) {
  std::string expression(text);
  Schedule out;
  out.text_ = expression;
  if (text == "none" || text.empty()) {
    out.text_ = "none";
    return out;
  }
  if (text == "@once") {
    out.kind_ = Kind::kOnce;
    return out;
  }
  if (!text.empty() && text[0] == '@') {
    static const std::vector<std::pair<std::string, std::string>> kMacros = {
        {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}};
    bool found = false;
    for (const auto& [macro, cron] : kMacros) {
      if (text == macro) {
        expression = cron;
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> names = {"@once"};
      for (const auto& m : kMacros) names.push_back(m.first);
      auto hint = ClosestMatch(text, names);
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown schedule '{}'{}", Printable(text),
                              hint ? fmt::format(" (did you mean '{}'?)", *hint)
                                   : " (use a 5-field cron expression, @hourly, @daily, "
                                     "@weekly, @monthly, @yearly, @once or none)"));
    }
  }

  std::vector<std::string_view> fields;
  std::string_view rest = expression;
  while (!rest.empty()) {
    std::size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::size_t end = rest.find_first_of(" \t");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  if (fields.size() != 5) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("cron expression '{}' has {} fields; expected 5 (minute hour "
                            "day-of-month month day-of-week)",
                            Printable(text), fields.size()));
  }
  std::array<std::vector<bool>, 5> sets;
  std::array<bool, 5> any{};
  for (std::size_t i = 0; i < 5; ++i) {
    auto set = ParseField(fields[i], kFields[i], &any[i]);
    if (!set) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("cron expression '{}': {}", Printable(text), set.error().message));
    }
    sets[i] = std::move(*set);
  }
  if (sets[4][7]) sets[4][0] = true;  // 7 is Sunday too
  out.kind_ = Kind::kCron;
  Fill(out.minutes_, sets[0]);
  Fill(out.hours_, sets[1]);
  Fill(out.days_of_month_, sets[2]);
  Fill(out.months_, sets[3]);
  Fill(out.days_of_week_, sets[4]);
  out.dom_any_ = any[2];
  out.dow_any_ = any[4];
  return out;
}

}  // namespace weir::dags

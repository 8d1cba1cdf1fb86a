#include "dags/schedule.h"

#include <date/tz.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <sstream>

#include "tests/testing/temp_dir.h"

namespace weir::dags {
namespace {

using Catch::Contains;

Schedule MustParse(std::string_view text) {
  auto s = Schedule::Parse(text);
  INFO(text << ": " << (s ? std::string() : s.error().message));
  REQUIRE(s.has_value());
  return *s;
}

// The values set in `bits`, in order.
template <std::size_t N>
std::vector<int> Values(const std::bitset<N>& bits) {
  std::vector<int> out;
  for (std::size_t i = 0; i < N; ++i) {
    if (bits[i]) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<int> Range(int first, int last, int step = 1) {
  std::vector<int> out;
  for (int v = first; v <= last; v += step) out.push_back(v);
  return out;
}

std::string ErrorOf(std::string_view text) {
  auto s = Schedule::Parse(text);
  INFO(text);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == ErrorCode::kInvalidArgument);
  return s.error().message;
}

TEST_CASE("none and the empty text mean no schedule", "[dags]") {
  CHECK(Schedule().kind() == Schedule::Kind::kNone);
  CHECK(Schedule().text() == "none");
  CHECK(MustParse("none").kind() == Schedule::Kind::kNone);
  CHECK(MustParse("").kind() == Schedule::Kind::kNone);
  CHECK(MustParse("").text() == "none");
}

TEST_CASE("@once is its own kind of schedule", "[dags]") {
  Schedule once = MustParse("@once");
  CHECK(once.kind() == Schedule::Kind::kOnce);
  CHECK(once.text() == "@once");
}

TEST_CASE("macros expand to their cron expressions and keep the text as written", "[dags]") {
  struct Case {
    const char* macro;
    const char* cron;
  };
  const Case cases[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                        {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                        {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                        {"@annually", "0 0 1 1 *"}};
  for (const Case& c : cases) {
    INFO(c.macro);
    Schedule macro = MustParse(c.macro);
    Schedule cron = MustParse(c.cron);
    CHECK(macro.kind() == Schedule::Kind::kCron);
    CHECK(macro.text() == c.macro);
    CHECK(macro.minutes() == cron.minutes());
    CHECK(macro.hours() == cron.hours());
    CHECK(macro.days_of_month() == cron.days_of_month());
    CHECK(macro.months() == cron.months());
    CHECK(macro.days_of_week() == cron.days_of_week());
    CHECK(macro.day_of_month_any() == cron.day_of_month_any());
    CHECK(macro.day_of_week_any() == cron.day_of_week_any());
  }
}

TEST_CASE("a cron expression sets exactly the matching values of each field", "[dags]") {
  Schedule s = MustParse("0 2 * * *");
  CHECK(s.kind() == Schedule::Kind::kCron);
  CHECK(s.text() == "0 2 * * *");
  CHECK(Values(s.minutes()) == std::vector<int>{0});
  CHECK(Values(s.hours()) == std::vector<int>{2});
  CHECK(Values(s.days_of_month()) == Range(1, 31));
  CHECK(Values(s.months()) == Range(1, 12));
  CHECK(Values(s.days_of_week()) == Range(0, 6));
  CHECK(s.day_of_month_any());
  CHECK(s.day_of_week_any());
}

TEST_CASE("cron fields take lists, ranges and steps", "[dags]") {
  Schedule s = MustParse("*/15 9-17 1,15,31 1-12/3 1-5");
  CHECK(Values(s.minutes()) == std::vector<int>{0, 15, 30, 45});
  CHECK(Values(s.hours()) == Range(9, 17));
  CHECK(Values(s.days_of_month()) == std::vector<int>{1, 15, 31});
  CHECK(Values(s.months()) == std::vector<int>{1, 4, 7, 10});
  CHECK(Values(s.days_of_week()) == Range(1, 5));
  CHECK_FALSE(s.day_of_month_any());
  CHECK_FALSE(s.day_of_week_any());

  CHECK(Values(MustParse("0-10/5,30,50-52 * * * *").minutes()) ==
        std::vector<int>{0, 5, 10, 30, 50, 51, 52});
  // "a/n" runs from a to the end of the field in steps of n.
  CHECK(Values(MustParse("5/20 * * * *").minutes()) == std::vector<int>{5, 25, 45});
  CHECK(Values(MustParse("* */6 * * *").hours()) == std::vector<int>{0, 6, 12, 18});
  CHECK(Values(MustParse("59 23 31 12 *").minutes()) == std::vector<int>{59});
}

TEST_CASE("fields may be separated by several spaces and tabs", "[dags]") {
  Schedule s = MustParse("  0\t2   * *  1 ");
  CHECK(Values(s.minutes()) == std::vector<int>{0});
  CHECK(Values(s.hours()) == std::vector<int>{2});
  CHECK(Values(s.days_of_week()) == std::vector<int>{1});
}

TEST_CASE("months and weekdays may be named, in any case", "[dags]") {
  CHECK(Values(MustParse("0 0 1 JAN *").months()) == std::vector<int>{1});
  CHECK(Values(MustParse("0 0 1 jan,Jun,DEC *").months()) == std::vector<int>{1, 6, 12});
  CHECK(Values(MustParse("0 0 1 mar-may *").months()) == std::vector<int>{3, 4, 5});
  CHECK(Values(MustParse("0 9 * * mon-fri").days_of_week()) == Range(1, 5));
  CHECK(Values(MustParse("0 9 * * SUN,sat").days_of_week()) == std::vector<int>{0, 6});
  CHECK(Values(MustParse("0 9 * * Tue").days_of_week()) == std::vector<int>{2});
}

TEST_CASE("7 in day-of-week is Sunday, like 0", "[dags]") {
  CHECK(Values(MustParse("0 0 * * 7").days_of_week()) == std::vector<int>{0});
  CHECK(Values(MustParse("0 0 * * 5-7").days_of_week()) == std::vector<int>{0, 5, 6});
  CHECK(Values(MustParse("0 0 * * 0,7").days_of_week()) == std::vector<int>{0});
  CHECK(Values(MustParse("0 0 * * *").days_of_week()) == Range(0, 6));
}

TEST_CASE("a restricted day field is remembered for cron's day-of-month OR day-of-week rule",
          "[dags]") {
  Schedule both = MustParse("0 0 13 * fri");
  CHECK_FALSE(both.day_of_month_any());
  CHECK_FALSE(both.day_of_week_any());
  Schedule dom = MustParse("0 0 13 * *");
  CHECK_FALSE(dom.day_of_month_any());
  CHECK(dom.day_of_week_any());
  Schedule question = MustParse("0 0 ? * mon");
  CHECK(question.day_of_month_any());
  CHECK(Values(question.days_of_month()) == Range(1, 31));
}

TEST_CASE("a value out of range names the field and its range", "[dags]") {
  CHECK(ErrorOf("61 * * * *") ==
        "cron expression '61 * * * *': minute field: 61 is out of range 0-59");
  CHECK(ErrorOf("0 24 * * *") ==
        "cron expression '0 24 * * *': hour field: 24 is out of range 0-23");
  CHECK_THAT(ErrorOf("0 0 0 * *"), Contains("day-of-month field: 0 is out of range 1-31"));
  CHECK_THAT(ErrorOf("0 0 32 * *"), Contains("day-of-month field: 32 is out of range 1-31"));
  CHECK_THAT(ErrorOf("0 0 * 13 *"), Contains("month field: 13 is out of range 1-12"));
  CHECK_THAT(ErrorOf("0 0 * 0 *"), Contains("month field: 0 is out of range 1-12"));
  CHECK_THAT(ErrorOf("0 0 * * 8"), Contains("day-of-week field: 8 is out of range 0-7"));
  CHECK_THAT(ErrorOf("-1 * * * *"), Contains("minute field: -1 is out of range 0-59"));
  CHECK_THAT(ErrorOf("0-60 * * * *"), Contains("minute field: 60 is out of range 0-59"));
}

TEST_CASE("a wrong number of fields says how many there are and which five are expected",
          "[dags]") {
  CHECK(ErrorOf("* * * *") ==
        "cron expression '* * * *' has 4 fields; expected 5 (minute hour day-of-month month "
        "day-of-week)");
  CHECK_THAT(ErrorOf("0 0 * * * *"), Contains("has 6 fields; expected 5"));
  CHECK_THAT(ErrorOf("   "), Contains("has 0 fields; expected 5"));
}

TEST_CASE("an unknown macro is refused with a suggestion or the list of forms", "[dags]") {
  CHECK(ErrorOf("@dayly") == "unknown schedule '@dayly' (did you mean '@daily'?)");
  CHECK(ErrorOf("@hourley") == "unknown schedule '@hourley' (did you mean '@hourly'?)");
  std::string sometimes = ErrorOf("@sometimes");
  CHECK_THAT(sometimes, Contains("unknown schedule '@sometimes'"));
  CHECK_THAT(sometimes, Contains("5-field cron expression"));
  CHECK_THAT(sometimes, Contains("@hourly, @daily, @weekly, @monthly, @yearly, @once or none"));
  CHECK_THAT(ErrorOf("@DAILY"), Contains("unknown schedule '@DAILY'"));
}

TEST_CASE("malformed cron fields are refused with the field and the reason", "[dags]") {
  CHECK_THAT(ErrorOf("x * * * *"), Contains("minute field: 'x' is not a number"));
  CHECK_THAT(ErrorOf("0 0 * foo *"), Contains("month field: 'foo' is not a number or a name"));
  CHECK_THAT(ErrorOf("0 0 * * monday"),
             Contains("day-of-week field: 'monday' is not a number or a name"));
  CHECK_THAT(ErrorOf("mon * * * *"), Contains("minute field: 'mon' is not a number"));
  CHECK_THAT(ErrorOf("0 0 * jan-fri *"), Contains("month field: 'fri' is not a number or a name"));
  CHECK_THAT(ErrorOf("1,,2 * * * *"), Contains("minute field: empty list item"));
  CHECK_THAT(ErrorOf("1, * * * *"), Contains("minute field: empty list item"));
  CHECK_THAT(ErrorOf("*/0 * * * *"), Contains("minute field: bad step '0'"));
  CHECK_THAT(ErrorOf("*/60 * * * *"), Contains("minute field: bad step '60'"));
  CHECK_THAT(ErrorOf("*/x * * * *"), Contains("minute field: bad step 'x'"));
  CHECK_THAT(ErrorOf("*/ * * * *"), Contains("minute field: bad step ''"));
  CHECK_THAT(ErrorOf("30-10 * * * *"), Contains("minute field: range 30-10 runs backwards"));
  CHECK_THAT(ErrorOf("0 0 * * fri-mon"), Contains("day-of-week field: range 5-1 runs backwards"));
  CHECK_THAT(ErrorOf("1- * * * *"), Contains("minute field: '' is not a number"));
  CHECK_THAT(ErrorOf("99999999999 * * * *"),
             Contains("minute field: '99999999999' is not a number"));
}

TEST_CASE("a control character in a bad schedule is shown escaped", "[dags]") {
  std::string message = ErrorOf("0 0 * * \x01");
  CHECK(message.find('\x01') == std::string::npos);
  CHECK_THAT(message, Contains("\\x01"));
}

}  // namespace
}  // namespace weir::dags

namespace weir::dags {
namespace {

Timestamp At(std::string_view iso) {
  auto t = ParseTimestamp(iso);
  REQUIRE(t);
  return *t;
}

std::vector<std::string> NextTicks(std::string_view expr, std::string_view zone,
                                   std::string_view from, int count) {
  Schedule s = MustParse(expr);
  std::vector<std::string> out;
  Timestamp t = At(from);
  for (int i = 0; i < count; ++i) {
    auto next = s.NextTick(t, zone);
    REQUIRE(next);
    out.push_back(FormatIso(*next));
    t = *next;
  }
  return out;
}

using Ticks = std::vector<std::string>;

TEST_CASE("ticks follow local wall-clock time in the DAG's zone", "[dags]") {
  CHECK(NextTicks("0 2 * * *", "UTC", "2026-01-01T02:00:00Z", 2) ==
        Ticks{"2026-01-02T02:00:00Z", "2026-01-03T02:00:00Z"});
  CHECK(NextTicks("0 2 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", 1) ==
        Ticks{"2026-01-01T01:00:00Z"});
  CHECK(NextTicks("0 9 * * mon-fri", "America/New_York", "2026-01-02T15:00:00Z", 2) ==
        Ticks{"2026-01-05T14:00:00Z", "2026-01-06T14:00:00Z"});
  CHECK(NextTicks("@monthly", "UTC", "2026-01-31T12:00:00Z", 2) ==
        Ticks{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"});
  CHECK(NextTicks("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 1) == Ticks{"2028-02-29T00:00:00Z"});
}

TEST_CASE("day-of-month and day-of-week both restricted match either (the cron OR rule)",
          "[dags]") {
  // The 13th, or any Friday, in February 2026: Fri 6, Fri 13, Fri 20.
  CHECK(NextTicks("0 0 13 * fri", "UTC", "2026-02-01T00:00:00Z", 3) ==
        Ticks{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"});
}

TEST_CASE("a local time skipped by DST fires once, at the end of the gap", "[dags]") {
  // Berlin springs forward on 2026-03-29 at 02:00 local (01:00 UTC): 02:30 does not exist.
  CHECK(NextTicks("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2) ==
        Ticks{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"});
  // Every 15 minutes across the gap: 02:00..02:45 collapse into the one instant 03:00 CEST.
  CHECK(NextTicks("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:40:00Z", 3) ==
        Ticks{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"});
  // New York springs forward on 2026-03-08 at 02:00 local (07:00 UTC).
  CHECK(NextTicks("0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2) ==
        Ticks{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"});
  // Lord Howe moves 30 minutes forward on 2026-10-04 at 02:00 local (15:30 UTC the day before).
  CHECK(NextTicks("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2) ==
        Ticks{"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"});
}

TEST_CASE("a local time repeated by DST fires once, at its first occurrence", "[dags]") {
  // Berlin falls back on 2026-10-25 at 03:00 CEST (01:00 UTC): 02:00-02:59 happens twice.
  CHECK(NextTicks("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2) ==
        Ticks{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"});
  CHECK(NextTicks("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z", 4) ==
        Ticks{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
              "2026-10-25T02:30:00Z"});
  // New York falls back on 2026-11-01 at 02:00 EDT (06:00 UTC): 01:30 happens twice.
  CHECK(NextTicks("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2) ==
        Ticks{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"});
  // Lord Howe falls back 30 minutes on 2026-04-05 at 02:00 local (15:00 UTC the day before).
  CHECK(NextTicks("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", 2) ==
        Ticks{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"});
}

TEST_CASE("the previous tick is the start of a tick's data interval, also across DST", "[dags]") {
  Schedule daily = MustParse("0 2 * * *");
  CHECK(FormatIso(*daily.PreviousTick(At("2026-01-02T02:00:00Z"), "UTC")) ==
        "2026-01-01T02:00:00Z");
  CHECK(FormatIso(*daily.PreviousTick(At("2026-01-02T02:00:00.001Z"), "UTC")) ==
        "2026-01-02T02:00:00Z");
  Schedule half_hour = MustParse("*/30 * * * *");
  CHECK(FormatIso(*half_hour.PreviousTick(At("2026-10-25T02:00:00Z"), "Europe/Berlin")) ==
        "2026-10-25T00:30:00Z");
  CHECK(FormatIso(*half_hour.PreviousTick(At("2026-03-29T01:00:00Z"), "Europe/Berlin")) ==
        "2026-03-29T00:30:00Z");
  // Next and previous agree on a year of ticks in several zones.
  for (std::string_view zone :
       {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}) {
    for (std::string_view expr : {"0 2 * * *", "*/30 * * * *", "15 1-3 * * *", "@weekly"}) {
      Schedule s = MustParse(expr);
      Timestamp t = At("2026-01-01T00:00:00Z");
      for (int i = 0; i < 400; ++i) {
        Timestamp next = *s.NextTick(t, zone);
        INFO(expr << " in " << zone << " after " << FormatIso(t));
        REQUIRE(next > t);
        if (i > 0) REQUIRE(*s.PreviousTick(next, zone) == t);
        t = next;
      }
    }
  }
}

TEST_CASE("none and @once have no ticks", "[dags]") {
  CHECK_FALSE(MustParse("none").NextTick(At("2026-01-01"), "UTC"));
  CHECK_FALSE(MustParse("@once").NextTick(At("2026-01-01"), "UTC"));
  CHECK_FALSE(MustParse("0 0 * * *").NextTick(At("2026-01-01"), "Not/AZone"));
}

// croniter is the trusted reference away from DST changes (version 1.3.5 gets some of those
// wrong, so ticks whose interval spans an offset change are checked by hand above instead).
TEST_CASE("ticks agree with croniter for 240 generated expressions in five zones", "[dags]") {
  const char* python = "/usr/bin/python3";
  if (std::system("/usr/bin/python3 -c 'import croniter' 2>/dev/null") != 0) {
    WARN("SKIPPED: /usr/bin/python3 with python3-croniter is not installed");
    return;
  }
  std::mt19937 rng(20261121);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto field = [&](int lo, int hi) -> std::string {
    switch (pick(0, 5)) {
      case 0:
        return "*";
      case 1:
        return std::to_string(pick(lo, hi));
      case 2: {
        int a = pick(lo, hi), b = pick(a, hi);
        return std::to_string(a) + "-" + std::to_string(b);
      }
      case 3:
        return "*/" + std::to_string(pick(2, std::max(2, (hi - lo) / 2)));
      case 4:
        return std::to_string(pick(lo, hi)) + "," + std::to_string(pick(lo, hi));
      default: {
        int a = pick(lo, hi);
        return std::to_string(a) + "-" + std::to_string(pick(a, hi)) + "/" +
               std::to_string(pick(1, 4));
      }
    }
  };
  const std::vector<std::string> zones = {"UTC", "Europe/Berlin", "America/New_York",
                                          "Asia/Kolkata", "Australia/Lord_Howe"};
  struct Case {
    std::string expr, zone;
    Timestamp start;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 240; ++i) {
    std::string expr = field(0, 59) + " " + field(0, 23) + " " + field(1, 28) + " " + field(1, 12) +
                       " " + field(0, 6);
    if (i % 8 == 0)
      expr = std::vector<std::string>{
          "@hourly", "@daily",    "@weekly",     "@monthly",
          "@yearly", "0 2 * * *", "*/5 * * * *", "0 9 * * mon-fri"}[i / 8 % 8];
    Timestamp start = At("2026-01-01T00:00:00Z") + std::chrono::hours(pick(0, 24 * 365));
    cases.push_back({expr, zones[i % zones.size()], start});
  }
  testing::TempDir dir;
  std::string input;
  constexpr int kTicks = 5;
  for (const Case& c : cases) {
    input += c.expr + "\t" + c.zone + "\t" + std::to_string(ToMillis(c.start)) + "\t" +
             std::to_string(kTicks) + "\n";
  }
  dir.Write("in.tsv", input);
  std::string command = std::string(python) + " " + WEIR_SOURCE_DIR +
                        "/tests/dags/croniter_ticks.py < " + (dir / "in.tsv").string() + " > " +
                        (dir / "out.txt").string();
  REQUIRE(std::system(command.c_str()) == 0);
  std::istringstream out(testing::ReadFile(dir / "out.txt"));
  int compared = 0;
  for (const Case& c : cases) {
    std::string line;
    REQUIRE(std::getline(out, line));
    std::istringstream reference(line);
    Schedule s = MustParse(c.expr);
    Timestamp t = c.start;
    for (int i = 0; i < kTicks; ++i) {
      std::int64_t expected = 0;
      REQUIRE(reference >> expected);
      Timestamp ours = *s.NextTick(t, c.zone);
      // Stop at the first interval that spans a change of UTC offset.
      auto offset = [&](Timestamp x) {
        return date::locate_zone(c.zone)
            ->get_info(std::chrono::floor<std::chrono::seconds>(x))
            .offset;
      };
      if (offset(t) != offset(ours) || offset(t) != offset(FromMillis(expected))) break;
      INFO(c.expr << " in " << c.zone << " after " << FormatIso(t));
      CHECK(FormatIso(ours) == FormatIso(FromMillis(expected)));
      ++compared;
      t = ours;
    }
  }
  CHECK(compared > 240 * 3);
}

}  // namespace
}  // namespace weir::dags

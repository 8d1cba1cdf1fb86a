#include "dags/schedule.h"

#include <catch2/catch.hpp>

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

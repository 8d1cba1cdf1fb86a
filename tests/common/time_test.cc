#include "common/time.h"

#include <catch2/catch.hpp>

namespace weir {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Timestamp At(std::string_view iso) {
  auto t = ParseTimestamp(iso);
  REQUIRE(t.has_value());
  return *t;
}

std::string StartOfDayIso(CivilDate day, std::string_view zone) {
  auto t = StartOfLocalDay(day, zone);
  REQUIRE(t.has_value());
  return FormatIso(*t);
}

// --- ParseDuration, FormatDuration, DurationToString ---------------------------------------------

TEST_CASE("ParseDuration reads every unit", "[common]") {
  CHECK(ParseDuration("500ms").value() == milliseconds(500));
  CHECK(ParseDuration("30s").value() == seconds(30));
  CHECK(ParseDuration("10m").value() == minutes(10));
  CHECK(ParseDuration("2h").value() == hours(2));
  CHECK(ParseDuration("7d").value() == hours(7 * 24));
  CHECK(ParseDuration("0s").value() == milliseconds(0));
}

TEST_CASE("ParseDuration adds up a sum written without spaces such as 1h30m", "[common]") {
  CHECK(ParseDuration("1h30m").value() == minutes(90));
  CHECK(ParseDuration("1d2h3m4s5ms").value() ==
        hours(26) + minutes(3) + seconds(4) + milliseconds(5));
  CHECK(ParseDuration("30m1h").value() == minutes(90));
}

TEST_CASE("ParseDuration refuses unknown and missing units with the reason", "[common]") {
  auto bad_unit = ParseDuration("10x");
  REQUIRE_FALSE(bad_unit);
  CHECK(bad_unit.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(bad_unit.error().message, Catch::Contains("unknown unit 'x'"));
  CHECK_THAT(bad_unit.error().message, Catch::Contains("500ms, 30s, 10m, 2h, 7d"));

  CHECK_THAT(ParseDuration("10").error().message, Catch::Contains("missing unit"));
  CHECK_THAT(ParseDuration("1h30").error().message, Catch::Contains("missing unit"));
  CHECK_THAT(ParseDuration("5 s").error().message, Catch::Contains("missing unit"));
  CHECK_THAT(ParseDuration("5sec").error().message, Catch::Contains("unknown unit 'sec'"));
  CHECK_THAT(ParseDuration("1.5h").error().message, Catch::Contains("missing unit"));
  CHECK_THAT(ParseDuration("h").error().message, Catch::Contains("expected a whole number"));
  CHECK_THAT(ParseDuration("").error().message, Catch::Contains("empty duration"));
  CHECK_FALSE(ParseDuration(" 5s"));
  CHECK_FALSE(ParseDuration("5s "));
}

TEST_CASE("ParseDuration refuses negative durations", "[common]") {
  for (const char* text : {"-5s", "-1ms", "1h-30m", "+5s"}) {
    INFO(text);
    auto d = ParseDuration(text);
    REQUIRE_FALSE(d);
    CHECK(d.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK_THAT(ParseDuration("-5s").error().message, Catch::Contains("no sign"));
}

TEST_CASE("ParseDuration refuses a duration that would overflow instead of wrapping", "[common]") {
  CHECK_THAT(ParseDuration("99999999999999999999s").error().message, Catch::Contains("too large"));
  CHECK_THAT(ParseDuration("9223372036854775807ms").error().message, Catch::Contains("too large"));
  CHECK_THAT(ParseDuration("106751991167d").error().message, Catch::Contains("too large"));
  // Each part fits, the sum does not.
  CHECK_THAT(ParseDuration("2000000000000000000ms2000000000000000000ms").error().message,
             Catch::Contains("too large"));
  // Large but representable.
  CHECK(ParseDuration("100000d").value() == hours(24) * 100000);
}

TEST_CASE("FormatDuration gives a short human form in the largest sensible units", "[common]") {
  CHECK(FormatDuration(milliseconds(0)) == "0ms");
  CHECK(FormatDuration(milliseconds(850)) == "850ms");
  CHECK(FormatDuration(milliseconds(4200)) == "4.2s");
  CHECK(FormatDuration(seconds(1)) == "1.0s");
  CHECK(FormatDuration(seconds(185)) == "3m05s");
  CHECK(FormatDuration(hours(2) + minutes(10) + seconds(59)) == "2h10m");
  CHECK(FormatDuration(hours(76) + minutes(30)) == "3d4h");
  CHECK(FormatDuration(milliseconds(-1500)) == "-1.5s");
}

TEST_CASE("FormatDuration truncates so that 59999ms is not shown as 60.0s", "[common]") {
  CHECK(FormatDuration(milliseconds(59'999)) == "59.9s");
  CHECK(FormatDuration(milliseconds(1'999)) == "1.9s");
  CHECK(FormatDuration(milliseconds(60'000)) == "1m00s");
  CHECK(FormatDuration(milliseconds(3'599'999)) == "59m59s");
  CHECK(FormatDuration(milliseconds(86'399'999)) == "23h59m");
}

TEST_CASE("DurationToString writes the largest exact unit and ParseDuration reads it back",
          "[common]") {
  CHECK(DurationToString(seconds(90)) == "90s");
  CHECK(DurationToString(hours(2)) == "2h");
  CHECK(DurationToString(hours(48)) == "2d");
  CHECK(DurationToString(minutes(90)) == "90m");
  CHECK(DurationToString(milliseconds(1500)) == "1500ms");
  CHECK(DurationToString(milliseconds(0)) == "0s");
  const Duration samples[] = {milliseconds(1), minutes(61),     seconds(61),
                              hours(25),       hours(24 * 365), milliseconds(86'400'001)};
  for (Duration d : samples) {
    INFO(d.count());
    CHECK(ParseDuration(DurationToString(d)).value() == d);
  }
}

// --- Dates and timestamps ------------------------------------------------------------------------

TEST_CASE("ParseDate reads strict YYYY-MM-DD and refuses days that do not exist", "[common]") {
  CHECK(ParseDate("2026-02-01").value() == CivilDate{2026, 2, 1});
  CHECK(ParseDate("2024-02-29").value() == CivilDate{2024, 2, 29});
  CHECK(ParseDate("2000-02-29").value() == CivilDate{2000, 2, 29});

  auto not_leap = ParseDate("2026-02-29");
  REQUIRE_FALSE(not_leap);
  CHECK(not_leap.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(not_leap.error().message, Catch::Contains("no such day"));
  CHECK_FALSE(ParseDate("1900-02-29"));
  CHECK_FALSE(ParseDate("2026-04-31"));
  CHECK_FALSE(ParseDate("2026-13-01"));
  CHECK_FALSE(ParseDate("2026-00-10"));
  CHECK_FALSE(ParseDate("2026-01-00"));

  for (const char* text : {"2026-2-01", "2026-02-1", "26-02-01", "2026/02/01", "2026-02-01 ",
                           " 2026-02-01", "2026-02-01T00:00", "", "abcd-ef-gh", "+026-02-01"}) {
    INFO(text);
    auto d = ParseDate(text);
    REQUIRE_FALSE(d);
    CHECK_THAT(d.error().message, Catch::Contains("expected YYYY-MM-DD"));
  }
}

TEST_CASE("FormatDate and AddDays work across month, year and leap-day boundaries", "[common]") {
  CHECK(FormatDate(CivilDate{2026, 3, 5}) == "2026-03-05");
  CHECK(AddDays(CivilDate{2024, 2, 28}, 1) == CivilDate{2024, 2, 29});
  CHECK(AddDays(CivilDate{2026, 2, 28}, 1) == CivilDate{2026, 3, 1});
  CHECK(AddDays(CivilDate{2026, 12, 31}, 1) == CivilDate{2027, 1, 1});
  CHECK(AddDays(CivilDate{2026, 1, 1}, -1) == CivilDate{2025, 12, 31});
  CHECK(AddDays(CivilDate{2026, 1, 1}, 365) == CivilDate{2027, 1, 1});
  CHECK(CivilDate{2026, 1, 31} < CivilDate{2026, 2, 1});
}

TEST_CASE("ParseTimestamp reads a date alone as midnight UTC", "[common]") {
  CHECK(ToMillis(At("1970-01-01")) == 0);
  CHECK(ToMillis(At("2026-02-01")) == 1'769'904'000'000);
}

TEST_CASE("ParseTimestamp reads Z, no suffix and a space separator as UTC", "[common]") {
  Timestamp expected = At("2026-02-01") + hours(3) + minutes(4) + seconds(5);
  CHECK(At("2026-02-01T03:04:05Z") == expected);
  CHECK(At("2026-02-01T03:04:05") == expected);
  CHECK(At("2026-02-01 03:04:05Z") == expected);
  CHECK(At("2026-02-01T03:04Z") == expected - seconds(5));
  CHECK(At("2026-02-01T03:04") == expected - seconds(5));
}

TEST_CASE("ParseTimestamp applies UTC offsets", "[common]") {
  Timestamp utc = At("2026-02-01T03:00:00Z");
  CHECK(At("2026-02-01T04:00:00+01:00") == utc);
  CHECK(At("2026-02-01T08:30:00+05:30") == utc);
  CHECK(At("2026-02-01T08:30:00+0530") == utc);
  CHECK(At("2026-01-31T22:00:00-05:00") == utc);
  CHECK(At("2026-02-01T03:00:00+00:00") == utc);
  CHECK(At("2026-02-01T03:00:00-00:00") == utc);
  CHECK(At("2026-02-01T03:00-05:00") == utc + hours(5));
}

TEST_CASE("ParseTimestamp keeps milliseconds of a fraction and drops finer digits", "[common]") {
  Timestamp base = At("2026-02-01T03:00:00Z");
  CHECK(At("2026-02-01T03:00:00.5Z") == base + milliseconds(500));
  CHECK(At("2026-02-01T03:00:00.05Z") == base + milliseconds(50));
  CHECK(At("2026-02-01T03:00:00.123Z") == base + milliseconds(123));
  CHECK(At("2026-02-01T03:00:00.123999999Z") == base + milliseconds(123));
  CHECK(At("2026-02-01T03:00:00.250+01:00") == base + milliseconds(250) - hours(1));
}

TEST_CASE("ParseTimestamp refuses malformed timestamps with a reason", "[common]") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "too short"},
      {"2026-02", "too short"},
      {"2026-02-30T00:00:00Z", "not a valid date"},
      {"2026-02-01X03:00:00Z", "expected 'T'"},
      {"2026-02-01T3:00:00Z", "expected HH:MM"},
      {"2026-02-01T03", "expected HH:MM"},
      {"2026-02-01T03:0", "expected HH:MM"},
      {"2026-02-01T03:00:0Z", "expected seconds"},
      {"2026-02-01T03:00:00.Z", "expected fractional seconds"},
      {"2026-02-01T24:00:00Z", "out of range"},
      {"2026-02-01T23:60:00Z", "out of range"},
      {"2026-02-01T23:59:60Z", "out of range"},
      {"2026-02-01T03:00:00+5", "bad UTC offset"},
      {"2026-02-01T03:00:00+05", "bad UTC offset"},
      {"2026-02-01T03:00:00+05:3", "bad UTC offset"},
      {"2026-02-01T03:00:00+24:00", "bad UTC offset"},
      {"2026-02-01T03:00:00+05:60", "bad UTC offset"},
      {"2026-02-01T03:00:00+05:00x", "bad UTC offset"},
      {"2026-02-01T03:00:00z", "unexpected text"},
      {"2026-02-01T03:00:00ZZ", "unexpected text"},
      {"2026-02-01T03:00:00 UTC", "unexpected text"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto t = ParseTimestamp(c.text);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(t.error().message, Catch::Contains(c.reason));
  }
}

TEST_CASE("a malformed timestamp is quoted printably in the error", "[common]") {
  auto t = ParseTimestamp("2026-02-01T03:00:00\n; rm -rf");
  REQUIRE_FALSE(t);
  CHECK(t.error().message.find('\n') == std::string::npos);
  CHECK_THAT(t.error().message, Catch::Contains("\\n; rm -rf"));
}

TEST_CASE("FormatIso writes UTC with milliseconds only when they are not zero", "[common]") {
  CHECK(FormatIso(FromMillis(0)) == "1970-01-01T00:00:00Z");
  CHECK(FormatIso(At("2026-02-01T03:00:00Z")) == "2026-02-01T03:00:00Z");
  CHECK(FormatIso(At("2026-02-01T03:00:00Z") + milliseconds(7)) == "2026-02-01T03:00:00.007Z");
  CHECK(FormatIso(At("2024-02-29T23:59:59.999Z")) == "2024-02-29T23:59:59.999Z");
  CHECK(FormatIso(FromMillis(-1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("FormatIso and ParseTimestamp round-trip", "[common]") {
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-86'400'000},
                          std::int64_t{1'769'914'800'123}, std::int64_t{4'102'444'799'999}}) {
    INFO(ms);
    std::string text = FormatIso(FromMillis(ms));
    CHECK(ToMillis(At(text)) == ms);
  }
}

// --- Zones ---------------------------------------------------------------------------------------

TEST_CASE("IsKnownZone accepts IANA names and UTC and refuses anything else", "[common]") {
  CHECK(IsKnownZone("UTC"));
  CHECK(IsKnownZone("Europe/Berlin"));
  CHECK(IsKnownZone("America/Sao_Paulo"));
  CHECK(IsKnownZone("Asia/Kolkata"));
  CHECK_FALSE(IsKnownZone(""));
  CHECK_FALSE(IsKnownZone("Mars/Olympus_Mons"));
  CHECK_FALSE(IsKnownZone("Europe/Berlin "));
  CHECK_FALSE(IsKnownZone("../../../etc/passwd"));
  CHECK_FALSE(IsKnownZone("/etc/localtime"));
}

TEST_CASE("StartOfLocalDay and LocalDate refuse an unknown zone", "[common]") {
  auto start = StartOfLocalDay(CivilDate{2026, 1, 1}, "Europe/Atlantis");
  REQUIRE_FALSE(start);
  CHECK(start.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(start.error().message, Catch::Contains("unknown time zone 'Europe/Atlantis'"));
  CHECK_FALSE(LocalDate(FromMillis(0), "Europe/Atlantis"));
}

TEST_CASE("StartOfLocalDay in UTC is midnight UTC", "[common]") {
  CHECK(StartOfDayIso(CivilDate{2026, 2, 1}, "UTC") == "2026-02-01T00:00:00Z");
}

// UTC and Etc/UTC are computed without the time zone database; Etc/Zulu is the same zone
// looked up in it.
TEST_CASE("UTC without the zone database agrees with the database's UTC", "[common]") {
  for (CivilDate day : {CivilDate{1969, 12, 31}, CivilDate{1970, 1, 1}, CivilDate{2024, 2, 29},
                        CivilDate{2026, 3, 29}, CivilDate{2038, 1, 19}, CivilDate{2100, 12, 31}}) {
    INFO(FormatDate(day));
    CHECK(*StartOfLocalDay(day, "UTC") == *StartOfLocalDay(day, "Etc/Zulu"));
    CHECK(*StartOfLocalDay(day, "Etc/UTC") == *StartOfLocalDay(day, "Etc/Zulu"));
  }
  for (std::int64_t ms : {-1LL, 0LL, 86'399'999LL, 86'400'000LL, 1'795'293'414'213LL}) {
    INFO(ms);
    CHECK(*LocalDate(FromMillis(ms), "UTC") == *LocalDate(FromMillis(ms), "Etc/Zulu"));
  }
  CHECK(IsKnownZone("UTC"));
  CHECK(IsKnownZone("Etc/UTC"));
  CHECK_FALSE(IsKnownZone("utc "));
}

TEST_CASE("StartOfLocalDay in Europe/Berlin follows the offset across both DST changes",
          "[common]") {
  CHECK(StartOfDayIso(CivilDate{2026, 1, 15}, "Europe/Berlin") == "2026-01-14T23:00:00Z");
  CHECK(StartOfDayIso(CivilDate{2026, 7, 15}, "Europe/Berlin") == "2026-07-14T22:00:00Z");
  // Spring forward on 2026-03-29 at 02:00: that day has 23 hours.
  Timestamp spring = *StartOfLocalDay(CivilDate{2026, 3, 29}, "Europe/Berlin");
  Timestamp after_spring = *StartOfLocalDay(CivilDate{2026, 3, 30}, "Europe/Berlin");
  CHECK(FormatIso(spring) == "2026-03-28T23:00:00Z");
  CHECK(FormatIso(after_spring) == "2026-03-29T22:00:00Z");
  CHECK(after_spring - spring == hours(23));
  // Fall back on 2026-10-25 at 03:00: that day has 25 hours.
  Timestamp fall = *StartOfLocalDay(CivilDate{2026, 10, 25}, "Europe/Berlin");
  Timestamp after_fall = *StartOfLocalDay(CivilDate{2026, 10, 26}, "Europe/Berlin");
  CHECK(FormatIso(fall) == "2026-10-24T22:00:00Z");
  CHECK(after_fall - fall == hours(25));
}

TEST_CASE("StartOfLocalDay starts a day whose midnight was skipped at the DST transition",
          "[common]") {
  // Brazil moved clocks from 00:00 to 01:00 on 2018-11-04: local midnight never happened, and the
  // day began at 01:00 -02 = 03:00 UTC.
  CHECK(StartOfDayIso(CivilDate{2018, 11, 3}, "America/Sao_Paulo") == "2018-11-03T03:00:00Z");
  CHECK(StartOfDayIso(CivilDate{2018, 11, 4}, "America/Sao_Paulo") == "2018-11-04T03:00:00Z");
  CHECK(StartOfDayIso(CivilDate{2018, 11, 5}, "America/Sao_Paulo") == "2018-11-05T02:00:00Z");
  // Lebanon also springs forward at midnight (2025-03-30 00:00 -> 01:00, +02 -> +03).
  CHECK(StartOfDayIso(CivilDate{2025, 3, 30}, "Asia/Beirut") == "2025-03-29T22:00:00Z");
  CHECK(StartOfDayIso(CivilDate{2025, 3, 31}, "Asia/Beirut") == "2025-03-30T21:00:00Z");
}

TEST_CASE("StartOfLocalDay takes the first of two midnights when DST ends at 01:00", "[common]") {
  // Cuba set clocks back from 01:00 CDT to 00:00 CST on 2025-11-02: midnight happened twice, at
  // 04:00 and at 05:00 UTC. The day starts at the first one.
  CHECK(StartOfDayIso(CivilDate{2025, 11, 2}, "America/Havana") == "2025-11-02T04:00:00Z");
  CHECK(StartOfDayIso(CivilDate{2025, 11, 3}, "America/Havana") == "2025-11-03T05:00:00Z");
}

TEST_CASE("the day Brazil's DST ended lasted 25 hours", "[common]") {
  // 2019-02-17 00:00 -02 became 2019-02-16 23:00 -03.
  Timestamp start = *StartOfLocalDay(CivilDate{2019, 2, 16}, "America/Sao_Paulo");
  Timestamp next = *StartOfLocalDay(CivilDate{2019, 2, 17}, "America/Sao_Paulo");
  CHECK(FormatIso(start) == "2019-02-16T02:00:00Z");
  CHECK(FormatIso(next) == "2019-02-17T03:00:00Z");
  CHECK(next - start == hours(25));
}

TEST_CASE("LocalDate gives the calendar date of an instant in a zone", "[common]") {
  CHECK(LocalDate(At("2026-03-29T23:30:00Z"), "Europe/Berlin").value() == CivilDate{2026, 3, 30});
  CHECK(LocalDate(At("2026-03-29T21:59:59.999Z"), "Europe/Berlin").value() ==
        CivilDate{2026, 3, 29});
  CHECK(LocalDate(At("2026-03-29T22:00:00Z"), "Europe/Berlin").value() == CivilDate{2026, 3, 30});
  CHECK(LocalDate(At("2026-03-29T23:30:00Z"), "UTC").value() == CivilDate{2026, 3, 29});
  CHECK(LocalDate(At("2026-02-01T02:00:00Z"), "America/New_York").value() ==
        CivilDate{2026, 1, 31});
  CHECK(LocalDate(At("2026-02-01T19:00:00Z"), "Pacific/Kiritimati").value() ==
        CivilDate{2026, 2, 2});
}

TEST_CASE(
    "every local day starts where the previous one ends, in zones with midnight DST "
    "changes",
    "[common]") {
  for (const char* zone : {"America/Sao_Paulo", "America/Havana", "Asia/Beirut", "Europe/Berlin",
                           "Australia/Lord_Howe", "UTC"}) {
    for (CivilDate day{2018, 1, 1}; day < CivilDate{2020, 1, 1}; day = AddDays(day, 1)) {
      Timestamp start = *StartOfLocalDay(day, zone);
      Timestamp next = *StartOfLocalDay(AddDays(day, 1), zone);
      INFO(zone << " " << FormatDate(day) << " starts " << FormatIso(start));
      REQUIRE(LocalDate(start, zone).value() == day);
      REQUIRE(LocalDate(start - milliseconds(1), zone).value() == AddDays(day, -1));
      REQUIRE(next - start >= hours(23));
      REQUIRE(next - start <= hours(25));
    }
  }
}

}  // namespace
}  // namespace weir

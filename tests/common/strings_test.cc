#include "common/strings.h"

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>

namespace weir {
namespace {

// Runs `command` with /bin/sh (popen) and returns its standard output, exactly.
std::string ShellOutput(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = ::pclose(pipe);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

// printf is a builtin of /bin/sh. PATH points nowhere, so should quoting ever break, an injected
// external command (rm, id) is not found instead of run; the output still shows the breakage.
std::string EchoThroughShell(std::string_view s) {
  return ShellOutput("PATH=/nonexistent; printf %s " + ShellQuote(s));
}

// --- EditDistance and ClosestMatch -------------------------------------------------------------

TEST_CASE("EditDistance counts insertions, deletions and substitutions", "[common]") {
  CHECK(EditDistance("", "") == 0);
  CHECK(EditDistance("abc", "") == 3);
  CHECK(EditDistance("", "abc") == 3);
  CHECK(EditDistance("retries", "retries") == 0);
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(EditDistance("shel", "shell") == 1);
  CHECK(EditDistance("schedul", "schedule") == 1);
  CHECK(EditDistance("retires", "retries") == 2);  // a transposition is two substitutions
  CHECK(EditDistance("flaw", "lawn") == 2);
  CHECK(EditDistance("abc", "xyz") == 3);
}

TEST_CASE("EditDistance is symmetric", "[common]") {
  const char* words[] = {"", "a", "timeout", "timeuot", "retry_delay", "max_retry_delay", "pool"};
  for (const char* a : words) {
    for (const char* b : words) {
      INFO(a << " / " << b);
      CHECK(EditDistance(a, b) == EditDistance(b, a));
    }
  }
}

TEST_CASE("ClosestMatch suggests a plausible typo and nothing for an unrelated word", "[common]") {
  const std::vector<std::string> keys = {"kind",    "deps",         "retries", "retry_delay",
                                         "timeout", "trigger_rule", "pool"};
  CHECK(ClosestMatch("retires", keys) == "retries");
  CHECK(ClosestMatch("timout", keys) == "timeout");
  CHECK(ClosestMatch("dep", keys) == "deps");
  CHECK(ClosestMatch("trigger-rule", keys) == "trigger_rule");
  CHECK(ClosestMatch("kind", keys) == "kind");
  CHECK_FALSE(ClosestMatch("warehouse", keys));
  CHECK_FALSE(ClosestMatch("zzzz", keys));
  CHECK_FALSE(ClosestMatch("anything", {}));
}

TEST_CASE("ClosestMatch prefers the nearest candidate and the first one on a tie", "[common]") {
  CHECK(ClosestMatch("shel", {"shelf", "shell"}) == "shelf");
  CHECK(ClosestMatch("shel", {"shell", "shelf"}) == "shell");
  CHECK(ClosestMatch("hourly", {"@hourly", "hourly"}) == "hourly");
}

// --- ShellQuote ----------------------------------------------------------------------------------

TEST_CASE("ShellQuote wraps text in single quotes and escapes single quotes", "[common]") {
  CHECK(ShellQuote("") == "''");
  CHECK(ShellQuote("plain") == "'plain'");
  CHECK(ShellQuote("it's") == "'it'\\''s'");
}

TEST_CASE("ShellQuote round-trips hostile strings through /bin/sh exactly", "[common]") {
  const std::string hostile[] = {
      "",
      "plain",
      "two words",
      "'; rm -rf / #",
      "'",
      "''",
      "'\\''",
      "$(id)",
      "`id`",
      "${HOME}",
      "$HOME",
      "$1 $@ $* $# $? $$ $!",
      "\"double\" \"quotes\"",
      "back\\slash\\\\ and \\n escapes \\x41 \\0101",
      "new\nline\n",
      "\n",
      "tab\there",
      "glob * ? [a-z] ~ ~root",
      "semi; amp & pipe | redirect > /tmp/x < /etc/passwd",
      "-n",
      "--",
      "%s %d %% %n",
      "a'b\"c`d$e\\f",
      "!! !$ history",
      "# comment",
      "{a,b} {1..3}",
      "\x01\x02\x1b[31mred\x7f",
      "unicode: é ü 日本 🎉",
      std::string(10000, '\''),
  };
  for (const std::string& s : hostile) {
    INFO("input: " << Printable(s));
    CHECK(EchoThroughShell(s) == s);
  }
}

TEST_CASE("ShellQuote makes exactly one shell word", "[common]") {
  for (std::string s : {"", "a b  c", "x\ny", "' '", "$(printf 'a b')", "*"}) {
    INFO("input: " << Printable(s));
    CHECK(ShellOutput("PATH=/nonexistent; set -- " + ShellQuote(s) + "; printf %s \"$#\"") == "1");
  }
}

// --- FindInvalidUtf8
// ------------------------------------------------------------------------------

TEST_CASE("FindInvalidUtf8 accepts valid UTF-8 of every length", "[common]") {
  CHECK_FALSE(FindInvalidUtf8(""));
  CHECK_FALSE(FindInvalidUtf8("plain ascii\n\t"));
  CHECK_FALSE(FindInvalidUtf8("\xC3\xA9"));          // é, 2 bytes
  CHECK_FALSE(FindInvalidUtf8("\xE2\x82\xAC"));      // €, 3 bytes
  CHECK_FALSE(FindInvalidUtf8("\xF0\x9F\x8E\x89"));  // 🎉, 4 bytes
  CHECK_FALSE(FindInvalidUtf8("\xC2\x80"));          // U+0080, smallest 2-byte
  CHECK_FALSE(FindInvalidUtf8("\xE0\xA0\x80"));      // U+0800, smallest 3-byte
  CHECK_FALSE(FindInvalidUtf8("\xF0\x90\x80\x80"));  // U+10000, smallest 4-byte
  CHECK_FALSE(FindInvalidUtf8("\xED\x9F\xBF"));      // U+D7FF, just below surrogates
  CHECK_FALSE(FindInvalidUtf8("\xEE\x80\x80"));      // U+E000, just above surrogates
  CHECK_FALSE(FindInvalidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
  CHECK_FALSE(
      FindInvalidUtf8("\xEF\xBB\xBF"
                      "dag: x"));                             // a byte order mark
  CHECK_FALSE(FindInvalidUtf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
}

TEST_CASE("FindInvalidUtf8 refuses overlong encodings", "[common]") {
  CHECK(FindInvalidUtf8("\xC0\xAF") == 0u);  // '/' in 2 bytes
  CHECK(FindInvalidUtf8("\xC1\xBF") == 0u);
  CHECK(FindInvalidUtf8("\xC0\x80") == 0u);          // NUL in 2 bytes (modified UTF-8)
  CHECK(FindInvalidUtf8("\xE0\x80\xAF") == 0u);      // '/' in 3 bytes
  CHECK(FindInvalidUtf8("\xE0\x9F\xBF") == 0u);      // U+07FF in 3 bytes
  CHECK(FindInvalidUtf8("\xF0\x80\x80\xAF") == 0u);  // '/' in 4 bytes
  CHECK(FindInvalidUtf8("\xF0\x8F\xBF\xBF") == 0u);  // U+FFFF in 4 bytes
  CHECK(FindInvalidUtf8("ok/\xC0\xAF..") == 3u);
}

TEST_CASE("FindInvalidUtf8 refuses surrogates and code points above U+10FFFF", "[common]") {
  CHECK(FindInvalidUtf8("\xED\xA0\x80") == 0u);              // U+D800
  CHECK(FindInvalidUtf8("\xED\xBF\xBF") == 0u);              // U+DFFF
  CHECK(FindInvalidUtf8("\xED\xA0\xBD\xED\xB8\x80") == 0u);  // CESU-8 surrogate pair
  CHECK(FindInvalidUtf8("\xF4\x90\x80\x80") == 0u);          // U+110000
  CHECK(FindInvalidUtf8("\xF5\x80\x80\x80") == 0u);
  CHECK(FindInvalidUtf8("\xF7\xBF\xBF\xBF") == 0u);
  CHECK(FindInvalidUtf8("\xF8\x88\x80\x80\x80") == 0u);  // 5-byte forms do not exist
  CHECK(FindInvalidUtf8("\xFC\x84\x80\x80\x80\x80") == 0u);
  CHECK(FindInvalidUtf8("\xFE") == 0u);
  CHECK(FindInvalidUtf8("\xFF") == 0u);
}

TEST_CASE("FindInvalidUtf8 refuses stray and missing continuation bytes", "[common]") {
  CHECK(FindInvalidUtf8("\x80") == 0u);  // a continuation byte alone
  CHECK(FindInvalidUtf8("ab\xBF") == 2u);
  CHECK(FindInvalidUtf8("\xC3") == 0u);  // truncated at the end
  CHECK(FindInvalidUtf8("ab\xE2\x82") == 2u);
  CHECK(FindInvalidUtf8("\xF0\x9F\x8E") == 0u);
  CHECK(FindInvalidUtf8("\xE2\x82"
                        "a") == 0u);             // truncated before ASCII
  CHECK(FindInvalidUtf8("\xC3\xC3\xA9") == 0u);  // a lead byte where a continuation goes
  CHECK(FindInvalidUtf8("\xF0\x9F\x8E\x89\xF0\x9F\x8E") == 4u);
}

TEST_CASE("FindInvalidUtf8 reports the offset of the first bad byte after valid text", "[common]") {
  CHECK(FindInvalidUtf8("abc\xFF") == 3u);
  CHECK(FindInvalidUtf8("\xC3\xA9\xFF") == 2u);
  CHECK(FindInvalidUtf8("\xE2\x82\xAC \xE2\x82\xAC \x80 \xFF") == 8u);
}

// --- Printable -----------------------------------------------------------------------------------

TEST_CASE("Printable escapes control characters so a value fits on one line", "[common]") {
  CHECK(Printable("plain text") == "plain text");
  CHECK(Printable("a\nb") == "a\\nb");
  CHECK(Printable("a\tb") == "a\\tb");
  CHECK(Printable("\r\x1b[31m") == "\\x0d\\x1b[31m");
  CHECK(Printable("\x7f") == "\\x7f");
  CHECK(Printable(std::string_view("a\0b", 3)) == "a\\x00b");
  CHECK(Printable("caf\xC3\xA9 \xF0\x9F\x8E\x89") == "caf\xC3\xA9 \xF0\x9F\x8E\x89");
}

TEST_CASE("Printable cuts long values with an ellipsis", "[common]") {
  CHECK(Printable(std::string(80, 'a')) == std::string(80, 'a'));
  CHECK(Printable(std::string(81, 'a')) == std::string(80, 'a') + "...");
  CHECK(Printable(std::string(1000, 'a'), 10) == std::string(10, 'a') + "...");
  CHECK(Printable("abc", 0) == "...");
}

TEST_CASE("Printable escapes invalid UTF-8 and never cuts a character in half", "[common]") {
  CHECK(Printable("a\xFF"
                  "b") == "a\\xffb");
  CHECK(Printable("\xC0\xAF") == "\\xc0\\xaf");
  CHECK(Printable("\xED\xA0\x80") == "\\xed\\xa0\\x80");
  // 79 ASCII bytes then a 2-byte character: the character is kept whole.
  std::string text = std::string(79, 'a') + "\xC3\xA9" + "tail";
  std::string out = Printable(text);
  CHECK(out == std::string(79, 'a') + "\xC3\xA9...");
  for (std::size_t max = 0; max < 12; ++max) {
    std::string cut = Printable("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x8E\x89", max);
    INFO(max);
    CHECK_FALSE(FindInvalidUtf8(cut));
  }
  CHECK_FALSE(FindInvalidUtf8(Printable("\xFF\xFE\x80\xC3")));
}

TEST_CASE("ParseWholeNumber takes decimal digits in range and nothing else", "[common]") {
  CHECK(ParseWholeNumber("42", 1, 100) == 42);
  CHECK(ParseWholeNumber("-3", -5, 5) == -3);
  CHECK(ParseWholeNumber("9223372036854775807", 0, INT64_MAX) == INT64_MAX);
  for (const char* bad : {"", "0", "101", "4x", " 4", "4 ", "+4", "0x10", "1e2", "1.0",
                          "99999999999999999999", "4\n"}) {
    INFO(bad);
    CHECK_FALSE(ParseWholeNumber(bad, 1, 100));
  }
}

}  // namespace
}  // namespace weir

#include "tasks/csv.h"

#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/strings.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::TempDir;

// A record copied out of the reader, so it outlives the next call.
struct Row {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  std::int64_t line = 0;
  std::string raw;
  std::string problem;
  bool operator==(const Row&) const = default;
};

struct Parsed {
  std::vector<Row> rows;
  std::optional<Error> error;
  bool operator==(const Parsed& other) const {
    if (rows != other.rows || error.has_value() != other.error.has_value()) return false;
    return !error || (error->code == other.error->code && error->message == other.error->message);
  }
};

// Reads to the end or to the first error; a reader that never stops fails the test.
Parsed ReadAll(CsvReader reader, std::size_t max_records = 100000) {
  Parsed parsed;
  CsvRecord record;
  for (std::size_t i = 0; i <= max_records; ++i) {
    auto more = reader.Next(&record);
    if (!more) {
      parsed.error = more.error();
      return parsed;
    }
    if (!*more) return parsed;
    Row row{{record.fields.begin(), record.fields.end()},
            record.quoted,
            record.line,
            std::string(record.raw),
            record.problem};
    parsed.rows.push_back(std::move(row));
  }
  FAIL("the reader returned more records than the input can hold");
  return parsed;
}

Parsed Read(std::string text, CsvOptions options = {}) {
  return ReadAll(CsvReader::FromString(std::move(text), "t.csv", options));
}

using Fields = std::vector<std::string>;

TEST_CASE("quoted fields may hold delimiters and doubled quotes", "[csv]") {
  Parsed p = Read("a,\"b,c\",\"say \"\"hi\"\"\"\n\"\"\"\",x\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].fields == Fields{"a", "b,c", "say \"hi\""});
  CHECK(p.rows[0].quoted == std::vector<bool>{false, true, true});
  CHECK(p.rows[0].raw == "a,\"b,c\",\"say \"\"hi\"\"\"");
  CHECK(p.rows[1].fields == Fields{"\"", "x"});
  CHECK(p.rows[1].problem.empty());
}

TEST_CASE("quoted fields may hold LF and CRLF, and a record keeps the line it starts on", "[csv]") {
  Parsed p = Read("h1,h2\n1,\"two\nlines\"\n2,\"crlf\r\ninside\"\r\n3,\"\n\n\"\n4,end\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 5);
  CHECK(p.rows[1].fields == Fields{"1", "two\nlines"});
  CHECK(p.rows[1].line == 2);
  CHECK(p.rows[1].raw == "1,\"two\nlines\"");
  CHECK(p.rows[2].fields == Fields{"2", "crlf\r\ninside"});
  CHECK(p.rows[2].line == 4);
  CHECK(p.rows[3].fields == Fields{"3", "\n\n"});
  CHECK(p.rows[3].line == 6);
  CHECK(p.rows[4].line == 9);
}

TEST_CASE("CRLF line ends are not part of the last field, and a lone CR is data", "[csv]") {
  Parsed p = Read("a,b\r\nc,d\re\r\n\"q\"\r\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[0].fields == Fields{"a", "b"});
  CHECK(p.rows[0].raw == "a,b");
  CHECK(p.rows[1].fields == Fields{"c", "d\re"});
  CHECK(p.rows[2].fields == Fields{"q"});
  CHECK(p.rows[2].line == 3);
}

TEST_CASE("a UTF-8 byte order mark at the start is skipped, and only there", "[csv]") {
  Parsed p = Read("\xEF\xBB\xBFid,name\n1,\xEF\xBB\xBFx\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].fields == Fields{"id", "name"});
  CHECK(p.rows[0].raw == "id,name");
  CHECK(p.rows[1].fields == Fields{"1", "\xEF\xBB\xBFx"});
  CHECK(Read("\xEF\xBB\xBF").rows.empty());
  CHECK(Read("\xEF\xBB\xBF\"a\"").rows.at(0).fields == Fields{"a"});
}

TEST_CASE("any one-byte delimiter works, such as a semicolon or a tab", "[csv]") {
  Parsed semicolon = Read("a;\"b;c\";d,e\n", {.delimiter = ';'});
  REQUIRE(semicolon.rows.size() == 1);
  CHECK(semicolon.rows[0].fields == Fields{"a", "b;c", "d,e"});
  Parsed tab = Read("a\t\"b\tc\"\td,e\n", {.delimiter = '\t'});
  REQUIRE(tab.rows.size() == 1);
  CHECK(tab.rows[0].fields == Fields{"a", "b\tc", "d,e"});
}

TEST_CASE("a delimiter that is the quote or a line end is an error", "[csv]") {
  Parsed p = Read("a\n", {.delimiter = '"'});
  REQUIRE(p.error);
  CHECK(p.error->code == ErrorCode::kInvalidArgument);
  CHECK(p.error->message.starts_with("t.csv:1: "));
  TempDir dir;
  auto opened = CsvReader::Open(dir.Write("a.csv", "a\n"), {.delimiter = '\n'});
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("blank lines, empty or a lone CR, are not records but count as lines", "[csv]") {
  Parsed p = Read("\n\r\na\n\n\r\nb\r\n\n\r");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].fields == Fields{"a"});
  CHECK(p.rows[0].line == 3);
  CHECK(p.rows[1].fields == Fields{"b"});
  CHECK(p.rows[1].line == 6);
  CHECK(Read("").rows.empty());
  CHECK(Read("\n\n").rows.empty());
}

TEST_CASE("the last record may lack a line end", "[csv]") {
  Parsed plain = Read("a,b\nc,d");
  REQUIRE(plain.rows.size() == 2);
  CHECK(plain.rows[1].fields == Fields{"c", "d"});
  Parsed quoted = Read("a,b\nc,\"d\"");
  REQUIRE(quoted.rows.size() == 2);
  CHECK(quoted.rows[1].fields == Fields{"c", "d"});
  Parsed trailing_delimiter = Read("a,");
  REQUIRE(trailing_delimiter.rows.size() == 1);
  CHECK(trailing_delimiter.rows[0].fields == Fields{"a", ""});
}

TEST_CASE("an empty field differs from a quoted empty field by its quoted flag", "[csv]") {
  Parsed p = Read(",\"\",x,\n\"\"\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].fields == Fields{"", "", "x", ""});
  CHECK(p.rows[0].quoted == std::vector<bool>{false, true, false, false});
  CHECK(p.rows[1].fields == Fields{""});
  CHECK(p.rows[1].quoted == std::vector<bool>{true});
}

TEST_CASE("ragged rows are returned as they are, the field count is the caller's to check",
          "[csv]") {
  Parsed p = Read("a,b,c\n1\n1,2,3,4,5\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[1].fields == Fields{"1"});
  CHECK(p.rows[2].fields.size() == 5);
}

TEST_CASE("invalid UTF-8 marks the record with the byte where it goes wrong, and reading goes on",
          "[csv]") {
  Parsed p = Read("ok,caf\xC3\xA9\nab,c\xC3(\n\"x\xFF\"\n\xED\xA0\x80\nlast\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 5);
  CHECK(p.rows[0].problem.empty());
  CHECK(p.rows[1].problem == "invalid UTF-8 at byte 5 of the record");
  CHECK(p.rows[1].fields == Fields{"ab", "c\xC3("});
  CHECK(p.rows[2].problem == "invalid UTF-8 at byte 3 of the record");
  CHECK(p.rows[3].problem == "invalid UTF-8 at byte 1 of the record");  // a surrogate
  CHECK(p.rows[4].problem.empty());
  CHECK(Read("abcdefghijklmnop\xF0\x9F\x98\x80qrstuvwxyz\n").rows.at(0).problem.empty());
}

TEST_CASE("a NUL byte marks the record, and reading goes on", "[csv]") {
  Parsed p = Read(std::string("a,b\0c\nd\n", 8));
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 2);
  CHECK(p.rows[0].problem == "a NUL byte at byte 4 of the record");
  CHECK(p.rows[0].fields[1] == std::string("b\0c", 3));
  CHECK(p.rows[1].problem.empty());
}

TEST_CASE("text after a closing quote marks the record, and reading goes on", "[csv]") {
  Parsed p = Read("x,\"ab\"c,d\n\"e\"\"\"f\ng\n");
  REQUIRE_FALSE(p.error);
  REQUIRE(p.rows.size() == 3);
  CHECK(p.rows[0].problem == "text after the closing quote of field 2 (byte 7)");
  CHECK(p.rows[0].fields == Fields{"x", "abc", "d"});
  CHECK(p.rows[0].raw == "x,\"ab\"c,d");
  CHECK(p.rows[1].problem == "text after the closing quote of field 1 (byte 6)");
  CHECK(p.rows[1].fields == Fields{"e\"f"});
  CHECK(p.rows[2].problem.empty());
}

TEST_CASE("an unterminated quote stops the read with an error naming the line it opened on",
          "[csv]") {
  Parsed p = Read("a,b\nc,d\ne,\"f\ng\nh\n");
  REQUIRE(p.error);
  CHECK(p.error->code == ErrorCode::kInvalidArgument);
  CHECK(p.error->message.starts_with("t.csv:3: unterminated quote"));
  CHECK(p.rows.size() == 2);
  Parsed second_line_of_record = Read("\"a\nb\",\"c");
  REQUIRE(second_line_of_record.error);
  CHECK(second_line_of_record.error->message.starts_with("t.csv:2: "));
}

TEST_CASE("a record of max_field_bytes is read, and one byte more stops the read", "[csv]") {
  for (std::size_t block : {1, 3, 7, 1 << 20}) {
    CsvOptions options{.max_field_bytes = 10, .block_bytes = block};
    Parsed fits = Read("1234567890\r\n\"1\"\"3\",\"6\"\r\nab", options);
    CHECK_FALSE(fits.error);
    CHECK(fits.rows.size() == 3);
    Parsed over = Read("a\nb,\"123\n567\"8\nc\n", options);
    REQUIRE(over.error);
    CHECK(over.error->message ==
          "t.csv:2: field 2 makes the record larger than max_field_bytes (10 bytes)");
    CHECK(over.rows.size() == 1);
  }
}

TEST_CASE("a 10 MB field over a 1 MiB cap stops the read on the field's line", "[csv]") {
  TempDir dir;
  std::string big = "id,blob\n1,small\n2," + std::string(10 << 20, 'x') + "\n3,after\n";
  auto path = dir.Write("big.csv", big);
  auto reader = CsvReader::Open(path, {});
  REQUIRE(reader);
  Parsed p = ReadAll(std::move(*reader));
  REQUIRE(p.error);
  CHECK(p.error->code == ErrorCode::kInvalidArgument);
  CHECK(p.error->message == path.string() +
                                ":3: field 2 makes the record larger than max_field_bytes "
                                "(1048576 bytes)");
  CHECK(p.rows.size() == 2);

  big[big.find("2,") + 2] = '"';  // an unterminated quoted field: still the size error
  Parsed quoted = Read(big);
  REQUIRE(quoted.error);
  CHECK(quoted.error->message.starts_with("t.csv:3: field 2 makes the record larger"));
}

TEST_CASE("a missing file is not found, and the error names its path", "[csv]") {
  TempDir dir;
  auto reader = CsvReader::Open(dir / "missing.csv", {});
  REQUIRE_FALSE(reader);
  CHECK(reader.error().code == ErrorCode::kNotFound);
  CHECK(reader.error().message.find((dir / "missing.csv").string()) != std::string::npos);
  auto folder = CsvReader::Open(dir.path(), {});
  REQUIRE_FALSE(folder);
  CHECK(folder.error().code == ErrorCode::kIo);
}

// A sample with every feature, for the block boundary tests.
const std::string kSample =
    "\xEF\xBB\xBFid,\"na,me\",note\r\n"
    "1,\"a \"\"b\"\"\nc\",caf\xC3\xA9\r\n"
    "\n"
    "2,,\"\"\r\n"
    "3,\"x\"y,\xFFz\n"
    "4,lone\rcr,\"\r\n\"\n"
    "5,last,\"q\"";

TEST_CASE("records parse the same at every block boundary", "[csv]") {
  Parsed whole = Read(kSample);
  REQUIRE_FALSE(whole.error);
  REQUIRE(whole.rows.size() == 6);
  CHECK(whole.rows[1].fields == Fields{"1", "a \"b\"\nc", "caf\xC3\xA9"});
  CHECK(whole.rows[4].line == 7);
  CHECK(whole.rows[5].fields == Fields{"5", "last", "q"});
  // Block size k puts the first split at byte k, and later ones at multiples of it.
  for (std::size_t block = 1; block <= kSample.size() + 1; ++block) {
    INFO("block_bytes " << block);
    CHECK(Read(kSample, {.block_bytes = block}) == whole);
  }
}

TEST_CASE("a file reads the same as its text in memory, in any block size", "[csv]") {
  TempDir dir;
  auto path = dir.Write("sample.csv", kSample);
  Parsed in_memory = Read(kSample);
  for (std::size_t block : {1, 2, 5, 64, 1 << 20}) {
    auto reader = CsvReader::Open(path, {.block_bytes = block});
    REQUIRE(reader);
    Parsed from_file = ReadAll(std::move(*reader));
    CHECK(from_file.rows == in_memory.rows);
    CHECK_FALSE(from_file.error);
  }
}

TEST_CASE("an error ends the read and is returned again by later calls", "[csv]") {
  auto reader = CsvReader::FromString("\"open", "t.csv", {});
  CsvRecord record;
  auto first = reader.Next(&record);
  REQUIRE_FALSE(first);
  auto second = reader.Next(&record);
  REQUIRE_FALSE(second);
  CHECK(second.error().message == first.error().message);
}

TEST_CASE("random bytes never crash or hang the reader and parse the same in any block size",
          "[csv]") {
  std::string alphabet = "a,;\"\"\n\r\r \xC3\xA9\xFF\xEF\xBB\xBF";
  alphabet += '\0';
  std::mt19937 random(20260115);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n)(random);
  };
  for (int i = 0; i < 3000; ++i) {
    std::string text(pick(48), ' ');
    for (char& c : text) c = alphabet[pick(alphabet.size() - 1)];
    CsvOptions options{.delimiter = pick(3) == 0 ? ';' : ',',
                       .max_field_bytes = pick(2) == 0 ? 6 : std::size_t{1} << 20};
    Parsed whole = ReadAll(CsvReader::FromString(text, "f.csv", options), text.size() + 1);
    options.block_bytes = 1 + pick(6);
    Parsed blocks = ReadAll(CsvReader::FromString(text, "f.csv", options), text.size() + 1);
    if (!(blocks == whole)) {
      FAIL("block size " << options.block_bytes << " differs on " << Printable(text));
    }
    for (const Row& row : whole.rows) {
      REQUIRE(row.fields.size() == row.quoted.size());
      REQUIRE(text.find(row.raw) != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace weir::tasks

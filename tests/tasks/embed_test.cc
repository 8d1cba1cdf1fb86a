// The embed kind against real SQLite files, a real FAISS index and the stand-in OpenAI server
// (tests/testing/openai_stub_server.py): chunking by code points and by words (offsets, overlap,
// multi-byte and invalid UTF-8, checked against a byte-table UTF-8 reference), the output table's
// rows, stable chunk ids, incremental reuse of stored vectors, the index and its manifest, search,
// and bad input that names the task and the row or the request and leaves the table, an earlier
// index and its manifest as they were.
#include "tasks/embed.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "tasks/embedding.h"
#include "tests/testing/openai_stub.h"
#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::DumpEveryTable;
using testing::ExecSql;
using testing::OpenAiStub;
using testing::Query;
using testing::ReadFile;
using testing::TempDir;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// A UTF-8 reference written from the Unicode standard's table of well-formed byte sequences
// (Table 3-7), not from the decoder under test.

// The byte lengths of the code points of `s`, or the 0-based offset of the first byte of the
// first ill-formed sequence.
struct Decoded {
  std::vector<int> lengths;
  std::optional<std::size_t> bad;
};

Decoded DecodeUtf8(std::string_view s) {
  Decoded out;
  auto in = [&](std::size_t i, int lo, int hi) {
    return i < s.size() && static_cast<unsigned char>(s[i]) >= lo &&
           static_cast<unsigned char>(s[i]) <= hi;
  };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = 0;
    if (c <= 0x7f) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = in(i + 1, 0x80, 0xbf) ? 2 : 0;
    } else if (c == 0xe0) {
      len = in(i + 1, 0xa0, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
      len = in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    } else if (c == 0xed) {
      len = in(i + 1, 0x80, 0x9f) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
    } else if (c == 0xf0) {
      len = in(i + 1, 0x90, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    } else if (c >= 0xf1 && c <= 0xf3) {
      len = in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    } else if (c == 0xf4) {
      len = in(i + 1, 0x80, 0x8f) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
    }
    if (len == 0) {
      out.bad = i;
      return out;
    }
    out.lengths.push_back(len);
    i += len;
  }
  return out;
}

// The number of code points of `s`, which must be valid UTF-8.
std::int64_t CodePointCount(std::string_view s) {
  Decoded d = DecodeUtf8(s);
  INFO("bytes: " << Catch::Detail::stringify(std::string(s)));
  REQUIRE_FALSE(d.bad.has_value());
  return static_cast<std::int64_t>(d.lengths.size());
}

std::vector<TextChunk> Chunks(std::string_view text, const std::string& unit, int size,
                              int overlap) {
  auto chunks = ChunkText(text, ChunkOptions{.unit = unit, .size = size, .overlap = overlap});
  INFO((chunks ? "" : chunks.error().message));
  REQUIRE(chunks);
  return *chunks;
}

std::vector<std::string> ChunkStrings(std::string_view text, const std::vector<TextChunk>& chunks) {
  std::vector<std::string> out;
  for (const TextChunk& c : chunks) {
    out.emplace_back(text.substr(c.start_byte, c.end_byte - c.start_byte));
  }
  return out;
}

// Every chunk's byte span decodes, and its code point offsets agree with its byte offsets.
void CheckSpans(std::string_view text, const std::vector<TextChunk>& chunks) {
  for (const TextChunk& c : chunks) {
    INFO("chunk [" << c.start_char << ", " << c.end_char << ") bytes [" << c.start_byte << ", "
                   << c.end_byte << ")");
    REQUIRE(c.start_byte < c.end_byte);
    REQUIRE(c.end_byte <= text.size());
    CHECK(CodePointCount(text.substr(0, c.start_byte)) == c.start_char);
    CHECK(CodePointCount(text.substr(c.start_byte, c.end_byte - c.start_byte)) ==
          c.end_char - c.start_char);
  }
}

// By chars: chunk i starts at i * (size - overlap), holds `size` code points but the last, which
// ends at the end of the text and is the first to reach it.
void CheckCharArithmetic(std::string_view text, const std::vector<TextChunk>& chunks, int size,
                         int overlap) {
  const std::int64_t n = CodePointCount(text);
  if (n == 0) {
    CHECK(chunks.empty());
    return;
  }
  REQUIRE_FALSE(chunks.empty());
  const std::int64_t step = size - overlap;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    INFO("chunk " << i << " of " << chunks.size() << ", n " << n << ", size " << size
                  << ", overlap " << overlap);
    CHECK(chunks[i].start_char == static_cast<std::int64_t>(i) * step);
    if (i + 1 < chunks.size()) {
      CHECK(chunks[i].end_char == chunks[i].start_char + size);
      CHECK(chunks[i].end_char < n);
      CHECK(chunks[i].end_char - chunks[i + 1].start_char == overlap);
    } else {
      CHECK(chunks[i].end_char == n);
      CHECK(chunks[i].end_char - chunks[i].start_char <= size);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ChunkText

TEST_CASE("ChunkText by chars gives each chunk's code point and byte offsets, overlapping",
          "[embed]") {
  const std::string text = "abcdefghij";  // 10 code points
  std::vector<TextChunk> chunks = Chunks(text, "chars", 4, 1);
  REQUIRE(chunks.size() == 3);
  CHECK(ChunkStrings(text, chunks) == std::vector<std::string>{"abcd", "defg", "ghij"});
  CHECK(chunks[0].start_char == 0);
  CHECK(chunks[0].end_char == 4);
  CHECK(chunks[1].start_char == 3);
  CHECK(chunks[1].end_char == 7);
  CHECK(chunks[2].start_char == 6);
  CHECK(chunks[2].end_char == 10);
  CHECK(chunks[2].start_byte == 6);
  CHECK(chunks[2].end_byte == 10);

  // No overlap: back to back, the last one shorter.
  CHECK(ChunkStrings(text, Chunks(text, "chars", 4, 0)) ==
        std::vector<std::string>{"abcd", "efgh", "ij"});
  // The text fits in one chunk.
  CHECK(ChunkStrings(text, Chunks(text, "chars", 10, 3)) == std::vector<std::string>{text});
  CHECK(ChunkStrings(text, Chunks(text, "chars", 800, 100)) == std::vector<std::string>{text});
  // The second chunk reaches the end: no third chunk inside it.
  CHECK(ChunkStrings("abcdefg", Chunks("abcdefg", "chars", 4, 1)) ==
        std::vector<std::string>{"abcd", "defg"});
  // One code point per chunk.
  CHECK(ChunkStrings("abc", Chunks("abc", "chars", 1, 0)) ==
        std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("ChunkText by chars follows the size and overlap arithmetic for every small case",
          "[embed]") {
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz";
  for (int n = 0; n <= 26; ++n) {
    const std::string text = alphabet.substr(0, n);
    for (int size = 1; size <= 9; ++size) {
      for (int overlap = 0; overlap < size; ++overlap) {
        std::vector<TextChunk> chunks = Chunks(text, "chars", size, overlap);
        CheckCharArithmetic(text, chunks, size, overlap);
        for (const TextChunk& c : chunks) {
          CHECK(c.start_byte == static_cast<std::size_t>(c.start_char));
          CHECK(c.end_byte == static_cast<std::size_t>(c.end_char));
        }
      }
    }
  }
}

TEST_CASE("ChunkText by words cuts runs of non-blanks, keeping the text between words of a chunk",
          "[embed]") {
  const std::string text = "the quick brown fox jumps over the lazy dog";
  std::vector<TextChunk> chunks = Chunks(text, "words", 3, 1);
  CHECK(ChunkStrings(text, chunks) == std::vector<std::string>{"the quick brown", "brown fox jumps",
                                                               "jumps over the", "the lazy dog"});
  CHECK(chunks.back().end_char == static_cast<std::int64_t>(text.size()));
  CHECK(chunks[1].start_char == 10);  // "brown", shared with the first chunk
  CHECK(chunks[0].end_char == 15);

  // Leading, trailing and repeated blanks of every kind: a chunk starts and ends on a word.
  const std::string blanks = "  one\ttwo\n\nthree \r\f\v four  five \n";
  std::vector<TextChunk> by_two = Chunks(blanks, "words", 2, 0);
  CHECK(ChunkStrings(blanks, by_two) ==
        std::vector<std::string>{"one\ttwo", "three \r\f\v four", "five"});
  CHECK(by_two[0].start_char == 2);
  CHECK(by_two[2].end_char == static_cast<std::int64_t>(blanks.find(" \n", 20)));

  // Overlap: each chunk starts `overlap` words before its predecessor ends.
  const std::string words = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10";
  CHECK(ChunkStrings(words, Chunks(words, "words", 4, 2)) ==
        std::vector<std::string>{"w0 w1 w2 w3", "w2 w3 w4 w5", "w4 w5 w6 w7", "w6 w7 w8 w9",
                                 "w8 w9 w10"});
  CHECK(ChunkStrings(words, Chunks(words, "words", 11, 5)) == std::vector<std::string>{words});
  CHECK(ChunkStrings("single", Chunks("single", "words", 8, 2)) ==
        std::vector<std::string>{"single"});
}

TEST_CASE("ChunkText of empty text or of blanks only gives no chunks", "[embed]") {
  for (const char* unit : {"chars", "words"}) {
    CHECK(Chunks("", unit, 4, 1).empty());
    CHECK(Chunks("", unit, 1, 0).empty());
  }
  CHECK(Chunks(" \t\n\r ", "words", 4, 1).empty());
  // By chars, blanks are text like any other.
  CHECK(Chunks(" \t\n", "chars", 2, 0).size() == 2);
}

TEST_CASE("ChunkText never cuts inside a 2, 3 or 4-byte code point and counts code points",
          "[embed]") {
  // é (2 bytes), € and 日 (3 bytes), 😀 and 𝄞 (4 bytes), mixed with ASCII.
  const std::string text = "aé€😀b日本語 café 🚀𝄞 x€é€ 😀😀 z";
  const std::int64_t n = CodePointCount(text);
  REQUIRE(n == 26);
  for (int size = 1; size <= 7; ++size) {
    for (int overlap = 0; overlap < size; ++overlap) {
      INFO("size " << size << ", overlap " << overlap);
      std::vector<TextChunk> chunks = Chunks(text, "chars", size, overlap);
      CheckSpans(text, chunks);
      CheckCharArithmetic(text, chunks, size, overlap);
      CHECK(chunks.back().end_byte == text.size());
    }
  }
  CHECK(ChunkStrings(text, Chunks(text, "chars", 3, 1)).front() == "aé€");
  CHECK(ChunkStrings(text, Chunks(text, "chars", 3, 1))[1] == "€😀b");

  // By words: words are runs of non-blanks, whatever their bytes.
  const std::string words = "日本語 😀a€ é  𝄞𝄞\tcafé";
  std::vector<TextChunk> by_two = Chunks(words, "words", 2, 1);
  CheckSpans(words, by_two);
  CHECK(ChunkStrings(words, by_two) ==
        std::vector<std::string>{"日本語 😀a€", "😀a€ é", "é  𝄞𝄞", "𝄞𝄞\tcafé"});
  CHECK(by_two[1].start_char == 4);
  CHECK(by_two[1].end_char == 9);
  CHECK(by_two[3].end_char == CodePointCount(words));
}

TEST_CASE("ChunkText rejects text that is not valid UTF-8, naming the byte", "[embed]") {
  struct Case {
    const char* what;
    std::string text;
    int byte;  // 1-based
  };
  const std::vector<Case> cases = {
      {"a lone continuation byte", "ab\x80zz", 3},
      {"a continuation byte first", "\xbf", 1},
      {"a 3-byte sequence cut short by the end", "abc\xe2\x82", 4},
      {"a 2-byte sequence cut short by ASCII", "\xc3(x", 1},
      {"a 4-byte sequence cut short by the end", "ok \xf0\x9f\x98", 4},
      {"an overlong '/'", "x\xc0\xaf", 2},
      {"an overlong 3-byte NUL", "\xe0\x80\x80", 1},
      {"an overlong 4-byte form", "\xf0\x8f\xbf\xbf", 1},
      {"a surrogate", "é\xed\xa0\x80", 3},
      {"the last surrogate", "\xed\xbf\xbf", 1},
      {"U+110000", "ok \xf4\x90\x80\x80", 4},
      {"a lead byte F5", "\xf5\x80\x80\x80", 1},
      {"the byte FF", "abc\xff", 4},
      {"an invalid byte after valid multi-byte text", "日本\xfe", 7},
  };
  for (const Case& c : cases) {
    for (const char* unit : {"chars", "words"}) {
      INFO(c.what << " by " << unit);
      REQUIRE(DecodeUtf8(c.text).bad.value_or(999) == static_cast<std::size_t>(c.byte - 1));
      auto chunks = ChunkText(c.text, ChunkOptions{.unit = unit, .size = 4, .overlap = 1});
      REQUIRE_FALSE(chunks);
      CHECK(chunks.error().code == ErrorCode::kInvalidArgument);
      CHECK(chunks.error().message == "byte " + std::to_string(c.byte) + " is not valid UTF-8");
    }
  }
  // The edges of the valid ranges pass.
  for (const std::string& valid : std::vector<std::string>{
           "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
           "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", std::string("a\0b", 3)}) {
    INFO(Catch::Detail::stringify(valid));
    std::vector<TextChunk> chunks = Chunks(valid, "chars", 1, 0);
    CHECK(static_cast<std::int64_t>(chunks.size()) == CodePointCount(valid));
  }
}

TEST_CASE("ChunkText accepts exactly the well-formed UTF-8 of random byte strings", "[embed]") {
  // Bytes at the edges of the UTF-8 ranges, so that random strings hit every kind of sequence.
  const std::vector<unsigned char> bytes = {
      'a',  ' ',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
      0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
  std::mt19937 random(20260115);
  int valid = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    const int length = static_cast<int>(random() % 9);
    for (int i = 0; i < length; ++i) {
      // Continuation bytes half the time, so that many strings are valid.
      text += random() % 2 == 0 ? static_cast<char>(0x80 + random() % 0x40)
                                : static_cast<char>(bytes[random() % bytes.size()]);
    }
    const Decoded expected = DecodeUtf8(text);
    auto chunks = ChunkText(text, ChunkOptions{.unit = "chars", .size = 2, .overlap = 1});
    INFO("bytes " << Catch::Detail::stringify(text));
    if (expected.bad) {
      REQUIRE_FALSE(chunks);
      REQUIRE(chunks.error().message ==
              "byte " + std::to_string(*expected.bad + 1) + " is not valid UTF-8");
    } else {
      REQUIRE(chunks);
      CheckSpans(text, *chunks);
      ++valid;
    }
  }
  CHECK(valid > 1000);
}

// ---------------------------------------------------------------------------------------------
// RunEmbed on a real warehouse

constexpr const char* kTask = "embed_docs";

// Words `first` to `first + n - 1` of document `doc`, distinct across documents.
std::string Words(int doc, int first, int n) {
  std::string out;
  for (int i = first; i < first + n; ++i) {
    if (!out.empty()) out += ' ';
    out += "d" + std::to_string(doc) + "w" + std::to_string(i);
  }
  return out;
}

std::string SqlText(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

struct Warehouse {
  TempDir dir;
  std::filesystem::path db = dir / "wh.db";
  std::filesystem::path index = dir / "indexes" / "docs.faiss";

  // documents(doc_id INTEGER, body TEXT) with these rows, in this order.
  void Documents(const std::vector<std::pair<int, std::string>>& docs) const {
    std::string sql =
        "DROP TABLE IF EXISTS documents; CREATE TABLE documents (doc_id INTEGER, "
        "body TEXT);";
    for (const auto& [id, body] : docs) {
      sql += "INSERT INTO documents VALUES (" + std::to_string(id) + ", " + SqlText(body) + ");";
    }
    ExecSql(db, sql);
  }

  // words by 8 with an overlap of 2, the hash provider of dimension 64, no index.
  EmbedConfig Config() const {
    EmbedConfig c;
    c.task = kTask;
    c.table = "documents";
    c.id_column = "doc_id";
    c.text_column = "body";
    c.chunk = ChunkOptions{.unit = "words", .size = 8, .overlap = 2};
    c.provider.kind = "hash";
    c.provider.dim = 64;
    c.into = "doc_chunks";
    c.warehouse = db;
    c.source_version = "sha256:0123abcd";
    return c;
  }

  // Every file under the folder of the index, with its bytes.
  std::map<std::string, std::string> IndexFiles() const {
    std::map<std::string, std::string> out;
    if (!std::filesystem::exists(index.parent_path())) return out;
    for (const auto& entry : std::filesystem::directory_iterator(index.parent_path())) {
      out[entry.path().filename().string()] =
          entry.is_directory() ? "<folder>" : ReadFile(entry.path());
    }
    return out;
  }

  // All that a failed run must leave as it was, in three parts that a failure shows apart:
  // every table, the digest of the stored vectors (which the dump would cut at their first NUL
  // byte), and the files of the index folder with their digests.
  struct State {
    std::string tables, vectors, files;
    bool operator==(const State&) const = default;
  };
  State Snapshot() const {
    State out;
    out.tables = DumpEveryTable(db);
    if (Query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'doc_chunks'") == "1|\n") {
      out.vectors =
          Sha256Hex(Query(db, "SELECT chunk_id, hex(embedding) FROM doc_chunks ORDER BY 1"));
    }
    for (const auto& [name, bytes] : IndexFiles()) {
      out.files += name + " " + Sha256Hex(bytes) + "\n";
    }
    return out;
  }
  void CheckUnchanged(const State& before) const {
    const State now = Snapshot();
    CHECK(now.tables == before.tables);
    CHECK(now.vectors == before.vectors);
    CHECK(now.files == before.files);
  }
};

EmbedReport Run(const EmbedConfig& config) {
  auto report = RunEmbed(config);
  INFO((report ? "" : report.error().message));
  REQUIRE(report);
  return *report;
}

// One row of the output table.
struct ChunkRow {
  std::int64_t chunk_id = 0;
  std::string doc_id;  // as text
  int doc_id_type = 0;
  std::int64_t chunk_index = 0, start_char = 0, end_char = 0;
  std::string text, text_sha256, model;
  std::int64_t dim = 0;
  std::vector<float> embedding;
  std::string embedding_bytes;
};

// The rows of `table`, by document and chunk index.
std::vector<ChunkRow> ReadChunks(const std::filesystem::path& db,
                                 const std::string& table = "doc_chunks") {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql =
      "SELECT chunk_id, doc_id, chunk_index, start_char, end_char, text, text_sha256, model, dim, "
      "embedding FROM " +
      table + " ORDER BY doc_id, chunk_index";
  REQUIRE(sqlite3_prepare_v2(handle, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::vector<ChunkRow> rows;
  auto text = [&](int column) {
    const unsigned char* p = sqlite3_column_text(stmt, column);
    return p == nullptr
               ? std::string("NULL")
               : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt, column));
  };
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    ChunkRow r;
    r.chunk_id = sqlite3_column_int64(stmt, 0);
    r.doc_id_type = sqlite3_column_type(stmt, 1);
    r.doc_id = text(1);
    r.chunk_index = sqlite3_column_int64(stmt, 2);
    r.start_char = sqlite3_column_int64(stmt, 3);
    r.end_char = sqlite3_column_int64(stmt, 4);
    r.text = text(5);
    r.text_sha256 = text(6);
    r.model = text(7);
    r.dim = sqlite3_column_int64(stmt, 8);
    REQUIRE(sqlite3_column_type(stmt, 9) == SQLITE_BLOB);
    const int bytes = sqlite3_column_bytes(stmt, 9);
    r.embedding_bytes.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 9)), bytes);
    r.embedding.resize(bytes / sizeof(float));
    std::memcpy(r.embedding.data(), r.embedding_bytes.data(), r.embedding.size() * sizeof(float));
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return rows;
}

double Norm(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  return std::sqrt(sum);
}

// The code points [first, last) of `text`.
std::string CodePointSpan(const std::string& text, std::int64_t first, std::int64_t last) {
  Decoded d = DecodeUtf8(text);
  REQUIRE_FALSE(d.bad.has_value());
  REQUIRE(last <= static_cast<std::int64_t>(d.lengths.size()));
  std::size_t begin = 0;
  for (std::int64_t i = 0; i < first; ++i) begin += d.lengths[i];
  std::size_t end = begin;
  for (std::int64_t i = first; i < last; ++i) end += d.lengths[i];
  return text.substr(begin, end - begin);
}

// Three documents of 20 words: chunks of words [0, 8), [6, 14), [12, 20) each.
std::vector<std::pair<int, std::string>> ThreeDocuments() {
  return {{1, Words(1, 0, 20)}, {2, Words(2, 0, 20)}, {3, Words(3, 0, 20)}};
}

TEST_CASE("RunEmbed writes one row per chunk with its offsets, text hash, model and unit vector",
          "[embed]") {
  Warehouse wh;
  const std::vector<std::pair<int, std::string>> docs = {
      {7, Words(7, 0, 20)},
      {3, "naïve café — 日本語のテキスト 😀 emoji and 𝄞 music signs, then more words to cut"},
      {12, "short one"}};
  wh.Documents(docs);
  EmbedConfig config = wh.Config();
  EmbedReport report = Run(config);
  CHECK(report.documents == 3);

  CHECK(Query(wh.db, "SELECT name, type, pk FROM pragma_table_info('doc_chunks') ORDER BY cid") ==
        "chunk_id|INTEGER|1|\n"
        "doc_id|INTEGER|0|\n"
        "chunk_index|INTEGER|0|\n"
        "start_char|INTEGER|0|\n"
        "end_char|INTEGER|0|\n"
        "text|TEXT|0|\n"
        "text_sha256|TEXT|0|\n"
        "model|TEXT|0|\n"
        "dim|INTEGER|0|\n"
        "embedding|BLOB|0|\n");

  std::vector<ChunkRow> rows = ReadChunks(wh.db);
  CHECK(report.chunks == static_cast<std::int64_t>(rows.size()));
  CHECK(report.reused == 0);
  CHECK(report.embedded == report.chunks);

  std::set<std::int64_t> ids;
  std::size_t row = 0;
  for (int doc : {3, 7, 12}) {
    const std::string body = std::find_if(docs.begin(), docs.end(), [&](const auto& d) {
                               return d.first == doc;
                             })->second;
    std::vector<TextChunk> expected = Chunks(body, "words", 8, 2);
    for (std::size_t i = 0; i < expected.size(); ++i, ++row) {
      INFO("document " << doc << " chunk " << i);
      REQUIRE(row < rows.size());
      const ChunkRow& r = rows[row];
      CHECK(r.doc_id == std::to_string(doc));
      CHECK(r.doc_id_type == SQLITE_INTEGER);
      CHECK(r.chunk_index == static_cast<std::int64_t>(i));
      CHECK(r.start_char == expected[i].start_char);
      CHECK(r.end_char == expected[i].end_char);
      CHECK(r.text ==
            body.substr(expected[i].start_byte, expected[i].end_byte - expected[i].start_byte));
      CHECK(r.text == CodePointSpan(body, r.start_char, r.end_char));
      CHECK(r.text_sha256 == Sha256Hex(r.text));
      CHECK(r.model == "weir-hash-v1");
      CHECK(r.dim == 64);
      REQUIRE(r.embedding_bytes.size() == 64 * 4);
      CHECK(Norm(r.embedding) == Approx(1.0).margin(1e-5));
      std::vector<float> hashed(64);
      HashEmbed(r.text, 64, hashed.data());
      CHECK(r.embedding == hashed);
      ids.insert(r.chunk_id);
    }
  }
  CHECK(row == rows.size());
  CHECK(ids.size() == rows.size());  // chunk ids are distinct
  CHECK(rows.size() == 3 + 3 + 1);   // 20 words by 8, step 6; 15 words; 2 words
}

TEST_CASE("RunEmbed keeps chunk ids stable across runs and reuses every unchanged vector",
          "[embed]") {
  Warehouse wh;
  wh.Documents(ThreeDocuments());
  const EmbedConfig config = wh.Config();
  EmbedReport first = Run(config);
  CHECK(first.chunks == 9);
  CHECK(first.embedded == 9);
  const std::string table = Query(wh.db, "SELECT * FROM doc_chunks ORDER BY 1") +
                            Query(wh.db, "SELECT hex(embedding) FROM doc_chunks ORDER BY 1");

  EmbedReport second = Run(config);
  CHECK(second.documents == 3);
  CHECK(second.chunks == 9);
  CHECK(second.reused == 9);
  CHECK(second.embedded == 0);
  CHECK(Query(wh.db, "SELECT * FROM doc_chunks ORDER BY 1") +
            Query(wh.db, "SELECT hex(embedding) FROM doc_chunks ORDER BY 1") ==
        table);

  // The same documents in another order, in a fresh warehouse: the same ids.
  Warehouse other;
  std::vector<std::pair<int, std::string>> reversed = ThreeDocuments();
  std::reverse(reversed.begin(), reversed.end());
  other.Documents(reversed);
  Run(other.Config());
  CHECK(Query(other.db, "SELECT chunk_id, doc_id, chunk_index, text FROM doc_chunks ORDER BY 1") ==
        Query(wh.db, "SELECT chunk_id, doc_id, chunk_index, text FROM doc_chunks ORDER BY 1"));
}

TEST_CASE("RunEmbed after one document changed embeds only its changed chunks", "[embed]") {
  Warehouse wh;
  wh.Documents(ThreeDocuments());
  const EmbedConfig config = wh.Config();
  Run(config);
  std::map<std::int64_t, ChunkRow> before;
  for (ChunkRow& r : ReadChunks(wh.db)) before[r.chunk_id] = r;

  // Document 2's last word changes: only its third chunk (words 12 to 19) has another text.
  ExecSql(wh.db, "UPDATE documents SET body = " + SqlText(Words(2, 0, 19) + " changed") +
                     " WHERE doc_id = 2");
  EmbedReport report = Run(config);
  CHECK(report.chunks == 9);
  CHECK(report.reused == 8);
  CHECK(report.embedded == 1);
  int same = 0;
  for (const ChunkRow& r : ReadChunks(wh.db)) {
    INFO("document " << r.doc_id << " chunk " << r.chunk_index);
    REQUIRE(before.count(r.chunk_id) == 1);  // the same ids
    const ChunkRow& old = before[r.chunk_id];
    if (r.doc_id == "2" && r.chunk_index == 2) {
      CHECK(r.text == Words(2, 12, 7) + " changed");
      CHECK(r.text_sha256 == Sha256Hex(r.text));
      std::vector<float> hashed(64);
      HashEmbed(r.text, 64, hashed.data());
      CHECK(r.embedding == hashed);
      CHECK(r.embedding_bytes != old.embedding_bytes);
    } else {
      CHECK(r.text == old.text);
      CHECK(r.embedding_bytes == old.embedding_bytes);
      ++same;
    }
  }
  CHECK(same == 8);

  // A document removed and one added: the removed one's rows go, the new one's are embedded.
  ExecSql(wh.db, "DELETE FROM documents WHERE doc_id = 1; INSERT INTO documents VALUES (4, " +
                     SqlText(Words(4, 0, 10)) + ")");
  report = Run(config);
  CHECK(report.documents == 3);
  CHECK(report.chunks == 8);
  CHECK(report.reused == 6);
  CHECK(report.embedded == 2);
  CHECK(Query(wh.db, "SELECT doc_id, count(*) FROM doc_chunks GROUP BY 1 ORDER BY 1") ==
        "2|3|\n3|3|\n4|2|\n");
}

TEST_CASE("RunEmbed embeds every chunk again when the provider's dimension changes", "[embed]") {
  Warehouse wh;
  wh.Documents(ThreeDocuments());
  EmbedConfig config = wh.Config();
  Run(config);
  config.provider.dim = 32;
  EmbedReport report = Run(config);
  CHECK(report.chunks == 9);
  CHECK(report.reused == 0);
  CHECK(report.embedded == 9);
  for (const ChunkRow& r : ReadChunks(wh.db)) {
    CHECK(r.dim == 32);
    REQUIRE(r.embedding.size() == 32);
    CHECK(Norm(r.embedding) == Approx(1.0).margin(1e-5));
  }
  // And back: the table holds only vectors of dimension 32 now, so nothing is reused.
  config.provider.dim = 64;
  report = Run(config);
  CHECK(report.reused == 0);
  CHECK(report.embedded == 9);
}

// An openai provider on the stand-in server that fails fast.
ProviderConfig StubProvider(const OpenAiStub& server, const std::string& model) {
  ProviderConfig p;
  p.kind = "openai";
  p.base_url = server.Url();
  p.model = model;
  p.batch = 4;
  p.max_concurrency = 2;
  p.timeout_seconds = 1;
  p.retries = 1;
  p.backoff_seconds = 0.01;
  return p;
}

int Sum(const std::vector<int>& v) {
  int sum = 0;
  for (int x : v) sum += x;
  return sum;
}

TEST_CASE("RunEmbed with an openai provider sends only the chunks whose text is new", "[embed]") {
  OpenAiStub server;
  Warehouse wh;
  wh.Documents(ThreeDocuments());
  EmbedConfig config = wh.Config();
  config.provider = StubProvider(server, "ok");
  EmbedReport first = Run(config);
  CHECK(first.embedded == 9);
  testing::OpenAiStubStats stats = server.GetStats();
  CHECK(Sum(stats.batch_sizes) == 9);
  CHECK(stats.requests == 3);  // by 4
  for (const ChunkRow& r : ReadChunks(wh.db)) {
    CHECK(r.model == "ok");
    CHECK(r.dim == 8);  // the stand-in's dimension without `dimensions`
    REQUIRE(r.embedding.size() == 8);
    CHECK(Norm(r.embedding) == Approx(1.0).margin(1e-5));
  }

  // Nothing changed: no request at all.
  server.Reset();
  EmbedReport same = Run(config);
  CHECK(same.reused == 9);
  CHECK(same.embedded == 0);
  CHECK(server.GetStats().requests == 0);

  // One chunk changed and a document of two chunks added: three texts, in one request.
  server.Reset();
  ExecSql(wh.db, "UPDATE documents SET body = " + SqlText(Words(3, 0, 19) + " changed") +
                     " WHERE doc_id = 3; INSERT INTO documents VALUES (9, " +
                     SqlText(Words(9, 0, 12)) + ")");
  EmbedReport second = Run(config);
  CHECK(second.chunks == 11);
  CHECK(second.reused == 8);
  CHECK(second.embedded == 3);
  stats = server.GetStats();
  CHECK(stats.batch_sizes == std::vector<int>{3});
  for (const ChunkRow& r : ReadChunks(wh.db)) {
    CHECK(r.dim == 8);
    CHECK(Norm(r.embedding) == Approx(1.0).margin(1e-5));
  }

  // Another model: its vectors are its own, so every text is sent.
  server.Reset();
  config.provider.model = "slow";
  EmbedReport other = Run(config);
  CHECK(other.reused == 0);
  CHECK(other.embedded == 11);
  CHECK(Sum(server.GetStats().batch_sizes) == 11);
}

TEST_CASE("RunEmbed with openai keeps no vector of another dimension than the model gives now",
          "[embed]") {
  OpenAiStub server;
  Warehouse wh;
  wh.Documents(ThreeDocuments());
  EmbedConfig config = wh.Config();
  config.provider = StubProvider(server, "ok");
  config.index_path = wh.index;
  config.index = IndexSpec{.factory = "Flat", .metric = "ip"};
  config.provider.dimensions = 16;
  Run(config);
  CHECK(Query(wh.db, "SELECT DISTINCT dim FROM doc_chunks") == "16|\n");

  // `dimensions` left out: the model answers with its own size (8 here), so the stored vectors
  // of 16 are not the ones it makes now, changed texts or not.
  config.provider.dimensions = 0;
  SECTION("no text changed") {}
  SECTION("one text changed") {
    ExecSql(wh.db, "UPDATE documents SET body = " + SqlText(Words(3, 0, 19) + " changed") +
                       " WHERE doc_id = 3");
  }
  EmbedReport report = Run(config);
  CHECK(report.reused == 0);
  CHECK(report.embedded == 9);
  CHECK(Query(wh.db, "SELECT DISTINCT dim, length(embedding) FROM doc_chunks") == "8|32|\n");
  const std::vector<ChunkRow> rows = ReadChunks(wh.db);
  REQUIRE_FALSE(rows.empty());
  auto hits = SearchChunks(wh.index, rows[0].text, 1);
  INFO((hits ? "" : hits.error().message));
  REQUIRE(hits);
  REQUIRE(hits->size() == 1);
  CHECK((*hits)[0].chunk_id == rows[0].chunk_id);
}

TEST_CASE("RunEmbed of an empty source table writes an empty table and an empty index", "[embed]") {
  Warehouse wh;
  wh.Documents({});
  EmbedConfig config = wh.Config();
  config.index_path = wh.index;
  const std::string factory = GENERATE("HNSW32", "Flat");
  config.index = IndexSpec{.factory = factory, .metric = "ip"};
  EmbedReport report = Run(config);
  CHECK(report.documents == 0);
  CHECK(report.chunks == 0);
  CHECK(Query(wh.db, "SELECT count(*) FROM doc_chunks") == "0|\n");
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(IndexManifestPath(wh.index)));
  CHECK(manifest.at("ntotal") == 0);
  auto hits = SearchChunks(wh.index, "anything at all", 3);
  INFO((hits ? "" : hits.error().message));
  REQUIRE(hits);
  CHECK(hits->empty());
}

TEST_CASE("RunEmbed names a bad row of a WITHOUT ROWID table by its position", "[embed]") {
  Warehouse wh;
  ExecSql(wh.db,
          "CREATE TABLE notes (note_id TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID;"
          "INSERT INTO notes VALUES ('a', 'first note'), ('b', NULL), ('c', 'third note');");
  EmbedConfig config = wh.Config();
  config.table = "notes";
  config.id_column = "note_id";
  auto report = RunEmbed(config);
  REQUIRE_FALSE(report);
  CHECK(report.error().message == "embed embed_docs: notes row 2: body is NULL, not text");

  // Text ids are kept as text.
  ExecSql(wh.db, "UPDATE notes SET body = 'second note' WHERE note_id = 'b'");
  Run(config);
  CHECK(Query(wh.db, "SELECT name, type FROM pragma_table_info('doc_chunks') WHERE cid = 1") ==
        "doc_id|TEXT|\n");
  CHECK(Query(wh.db, "SELECT doc_id, typeof(doc_id), text FROM doc_chunks ORDER BY 1") ==
        "a|text|first note|\nb|text|second note|\nc|text|third note|\n");
}

// ---------------------------------------------------------------------------------------------
// The index

// Five documents of 16 to 40 words: 3 to 7 chunks each, 25 in all, every text distinct.
std::vector<std::pair<int, std::string>> FiveDocuments() {
  std::vector<std::pair<int, std::string>> docs;
  for (int d = 1; d <= 5; ++d) docs.emplace_back(d * 10, Words(d, 0, 10 + 6 * d));
  return docs;
}

TEST_CASE("an embed index finds each chunk first by its own text, and its manifest describes it",
          "[embed]") {
  struct Kind {
    std::string factory, metric;
  };
  const Kind kind = GENERATE(Kind{"HNSW32", "ip"}, Kind{"Flat", "l2"}, Kind{"Flat", "ip"});
  INFO(kind.factory << " " << kind.metric);
  Warehouse wh;
  wh.Documents(FiveDocuments());
  EmbedConfig config = wh.Config();
  config.provider.dim = 256;
  config.index_path = wh.dir / "indexes" / "nested" / "docs.faiss";  // folders made as needed
  config.index = IndexSpec{.factory = kind.factory, .metric = kind.metric};
  EmbedReport report = Run(config);
  REQUIRE(report.chunks == 25);

  std::vector<ChunkRow> rows = ReadChunks(wh.db);
  REQUIRE(rows.size() == 25);
  for (const ChunkRow& r : rows) {
    INFO("document " << r.doc_id << " chunk " << r.chunk_index << ": " << r.text);
    auto hits = SearchChunks(config.index_path, r.text, 3);
    INFO((hits ? "" : hits.error().message));
    REQUIRE(hits);
    REQUIRE(hits->size() == 3);
    CHECK((*hits)[0].chunk_id == r.chunk_id);
    CHECK((*hits)[0].doc_id == r.doc_id);
    CHECK((*hits)[0].chunk_index == r.chunk_index);
    CHECK((*hits)[0].text == r.text);
    if (kind.metric == "ip") {
      CHECK((*hits)[0].score == Approx(1.0).margin(1e-4));
      CHECK((*hits)[1].score <= (*hits)[0].score);
    } else {
      CHECK((*hits)[0].score == Approx(0.0).margin(1e-4));
      CHECK((*hits)[1].score >= (*hits)[0].score);
    }
  }
  // More results asked for than there are chunks: all of them, once each.
  auto all = SearchChunks(config.index_path, "d3w5 d3w6", 100);
  REQUIRE(all);
  std::set<std::int64_t> found;
  for (const ChunkHit& h : *all) found.insert(h.chunk_id);
  CHECK(found.size() == all->size());
  if (kind.factory == "Flat") CHECK(all->size() == 25);

  const std::string manifest_text = ReadFile(IndexManifestPath(config.index_path));
  CHECK(IndexManifestPath(config.index_path).filename() == "docs.faiss.manifest.json");
  nlohmann::json manifest = nlohmann::json::parse(manifest_text);
  CHECK(manifest.at("format") == "weir-vector-index/1");
  CHECK(manifest.at("factory") == kind.factory);
  CHECK(manifest.at("metric") == kind.metric);
  CHECK(manifest.at("dim") == 256);
  CHECK(manifest.at("ntotal") == 25);
  CHECK(manifest.at("model") == "weir-hash-v1");
  CHECK(manifest.at("provider").at("kind") == "hash");
  CHECK(manifest.at("provider").at("dim") == 256);
  CHECK(manifest.at("index_sha256") == "sha256:" + Sha256Hex(ReadFile(config.index_path)));
  CHECK(manifest.at("input").at("dataset") == "warehouse://documents");
  CHECK(manifest.at("input").at("version") == "sha256:0123abcd");
  CHECK(manifest.at("table").at("name") == "doc_chunks");
  CHECK(manifest.at("table").at("dataset") == "warehouse://doc_chunks");
  CHECK(manifest.at("table").at("warehouse") == wh.db.string());

  // Nothing but the index and its manifest is left in the folder.
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(config.index_path.parent_path())) {
    names.insert(e.path().filename().string());
  }
  CHECK(names == std::set<std::string>{"docs.faiss", "docs.faiss.manifest.json"});
}

TEST_CASE("an IVF index with fewer vectors than lists fails the task, naming the factory",
          "[embed]") {
  Warehouse wh;
  wh.Documents(FiveDocuments());  // 25 chunks
  EmbedConfig config = wh.Config();
  config.index_path = wh.index;

  // Fewer training vectors than lists: FAISS refuses to train.
  config.index = IndexSpec{.factory = "IVF64,Flat", .metric = "ip"};
  const Warehouse::State before = wh.Snapshot();
  auto failed = RunEmbed(config);
  REQUIRE_FALSE(failed);
  INFO(failed.error().message);
  CHECK(Contains(failed.error().message, "embed embed_docs: FAISS index 'IVF64,Flat'"));
  CHECK(Contains(failed.error().message, "25 vectors"));
  CHECK(Contains(failed.error().message, "Number of training points (25)"));
  wh.CheckUnchanged(before);
  CHECK(wh.IndexFiles().empty());

  // Enough for the lists (FAISS only warns below 39 per list): built, and searchable.
  config.index = IndexSpec{.factory = "IVF4,Flat", .metric = "ip"};
  Run(config);
  for (const ChunkRow& r : ReadChunks(wh.db)) {
    auto hits = SearchChunks(wh.index, r.text, 1);
    REQUIRE(hits);
    REQUIRE(hits->size() == 1);
    CHECK((*hits)[0].chunk_id == r.chunk_id);
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input: an earlier run's table, index and manifest stay as they were.

// Five one-chunk documents embedded with an HNSW index; then the test spoils something.
struct Earlier : Warehouse {
  EmbedConfig config = Config();
  Earlier() {
    std::vector<std::pair<int, std::string>> docs;
    for (int d = 1; d <= 5; ++d) docs.emplace_back(d, Words(d, 0, 6));
    Documents(docs);
    config.index_path = index;
    config.index = IndexSpec{.factory = "HNSW32", .metric = "ip"};
    Run(config);
    REQUIRE(IndexFiles().size() == 2);
  }

  // RunEmbed fails with a message holding every one of `parts`, and changes nothing.
  void Fails(const EmbedConfig& c, const std::vector<std::string>& parts) const {
    const State before = Snapshot();
    auto report = RunEmbed(c);
    REQUIRE_FALSE(report);
    INFO(report.error().message);
    CHECK(report.error().message.starts_with("embed embed_docs: "));
    for (const std::string& part : parts) CHECK(Contains(report.error().message, part));
    CheckUnchanged(before);
  }
};

TEST_CASE("a bad source row fails the task, naming the row, and changes nothing", "[embed]") {
  Earlier wh;
  SECTION("NULL text") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (6, NULL)");
    wh.Fails(wh.config, {"documents row 6: body is NULL"});
  }
  SECTION("empty text") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (6, '')");
    wh.Fails(wh.config, {"documents row 6: body is empty"});
  }
  SECTION("blanks only, by words") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (6, '  \t ')");
    wh.Fails(wh.config, {"documents row 6: body is empty"});
  }
  SECTION("text that is not valid UTF-8") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (6, CAST(x'41c328' AS TEXT))");
    wh.Fails(wh.config, {"documents row 6: body: byte 2 is not valid UTF-8"});
  }
  SECTION("a BLOB text") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (6, x'414243')");
    wh.Fails(wh.config, {"documents row 6: body is"});
  }
  SECTION("a duplicate document id") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (2, 'another text')");
    wh.Fails(wh.config, {"documents row 6: doc_id 2 appears twice"});
  }
  SECTION("a NULL document id") {
    ExecSql(wh.db, "INSERT INTO documents VALUES (NULL, 'a text')");
    wh.Fails(wh.config, {"documents row 6: doc_id is NULL"});
  }
  SECTION("a bad row after a rowid gap is named by its rowid") {
    ExecSql(wh.db, "INSERT INTO documents (rowid, doc_id, body) VALUES (40, 6, NULL)");
    wh.Fails(wh.config, {"documents row 40: body is NULL"});
  }
}

TEST_CASE("an unknown source table or column fails in PlanEmbed and RunEmbed and changes nothing",
          "[embed]") {
  Earlier wh;
  ExecSql(wh.db, "UPDATE documents SET body = 'a changed text' WHERE doc_id = 1");
  EmbedConfig c = wh.config;
  std::string name;
  SECTION("table") {
    c.table = "no_such_docs";
    name = "no_such_docs";
  }
  SECTION("id column") {
    c.id_column = "document_id";
    name = "document_id";
  }
  SECTION("text column") {
    c.text_column = "content";
    name = "content";
  }
  auto plan = PlanEmbed(c);
  REQUIRE_FALSE(plan);
  INFO(plan.error().message);
  CHECK(plan.error().code == ErrorCode::kInvalidArgument);
  CHECK(plan.error().message.starts_with("embed embed_docs: "));
  CHECK(Contains(plan.error().message, name));
  wh.Fails(c, {name});
}

TEST_CASE("'into' equal to the source table fails in PlanEmbed and RunEmbed", "[embed]") {
  Earlier wh;
  EmbedConfig c = wh.config;
  c.into = "documents";
  auto plan = PlanEmbed(c);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().message == "embed embed_docs: 'into' must differ from the source table");
  wh.Fails(c, {"'into' must differ"});
}

TEST_CASE("a provider's bad answer fails the task, naming the request, and changes nothing",
          "[embed]") {
  OpenAiStub server;
  Earlier wh;
  // Six texts for the provider (the hash model's vectors are not its own): texts 1 to 4 in one
  // request, 5 and 6 in the other, the last starting with "bad".
  ExecSql(wh.db, "INSERT INTO documents VALUES (6, 'bad words at the end')");
  EmbedConfig c = wh.config;
  SECTION("NaN") {
    c.provider = StubProvider(server, "nan");
    wh.Fails(c, {"openai provider, texts 5 to 6 of 6: the answer holds NaN"});
  }
  SECTION("Infinity") {
    c.provider = StubProvider(server, "inf");
    wh.Fails(c, {"openai provider, texts 5 to 6 of 6: the answer holds NaN or Infinity"});
  }
  SECTION("a wrong dimension") {
    c.provider = StubProvider(server, "wrong-dim");
    c.provider.dimensions = 8;
    wh.Fails(c, {"openai provider, texts 5 to 6 of 6: text 5 got a vector of dimension 9, not 8"});
  }
  SECTION("fewer vectors than texts") {
    c.provider = StubProvider(server, "short");
    wh.Fails(c, {"openai provider, texts 5 to 6 of 6: the answer has 1 vector for 2 texts"});
  }
  SECTION("a zero vector") {
    c.provider = StubProvider(server, "zero");
    wh.Fails(c, {"openai provider, texts 5 to 6 of 6: text 6 got a zero vector"});
  }
  SECTION("no answer within the timeout") {
    c.provider = StubProvider(server, "hang");
    c.provider.timeout_seconds = 0.3;
    c.provider.retries = 0;
    wh.Fails(c, {"openai provider, texts 1 to 4 of 6: ", "timeout"});
  }
}

// RunEmbed moves the new index and manifest into place, keeping the earlier ones as backups
// (FILE.old-PID), and commits the table after; a rename that fails must put the earlier files
// back and leave the table as it was.
TEST_CASE("an index that cannot be put in place fails the task and leaves the table as it was",
          "[embed]") {
  Earlier wh;
  ExecSql(wh.db, "UPDATE documents SET body = 'a changed text' WHERE doc_id = 1");
  // A folder, not empty, where the earlier manifest's backup goes: renaming the manifest onto it
  // fails, after the index itself was already moved into place.
  const std::string backup = "indexes/docs.faiss.manifest.json.old-" + std::to_string(::getpid());
  wh.dir.Write(backup + "/keep", "x");
  wh.Fails(wh.config, {"docs.faiss.manifest.json"});
  std::filesystem::remove_all(wh.dir / backup);
}

TEST_CASE("an unknown FAISS factory fails the task and keeps the earlier index", "[embed]") {
  Earlier wh;
  ExecSql(wh.db, "UPDATE documents SET body = 'a changed text' WHERE doc_id = 1");
  EmbedConfig c = wh.config;
  c.index.factory = "NoSuchIndex";
  wh.Fails(c, {"FAISS index 'NoSuchIndex' (5 vectors of 64)"});
}

}  // namespace
}  // namespace weir::tasks

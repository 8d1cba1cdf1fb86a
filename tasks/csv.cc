#include "tasks/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

// How it reads: `buffer` holds the bytes from the current record on. A record is parsed from its
// first byte each time; when the buffer ends inside it, the record's bytes move to the front, more
// is read after them, and the record is parsed again. Each such read is at least as large as the
// part already held, so parsing a long record again costs at most twice its length in total.
// Lines without a quote take a fast path (memchr for the LF, then for each delimiter) and their
// fields point into the buffer; the general parser copies only fields with doubled quotes.

namespace weir::tasks {
namespace {

// How far parsing the record at the read position got.
enum class Parse {
  kRecord,        // a whole record
  kBlank,         // a blank line, which is not a record
  kNeedMore,      // the buffer ends inside the record: read on, then parse it again
  kUnterminated,  // the input ends inside a quoted field
};

// What follows the end of a field's text.
enum class After { kDelimiter, kLineEnd, kData, kNeedMore };

// A field of the record being parsed: bytes of the buffer, or of the copies of unescaped fields.
struct Span {
  std::size_t begin = 0;
  std::size_t size = 0;
  std::size_t raw_begin = 0;  // where the field starts in the buffer
  bool copied = false;
  bool quoted = false;
};

constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

// The offset of the first byte that starts invalid UTF-8 or is NUL (`*nul` says which), or kNone.
std::size_t FindBadByte(std::string_view text, bool* nul) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {  // eight ASCII bytes without NUL: no high bit, no zero byte
      std::uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (((w | ((w - kOnes) & ~w)) & kHighs) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0) {
        *nul = true;
        return i;
      }
      ++i;
      continue;
    }
    // The ranges of Unicode's table 3-7: no overlong forms, surrogates or code points past 10FFFF.
    std::size_t len = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (n - i < len || s[i + 1] < low || s[i + 1] > high) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return kNone;
}

std::optional<std::string> BadOptions(const CsvOptions& options) {
  auto line_end = [](char c) { return c == '\n' || c == '\r'; };
  if (line_end(options.delimiter) || line_end(options.quote) ||
      options.delimiter == options.quote) {
    return "the delimiter and the quote must be two different bytes, neither CR nor LF";
  }
  return std::nullopt;
}

}  // namespace

struct CsvReader::State {
  State(std::string name_in, CsvOptions options_in)
      : name(std::move(name_in)),
        options(options_in),
        cap(std::min(options.max_field_bytes, std::numeric_limits<std::size_t>::max() / 4)),
        block(std::clamp<std::size_t>(options.block_bytes, 1, std::size_t{1} << 30)) {
    if (auto bad = BadOptions(options)) {
      error = Error{ErrorCode::kInvalidArgument, fmt::format("{}:1: {}", name, *bad)};
    }
  }
  ~State() {
    if (fd >= 0) ::close(fd);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  Result<void> Fill();
  Parse ParseLine(CsvRecord* record);
  Parse ParseGeneral();
  After Follows(std::size_t p, std::size_t* skip) const;
  Error TooLarge();
  std::unexpected<Error> Stop(Error e) {
    error = e;
    return std::unexpected(std::move(e));
  }

  std::string name;
  CsvOptions options;
  std::size_t cap = 0;    // max_field_bytes, small enough that cap + 2 cannot overflow
  std::size_t block = 0;  // bytes per read
  int fd = -1;            // the file, or -1 to read `text`
  std::string text;       // FromString's input, copied into `buffer` a block at a time
  std::size_t text_read = 0;

  std::vector<char> buffer;
  std::size_t pos = 0;  // the first byte of the current record in `buffer`
  std::size_t end = 0;  // the end of the bytes read into `buffer`
  bool eof = false;
  bool started = false;        // the byte order mark has been looked for
  std::int64_t line = 1;       // the line `pos` is on
  std::optional<Error> error;  // what ended the read; every later Next returns it again

  // What parsing the current record found: its raw end, where the next record starts, and how
  // many LFs lie between. The general parser also leaves its fields in `spans` (some in
  // `copies`) and the field it stopped in at `field_start`.
  std::size_t raw_end = 0;
  std::size_t next = 0;
  std::int64_t lines = 0;
  bool general = false;
  std::vector<Span> spans;
  std::string copies;
  std::string problem;
  std::size_t field_start = 0;
};

// Moves the current record's bytes to the front of the buffer and reads after them: a block, or
// as much as is already held (so a long record is parsed again only a logarithmic number of
// times), but not much past the cap.
Result<void> CsvReader::State::Fill() {
  const std::size_t keep = end - pos;
  if (pos > 0 && keep > 0) std::memmove(buffer.data(), buffer.data() + pos, keep);
  pos = 0;
  end = keep;
  const std::size_t room = keep <= cap + 1 ? cap + 2 - keep : 1;
  std::size_t want = std::max(block, std::min(keep, room));
  if (fd < 0) want = std::min(want, text.size() - text_read);
  if (buffer.size() < keep + want) buffer.resize(keep + want);
  if (fd < 0) {
    if (want > 0) std::memcpy(buffer.data() + end, text.data() + text_read, want);
    text_read += want;
    end += want;
    if (text_read == text.size()) {
      eof = true;
      std::string().swap(text);
      text_read = 0;
    }
    return {};
  }
  while (end < keep + want) {
    const ssize_t n = ::read(fd, buffer.data() + end, keep + want - end);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo,
                  fmt::format("{}:{}: cannot read: {}", name, line, strerror(errno)));
    }
    if (n == 0) {
      eof = true;
      break;
    }
    end += static_cast<std::size_t>(n);
  }
  return {};
}

// The fast path: a line without a quote is the whole record, split at each delimiter.
Parse CsvReader::State::ParseLine(CsvRecord* record) {
  const char* start = buffer.data() + pos;
  const std::size_t n = end - pos;
  const auto* lf = static_cast<const char*>(std::memchr(start, '\n', n));
  if (lf == nullptr && !eof) return Parse::kNeedMore;
  std::size_t len = lf != nullptr ? static_cast<std::size_t>(lf - start) : n;
  if (std::memchr(start, options.quote, len) != nullptr) return ParseGeneral();
  general = false;
  next = pos + (lf != nullptr ? len + 1 : len);
  lines = lf != nullptr ? 1 : 0;
  if (len > 0 && start[len - 1] == '\r') --len;  // CRLF, or a CR that ends the input
  if (len == 0) return Parse::kBlank;
  raw_end = pos + len;
  record->fields.clear();
  record->quoted.clear();
  const char* p = start;
  const char* stop = start + len;
  while (true) {
    const auto* hit = static_cast<const char*>(
        std::memchr(p, options.delimiter, static_cast<std::size_t>(stop - p)));
    const char* field_end = hit != nullptr ? hit : stop;
    record->fields.emplace_back(p, static_cast<std::size_t>(field_end - p));
    record->quoted.push_back(false);
    if (hit == nullptr) break;
    p = hit + 1;
  }
  return Parse::kRecord;
}

// What follows a field's text at `p`; `*skip` is the length of the delimiter or line end.
After CsvReader::State::Follows(std::size_t p, std::size_t* skip) const {
  *skip = 0;
  if (p == end) return eof ? After::kLineEnd : After::kNeedMore;
  const char c = buffer[p];
  *skip = 1;
  if (c == options.delimiter) return After::kDelimiter;
  if (c == '\n') return After::kLineEnd;
  if (c == '\r') {
    if (p + 1 == end) return eof ? After::kLineEnd : After::kNeedMore;
    if (buffer[p + 1] == '\n') {
      *skip = 2;
      return After::kLineEnd;
    }
  }
  return After::kData;
}

// Any record, quoted fields included. It never returns kBlank: a blank line has no quote.
Parse CsvReader::State::ParseGeneral() {
  const char* b = buffer.data();
  const char d = options.delimiter;
  const char q = options.quote;
  general = true;
  spans.clear();
  copies.clear();
  problem.clear();
  std::size_t p = pos;
  while (true) {
    field_start = p;
    Span span{.begin = p, .raw_begin = p};
    std::size_t tail = p;  // where the field's unquoted text starts
    if (p < end && b[p] == q) {
      span.quoted = true;
      span.begin = ++p;
      std::size_t segment = p;  // the text not yet copied, when the field has doubled quotes
      while (true) {
        const auto* hit = static_cast<const char*>(std::memchr(b + p, q, end - p));
        if (hit == nullptr) return eof ? Parse::kUnterminated : Parse::kNeedMore;
        const auto at = static_cast<std::size_t>(hit - b);
        if (at + 1 == end && !eof) return Parse::kNeedMore;  // "" or the closing quote?
        if (at + 1 < end && b[at + 1] == q) {
          if (!span.copied) span.begin = copies.size();
          span.copied = true;
          copies.append(b + segment, at + 1 - segment);
          p = segment = at + 2;
          continue;
        }
        if (span.copied) {
          copies.append(b + segment, at - segment);
          span.size = copies.size() - span.begin;
        } else {
          span.size = at - span.begin;
        }
        p = at + 1;
        break;
      }
      tail = p;
    }
    std::size_t skip = 0;
    After after = After::kData;
    while (true) {
      while (p < end && b[p] != d && b[p] != '\n' && b[p] != '\r') ++p;
      after = Follows(p, &skip);
      if (after == After::kNeedMore) return Parse::kNeedMore;
      if (after != After::kData) break;
      ++p;  // a CR that is not a line end is data
    }
    if (!span.quoted) {
      span.size = p - span.begin;
    } else if (p > tail) {  // "ab"c: keep the text, but the record is bad
      if (problem.empty()) {
        problem = fmt::format("text after the closing quote of field {} (byte {})",
                              spans.size() + 1, tail - pos + 1);
      }
      if (!span.copied) {
        copies.append(b + span.begin, span.size);
        span.begin = copies.size() - span.size;
        span.copied = true;
      }
      copies.append(b + tail, p - tail);
      span.size += p - tail;
    }
    spans.push_back(span);
    if (after == After::kDelimiter) {
      p += skip;
      continue;
    }
    raw_end = p;
    next = p + skip;
    lines = std::count(b + pos, b + next, '\n');
    return Parse::kRecord;
  }
}

// The error for a record over the cap, naming the field its byte cap + 1 is in. The buffer holds
// at least that byte; the same bytes give the same field however the file was split in blocks.
Error CsvReader::State::TooLarge() {
  const Parse parse = ParseGeneral();
  const std::size_t limit = pos + cap;
  auto field = std::count_if(spans.begin(), spans.end(),
                             [&](const Span& s) { return s.raw_begin <= limit; });
  if (parse != Parse::kRecord && field_start <= limit) ++field;
  return Error{
      ErrorCode::kInvalidArgument,
      fmt::format("{}:{}: field {} makes the record larger than max_field_bytes ({} bytes)", name,
                  line, field, options.max_field_bytes)};
}

CsvReader::CsvReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
CsvReader::CsvReader(CsvReader&&) noexcept = default;
CsvReader& CsvReader::operator=(CsvReader&&) noexcept = default;
CsvReader::~CsvReader() = default;

Result<CsvReader> CsvReader::Open(const std::filesystem::path& path, CsvOptions options) {
  std::string name = path.string();
  if (auto bad = BadOptions(options)) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: {}", name, *bad));
  }
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return Fail(ErrorCode::kNotFound, fmt::format("{}: no such file", name));
    return Fail(ErrorCode::kIo, fmt::format("{}: cannot open: {}", name, strerror(e)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Fail(ErrorCode::kIo, fmt::format("{}: is a folder, not a file", name));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto state = std::make_unique<State>(std::move(name), options);
  state->fd = fd;
  return CsvReader(std::move(state));
}

CsvReader CsvReader::FromString(std::string text, std::string name, CsvOptions options) {
  auto state = std::make_unique<State>(std::move(name), options);
  state->text = std::move(text);
  return CsvReader(std::move(state));
}

Result<bool> CsvReader::Next(CsvRecord* record) {
  if (state_ == nullptr) return Fail(ErrorCode::kInternal, "Next on a moved-from CsvReader");
  State& s = *state_;
  if (s.error) return std::unexpected(*s.error);
  while (true) {
    if (!s.started) {
      if (s.end - s.pos < 3 && !s.eof) {
        if (auto filled = s.Fill(); !filled) return s.Stop(std::move(filled.error()));
        continue;
      }
      if (s.end - s.pos >= 3 && std::memcmp(s.buffer.data() + s.pos, "\xEF\xBB\xBF", 3) == 0) {
        s.pos += 3;
      }
      s.started = true;
    }
    if (s.pos == s.end) {
      if (s.eof) return false;
      if (auto filled = s.Fill(); !filled) return s.Stop(std::move(filled.error()));
      continue;
    }
    const Parse parse = s.ParseLine(record);
    if (parse == Parse::kNeedMore || parse == Parse::kUnterminated) {
      // Bytes held past the cap (one may be the CR of a CRLF) mean a record over it.
      if (s.end - s.pos > s.cap + 1) return s.Stop(s.TooLarge());
      if (parse == Parse::kUnterminated) {
        const char* b = s.buffer.data();
        const std::int64_t opened = s.line + std::count(b + s.pos, b + s.field_start, '\n');
        return s.Stop(
            Error{ErrorCode::kInvalidArgument,
                  fmt::format("{}:{}: unterminated quote: the quoted field that opens on this line "
                              "never closes",
                              s.name, opened)});
      }
      if (auto filled = s.Fill(); !filled) return s.Stop(std::move(filled.error()));
      continue;
    }
    if (parse == Parse::kBlank) {
      s.pos = s.next;
      s.line += s.lines;
      continue;
    }
    if (s.raw_end - s.pos > s.cap) return s.Stop(s.TooLarge());

    const char* b = s.buffer.data();
    if (s.general) {
      record->fields.clear();
      record->quoted.clear();
      for (const Span& span : s.spans) {
        record->fields.emplace_back((span.copied ? s.copies.data() : b) + span.begin, span.size);
        record->quoted.push_back(span.quoted);
      }
      record->problem.assign(s.problem);
    } else {
      record->problem.clear();
    }
    record->line = s.line;
    record->raw = std::string_view(b + s.pos, s.raw_end - s.pos);
    bool nul = false;
    if (const std::size_t bad = FindBadByte(record->raw, &nul); bad != kNone) {
      if (!record->problem.empty()) record->problem += "; ";
      record->problem +=
          fmt::format("{} at byte {} of the record", nul ? "a NUL byte" : "invalid UTF-8", bad + 1);
    }
    s.pos = s.next;
    s.line += s.lines;
    return true;
  }
}

}  // namespace weir::tasks

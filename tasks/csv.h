// A streaming reader of delimited text as RFC 4180 describes it (docs/tasks.md#csv): quoted
// fields with doubled quotes and embedded newlines, LF or CRLF line ends, a UTF-8 byte order
// mark, any one-byte delimiter. It reads the file in blocks, so memory stays flat however large
// the file; a record's fields are views into the reader's buffer, valid until the next call.
//
//   auto reader = CsvReader::Open(path, {.delimiter = ','});
//   CsvRecord record;
//   while (true) {
//     auto more = reader->Next(&record);   // an error: the file cannot be read on
//     if (!more || !*more) break;
//     if (!record.problem.empty()) { ...a bad record: skip, quarantine or fail... }
//   }
#ifndef WEIR_TASKS_CSV_H_
#define WEIR_TASKS_CSV_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  // A field larger than this is an error that stops the read (the file cannot be trusted
  // further, and memory must stay bounded). It caps a record's raw text too, so the reader never
  // holds much more than this plus one block.
  std::size_t max_field_bytes = 1 << 20;
  // Bytes per read. For tests, which make it tiny to put records across block boundaries.
  std::size_t block_bytes = 1 << 20;
};

struct CsvRecord {
  std::vector<std::string_view> fields;  // unquoted, doubled quotes undone
  std::vector<bool> quoted;              // whether each field was quoted ("" is then not null)
  std::int64_t line = 0;                 // the line the record starts on, from 1
  std::string_view raw;                  // the record's bytes as in the file, without its line end
  // Why the record is bad, or empty: invalid UTF-8 or a NUL byte (at byte N of `raw`, from 1),
  // text after a closing quote (its fields then keep that text). The reader goes on with the
  // next record; the caller decides (fail, skip, quarantine). A field count that differs from
  // the header's is the caller's to check.
  std::string problem;
};

class CsvReader {
 public:
  // kNotFound when the file does not exist, kIo when it cannot be read.
  [[nodiscard]] static Result<CsvReader> Open(const std::filesystem::path& path,
                                              CsvOptions options);
  // Over text in memory (the body of an HTTP response); `name` stands for the file in errors.
  static CsvReader FromString(std::string text, std::string name, CsvOptions options);
  CsvReader(CsvReader&&) noexcept;
  CsvReader& operator=(CsvReader&&) noexcept;
  ~CsvReader();

  // The next record: true, or false at the end of the input. An error stops the read: an
  // unterminated quote (naming the line it opened on), a field or record over max_field_bytes,
  // a read error, a delimiter or quote that is CR, LF or the same byte. Each error message starts
  // with "NAME:LINE: ". A leading byte order mark is skipped; a blank line (empty or a lone CR) is
  // not a record. A quote inside an unquoted field is data, and so is a CR not followed by LF,
  // except at the very end of the input, where it ends the last line.
  [[nodiscard]] Result<bool> Next(CsvRecord* record);

 private:
  struct State;
  explicit CsvReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace weir::tasks

#endif  // WEIR_TASKS_CSV_H_

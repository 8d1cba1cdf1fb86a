#include "tasks/ingest.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/hash.h"
#include "common/strings.h"
#include "common/time.h"
#include "tasks/csv.h"
#include "tasks/http_fetch.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;
// JSON sources keep the order keys were written in (columns, nested values).
using ordered_json = nlohmann::ordered_json;

// One value as a source gives it. CSV gives only untyped text; JSON and SQLite give types.
struct Cell {
  enum class Kind { kNull, kInt, kReal, kText } kind = Kind::kNull;
  std::int64_t i = 0;
  double d = 0;
  std::string_view text;
  bool untyped = false;  // text that may stand for a number (CSV)
};

struct SourceRow {
  std::vector<Cell> cells;  // in the order of the source's Columns(); missing ones are NULL
  std::int64_t line = 0;    // 1-based line (CSV, JSON lines) or row number
  std::string_view raw;     // the record as read, for the quarantine
  std::string problem;      // why the row cannot be read, or empty
};

class RowSource {
 public:
  virtual ~RowSource() = default;
  // The columns known so far: the CSV header, the JSON keys seen, the query's columns.
  virtual const std::vector<std::string>& Columns() const = 0;
  [[nodiscard]] virtual Result<bool> Next(SourceRow* row) = 0;
  // From now on a JSON key that is not a column makes the row bad instead of adding a column.
  virtual void FreezeColumns() {}
};

// ---- CSV ----------------------------------------------------------------------------------

class CsvSource : public RowSource {
 public:
  CsvSource(CsvReader reader, const IngestSource& source, std::vector<std::string> columns)
      : reader_(std::move(reader)),
        null_values_(source.null_values.begin(), source.null_values.end()),
        columns_(std::move(columns)) {}

  // Reads the header (when there is one) into the columns.
  Result<void> ReadHeader(std::string_view where) {
    CsvRecord record;
    auto more = reader_.Next(&record);
    if (!more) return std::unexpected(more.error());
    if (!*more)
      return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: the file is empty", where));
    if (!record.problem.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}:{}: bad header: {}", where, record.line, record.problem));
    }
    std::set<std::string> seen;
    for (std::string_view field : record.fields) {
      std::string name(field);
      if (name.empty() || !seen.insert(name).second) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("{}:{}: the header has an empty or repeated column name '{}'",
                                where, record.line, Printable(name)));
      }
      columns_.push_back(std::move(name));
    }
    return {};
  }

  const std::vector<std::string>& Columns() const override { return columns_; }

  Result<bool> Next(SourceRow* row) override {
    auto more = reader_.Next(&record_);
    if (!more || !*more) return more;
    row->line = record_.line;
    row->raw = record_.raw;
    row->problem = record_.problem;
    row->cells.resize(record_.fields.size());
    if (row->problem.empty() && record_.fields.size() != columns_.size()) {
      row->problem =
          fmt::format("{} fields where the header has {}", record_.fields.size(), columns_.size());
    }
    for (std::size_t i = 0; i < record_.fields.size(); ++i) {
      Cell& cell = row->cells[i];
      std::string_view field = record_.fields[i];
      if (!record_.quoted[i] && null_values_.count(field) > 0) {
        cell.kind = Cell::Kind::kNull;
      } else {
        cell.kind = Cell::Kind::kText;
        cell.text = field;
        cell.untyped = true;
      }
    }
    return true;
  }

 private:
  CsvReader reader_;
  std::set<std::string, std::less<>> null_values_;
  std::vector<std::string> columns_;
  CsvRecord record_;
};

// ---- JSON ----------------------------------------------------------------------------------

// Rows from JSON objects: JSON lines read line by line from a file or a body, or the elements
// of a JSON array. Nested values are kept as JSON text.
class JsonSource : public RowSource {
 public:
  JsonSource(std::vector<std::string> columns, bool frozen)
      : columns_(std::move(columns)), frozen_(frozen) {
    for (std::size_t i = 0; i < columns_.size(); ++i) index_[columns_[i]] = i;
  }
  // JSON lines from a file.
  Result<void> OpenFile(const std::filesystem::path& path, std::string_view where) {
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*file_) {
      return Fail(ErrorCode::kNotFound, fmt::format("{}: cannot read the file", where));
    }
    return {};
  }
  // JSON lines in memory.
  void SetLines(std::string text) { text_ = std::move(text); }
  // A JSON array of objects in memory.
  Result<void> SetArray(std::string_view text, std::string_view where) {
    array_ = ordered_json::parse(text, nullptr, false);
    if (array_.is_discarded() || !array_.is_array()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: the body is not a JSON array of objects", where));
    }
    is_array_ = true;
    return {};
  }

  const std::vector<std::string>& Columns() const override { return columns_; }
  void FreezeColumns() override { frozen_ = true; }

  Result<bool> Next(SourceRow* row) override {
    ordered_json object;
    if (is_array_) {
      if (next_ >= array_.size()) return false;
      object = std::move(array_[next_++]);
      row->line = static_cast<std::int64_t>(next_);
      raw_ = object.dump();
    } else {
      do {
        if (!ReadLine()) return false;
        ++line_;
      } while (raw_.find_first_not_of(" \t\r") == std::string::npos);
      row->line = line_;
      object = ordered_json::parse(raw_, nullptr, false);
    }
    row->raw = raw_;
    row->problem.clear();
    row->cells.assign(columns_.size(), Cell{});
    texts_.clear();
    if (object.is_discarded() || !object.is_object()) {
      row->problem = object.is_discarded() ? "not valid JSON" : "not a JSON object";
      return true;
    }
    texts_.reserve(object.size());
    for (auto& [key, value] : object.items()) {
      auto it = index_.find(key);
      if (it == index_.end()) {
        if (frozen_) {
          if (!declared_ && row->problem.empty()) {
            row->problem = fmt::format("key '{}' is not among the columns found in the sample",
                                       Printable(key));
          }
          continue;
        }
        it = index_.emplace(key, columns_.size()).first;
        columns_.push_back(key);
        row->cells.emplace_back();
      }
      Cell& cell = row->cells[it->second];
      switch (value.type()) {
        case json::value_t::null:
          break;
        case json::value_t::boolean:
          cell.kind = Cell::Kind::kInt;
          cell.i = value.get<bool>() ? 1 : 0;
          break;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
          if (value.is_number_unsigned() &&
              value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            cell.kind = Cell::Kind::kReal;
            cell.d = value.get<double>();
          } else {
            cell.kind = Cell::Kind::kInt;
            cell.i = value.get<std::int64_t>();
          }
          break;
        case json::value_t::number_float:
          cell.kind = Cell::Kind::kReal;
          cell.d = value.get<double>();
          break;
        case json::value_t::string:
          cell.kind = Cell::Kind::kText;
          texts_.push_back(value.get<std::string>());
          cell.text = texts_.back();
          break;
        default:  // objects and arrays
          cell.kind = Cell::Kind::kText;
          texts_.push_back(value.dump());
          cell.text = texts_.back();
          break;
      }
    }
    return true;
  }

  void MarkDeclared() { declared_ = true; }

 private:
  bool ReadLine() {
    if (file_) {
      if (!std::getline(*file_, raw_)) return false;
      return true;
    }
    if (pos_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string::npos) end = text_.size();
    raw_.assign(text_, pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }

  std::vector<std::string> columns_;
  std::map<std::string, std::size_t, std::less<>> index_;
  bool frozen_ = false;
  bool declared_ = false;  // columns: given, so other keys are ignored
  std::unique_ptr<std::ifstream> file_;
  std::string text_;
  std::size_t pos_ = 0;
  ordered_json array_;
  bool is_array_ = false;
  std::size_t next_ = 0;
  std::int64_t line_ = 0;
  std::string raw_;
  std::vector<std::string> texts_;  // reserved per row: cells point into it
};

// ---- SQLite --------------------------------------------------------------------------------

class SqliteSource : public RowSource {
 public:
  SqliteSource(Connection connection, Statement statement)
      : connection_(std::move(connection)), statement_(std::move(statement)) {
    for (int i = 0; i < sqlite3_column_count(statement_.get()); ++i) {
      columns_.emplace_back(sqlite3_column_name(statement_.get(), i));
    }
  }
  const std::vector<std::string>& Columns() const override { return columns_; }

  Result<bool> Next(SourceRow* row) override {
    // Stepping a finished statement would run the query again (after the sample read it all).
    if (done_) return false;
    sqlite3_stmt* stmt = statement_.get();
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
      done_ = true;
      return false;
    }
    if (rc != SQLITE_ROW) return std::unexpected(connection_.LastError("the query failed"));
    row->line = ++number_;
    row->problem.clear();
    row->cells.assign(columns_.size(), Cell{});
    json raw = json::array();
    for (int i = 0; i < static_cast<int>(columns_.size()); ++i) {
      Cell& cell = row->cells[i];
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
          cell.kind = Cell::Kind::kInt;
          cell.i = sqlite3_column_int64(stmt, i);
          raw.push_back(cell.i);
          break;
        case SQLITE_FLOAT:
          cell.kind = Cell::Kind::kReal;
          cell.d = sqlite3_column_double(stmt, i);
          raw.push_back(cell.d);
          break;
        case SQLITE_TEXT:
          cell.kind = Cell::Kind::kText;
          cell.text = std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                                       sqlite3_column_bytes(stmt, i));
          raw.push_back(std::string(cell.text));
          break;
        case SQLITE_BLOB:
          row->problem =
              fmt::format("column {} holds a BLOB, which ingest does not copy", columns_[i]);
          raw.push_back(nullptr);
          break;
        default:
          raw.push_back(nullptr);
          break;
      }
    }
    raw_ = raw.dump(-1, ' ', false, json::error_handler_t::replace);
    row->raw = raw_;
    return true;
  }

 private:
  Connection connection_;
  Statement statement_;
  std::vector<std::string> columns_;
  std::int64_t number_ = 0;
  bool done_ = false;
  std::string raw_;
};

// ---- Types ---------------------------------------------------------------------------------

enum class Type { kInteger, kReal, kText, kTimestamp };

std::optional<Type> TypeFromName(std::string_view name) {
  if (name == "INTEGER") return Type::kInteger;
  if (name == "REAL") return Type::kReal;
  if (name == "TEXT") return Type::kText;
  if (name == "TIMESTAMP") return Type::kTimestamp;
  return std::nullopt;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kInteger:
      return "INTEGER";
    case Type::kReal:
      return "REAL";
    case Type::kText:
      return "TEXT";
    case Type::kTimestamp:
      return "TIMESTAMP";
  }
  return "TEXT";
}

bool ParseInteger(std::string_view text, std::int64_t* out) {
  if (text.starts_with('+')) text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool ParseReal(std::string_view text, double* out) {
  if (text.starts_with('+')) text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty() &&
         std::isfinite(*out);
}

// A value converted to a column's type, ready to bind.
struct Bound {
  Cell::Kind kind = Cell::Kind::kNull;
  std::int64_t i = 0;
  double d = 0;
  std::string_view text;
};

// Converts `cell` to `type`; on failure returns why. `scratch` holds converted text.
std::optional<std::string> Convert(const Cell& cell, Type type, std::string* scratch, Bound* out) {
  out->kind = cell.kind;
  out->i = cell.i;
  out->d = cell.d;
  out->text = cell.text;
  if (cell.kind == Cell::Kind::kNull) return std::nullopt;
  auto shown = [&] {
    switch (cell.kind) {
      case Cell::Kind::kInt:
        return std::to_string(cell.i);
      case Cell::Kind::kReal:
        return fmt::format("{}", cell.d);
      default:
        return fmt::format("'{}'", Printable(cell.text.substr(0, 60)));
    }
  };
  switch (type) {
    case Type::kInteger:
      if (cell.kind == Cell::Kind::kInt) return std::nullopt;
      if (cell.kind == Cell::Kind::kReal && std::trunc(cell.d) == cell.d &&
          std::fabs(cell.d) < 9.2e18) {
        out->kind = Cell::Kind::kInt;
        out->i = static_cast<std::int64_t>(cell.d);
        return std::nullopt;
      }
      if (cell.kind == Cell::Kind::kText && cell.untyped && ParseInteger(cell.text, &out->i)) {
        out->kind = Cell::Kind::kInt;
        return std::nullopt;
      }
      return fmt::format("{} is not an INTEGER", shown());
    case Type::kReal:
      if (cell.kind == Cell::Kind::kReal) return std::nullopt;
      if (cell.kind == Cell::Kind::kInt) {
        out->kind = Cell::Kind::kReal;
        out->d = static_cast<double>(cell.i);
        return std::nullopt;
      }
      if (cell.kind == Cell::Kind::kText && cell.untyped && ParseReal(cell.text, &out->d)) {
        out->kind = Cell::Kind::kReal;
        return std::nullopt;
      }
      return fmt::format("{} is not a REAL", shown());
    case Type::kText:
      if (cell.kind == Cell::Kind::kText) return std::nullopt;
      *scratch = shown();
      out->kind = Cell::Kind::kText;
      out->text = *scratch;
      return std::nullopt;
    case Type::kTimestamp:
      if (cell.kind == Cell::Kind::kText) {
        *scratch = NormalizeTimestamp(cell.text);
        if (!scratch->empty()) {
          out->text = *scratch;
          return std::nullopt;
        }
      }
      return fmt::format("{} is not a TIMESTAMP (write ISO 8601: 2026-01-10T07:30:00Z)", shown());
  }
  return std::nullopt;
}

// The narrowest type every non-null sample value of column `c` converts to.
Type InferType(const std::vector<SourceRow>& sample, std::size_t c) {
  std::string scratch;
  Bound bound;
  for (Type candidate : {Type::kInteger, Type::kReal, Type::kTimestamp}) {
    bool fits = true, any = false;
    for (const SourceRow& row : sample) {
      if (c >= row.cells.size() || row.cells[c].kind == Cell::Kind::kNull) continue;
      any = true;
      if (Convert(row.cells[c], candidate, &scratch, &bound)) {
        fits = false;
        break;
      }
    }
    if (fits && any) return candidate;
  }
  return Type::kText;
}

// A row kept from the sample, owning its text: the cells' texts, then the raw record. The views
// in `row` point into `texts`, whose strings stay in place when a KeptRow moves (a short string
// member would not: its characters live inside it).
struct KeptRow {
  SourceRow row;
  std::vector<std::string> texts;
};

KeptRow Keep(const SourceRow& row) {
  KeptRow kept;
  kept.row = row;
  kept.texts.reserve(row.cells.size() + 1);
  for (Cell& cell : kept.row.cells) {
    kept.texts.emplace_back(cell.text);
    cell.text = kept.texts.back();
  }
  kept.texts.emplace_back(row.raw);
  kept.row.raw = kept.texts.back();
  return kept;
}

std::string SourceName(const IngestSource& s) {
  return s.format == "http" ? s.url : s.uri.starts_with("file:") ? s.uri.substr(5) : s.uri;
}

// ---- The ingest ----------------------------------------------------------------------------

class Ingest {
 public:
  explicit Ingest(const IngestConfig& config)
      : c_(config),
        source_name_(SourceName(config.source)),
        where_(fmt::format("ingest {}: {}", config.task, source_name_)) {}

  Result<IngestReport> Run() {
    if (auto ok = OpenSource(); !ok) return std::unexpected(ok.error());
    if (auto ok = PlanColumns(); !ok) return std::unexpected(ok.error());
    auto writer = Writer::Begin(c_.warehouse, c_.target);
    if (!writer) return Fail(writer.error().code, where_ + ": " + writer.error().message);
    writer_ = &*writer;
    if (auto ok = PrepareTables(); !ok) return std::unexpected(ok.error());
    for (KeptRow& kept : sample_) {
      if (auto ok = Write(kept.row); !ok) return std::unexpected(ok.error());
    }
    sample_.clear();
    SourceRow row;
    while (true) {
      auto more = source_->Next(&row);
      if (!more) return Fail(more.error().code, Located(more.error().message));
      if (!*more) break;
      if (auto ok = Write(row); !ok) return std::unexpected(ok.error());
    }
    if (auto ok = writer->Commit(); !ok) {
      return Fail(ok.error().code, where_ + ": " + ok.error().message);
    }
    return report_;
  }

 private:
  // Messages from the CSV reader already start with the file and line.
  std::string Located(std::string_view message) const {
    return fmt::format("ingest {}: {}", c_.task, message);
  }

  Result<void> OpenSource() {
    const IngestSource& s = c_.source;
    std::vector<std::string> declared;
    for (const auto& [name, type] : c_.columns) declared.push_back(name);
    std::string body;
    if (s.format == "http") {
      auto fetched = HttpFetch(HttpRequest{.url = s.url,
                                           .headers = s.headers,
                                           .timeout_seconds = s.timeout_seconds,
                                           .retries = s.retries,
                                           .backoff_seconds = s.backoff_seconds,
                                           .max_bytes = s.max_bytes});
      if (!fetched) return Fail(fetched.error().code, where_ + ": " + fetched.error().message);
      body = std::move(*fetched);
      report_.source_fingerprint = "sha256:" + Sha256Hex(body);
      report_.source_bytes = static_cast<std::int64_t>(body.size());
    }
    const std::string& name = source_name_;
    if (s.format == "csv" || (s.format == "http" && s.body == "csv")) {
      CsvOptions options{
          .delimiter = s.delimiter, .quote = s.quote, .max_field_bytes = s.max_field_bytes};
      std::optional<CsvReader> reader;
      if (s.format == "csv") {
        auto opened = CsvReader::Open(s.path, options);
        if (!opened) return Fail(opened.error().code, Located(opened.error().message));
        reader.emplace(std::move(*opened));
      } else {
        reader.emplace(CsvReader::FromString(std::move(body), name, options));
      }
      auto csv = std::make_unique<CsvSource>(std::move(*reader), s,
                                             s.header ? std::vector<std::string>{} : declared);
      if (s.header) {
        if (auto ok = csv->ReadHeader(name); !ok)
          return Fail(ok.error().code, Located(ok.error().message));
      }
      source_ = std::move(csv);
      return {};
    }
    if (s.format == "jsonl" || s.format == "http") {
      auto source = std::make_unique<JsonSource>(declared, !declared.empty());
      if (!declared.empty()) source->MarkDeclared();
      if (s.format == "jsonl") {
        if (auto ok = source->OpenFile(s.path, where_); !ok) return std::unexpected(ok.error());
      } else if (s.body == "jsonl") {
        source->SetLines(std::move(body));
      } else if (auto ok = source->SetArray(body, where_); !ok) {
        return std::unexpected(ok.error());
      }
      source_ = std::move(source);
      return {};
    }
    if (s.format == "sqlite") {
      auto connection = Connection::Open(s.path, /*read_only=*/true);
      if (!connection)
        return Fail(connection.error().code, where_ + ": " + connection.error().message);
      auto query = PrepareReadOnly(*connection, s.query, "sqlite source");
      if (!query) return Fail(query.error().code, where_ + ": " + query.error().message);
      if (auto ok = BindParameters(query->statement.get(), c_.bindings); !ok) {
        return Fail(ok.error().code, where_ + ": " + ok.error().message);
      }
      report_.tables_read = query->tables;
      source_ = std::make_unique<SqliteSource>(std::move(*connection), std::move(query->statement));
      return {};
    }
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{}: unknown source format '{}'", where_, s.format));
  }

  // Decides the columns written and where each comes from in the source.
  Result<void> PlanColumns() {
    if (c_.columns.empty()) {
      SourceRow row;
      while (static_cast<int>(sample_.size()) < c_.infer_rows) {
        auto more = source_->Next(&row);
        if (!more) return Fail(more.error().code, Located(more.error().message));
        if (!*more) break;
        sample_.push_back(Keep(row));
      }
      source_->FreezeColumns();
      std::vector<SourceRow> good;
      for (const KeptRow& kept : sample_) {
        if (kept.row.problem.empty()) good.push_back(kept.row);
      }
      const std::vector<std::string>& names = source_->Columns();
      if (names.empty()) {
        return Fail(
            ErrorCode::kInvalidArgument,
            fmt::format("{}: no columns to infer a schema from (declare 'columns:')", where_));
      }
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (!IsPlainName(names[i])) {
          return Fail(ErrorCode::kInvalidArgument,
                      fmt::format("{}: column '{}' is not a name a table can have (letters, "
                                  "digits and '_'); rename it or declare 'columns:'",
                                  where_, Printable(names[i])));
        }
        types_.push_back(InferType(good, i));
        from_.push_back(i);
        report_.columns.emplace_back(names[i], TypeName(types_.back()));
      }
      return {};
    }
    const std::vector<std::string>& names = source_->Columns();
    for (const auto& [name, type] : c_.columns) {
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("{}: the source has no column '{}' (it has: {})", where_, name,
                                fmt::join(names, ", ")));
      }
      from_.push_back(static_cast<std::size_t>(it - names.begin()));
      types_.push_back(TypeFromName(type).value_or(Type::kText));
      report_.columns.emplace_back(name, type);
    }
    source_->FreezeColumns();
    return {};
  }

  static bool IsPlainName(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
    for (char ch : name) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return false;
    }
    return true;
  }

  Result<void> PrepareTables() {
    std::vector<std::string> definition, names, values;
    for (std::size_t i = 0; i < report_.columns.size(); ++i) {
      const auto& [name, type] = report_.columns[i];
      definition.push_back(QuoteIdentifier(name) + " " + type);
      names.push_back(name);
      values.push_back(fmt::format("?{}", i + 1));
    }
    if (c_.target.mode == "upsert") {
      for (const std::string& key : c_.target.key) {
        auto it = std::find(names.begin(), names.end(), key);
        if (it == names.end()) {
          return Fail(ErrorCode::kInvalidArgument,
                      fmt::format("{}: key column '{}' is not among the columns ({})", where_, key,
                                  fmt::join(names, ", ")));
        }
        key_columns_.push_back(static_cast<std::size_t>(it - names.begin()));
      }
    }
    if (auto ok = writer_->Prepare(fmt::format("({})", fmt::join(definition, ", "))); !ok) {
      return Fail(ok.error().code, where_ + ": " + ok.error().message);
    }
    auto insert = writer_->connection().Prepare(
        writer_->InsertSql(names, fmt::format("VALUES ({})", fmt::join(values, ", "))));
    if (!insert) {
      return Fail(insert.error().code,
                  fmt::format("{}: the table {} does not take these columns ({}): {}", where_,
                              c_.target.into, fmt::join(names, ", "), insert.error().message));
    }
    insert_ = std::move(*insert);
    if (c_.target.mode == "partition") {
      partition_ =
          std::find(names.begin(), names.end(), c_.target.partition_column) - names.begin();
      if (partition_ == names.size()) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("{}: partition_column '{}' is not among the columns ({})", where_,
                                c_.target.partition_column, fmt::join(names, ", ")));
      }
      start_ = NormalizeTimestamp(c_.target.interval_start);
      end_ = NormalizeTimestamp(c_.target.interval_end);
    }
    if (c_.on_bad_row == "quarantine") {
      const std::string table = QuoteIdentifier(c_.quarantine_table);
      auto created = writer_->connection().Exec(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (source TEXT, line INTEGER, reason TEXT, raw TEXT, "
          "run_id TEXT, task_id TEXT, try_number INTEGER)",
          table));
      if (!created) return Fail(created.error().code, where_ + ": " + created.error().message);
      // A rerun replaces what an earlier read of the same source put there.
      auto cleared = writer_->connection().Exec(
          fmt::format("DELETE FROM {} WHERE source = ?1", table), [&](sqlite3_stmt* stmt) {
            sqlite3_bind_text(stmt, 1, source_name_.c_str(), -1, SQLITE_STATIC);
            return Result<void>{};
          });
      if (!cleared) return Fail(cleared.error().code, where_ + ": " + cleared.error().message);
      auto quarantine = writer_->connection().Prepare(
          fmt::format("INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", table));
      if (!quarantine)
        return Fail(quarantine.error().code, where_ + ": " + quarantine.error().message);
      quarantine_ = std::move(*quarantine);
    }
    scratch_.resize(types_.size());
    bound_.resize(types_.size());
    return {};
  }

  Result<void> Write(const SourceRow& row) {
    ++report_.rows_read;
    if (!row.problem.empty()) return Reject(row, row.problem);
    for (std::size_t i = 0; i < types_.size(); ++i) {
      const std::size_t f = from_[i];
      static const Cell kNull;
      const Cell& cell = f < row.cells.size() ? row.cells[f] : kNull;
      if (auto why = Convert(cell, types_[i], &scratch_[i], &bound_[i])) {
        return Reject(row, fmt::format("column {}: {}", report_.columns[i].first, *why));
      }
    }
    // NULLs never conflict under a unique index: such a row would be added again on each rerun.
    for (std::size_t k : key_columns_) {
      if (bound_[k].kind == Cell::Kind::kNull) {
        return Reject(row, fmt::format("key column {} is NULL, so the row cannot be upserted",
                                       report_.columns[k].first));
      }
    }
    if (partition_ < types_.size()) {
      const Bound& b = bound_[partition_];
      std::string at = b.kind == Cell::Kind::kText ? NormalizeTimestamp(b.text) : "";
      if (at.empty() || at < start_ || at >= end_) {
        return Reject(
            row,
            fmt::format("{} {} is outside the run's interval [{}, {})", c_.target.partition_column,
                        b.kind == Cell::Kind::kNull ? "NULL" : Printable(b.text), start_, end_));
      }
    }
    sqlite3_stmt* stmt = insert_.get();
    for (std::size_t i = 0; i < bound_.size(); ++i) {
      const Bound& b = bound_[i];
      int p = static_cast<int>(i) + 1;
      switch (b.kind) {
        case Cell::Kind::kNull:
          sqlite3_bind_null(stmt, p);
          break;
        case Cell::Kind::kInt:
          sqlite3_bind_int64(stmt, p, b.i);
          break;
        case Cell::Kind::kReal:
          sqlite3_bind_double(stmt, p, b.d);
          break;
        case Cell::Kind::kText:
          sqlite3_bind_text(stmt, p, b.text.data(), static_cast<int>(b.text.size()), SQLITE_STATIC);
          break;
      }
    }
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return Reject(row, writer_->connection().LastError("the warehouse refused it").message);
      }
      return Fail(ErrorCode::kIo,
                  fmt::format("{}:{}: {}", where_, row.line,
                              writer_->connection().LastError("writing the row").message));
    }
    ++report_.rows_written;
    return {};
  }

  Result<void> Reject(const SourceRow& row, const std::string& reason) {
    if (c_.on_bad_row == "fail") {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}:{}: {} (on_bad_row: fail; 'skip' or 'quarantine' would go on)",
                              where_, row.line, reason));
    }
    ++report_.rows_rejected;
    if (c_.on_bad_row != "quarantine") return {};
    sqlite3_stmt* stmt = quarantine_.get();
    sqlite3_bind_text(stmt, 1, source_name_.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, row.line);
    sqlite3_bind_text(stmt, 3, reason.c_str(), -1, SQLITE_TRANSIENT);
    // A raw record that is not UTF-8 is kept as a BLOB, byte for byte.
    if (FindInvalidUtf8(row.raw)) {
      sqlite3_bind_blob(stmt, 4, row.raw.data(), static_cast<int>(row.raw.size()), SQLITE_STATIC);
    } else {
      sqlite3_bind_text(stmt, 4, row.raw.data(), static_cast<int>(row.raw.size()), SQLITE_STATIC);
    }
    sqlite3_bind_text(stmt, 5, c_.run_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, c_.task.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 7, c_.try_number);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
      return Fail(ErrorCode::kIo,
                  fmt::format("{}: {}", where_,
                              writer_->connection().LastError("writing the quarantine").message));
    }
    return {};
  }

  const IngestConfig& c_;
  const std::string
      source_name_;  // the file as in the DAG, or the URL: in messages and the quarantine
  const std::string where_;
  std::unique_ptr<RowSource> source_;
  std::vector<KeptRow> sample_;
  std::vector<Type> types_;
  std::vector<std::size_t> from_;  // for each written column, its index in the source
  Writer* writer_ = nullptr;
  Statement insert_;
  Statement quarantine_;
  std::size_t partition_ = SIZE_MAX;
  std::vector<std::size_t> key_columns_;  // upsert: the key's columns among those written
  std::string start_, end_;
  std::vector<std::string> scratch_;
  std::vector<Bound> bound_;
  IngestReport report_;
};

}  // namespace

std::string NormalizeTimestamp(std::string_view text) {
  auto t = ParseTimestamp(text);
  if (!t) return "";
  std::string iso = FormatIso(*t);  // 2026-01-10T07:30:00[.250]Z
  iso[10] = ' ';
  iso.pop_back();
  return iso;
}

Result<IngestReport> RunIngest(const IngestConfig& config) { return Ingest(config).Run(); }

Result<SourceQueryPlan> PlanIngestQuery(const IngestConfig& config) {
  auto fail = [&](const Error& e) {
    return Fail(e.code, fmt::format("ingest {}: {}", config.task, e.message));
  };
  auto connection = Connection::Open(config.source.path, /*read_only=*/true);
  if (!connection) return fail(connection.error());
  auto query = PrepareReadOnly(*connection, config.source.query, "sqlite source");
  if (!query) return fail(query.error());
  SourceQueryPlan plan;
  plan.tables = query->tables;
  for (int i = 1; i <= sqlite3_bind_parameter_count(query->statement.get()); ++i) {
    if (const char* name = sqlite3_bind_parameter_name(query->statement.get(), i)) {
      plan.parameters.push_back(std::string(name).substr(1));
    }
  }
  return plan;
}

std::string IngestConfigToJson(const IngestConfig& c) {
  const IngestSource& s = c.source;
  json source = {{"format", s.format},
                 {"path", s.path.string()},
                 {"uri", s.uri},
                 {"delimiter", std::string(1, s.delimiter)},
                 {"quote", std::string(1, s.quote)},
                 {"header", s.header},
                 {"null_values", s.null_values},
                 {"max_field_bytes", s.max_field_bytes},
                 {"query", s.query},
                 {"url", s.url},
                 {"body", s.body},
                 {"headers", s.headers},
                 {"timeout_seconds", s.timeout_seconds},
                 {"retries", s.retries},
                 {"backoff_seconds", s.backoff_seconds},
                 {"max_bytes", s.max_bytes}};
  const WriteTarget& t = c.target;
  return json{{"task", c.task},
              {"source", source},
              {"columns", c.columns},
              {"infer_rows", c.infer_rows},
              {"on_bad_row", c.on_bad_row},
              {"quarantine_table", c.quarantine_table},
              {"into", t.into},
              {"mode", t.mode},
              {"key", t.key},
              {"partition_column", t.partition_column},
              {"interval_start", t.interval_start},
              {"interval_end", t.interval_end},
              {"warehouse", c.warehouse.string()},
              {"table_uri_prefix", c.table_uri_prefix},
              {"bindings", c.bindings},
              {"run_id", c.run_id},
              {"try_number", c.try_number}}
      .dump();
}

Result<IngestConfig> IngestConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    IngestConfig c;
    const json& s = j.at("source");
    c.source.format = s.at("format").get<std::string>();
    c.source.path = s.at("path").get<std::string>();
    c.source.uri = s.at("uri").get<std::string>();
    c.source.delimiter = s.at("delimiter").get<std::string>().at(0);
    c.source.quote = s.at("quote").get<std::string>().at(0);
    c.source.header = s.at("header").get<bool>();
    c.source.null_values = s.at("null_values").get<std::vector<std::string>>();
    c.source.max_field_bytes = s.at("max_field_bytes").get<std::size_t>();
    c.source.query = s.at("query").get<std::string>();
    c.source.url = s.at("url").get<std::string>();
    c.source.body = s.at("body").get<std::string>();
    c.source.headers = s.at("headers").get<std::vector<std::pair<std::string, std::string>>>();
    c.source.timeout_seconds = s.at("timeout_seconds").get<double>();
    c.source.retries = s.at("retries").get<int>();
    c.source.backoff_seconds = s.at("backoff_seconds").get<double>();
    c.source.max_bytes = s.at("max_bytes").get<std::int64_t>();
    c.task = j.at("task").get<std::string>();
    c.columns = j.at("columns").get<std::vector<std::pair<std::string, std::string>>>();
    c.infer_rows = j.at("infer_rows").get<int>();
    c.on_bad_row = j.at("on_bad_row").get<std::string>();
    c.quarantine_table = j.at("quarantine_table").get<std::string>();
    c.target.into = j.at("into").get<std::string>();
    c.target.mode = j.at("mode").get<std::string>();
    c.target.key = j.at("key").get<std::vector<std::string>>();
    c.target.partition_column = j.at("partition_column").get<std::string>();
    c.target.interval_start = j.at("interval_start").get<std::string>();
    c.target.interval_end = j.at("interval_end").get<std::string>();
    c.warehouse = j.at("warehouse").get<std::string>();
    c.table_uri_prefix = j.at("table_uri_prefix").get<std::string>();
    c.bindings = j.at("bindings").get<std::map<std::string, std::string>>();
    c.run_id = j.at("run_id").get<std::string>();
    c.try_number = j.at("try_number").get<int>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad ingest config: {}", e.what()));
  }
}

}  // namespace weir::tasks

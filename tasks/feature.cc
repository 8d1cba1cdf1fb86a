#include "tasks/feature.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "common/large_vector.h"
#include "common/strings.h"
#include "common/time.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

// ---- Values read from the warehouse -------------------------------------------------------

// One SQLite value. Text and blobs live in the Values arena that read them.
struct Cell {
  enum class Kind : std::uint8_t { kNull, kInteger, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  std::uint32_t size = 0;
  union {
    std::int64_t integer = 0;
    double real;
    std::uint64_t offset;
  };
  bool is_number() const { return kind == Kind::kInteger || kind == Kind::kReal; }
  double number() const { return kind == Kind::kInteger ? static_cast<double>(integer) : real; }
  static Cell Integer(std::int64_t v) {
    Cell c;
    c.kind = Kind::kInteger;
    c.integer = v;
    return c;
  }
  static Cell Real(double v) {
    Cell c;
    c.kind = std::isnan(v) ? Kind::kNull : Kind::kReal;
    c.real = v;
    return c;
  }
};

class Values {
 public:
  Cell Read(sqlite3_stmt* stmt, int column) {
    Cell c;
    switch (sqlite3_column_type(stmt, column)) {
      case SQLITE_INTEGER:
        return Cell::Integer(sqlite3_column_int64(stmt, column));
      case SQLITE_FLOAT:
        return Cell::Real(sqlite3_column_double(stmt, column));
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        const bool text = sqlite3_column_type(stmt, column) == SQLITE_TEXT;
        const void* bytes = text ? static_cast<const void*>(sqlite3_column_text(stmt, column))
                                 : sqlite3_column_blob(stmt, column);
        c.kind = text ? Cell::Kind::kText : Cell::Kind::kBlob;
        c.size = static_cast<std::uint32_t>(sqlite3_column_bytes(stmt, column));
        c.offset = arena_.size();
        arena_.insert(arena_.end(), static_cast<const char*>(bytes),
                      static_cast<const char*>(bytes) + c.size);
        return c;
      }
      default:
        return c;
    }
  }

  std::string_view Bytes(const Cell& c) const { return {arena_.data() + c.offset, c.size}; }
  void Clear() { arena_.clear(); }
  // Takes the bytes of `other`'s texts and blobs; a cell of `other` is one of these once its
  // offset is moved by what this returns.
  std::uint64_t Append(const Values& other) {
    const std::uint64_t base = arena_.size();
    arena_.insert(arena_.end(), other.arena_.begin(), other.arena_.end());
    return base;
  }

  void Bind(sqlite3_stmt* stmt, int index, const Cell& c) const {
    switch (c.kind) {
      case Cell::Kind::kNull:
        sqlite3_bind_null(stmt, index);
        break;
      case Cell::Kind::kInteger:
        sqlite3_bind_int64(stmt, index, c.integer);
        break;
      case Cell::Kind::kReal:
        sqlite3_bind_double(stmt, index, c.real);
        break;
      // An empty value is bound without a pointer into the arena, which may have none: SQLite
      // binds a null pointer as NULL.
      case Cell::Kind::kText:
        sqlite3_bind_text(stmt, index, c.size == 0 ? "" : arena_.data() + c.offset,
                          static_cast<int>(c.size), SQLITE_STATIC);
        break;
      case Cell::Kind::kBlob:
        if (c.size == 0) {
          sqlite3_bind_zeroblob(stmt, index, 0);
        } else {
          sqlite3_bind_blob(stmt, index, arena_.data() + c.offset, static_cast<int>(c.size),
                            SQLITE_STATIC);
        }
        break;
    }
  }

  std::string Show(const Cell& c) const {
    switch (c.kind) {
      case Cell::Kind::kNull:
        return "NULL";
      case Cell::Kind::kInteger:
        return std::to_string(c.integer);
      case Cell::Kind::kReal:
        return fmt::format("{}", c.real);
      case Cell::Kind::kText:
        return "'" + Printable(Bytes(c), 40) + "'";
      case Cell::Kind::kBlob:
        return fmt::format("a {}-byte blob", c.size);
    }
    return "";
  }

  // SQLite's order: numbers (compared as numbers), then text, then blobs (both bytewise).
  int Compare(const Cell& a, const Cell& b) const {
    auto rank = [](const Cell& c) {
      return c.is_number() ? 0 : c.kind == Cell::Kind::kText ? 1 : 2;
    };
    if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
    if (rank(a) == 0) {
      if (a.kind == Cell::Kind::kInteger && b.kind == Cell::Kind::kInteger) {
        return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
      }
      // long double holds every int64 exactly.
      long double x = a.kind == Cell::Kind::kInteger ? a.integer : a.real;
      long double y = b.kind == Cell::Kind::kInteger ? b.integer : b.real;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int order = Bytes(a).compare(Bytes(b));
    return order < 0 ? -1 : order > 0 ? 1 : 0;
  }

  // The integer a number equals (as SQLite's = sees them: 1 = 1.0), if any.
  static std::optional<std::int64_t> AsInteger(const Cell& c) {
    if (c.kind == Cell::Kind::kInteger) return c.integer;
    if (c.kind == Cell::Kind::kReal && c.real >= -9.2e18 && c.real <= 9.2e18 &&
        c.real == static_cast<double>(static_cast<std::int64_t>(c.real))) {
      return static_cast<std::int64_t>(c.real);
    }
    return std::nullopt;
  }

  // Appends a key under which equal values (as SQLite's = sees them) are equal bytes.
  void AppendKey(const Cell& c, std::string* key) const {
    if (auto integer = AsInteger(c)) {
      key->push_back('i');
      key->append(reinterpret_cast<const char*>(&*integer), sizeof *integer);
      return;
    }
    switch (c.kind) {
      case Cell::Kind::kNull:
        key->push_back('n');
        return;
      case Cell::Kind::kReal:
        key->push_back('r');
        key->append(reinterpret_cast<const char*>(&c.real), sizeof c.real);
        return;
      case Cell::Kind::kText:
      case Cell::Kind::kBlob:
        key->push_back(c.kind == Cell::Kind::kText ? 't' : 'b');
        key->append(reinterpret_cast<const char*>(&c.size), sizeof c.size);
        key->append(Bytes(c));
        return;
      case Cell::Kind::kInteger:
        return;  // handled above
    }
  }

 private:
  LargeVector<char> arena_;
};

// A column of values, one per event or label (millions: see common/large_vector.h).
using Column = LargeVector<Cell>;

// A timestamp in milliseconds since the epoch: ISO 8601 text, or a number of seconds.
std::optional<std::int64_t> MillisOf(const Cell& c, const Values& values) {
  constexpr double kMaxSeconds = 1e13;  // some 300,000 years: anything beyond is not a time
  switch (c.kind) {
    case Cell::Kind::kInteger:
      if (c.integer > kMaxSeconds || c.integer < -kMaxSeconds) return std::nullopt;
      return c.integer * 1000;
    case Cell::Kind::kReal:
      if (!(c.real <= kMaxSeconds && c.real >= -kMaxSeconds)) return std::nullopt;
      return std::llround(c.real * 1000);
    case Cell::Kind::kText:
      if (auto t = ParseTimestamp(values.Bytes(c))) return ToMillis(*t);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// ---- Aggregates over a sliding window ------------------------------------------------------

// The events of every entity, sorted by (entity, event time, available_at, row): an event's
// index is its rank, so "first" and "last" compare indexes.
struct Events {
  LargeVector<std::int64_t> ts, available;
  std::vector<Column> columns;                       // one per distinct feature column
  std::vector<LargeVector<std::uint32_t>> distinct;  // per column: a dense id per distinct value
  LargeVector<std::size_t> begin;  // entity k's events are [begin[k], begin[k + 1])
};

enum class Agg { kCount, kSum, kAvg, kStddev, kMin, kMax, kFirst, kLast, kCountDistinct };

Agg AggOf(std::string_view name) {
  static const std::map<std::string_view, Agg> kAggs = {
      {"count", Agg::kCount},   {"sum", Agg::kSum},   {"avg", Agg::kAvg},
      {"stddev", Agg::kStddev}, {"min", Agg::kMin},   {"max", Agg::kMax},
      {"first", Agg::kFirst},   {"last", Agg::kLast}, {"count_distinct", Agg::kCountDistinct}};
  return kAggs.at(name);
}

// One feature's running value over the events in its window. Events enter and leave in any
// order; Value() answers for the events in the window now.
class Aggregate {
 public:
  virtual ~Aggregate() = default;
  virtual void Add(std::size_t e) = 0;
  virtual void Remove(std::size_t e) = 0;
  virtual Cell Value() = 0;
  virtual void Clear() = 0;  // the next entity
};

// Neumaier's compensated sum: adding and later subtracting a value leaves no drift worth
// speaking of, which a plain sum of a sliding window would accumulate.
class CompensatedSum {
 public:
  void Add(double x) {
    double t = sum_ + x;
    compensation_ += std::abs(sum_) >= std::abs(x) ? (sum_ - t) + x : (x - t) + sum_;
    sum_ = t;
  }
  double Value() const { return sum_ + compensation_; }
  void Clear() { sum_ = compensation_ = 0; }

 private:
  double sum_ = 0, compensation_ = 0;
};

class Count : public Aggregate {
 public:
  explicit Count(const Column* column) : column_(column) {}
  void Add(std::size_t e) override { n_ += Counts(e); }
  void Remove(std::size_t e) override { n_ -= Counts(e); }
  Cell Value() override { return Cell::Integer(n_); }
  void Clear() override { n_ = 0; }

 private:
  int Counts(std::size_t e) const {
    return column_ == nullptr || (*column_)[e].kind != Cell::Kind::kNull ? 1 : 0;
  }
  const Column* column_;  // null: count events
  std::int64_t n_ = 0;
};

// sum, avg and stddev: integers exactly (in 128 bits), reals compensated. For stddev, the values
// are shifted by the first one in the window, so that the sum of squares does not swamp a small
// spread around a large mean.
class Moments : public Aggregate {
 public:
  Moments(const Column& column, Agg agg) : column_(column), agg_(agg) {}
  void Add(std::size_t e) override { Update(e, +1); }
  void Remove(std::size_t e) override { Update(e, -1); }
  Cell Value() override {
    if (n_ == 0) return Cell();
    if (agg_ == Agg::kSum) {
      if (reals_ == 0 && integers_ >= std::numeric_limits<std::int64_t>::min() &&
          integers_ <= std::numeric_limits<std::int64_t>::max()) {
        return Cell::Integer(static_cast<std::int64_t>(integers_));
      }
      return Cell::Real(static_cast<double>(integers_) + reals_sum_.Value());
    }
    if (agg_ == Agg::kAvg) {
      return Cell::Real((static_cast<double>(integers_) + reals_sum_.Value()) /
                        static_cast<double>(n_));
    }
    if (n_ < 2) return Cell();
    const double n = static_cast<double>(n_);
    const double s1 = shifted_.Value(), s2 = squares_.Value();
    return Cell::Real(std::sqrt(std::max(0.0, (s2 - s1 * s1 / n) / (n - 1))));
  }
  void Clear() override {
    n_ = reals_ = 0;
    integers_ = 0;
    reals_sum_.Clear();
    shifted_.Clear();
    squares_.Clear();
  }

 private:
  void Update(std::size_t e, int sign) {
    const Cell& c = column_[e];
    if (c.kind == Cell::Kind::kNull) return;
    if (n_ == 0) Clear();  // an empty window starts afresh: no drift carried over
    if (n_ == 0) shift_ = c.number();
    n_ += sign;
    if (c.kind == Cell::Kind::kInteger) {
      integers_ += sign * static_cast<__int128>(c.integer);
    } else {
      reals_ += sign;
      reals_sum_.Add(sign * c.real);
    }
    if (agg_ == Agg::kStddev) {
      const double d = c.number() - shift_;
      shifted_.Add(sign * d);
      squares_.Add(sign * d * d);
    }
  }
  const Column& column_;
  Agg agg_;
  std::int64_t n_ = 0, reals_ = 0;
  __int128 integers_ = 0;
  CompensatedSum reals_sum_, shifted_, squares_;
  double shift_ = 0;
};

// min, max, first and last: a heap of the events added, from which events that left the window
// are dropped when they reach the top. `live[e]` says whether event e is in the window.
class Extreme : public Aggregate {
 public:
  Extreme(const Column& column, const Values& values, Agg agg, const LargeVector<char>& live)
      : column_(column), values_(values), agg_(agg), live_(live) {}
  // The heap's "less": its top is the answer.
  auto Order() const {
    return [this](std::uint32_t a, std::uint32_t b) {
      switch (agg_) {
        case Agg::kFirst:
          return a > b;
        case Agg::kLast:
          return a < b;
        case Agg::kMin:
          return values_.Compare(column_[a], column_[b]) > 0;
        default:
          return values_.Compare(column_[a], column_[b]) < 0;
      }
    };
  }
  void Add(std::size_t e) override {
    if (column_[e].kind == Cell::Kind::kNull) return;
    heap_.push_back(static_cast<std::uint32_t>(e));
    std::push_heap(heap_.begin(), heap_.end(), Order());
  }
  void Remove(std::size_t) override {}  // dropped lazily
  Cell Value() override {
    while (!heap_.empty() && !live_[heap_.front()]) {
      std::pop_heap(heap_.begin(), heap_.end(), Order());
      heap_.pop_back();
    }
    return heap_.empty() ? Cell() : column_[heap_.front()];
  }
  void Clear() override { heap_.clear(); }

 private:
  const Column& column_;
  const Values& values_;
  Agg agg_;
  const LargeVector<char>& live_;
  std::vector<std::uint32_t> heap_;
};

class CountDistinct : public Aggregate {
 public:
  CountDistinct(const LargeVector<std::uint32_t>& ids, std::size_t distinct_values)
      : ids_(ids), counts_(distinct_values, 0) {}
  // Id 0 is NULL, which is not counted.
  void Add(std::size_t e) override {
    if (std::uint32_t id = ids_[e]; id != 0 && counts_[id]++ == 0)
      ++distinct_, touched_.push_back(id);
  }
  void Remove(std::size_t e) override {
    if (std::uint32_t id = ids_[e]; id != 0 && --counts_[id] == 0) --distinct_;
  }
  Cell Value() override { return Cell::Integer(distinct_); }
  void Clear() override {
    for (std::uint32_t id : touched_) counts_[id] = 0;
    touched_.clear();
    distinct_ = 0;
  }

 private:
  const LargeVector<std::uint32_t>& ids_;
  std::vector<std::int32_t> counts_;
  std::vector<std::uint32_t> touched_;
  std::int64_t distinct_ = 0;
};

bool IsNumeric(std::string_view agg) { return agg == "sum" || agg == "avg" || agg == "stddev"; }

// ---- Reading the tables --------------------------------------------------------------------

struct TableColumns {
  std::vector<std::string> names;
  std::vector<std::string> types;  // declared, or empty
};

Result<TableColumns> ColumnsOf(const Connection& connection, const std::string& table,
                               std::string_view side, std::string_view task) {
  auto stmt = connection.Prepare(fmt::format("SELECT * FROM {} LIMIT 0", QuoteIdentifier(table)));
  if (!stmt) {
    std::vector<std::string> tables;
    if (auto names =
            connection.Prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")) {
      while (sqlite3_step(names->get()) == SQLITE_ROW) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(names->get(), 0)));
      }
    }
    auto hint = ClosestMatch(table, tables);
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("feature {}: {} table '{}' is not in the warehouse{}", task, side,
                            table, hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
  }
  TableColumns columns;
  for (int i = 0; i < sqlite3_column_count(stmt->get()); ++i) {
    columns.names.emplace_back(sqlite3_column_name(stmt->get(), i));
    const char* type = sqlite3_column_decltype(stmt->get(), i);
    columns.types.emplace_back(type == nullptr ? "" : type);
  }
  return columns;
}

// The position of `column` in `columns`, or an error with a did-you-mean.
Result<int> ColumnIndex(const TableColumns& columns, const std::string& column,
                        std::string_view what, const std::string& table, std::string_view task) {
  auto it = std::find(columns.names.begin(), columns.names.end(), column);
  if (it != columns.names.end()) return static_cast<int>(it - columns.names.begin());
  auto hint = ClosestMatch(column, columns.names);
  return Fail(ErrorCode::kInvalidArgument,
              fmt::format("feature {}: {} '{}' is not a column of {} ({}){}", task, what, column,
                          table, fmt::join(columns.names, ", "),
                          hint ? fmt::format("; did you mean '{}'?", *hint) : ""));
}

// The distinct event columns the features aggregate, in first-use order.
std::vector<std::string> FeatureColumns(const FeatureConfig& c) {
  std::vector<std::string> columns;
  for (const FeatureSpec& f : c.features) {
    if (!f.column.empty() && std::find(columns.begin(), columns.end(), f.column) == columns.end()) {
      columns.push_back(f.column);
    }
  }
  return columns;
}

std::string WindowText(std::int64_t window_ms) {
  return window_ms == 0 ? "all time" : DurationToString(Duration(window_ms));
}

// Reads a whole table (or the rows a `where` clause keeps) and hands each row to `row`, with its
// rowid (or position, for a table without rowid) for messages.
Result<void> Scan(const Connection& connection, std::string_view what, const std::string& table,
                  const std::vector<std::string>& columns, const std::string& where,
                  const std::function<void(sqlite3_stmt*)>& bind,
                  const std::function<Result<void>(sqlite3_stmt*, std::int64_t row)>& row) {
  std::vector<std::string> quoted;
  for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
  const std::string tail =
      fmt::format("{} FROM {}{}", fmt::join(quoted, ", "), QuoteIdentifier(table),
                  where.empty() ? "" : " WHERE " + where);
  bool with_rowid = true;
  auto stmt = connection.Prepare("SELECT rowid, " + tail);
  if (!stmt) {
    with_rowid = false;
    stmt = connection.Prepare("SELECT 0, " + tail);
    if (!stmt) return Fail(stmt.error().code, fmt::format("{}{}", what, stmt.error().message));
  }
  if (bind) bind(stmt->get());
  std::int64_t position = 0;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    ++position;
    auto ok = row(stmt->get(), with_rowid ? sqlite3_column_int64(stmt->get(), 0) : position);
    if (!ok) return ok;
  }
  if (rc != SQLITE_DONE) {
    return std::unexpected(connection.LastError(fmt::format("{}reading {}", what, table)));
  }
  return {};
}

// The declared type of a feature column, from the aggregate and the column it reads.
std::string FeatureType(const FeatureSpec& f, const TableColumns& events) {
  if (f.agg == "count" || f.agg == "count_distinct") return "INTEGER";
  if (f.agg == "avg" || f.agg == "stddev") return "REAL";
  auto at = std::find(events.names.begin(), events.names.end(), f.column);
  std::string type = events.types[at - events.names.begin()];
  if (f.agg == "sum") {
    std::transform(type.begin(), type.end(), type.begin(), ::toupper);
    return type.find("INT") != std::string::npos ? "INTEGER" : "REAL";
  }
  return type;  // min, max, first, last keep the column's type
}

// Both tables' columns, checked against the config, and the plan they give.
struct Inspection {
  TableColumns labels, events;
  FeaturePlan plan;
};

Result<Inspection> Inspect(const Connection& connection, const FeatureConfig& c) {
  Inspection in;
  auto labels = ColumnsOf(connection, c.labels.table, "labels", c.task);
  if (!labels) return std::unexpected(labels.error());
  in.labels = std::move(*labels);
  auto events = ColumnsOf(connection, c.events.table, "events", c.task);
  if (!events) return std::unexpected(events.error());
  in.events = std::move(*events);
  auto fail = [&](std::string message) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("feature {}: {}", c.task, message));
  };
  if (c.labels.table == c.target.into || c.events.table == c.target.into) {
    return fail(
        fmt::format("'into' ({}) must differ from the labels and events tables", c.target.into));
  }
  if (c.labels.entity.size() != c.events.entity.size()) {
    return fail(fmt::format("labels name {} entity columns and events {}", c.labels.entity.size(),
                            c.events.entity.size()));
  }
  // Every column the config names, with what it is for.
  std::vector<std::tuple<const TableColumns*, std::string, std::string>> named;
  for (const std::string& column : c.labels.entity)
    named.emplace_back(&in.labels, column, "entity");
  named.emplace_back(&in.labels, c.labels.timestamp, "timestamp");
  if (c.target.mode == "partition") {
    named.emplace_back(&in.labels, c.target.partition_column, "partition_column");
  }
  for (const std::string& column : c.events.entity)
    named.emplace_back(&in.events, column, "entity");
  named.emplace_back(&in.events, c.events.timestamp, "timestamp");
  if (!c.events.available_at.empty()) {
    named.emplace_back(&in.events, c.events.available_at, "available_at");
  }
  for (const FeatureSpec& f : c.features) {
    if (!f.column.empty()) named.emplace_back(&in.events, f.column, "feature " + f.name);
  }
  for (const auto& [columns, column, what] : named) {
    const bool labels_side = columns == &in.labels;
    const std::string& table = labels_side ? c.labels.table : c.events.table;
    auto index =
        ColumnIndex(*columns, column, fmt::format("{} {}", labels_side ? "labels" : "events", what),
                    table, c.task);
    if (!index) return std::unexpected(index.error());
  }

  FeaturePlan& plan = in.plan;
  plan.tables = {c.labels.table, c.events.table};
  std::sort(plan.tables.begin(), plan.tables.end());
  plan.tables.erase(std::unique(plan.tables.begin(), plan.tables.end()), plan.tables.end());
  for (const std::string& name : in.labels.names) {
    plan.columns.push_back({name, c.labels.table, name, "identity"});
  }
  for (const FeatureSpec& f : c.features) {
    if (std::find(in.labels.names.begin(), in.labels.names.end(), f.name) !=
        in.labels.names.end()) {
      return fail(
          fmt::format("feature '{}' has the name of a column of {}; the output keeps every "
                      "label column, so rename the feature",
                      f.name, c.labels.table));
    }
    plan.columns.push_back({f.name, c.events.table,
                            f.column.empty() ? c.events.timestamp : f.column,
                            fmt::format("aggregate: {} over {}", f.agg, WindowText(f.window_ms))});
  }
  return in;
}

// Entity keys and the dense ids given to them, 0, 1, ... in order of first appearance. A key of
// one integer (the usual case) is kept as its value, any other as bytes under which values
// SQLite's = finds equal are equal (Values::AppendKey).
class EntityIds {
 public:
  template <typename Key>
  std::int32_t Add(const Key& key) {
    auto [it, inserted] = Map<Key>().try_emplace(key, size_);
    if (inserted) ++size_;
    return it->second;
  }
  template <typename Key>
  std::int32_t Find(const Key& key) const {
    auto it = Map<Key>().find(key);
    return it == Map<Key>().end() ? -1 : it->second;
  }
  void Prefetch(std::int64_t key) const { integers_.prefetch(key); }
  std::int32_t size() const { return size_; }

  // Gives each key of `other` an id here, in `other`'s order; returns the id here of each of
  // `other`'s ids.
  std::vector<std::int32_t> Merge(const EntityIds& other) {
    std::vector<std::int32_t> mine(static_cast<std::size_t>(other.size_));
    std::vector<std::pair<std::int32_t, const std::int64_t*>> integers;
    std::vector<std::pair<std::int32_t, const std::string*>> others;
    for (const auto& [key, id] : other.integers_) integers.emplace_back(id, &key);
    for (const auto& [key, id] : other.others_) others.emplace_back(id, &key);
    std::sort(integers.begin(), integers.end());
    std::sort(others.begin(), others.end());
    auto i = integers.begin();
    auto o = others.begin();
    while (i != integers.end() || o != others.end()) {
      if (o == others.end() || (i != integers.end() && i->first < o->first)) {
        mine[static_cast<std::size_t>(i->first)] = Add(*i->second);
        ++i;
      } else {
        mine[static_cast<std::size_t>(o->first)] = Add(*o->second);
        ++o;
      }
    }
    return mine;
  }

 private:
  template <typename Key>
  auto& Map() {
    if constexpr (std::is_same_v<Key, std::int64_t>) {
      return integers_;
    } else {
      return others_;
    }
  }
  template <typename Key>
  const auto& Map() const {
    if constexpr (std::is_same_v<Key, std::int64_t>) {
      return integers_;
    } else {
      return others_;
    }
  }
  absl::flat_hash_map<std::int64_t, std::int32_t> integers_;
  absl::flat_hash_map<std::string, std::int32_t> others_;
  std::int32_t size_ = 0;
};

// Runs work(0) ... work(n - 1), on as many threads as there are cores (and work).
void ParallelFor(std::size_t n, const std::function<void(std::size_t)>& work) {
  const std::size_t threads =
      std::min<std::size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<std::size_t> next = 0;
  auto worker = [&] {
    for (std::size_t i; (i = next++) < n;) work(i);
  };
  std::vector<std::jthread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
}

// Runs work(begin, end) over [0, n) cut into a few ranges, side by side as ParallelFor does.
void ParallelRanges(std::size_t n, const std::function<void(std::size_t, std::size_t)>& work) {
  constexpr std::size_t kRanges = 16;
  ParallelFor(std::min(n, kRanges), [&](std::size_t r) {
    const std::size_t ranges = std::min(n, kRanges);
    work(n * r / ranges, n * (r + 1) / ranges);
  });
}

// ---- The task ------------------------------------------------------------------------------

class FeatureRun {
 public:
  explicit FeatureRun(const FeatureConfig& c) : c_(c) {}

  Result<FeatureReport> Run() {
    auto writer = Writer::Begin(c_.warehouse, c_.target);
    if (!writer) return Fail(writer.error().code, where() + writer.error().message);
    // Checked again inside the transaction: what is read below is what was checked.
    auto inspection = Inspect(writer->connection(), c_);
    if (!inspection) return std::unexpected(inspection.error());
    label_columns_ = std::move(inspection->labels);
    events_columns_ = std::move(inspection->events);
    if (auto ok = ReadEvents(writer->connection()); !ok) return std::unexpected(ok.error());
    if (auto ok = ReadLabels(*writer); !ok) return std::unexpected(ok.error());
    Compute();
    if (auto ok = Write(&*writer); !ok) return std::unexpected(ok.error());
    if (auto ok = writer->Commit(); !ok) return Fail(ok.error().code, where() + ok.error().message);
    return FeatureReport{.labels = static_cast<std::int64_t>(label_cutoff_.size()),
                         .events = static_cast<std::int64_t>(events_.ts.size()),
                         .entities = ids_.size()};
  }

 private:
  std::string where() const { return fmt::format("feature {}: ", c_.task); }

  Error RowError(std::string_view side, const std::string& table, std::int64_t row,
                 std::string_view why) const {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("{}{} table {} row {}: {}", where(), side, table, row, why)};
  }

  // What one thread needs to read rows: a place for the values it looks at once.
  struct Scratch {
    Values values;
    std::string key;
  };

  // The entity's id in `ids`, made when `add` (events) or -1 for one no event has (labels).
  // `row` names the row in an error about a NULL key.
  Result<std::int32_t> EntityOf(sqlite3_stmt* stmt, int first, const FeatureConfig::Side& side,
                                std::string_view name, std::int64_t row, EntityIds* ids, bool add,
                                Scratch* scratch) const {
    scratch->key.clear();
    for (std::size_t i = 0; i < side.entity.size(); ++i) {
      const int column = first + static_cast<int>(i);
      if (sqlite3_column_type(stmt, column) == SQLITE_NULL) {
        return std::unexpected(RowError(name, side.table, row,
                                        fmt::format("entity column {} is NULL", side.entity[i])));
      }
      scratch->values.Clear();
      const Cell cell = scratch->values.Read(stmt, column);
      if (side.entity.size() == 1) {
        if (auto integer = Values::AsInteger(cell)) {
          return add ? ids->Add(*integer) : ids->Find(*integer);
        }
      }
      scratch->values.AppendKey(cell, &scratch->key);
    }
    return add ? ids->Add(scratch->key) : ids->Find(scratch->key);
  }

  Result<std::int64_t> TimeOf(sqlite3_stmt* stmt, int column, std::string_view side,
                              const std::string& table, const std::string& name, std::int64_t row,
                              Scratch* scratch) const {
    scratch->values.Clear();
    Cell cell = scratch->values.Read(stmt, column);
    if (auto ms = MillisOf(cell, scratch->values)) return *ms;
    return std::unexpected(
        RowError(side, table, row,
                 fmt::format("{} {} is not a time (write ISO 8601 such as 2026-01-10T07:30:00Z, or "
                             "seconds since the Unix epoch)",
                             name, scratch->values.Show(cell))));
  }

  // The events of one range of rowids (or of the whole table), in rowid order, with entity ids
  // of their own.
  struct EventRows {
    LargeVector<std::int32_t> entity;
    LargeVector<std::int64_t> times, available;
    std::vector<Column> values;
    Values texts;  // the bytes of the text and blob values
    EntityIds ids;
  };

  // Reads the rows of the events table that `filter` (on rowid, with ?1 and ?2) keeps, or all of
  // them, into `out`; `rows` is about how many there are.
  Result<void> ReadEventRows(const Connection& connection, const std::string& filter,
                             std::int64_t low, std::int64_t high, std::size_t rows,
                             EventRows* out) const {
    const FeatureConfig::Side& e = c_.events;
    const std::vector<std::string> value_columns = FeatureColumns(c_);
    std::vector<bool> numeric(value_columns.size(), false);
    for (const FeatureSpec& f : c_.features) {
      if (!f.column.empty() && IsNumeric(f.agg)) {
        numeric[std::find(value_columns.begin(), value_columns.end(), f.column) -
                value_columns.begin()] = true;
      }
    }
    std::vector<std::string> columns = e.entity;
    columns.push_back(e.timestamp);
    if (!e.available_at.empty()) columns.push_back(e.available_at);
    columns.insert(columns.end(), value_columns.begin(), value_columns.end());
    const int ts = 1 + static_cast<int>(e.entity.size());
    const int first_value = ts + (e.available_at.empty() ? 1 : 2);

    // Room for every row up front: no copy of what was read each time an array doubles. Room
    // never written is never touched (see LargeVector), so an estimate too high costs nothing.
    out->values.resize(value_columns.size());
    out->entity.reserve(rows);
    out->times.reserve(rows);
    out->available.reserve(rows);
    for (Column& v : out->values) v.reserve(rows);
    Scratch scratch;
    return Scan(
        connection, where(), e.table, columns, filter,
        [&](sqlite3_stmt* stmt) {
          if (filter.empty()) return;
          sqlite3_bind_int64(stmt, 1, low);
          sqlite3_bind_int64(stmt, 2, high);
        },
        [&](sqlite3_stmt* stmt, std::int64_t row) -> Result<void> {
          // The entity's slot is fetched while the times are parsed: the lookup is a cache
          // miss more often than not.
          if (e.entity.size() == 1 && sqlite3_column_type(stmt, 1) == SQLITE_INTEGER) {
            out->ids.Prefetch(sqlite3_column_int64(stmt, 1));
          }
          auto t = TimeOf(stmt, ts, "events", e.table, e.timestamp, row, &scratch);
          Result<std::int64_t> avail = std::numeric_limits<std::int64_t>::min();
          if (!e.available_at.empty()) {
            avail = TimeOf(stmt, ts + 1, "events", e.table, e.available_at, row, &scratch);
          }
          auto id = EntityOf(stmt, 1, e, "events", row, &out->ids, /*add=*/true, &scratch);
          if (!id) return std::unexpected(id.error());
          if (!t) return std::unexpected(t.error());
          if (!avail) return std::unexpected(avail.error());
          out->entity.push_back(*id);
          out->times.push_back(*t);
          out->available.push_back(*avail);
          for (std::size_t v = 0; v < out->values.size(); ++v) {
            Cell cell = out->texts.Read(stmt, first_value + static_cast<int>(v));
            if (numeric[v] && !cell.is_number() && cell.kind != Cell::Kind::kNull) {
              return std::unexpected(
                  RowError("events", e.table, row,
                           fmt::format("{} is {}, not a number (sum, avg and stddev need numbers)",
                                       value_columns[v], out->texts.Show(cell))));
            }
            out->values[v].push_back(cell);
          }
          return {};
        });
  }

  // Reads the events on two threads when the table is large enough and has rowids: the lower
  // half of its rowids through the task's own connection, the upper half through a second,
  // read-only one. Both see the same data: the task's transaction holds the warehouse's write
  // lock, so no one else can commit, and it has written nothing yet. The first error in rowid
  // order is the one reported, as a single scan would.
  Result<void> ReadEvents(const Connection& connection) {
    constexpr std::int64_t kReserveAtMost = 1 << 22;              // rows: rowids may leave gaps
    std::optional<std::pair<std::int64_t, std::int64_t>> rowids;  // the smallest and the largest
    // Only the real rowid: a column named like it hides it (and may hold anything).
    const bool rowid_hidden = std::any_of(
        events_columns_.names.begin(), events_columns_.names.end(), [](std::string name) {
          std::transform(name.begin(), name.end(), name.begin(),
                         [](unsigned char ch) { return std::tolower(ch); });
          return name == "rowid" || name == "_rowid_" || name == "oid";
        });
    if (auto stmt = connection.Prepare("SELECT min(rowid), max(rowid) FROM " +
                                       QuoteIdentifier(c_.events.table));
        !rowid_hidden && stmt && sqlite3_step(stmt->get()) == SQLITE_ROW &&
        sqlite3_column_type(stmt->get(), 0) == SQLITE_INTEGER &&
        sqlite3_column_type(stmt->get(), 1) == SQLITE_INTEGER) {
      rowids.emplace(sqlite3_column_int64(stmt->get(), 0), sqlite3_column_int64(stmt->get(), 1));
    }
    // Half the rowids' range (each end halved first, so that nothing overflows).
    const std::int64_t half =
        rowids ? std::max<std::int64_t>(0, rowids->second / 2 - rowids->first / 2) : 0;
    const bool split =
        rowids && half >= c_.split_read_from / 2 && std::thread::hardware_concurrency() > 1;
    std::vector<EventRows> parts(split ? 2 : 1);
    if (!split) {
      const std::int64_t rows = rowids ? std::min(half, kReserveAtMost / 2) * 2 + 1 : 0;
      auto ok = ReadEventRows(connection, "", 0, 0, static_cast<std::size_t>(rows), &parts[0]);
      if (!ok) return ok;
    } else {
      const std::int64_t middle = rowids->first + half;
      const auto rows = static_cast<std::size_t>(std::min(half, kReserveAtMost - 1) + 1);
      Result<void> lower, upper;
      {
        std::jthread second([&] {
          auto other = Connection::Open(c_.warehouse, /*read_only=*/true);
          if (!other) {
            upper = Fail(other.error().code, where() + other.error().message);
            return;
          }
          upper = ReadEventRows(*other, "rowid > ?1 AND rowid <= ?2", middle, rowids->second, rows,
                                &parts[1]);
        });
        lower = ReadEventRows(connection, "rowid >= ?1 AND rowid <= ?2", rowids->first, middle,
                              rows, &parts[0]);
      }                          // the second thread has ended
      if (!lower) return lower;  // first: its rows come first
      if (!upper) return upper;
    }
    SortEvents(&parts);
    NumberDistinctValues();
    return {};
  }

  // Ranks the events read by (entity, time, available_at, row) into events_: a counting sort by
  // entity (stable: rows stay in order), then each entity's events by time, each entity's few
  // in a run of their own.
  void SortEvents(std::vector<EventRows>* parts) {
    ids_ = std::move((*parts)[0].ids);
    values_ = std::move((*parts)[0].texts);
    // Where each part's rows start among all rows, and where its texts now are in values_.
    std::vector<std::size_t> first_row(parts->size() + 1, 0);
    std::vector<std::uint64_t> text_base(parts->size(), 0);
    for (std::size_t p = 0; p < parts->size(); ++p) {
      EventRows& part = (*parts)[p];
      if (p > 0) {
        const std::vector<std::int32_t> id = ids_.Merge(part.ids);
        for (std::int32_t& e : part.entity) e = id[static_cast<std::size_t>(e)];
        text_base[p] = values_.Append(part.texts);
        part.texts = {};
      }
      first_row[p + 1] = first_row[p] + part.entity.size();
    }
    const std::size_t n = first_row.back();
    events_.begin.assign(static_cast<std::size_t>(ids_.size()) + 1, 0);
    for (const EventRows& part : *parts) {
      for (std::int32_t id : part.entity) ++events_.begin[static_cast<std::size_t>(id) + 1];
    }
    std::partial_sum(events_.begin.begin(), events_.begin.end(), events_.begin.begin());
    struct Rank {
      std::int64_t ts, available;
      std::uint32_t row;
      bool operator<(const Rank& o) const {
        return std::tie(ts, available, row) < std::tie(o.ts, o.available, o.row);
      }
    };
    LargeVector<Rank> ranks(n);
    {
      LargeVector<std::size_t> next(events_.begin.begin(), events_.begin.end() - 1);
      for (std::size_t p = 0; p < parts->size(); ++p) {
        const EventRows& part = (*parts)[p];
        for (std::size_t i = 0; i < part.entity.size(); ++i) {
          ranks[next[static_cast<std::size_t>(part.entity[i])]++] = {
              part.times[i], part.available[i], static_cast<std::uint32_t>(first_row[p] + i)};
        }
      }
    }
    ParallelRanges(events_.begin.size() - 1, [&](std::size_t first, std::size_t end) {
      for (std::size_t k = first; k < end; ++k) {
        std::sort(ranks.begin() + static_cast<std::ptrdiff_t>(events_.begin[k]),
                  ranks.begin() + static_cast<std::ptrdiff_t>(events_.begin[k + 1]));
      }
    });
    // The times, then each value column, in rank order: gathers, side by side.
    const std::size_t width = (*parts)[0].values.size();
    events_.columns.resize(width);
    ParallelFor(width + 1, [&](std::size_t v) {
      if (v == width) {
        events_.ts.resize(n);
        events_.available.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          events_.ts[i] = ranks[i].ts;
          events_.available[i] = ranks[i].available;
        }
        return;
      }
      Column& column = events_.columns[v];
      column.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t row = ranks[i].row;
        const std::size_t p = row < first_row[1] ? 0 : 1;  // at most two parts
        Cell cell = (*parts)[p].values[v][row - first_row[p]];
        if (cell.kind == Cell::Kind::kText || cell.kind == Cell::Kind::kBlob) {
          cell.offset += text_base[p];
        }
        column[i] = cell;
      }
      for (EventRows& part : *parts) part.values[v] = {};
    });
  }

  // Dense ids of distinct values, for count_distinct (0 is NULL).
  void NumberDistinctValues() {
    const std::vector<std::string> value_columns = FeatureColumns(c_);
    column_index_.clear();
    for (std::size_t v = 0; v < value_columns.size(); ++v) column_index_[value_columns[v]] = v;
    events_.distinct.resize(value_columns.size());
    distinct_values_.assign(value_columns.size(), 1);
    std::string key;
    for (const FeatureSpec& f : c_.features) {
      if (f.agg != "count_distinct") continue;
      const std::size_t v = column_index_.at(f.column);
      if (!events_.distinct[v].empty() || events_.ts.empty()) continue;
      absl::flat_hash_map<std::string, std::uint32_t> ids;
      LargeVector<std::uint32_t>& out = events_.distinct[v];
      out.reserve(events_.ts.size());
      for (const Cell& cell : events_.columns[v]) {
        if (cell.kind == Cell::Kind::kNull) {
          out.push_back(0);
          continue;
        }
        key.clear();
        values_.AppendKey(cell, &key);
        out.push_back(
            ids.try_emplace(key, static_cast<std::uint32_t>(ids.size() + 1)).first->second);
      }
      distinct_values_[v] = ids.size() + 1;
    }
  }

  Result<void> ReadLabels(const Writer& writer) {
    const FeatureConfig::Side& l = c_.labels;
    std::vector<std::string> read = label_columns_.names;
    const int first_entity = 1 + static_cast<int>(read.size());
    read.insert(read.end(), l.entity.begin(), l.entity.end());
    const int ts = static_cast<int>(1 + read.size());
    read.push_back(l.timestamp);
    std::string filter;
    if (c_.target.mode == "partition") {
      filter = writer.InIntervalSql(QuoteIdentifier(c_.target.partition_column));
    }
    const std::size_t width = label_columns_.names.size();
    Scratch scratch;
    auto ok = Scan(
        writer.connection(), where(), l.table, read, filter,
        [&](sqlite3_stmt* stmt) { writer.BindInterval(stmt); },
        [&](sqlite3_stmt* stmt, std::int64_t row) -> Result<void> {
          for (std::size_t i = 0; i < width; ++i) {
            label_cells_.push_back(values_.Read(stmt, 1 + static_cast<int>(i)));
          }
          auto id = EntityOf(stmt, first_entity, l, "labels", row, &ids_, /*add=*/false, &scratch);
          if (!id) return std::unexpected(id.error());
          auto t = TimeOf(stmt, ts, "labels", l.table, l.timestamp, row, &scratch);
          if (!t) return std::unexpected(t.error());
          label_entity_.push_back(*id);
          label_cutoff_.push_back(*t - c_.delay_ms);
          return {};
        });
    return ok;
  }

  std::unique_ptr<Aggregate> Make(const FeatureSpec& f, const LargeVector<char>& live) const {
    const Column* column =
        f.column.empty() ? nullptr : &events_.columns[column_index_.at(f.column)];
    const Agg agg = AggOf(f.agg);
    switch (agg) {
      case Agg::kCount:
        return std::make_unique<Count>(column);
      case Agg::kSum:
      case Agg::kAvg:
      case Agg::kStddev:
        return std::make_unique<Moments>(*column, agg);
      case Agg::kCountDistinct: {
        const std::size_t v = column_index_.at(f.column);
        return std::make_unique<CountDistinct>(events_.distinct[v], distinct_values_[v]);
      }
      default:
        return std::make_unique<Extreme>(*column, values_, agg, live);
    }
  }

  // For each window length, slides the window over each entity's events in cutoff order. The
  // window lengths are independent of each other, so they are computed side by side.
  void Compute() {
    const std::size_t n_labels = label_cutoff_.size();
    const std::size_t n_events = events_.ts.size();
    results_.assign(c_.features.size(), Column(n_labels));
    // Labels by (entity, cutoff, row).
    Slides slides{.labels = LargeVector<std::uint32_t>(n_labels),
                  .enter = LargeVector<std::int64_t>(n_events),
                  .entering = LargeVector<std::uint32_t>(n_events)};
    std::iota(slides.labels.begin(), slides.labels.end(), 0);
    std::sort(slides.labels.begin(), slides.labels.end(), [&](std::uint32_t a, std::uint32_t b) {
      return std::tie(label_entity_[a], label_cutoff_[a], a) <
             std::tie(label_entity_[b], label_cutoff_[b], b);
    });
    // Event e enters every window at enter[e], once it happened and is available; entering
    // order is by entity, then enter time (leaving order is rank order: by time).
    for (std::size_t e = 0; e < n_events; ++e) {
      slides.enter[e] = std::max(events_.ts[e] + (c_.inclusive ? 0 : 1), events_.available[e]);
    }
    std::iota(slides.entering.begin(), slides.entering.end(), 0);
    if (!c_.events.available_at.empty()) {
      ParallelRanges(events_.begin.size() - 1, [&](std::size_t first, std::size_t end) {
        for (std::size_t k = first; k < end; ++k) {
          std::stable_sort(
              slides.entering.begin() + static_cast<std::ptrdiff_t>(events_.begin[k]),
              slides.entering.begin() + static_cast<std::ptrdiff_t>(events_.begin[k + 1]),
              [&](std::uint32_t a, std::uint32_t b) { return slides.enter[a] < slides.enter[b]; });
        }
      });
    }
    std::map<std::int64_t, std::vector<std::size_t>> by_window;
    for (std::size_t f = 0; f < c_.features.size(); ++f) {
      by_window[c_.features[f].window_ms].push_back(f);
    }
    std::vector<Window> windows;
    for (auto& [length, features] : by_window) {
      windows.push_back({.length = length, .features = std::move(features)});
    }
    ParallelFor(windows.size(), [&](std::size_t w) {
      constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
      Window& window = windows[w];
      window.live.assign(n_events, 0);
      window.leave.resize(n_events);
      for (std::size_t e = 0; e < n_events; ++e) {
        window.leave[e] = window.length == 0 ? kNever : events_.ts[e] + window.length;
      }
    });
    // The labels cut into ranges of whole entities, which slide independently: every window
    // length over every range, side by side.
    constexpr std::size_t kRanges = 8;
    std::vector<std::size_t> cuts = {0};
    for (std::size_t r = 1; r < kRanges; ++r) {
      std::size_t i = std::max(cuts.back(), n_labels * r / kRanges);
      while (i > 0 && i < n_labels &&
             label_entity_[slides.labels[i]] == label_entity_[slides.labels[i - 1]]) {
        ++i;
      }
      cuts.push_back(i);
    }
    cuts.push_back(n_labels);
    ParallelFor(windows.size() * kRanges, [&](std::size_t item) {
      const std::size_t r = item % kRanges;
      Slide(slides, windows[item / kRanges], cuts[r], cuts[r + 1]);
    });
  }

  // One window length and the features that use it. live[e]: event e is in the window now (of
  // the label being computed for its entity); leave[e]: the last cutoff whose window holds e.
  struct Window {
    std::int64_t length = 0;
    std::vector<std::size_t> features;
    LargeVector<char> live;
    LargeVector<std::int64_t> leave;
  };

  // What every window length shares.
  struct Slides {
    LargeVector<std::uint32_t> labels;    // by (entity, cutoff, row)
    LargeVector<std::int64_t> enter;      // per event
    LargeVector<std::uint32_t> entering;  // events, by (entity, enter)
  };

  // The window's features for the labels [first, end) of slides.labels, which hold whole
  // entities: only those entities' events and results are touched, so ranges can slide side by
  // side. Writes only the window's columns of results_.
  void Slide(const Slides& slides, Window& window, std::size_t first, std::size_t end) {
    const LargeVector<std::uint32_t>& labels = slides.labels;
    const LargeVector<std::int64_t>& enter = slides.enter;
    const LargeVector<std::uint32_t>& entering = slides.entering;
    const std::vector<std::size_t>& features = window.features;
    const LargeVector<std::int64_t>& leave = window.leave;
    LargeVector<char>& live = window.live;  // written only at this range's entities' events
    std::vector<std::unique_ptr<Aggregate>> aggs;
    for (std::size_t f : features) aggs.push_back(Make(c_.features[f], live));
    std::vector<Cell> empty;
    for (auto& agg : aggs) empty.push_back(agg->Value());

    // Event e is in the window of cutoff c when enter[e] <= c <= leave[e].
    std::size_t i = first;
    while (i < end) {
      const std::int32_t entity = label_entity_[labels[i]];
      if (entity < 0) {  // an entity without events
        for (std::size_t a = 0; a < aggs.size(); ++a) results_[features[a]][labels[i]] = empty[a];
        ++i;
        continue;
      }
      const std::size_t last = events_.begin[entity + 1];
      std::size_t in = events_.begin[entity], out = in;
      for (; i < end && label_entity_[labels[i]] == entity; ++i) {
        const std::int64_t cutoff = label_cutoff_[labels[i]];
        for (; in < last && enter[entering[in]] <= cutoff; ++in) {
          const std::uint32_t e = entering[in];
          if (enter[e] > leave[e]) continue;  // available only after it left every window
          live[e] = 1;
          for (auto& agg : aggs) agg->Add(e);
        }
        for (; out < last && leave[out] < cutoff; ++out) {
          if (!live[out]) continue;
          live[out] = 0;
          for (auto& agg : aggs) agg->Remove(out);
        }
        for (std::size_t a = 0; a < aggs.size(); ++a) {
          results_[features[a]][labels[i]] = aggs[a]->Value();
        }
      }
      for (std::size_t e = events_.begin[entity]; e < last; ++e) live[e] = 0;
      for (auto& agg : aggs) agg->Clear();
    }
  }

  Result<void> Write(Writer* writer) {
    std::vector<std::string> names = label_columns_.names, definition;
    for (std::size_t i = 0; i < names.size(); ++i) {
      definition.push_back(QuoteIdentifier(names[i]) +
                           (label_columns_.types[i].empty() ? "" : " " + label_columns_.types[i]));
    }
    for (const FeatureSpec& f : c_.features) {
      names.push_back(f.name);
      const std::string type = FeatureType(f, events_columns_);
      definition.push_back(QuoteIdentifier(f.name) + (type.empty() ? "" : " " + type));
    }
    if (auto ok = writer->Prepare(fmt::format("({})", fmt::join(definition, ", "))); !ok) {
      return Fail(ok.error().code, where() + ok.error().message);
    }
    std::vector<std::string> slots;
    for (std::size_t i = 1; i <= names.size(); ++i) slots.push_back(fmt::format("?{}", i));
    auto insert = writer->connection().Prepare(
        writer->InsertSql(names, fmt::format("VALUES ({})", fmt::join(slots, ", "))));
    if (!insert) return Fail(insert.error().code, where() + insert.error().message);
    sqlite3_stmt* stmt = insert->get();
    const std::size_t width = label_columns_.names.size();
    for (std::size_t l = 0; l < label_cutoff_.size(); ++l) {
      int slot = 1;
      for (std::size_t i = 0; i < width; ++i)
        values_.Bind(stmt, slot++, label_cells_[l * width + i]);
      for (const Column& feature : results_) values_.Bind(stmt, slot++, feature[l]);
      if (sqlite3_step(stmt) != SQLITE_DONE) {
        return std::unexpected(writer->connection().LastError(
            fmt::format("{}writing the row of label {}", where(), l + 1)));
      }
      sqlite3_reset(stmt);
    }
    return {};
  }

  const FeatureConfig& c_;
  Values values_;  // the bytes of the events' and labels' texts and blobs
  EntityIds ids_;
  Events events_;
  std::map<std::string, std::size_t> column_index_;
  std::vector<std::size_t> distinct_values_;
  TableColumns label_columns_, events_columns_;
  Column label_cells_;  // row-major
  LargeVector<std::int32_t> label_entity_;
  LargeVector<std::int64_t> label_cutoff_;
  std::vector<Column> results_;  // [feature][label]
};

}  // namespace

Result<FeaturePlan> PlanFeatures(const FeatureConfig& c) {
  auto connection = Connection::Open(c.warehouse, /*read_only=*/true);
  if (!connection) {
    return Fail(connection.error().code,
                fmt::format("feature {}: {}", c.task, connection.error().message));
  }
  auto inspection = Inspect(*connection, c);
  if (!inspection) return std::unexpected(inspection.error());
  return std::move(inspection->plan);
}

Result<FeatureReport> RunFeatures(const FeatureConfig& c) {
  // Checked read-only first, so that a config error creates nothing, not even the file.
  if (auto plan = PlanFeatures(c); !plan) return std::unexpected(plan.error());
  return FeatureRun(c).Run();
}

std::string FeatureConfigToJson(const FeatureConfig& c) {
  auto side = [](const FeatureConfig::Side& s) {
    return json{{"table", s.table},
                {"entity", s.entity},
                {"timestamp", s.timestamp},
                {"available_at", s.available_at}};
  };
  json features = json::array();
  for (const FeatureSpec& f : c.features) {
    features.push_back(
        {{"name", f.name}, {"agg", f.agg}, {"column", f.column}, {"window_ms", f.window_ms}});
  }
  return json{{"task", c.task},
              {"labels", side(c.labels)},
              {"events", side(c.events)},
              {"inclusive", c.inclusive},
              {"delay_ms", c.delay_ms},
              {"features", features},
              {"into", c.target.into},
              {"mode", c.target.mode},
              {"key", c.target.key},
              {"partition_column", c.target.partition_column},
              {"interval_start", c.target.interval_start},
              {"interval_end", c.target.interval_end},
              {"warehouse", c.warehouse.string()},
              {"table_uri_prefix", c.table_uri_prefix}}
      .dump();
}

Result<FeatureConfig> FeatureConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    FeatureConfig c;
    auto side = [](const json& s, FeatureConfig::Side* out) {
      out->table = s.at("table").get<std::string>();
      out->entity = s.at("entity").get<std::vector<std::string>>();
      out->timestamp = s.at("timestamp").get<std::string>();
      out->available_at = s.at("available_at").get<std::string>();
    };
    c.task = j.at("task").get<std::string>();
    side(j.at("labels"), &c.labels);
    side(j.at("events"), &c.events);
    c.inclusive = j.at("inclusive").get<bool>();
    c.delay_ms = j.at("delay_ms").get<std::int64_t>();
    for (const json& f : j.at("features")) {
      c.features.push_back({f.at("name").get<std::string>(), f.at("agg").get<std::string>(),
                            f.at("column").get<std::string>(),
                            f.at("window_ms").get<std::int64_t>()});
    }
    c.target.into = j.at("into").get<std::string>();
    c.target.mode = j.at("mode").get<std::string>();
    c.target.key = j.at("key").get<std::vector<std::string>>();
    c.target.partition_column = j.at("partition_column").get<std::string>();
    c.target.interval_start = j.at("interval_start").get<std::string>();
    c.target.interval_end = j.at("interval_end").get<std::string>();
    c.warehouse = j.at("warehouse").get<std::string>();
    c.table_uri_prefix = j.at("table_uri_prefix").get<std::string>();
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad feature config: {}", e.what()));
  }
}

}  // namespace weir::tasks

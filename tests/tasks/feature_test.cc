// The feature kind against real SQLite files: every aggregate against a pandas reference (Debian's
// /usr/bin/python3) on random data with two-column entity keys, timestamp ties, late arrivals and
// NULLs; leakage (nothing at or after the cutoff, nothing available after it, ever shows);
// hand-checked boundaries and tie-breaks; bad input that leaves the warehouse as it was; and the
// shape of the output table.
#include "tasks/feature.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::DumpEveryTable;
using testing::ExecSql;
using testing::TempDir;

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kJan1 = 1767225600 * kSecond;  // 2026-01-01 00:00:00 UTC

// ---------------------------------------------------------------------------------------------
// Reading tables back with their storage classes.

// One stored value: its storage class (SQLITE_NULL, SQLITE_INTEGER, ...) and the value.
struct Cell {
  int type = SQLITE_NULL;
  std::int64_t integer = 0;
  double real = 0;
  std::string bytes;  // TEXT and BLOB
};

// A real with a '.' or an exponent, so that it never reads as an integer.
std::string ShowReal(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", value);
  std::string out = text;
  if (out.find_first_of(".eni") == std::string::npos) out += ".0";
  return out;
}

// A value so that its type shows: NULL, 5, 5.0, 'text', X'00ff'.
std::string Show(const Cell& cell) {
  switch (cell.type) {
    case SQLITE_INTEGER:
      return std::to_string(cell.integer);
    case SQLITE_FLOAT:
      return ShowReal(cell.real);
    case SQLITE_TEXT:
      return "'" + cell.bytes + "'";
    case SQLITE_BLOB: {
      std::string hex = "X'";
      for (unsigned char b : cell.bytes) {
        hex += "0123456789abcdef"[b >> 4];
        hex += "0123456789abcdef"[b & 15];
      }
      return hex + "'";
    }
    default:
      return "NULL";
  }
}

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

// Every row of `table` in `db`, in rowid order.
Table ReadTable(const std::filesystem::path& db, const std::string& table) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> handle(raw, sqlite3_close);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT * FROM \"" + table + "\" ORDER BY rowid";
  if (sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    FAIL("reading " << table << ": " << sqlite3_errmsg(raw));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(stmt, sqlite3_finalize);
  Table out;
  const int n = sqlite3_column_count(stmt);
  for (int i = 0; i < n; ++i) out.columns.push_back(sqlite3_column_name(stmt, i));
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<Cell> row(n);
    for (int i = 0; i < n; ++i) {
      Cell& cell = row[i];
      cell.type = sqlite3_column_type(stmt, i);
      if (cell.type == SQLITE_INTEGER) cell.integer = sqlite3_column_int64(stmt, i);
      if (cell.type == SQLITE_FLOAT) cell.real = sqlite3_column_double(stmt, i);
      if (cell.type == SQLITE_TEXT || cell.type == SQLITE_BLOB) {
        const void* data = cell.type == SQLITE_TEXT
                               ? static_cast<const void*>(sqlite3_column_text(stmt, i))
                               : sqlite3_column_blob(stmt, i);
        cell.bytes.assign(static_cast<const char*>(data), sqlite3_column_bytes(stmt, i));
      }
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

// The values of one column, shown.
std::vector<std::string> Values(const Table& table, const std::string& column) {
  std::size_t index = 0;
  while (index < table.columns.size() && table.columns[index] != column) ++index;
  if (index == table.columns.size()) FAIL("no column " << column);
  std::vector<std::string> out;
  for (const auto& row : table.rows) out.push_back(Show(row[index]));
  return out;
}

// Same storage class; integers, text and blobs exactly, reals within `relative` (1e-12 absolute
// near 0).
bool Agrees(const Cell& ours, const Cell& expected, double relative) {
  if (ours.type != expected.type) return false;
  switch (expected.type) {
    case SQLITE_INTEGER:
      return ours.integer == expected.integer;
    case SQLITE_FLOAT:
      return std::abs(ours.real - expected.real) <= relative * std::abs(expected.real) + 1e-12;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return ours.bytes == expected.bytes;
    default:
      return true;
  }
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// What differs between two tables (column names, row count, the first 20 cells), or "".
std::string Differences(const Table& ours, const Table& expected, double relative) {
  std::ostringstream out;
  if (ours.columns != expected.columns) {
    out << "columns: ours (" << JoinNames(ours.columns) << "), expected ("
        << JoinNames(expected.columns) << ")\n";
  }
  if (ours.rows.size() != expected.rows.size()) {
    out << "rows: ours " << ours.rows.size() << ", expected " << expected.rows.size() << "\n";
    return out.str();
  }
  const std::size_t width = std::min(ours.columns.size(), expected.columns.size());
  int differing = 0;
  for (std::size_t r = 0; r < ours.rows.size(); ++r) {
    for (std::size_t c = 0; c < width; ++c) {
      if (Agrees(ours.rows[r][c], expected.rows[r][c], relative)) continue;
      if (++differing <= 20) {
        out << "row " << r + 1 << ", " << expected.columns[c] << ": ours " << Show(ours.rows[r][c])
            << ", expected " << Show(expected.rows[r][c]) << "\n";
      }
    }
  }
  if (differing > 0) out << differing << " cells differ\n";
  return out.str();
}

// Runs the task and returns what it wrote; a failure ends the test with its message.
Table RunAndRead(const FeatureConfig& config) {
  const auto report = RunFeatures(config);
  if (!report) FAIL("RunFeatures: " << report.error().message);
  return ReadTable(config.warehouse, config.target.into);
}

// ---------------------------------------------------------------------------------------------
// Random data: 20 entities of two columns (an INTEGER and a TEXT), events on a two-hour grid (so
// many share a time), a few a millisecond or half a second off it, timestamps in every accepted
// format, available_at often later than the event (by hours, or by days: past every window).

enum class TimeFormat { kSpace, kIsoZ, kMillis, kDate, kIntegerSeconds, kRealSeconds };
constexpr int kTimeFormats = 6;

// "2026-01-10 07:30:00" for an instant in ms since the epoch (the milliseconds dropped).
std::string Civil(std::int64_t ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day date(day);
  const std::int64_t seconds =
      (ms - duration_cast<milliseconds>(day.time_since_epoch()).count()) / kSecond;
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d", int(date.year()),
                unsigned(date.month()), unsigned(date.day()), int(seconds / 3600),
                int(seconds / 60 % 60), int(seconds % 60));
  return text;
}

// `ms` as an SQL literal in `format`, or in the next format that holds it exactly.
std::string TimeLiteral(std::int64_t ms, TimeFormat format) {
  const std::int64_t fraction = ms % kSecond;
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d", int(fraction));
  switch (format) {
    case TimeFormat::kDate:
      if (ms % kDay == 0) return "'" + Civil(ms).substr(0, 10) + "'";
      [[fallthrough]];
    case TimeFormat::kSpace:
      if (fraction == 0) return "'" + Civil(ms) + "'";
      return "'" + Civil(ms) + millis + "'";
    case TimeFormat::kIsoZ: {
      if (fraction != 0) return "'" + Civil(ms) + millis + "'";
      std::string text = Civil(ms);
      text[10] = 'T';
      return "'" + text + "Z'";
    }
    case TimeFormat::kMillis:
      return "'" + Civil(ms) + millis + "'";
    case TimeFormat::kIntegerSeconds:
      if (fraction == 0) return std::to_string(ms / kSecond);
      [[fallthrough]];
    case TimeFormat::kRealSeconds:
      // Quarters of a second are exact in binary; anything else is written as text.
      if (fraction % 250 != 0) return "'" + Civil(ms) + millis + "'";
      return std::to_string(ms / kSecond) + millis;
  }
  return "NULL";
}

std::string RealLiteral(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

struct Event {
  std::int64_t uid = 0;
  std::string region;
  std::int64_t ts = 0, available_at = 0;
  TimeFormat ts_format = TimeFormat::kSpace, available_format = TimeFormat::kSpace;
  std::string amount, qty, tag;  // SQL literals
};

struct Label {
  std::int64_t id = 0, uid = 0;
  std::string region;
  std::int64_t ts = 0;
  TimeFormat format = TimeFormat::kSpace;
  std::string y;  // SQL literal
};

struct Data {
  std::vector<Event> events;
  std::vector<Label> labels;
};

const std::array<const char*, 4> kRegions = {"north", "south", "east", "west"};
const std::array<const char*, 7> kTags = {"a", "b", "B", "apple", "", "zeta", "\u00e9t\u00e9"};

class Random {
 public:
  explicit Random(unsigned seed) : rng_(seed) {}
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  double Uniform(double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(rng_);
  }
  TimeFormat Format() { return TimeFormat(Pick(kTimeFormats)); }

  // Values for an event's amount (REAL), qty (INTEGER) and tag (TEXT), with NULLs and repeats.
  void Values(Event& e) {
    const double amount = Uniform(0.5, 100);
    e.amount = Chance(0.1)   ? "NULL"
               : Chance(0.1) ? std::array{"1.5", "2.25", "7.0"}[Pick(3)]
                             : RealLiteral(amount);
    const int qty = Pick(551) - 50;
    e.qty = Chance(0.15) ? "NULL" : std::to_string(qty);
    const int tag = Pick(kTags.size());
    e.tag = Chance(0.2) ? "NULL" : std::string("'") + kTags[tag] + "'";
  }

  // Values no real event has, so that a leak shows.
  void LeakValues(Event& e) {
    e.amount = Chance(0.2) ? "NULL" : RealLiteral(1e6 + Uniform(0, 1e6));
    e.qty = Chance(0.2) ? "NULL" : std::to_string(100000 + Pick(100000));
    e.tag = Chance(0.2) ? "NULL" : std::array{"''", "'!'", "'zzzz'", "'AAAA'"}[Pick(4)];
  }

 private:
  std::mt19937 rng_;
};

Data Generate(unsigned seed, int events, int labels) {
  Random random(seed);
  Data data;
  for (int i = 0; i < events; ++i) {
    Event e;
    e.uid = 1 + random.Pick(5);
    e.region = kRegions[random.Pick(4)];
    e.ts = kJan1 + 2 * kHour * random.Pick(60);
    if (random.Chance(0.25)) e.ts += std::array{-1, 1, 250, 500, 500, -500}[random.Pick(6)];
    const int late = random.Pick(100);
    if (late < 50) {
      e.available_at = e.ts;
    } else if (late < 70) {
      e.available_at = e.ts + kHour * (1 + random.Pick(8));
    } else if (late < 80) {
      e.available_at = e.ts + std::array{1, 500}[random.Pick(2)];
    } else if (late < 86) {
      e.available_at = e.ts + 2 * kDay;
    } else if (late < 92) {
      e.available_at = e.ts + 7 * kDay;
    } else {
      e.available_at = e.ts - kHour;
    }
    e.ts_format = random.Format();
    e.available_format = random.Format();
    random.Values(e);
    data.events.push_back(std::move(e));
  }
  for (int i = 0; i < labels; ++i) {
    Label l;
    if (i > 0 && random.Chance(0.05)) {
      l = data.labels[random.Pick(i)];  // a duplicate label
    } else {
      l.uid = random.Chance(0.05) ? 6 : 1 + random.Pick(5);  // uid 6 has no events
      l.region = kRegions[random.Pick(4)];
      // From 6 hours before the first event (nothing to see) to 10 hours after the last.
      l.ts = kJan1 + kHour * (random.Pick(137) - 6);
      if (random.Chance(0.2)) l.ts += std::array{-1, 1, 500, -500}[random.Pick(4)];
      l.format = random.Format();
      const double y = random.Uniform(0, 1);
      l.y = random.Chance(0.1) ? "NULL" : RealLiteral(y);
    }
    l.id = 1000 + i;
    data.labels.push_back(std::move(l));
  }
  return data;
}

std::string WarehouseSql(const std::vector<Event>& events, const std::vector<Label>& labels) {
  std::string sql =
      "BEGIN;"
      "CREATE TABLE events (uid INTEGER, region TEXT, event_ts, available_at, amount REAL,"
      " qty INTEGER, tag TEXT);"
      "CREATE TABLE labels (id INTEGER, user_id INTEGER, area TEXT, label_ts, y REAL);";
  for (const Event& e : events) {
    sql += "INSERT INTO events VALUES (" + std::to_string(e.uid) + ", '" + e.region + "', " +
           TimeLiteral(e.ts, e.ts_format) + ", " + TimeLiteral(e.available_at, e.available_format) +
           ", " + e.amount + ", " + e.qty + ", " + e.tag + ");";
  }
  for (const Label& l : labels) {
    sql += "INSERT INTO labels VALUES (" + std::to_string(l.id) + ", " + std::to_string(l.uid) +
           ", '" + l.region + "', " + TimeLiteral(l.ts, l.format) + ", " + l.y + ");";
  }
  return sql + "COMMIT;";
}

const std::vector<std::pair<std::string, std::int64_t>> kWindows = {
    {"all", 0}, {"1h", kHour}, {"90m", 90 * kMinute}, {"4h", 4 * kHour}, {"1d", kDay}};

// Every aggregate of every column over every window.
std::vector<FeatureSpec> EveryAggregate() {
  const std::vector<std::string> numeric = {
      "count", "sum", "avg", "min", "max", "first", "last", "count_distinct", "stddev"};
  const std::vector<std::string> text = {"count", "min", "max", "first", "last", "count_distinct"};
  std::vector<FeatureSpec> out;
  for (const auto& [suffix, window] : kWindows) {
    out.push_back({"events_" + suffix, "count", "", window});
    for (const std::string column : {"amount", "qty"}) {
      for (const auto& agg : numeric)
        out.push_back({agg + "_" + column + "_" + suffix, agg, column, window});
    }
    for (const auto& agg : text) out.push_back({agg + "_tag_" + suffix, agg, "tag", window});
  }
  return out;
}

FeatureConfig RandomDataConfig(const std::filesystem::path& warehouse, bool inclusive,
                               std::int64_t delay, bool available_at) {
  FeatureConfig config;
  config.task = "user_features";
  config.labels = {.table = "labels", .entity = {"user_id", "area"}, .timestamp = "label_ts"};
  config.events = {.table = "events",
                   .entity = {"uid", "region"},
                   .timestamp = "event_ts",
                   .available_at = available_at ? "available_at" : ""};
  config.inclusive = inclusive;
  config.delay_ms = delay;
  config.features = EveryAggregate();
  config.target.into = "features";
  config.warehouse = warehouse;
  return config;
}

// ---------------------------------------------------------------------------------------------
// The pandas reference, written from the spec: merge labels with events on the entity, keep the
// pairs that pass the time conditions, group by label row and aggregate.

constexpr const char* kPandasScript = R"py(
import json
import math
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

warehouse, config_path, expected_path = sys.argv[1:4]
config = json.load(open(config_path))
source = sqlite3.connect(warehouse)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def millis(value):
    if isinstance(value, (int, float)):
        return round(value * 1000)
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (t - EPOCH) // timedelta(milliseconds=1)

def read(table):
    cursor = source.execute(f'SELECT rowid AS _rowid, * FROM "{table}" ORDER BY rowid')
    names = [d[0] for d in cursor.description]
    return pd.DataFrame(cursor.fetchall(), columns=names, dtype=object)

def plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

L, E = config['labels'], config['events']
labels, events = read(L['table']), read(E['table'])
label_columns = [c for c in labels.columns if c != '_rowid']
labels['_label'] = range(len(labels))
labels['_cutoff'] = labels[L['timestamp']].map(millis).astype('int64') - config['delay_ms']
events = events.rename(columns=lambda c: 'e.' + c)
events['_row'] = events['e._rowid'].astype('int64')
events['_t'] = events['e.' + E['timestamp']].map(millis).astype('int64')
if E['available_at']:
    events['_a'] = events['e.' + E['available_at']].map(millis).astype('int64')
else:
    events['_a'] = 0
pairs = labels[['_label', '_cutoff'] + L['entity']].merge(
    events, left_on=L['entity'], right_on=['e.' + c for c in E['entity']])

def dtype(column):
    values = [v for v in events['e.' + column] if v is not None]
    if all(isinstance(v, int) for v in values):
        return 'int64'
    if all(isinstance(v, (int, float)) for v in values):
        return 'float64'
    return object

out = {c: list(labels[c]) for c in label_columns}
for name, agg, column, window in config['features']:
    cutoff, t = pairs['_cutoff'], pairs['_t']
    seen = (t <= cutoff) if config['inclusive'] else (t < cutoff)
    if window:
        seen &= t >= cutoff - window
    if E['available_at']:
        seen &= pairs['_a'] <= cutoff
    rows = pairs[seen]
    if not column:
        result = rows.groupby('_label').size()
    else:
        rows = rows[rows['e.' + column].notna()]
        values = rows['e.' + column].astype(dtype(column))
        if agg in ('avg', 'stddev'):
            values = values.astype('float64')
        rows = rows.assign(_value=values).sort_values(['_t', '_a', '_row'], kind='stable')
        group = rows.groupby('_label')['_value']
        result = {
            'count': group.count, 'sum': group.sum, 'avg': group.mean, 'min': group.min,
            'max': group.max, 'first': group.first, 'last': group.last,
            'count_distinct': group.nunique, 'stddev': lambda: group.std(ddof=1),
        }[agg]()
    empty = 0 if agg in ('count', 'count_distinct') else None
    found = {label: plain(value) for label, value in result.items()}
    out[name] = [found.get(i, empty) for i in range(len(labels))]

expected = sqlite3.connect(expected_path)
names = list(out)
expected.execute('CREATE TABLE expected (%s)' % ', '.join('"%s"' % n for n in names))
expected.executemany('INSERT INTO expected VALUES (%s)' % ', '.join('?' * len(names)),
                     zip(*[out[n] for n in names]))
expected.commit()
)py";

// Whether /usr/bin/python3 has pandas; the cross-check skips itself when it has not.
bool HavePandas() {
  static const bool have =
      std::system("/usr/bin/python3 -c 'import pandas, numpy' 2>/dev/null") == 0;
  return have;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }  // plain names only

std::string ReferenceConfig(const FeatureConfig& config) {
  const auto side = [](const FeatureConfig::Side& s) {
    std::string entity;
    for (const auto& e : s.entity) entity += (entity.empty() ? "" : ", ") + Quoted(e);
    return "{\"table\": " + Quoted(s.table) + ", \"entity\": [" + entity +
           "], \"timestamp\": " + Quoted(s.timestamp) +
           ", \"available_at\": " + Quoted(s.available_at) + "}";
  };
  std::string features;
  for (const FeatureSpec& f : config.features) {
    features += std::string(features.empty() ? "" : ", ") + "[" + Quoted(f.name) + ", " +
                Quoted(f.agg) + ", " + Quoted(f.column) + ", " + std::to_string(f.window_ms) + "]";
  }
  return "{\"labels\": " + side(config.labels) + ", \"events\": " + side(config.events) +
         ", \"inclusive\": " + (config.inclusive ? "true" : "false") +
         ", \"delay_ms\": " + std::to_string(config.delay_ms) + ", \"features\": [" + features +
         "]}";
}

// The table pandas computes for `config`.
Table PandasReference(const FeatureConfig& config, const TempDir& dir) {
  const auto script = dir.Write("reference.py", kPandasScript);
  const auto json = dir.Write("reference.json", ReferenceConfig(config));
  const auto expected = dir / "expected.db";
  std::filesystem::remove(expected);
  const std::string command = "/usr/bin/python3 " + script.string() + " " +
                              config.warehouse.string() + " " + json.string() + " " +
                              expected.string() + " 2> " + (dir / "stderr.txt").string();
  const int status = std::system(command.c_str());
  INFO(testing::ReadFile(dir / "stderr.txt"));
  REQUIRE(status == 0);
  return ReadTable(expected, "expected");
}

TEST_CASE("every aggregate agrees with pandas on random data with ties, late events and NULLs",
          "[feature]") {
  if (!HavePandas()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import pandas");
    return;
  }
  struct Case {
    unsigned seed;
    int events, labels;
    bool inclusive;
    std::int64_t delay;
    bool available_at;
  };
  // The half-second delay puts cutoffs on the events that sit half a second off the grid.
  const Case cases[] = {
      {1, 2000, 300, false, 2 * kHour, true},
      {2, 2000, 300, true, 2 * kHour - 500, true},
      {3, 1500, 200, true, kHour, false},
      {4, 500, 100, false, 0, true},
  };
  for (const Case& c : cases) {
    INFO("seed " << c.seed << ", " << (c.inclusive ? "inclusive" : "exclusive") << ", delay "
                 << c.delay << " ms" << (c.available_at ? ", available_at" : ""));
    const Data data = Generate(c.seed, c.events, c.labels);
    // The data reaches the cases that matter: pairs exactly at a cutoff, pairs before it that
    // arrive after it, labels that see nothing.
    int at_cutoff = 0, arrive_late = 0;
    for (const Label& l : data.labels) {
      for (const Event& e : data.events) {
        if (e.uid != l.uid || e.region != l.region) continue;
        at_cutoff += e.ts == l.ts - c.delay;
        arrive_late += e.ts < l.ts - c.delay && e.available_at > l.ts - c.delay;
      }
    }
    CHECK(at_cutoff >= c.labels / 20);
    CHECK(arrive_late >= c.labels);

    TempDir dir;
    const auto warehouse = dir / "warehouse.db";
    ExecSql(warehouse, WarehouseSql(data.events, data.labels));
    FeatureConfig config = RandomDataConfig(warehouse, c.inclusive, c.delay, c.available_at);
    if (c.seed % 2 == 0) config.split_read_from = 1;  // the events read on two threads
    const auto report = RunFeatures(config);
    if (!report) FAIL("RunFeatures: " << report.error().message);
    CHECK(report->labels == c.labels);
    CHECK(report->events == c.events);
    const Table ours = ReadTable(warehouse, "features");
    const Table expected = PandasReference(config, dir);
    REQUIRE(expected.rows.size() == std::size_t(c.labels));
    int empty = 0;
    for (const std::string& n : Values(expected, "events_all")) empty += n == "0";
    CHECK(empty > 0);
    CHECK(empty < c.labels / 2);
    CHECK(Differences(ours, expected, 1e-9) == "");
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the events on two threads (a table of 100,000 rows or more; forced here).

TEST_CASE("events read on two threads give the table one thread gives, gaps in the rowids too",
          "[feature]") {
  const Data data = Generate(21, 3000, 400);
  TempDir dir;
  const auto warehouse = dir / "warehouse.db";
  ExecSql(warehouse, WarehouseSql(data.events, data.labels));
  // Gaps, and a last stretch of rowids of entities and tags seen only there.
  ExecSql(warehouse,
          "DELETE FROM events WHERE rowid % 7 = 0 OR rowid BETWEEN 1200 AND 1300;"
          "INSERT INTO events (rowid, uid, region, event_ts, available_at, amount, qty, tag)"
          " SELECT rowid + 100000, uid + 10, region, event_ts, available_at, amount, qty,"
          " tag || '+' FROM events WHERE rowid < 500;"
          "INSERT INTO labels (id, user_id, area, label_ts, y) SELECT id + 1000, user_id + 10,"
          " area, label_ts, y FROM labels WHERE id % 3 = 0;");
  for (bool one_column_key : {false, true}) {
    INFO((one_column_key ? "an entity key of one integer" : "an entity key of two columns"));
    FeatureConfig config = RandomDataConfig(warehouse, false, kHour, true);
    if (one_column_key) {
      config.labels.entity = {"user_id"};
      config.events.entity = {"uid"};
    }
    config.split_read_from = std::numeric_limits<std::int64_t>::max();
    config.target.into = "one_thread";
    const Table one = RunAndRead(config);
    config.split_read_from = 1;
    config.target.into = "two_threads";
    const Table two = RunAndRead(config);
    REQUIRE(one.rows.size() == data.labels.size() + data.labels.size() / 3);
    CHECK(Differences(two, one, 0) == "");
    // The entities of the last stretch are there, with their own tags.
    const std::vector<std::string> last = Values(two, "last_tag_all");
    CHECK(std::count_if(last.begin(), last.end(),
                        [](const std::string& tag) { return tag.ends_with("+'"); }) > 50);
  }
}

TEST_CASE("events read on two threads name the first bad row in rowid order", "[feature]") {
  const Data data = Generate(22, 2000, 100);
  TempDir dir;
  const auto warehouse = dir / "warehouse.db";
  ExecSql(warehouse, WarehouseSql(data.events, data.labels));
  FeatureConfig config = RandomDataConfig(warehouse, false, kHour, true);
  config.split_read_from = 1;
  auto expect_refused = [&](const std::string& row) {
    const std::string before = DumpEveryTable(warehouse);
    const auto result = RunFeatures(config);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message, Catch::Contains("user_features") &&
                                           Catch::Contains("events table events " + row) &&
                                           Catch::Contains("is not a time"));
    CHECK(DumpEveryTable(warehouse) == before);
  };
  ExecSql(warehouse, "UPDATE events SET event_ts = 'soon' WHERE rowid = 1990");
  expect_refused("row 1990");
  ExecSql(warehouse, "UPDATE events SET available_at = 'later' WHERE rowid = 7");
  expect_refused("row 7");
}

// `features` of events(user_id, event_ts) for labels(user_id, label_ts), into `out`.
FeatureConfig UserConfig(const std::filesystem::path& warehouse,
                         std::vector<FeatureSpec> features) {
  FeatureConfig config;
  config.task = "t";
  config.labels = {.table = "labels", .entity = {"user_id"}, .timestamp = "label_ts"};
  config.events = {.table = "events", .entity = {"user_id"}, .timestamp = "event_ts"};
  config.features = std::move(features);
  config.target.into = "out";
  config.warehouse = warehouse;
  return config;
}

TEST_CASE("a column named rowid in the events is read in one scan, every row counted",
          "[feature]") {
  // The column hides the real rowid and holds NULL and numbers (and text): splitting on it would
  // lose the NULL's row, and a text max() is no bound.
  TempDir dir;
  const auto warehouse = dir / "warehouse.db";
  ExecSql(warehouse,
          "CREATE TABLE labels (user_id INTEGER, label_ts TEXT);"
          "INSERT INTO labels VALUES (1, '2026-01-02 00:00:00'), (2, '2026-01-02 00:00:00');"
          "CREATE TABLE events (rowid, user_id INTEGER, event_ts TEXT, amount REAL);"
          "INSERT INTO events VALUES (NULL, 1, '2026-01-01 01:00:00', 1),"
          " (7, 1, '2026-01-01 02:00:00', 2), (5, 2, '2026-01-01 03:00:00', 4),"
          " (-9, 2, '2026-01-01 04:00:00', 8), (3, 1, '2026-01-01 05:00:00', 16);"
          "CREATE TABLE mixed AS SELECT * FROM events;"
          "UPDATE mixed SET rowid = 'x' WHERE rowid = 7;");
  FeatureConfig config =
      UserConfig(warehouse, {{"n", "count", "", 0}, {"total", "sum", "amount", 0}});
  config.split_read_from = 1;
  for (const std::string table : {"events", "mixed"}) {
    INFO("events table " << table << (table == "mixed" ? " (text among the numbers)" : ""));
    config.events.table = table;
    const Table out = RunAndRead(config);
    CHECK(Values(out, "n") == std::vector<std::string>{"3", "2"});
    CHECK(Values(out, "total") == std::vector<std::string>{"19.0", "12.0"});
  }
}

TEST_CASE("an empty text stays empty text when no other text was read", "[feature]") {
  // Every value read is a number but one label column's '': it must not come out NULL.
  TempDir dir;
  const auto warehouse = dir / "warehouse.db";
  ExecSql(warehouse,
          "CREATE TABLE labels (user_id INTEGER, label_ts INTEGER, note TEXT, raw BLOB);"
          "INSERT INTO labels VALUES (1, 1767312000, '', x'');"
          "CREATE TABLE events (user_id INTEGER, event_ts INTEGER, amount REAL);"
          "INSERT INTO events VALUES (1, 1767225600, 2.5);");
  const FeatureConfig config = UserConfig(warehouse, {{"total", "sum", "amount", 0}});
  const Table out = RunAndRead(config);
  CHECK(Values(out, "note") == std::vector<std::string>{"''"});
  CHECK(Values(out, "raw") == std::vector<std::string>{"X''"});
  CHECK(Values(out, "total") == std::vector<std::string>{"2.5"});
}

// ---------------------------------------------------------------------------------------------
// Leakage.

TEST_CASE("events at or after every cutoff, or available after it, change no feature",
          "[feature]") {
  const Data data = Generate(11, 800, 120);
  const std::int64_t delay = kHour;
  for (bool inclusive : {false, true}) {
    INFO((inclusive ? "inclusive" : "exclusive"));
    // An event is seen by no label of its entity once it is past the entity's last cutoff (or
    // at it, with an exclusive boundary), or available after it.
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> last_cutoff;
    for (const Label& l : data.labels) {
      auto [it, added] = last_cutoff.try_emplace({l.uid, l.region}, l.ts - delay);
      if (!added) it->second = std::max(it->second, l.ts - delay);
    }
    const auto unseen = [&](const Event& e) {
      const auto it = last_cutoff.find({e.uid, e.region});
      if (it == last_cutoff.end()) return true;
      const std::int64_t cutoff = it->second;
      return (inclusive ? e.ts > cutoff : e.ts >= cutoff) || e.available_at > cutoff;
    };

    std::vector<std::vector<Event>> variants = {data.events};
    for (unsigned variant : {1u, 2u}) {
      Random random(100 + variant);
      std::vector<Event> leaks;
      const auto leak = [&](std::int64_t uid, const std::string& region, std::int64_t ts,
                            std::int64_t available_at) {
        Event e;
        e.uid = uid;
        e.region = region;
        e.ts = ts;
        e.available_at = available_at;
        e.ts_format = random.Format();
        e.available_format = random.Format();
        random.LeakValues(e);
        leaks.push_back(std::move(e));
      };
      for (const auto& [entity, cutoff] : last_cutoff) {
        const auto& [uid, region] = entity;
        const std::int64_t first_unseen = inclusive ? cutoff + 1 : cutoff;
        leak(uid, region, first_unseen, first_unseen);
        leak(uid, region, first_unseen, cutoff - kHour);
        leak(uid, region, cutoff + 2 * kHour, cutoff + 2 * kHour);
        leak(uid, region, cutoff - 30 * kMinute, cutoff + 1);  // inside every window
        leak(uid, region, cutoff - 1, cutoff + 1);
        leak(uid, region, cutoff - kDay, cutoff + 7 * kDay);
      }
      leak(9, "north", kJan1 + kDay, kJan1 + kDay);  // an entity no label has

      std::vector<Event> events = data.events;
      if (variant == 2) {
        int changed = 0;
        for (Event& e : events) {
          if (!unseen(e)) continue;
          random.LeakValues(e);
          ++changed;
        }
        CHECK(changed > 20);
      }
      // The leaks go anywhere in the table; the events keep their order among themselves.
      std::vector<Event> merged;
      std::size_t i = 0, j = 0;
      while (i < events.size() || j < leaks.size()) {
        const bool take_event =
            j == leaks.size() || (i < events.size() && random.Pick(events.size() + leaks.size()) >=
                                                           static_cast<int>(leaks.size()));
        merged.push_back(take_event ? events[i++] : leaks[j++]);
      }
      variants.push_back(std::move(merged));
    }

    std::vector<Table> outputs;
    for (const auto& events : variants) {
      TempDir dir;
      const auto warehouse = dir / "warehouse.db";
      ExecSql(warehouse, WarehouseSql(events, data.labels));
      outputs.push_back(RunAndRead(RandomDataConfig(warehouse, inclusive, delay, true)));
    }
    REQUIRE(outputs[0].rows.size() == data.labels.size());
    CHECK(Differences(outputs[1], outputs[0], 1e-12) == "");
    CHECK(Differences(outputs[2], outputs[0], 1e-12) == "");
  }
}

TEST_CASE(
    "an event at a label's cutoff, or available a millisecond after it, leaves that label's "
    "features as they were",
    "[feature]") {
  const Data data = Generate(12, 600, 80);
  const std::int64_t delay = 3 * kHour;
  Table base;
  {
    TempDir dir;
    ExecSql(dir / "warehouse.db", WarehouseSql(data.events, data.labels));
    base = RunAndRead(RandomDataConfig(dir / "warehouse.db", false, delay, true));
  }
  REQUIRE(base.rows.size() == data.labels.size());
  Random random(13);
  for (std::size_t index = 0; index < data.labels.size(); index += 10) {
    const Label& label = data.labels[index];
    const std::int64_t cutoff = label.ts - delay;
    INFO("label row " << index + 1);
    std::vector<Event> events = data.events;
    for (const auto& [ts, available_at] :
         std::vector<std::pair<std::int64_t, std::int64_t>>{{cutoff, cutoff},
                                                            {cutoff, cutoff - kHour},
                                                            {cutoff + 1, cutoff + 1},
                                                            {cutoff - 1, cutoff + 1},
                                                            {cutoff - kHour, cutoff + 1},
                                                            {cutoff - 10 * kDay, cutoff + kDay}}) {
      Event e;
      e.uid = label.uid;
      e.region = label.region;
      e.ts = ts;
      e.available_at = available_at;
      e.ts_format = random.Format();
      e.available_format = random.Format();
      random.LeakValues(e);
      events.insert(events.begin() + random.Pick(events.size() + 1), e);
    }
    TempDir dir;
    ExecSql(dir / "warehouse.db", WarehouseSql(events, data.labels));
    const Table changed = RunAndRead(RandomDataConfig(dir / "warehouse.db", false, delay, true));
    REQUIRE(changed.rows.size() == base.rows.size());
    Table ours{changed.columns, {changed.rows[index]}};
    Table before{base.columns, {base.rows[index]}};
    CHECK(Differences(ours, before, 1e-12) == "");
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-checked cases.

struct Small {
  TempDir dir;
  std::filesystem::path warehouse = dir / "warehouse.db";

  explicit Small(const std::string& sql) { ExecSql(warehouse, sql); }

  FeatureConfig Config(std::vector<FeatureSpec> features, std::string available_at = "avail") {
    FeatureConfig config;
    config.task = "hand_features";
    config.labels = {.table = "lab", .entity = {"user"}, .timestamp = "ts"};
    config.events = {
        .table = "ev", .entity = {"user"}, .timestamp = "ts", .available_at = available_at};
    config.features = std::move(features);
    config.target.into = "out";
    config.warehouse = warehouse;
    return config;
  }
};

using Strings = std::vector<std::string>;

TEST_CASE(
    "an event at the cutoff counts only with an inclusive boundary, an event at the window's "
    "lower edge always counts, and the delay moves the cutoff back",
    "[feature]") {
  // Bits name the events, so a sum says which ones counted.
  Small w(
      "CREATE TABLE lab (user TEXT, ts);"
      "INSERT INTO lab VALUES ('u', '2026-01-10 12:00:00'), ('u', 1768046400),"
      " ('u', '2026-01-10 12:00:00.001'), ('v', '2026-01-10T12:00:00Z');"
      "CREATE TABLE ev (user TEXT, ts, bit INTEGER);"
      "INSERT INTO ev VALUES"
      " ('u', '2026-01-10 11:00:00', 1),"       // at the cutoff (delay 1h)
      " ('u', '2026-01-10 10:59:59.999', 2),"   // a millisecond before it
      " ('u', '2026-01-10T09:00:00Z', 4),"      // at the cutoff - 2h
      " ('u', '2026-01-10 08:59:59.999', 8),"   // a millisecond before that
      " ('u', 1768039800, 16),"                 // 10:10:00 in seconds since the epoch
      " ('u', '2026-01-10', 32),"               // midnight
      " ('u', '2026-01-10 11:00:00.001', 64),"  // a millisecond after the cutoff
      " ('v', '2026-01-10 10:00:00', 128),"     // another user
      " ('u', 1768041000.5, 256);");            // 10:30:00.500
  FeatureConfig config = w.Config({{"sum_all", "sum", "bit", 0},
                                   {"sum_2h", "sum", "bit", 2 * kHour},
                                   {"n_2h", "count", "", 2 * kHour}},
                                  "");
  config.delay_ms = kHour;
  SECTION("exclusive") {
    const Table out = RunAndRead(config);
    // Labels 1 and 2 are the same instant; label 3 is a millisecond later.
    CHECK(Values(out, "sum_all") == Strings{"318", "318", "319", "128"});
    CHECK(Values(out, "sum_2h") == Strings{"278", "278", "275", "128"});
    CHECK(Values(out, "n_2h") == Strings{"4", "4", "4", "1"});
  }
  SECTION("inclusive") {
    config.inclusive = true;
    const Table out = RunAndRead(config);
    CHECK(Values(out, "sum_all") == Strings{"319", "319", "383", "128"});
    CHECK(Values(out, "sum_2h") == Strings{"279", "279", "339", "128"});
    CHECK(Values(out, "n_2h") == Strings{"5", "5", "5", "1"});
  }
  SECTION("no delay") {
    config.delay_ms = 0;
    const Table out = RunAndRead(config);
    CHECK(Values(out, "sum_all") == Strings{"383", "383", "383", "128"});
    CHECK(Values(out, "sum_2h") == Strings{"339", "339", "339", "128"});
    CHECK(Values(out, "n_2h") == Strings{"5", "5", "5", "1"});
  }
}

TEST_CASE("an event counts once it is available: at the cutoff, not a millisecond after",
          "[feature]") {
  Small w(
      "CREATE TABLE lab (user TEXT, ts);"
      "INSERT INTO lab VALUES ('w', '2026-01-10 12:00:00');"
      "CREATE TABLE ev (user TEXT, ts, avail, bit INTEGER);"
      "INSERT INTO ev VALUES"
      " ('w', '2026-01-10 10:00:00', '2026-01-10 12:00:00', 1),"
      " ('w', '2026-01-10 10:00:00', '2026-01-10 12:00:00.001', 2),"
      " ('w', '2026-01-10 11:00:00', '2026-01-10 11:00:00', 4),"
      " ('w', '2026-01-10 11:30:00', '2026-01-11', 8),"
      " ('w', '2026-01-10 11:59:59.999', 1768046400, 16),"
      " ('w', '2026-01-10 12:00:00', '2026-01-10 12:00:00', 32);");
  FeatureConfig config = w.Config({{"bits", "sum", "bit", 0}, {"n", "count", "", 0}});
  SECTION("exclusive") {
    const Table out = RunAndRead(config);
    CHECK(Values(out, "bits") == Strings{"21"});
    CHECK(Values(out, "n") == Strings{"3"});
  }
  SECTION("inclusive") {
    config.inclusive = true;
    CHECK(Values(RunAndRead(config), "bits") == Strings{"53"});
  }
  SECTION("without available_at") {
    config.events.available_at = "";
    CHECK(Values(RunAndRead(config), "bits") == Strings{"31"});
  }
}

TEST_CASE("first and last order events by time, then available_at, then row, and skip NULLs",
          "[feature]") {
  Small w(
      "CREATE TABLE lab (user TEXT, ts);"
      "INSERT INTO lab VALUES ('t', '2026-01-10 12:00:00');"
      "CREATE TABLE ev (user TEXT, ts, avail, n INTEGER, s TEXT);"
      "INSERT INTO ev VALUES"
      " ('t', '2026-01-10 10:00:00', '2026-01-10 10:30:00', 10, 'r1'),"
      " ('t', '2026-01-10 10:00:00', '2026-01-10 10:10:00', 20, 'r2'),"
      " ('t', '2026-01-10 10:00:00', '2026-01-10 10:10:00', 3, 'r3'),"
      " ('t', '2026-01-10 11:00:00', '2026-01-10 11:00:00', 40, 'r4'),"
      " ('t', '2026-01-10 11:00:00', '2026-01-10 11:00:00', NULL, NULL),"
      " ('t', '2026-01-10 11:00:00', '2026-01-10 10:59:00', 6, 'r6'),"
      " ('t', '2026-01-10 11:00:00', '2026-01-10 11:00:00', 7, 'r7'),"
      " ('t', '2026-01-10 11:30:00', '2026-01-10 11:30:00', NULL, NULL),"
      " ('t', '2026-01-10 12:30:00', '2026-01-10 12:30:00', 99, 'r9'),"
      " ('t', '2026-01-10 10:30:00', '2026-01-10 10:30:00', 5, 'r10');");
  FeatureConfig config = w.Config({{"first_n", "first", "n", 0},
                                   {"last_n", "last", "n", 0},
                                   {"first_s", "first", "s", 0},
                                   {"last_s", "last", "s", 0},
                                   {"first_n_1h", "first", "n", kHour},
                                   {"last_n_1h", "last", "n", kHour},
                                   {"count_n", "count", "n", 0},
                                   {"events", "count", "", 0},
                                   {"sum_n", "sum", "n", 0},
                                   {"min_s", "min", "s", 0},
                                   {"max_s", "max", "s", 0}});
  SECTION("with available_at") {
    const Table out = RunAndRead(config);
    // r2 and r3 tie on time and availability: r2 comes first in the table. r4 and r7 tie
    // likewise and r7 comes last; r6 is earlier than both by availability.
    CHECK(Values(out, "first_n") == Strings{"20"});
    CHECK(Values(out, "last_n") == Strings{"7"});
    CHECK(Values(out, "first_s") == Strings{"'r2'"});
    CHECK(Values(out, "last_s") == Strings{"'r7'"});
    CHECK(Values(out, "first_n_1h") == Strings{"6"});
    CHECK(Values(out, "last_n_1h") == Strings{"7"});
    CHECK(Values(out, "count_n") == Strings{"7"});
    CHECK(Values(out, "events") == Strings{"9"});
    CHECK(Values(out, "sum_n") == Strings{"91"});
    CHECK(Values(out, "min_s") == Strings{"'r1'"});
    CHECK(Values(out, "max_s") == Strings{"'r7'"});
  }
  SECTION("without available_at, ties go by row") {
    config.events.available_at = "";
    const Table out = RunAndRead(config);
    CHECK(Values(out, "first_n") == Strings{"10"});
    CHECK(Values(out, "last_n") == Strings{"7"});
    CHECK(Values(out, "first_s") == Strings{"'r1'"});
    CHECK(Values(out, "first_n_1h") == Strings{"40"});
    CHECK(Values(out, "last_n_1h") == Strings{"7"});
  }
}

TEST_CASE(
    "with no values count is 0 and every other aggregate NULL, and stddev of one value is NULL",
    "[feature]") {
  Small w(
      "CREATE TABLE lab (user TEXT, ts);"
      "INSERT INTO lab VALUES ('nobody', '2026-01-10 12:00:00'), ('late', '2026-01-10 12:00:00'),"
      " ('one', '2026-01-10 12:00:00'), ('two', '2026-01-10 12:00:00'),"
      " ('nulls', '2026-01-10 12:00:00');"
      "CREATE TABLE ev (user TEXT, ts, x REAL, n INTEGER, s TEXT);"
      "INSERT INTO ev VALUES"
      " ('late', '2026-01-10 12:00:00', 1.0, 1, 'a'),"
      " ('one', '2026-01-10 11:00:00', 2.5, 4, 'b'),"
      " ('two', '2026-01-10 09:00:00', 2.0, 3, 'b'),"
      " ('two', '2026-01-10 10:00:00', 4.0, 3, 'a'),"
      " ('two', '2026-01-10 10:30:00', NULL, NULL, NULL),"
      " ('nulls', '2026-01-10 10:00:00', NULL, NULL, NULL);");
  const Table out = RunAndRead(w.Config({{"events", "count", "", 0},
                                         {"count_x", "count", "x", 0},
                                         {"sum_x", "sum", "x", 0},
                                         {"sum_n", "sum", "n", 0},
                                         {"avg_x", "avg", "x", 0},
                                         {"avg_n", "avg", "n", 0},
                                         {"min_x", "min", "x", 0},
                                         {"max_x", "max", "x", 0},
                                         {"min_s", "min", "s", 0},
                                         {"max_s", "max", "s", 0},
                                         {"first_x", "first", "x", 0},
                                         {"last_s", "last", "s", 0},
                                         {"distinct_n", "count_distinct", "n", 0},
                                         {"distinct_s", "count_distinct", "s", 0},
                                         {"stddev_x", "stddev", "x", 0},
                                         {"stddev_n", "stddev", "n", 0}},
                                        ""));
  // Labels: nobody, late (its one event is at the cutoff), one, two, nulls.
  CHECK(Values(out, "events") == Strings{"0", "0", "1", "3", "1"});
  CHECK(Values(out, "count_x") == Strings{"0", "0", "1", "2", "0"});
  CHECK(Values(out, "sum_x") == Strings{"NULL", "NULL", "2.5", "6.0", "NULL"});
  CHECK(Values(out, "sum_n") == Strings{"NULL", "NULL", "4", "6", "NULL"});
  CHECK(Values(out, "avg_x") == Strings{"NULL", "NULL", "2.5", "3.0", "NULL"});
  CHECK(Values(out, "avg_n") == Strings{"NULL", "NULL", "4.0", "3.0", "NULL"});
  CHECK(Values(out, "min_x") == Strings{"NULL", "NULL", "2.5", "2.0", "NULL"});
  CHECK(Values(out, "max_x") == Strings{"NULL", "NULL", "2.5", "4.0", "NULL"});
  CHECK(Values(out, "min_s") == Strings{"NULL", "NULL", "'b'", "'a'", "NULL"});
  CHECK(Values(out, "max_s") == Strings{"NULL", "NULL", "'b'", "'b'", "NULL"});
  CHECK(Values(out, "first_x") == Strings{"NULL", "NULL", "2.5", "2.0", "NULL"});
  CHECK(Values(out, "last_s") == Strings{"NULL", "NULL", "'b'", "'a'", "NULL"});
  CHECK(Values(out, "distinct_n") == Strings{"0", "0", "1", "1", "0"});
  CHECK(Values(out, "distinct_s") == Strings{"0", "0", "1", "2", "0"});
  CHECK(Values(out, "stddev_x") == Strings{"NULL", "NULL", "NULL", "1.4142135623730951", "NULL"});
  CHECK(Values(out, "stddev_n") == Strings{"NULL", "NULL", "NULL", "0.0", "NULL"});
}

// ---------------------------------------------------------------------------------------------
// Bad input.

struct BadInput {
  TempDir dir;
  std::filesystem::path warehouse = dir / "warehouse.db";

  BadInput() {
    ExecSql(warehouse,
            "CREATE TABLE training_labels (customer TEXT, label_time TEXT, y INTEGER);"
            "INSERT INTO training_labels VALUES ('c1', '2026-01-10 12:00:00', 1),"
            " ('c2', '2026-01-11 12:00:00', 0), ('c1', '2026-01-12 12:00:00', 1);"
            "CREATE TABLE clicks (customer TEXT, clicked_at TEXT, seen_at TEXT, price REAL);"
            "INSERT INTO clicks VALUES ('c1', '2026-01-10 08:00:00', '2026-01-10 08:00:00', 1.5),"
            " ('c2', '2026-01-10 09:00:00', '2026-01-10 09:00:00', 2.5),"
            " ('c1', '2026-01-11 09:00:00', '2026-01-11 09:00:00', 3.0),"
            " ('c2', '2026-01-11 10:00:00', '2026-01-11 10:00:00', 4.0);");
  }

  FeatureConfig Config() const {
    FeatureConfig config;
    config.task = "churn_features";
    config.labels = {.table = "training_labels", .entity = {"customer"}, .timestamp = "label_time"};
    config.events = {.table = "clicks",
                     .entity = {"customer"},
                     .timestamp = "clicked_at",
                     .available_at = "seen_at"};
    config.features = {{"clicks_1d", "count", "", kDay}, {"spend", "sum", "price", 0}};
    config.target.into = "churn";
    config.warehouse = warehouse;
    return config;
  }

  // RunFeatures fails with a message holding every hint and leaves the warehouse as it was:
  // first with no output table, then with one holding a row.
  void ExpectRefused(const FeatureConfig& config, const Strings& hints) const {
    for (bool existing : {false, true}) {
      INFO((existing ? "with an existing output table" : "without an output table"));
      if (existing)
        ExecSql(warehouse, "CREATE TABLE churn (a, b); INSERT INTO churn VALUES (1, 'kept');");
      const std::string before = DumpEveryTable(warehouse);
      const auto result = RunFeatures(config);
      REQUIRE_FALSE(result);
      for (const auto& hint : hints) CHECK_THAT(result.error().message, Catch::Contains(hint));
      CHECK(DumpEveryTable(warehouse) == before);
    }
  }

  // PlanFeatures fails too, with the same hints.
  void ExpectPlanRefused(const FeatureConfig& config, const Strings& hints) const {
    const auto plan = PlanFeatures(config);
    REQUIRE_FALSE(plan);
    for (const auto& hint : hints) CHECK_THAT(plan.error().message, Catch::Contains(hint));
  }
};

TEST_CASE("bad input is an error naming the task and where, and the warehouse stays as it was",
          "[feature]") {
  BadInput w;
  FeatureConfig config = w.Config();
  SECTION("the good config runs") {
    REQUIRE(PlanFeatures(config));
    const Table out = RunAndRead(config);
    CHECK(Values(out, "spend") == Strings{"1.5", "6.5", "4.5"});
    CHECK(Values(out, "clicks_1d") == Strings{"1", "1", "0"});
  }
  SECTION("an unknown labels table") {
    config.labels.table = "no_such_labels";
    w.ExpectPlanRefused(config, {"churn_features", "no_such_labels"});
    w.ExpectRefused(config, {"churn_features", "no_such_labels"});
  }
  SECTION("an unknown events table") {
    config.events.table = "no_such_events";
    w.ExpectPlanRefused(config, {"churn_features", "no_such_events"});
    w.ExpectRefused(config, {"churn_features", "no_such_events"});
  }
  SECTION("an unknown events column") {
    config.features.push_back({"bad", "max", "no_such_column", 0});
    w.ExpectPlanRefused(config, {"churn_features", "no_such_column"});
    w.ExpectRefused(config, {"churn_features", "no_such_column"});
  }
  SECTION("an unknown entity column") {
    config.labels.entity = {"client"};
    w.ExpectPlanRefused(config, {"churn_features", "client"});
    w.ExpectRefused(config, {"churn_features", "client"});
  }
  SECTION("an unknown available_at column") {
    config.events.available_at = "arrived_at";
    w.ExpectPlanRefused(config, {"churn_features", "arrived_at"});
    w.ExpectRefused(config, {"churn_features", "arrived_at"});
  }
  SECTION("a feature named like a label column") {
    config.features.push_back({"label_time", "max", "price", 0});
    w.ExpectPlanRefused(config, {"churn_features", "label_time"});
    w.ExpectRefused(config, {"churn_features", "label_time"});
  }
  SECTION("a label timestamp that does not parse") {
    ExecSql(w.warehouse, "UPDATE training_labels SET label_time = 'not a time' WHERE rowid = 2");
    REQUIRE(PlanFeatures(config));
    w.ExpectRefused(config, {"churn_features", "training_labels", "row 2"});
  }
  SECTION("a NULL entity key in the labels") {
    ExecSql(w.warehouse, "UPDATE training_labels SET customer = NULL WHERE rowid = 3");
    w.ExpectRefused(config, {"churn_features", "training_labels", "row 3"});
  }
  SECTION("a NULL entity key in the events") {
    ExecSql(w.warehouse, "UPDATE clicks SET customer = NULL WHERE rowid = 4");
    w.ExpectRefused(config, {"churn_features", "clicks", "row 4"});
  }
  SECTION("a text value in a sum column") {
    // Row 2 is in the window of label 2, so it would count.
    ExecSql(w.warehouse, "UPDATE clicks SET price = 'abc' WHERE rowid = 2");
    w.ExpectRefused(config, {"churn_features", "clicks", "row 2"});
  }
}

// ---------------------------------------------------------------------------------------------
// The output table.

TEST_CASE("the output has one row per label row in label order, with every label column as it was",
          "[feature]") {
  TempDir dir;
  const auto warehouse = dir / "warehouse.db";
  ExecSql(warehouse,
          "CREATE TABLE labels (k INTEGER, payload BLOB, score REAL, ts TEXT, note);"
          "INSERT INTO labels VALUES (2, X'00FF10', 0.1, '2026-01-10 12:00:00', 'b'),"
          " (1, X'', -2.5, '2026-01-09 12:00:00', NULL),"
          " (2, X'00FF10', 0.1, '2026-01-10 12:00:00', 'b'),"  // a duplicate
          " (3, NULL, NULL, '2026-01-10', 'none'),"
          " (1, X'7F', 1e300, '2026-01-11 00:00:00', 42);"
          "CREATE TABLE events (k INTEGER, ts TEXT, amount REAL);"
          "INSERT INTO events VALUES (1, '2026-01-08 00:00:00', 1), (2, '2026-01-09 00:00:00', 2),"
          " (2, '2026-01-10 11:00:00', 4), (1, '2026-01-10 00:00:00', 8);"
          // What a previous run of another shape left: replaced.
          "CREATE TABLE feats (old_column TEXT); INSERT INTO feats VALUES ('old'), ('older');");
  FeatureConfig config;
  config.task = "shape";
  config.labels = {.table = "labels", .entity = {"k"}, .timestamp = "ts"};
  config.events = {.table = "events", .entity = {"k"}, .timestamp = "ts"};
  config.features = {{"n", "count", "", 0}, {"total", "sum", "amount", 0}};
  config.target.into = "feats";
  config.warehouse = warehouse;

  const auto plan = PlanFeatures(config);
  if (!plan) FAIL(plan.error().message);
  CHECK(plan->tables == Strings{"events", "labels"});
  REQUIRE(plan->columns.size() == 7);
  for (int i = 0; i < 5; ++i) {
    CHECK(plan->columns[i].output == plan->columns[i].column);
    CHECK(plan->columns[i].table == "labels");
  }
  CHECK(plan->columns[0].output == "k");
  CHECK(plan->columns[4].output == "note");
  CHECK(plan->columns[5].output == "n");
  CHECK(plan->columns[5].table == "events");
  CHECK(plan->columns[5].column == "ts");
  CHECK_THAT(plan->columns[5].transformation, Catch::Contains("count"));
  CHECK(plan->columns[6].output == "total");
  CHECK(plan->columns[6].column == "amount");
  CHECK_THAT(plan->columns[6].transformation, Catch::Contains("sum"));

  for (int run = 1; run <= 2; ++run) {  // a second run replaces the first
    INFO("run " << run);
    const auto report = RunFeatures(config);
    if (!report) FAIL(report.error().message);
    CHECK(report->labels == 5);
    CHECK(report->events == 4);
    const Table out = ReadTable(warehouse, "feats");
    CHECK(out.columns == Strings{"k", "payload", "score", "ts", "note", "n", "total"});
    REQUIRE(out.rows.size() == 5);
    CHECK(Values(out, "k") == Strings{"2", "1", "2", "3", "1"});
    CHECK(Values(out, "payload") == Strings{"X'00ff10'", "X''", "X'00ff10'", "NULL", "X'7f'"});
    CHECK(Values(out, "score") ==
          Strings{ShowReal(0.1), "-2.5", ShowReal(0.1), "NULL", ShowReal(1e300)});
    CHECK(Values(out, "ts") == Strings{"'2026-01-10 12:00:00'", "'2026-01-09 12:00:00'",
                                       "'2026-01-10 12:00:00'", "'2026-01-10'",
                                       "'2026-01-11 00:00:00'"});
    CHECK(Values(out, "note") == Strings{"'b'", "NULL", "'b'", "'none'", "42"});
    CHECK(Values(out, "n") == Strings{"2", "1", "2", "0", "2"});
    CHECK(Values(out, "total") == Strings{"6.0", "1.0", "6.0", "NULL", "9.0"});
  }
}

}  // namespace
}  // namespace weir::tasks

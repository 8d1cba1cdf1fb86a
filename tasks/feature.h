// The `feature` kind: point-in-time aggregates of an events table, one row per label row
// (docs/tasks.md#feature). For each label the cutoff is `label_ts - delay`; an event counts for a
// feature when
//
//   event_ts <  cutoff            (<= with boundary: inclusive)
//   event_ts >= cutoff - window   (no lower bound when the feature has no window)
//   available_at <= cutoff        (when the events have an `available_at` column)
//
// so that no feature ever sees an event the model could not have seen at the label's time.
// Events and labels are sorted once by entity and time and each window slides over them: an
// event enters a window once and leaves it once, whatever the number of labels.
//
// Timestamps are ISO 8601 text (as ingest stores TIMESTAMP columns) or numbers of seconds since
// the Unix epoch, compared to the millisecond. Runs inside `weir task run`.
#ifndef WEIR_TASKS_FEATURE_H_
#define WEIR_TASKS_FEATURE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "tasks/warehouse.h"

namespace weir::tasks {

struct FeatureSpec {
  std::string name;            // the output column
  std::string agg;             // count sum avg min max first last count_distinct stddev
  std::string column;          // the events column; empty for count (count the events)
  std::int64_t window_ms = 0;  // 0: every event before the cutoff
};

struct FeatureConfig {
  std::string task;  // for messages
  struct Side {
    std::string table;
    std::vector<std::string> entity;  // labels and events name the same number of columns
    std::string timestamp;
    std::string available_at;  // events only; empty when absent
  };
  Side labels, events;
  bool inclusive = false;     // as_of.boundary: inclusive lets an event at the cutoff count
  std::int64_t delay_ms = 0;  // as_of.delay
  std::vector<FeatureSpec> features;
  WriteTarget target;  // partition: only the labels whose partition_column is in the interval
  std::filesystem::path warehouse;
  std::string table_uri_prefix = "warehouse://";
  // An events table whose rowids span at least this many is read on two threads (when the
  // machine has two cores), each half of it through a connection of its own. Tests lower it.
  std::int64_t split_read_from = 100'000;
};

// What the task reads, checked before it runs: both tables and every named column exist, no
// feature is named like a label column.
struct FeaturePlan {
  std::vector<std::string> tables;  // the labels and events tables (sorted, unique)
  // One entry per output column: a label column from the labels table, a feature from the events
  // column it aggregates (the events' timestamp for count), with the aggregate as transformation.
  struct Column {
    std::string output, table, column, transformation;
  };
  std::vector<Column> columns;
};
[[nodiscard]] Result<FeaturePlan> PlanFeatures(const FeatureConfig& config);

struct FeatureReport {
  std::int64_t labels = 0;  // rows written: one per label row
  std::int64_t events = 0;  // event rows read
  std::int64_t entities = 0;
};
// Computes every feature and writes `into`, in one transaction. A label timestamp that does not
// parse, a NULL entity key or a non-number in a numeric aggregate is an error naming the task,
// the table and the row; the warehouse is then as it was.
[[nodiscard]] Result<FeatureReport> RunFeatures(const FeatureConfig& config);

std::string FeatureConfigToJson(const FeatureConfig& config);
[[nodiscard]] Result<FeatureConfig> FeatureConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_FEATURE_H_

// OpenLineage (https://openlineage.io, spec 2-0-2): the RunEvents that describe weir's attempts,
// built from what the store recorded, for Marquez and other lineage servers.
//
// Each attempt is one OpenLineage run of the job DAG.TASK: a START event when it started, then a
// COMPLETE (success or skipped), FAIL or ABORT (cancelled or orphaned) event when it ended. The
// DAG run is the parent run. run ids are UUIDs derived from weir's ids, so exporting twice gives
// the same events. Datasets are named by their weir URI in the configured namespace.
#ifndef WEIR_STATE_OPENLINEAGE_H_
#define WEIR_STATE_OPENLINEAGE_H_

#include <string>
#include <string_view>
#include <vector>

#include "state/records.h"

namespace weir::state {

struct OpenLineageOptions {
  std::string job_namespace = "weir";                                  // jobs and datasets
  std::string producer = "https://github.com/weir-orchestrator/weir";  // the "producer" URI
};

// An attempt with what it read and wrote, as the export needs it.
struct AttemptExport {
  LineageAttempt attempt;
  std::vector<DatasetVersionRecord> reads;
  std::vector<DatasetVersionRecord> writes;
  std::vector<ColumnLineageRecord> columns;  // of the versions written
  std::vector<CheckResultRecord> checks;     // a validate attempt's results on what it read
};

// The events of one attempt, each one line of JSON: START, and the end event if it ended.
std::vector<std::string> OpenLineageEvents(const AttemptExport& attempt,
                                           const OpenLineageOptions& options);

// A UUID (version 5 layout, from SHA-256) that always stands for `name`.
std::string NameUuid(std::string_view name);

}  // namespace weir::state

#endif  // WEIR_STATE_OPENLINEAGE_H_

// The state schema, versioned with PRAGMA user_version and migrated forward by code.
// docs/state.md documents every table and column; change both together.
#ifndef WEIR_STATE_SCHEMA_H_
#define WEIR_STATE_SCHEMA_H_

#include "common/error.h"

namespace weir::state {

class Database;

// The schema version this build writes.
int CurrentSchemaVersion();

// Brings `db` from its user_version up to `target` (default: current), one migration per
// transaction. Refuses a database newer than this build knows.
[[nodiscard]] Result<void> Migrate(Database& db, int target = -1);

}  // namespace weir::state

#endif  // WEIR_STATE_SCHEMA_H_

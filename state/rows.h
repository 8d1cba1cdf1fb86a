// Internal to state/: reading and writing rows, shared by the store's source files.
#ifndef WEIR_STATE_ROWS_H_
#define WEIR_STATE_ROWS_H_

#include <optional>
#include <vector>

#include "state/records.h"
#include "state/sqlite.h"

namespace weir::state {

inline std::optional<Timestamp> OptionalTime(const Statement& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return FromMillis(s.Int(col));
}

inline std::optional<std::int64_t> OptionalMillis(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return ToMillis(*t);
}

// Runs `body` inside one write transaction.
template <typename F>
Result<void> InTransaction(Database& db, F&& body) {
  auto txn = WriteTransaction::Begin(db);
  if (!txn) return std::unexpected(txn.error());
  Result<void> done = body();
  if (!done) return done;
  return txn->Commit();
}

template <typename T, typename Reader>
Result<std::vector<T>> CollectRows(Statement& stmt, Reader read) {
  std::vector<T> out;
  while (true) {
    auto row = stmt.Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    out.push_back(read(stmt));
  }
}

inline constexpr const char* kAttemptColumns =
    "id, run_id, task_id, try_number, state, pid, process_start_ticks, exit_code, signal, "
    "reason, log_path, started_at_ms, ended_at_ms";

inline AttemptRecord ReadAttempt(const Statement& s) {
  AttemptRecord a;
  a.id = s.Int(0);
  a.run_id = s.Text(1);
  a.task_id = s.Text(2);
  a.try_number = static_cast<int>(s.Int(3));
  a.state = ParseAttemptState(s.Text(4)).value_or(AttemptState::kFailed);
  a.pid = s.OptionalInt(5);
  a.process_start_ticks = s.OptionalInt(6);
  if (auto code = s.OptionalInt(7)) a.exit_code = static_cast<int>(*code);
  if (auto sig = s.OptionalInt(8)) a.signal = static_cast<int>(*sig);
  a.reason = s.Text(9);
  a.log_path = s.Text(10);
  a.started_at = FromMillis(s.Int(11));
  a.ended_at = OptionalTime(s, 12);
  return a;
}

}  // namespace weir::state

#endif  // WEIR_STATE_ROWS_H_

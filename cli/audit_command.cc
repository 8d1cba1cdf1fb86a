// `weir audit`: the audit log, newest first, filtered by time, actor and DAG.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/strings.h"
#include "dags/value.h"

namespace weir::cli {
namespace {

std::string Json(const std::string& text) { return dags::Value::String(text).ToJson(); }

}  // namespace

int RunAudit(const Context& context, const AuditOptions& options) {
  state::AuditQuery query;
  query.actor = options.actor;
  query.dag = options.dag;
  query.limit = options.limit;
  if (options.limit <= 0) {
    return Report(Error{ErrorCode::kInvalidArgument, "--limit must be positive"});
  }
  if (options.format != "text" && options.format != "json") {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("--format '{}': use text or json", Printable(options.format))});
  }
  if (options.since) {
    auto since = ParseSince(*options.since, SystemClock::Instance().Now());
    if (!since) return Report(since.error());
    query.since = *since;
  }
  auto store = context.OpenStore(false);
  std::vector<state::AuditEvent> events;
  if (store) {
    auto found = (*store)->ListAudit(query);
    if (!found) return Report(found.error());
    events = std::move(*found);
  } else if (store.error().code != ErrorCode::kNotFound) {
    return Report(store.error());
  }
  if (options.format == "json") {
    for (const state::AuditEvent& e : events) {
      std::cout << fmt::format(
          R"({{"id":{},"at":"{}","actor":{},"source":{},"action":{},"target":{},"reason":{},)"
          R"("details":{}}})"
          "\n",
          e.id, FormatIso(e.at), Json(e.actor), Json(e.source), Json(e.action), Json(e.target),
          Json(e.reason), e.details_json.empty() ? "{}" : e.details_json);
    }
    return 0;
  }
  if (events.empty()) {
    std::cout << "no audit events\n";
    return 0;
  }
  Table table({"AT", "ACTOR", "SOURCE", "ACTION", "TARGET", "REASON", "DETAILS"});
  for (const state::AuditEvent& e : events) {
    table.Add({FormatIso(e.at), Printable(e.actor), e.source, e.action, Printable(e.target),
               Printable(e.reason), Printable(e.details_json)});
  }
  table.Print(std::cout);
  return 0;
}

}  // namespace weir::cli

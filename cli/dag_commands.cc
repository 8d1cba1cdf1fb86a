// Commands about DAGs and pools as a whole: dags list, dags next, dags pause|unpause, pools
// list|set. The writes (pause, pools) each go through one store call that also appends the
// audit event, and every argument is checked before the store is opened.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/strings.h"

namespace weir::cli {
namespace {

constexpr int kMaxNextCount = 10'000;
constexpr int kMaxPoolSlots = 100'000;
constexpr std::size_t kMaxPoolNameLength = 250;
// Ticks stop before the year 10000, the last that ISO-8601 timestamps (and --from) can name.
constexpr Timestamp kEndOfTime = std::chrono::sys_days(std::chrono::year(10000) / 1 / 1);
// The pool every fresh database has (state/schema.cc), shown before a database exists.
constexpr int kDefaultPoolSlots = 128;

struct Interval {
  Timestamp start;
  Timestamp end;
};

// Why a list of intervals stops short of the count asked for (empty: it did not).
struct NextIntervals {
  std::vector<Interval> intervals;
  std::string stopped_by;
};

// The data intervals [previous tick, tick) of `dag`'s cron schedule whose end is after `from`,
// at most `count`. The first interval starts at the first tick at or after start_date's local
// midnight; no interval starts after the end of end_date's local day (as the scheduler does).
Result<NextIntervals> CronIntervals(const dags::Dag& dag, Timestamp from, int count) {
  const dags::Schedule& schedule = dag.schedule;
  const std::string& zone = dag.timezone;
  NextIntervals out;
  Timestamp after = from;
  if (dag.start_date) {
    auto start = StartOfLocalDay(*dag.start_date, zone);
    if (!start) return std::unexpected(start.error());
    auto first_tick = schedule.NextTick(*start - Duration(1), zone);
    if (!first_tick) {
      out.stopped_by = fmt::format("its schedule has no tick after its start_date {}",
                                   FormatDate(*dag.start_date));
      return out;
    }
    after = std::max(after, *first_tick);
  }
  std::optional<Timestamp> last_tick;
  if (dag.end_date) {
    auto end = StartOfLocalDay(AddDays(*dag.end_date, 1), zone);
    if (!end) return std::unexpected(end.error());
    last_tick = *end;
  }
  std::optional<Timestamp> tick = schedule.NextTick(after, zone);
  while (static_cast<int>(out.intervals.size()) < count) {
    if (!tick) {
      out.stopped_by = "its schedule has no further tick within 50 years";
      break;
    }
    if (*tick >= kEndOfTime) {
      out.stopped_by = "its schedule has no further tick before the year 10000";
      break;
    }
    auto start = schedule.PreviousTick(*tick, zone);
    if (!start) {
      out.stopped_by = "its schedule has no tick before " + FormatIso(*tick);
      break;
    }
    if (last_tick && *start >= *last_tick) {
      out.stopped_by = fmt::format("its end_date is {}", FormatDate(*dag.end_date));
      break;
    }
    out.intervals.push_back(Interval{*start, *tick});
    tick = schedule.NextTick(*tick, zone);
  }
  return out;
}

Result<void> CheckPoolName(const std::string& name) {
  if (name.empty()) return Fail(ErrorCode::kInvalidArgument, "a pool name cannot be empty");
  if (name.size() > kMaxPoolNameLength) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("pool name '{}' is longer than {} characters", Printable(name),
                            kMaxPoolNameLength));
  }
  if (name == "." || name == "..") {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("a pool cannot be named '{}'", name));
  }
  auto bad = std::find_if_not(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (bad != name.end()) {
    return Fail(
        ErrorCode::kInvalidArgument,
        fmt::format("pool name '{}': use only letters, digits, '_', '.' and '-'", Printable(name)));
  }
  return {};
}

// SLOTS as written: a whole number from 0 to kMaxPoolSlots.
Result<int> ParseSlots(const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc() && ptr == end && value < 0) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("a pool cannot have negative slots ({})", text));
  }
  if (ec != std::errc() || ptr != end || value > kMaxPoolSlots) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("SLOTS must be a whole number from 0 to {}, not '{}'", kMaxPoolSlots,
                            Printable(text)));
  }
  return static_cast<int>(value);
}

}  // namespace

int RunDagsList(const Context& context) {
  dags::LoadResult loaded = context.LoadDags();
  std::set<std::string> paused;
  auto store = context.OpenStore(false);
  if (store) {
    auto ids = (*store)->PausedDags();
    if (!ids) return Report(ids.error());
    paused.insert(ids->begin(), ids->end());
  } else if (store.error().code != ErrorCode::kNotFound) {
    return Report(store.error());
  }
  Table table({"DAG", "SCHEDULE", "TIMEZONE", "TASKS", "PAUSED", "FILE"});
  for (const auto& dag : loaded.dags) {
    table.Add({dag->id, dag->schedule.text(), dag->timezone, std::to_string(dag->tasks.size()),
               paused.contains(dag->id) ? "yes" : "no", dag->file_display});
  }
  if (table.empty()) {
    std::cout << fmt::format("no DAGs in {}\n", context.dags_dir.string());
  } else {
    table.Print(std::cout);
  }
  if (!loaded.errors.empty()) {
    std::cerr << fmt::format("weir: {} error{} in DAG files; `weir validate` lists them\n",
                             loaded.errors.size(), loaded.errors.size() == 1 ? "" : "s");
  }
  return 0;
}

int RunDagsNext(const Context& context, const NextOptions& options) {
  if (options.count < 1 || options.count > kMaxNextCount) {
    return Report(Error{ErrorCode::kInvalidArgument,
                        fmt::format("--count must be from 1 to {}", kMaxNextCount)});
  }
  Timestamp from = SystemClock::Instance().Now();
  if (options.from) {
    auto parsed = ParseTimestamp(*options.from);
    if (!parsed) {
      return Report(Error{ErrorCode::kInvalidArgument, "--from: " + parsed.error().message});
    }
    from = *parsed;
  }
  dags::LoadResult loaded = context.LoadDags();
  auto found = context.FindDag(loaded, options.dag_id);
  if (!found) return Report(found.error());
  const dags::Dag& dag = **found;

  switch (dag.schedule.kind()) {
    case dags::Schedule::Kind::kNone:
      std::cerr << fmt::format("weir: DAG '{}' has no schedule (schedule: none)\n", dag.id);
      return 0;
    case dags::Schedule::Kind::kOnce: {
      // One run, for the empty interval at start_date, whatever --from says.
      if (!dag.start_date) {
        std::cerr << fmt::format("weir: DAG '{}' runs @once but has no start_date\n", dag.id);
        return 0;
      }
      auto start = StartOfLocalDay(*dag.start_date, dag.timezone);
      if (!start) return Report(start.error());
      std::cout << fmt::format("{} {}\n", FormatIso(*start), FormatIso(*start));
      return 0;
    }
    case dags::Schedule::Kind::kCron:
      break;
  }
  auto next = CronIntervals(dag, from, options.count);
  if (!next) return Report(next.error());
  std::string out;
  for (const Interval& i : next->intervals) {
    out += fmt::format("{} {}\n", FormatIso(i.start), FormatIso(i.end));
  }
  std::cout << out;
  if (!next->stopped_by.empty()) {
    Timestamp last = next->intervals.empty() ? from : next->intervals.back().end;
    std::cerr << fmt::format("weir: DAG '{}' has no intervals after {}: {}\n", dag.id,
                             FormatIso(last), next->stopped_by);
  }
  return 0;
}

int RunDagsPause(const Context& context, const std::string& dag_id, bool paused,
                 const std::string& reason) {
  dags::LoadResult loaded = context.LoadDags();
  auto found = context.FindDag(loaded, dag_id);
  if (!found) return Report(found.error());
  const std::string& id = (*found)->id;
  auto store = context.OpenStore(true);
  if (!store) return Report(store.error());
  auto before = (*store)->PausedDags();
  if (!before) return Report(before.error());
  bool was_paused = std::find(before->begin(), before->end(), id) != before->end();
  const char* action = paused ? "pause" : "unpause";
  auto done =
      (*store)->SetPaused(id, paused,
                          scheduler::Audit(Who(context, reason), SystemClock::Instance().Now(),
                                           action, "dag:" + id, "{}"));
  if (!done) return Report(done.error());
  std::string note;
  if (was_paused == paused) note = paused ? " (it already was)" : " (it was not paused)";
  std::cout << fmt::format("{} {}{}\n", paused ? "paused" : "unpaused", id, note);
  return 0;
}

int RunPoolsList(const Context& context) {
  Table table({"NAME", "SLOTS"});
  auto store = context.OpenStore(false);
  if (store) {
    auto pools = (*store)->Pools();
    if (!pools) return Report(pools.error());
    for (const auto& pool : *pools) table.Add({pool.name, std::to_string(pool.slots)});
  } else if (store.error().code == ErrorCode::kNotFound) {
    table.Add({"default", std::to_string(kDefaultPoolSlots)});
  } else {
    return Report(store.error());
  }
  if (table.empty()) {
    std::cout << "no pools\n";
  } else {
    table.Print(std::cout);
  }
  return 0;
}

int RunPoolsSet(const Context& context, const std::string& name, const std::string& slots_text,
                const std::string& reason) {
  if (auto ok = CheckPoolName(name); !ok) return Report(ok.error());
  auto slots = ParseSlots(slots_text);
  if (!slots) return Report(slots.error());
  auto store = context.OpenStore(true);
  if (!store) return Report(store.error());
  auto done = (*store)->SetPool(
      name, *slots,
      scheduler::Audit(Who(context, reason), SystemClock::Instance().Now(), "pool.set",
                       "pool:" + name, fmt::format("{{\"slots\":{}}}", *slots)));
  if (!done) return Report(done.error());
  std::cout << fmt::format("pool {}: {} slot{}\n", name, *slots, *slots == 1 ? "" : "s");
  return 0;
}

}  // namespace weir::cli

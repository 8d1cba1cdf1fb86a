// Tasks that misbehave, run by the real `weir run`: killed by SIGKILL, hanging, ignoring SIGTERM,
// flooding their output with 1 GiB, leaving a daemon behind. Each is contained, logged, and
// retried per its policy; the run goes on.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "tests/testing/process.h"
#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Contains;
using testing::Project;
using testing::ReadFile;

TEST_CASE(
    "a task killed by SIGKILL, one that hangs, one that ignores SIGTERM, one that floods 1 GiB "
    "and one that leaves a daemon are each contained, logged and retried per policy",
    "[e2e][faults]") {
  Project p;
  // Each misbehaves on its first try only (a file outside the DAGs folder remembers), so that
  // its retry succeeds.
  p.dir.Write("dags/faults.yaml", R"(dag: faults
schedule: none
defaults: { retries: 1, retry_delay: 0s }
tasks:
  killed:
    kind: shell
    script: |
      if [ ! -e ../killed.once ]; then touch ../killed.once; echo dying; kill -9 $$; fi
      echo recovered
  hangs:
    kind: shell
    timeout: 1s
    script: |
      if [ ! -e ../hangs.once ]; then touch ../hangs.once; echo hanging; sleep 300; fi
      echo recovered
  stubborn:
    kind: shell
    timeout: 1s
    script: |
      trap '' TERM
      if [ ! -e ../stubborn.once ]; then touch ../stubborn.once; echo stubborn; sleep 300; fi
      echo recovered
  flood:
    kind: shell
    script: echo start; head -c 1073741824 /dev/zero; echo; echo end
  daemon:
    kind: shell
    script: |
      setsid sh -c 'echo $$ > ../daemon.pid; exec sleep 300' > /dev/null 2>&1 &
      while [ ! -s ../daemon.pid ]; do :; done
      echo started a daemon
)");
  auto run = p({"run", "faults", "--date", "2026-03-01", "--parallelism", "5"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const std::string run_id = "faults@2026-03-01T00:00:00Z~manual-1";
  auto attempts = [&](const std::string& task) {
    return testing::Query(p.Db(),
                          "SELECT state || ':' || coalesce(reason, '') FROM attempts "
                          "WHERE task_id = '" +
                              task + "' ORDER BY try_number");
  };
  auto log = [&](const std::string& task, int try_number) {
    return ReadFile(p.dir / "home/logs/faults" / run_id /
                    (task + "." + std::to_string(try_number) + ".log"));
  };
  CHECK(testing::Query(p.Db(), "SELECT state FROM runs") == "success|\n");

  CHECK(Contains(attempts("killed"), "killed by signal 9"));
  CHECK(log("killed", 1) == "dying\n");
  CHECK(log("killed", 2) == "recovered\n");

  CHECK(Contains(attempts("hangs"), "timed out"));
  CHECK(log("hangs", 2) == "recovered\n");

  // SIGTERM is ignored, so SIGKILL comes after the grace period.
  CHECK(Contains(attempts("stubborn"), "timed out"));
  CHECK(log("stubborn", 2) == "recovered\n");

  // The flood succeeds; its log keeps the first 63 MiB and the last MiB, and says so.
  CHECK(testing::Query(p.Db(), "SELECT count(*) FROM attempts WHERE task_id = 'flood'") == "1|\n");
  const auto flood_log = p.dir / "home/logs/faults" / run_id / "flood.1.log";
  CHECK(std::filesystem::file_size(flood_log) < (64u << 20) + 1024);
  std::string tail = ReadFile(flood_log).substr((63u << 20) - 16);
  CHECK(Contains(tail, "bytes of output dropped here"));
  CHECK(tail.ends_with("\nend\n"));

  // The daemon, in a session of its own, was killed when its task ended.
  const pid_t daemon = std::stoi(ReadFile(p.dir / "daemon.pid"));
  CHECK_FALSE(testing::StillAliveAfterWaiting(daemon));
  CHECK(Contains(log("daemon", 1),
                 "started a daemon\nweir: killed process " + std::to_string(daemon) + " ("));
}

}  // namespace
}  // namespace weir

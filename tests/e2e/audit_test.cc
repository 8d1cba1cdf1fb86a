// `weir audit` against the real binary: the events other commands leave, filtered and printed.
#include <catch2/catch.hpp>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::TempDir;
using testing::Weir;

struct Fixture : testing::Project {
  Fixture() {
    dir.Write("dags/a.yaml", "dag: alpha\ntasks:\n  a: { kind: shell, command: [true] }\n");
    // A DAG whose id starts like the other's: its events must not show under --dag alpha.
    dir.Write("dags/b.yaml", "dag: alpha_2\ntasks:\n  a: { kind: shell, command: [true] }\n");
  }
};

TEST_CASE("weir audit lists who changed what, newest first, filtered by DAG, actor and time",
          "[e2e][audit]") {
  Fixture weir;
  Output none = weir({"audit"});
  CHECK(none.exit_code == 0);
  CHECK(none.out == "no audit events\n");
  CHECK_FALSE(std::filesystem::exists(weir.dir / "home"));  // reading creates nothing

  REQUIRE(weir({"run", "alpha", "--date", "2026-01-15"}).exit_code == 0);
  REQUIRE(weir({"tasks", "clear", "alpha@2026-01-15T00:00:00Z~manual-1", "a", "--reason",
                "rerun after fix"})
              .exit_code == 0);
  REQUIRE(weir({"dags", "pause", "alpha_2", "--reason", "source outage"}).exit_code == 0);
  REQUIRE(weir({"pools", "set", "gpu", "2"}).exit_code == 0);

  Output all = weir({"audit"});
  INFO(all.err);
  REQUIRE(all.exit_code == 0);
  CHECK(CountLines(all.out) == 5);  // a header and four events
  std::size_t pool = all.out.find("pool.set"), pause = all.out.find("source outage"),
              clear = all.out.find("rerun after fix"), trigger = all.out.find("trigger");
  CHECK(pool < pause);
  CHECK(pause < clear);
  CHECK(clear < trigger);
  CHECK(trigger != std::string::npos);

  Output alpha = weir({"audit", "--dag", "alpha", "--format", "json"});
  REQUIRE(alpha.exit_code == 0);
  REQUIRE(CountLines(alpha.out) == 2);
  CHECK(alpha.out.find(R"("action":"clear","target":"run:alpha@2026-01-15T00:00:00Z~manual-1",)"
                       R"("reason":"rerun after fix","details":{"tasks":["a"])") !=
        std::string::npos);
  CHECK(alpha.out.find(R"("action":"trigger")") != std::string::npos);
  CHECK(alpha.out.find("alpha_2") == std::string::npos);

  Output other = weir({"audit", "--dag", "alpha_2"});
  CHECK(CountLines(other.out) == 2);
  CHECK(other.out.find("pause") != std::string::npos);

  CHECK(weir({"audit", "--actor", "nobody-at-all"}).out == "no audit events\n");
  CHECK(weir({"audit", "--since", "2999-01-01"}).out == "no audit events\n");
  CHECK(CountLines(weir({"audit", "--since", "1h"}).out) == 5);
  CHECK(CountLines(weir({"audit", "--since", "2026-01-01T00:00:00Z", "--limit", "1"}).out) == 2);
}

TEST_CASE("bad audit flags get a one-line error, exit 2, and change nothing", "[e2e][audit]") {
  Fixture weir;
  REQUIRE(weir({"dags", "pause", "alpha"}).exit_code == 0);
  const std::string before = DumpEveryTable(weir.dir / "home" / "weir.db");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"audit", "--since", "yesterday"},
        {"audit", "--since", ""},
        {"audit", "--since", "2026-13-45"},
        {"audit", "--limit", "0"},
        {"audit", "--limit", "-5"},
        {"audit", "--limit", "many"},
        {"audit", "--format", "xml"},
        {"audit", "--dag"}}) {
    Output o = weir(args);
    INFO(args[1] << " " << (args.size() > 2 ? args[2] : ""));
    CHECK(o.exit_code == 2);
    CHECK(CountLines(o.err) == 1);
    CHECK(o.err.starts_with("weir: "));
    CHECK(o.out.empty());
  }
  CHECK(DumpEveryTable(weir.dir / "home" / "weir.db") == before);
}

}  // namespace
}  // namespace weir

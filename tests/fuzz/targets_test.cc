// The fuzz targets (fuzz/targets.h) over their seed corpus and over every input that once broke
// them: each file of fuzz/regressions/TARGET/ is named after what it found, and runs here in
// every build, sanitized or not.
#include "fuzz/targets.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "tests/testing/temp_dir.h"

namespace weir::fuzz {
namespace {

// Every file of fuzz/FOLDER/TARGET/, by name.
std::map<std::string, std::string> Inputs(std::string_view folder, std::string_view target) {
  std::map<std::string, std::string> inputs;
  const std::filesystem::path dir =
      std::filesystem::path(WEIR_SOURCE_DIR) / "fuzz" / folder / target;
  if (!std::filesystem::is_directory(dir)) return inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      inputs[entry.path().filename().string()] = testing::ReadFile(entry.path());
    }
  }
  return inputs;
}

TEST_CASE("every fuzz target has a seed corpus, and its properties hold on it", "[fuzz]") {
  for (const Target& target : Targets()) {
    const auto corpus = Inputs("corpus", target.name);
    INFO(target.name);
    CHECK(corpus.size() >= 3);
    for (const auto& [name, input] : corpus) {
      INFO(name);
      CHECK(target.run(input) == "");
    }
  }
}

TEST_CASE("every input a fuzz target once failed on passes now", "[fuzz]") {
  for (const Target& target : Targets()) {
    for (const auto& [name, input] : Inputs("regressions", target.name)) {
      DYNAMIC_SECTION(target.name << "/" << name) { CHECK(target.run(input) == ""); }
    }
  }
}

TEST_CASE("the five fuzz targets are found by name, and a refused input passes its target",
          "[fuzz]") {
  // An invalid schedule is refused with a one-line error, which is what the property asks.
  const Target* cron = FindTarget("cron");
  REQUIRE(cron != nullptr);
  CHECK(cron->run(std::string(8, '\0') + "61 * * * *") == "");
  CHECK(FindTarget("no such target") == nullptr);
  CHECK(Targets().size() == 5);
}

}  // namespace
}  // namespace weir::fuzz

// The fuzz targets: each takes one input of arbitrary bytes, drives one parser of what a user
// controls the way weir does, and checks what must hold whatever the bytes are. libFuzzer runs
// them (fuzz/fuzzer.cc, one binary per target, built with WEIR_FUZZ) and so do the regression
// tests of every build (tests/fuzz/targets_test.cc), over the seed corpus and every input that
// once failed (fuzz/corpus/TARGET/, fuzz/regressions/TARGET/).
//
//   const Target* target = FindTarget("cron");
//   std::string broken = target->run(bytes);   // "" when every property held
//
// A crash, a hang or a sanitizer report is a failure too; the returned text is for a property
// that was violated without one.
#ifndef WEIR_FUZZ_TARGETS_H_
#define WEIR_FUZZ_TARGETS_H_

#include <string>
#include <string_view>
#include <vector>

namespace weir::fuzz {

struct Target {
  std::string_view name;  // "dag_loader", "cron", "template", "csv", "api"
  std::string_view what;  // one line: what it feeds and checks
  std::string (*run)(std::string_view input);
};

const std::vector<Target>& Targets();
const Target* FindTarget(std::string_view name);

}  // namespace weir::fuzz

#endif  // WEIR_FUZZ_TARGETS_H_

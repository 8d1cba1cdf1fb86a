// One libFuzzer binary per target: WEIR_FUZZ_TARGET names the target this one runs. A broken
// property aborts, so that libFuzzer keeps the input as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const weir::fuzz::Target* target = weir::fuzz::FindTarget(WEIR_FUZZ_TARGET);
  const std::string broken =
      target->run(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!broken.empty()) {
    std::fprintf(stderr, "weir fuzz %s: %s\n", WEIR_FUZZ_TARGET, broken.c_str());
    std::abort();
  }
  return 0;
}

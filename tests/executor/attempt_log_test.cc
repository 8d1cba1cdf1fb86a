// An attempt's log: output kept up to its limit, the first part and the last, with the number
// of bytes dropped between; secrets masked even when a read cuts them; a full disk noted.
#include "executor/attempt_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>

#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace weir::executor {
namespace {

using testing::ReadFile;
using testing::TempDir;

int OpenAppend(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  return fd;
}

TEST_CASE("output under the limit is kept whole, whatever the pieces", "[executor]") {
  TempDir dir;
  AttemptLog log(OpenAppend(dir / "1.log"), {.limit_bytes = 100, .tail_bytes = 20});
  log.Write("hello ");
  log.Write("");
  log.Write("world\n");
  log.Finish();
  CHECK(ReadFile(dir / "1.log") == "hello world\n");
  CHECK(log.dropped_bytes() == 0);
}

TEST_CASE("past the limit a log keeps its first and last bytes and says how many were dropped",
          "[executor]") {
  TempDir dir;
  AttemptLog log(OpenAppend(dir / "1.log"), {.limit_bytes = 40, .tail_bytes = 10});
  std::string output;
  for (int i = 0; i < 1000; ++i) output += std::to_string(i) + "\n";
  std::mt19937 rng(3);
  for (std::size_t pos = 0; pos < output.size();) {
    std::size_t n = std::min<std::size_t>(1 + rng() % 50, output.size() - pos);
    log.Write(std::string_view(output).substr(pos, n));
    pos += n;
  }
  log.Finish({"weir: a note"});
  const std::size_t dropped = output.size() - 40;
  CHECK(log.dropped_bytes() == dropped);
  CHECK(ReadFile(dir / "1.log") ==
        output.substr(0, 30) + "\nweir: " + std::to_string(dropped) +
            " bytes of output dropped here: a log keeps the first 30 and the last 10 bytes of an "
            "attempt's output\n" +
            output.substr(output.size() - 10) + "weir: a note\n");
}

TEST_CASE("a secret cut between two reads is masked in the log", "[executor]") {
  TempDir dir;
  auto mask = std::make_shared<SecretMask>();
  mask->Add("top-secret-42");
  AttemptLog log(OpenAppend(dir / "1.log"), {.limit_bytes = 0, .tail_bytes = 0, .mask = mask});
  log.Write("key=top-se");
  log.Write("cret-42 and top-secret-4");
  log.Finish();
  CHECK(ReadFile(dir / "1.log") == "key=*** and top-secret-4");
}

TEST_CASE("a log that cannot be written drops the output and says why", "[executor]") {
  TempDir dir;
  // /dev/full fails every write with ENOSPC, as a full disk does.
  int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  AttemptLog log(fd, {.limit_bytes = 0, .tail_bytes = 0});
  log.Write("lost\n");
  log.Write("lost too\n");
  log.Finish();
  CHECK(log.error() == "No space left on device");
  CHECK(log.dropped_bytes() == 14);
}

}  // namespace
}  // namespace weir::executor

// `weir serve` started by a test on a free loopback port, with an API token.
#ifndef WEIR_TESTS_TESTING_WEIR_SERVER_H_
#define WEIR_TESTS_TESTING_WEIR_SERVER_H_

#include <httplib.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_process.h"

namespace weir::testing {

inline constexpr const char* kToken = "e2e-token-0123456789";

// Starts `weir serve --port 0` and reads the port it reports.
struct Server {
  WeirProcess process;
  int port = 0;

  Server(const TempDir& dir, std::vector<std::string> extra = {},
         std::vector<std::string> env = {std::string("WEIR_API_TOKENS=ci:") + kToken})
      : process(dir, With(std::move(extra)), "serve", std::move(env)) {
    const std::regex serving("on http://127\\.0\\.0\\.1:([0-9]+)/");
    for (std::string line = process.NextLine(); !line.empty(); line = process.NextLine()) {
      std::smatch m;
      if (std::regex_search(line, m, serving)) {
        port = std::stoi(m[1]);
        break;
      }
    }
    INFO(ReadFile(dir / "stderr"));
    REQUIRE(port > 0);
  }
  static std::vector<std::string> With(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--port", "0", "--parallelism", "2"});
    return extra;
  }
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    return client;
  }
};

inline httplib::Headers Auth() { return {{"Authorization", std::string("Bearer ") + kToken}}; }

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_WEIR_SERVER_H_

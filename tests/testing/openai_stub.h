// The stand-in OpenAI-compatible embeddings server (tests/testing/openai_stub_server.py), started
// by a test and stopped at its end. Its first line of output says that it listens, so nothing
// here sleeps.
#ifndef WEIR_TESTS_TESTING_OPENAI_STUB_H_
#define WEIR_TESTS_TESTING_OPENAI_STUB_H_

#include <signal.h>
#include <stdio.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/strings.h"
#include "tasks/http_fetch.h"

namespace weir::testing {

// What the stand-in server counted of POST /v1/embeddings since its start or the last Reset.
struct OpenAiStubStats {
  int requests = 0;
  int max_in_flight = 0;
  std::vector<int> batch_sizes;
};

class OpenAiStub {
 public:
  OpenAiStub() {
    const std::string command =
        "exec env -u WEIR_STUB_API_KEY /usr/bin/python3 " +
        ShellQuote(std::string(WEIR_SOURCE_DIR) + "/tests/testing/openai_stub_server.py");
    pipe_ = popen(command.c_str(), "r");
    REQUIRE(pipe_ != nullptr);
    REQUIRE(fscanf(pipe_, "%d %d", &port_, &pid_) == 2);  // blocks until it listens
  }
  ~OpenAiStub() {
    ::kill(pid_, SIGTERM);
    pclose(pipe_);  // waits for it to exit
  }
  OpenAiStub(const OpenAiStub&) = delete;
  OpenAiStub& operator=(const OpenAiStub&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  OpenAiStubStats GetStats() const {
    nlohmann::json j = Call("GET", "/stats", "");
    return OpenAiStubStats{j.at("requests").get<int>(), j.at("max_in_flight").get<int>(),
                           j.at("batch_sizes").get<std::vector<int>>()};
  }
  void Reset() const { Call("POST", "/reset", "{}"); }

 private:
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const std::string& body) const {
    tasks::HttpRequest request{.method = method, .url = Url() + path, .body = body};
    request.timeout_seconds = 5;
    request.retries = 0;
    auto answer = tasks::HttpFetch(request);
    INFO((answer ? "" : answer.error().message));
    REQUIRE(answer);
    return nlohmann::json::parse(*answer);
  }

  FILE* pipe_ = nullptr;
  int port_ = 0, pid_ = 0;
};

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_OPENAI_STUB_H_

// Embedding providers: the built-in hash provider (deterministic, normalised, lexical), and the
// openai provider against a stand-in OpenAI-compatible server on loopback
// (tests/testing/openai_stub_server.py): order by index, batching by count and characters, the
// bound on requests in flight, retries, the checks on what the server answers, the API key, and
// the config's JSON form.
#include "tasks/embedding.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "tasks/http_fetch.h"

namespace weir::tasks {
namespace {

using Vectors = std::vector<std::vector<float>>;

// What the stand-in server counted of POST /v1/embeddings.
struct Stats {
  int requests = 0;
  int max_in_flight = 0;
  std::vector<int> batch_sizes;
};

// The stand-in server, started per test and stopped at its end. Its first line of output says
// that it listens, so nothing here sleeps. With `api_key`, it wants "Authorization: Bearer key".
class StubServer {
 public:
  explicit StubServer(const std::string& api_key = "") {
    std::string command =
        "exec env " +
        (api_key.empty() ? std::string("-u WEIR_STUB_API_KEY")
                         : "WEIR_STUB_API_KEY=" + ShellQuote(api_key)) +
        " /usr/bin/python3 " +
        ShellQuote(std::string(WEIR_SOURCE_DIR) + "/tests/testing/openai_stub_server.py");
    pipe_ = popen(command.c_str(), "r");
    REQUIRE(pipe_ != nullptr);
    REQUIRE(fscanf(pipe_, "%d %d", &port_, &pid_) == 2);  // blocks until it listens
  }
  ~StubServer() {
    ::kill(pid_, SIGTERM);
    pclose(pipe_);  // waits for it to exit
  }
  StubServer(const StubServer&) = delete;
  StubServer& operator=(const StubServer&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  Stats GetStats() const {
    nlohmann::json j = Call("GET", "/stats", "");
    return Stats{j.at("requests").get<int>(), j.at("max_in_flight").get<int>(),
                 j.at("batch_sizes").get<std::vector<int>>()};
  }

  // The vectors the server answers for `texts`, L2-normalised as the provider must return them.
  Vectors Expected(const std::vector<std::string>& texts, int dimensions = 0) const {
    nlohmann::json request = {{"input", texts}};
    if (dimensions != 0) request["dimensions"] = dimensions;
    nlohmann::json j = Call("POST", "/expected", request.dump());
    Vectors out;
    for (const auto& raw : j.at("vectors")) {
      std::vector<double> v = raw.get<std::vector<double>>();
      double norm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
      std::vector<float>& f = out.emplace_back();
      for (double x : v) f.push_back(static_cast<float>(x / norm));
    }
    return out;
  }

 private:
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const std::string& body) const {
    HttpRequest request{.method = method, .url = Url() + path, .body = body};
    request.timeout_seconds = 5;
    request.retries = 0;
    auto answer = HttpFetch(request);
    INFO((answer ? "" : answer.error().message));
    REQUIRE(answer);
    return nlohmann::json::parse(*answer);
  }

  FILE* pipe_ = nullptr;
  int port_ = 0, pid_ = 0;
};

// Sets an environment variable for the length of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// An openai provider's config that fails fast: short timeouts, tiny backoff.
ProviderConfig OpenAi(const StubServer& server, std::string model) {
  ProviderConfig c;
  c.kind = "openai";
  c.base_url = server.Url();
  c.model = std::move(model);
  c.batch = 4;
  c.max_concurrency = 2;
  c.timeout_seconds = 1;
  c.retries = 3;
  c.backoff_seconds = 0.01;
  return c;
}

std::vector<std::string_view> Views(const std::vector<std::string>& texts) {
  return std::vector<std::string_view>(texts.begin(), texts.end());
}

// `n` distinct texts of exactly 10 bytes each.
std::vector<std::string> Texts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string number = std::to_string(i);
    out.push_back("text-" + std::string(5 - number.size(), '0') + number);
  }
  return out;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double Norm(const std::vector<float>& v) { return std::sqrt(Dot(v, v)); }

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  return Dot(a, b) / (Norm(a) * Norm(b));
}

Vectors HashVectors(int dim, const std::vector<std::string>& texts) {
  auto provider = MakeProvider(ProviderConfig{.kind = "hash", .dim = dim});
  REQUIRE(provider != nullptr);
  auto vectors = provider->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  return *vectors;
}

void CheckClose(const Vectors& got, const Vectors& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("vector " << i);
    REQUIRE(got[i].size() == want[i].size());
    for (size_t k = 0; k < got[i].size(); ++k) {
      INFO("component " << k);
      CHECK(got[i][k] == Approx(want[i][k]).margin(1e-6));
    }
  }
}

// Whether `message` holds one of `words`, ignoring case.
bool MentionsAny(std::string message, const std::vector<std::string>& words) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  message = lower(message);
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) {
    return message.find(lower(w)) != std::string::npos;
  });
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- hash --------------------------------------------------------------------------------------

TEST_CASE("the hash provider gives the same vector for the same text, from any provider",
          "[embedding]") {
  const std::vector<std::string> texts = {"the quick brown fox", "jumps over the lazy dog", "a"};
  Vectors first = HashVectors(64, texts);
  Vectors second = HashVectors(64, texts);
  CHECK(first == second);

  // The same text twice in one call, and HashEmbed directly, agree too.
  Vectors twice = HashVectors(64, {"the quick brown fox", "the quick brown fox"});
  CHECK(twice[0] == first[0]);
  CHECK(twice[1] == first[0]);
  std::vector<float> direct(64);
  HashEmbed("the quick brown fox", 64, direct.data());
  CHECK(direct == first[0]);
}

TEST_CASE("the hash provider's vectors have the configured dimension and unit length",
          "[embedding]") {
  for (int dim : {64, 256}) {
    INFO("dim " << dim);
    auto provider = MakeProvider(ProviderConfig{.kind = "hash", .dim = dim});
    REQUIRE(provider != nullptr);
    CHECK(provider->dim() == dim);
    CHECK(provider->model() == "weir-hash-v1");
    const std::vector<std::string> texts = {"short", "a somewhat longer sentence about data",
                                            std::string(5000, 'x') + " end"};
    auto vectors = provider->Embed(Views(texts));
    INFO((vectors ? "" : vectors.error().message));
    REQUIRE(vectors);
    REQUIRE(vectors->size() == texts.size());
    for (const auto& v : *vectors) {
      CHECK(static_cast<int>(v.size()) == dim);
      CHECK(Norm(v) == Approx(1.0).margin(1e-5));
    }
  }
  CHECK(MakeProvider(ProviderConfig{})->dim() == 256);  // the default kind and size
}

TEST_CASE("the hash provider gives different texts different vectors, nearer when they share words",
          "[embedding]") {
  Vectors v = HashVectors(256, {"the quick brown fox jumps over the lazy dog",
                                "the quick brown fox sleeps under the lazy dog",
                                "quarterly tax forms are due in april", "dog"});
  CHECK(v[0] != v[1]);
  CHECK(v[0] != v[2]);
  CHECK(v[0] != v[3]);
  const double related = Cosine(v[0], v[1]);
  const double unrelated = Cosine(v[0], v[2]);
  INFO("related " << related << ", unrelated " << unrelated);
  CHECK(related > unrelated + 0.2);
}

TEST_CASE("the hash provider takes multi-byte UTF-8 text", "[embedding]") {
  const std::vector<std::string> texts = {"naïve café", "naive cafe", "日本語のテキストです",
                                          "emoji 🚀🚀 and Ω≈ç√"};
  Vectors v = HashVectors(128, texts);
  for (const auto& x : v) CHECK(Norm(x) == Approx(1.0).margin(1e-5));
  for (const auto& x : v) {
    for (float f : x) CHECK(std::isfinite(f));
  }
  CHECK(v[0] != v[1]);
  CHECK(v[2] != v[3]);
  CHECK(HashVectors(128, texts) == v);
}

// ---- openai ------------------------------------------------------------------------------------

TEST_CASE("the openai provider returns the server's vectors normalised, in the order given",
          "[embedding]") {
  StubServer server;
  std::vector<std::string> texts = Texts(9);
  texts.push_back("café 日本 🚀");                               // multi-byte UTF-8 in the JSON body
  texts.push_back("a \"quoted\"\nline with a \\ and a tab\t");  // characters JSON escapes
  ProviderConfig c = OpenAi(server, "ok");
  c.batch = 3;
  auto provider = MakeProvider(c);
  REQUIRE(provider != nullptr);
  CHECK(provider->model() == "ok");
  CHECK(provider->dim() == 0);  // not known until an answer tells it

  auto vectors = provider->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts));
  for (const auto& v : *vectors) CHECK(Norm(v) == Approx(1.0).margin(1e-5));
  CHECK(provider->dim() == 8);  // the stand-in's size without `dimensions`
  CHECK(server.GetStats().requests == 4);

  // No texts: no vectors, and no request.
  auto none = provider->Embed({});
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(server.GetStats().requests == 4);
}

TEST_CASE("the openai provider places vectors by their index when the server answers out of order",
          "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(10);
  auto vectors = MakeProvider(OpenAi(server, "shuffled"))->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts));
}

TEST_CASE("the openai provider sends at most `batch` texts per request", "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(10);
  ProviderConfig c = OpenAi(server, "ok");
  c.batch = 4;
  auto vectors = MakeProvider(c)->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts));
  Stats stats = server.GetStats();
  INFO("batch sizes " << Catch::Detail::stringify(stats.batch_sizes));
  CHECK(std::accumulate(stats.batch_sizes.begin(), stats.batch_sizes.end(), 0) == 10);
  CHECK(*std::max_element(stats.batch_sizes.begin(), stats.batch_sizes.end()) == 4);
  CHECK(stats.requests == 3);
}

TEST_CASE("the openai provider sends at most `batch_chars` bytes of text per request",
          "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(6);  // 10 bytes each
  ProviderConfig c = OpenAi(server, "ok");
  c.batch = 64;

  SECTION("less than two texts: one text per request") {
    c.batch_chars = 15;
    auto vectors = MakeProvider(c)->Embed(Views(texts));
    INFO((vectors ? "" : vectors.error().message));
    REQUIRE(vectors);
    CheckClose(*vectors, server.Expected(texts));
    CHECK(server.GetStats().batch_sizes == std::vector<int>(6, 1));
  }
  SECTION("room for two texts: at most two per request") {
    c.batch_chars = 25;
    auto vectors = MakeProvider(c)->Embed(Views(texts));
    INFO((vectors ? "" : vectors.error().message));
    REQUIRE(vectors);
    CheckClose(*vectors, server.Expected(texts));
    Stats stats = server.GetStats();
    INFO("batch sizes " << Catch::Detail::stringify(stats.batch_sizes));
    CHECK(std::accumulate(stats.batch_sizes.begin(), stats.batch_sizes.end(), 0) == 6);
    for (int size : stats.batch_sizes) CHECK(size <= 2);
  }
}

TEST_CASE("the openai provider keeps at most max_concurrency requests in flight", "[embedding]") {
  const int max_concurrency = GENERATE(1, 2, 4);
  INFO("max_concurrency " << max_concurrency);
  StubServer server;
  const std::vector<std::string> texts = Texts(12);
  ProviderConfig c = OpenAi(server, "slow");  // each answer takes ~50 ms, so requests overlap
  c.batch = 1;
  c.max_concurrency = max_concurrency;
  auto vectors = MakeProvider(c)->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts));
  Stats stats = server.GetStats();
  CHECK(stats.requests == 12);
  CHECK(stats.max_in_flight <= max_concurrency);
  if (max_concurrency > 1) CHECK(stats.max_in_flight > 1);
}

TEST_CASE("the openai provider retries a 429 at once when Retry-After is 0, and then succeeds",
          "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(8);
  ProviderConfig c = OpenAi(server, "flaky-429");
  c.backoff_seconds = 2;  // were Retry-After ignored, each batch would wait this long
  const auto start = std::chrono::steady_clock::now();
  auto vectors = MakeProvider(c)->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CHECK(SecondsSince(start) < 1.4);
  CheckClose(*vectors, server.Expected(texts));
  CHECK(server.GetStats().requests == 4);  // two batches, each tried twice
}

TEST_CASE("the openai provider retries 500s and then succeeds", "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(8);
  ProviderConfig c = OpenAi(server, "flaky-500");
  c.retries = 2;
  auto vectors = MakeProvider(c)->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts));
  CHECK(server.GetStats().requests == 6);  // two batches, each tried three times
}

TEST_CASE("a 500 that never ends fails after retries + 1 tries, naming the status", "[embedding]") {
  StubServer server;
  ProviderConfig c = OpenAi(server, "always-500");
  c.retries = 2;
  auto vectors = MakeProvider(c)->Embed(Views(Texts(3)));
  REQUIRE_FALSE(vectors);
  INFO(vectors.error().message);
  CHECK(vectors.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(vectors.error().message, Catch::Contains("500"));
  CHECK(server.GetStats().requests == 3);
}

TEST_CASE("a 400 is not retried, and its error is reported", "[embedding]") {
  StubServer server;
  auto vectors = MakeProvider(OpenAi(server, "bad-request"))->Embed(Views(Texts(3)));
  REQUIRE_FALSE(vectors);
  INFO(vectors.error().message);
  CHECK(vectors.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(vectors.error().message, Catch::Contains("400"));
  CHECK_THAT(vectors.error().message, Catch::Contains("does not exist"));  // the server's reason
  CHECK(server.GetStats().requests == 1);
}

TEST_CASE("a server that never answers is cut by the timeout, each try, and the call returns",
          "[embedding]") {
  StubServer server;
  ProviderConfig c = OpenAi(server, "hang");
  c.timeout_seconds = 0.3;
  c.retries = 1;
  const auto start = std::chrono::steady_clock::now();
  auto vectors = MakeProvider(c)->Embed(Views(Texts(2)));
  const double took = SecondsSince(start);
  REQUIRE_FALSE(vectors);
  INFO(vectors.error().message);
  CHECK(vectors.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(vectors.error().message, Catch::Contains("timeout"));
  CHECK(server.GetStats().requests == 2);
  CHECK(took < 5);
}

// The faulty models spoil only the request that holds a text starting with "bad": with batch 2,
// the third and fourth texts here. The error must say what was wrong and name that request.
TEST_CASE("an answer that breaks the contract is an error naming the fault and the request",
          "[embedding]") {
  struct Fault {
    std::string model;
    std::vector<std::string> words;  // one of them says what was wrong
  };
  const Fault fault =
      GENERATE(Fault{"wrong-dim", {"dimension"}}, Fault{"nan", {"NaN", "not a number", "finite"}},
               Fault{"inf", {"infinit", "not a number", "finite"}}, Fault{"zero", {"zero"}},
               Fault{"short", {"missing", "fewer", "index", "1 vector"}},
               Fault{"dup-index", {"repeated", "duplicate", "twice", "index"}});
  INFO("model " << fault.model);
  StubServer server;
  const std::vector<std::string> texts = {"first text", "second text", "bad third text",
                                          "fourth text"};
  ProviderConfig c = OpenAi(server, fault.model);
  c.batch = 2;
  c.max_concurrency = 1;
  c.dimensions = 8;
  auto vectors = MakeProvider(c)->Embed(Views(texts));
  REQUIRE_FALSE(vectors);
  const std::string& message = vectors.error().message;
  INFO(message);
  CHECK(MentionsAny(message, fault.words));
  // "texts 3 to 4" (counting from 1, or "2 to 3" from 0), "texts 3-4" or alike.
  CHECK_THAT(message, Catch::Matches(".*texts? \\[?(2\\D{1,6}3|3\\D{1,6}4)\\b.*"));
}

TEST_CASE("without `dimensions`, a later answer of another size than the first is an error",
          "[embedding]") {
  StubServer server;
  ProviderConfig c = OpenAi(server, "wrong-dim");
  c.batch = 2;
  c.max_concurrency = 1;
  auto provider = MakeProvider(c);
  auto vectors = provider->Embed(Views({"first text", "second text", "bad third", "fourth"}));
  REQUIRE_FALSE(vectors);
  INFO(vectors.error().message);
  CHECK_THAT(vectors.error().message, Catch::Contains("dimension"));
}

TEST_CASE("a component too large for a float is an error or is normalised, never inf or NaN",
          "[embedding]") {
  StubServer server;
  ProviderConfig c = OpenAi(server, "huge");  // 1e39 in the vector of the "bad" text
  auto vectors = MakeProvider(c)->Embed(Views({"first text", "bad second text"}));
  if (!vectors) {
    SUCCEED("refused: " + vectors.error().message);
    return;
  }
  for (const auto& v : *vectors) {
    for (float x : v) REQUIRE(std::isfinite(x));
    CHECK(Norm(v) == Approx(1.0).margin(1e-5));
  }
}

TEST_CASE("`dimensions` is sent, and the vectors have that size", "[embedding]") {
  StubServer server;
  const std::vector<std::string> texts = Texts(5);
  ProviderConfig c = OpenAi(server, "ok");
  c.dimensions = 40;  // the stand-in gives 8 unless it is sent
  auto provider = MakeProvider(c);
  CHECK(provider->dim() == 40);
  auto vectors = provider->Embed(Views(texts));
  INFO((vectors ? "" : vectors.error().message));
  REQUIRE(vectors);
  CheckClose(*vectors, server.Expected(texts, 40));
  CHECK(provider->dim() == 40);
}

TEST_CASE("the API key is read from the variable api_key_env names, and an unset one is named",
          "[embedding]") {
  StubServer server("s3cret");
  const std::vector<std::string> texts = Texts(3);
  ProviderConfig c = OpenAi(server, "ok");

  SECTION("set: the server accepts it") {
    ScopedEnv key("WEIR_TEST_EMBED_KEY", "s3cret");
    c.api_key_env = "WEIR_TEST_EMBED_KEY";
    auto vectors = MakeProvider(c)->Embed(Views(texts));
    INFO((vectors ? "" : vectors.error().message));
    REQUIRE(vectors);
    CheckClose(*vectors, server.Expected(texts));
  }
  SECTION("a wrong key: the 401 is reported, not retried") {
    ScopedEnv key("WEIR_TEST_EMBED_KEY", "guessed");
    c.api_key_env = "WEIR_TEST_EMBED_KEY";
    auto vectors = MakeProvider(c)->Embed(Views(texts));
    REQUIRE_FALSE(vectors);
    INFO(vectors.error().message);
    CHECK_THAT(vectors.error().message, Catch::Contains("401"));
    CHECK(server.GetStats().requests == 1);
  }
  SECTION("unset: an error naming the variable, and nothing sent") {
    ::unsetenv("WEIR_TEST_EMBED_UNSET");
    c.api_key_env = "WEIR_TEST_EMBED_UNSET";
    auto vectors = MakeProvider(c)->Embed(Views(texts));
    REQUIRE_FALSE(vectors);
    INFO(vectors.error().message);
    CHECK_THAT(vectors.error().message, Catch::Contains("WEIR_TEST_EMBED_UNSET"));
    CHECK(server.GetStats().requests == 0);
  }
}

// ---- config ------------------------------------------------------------------------------------

TEST_CASE("a provider config survives a round trip through JSON", "[embedding]") {
  ProviderConfig c{.kind = "openai",
                   .dim = 96,
                   .base_url = "http://127.0.0.1:11434",
                   .model = "nomic-embed-text",
                   .api_key_env = "OPENAI_API_KEY",
                   .batch = 16,
                   .batch_chars = 12345,
                   .max_concurrency = 3,
                   .dimensions = 512,
                   .timeout_seconds = 0.3,
                   .retries = 7,
                   .backoff_seconds = 0.01};
  for (const ProviderConfig& config : {c, ProviderConfig{}}) {
    const std::string json = ProviderConfigToJson(config);
    INFO(json);
    auto back = ProviderConfigFromJson(json);
    INFO((back ? "" : back.error().message));
    REQUIRE(back);
    CHECK(back->kind == config.kind);
    CHECK(back->dim == config.dim);
    CHECK(back->base_url == config.base_url);
    CHECK(back->model == config.model);
    CHECK(back->api_key_env == config.api_key_env);
    CHECK(back->batch == config.batch);
    CHECK(back->batch_chars == config.batch_chars);
    CHECK(back->max_concurrency == config.max_concurrency);
    CHECK(back->dimensions == config.dimensions);
    CHECK(back->timeout_seconds == config.timeout_seconds);
    CHECK(back->retries == config.retries);
    CHECK(back->backoff_seconds == config.backoff_seconds);
    CHECK(ProviderConfigToJson(*back) == json);
  }
}

TEST_CASE("a provider config from JSON that is not one is an error", "[embedding]") {
  for (std::string_view json :
       {"", "not json", "{\"kind\": ", "[1, 2]", "42", R"({"kind": "openai", "batch": "many"})"}) {
    INFO(json);
    auto config = ProviderConfigFromJson(json);
    CHECK_FALSE(config);
  }
}

}  // namespace
}  // namespace weir::tasks

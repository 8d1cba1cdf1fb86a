#include "tasks/embedding.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/strings.h"
#include "tasks/http_fetch.h"

namespace weir::tasks {
namespace {

using json = nlohmann::json;

// ---- hash features -------------------------------------------------------------------------

// splitmix64's finaliser: spreads every input bit over the output.
std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Seeds that keep the three kinds of feature apart.
constexpr std::uint64_t kUnigram = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kBigram = 0xc2b2ae3d27d4eb4fULL;
constexpr std::uint64_t kTrigram = 0x165667b19e3779f9ULL;

inline void AddFeature(std::uint64_t hash, int dim, float weight, float* out) {
  const std::uint64_t h = Mix(hash);
  out[h % static_cast<std::uint64_t>(dim)] += (h >> 63) != 0 ? -weight : weight;
}

inline bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void Normalize(float* v, int dim) {
  double norm = 0;
  for (int i = 0; i < dim; ++i) norm += static_cast<double>(v[i]) * v[i];
  if (norm == 0) return;
  const float scale = static_cast<float>(1 / std::sqrt(norm));
  for (int i = 0; i < dim; ++i) v[i] *= scale;
}

// ---- the providers -------------------------------------------------------------------------

class HashProvider : public EmbeddingProvider {
 public:
  explicit HashProvider(int dim) : dim_(dim) {}
  std::string model() const override { return "weir-hash-v1"; }
  int dim() const override { return dim_; }
  Result<std::vector<std::vector<float>>> Embed(
      const std::vector<std::string_view>& texts) override {
    std::vector<std::vector<float>> out(texts.size(), std::vector<float>(dim_));
    for (std::size_t i = 0; i < texts.size(); ++i) HashEmbed(texts[i], dim_, out[i].data());
    return out;
  }

 private:
  int dim_;
};

class OpenAiProvider : public EmbeddingProvider {
 public:
  explicit OpenAiProvider(ProviderConfig c) : c_(std::move(c)), dim_(c_.dimensions) {}
  // A requested dimension is part of the name: the same model asked for 256 values gives other
  // vectors than asked for its own size.
  std::string model() const override {
    return c_.dimensions > 0 ? fmt::format("{}@{}", c_.model, c_.dimensions) : c_.model;
  }
  int dim() const override { return dim_.load(); }

  Result<std::vector<std::vector<float>>> Embed(
      const std::vector<std::string_view>& texts) override {
    HttpRequest request{.method = "POST", .url = c_.base_url + "/v1/embeddings"};
    request.timeout_seconds = c_.timeout_seconds;
    request.retries = c_.retries;
    request.backoff_seconds = c_.backoff_seconds;
    request.max_bytes = 1LL << 30;
    if (!c_.api_key_env.empty()) {
      const char* key = std::getenv(c_.api_key_env.c_str());
      if (key == nullptr || *key == '\0') {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("openai provider: the API key comes from ${}, which is not set",
                                c_.api_key_env));
      }
      request.header_values = {{"Authorization", std::string("Bearer ") + key}};
    }
    // Batches: [begin, end) of texts, bounded by count and by characters.
    std::vector<std::pair<std::size_t, std::size_t>> batches;
    for (std::size_t begin = 0; begin < texts.size();) {
      std::size_t end = begin, chars = 0;
      while (
          end < texts.size() && end - begin < static_cast<std::size_t>(c_.batch) &&
          (end == begin || chars + texts[end].size() <= static_cast<std::size_t>(c_.batch_chars))) {
        chars += texts[end++].size();
      }
      batches.emplace_back(begin, end);
      begin = end;
    }
    std::vector<std::vector<float>> out(texts.size());
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::optional<std::pair<std::size_t, Error>> first_error;  // the earliest failed batch
    auto work = [&] {
      for (std::size_t b; (b = next.fetch_add(1)) < batches.size();) {
        {
          std::lock_guard lock(mu);
          if (first_error) return;
        }
        auto [begin, end] = batches[b];
        auto ok = EmbedBatch(request, texts, begin, end, &out);
        if (!ok) {
          std::lock_guard lock(mu);
          if (!first_error || first_error->first > b) first_error.emplace(b, ok.error());
          return;
        }
      }
    };
    const std::size_t workers =
        std::min<std::size_t>(std::max(1, c_.max_concurrency), batches.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < workers; ++i) threads.emplace_back(work);
    if (workers > 0) work();
    for (std::thread& t : threads) t.join();
    if (first_error) return std::unexpected(first_error->second);
    return out;
  }

 private:
  // One request for texts [begin, end); their vectors go to (*out)[begin..end).
  Result<void> EmbedBatch(HttpRequest request, const std::vector<std::string_view>& texts,
                          std::size_t begin, std::size_t end,
                          std::vector<std::vector<float>>* out) {
    const std::size_t n = end - begin;
    auto fail = [&](std::string why, ErrorCode code = ErrorCode::kInvalidArgument) {
      return Fail(code, fmt::format("openai provider, texts {} to {} of {}: {}", begin + 1, end,
                                    texts.size(), why));
    };
    json body = {{"model", c_.model}, {"encoding_format", "float"}};
    json& input = body["input"] = json::array();
    for (std::size_t i = begin; i < end; ++i) input.push_back(std::string(texts[i]));
    if (c_.dimensions > 0) body["dimensions"] = c_.dimensions;
    request.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    auto answer = HttpFetch(request);
    if (!answer) return fail(answer.error().message, answer.error().code);
    json parsed = json::parse(*answer, nullptr, false);
    if (parsed.is_discarded()) {
      if (answer->find("NaN") != std::string::npos ||
          answer->find("Infinity") != std::string::npos) {
        return fail("the answer holds NaN or Infinity, which is not a number");
      }
      return fail("the answer is not JSON: " + Printable(*answer, 120));
    }
    if (!parsed.is_object() || !parsed.contains("data") || !parsed["data"].is_array()) {
      return fail("the answer has no 'data' list: " + Printable(*answer, 120));
    }
    const json& data = parsed["data"];
    if (data.size() != n) {
      return fail(fmt::format("the answer has {} vector{} for {} texts", data.size(),
                              data.size() == 1 ? "" : "s", n));
    }
    std::vector<bool> seen(n, false);
    for (const json& item : data) {
      if (!item.is_object() || !item.contains("index") || !item["index"].is_number_integer() ||
          !item.contains("embedding") || !item["embedding"].is_array()) {
        return fail("an entry of 'data' lacks an integer 'index' or an 'embedding' list");
      }
      const std::int64_t index = item["index"].get<std::int64_t>();
      if (index < 0 || index >= static_cast<std::int64_t>(n) || seen[index]) {
        return fail(fmt::format(
            "index {} is {}", index,
            index >= 0 && index < static_cast<std::int64_t>(n) ? "repeated" : "out of range"));
      }
      seen[index] = true;
      const json& embedding = item["embedding"];
      int expected = dim_.load();
      if (expected == 0) {
        int zero = 0;
        dim_.compare_exchange_strong(zero, static_cast<int>(embedding.size()));
        expected = dim_.load();
      }
      if (static_cast<int>(embedding.size()) != expected) {
        return fail(fmt::format("text {} got a vector of dimension {}, not {}", begin + index + 1,
                                embedding.size(), expected));
      }
      // Normalised in double, so that a value beyond float's range still gives a unit vector.
      std::vector<double> values(embedding.size());
      double norm = 0;
      for (std::size_t i = 0; i < embedding.size(); ++i) {
        if (!embedding[i].is_number() || !std::isfinite(embedding[i].get<double>())) {
          return fail(fmt::format("text {} got a vector with a value that is not a number",
                                  begin + index + 1));
        }
        values[i] = embedding[i].get<double>();
      }
      const double scale = *std::max_element(values.begin(), values.end(), [](double a, double b) {
        return std::abs(a) < std::abs(b);
      });
      for (double& x : values) x /= std::abs(scale) > 0 ? std::abs(scale) : 1;
      for (double x : values) norm += x * x;
      if (norm == 0) return fail(fmt::format("text {} got a zero vector", begin + index + 1));
      std::vector<float>& v = (*out)[begin + index];
      v.resize(values.size());
      const double inverse = 1 / std::sqrt(norm);
      for (std::size_t i = 0; i < values.size(); ++i)
        v[i] = static_cast<float>(values[i] * inverse);
    }
    return {};
  }

  ProviderConfig c_;
  std::atomic<int> dim_;
};

}  // namespace

void HashEmbed(std::string_view text, int dim, float* out) {
  std::fill(out, out + dim, 0.0f);
  // Words: runs of letters and digits (any non-ASCII byte counts as a letter), lower-cased.
  std::uint64_t previous_word = 0;
  bool have_previous = false;
  // Character 3-grams over the text with each run of non-word bytes as one space, padded with a
  // space at both ends: the last three code points, 21 bits each.
  std::uint64_t window = ' ';
  int in_window = 1;
  auto add_code_point = [&](std::uint32_t cp) {
    window = ((window << 21) | cp) & ((1ULL << 63) - 1);
    if (++in_window >= 3) AddFeature(window ^ kTrigram, dim, 0.5f, out);
  };
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool last_space = true;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (!IsWordByte(c)) {
      if (!last_space) add_code_point(' ');
      last_space = true;
      ++i;
      continue;
    }
    // A word: FNV-1a over its lower-cased bytes, its code points into the 3-gram window.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    while (i < n) {
      c = static_cast<unsigned char>(text[i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
      if (!IsWordByte(c)) break;
      // A code point: its lead byte's length (text is valid UTF-8 by now; a stray byte is one).
      const std::size_t len = std::min<std::size_t>(c >= 0xf0   ? 4
                                                    : c >= 0xe0 ? 3
                                                    : c >= 0xc0 ? 2
                                                                : 1,
                                                    n - i);
      std::uint32_t cp = len == 1 ? c : c & (0x7f >> len);
      for (std::size_t k = 0; k < len; ++k) {
        const unsigned char b = static_cast<unsigned char>(text[i + k]);
        const unsigned char lower =
            b >= 'A' && b <= 'Z' ? static_cast<unsigned char>(b - 'A' + 'a') : b;
        h = (h ^ lower) * 0x100000001b3ULL;
        if (k > 0) cp = (cp << 6) | (b & 0x3f);
      }
      add_code_point(cp & 0x1fffff);
      i += len;
    }
    last_space = false;
    AddFeature(h ^ kUnigram, dim, 1.0f, out);
    if (have_previous) AddFeature((previous_word * 31) ^ h ^ kBigram, dim, 1.0f, out);
    previous_word = h;
    have_previous = true;
  }
  if (!last_space) add_code_point(' ');
  Normalize(out, dim);
}

std::unique_ptr<EmbeddingProvider> MakeProvider(const ProviderConfig& config) {
  if (config.kind == "openai") return std::make_unique<OpenAiProvider>(config);
  return std::make_unique<HashProvider>(config.dim);
}

std::string ProviderConfigToJson(const ProviderConfig& c) {
  return json{{"kind", c.kind},
              {"dim", c.dim},
              {"base_url", c.base_url},
              {"model", c.model},
              {"api_key_env", c.api_key_env},
              {"batch", c.batch},
              {"batch_chars", c.batch_chars},
              {"max_concurrency", c.max_concurrency},
              {"dimensions", c.dimensions},
              {"timeout_seconds", c.timeout_seconds},
              {"retries", c.retries},
              {"backoff_seconds", c.backoff_seconds}}
      .dump();
}

Result<ProviderConfig> ProviderConfigFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    ProviderConfig c;
    c.kind = j.at("kind").get<std::string>();
    c.dim = j.at("dim").get<int>();
    c.base_url = j.at("base_url").get<std::string>();
    c.model = j.at("model").get<std::string>();
    c.api_key_env = j.at("api_key_env").get<std::string>();
    c.batch = j.at("batch").get<int>();
    c.batch_chars = j.at("batch_chars").get<std::int64_t>();
    c.max_concurrency = j.at("max_concurrency").get<int>();
    c.dimensions = j.at("dimensions").get<int>();
    c.timeout_seconds = j.at("timeout_seconds").get<double>();
    c.retries = j.at("retries").get<int>();
    c.backoff_seconds = j.at("backoff_seconds").get<double>();
    if (c.kind != "hash" && c.kind != "openai") {
      return Fail(ErrorCode::kInvalidArgument, "bad provider config: unknown kind " + c.kind);
    }
    return c;
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("bad provider config: {}", e.what()));
  }
}

}  // namespace weir::tasks

// Embedding providers for the `embed` kind (docs/tasks.md#embed): texts in, one L2-normalised
// float vector per text out, in the order given.
//
//   hash    built in: signed feature hashing of word unigrams, word bigrams and character
//           3-grams. Deterministic and free, lexical (texts that share words are near), not
//           semantic.
//   openai  POST {base_url}/v1/embeddings as OpenAI defines it, so any compatible server
//           (Ollama, vLLM, llama.cpp, text-embeddings-inference) serves; batched by count and by
//           characters, a bounded number of requests in flight, retried with jittered backoff.
#ifndef WEIR_TASKS_EMBEDDING_H_
#define WEIR_TASKS_EMBEDDING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

struct ProviderConfig {
  std::string kind = "hash";  // hash | openai
  int dim = 256;              // hash: the vector size
  // openai:
  std::string base_url;     // http://host:port, without /v1
  std::string model;        // sent as "model"
  std::string api_key_env;  // the environment variable holding the key (Bearer); empty: none
  int batch = 64;           // texts per request, at most
  std::int64_t batch_chars = 200'000;  // characters (bytes) per request, at most
  int max_concurrency = 4;             // requests in flight, at most
  int dimensions = 0;                  // sent as "dimensions" when not 0; the dimension expected
  double timeout_seconds = 60;         // per request
  int retries = 5;
  double backoff_seconds = 1;
};

class EmbeddingProvider {
 public:
  virtual ~EmbeddingProvider() = default;
  // What the vectors are named by: "weir-hash-v1", or the openai model, followed by
  // "@DIMENSIONS" when `dimensions` is set. Stored with each vector, so that a vector is reused
  // only for the same model and dimension.
  virtual std::string model() const = 0;
  // The vector size; for openai without `dimensions`, 0 until the first answer tells it.
  virtual int dim() const = 0;
  // One vector per text, L2-normalised. Errors say which request (texts i to j) failed and why:
  // the status after the retries, a timeout, NaN or infinity, a wrong dimension, a zero vector,
  // missing or repeated indexes.
  [[nodiscard]] virtual Result<std::vector<std::vector<float>>> Embed(
      const std::vector<std::string_view>& texts) = 0;
};

std::unique_ptr<EmbeddingProvider> MakeProvider(const ProviderConfig& config);

// The hash provider's vector of one text, written to out[0..dim), L2-normalised.
void HashEmbed(std::string_view text, int dim, float* out);

std::string ProviderConfigToJson(const ProviderConfig& config);
[[nodiscard]] Result<ProviderConfig> ProviderConfigFromJson(std::string_view json);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_EMBEDDING_H_

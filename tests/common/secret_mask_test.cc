// Secrets masking: the value, its JSON escape and its base64 forms are replaced by "***", in
// one text and in a stream cut anywhere. Base64 is checked against OpenSSL's encoder.
#include "common/secret_mask.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

namespace weir {
namespace {

std::string OpenSslBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string RandomBytes(std::mt19937_64& rng, std::size_t n, bool printable) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(printable ? static_cast<char>('!' + rng() % 94) : static_cast<char>(rng()));
  }
  return out;
}

TEST_CASE("a secret's value is masked wherever it appears, and nothing else is touched",
          "[common]") {
  SecretMask mask;
  mask.Add("hunter2-pass");
  CHECK(mask.Apply("login with hunter2-pass now") == "login with *** now");
  CHECK(mask.Apply("hunter2-passhunter2-pass") == "******");
  CHECK(mask.Apply("hunter2-pas") == "hunter2-pas");
  CHECK(mask.Apply("") == "");
  CHECK(mask.Apply("nothing secret here") == "nothing secret here");
}

TEST_CASE("values shorter than four bytes are not masked, so text stays readable", "[common]") {
  SecretMask mask;
  mask.Add("abc");
  CHECK(mask.empty());
  CHECK(mask.Apply("abc abc") == "abc abc");
}

TEST_CASE("of two secrets starting at one place the longer is masked", "[common]") {
  SecretMask mask;
  mask.Add("token");
  mask.Add("token-with-more");
  CHECK(mask.Apply("a token-with-more b token c") == "a *** b *** c");
}

TEST_CASE("a secret inside a JSON string, escaped, is masked", "[common]") {
  const std::string secret = "p\"a\\ss\nword";
  SecretMask mask;
  mask.Add(secret);
  std::string json = nlohmann::json{{"password", secret}, {"user", "alice"}}.dump();
  auto parsed = nlohmann::json::parse(mask.Apply(json));
  CHECK(parsed["password"] == "***");
  CHECK(parsed["user"] == "alice");
}

TEST_CASE("a secret base64-encoded inside a longer text is masked at every alignment", "[common]") {
  std::mt19937_64 rng(20261122);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t size = 5 + rng() % 40;
    const std::string secret = RandomBytes(rng, size, trial % 2 == 0);
    SecretMask mask;
    mask.Add(secret);
    const std::size_t before = rng() % 7;
    const std::string text =
        RandomBytes(rng, before, true) + secret + RandomBytes(rng, rng() % 7, true);
    const std::string encoded = OpenSslBase64(text);
    // The characters that only the secret's bytes decide: bits [8 before, 8 (before + size)).
    const std::size_t first = (8 * before + 5) / 6;
    const std::size_t end = 8 * (before + size) / 6;
    INFO("trial " << trial << ": " << encoded);
    std::string masked = mask.Apply(encoded);
    CHECK(masked == encoded.substr(0, first) + "***" + encoded.substr(end));
    // The URL-safe alphabet too.
    std::string url = encoded;
    for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
    CHECK(mask.Apply(url).find("***") != std::string::npos);
  }
}

TEST_CASE("a stream cut anywhere masks exactly as the whole text does", "[common]") {
  std::mt19937_64 rng(7);
  auto mask = std::make_shared<SecretMask>();
  mask->Add("s3cr3t-value");
  mask->Add("another secret");
  mask->Add("s3cr3t");
  const std::vector<std::string> words = {"s3cr3t-value", "another secret", "s3cr3t", "s3cr",
                                          "another ",     "plain ",         "\n",     "s3cr3t-val"};
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    for (int i = 0; i < 30; ++i) text += words[rng() % words.size()];
    MaskingStream stream(mask);
    std::string out;
    for (std::size_t pos = 0; pos < text.size();) {
      std::size_t n = std::min<std::size_t>(1 + rng() % 9, text.size() - pos);
      stream.Write(std::string_view(text).substr(pos, n), &out);
      pos += n;
    }
    stream.Finish(&out);
    INFO(text);
    CHECK(out == mask->Apply(text));
    CHECK(out.find("s3cr3t") == std::string::npos);
  }
}

TEST_CASE("each line of a multi-line secret is masked on its own", "[common]") {
  SecretMask mask;
  mask.Add("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\n");
  CHECK(mask.Apply("key line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC.") == "key line: ***.");
}

TEST_CASE("the process's secrets are shared and a snapshot does not change", "[common]") {
  auto before = ProcessSecrets::Instance().Mask();
  ProcessSecrets::Instance().Add("process-wide-secret-1");
  ProcessSecrets::Instance().Add("process-wide-secret-1");
  CHECK(ProcessSecrets::Instance().Apply("x process-wide-secret-1 y") == "x *** y");
  CHECK(before->Apply("process-wide-secret-1") == "process-wide-secret-1");
}

}  // namespace
}  // namespace weir

#include "common/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace weir {

namespace {

// A content hash needs nothing from the system's OpenSSL configuration, and reading it
// (openssl.cnf and what it includes) cost a millisecond of every command's start.
void InitCrypto() {
  static const bool initialized = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  (void)initialized;
}

// SHA-256, fetched from the provider once: looking it up for every record (as EVP_sha256() with
// EVP_DigestInit_ex does) takes locks that cost more than hashing a short record.
const EVP_MD* Sha256Md() {
  InitCrypto();
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

std::string Hex(const unsigned char* digest, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  InitCrypto();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, Sha256Md(), nullptr);
  return Hex(digest, length);
}

Sha256::Sha256() {
  auto* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr);
  context_ = ctx;
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_)); }

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), data.data(), data.size());
}

void Sha256::DigestAndReset(unsigned char out[32]) {
  auto* ctx = static_cast<EVP_MD_CTX*>(context_);
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, out, &length);
  EVP_DigestInit_ex2(ctx, nullptr, nullptr);  // again from the start, with the same digest
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), digest, &length);
  return Hex(digest, length);
}

std::uint64_t Fnv1a64(std::string_view data) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace weir

// Content hashing. SHA-256 identifies DAG file versions and rendered task configs: stable across
// machines and releases, so a hash recorded today still means the same bytes for an auditor.
#ifndef WEIR_COMMON_HASH_H_
#define WEIR_COMMON_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace weir {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// SHA-256 over data given in pieces (a large file read in chunks).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Lower-case hex of the digest of everything given; the object is spent afterwards.
  std::string HexDigest();
  // The 32 bytes of the digest of everything given; the object starts over afterwards, so that
  // one hasher can digest many small records without allocating.
  void DigestAndReset(unsigned char out[32]);

 private:
  void* context_;  // EVP_MD_CTX, kept out of this header
};

// A fast, stable 64-bit FNV-1a hash; not for security, for deterministic choices (jitter).
std::uint64_t Fnv1a64(std::string_view data);

}  // namespace weir

#endif  // WEIR_COMMON_HASH_H_

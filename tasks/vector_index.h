// FAISS indexes of the `embed` kind (docs/tasks.md#embed), behind a small interface so that FAISS
// headers stay in one file.
#ifndef WEIR_TASKS_VECTOR_INDEX_H_
#define WEIR_TASKS_VECTOR_INDEX_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace weir::tasks {

struct IndexSpec {
  std::string factory = "HNSW32";  // a faiss::index_factory description: Flat, HNSW32, IVF64,Flat
  std::string metric = "ip";       // ip (inner product: cosine on normalised vectors) | l2
};

// Builds an index of `n` vectors of `dim` floats (row-major) with the given ids, trained first
// when the factory needs it, and writes it to `path`. Errors (a factory FAISS does not know,
// too few vectors to train) say why; nothing is written then.
[[nodiscard]] Result<void> WriteVectorIndex(const IndexSpec& spec, int dim, const float* vectors,
                                            const std::int64_t* ids, std::size_t n,
                                            const std::filesystem::path& path);

struct VectorHit {
  std::int64_t id = 0;
  float score = 0;  // ip: the inner product (higher is nearer); l2: the squared distance
};
// The `k` nearest vectors to `query` in the index at `path`, nearest first.
[[nodiscard]] Result<std::vector<VectorHit>> SearchVectorIndex(const std::filesystem::path& path,
                                                               const std::vector<float>& query,
                                                               int k);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_VECTOR_INDEX_H_

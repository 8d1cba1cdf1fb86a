#include "tasks/vector_index.h"

#include <faiss/Index.h>
#include <faiss/IndexIDMap.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <fmt/format.h>

#include <exception>
#include <memory>

namespace weir::tasks {

Result<void> WriteVectorIndex(const IndexSpec& spec, int dim, const float* vectors,
                              const std::int64_t* ids, std::size_t n,
                              const std::filesystem::path& path) {
  const faiss::MetricType metric =
      spec.metric == "l2" ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  try {
    std::unique_ptr<faiss::Index> index(faiss::index_factory(dim, spec.factory.c_str(), metric));
    if (!index->is_trained) index->train(static_cast<faiss::Index::idx_t>(n), vectors);
    try {
      index->add_with_ids(static_cast<faiss::Index::idx_t>(n), vectors, ids);
    } catch (const faiss::FaissException&) {
      // Flat and HNSW keep no ids of their own: an IDMap around them does.
      auto mapped = std::make_unique<faiss::IndexIDMap>(index.release());
      mapped->own_fields = true;
      mapped->add_with_ids(static_cast<faiss::Index::idx_t>(n), vectors, ids);
      index = std::move(mapped);
    }
    faiss::write_index(index.get(), path.c_str());
    return {};
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return Fail(ErrorCode::kInvalidArgument, fmt::format("FAISS index '{}' ({} vectors of {}): {}",
                                                         spec.factory, n, dim, e.what()));
  }
}

Result<std::vector<VectorHit>> SearchVectorIndex(const std::filesystem::path& path,
                                                 const std::vector<float>& query, int k) {
  try {
    std::unique_ptr<faiss::Index> index(faiss::read_index(path.c_str()));
    if (static_cast<std::size_t>(index->d) != query.size()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} holds vectors of dimension {}, the query has {}", path.string(),
                              index->d, query.size()));
    }
    std::vector<float> scores(k);
    std::vector<faiss::Index::idx_t> ids(k);
    index->search(1, query.data(), k, scores.data(), ids.data());
    std::vector<VectorHit> hits;
    for (int i = 0; i < k; ++i) {
      if (ids[i] >= 0) hits.push_back({ids[i], scores[i]});
    }
    return hits;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("cannot search {}: {}", path.string(), e.what()));
  }
}

}  // namespace weir::tasks

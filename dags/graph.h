// The task graph of one DAG (Boost.Graph inside): topological order, cycle detection,
// upstream/downstream sets. Vertices are task indexes; an edge u -> v means v depends on u.
#ifndef WEIR_DAGS_GRAPH_H_
#define WEIR_DAGS_GRAPH_H_

#include <string>
#include <vector>

#include "common/error.h"

namespace weir::dags {

class TaskGraph {
 public:
  TaskGraph() = default;

  // Builds the graph of `n` tasks from `edges` (upstream, downstream). On a cycle the error names
  // its tasks in dependency order, "a -> b -> c -> a", using `names` (one per vertex), and
  // `cycle` (when given) receives those vertices.
  [[nodiscard]] static Result<TaskGraph> Build(int n, const std::vector<std::pair<int, int>>& edges,
                                               const std::vector<std::string>& names,
                                               std::vector<int>* cycle = nullptr);

  int size() const { return static_cast<int>(upstream_.size()); }
  const std::vector<int>& TopologicalOrder() const { return topo_order_; }
  const std::vector<int>& Upstream(int v) const { return upstream_[v]; }
  const std::vector<int>& Downstream(int v) const { return downstream_[v]; }
  // Every task `v` depends on, directly or not (sorted).
  std::vector<int> AllUpstream(int v) const;
  // Every task that depends on `v`, directly or not (sorted).
  std::vector<int> AllDownstream(int v) const;
  // For each vertex, how many tasks are downstream of it (the default priority weight).
  std::vector<int> DownstreamCounts() const;

 private:
  std::vector<std::vector<int>> upstream_;
  std::vector<std::vector<int>> downstream_;
  std::vector<int> topo_order_;
};

}  // namespace weir::dags

#endif  // WEIR_DAGS_GRAPH_H_

#include "dags/graph.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <random>

namespace weir::dags {
namespace {

using Edges = std::vector<std::pair<int, int>>;

std::vector<std::string> Names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("t" + std::to_string(i));
  return names;
}

TaskGraph MustBuild(int n, const Edges& edges) {
  auto graph = TaskGraph::Build(n, edges, Names(n));
  REQUIRE(graph.has_value());
  return std::move(*graph);
}

// Position of each vertex in the order; the order must hold every vertex exactly once.
std::vector<int> Positions(const std::vector<int>& order, int n) {
  REQUIRE(static_cast<int>(order.size()) == n);
  std::vector<int> position(n, -1);
  for (int i = 0; i < n; ++i) {
    REQUIRE(order[i] >= 0);
    REQUIRE(order[i] < n);
    REQUIRE(position[order[i]] == -1);
    position[order[i]] = i;
  }
  return position;
}

// The vertices reachable from `v` along `edges` (forward) by breadth-first search, sorted.
std::vector<int> NaiveReachable(int n, const Edges& edges, int v, bool forward) {
  std::vector<std::vector<int>> next(n);
  for (auto [from, to] : edges) {
    if (forward) {
      next[from].push_back(to);
    } else {
      next[to].push_back(from);
    }
  }
  std::vector<bool> seen(n, false);
  std::deque<int> queue = {v};
  std::vector<int> out;
  while (!queue.empty()) {
    int u = queue.front();
    queue.pop_front();
    for (int w : next[u]) {
      if (!seen[w]) {
        seen[w] = true;
        out.push_back(w);
        queue.push_back(w);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A random DAG on `n` vertices: edges go from lower to higher rank in a shuffled ranking, so the
// vertex numbers do not give a topological order away. Deterministic for a seed (mt19937's output
// is fixed by the standard; distributions are not, so none is used).
Edges RandomDag(int n, int edge_count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> rank(n);
  for (int i = 0; i < n; ++i) rank[i] = i;
  for (int i = n - 1; i > 0; --i) std::swap(rank[i], rank[rng() % (i + 1)]);
  Edges edges;
  while (static_cast<int>(edges.size()) < edge_count) {
    int a = static_cast<int>(rng() % n);
    int b = static_cast<int>(rng() % n);
    if (a == b) continue;
    if (a > b) std::swap(a, b);
    edges.emplace_back(rank[a], rank[b]);
  }
  return edges;
}

TEST_CASE("the topological order puts every task after all of its upstream tasks", "[dags]") {
  //   4 -> 2 -> 0
  //   4 -> 3 -> 0 -> 1,  5 alone
  Edges edges = {{4, 2}, {2, 0}, {4, 3}, {3, 0}, {0, 1}};
  TaskGraph graph = MustBuild(6, edges);
  CHECK(graph.size() == 6);
  std::vector<int> position = Positions(graph.TopologicalOrder(), 6);
  for (auto [from, to] : edges) {
    INFO(from << " -> " << to);
    CHECK(position[from] < position[to]);
  }
}

TEST_CASE("the topological order of a random 300-task DAG respects every edge", "[dags]") {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    Edges edges = RandomDag(300, 1200, seed);
    TaskGraph graph = MustBuild(300, edges);
    std::vector<int> position = Positions(graph.TopologicalOrder(), 300);
    for (auto [from, to] : edges) REQUIRE(position[from] < position[to]);
  }
}

TEST_CASE("Upstream and Downstream list the direct neighbours", "[dags]") {
  TaskGraph graph = MustBuild(4, {{0, 2}, {1, 2}, {2, 3}});
  CHECK(graph.Upstream(2) == std::vector<int>{0, 1});
  CHECK(graph.Downstream(2) == std::vector<int>{3});
  CHECK(graph.Upstream(0).empty());
  CHECK(graph.Downstream(3).empty());
}

TEST_CASE("an empty graph and a graph without edges build", "[dags]") {
  TaskGraph empty = MustBuild(0, {});
  CHECK(empty.size() == 0);
  CHECK(empty.TopologicalOrder().empty());
  CHECK(empty.DownstreamCounts().empty());

  TaskGraph loose = MustBuild(3, {});
  Positions(loose.TopologicalOrder(), 3);
  CHECK(loose.DownstreamCounts() == std::vector<int>{0, 0, 0});
  CHECK(loose.AllUpstream(1).empty());
}

TEST_CASE("a cycle is refused and named in dependency order", "[dags]") {
  std::vector<std::string> names = {"extract", "clean", "features", "train"};
  // extract -> clean -> features -> extract, and train after features.
  std::vector<int> cycle;
  auto graph = TaskGraph::Build(4, {{0, 1}, {1, 2}, {2, 0}, {2, 3}}, names, &cycle);
  REQUIRE_FALSE(graph);
  CHECK(graph.error().code == ErrorCode::kInvalidArgument);
  CHECK(graph.error().message == "dependency cycle: extract -> clean -> features -> extract");
  CHECK(cycle == std::vector<int>{0, 1, 2});
}

TEST_CASE("a cycle away from the first task is named without its way in", "[dags]") {
  std::vector<std::string> names = {"root", "a", "b", "c", "leaf"};
  // root -> a -> b -> c -> a, c -> leaf: root is upstream of the cycle, not part of it.
  std::vector<int> cycle;
  auto graph = TaskGraph::Build(5, {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {3, 4}}, names, &cycle);
  REQUIRE_FALSE(graph);
  CHECK(graph.error().message == "dependency cycle: a -> b -> c -> a");
  CHECK(cycle == std::vector<int>{1, 2, 3});
}

TEST_CASE("two tasks depending on each other and a self-loop are cycles", "[dags]") {
  auto pair = TaskGraph::Build(2, {{0, 1}, {1, 0}}, {"x", "y"});
  REQUIRE_FALSE(pair);
  CHECK(pair.error().message == "dependency cycle: x -> y -> x");
  auto self = TaskGraph::Build(2, {{1, 1}}, {"x", "y"});
  REQUIRE_FALSE(self);
  CHECK(self.error().message == "dependency cycle: y -> y");
}

TEST_CASE("AllUpstream and AllDownstream follow edges transitively and return sorted sets",
          "[dags]") {
  // 0 -> 1 -> 3 -> 5
  // 0 -> 2 -> 3,  2 -> 4,  6 alone
  TaskGraph graph = MustBuild(7, {{0, 1}, {1, 3}, {3, 5}, {0, 2}, {2, 3}, {2, 4}});
  CHECK(graph.AllUpstream(5) == std::vector<int>{0, 1, 2, 3});
  CHECK(graph.AllUpstream(4) == std::vector<int>{0, 2});
  CHECK(graph.AllUpstream(0).empty());
  CHECK(graph.AllDownstream(0) == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(graph.AllDownstream(2) == std::vector<int>{3, 4, 5});
  CHECK(graph.AllDownstream(5).empty());
  CHECK(graph.AllDownstream(6).empty());
  CHECK(graph.AllUpstream(6).empty());
}

TEST_CASE("DownstreamCounts counts a task below two paths of a diamond once", "[dags]") {
  // 0 -> 1 -> 3,  0 -> 2 -> 3,  3 -> 4: task 3 and 4 are below both 1 and 2.
  TaskGraph graph = MustBuild(5, {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}});
  CHECK(graph.DownstreamCounts() == std::vector<int>{4, 2, 2, 1, 0});
}

TEST_CASE("DownstreamCounts ignores a repeated edge", "[dags]") {
  TaskGraph graph = MustBuild(3, {{0, 1}, {0, 1}, {1, 2}});
  CHECK(graph.DownstreamCounts() == std::vector<int>{2, 1, 0});
  CHECK(graph.AllDownstream(0) == std::vector<int>{1, 2});
}

TEST_CASE("DownstreamCounts and the transitive sets of a random 300-task DAG match a naive BFS",
          "[dags]") {
  // 300 vertices span several 64-vertex blocks of the bitset algorithm, with a partial last one.
  for (std::uint32_t seed : {7u, 42u, 2026u}) {
    for (int edge_count : {150, 600, 3000}) {
      INFO("seed " << seed << ", " << edge_count << " edges");
      Edges edges = RandomDag(300, edge_count, seed);
      TaskGraph graph = MustBuild(300, edges);
      std::vector<int> counts = graph.DownstreamCounts();
      REQUIRE(counts.size() == 300);
      for (int v = 0; v < 300; ++v) {
        INFO("vertex " << v);
        std::vector<int> down = NaiveReachable(300, edges, v, true);
        std::vector<int> up = NaiveReachable(300, edges, v, false);
        REQUIRE(counts[v] == static_cast<int>(down.size()));
        REQUIRE(graph.AllDownstream(v) == down);
        REQUIRE(graph.AllUpstream(v) == up);
      }
    }
  }
}

TEST_CASE("DownstreamCounts of a long chain counts every later task", "[dags]") {
  const int n = 1000;
  Edges edges;
  for (int i = 0; i + 1 < n; ++i) edges.emplace_back(i, i + 1);
  std::vector<int> counts = MustBuild(n, edges).DownstreamCounts();
  for (int i = 0; i < n; ++i) REQUIRE(counts[i] == n - 1 - i);
}

}  // namespace
}  // namespace weir::dags

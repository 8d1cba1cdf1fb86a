// The drift statistics against scipy 1.10 (Debian's /usr/bin/python3): deterministic random
// samples are written to a temporary file, a short inline script computes scipy's values, and
// ours must agree to 1e-6 relative. Hand-checked and degenerate cases need no Python.
#include "tasks/drift.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using Sample = std::vector<double>;
using Counts = std::vector<std::int64_t>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Reads blocks of three lines (kind, reference, current) from argv[1] and prints scipy's
// values for each block on one line; values below 1e-300 print as 0.
constexpr const char* kScipyScript = R"py(
import sys
import numpy as np
from scipy import stats
from scipy.spatial import distance

def show(*values):
    print(*(repr(0.0 if abs(float(v)) < 1e-300 else float(v)) for v in values))

def psi(ref, cur, bins, eps):
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    def shares(x):
        n = np.bincount(np.searchsorted(edges, x, side='left'), minlength=len(edges) + 1)
        return np.where(n == 0, eps, n / len(x))
    r, c = shares(ref), shares(cur)
    return np.sum((c - r) * np.log(c / r))

lines = open(sys.argv[1]).read().splitlines()
for kind, a, b in zip(lines[0::3], lines[1::3], lines[2::3]):
    if kind == 'ks':
        a, b = np.array(a.split(), float), np.array(b.split(), float)
        result = stats.ks_2samp(a, b)
        show(result.statistic, result.pvalue)
    elif kind == 'continuous':
        a, b = np.array(a.split(), float), np.array(b.split(), float)
        show(stats.wasserstein_distance(a, b), np.std(a), psi(a, b, 10, 1e-4), psi(a, b, 4, 1e-3))
    elif kind == 'counts':
        a, b = np.array(a.split(), np.int64), np.array(b.split(), np.int64)
        keep = (a + b) > 0
        chi2, p, dof = stats.chi2_contingency(np.array([a[keep], b[keep]]))[:3]
        show(chi2, p, dof, distance.jensenshannon(a, b))
)py";

// Whether /usr/bin/python3 has scipy; the cross-checks skip themselves when it has not.
bool HaveScipy() {
  static const bool have =
      std::system("/usr/bin/python3 -c 'import scipy.stats, scipy.spatial' 2>/dev/null") == 0;
  return have;
}

template <typename T>
std::string Join(const std::vector<T>& values) {
  std::ostringstream out;
  out << std::setprecision(17);
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? " " : "") << values[i];
  return out.str();
}

// Runs kScipyScript on `input` (blocks of kind, reference, current) and returns the numbers
// it prints, in order.
std::vector<double> Scipy(const std::string& input) {
  testing::TempDir dir;
  dir.Write("drift.py", kScipyScript);
  dir.Write("input.txt", input);
  const std::string command = "/usr/bin/python3 " + (dir / "drift.py").string() + " " +
                              (dir / "input.txt").string() + " > " + (dir / "out.txt").string();
  REQUIRE(std::system(command.c_str()) == 0);
  std::istringstream out(testing::ReadFile(dir / "out.txt"));
  std::vector<double> numbers;
  for (std::string token; out >> token;) numbers.push_back(std::strtod(token.c_str(), nullptr));
  return numbers;
}

// Within 1e-6 relative of scipy's value, or both below 1e-300.
bool Agrees(double ours, double theirs) {
  return std::abs(ours - theirs) <= 1e-6 * std::abs(theirs) + 1e-300;
}

std::string Show(double ours, double theirs) {
  std::ostringstream out;
  out << std::setprecision(17) << "ours " << ours << ", scipy " << theirs;
  return out.str();
}

// `n` normal values; rounded to multiples of `step` when it is positive, which makes ties.
Sample Normal(std::mt19937& rng, std::size_t n, double mean, double sd = 1.0, double step = 0) {
  std::normal_distribution<double> normal(mean, sd);
  Sample out(n);
  for (double& v : out) {
    v = normal(rng);
    if (step > 0) v = std::round(v / step) * step;
  }
  return out;
}

// `count` values of the sorted `sorted`, every `stride`-th from `first` (the last one repeated
// past the end), plus `shift`: a sample that tracks the quantiles of the other closely.
Sample Stride(Sample sorted, std::size_t first, std::size_t stride, std::size_t count,
              double shift = 0) {
  std::sort(sorted.begin(), sorted.end());
  Sample out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(sorted[std::min(first + i * stride, sorted.size() - 1)] + shift);
  }
  return out;
}

struct Pair {
  std::string name;
  Sample reference, current;
};

TEST_CASE("identical samples have a KS statistic of 0, a p-value of 1 and no drift", "[drift]") {
  std::mt19937 rng(1);
  for (std::size_t n : {1, 7, 500, 20000}) {
    INFO(n);
    const Sample a = Normal(rng, n, 0);
    const KsResult ks = KolmogorovSmirnov(a, a);
    CHECK(ks.statistic == 0);
    CHECK(ks.p_value == 1);
    CHECK(Wasserstein(a, a) == 0);
    CHECK(PopulationStabilityIndex(a, a) == 0);
  }
  const Sample constant(50, 3.25);
  CHECK(KolmogorovSmirnov(constant, constant).p_value == 1);
  CHECK(PopulationStabilityIndex(constant, constant) == 0);
  CHECK(StandardDeviation(constant) == 0);
}

TEST_CASE("disjoint samples have a KS statistic of 1 and the exact p-value 2 / C(m+n, n)",
          "[drift]") {
  const KsResult five = KolmogorovSmirnov(Sample{1, 2, 3, 4, 5}, Sample{6, 7, 8, 9, 10});
  CHECK(five.statistic == 1);
  CHECK(five.p_value == Approx(2.0 / 252).epsilon(1e-12));
  const KsResult unequal = KolmogorovSmirnov(Sample{10, 11, 12}, Sample{-4, -3, -2, -1});
  CHECK(unequal.statistic == 1);
  CHECK(unequal.p_value == Approx(2.0 / 35).epsilon(1e-12));
  // Two far-apart constants, and one value against one.
  CHECK(KolmogorovSmirnov(Sample(30, 1.0), Sample(40, 2.0)).statistic == 1);
  CHECK(KolmogorovSmirnov(Sample{0}, Sample{1}).p_value == 1);
}

TEST_CASE("the KS test agrees with scipy's ks_2samp in its exact and asymptotic methods",
          "[drift]") {
  if (!HaveScipy()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import scipy");
    return;
  }
  std::mt19937 rng(20240611);
  const Sample big = Normal(rng, 20000, 0);
  std::vector<Pair> pairs = {
      // Exact: unequal sizes (the lattice-path recursion), equal sizes (the reflection sum).
      {"7 vs 11", Normal(rng, 7, 0), Normal(rng, 11, 0.8)},
      {"7 vs 11 with ties", Normal(rng, 7, 0, 2, 1), Normal(rng, 11, 1, 2, 1)},
      {"1 vs 5", Normal(rng, 1, 0), Normal(rng, 5, 0)},
      {"50 vs 50", Normal(rng, 50, 0), Normal(rng, 50, 0.5)},
      {"200 vs 200 with ties", Normal(rng, 200, 0, 1, 0.5), Normal(rng, 200, 0.2, 1, 0.5)},
      {"130 vs 90 with ties", Normal(rng, 130, 0, 1, 0.25), Normal(rng, 90, 0, 1.3, 0.25)},
      {"1000 vs 1500", Normal(rng, 1000, 0), Normal(rng, 1500, 0.05)},
      {"3000 vs 2000, far apart", Normal(rng, 3000, 0), Normal(rng, 2000, 1)},
      {"1200 vs 1200, far apart", Normal(rng, 1200, 0), Normal(rng, 1200, 1.5)},
      {"10000 vs 8000", Normal(rng, 10000, 0), Normal(rng, 8000, 0.02)},
      // Asymptotic (a sample above 10,000): kstwo.sf at n = round(m n / (m + n)) in each of
      // Simard and L'Ecuyer's regions.
      {"12000 vs 15000 (Pelz-Good)", Normal(rng, 12000, 0), Normal(rng, 15000, 0.005)},
      {"12000 vs 15000 (Smirnov sum)", Normal(rng, 12000, 0), Normal(rng, 15000, 0.05)},
      {"12000 vs 15000 (p underflows)", Normal(rng, 12000, 0), Normal(rng, 15000, 1)},
      {"11000 vs 11000 with ties", Normal(rng, 11000, 0, 1, 0.1), Normal(rng, 11000, 0.03, 1, 0.1)},
      {"20000 vs 1000 (Durbin)", big, Stride(big, 45, 20, 1000)},
      {"20000 vs 1000 (Durbin, wider)", big, Stride(big, 10, 20, 1000, 0.02)},
      {"20000 vs 1000 (n x <= 1)", big, Stride(big, 19, 20, 1000)},
      {"20000 vs 100 (Durbin, small n)", big, Stride(big, 100, 200, 100, 0.1)},
      {"20000 vs 100 (Pomeranz region)", big, Stride(big, 100, 200, 100, 0.35)},
      {"20000 vs 100 (Smirnov, small n)", big, Stride(big, 100, 200, 100, 1)},
      {"20000 vs 100 (x >= 0.5)", big, Stride(big, 100, 200, 100, 2)},
      {"20000 vs 3 (n x <= 1, small n)", big, Stride(big, 6000, 4000, 3)},
      {"20000 vs 3 (n x >= n - 1)", big, Stride(big, 18000, 500, 3)},
      {"20000 vs 30", big, Normal(rng, 30, 0.2)},
  };
  std::string input;
  for (const Pair& p : pairs) input += "ks\n" + Join(p.reference) + "\n" + Join(p.current) + "\n";
  const std::vector<double> scipy = Scipy(input);
  REQUIRE(scipy.size() == 2 * pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const KsResult ours = KolmogorovSmirnov(pairs[i].reference, pairs[i].current);
    INFO(pairs[i].name);
    INFO("statistic: " << Show(ours.statistic, scipy[2 * i]));
    INFO("p-value: " << Show(ours.p_value, scipy[2 * i + 1]));
    CHECK(Agrees(ours.statistic, scipy[2 * i]));
    CHECK(Agrees(ours.p_value, scipy[2 * i + 1]));
  }
}

TEST_CASE("Wasserstein, the standard deviation and PSI agree with scipy and numpy", "[drift]") {
  if (!HaveScipy()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import scipy");
    return;
  }
  std::mt19937 rng(7);
  const std::vector<Pair> pairs = {
      {"7 vs 11", Normal(rng, 7, 0), Normal(rng, 11, 0.5)},
      {"100 vs 100", Normal(rng, 100, 0), Normal(rng, 100, 0.3, 1.5)},
      {"ties that merge quantile edges", Normal(rng, 400, 0, 1, 1), Normal(rng, 300, 0.5, 1, 1)},
      {"a constant reference", Sample(40, 2.0), Normal(rng, 60, 2, 1, 0.5)},
      {"current outside the reference", Normal(rng, 500, 0), Normal(rng, 500, 10)},
      {"5000 vs 20000", Normal(rng, 5000, 0), Normal(rng, 20000, 0.1, 1.2)},
  };
  std::string input;
  for (const Pair& p : pairs) {
    input += "continuous\n" + Join(p.reference) + "\n" + Join(p.current) + "\n";
  }
  const std::vector<double> scipy = Scipy(input);
  REQUIRE(scipy.size() == 4 * pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const Pair& p = pairs[i];
    INFO(p.name);
    const double ours[] = {Wasserstein(p.reference, p.current), StandardDeviation(p.reference),
                           PopulationStabilityIndex(p.reference, p.current, 10, 1e-4),
                           PopulationStabilityIndex(p.reference, p.current, 4, 1e-3)};
    const char* names[] = {"wasserstein", "std", "psi, 10 bins", "psi, 4 bins"};
    for (int k = 0; k < 4; ++k) {
      INFO(names[k] << ": " << Show(ours[k], scipy[4 * i + k]));
      CHECK(Agrees(ours[k], scipy[4 * i + k]));
    }
  }
}

TEST_CASE(
    "chi-squared and Jensen-Shannon agree with scipy, with Yates's correction for 2 "
    "categories",
    "[drift]") {
  if (!HaveScipy()) {
    WARN("SKIPPED: /usr/bin/python3 cannot import scipy");
    return;
  }
  std::mt19937 rng(99);
  const auto counts = [&](std::size_t k, int high) {
    std::uniform_int_distribution<std::int64_t> count(0, high);
    Counts out(k);
    for (auto& c : out) c = count(rng);
    return out;
  };
  struct CountPair {
    std::string name;
    Counts reference, current;
  };
  const std::vector<CountPair> pairs = {
      {"2 categories", {120, 80}, {100, 110}},
      {"2 categories, nearly equal (Yates capped)", {50, 51}, {50, 50}},
      {"2 categories, small counts", {3, 1}, {0, 4}},
      {"2 categories, large counts", {400000, 600000}, {410000, 590000}},
      {"3 categories with one empty in both", {10, 0, 30}, {20, 0, 25}},
      {"5 categories", counts(5, 200), counts(5, 200)},
      {"12 categories", counts(12, 50), counts(12, 60)},
      {"a category only in current", {100, 200, 0}, {90, 210, 15}},
      {"a tiny p-value", {100000, 1000, 5000}, {1000, 100000, 5000}},
      {"proportional counts", {10, 20, 30}, {20, 40, 60}},
  };
  std::string input;
  for (const CountPair& p : pairs) {
    input += "counts\n" + Join(p.reference) + "\n" + Join(p.current) + "\n";
  }
  const std::vector<double> scipy = Scipy(input);
  REQUIRE(scipy.size() == 4 * pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const CountPair& p = pairs[i];
    INFO(p.name);
    const ChiSquaredResult chi = ChiSquared(p.reference, p.current);
    const double js = JensenShannon(p.reference, p.current);
    INFO("statistic: " << Show(chi.statistic, scipy[4 * i]));
    INFO("p-value: " << Show(chi.p_value, scipy[4 * i + 1]));
    INFO("jensen-shannon: " << Show(js, scipy[4 * i + 3]));
    CHECK(Agrees(chi.statistic, scipy[4 * i]));
    CHECK(Agrees(chi.p_value, scipy[4 * i + 1]));
    CHECK(chi.degrees_of_freedom == scipy[4 * i + 2]);
    CHECK(Agrees(js, scipy[4 * i + 3]));
  }
}

TEST_CASE("hand-checked values of PSI, Wasserstein, the deviation, chi-squared and JS", "[drift]") {
  // A constant against another: bins (-inf, 1] and (1, inf), shares (1, eps) and (eps, 1).
  const double eps = 1e-4;
  CHECK(PopulationStabilityIndex(Sample(10, 1.0), Sample(20, 2.0), 10, eps) ==
        Approx(2 * (1 - eps) * std::log(1 / eps)).epsilon(1e-12));
  // A value on an edge counts in the bin below it: {1, 2, 3, 4} in 2 bins has its edge at 2.5,
  // so 2.5 joins 1 and 2 in the lower half and the shares stay (1/2, 1/2).
  CHECK(PopulationStabilityIndex(Sample{1, 2, 3, 4}, Sample{1, 2.5, 3, 4}, 2) == 0);
  CHECK(PopulationStabilityIndex(Sample{1, 2, 3, 4}, Sample{1, 2.6, 3, 4}, 2) > 0);
  CHECK(Wasserstein(Sample{0, 1, 3}, Sample{5, 6, 8}) == Approx(5));
  CHECK(Wasserstein(Sample{0, 10}, Sample{5}) == Approx(5));
  CHECK(StandardDeviation(Sample{2, 4, 4, 4, 5, 5, 7, 9}) == Approx(2));
  // [[10, 20], [20, 10]]: expected 15 everywhere; Yates moves each count 0.5 closer.
  const ChiSquaredResult yates = ChiSquared(Counts{10, 20}, Counts{20, 10});
  CHECK(yates.statistic == Approx(4 * 4.5 * 4.5 / 15));
  CHECK(yates.degrees_of_freedom == 1);
  CHECK(yates.p_value == Approx(std::erfc(std::sqrt(yates.statistic / 2))).epsilon(1e-12));
  CHECK(JensenShannon(Counts{1, 0}, Counts{0, 1}) == Approx(std::sqrt(std::log(2.0))));
  CHECK(JensenShannon(Counts{3, 5, 2}, Counts{30, 50, 20}) == 0);
}

TEST_CASE("degenerate inputs give neutral values, never NaN or an exception", "[drift]") {
  const Sample empty;
  const Sample some = {1, 2, 3};
  for (const auto& [a, b] : {std::pair{empty, some}, {some, empty}, {empty, empty}}) {
    const KsResult ks = KolmogorovSmirnov(a, b);
    CHECK(ks.statistic == 0);
    CHECK(ks.p_value == 1);
    CHECK(PopulationStabilityIndex(a, b) == 0);
    CHECK(Wasserstein(a, b) == 0);
  }
  CHECK(StandardDeviation(empty) == 0);
  CHECK(StandardDeviation(Sample{4.5}) == 0);
  CHECK(StandardDeviation(Sample(1000, 0.1)) == 0);

  // NaN values are left out.
  const KsResult with_nan = KolmogorovSmirnov(Sample{1, kNaN, 2, 3}, Sample{3, 2, 1, kNaN});
  CHECK(with_nan.statistic == 0);
  CHECK(with_nan.p_value == 1);
  CHECK(StandardDeviation(Sample{kNaN, 2, 4}) == 1);
  CHECK(KolmogorovSmirnov(Sample{kNaN}, some).p_value == 1);
  CHECK(std::isfinite(PopulationStabilityIndex(Sample{kNaN, 1, 1, 1}, Sample{1, kNaN, 5})));
  CHECK(Wasserstein(Sample{kNaN, 0}, Sample{1}) == 1);
  // Infinite values, odd bins and epsilon stay finite.
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::isfinite(PopulationStabilityIndex(Sample{-inf, 0, 1, inf}, Sample{0, 1, 2})));
  CHECK(std::isfinite(PopulationStabilityIndex(some, Sample{7, 8}, 0, 0)));
  CHECK(std::isfinite(PopulationStabilityIndex(some, Sample{7, 8}, -3, -1)));
  CHECK(PopulationStabilityIndex(some, Sample{7, 8}, 1) == 0);  // one bin: no drift to see

  // A single category, empty samples and empty lists: statistic 0, p 1, dof 0.
  for (const auto& [a, b] : {std::pair{Counts{5}, Counts{9}},
                             {Counts{0, 0}, Counts{3, 4}},
                             {Counts{}, Counts{}},
                             {Counts{0, 7, 0}, Counts{0, 2, 0}}}) {
    const ChiSquaredResult chi = ChiSquared(a, b);
    CHECK(chi.statistic == 0);
    CHECK(chi.p_value == 1);
    CHECK(chi.degrees_of_freedom == 0);
  }
  CHECK(JensenShannon(Counts{}, Counts{}) == 0);
  CHECK(JensenShannon(Counts{0, 0}, Counts{1, 2}) == 0);
  // Lists of different lengths are padded with zero counts; negative counts count as 0.
  CHECK(ChiSquared(Counts{5, 7}, Counts{6, 8, 0}).statistic ==
        ChiSquared(Counts{5, 7}, Counts{6, 8}).statistic);
  CHECK(ChiSquared(Counts{5, -3, 7}, Counts{6, 0, 8}).statistic ==
        ChiSquared(Counts{5, 7}, Counts{6, 8}).statistic);
  CHECK(JensenShannon(Counts{1, 1}, Counts{1, 1, 0}) == 0);
}

// Sorting dominates; an accidental quadratic step would take minutes, so the bound is loose
// enough for a loaded machine.
}  // namespace
}  // namespace weir::tasks

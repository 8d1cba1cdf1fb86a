// Distribution drift between a reference sample and a current one, the statistics behind the
// `drift` check of the `validate` kind (docs/tasks.md#drift). Each agrees with its scipy
// counterpart (Debian's python3-scipy 1.10) to 1e-6 relative; tests/tasks/drift_test.cc
// cross-checks them on random data.
//
//   KsResult ks = KolmogorovSmirnov(reference, current);   // ks.statistic, ks.p_value
#ifndef WEIR_TASKS_DRIFT_H_
#define WEIR_TASKS_DRIFT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace weir::tasks {

// Population stability index of `current` against `reference` over `bins` quantile bins of the
// reference (edges at its 1/bins, 2/bins, ... quantiles, duplicate edges merged, the outer
// bins open-ended); an empty bin's share is taken as `epsilon`.
// PSI = sum over bins of (cur - ref) * ln(cur / ref). Both samples non-empty.
double PopulationStabilityIndex(std::span<const double> reference, std::span<const double> current,
                                int bins = 10, double epsilon = 1e-4);

// Two-sample, two-sided Kolmogorov-Smirnov test: scipy.stats.ks_2samp(reference, current) with
// its default method (exact p-value for small samples, the asymptotic one for large).
struct KsResult {
  double statistic = 0;
  double p_value = 1;
};
KsResult KolmogorovSmirnov(std::span<const double> reference, std::span<const double> current);

// The first Wasserstein (earth mover's) distance: scipy.stats.wasserstein_distance.
double Wasserstein(std::span<const double> reference, std::span<const double> current);
// The population standard deviation (numpy.std, ddof=0); the drift check divides the
// Wasserstein distance by that of the reference.
double StandardDeviation(std::span<const double> values);

// Categorical samples as counts per category; both lists in the same category order, one
// entry per category seen in either sample.
struct ChiSquaredResult {
  double statistic = 0;
  double p_value = 1;
  int degrees_of_freedom = 0;
};
// The chi-squared test of homogeneity on the 2 x K table of counts:
// scipy.stats.chi2_contingency([reference, current]) (with its Yates correction when there is
// one degree of freedom). Categories with a zero count in both are dropped first.
ChiSquaredResult ChiSquared(std::span<const std::int64_t> reference,
                            std::span<const std::int64_t> current);
// The Jensen-Shannon distance (natural logarithm) between the two count vectors normalised to
// distributions: scipy.spatial.distance.jensenshannon(reference, current).
double JensenShannon(std::span<const std::int64_t> reference, std::span<const std::int64_t> current);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_DRIFT_H_

// Distribution drift between a reference sample and a current one, the statistics behind the
// `drift` check of the `validate` kind (docs/tasks.md#drift). Each agrees with its scipy
// counterpart (Debian's python3-scipy 1.10) to 1e-6 relative; tests/tasks/drift_test.cc
// cross-checks them on random data. The sample functions leave NaN values out, never throw
// and never return NaN; none keeps state, so all may be called from any thread.
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
// reference: edges at its i/bins quantiles (numpy.quantile's default 'linear' interpolation),
// i = 1 .. bins-1, duplicate edges merged; each bin is closed on the right, (e[i-1], e[i]], so a
// value equal to an edge counts in the bin below (numpy.searchsorted(edges, x, side='left')),
// and the outer bins are open-ended. A bin's share is its count over the sample size, or
// `epsilon` when the bin is empty (no renormalising). PSI = sum of (cur - ref) * ln(cur / ref).
// 0 when either sample is empty; bins is clamped to [1, 1'000'000], a non-positive epsilon
// becomes the smallest normal double.
double PopulationStabilityIndex(std::span<const double> reference, std::span<const double> current,
                                int bins = 10, double epsilon = 1e-4);

// Two-sample, two-sided Kolmogorov-Smirnov test: scipy.stats.ks_2samp(reference, current) with
// its default method: the exact p-value while both samples have at most 10,000 values, else
// kstwo.sf(D, round(m n / (m + n))). Ties are handled as scipy does (both empirical CDFs taken
// at each pooled value). {0, 1} when either sample is empty.
struct KsResult {
  double statistic = 0;
  double p_value = 1;
};
KsResult KolmogorovSmirnov(std::span<const double> reference, std::span<const double> current);

// The first Wasserstein (earth mover's) distance: scipy.stats.wasserstein_distance. 0 when
// either sample is empty.
double Wasserstein(std::span<const double> reference, std::span<const double> current);
// The population standard deviation (numpy.std, ddof=0); the drift check divides the
// Wasserstein distance by that of the reference. Exactly 0 for a constant or empty sample.
double StandardDeviation(std::span<const double> values);

// Categorical samples as counts per category; both lists in the same category order, one
// entry per category seen in either sample (a shorter list is padded with zeros; negative
// counts count as 0).
struct ChiSquaredResult {
  double statistic = 0;
  double p_value = 1;
  int degrees_of_freedom = 0;
};
// The chi-squared test of homogeneity on the 2 x K table of counts:
// scipy.stats.chi2_contingency([reference, current]) (with its Yates correction when there is
// one degree of freedom). Categories with a zero count in both are dropped first; with fewer
// than two categories left, or an empty sample, the result is {0, 1, 0}.
ChiSquaredResult ChiSquared(std::span<const std::int64_t> reference,
                            std::span<const std::int64_t> current);
// The Jensen-Shannon distance (natural logarithm) between the two count vectors normalised to
// distributions: scipy.spatial.distance.jensenshannon(reference, current). 0 when either
// sample has no counts.
double JensenShannon(std::span<const std::int64_t> reference,
                     std::span<const std::int64_t> current);

}  // namespace weir::tasks

#endif  // WEIR_TASKS_DRIFT_H_

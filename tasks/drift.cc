#include "tasks/drift.h"

#include <algorithm>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <numeric>
#include <utility>

namespace weir::tasks {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

double Clip01(double p) { return std::clamp(p, 0.0, 1.0); }

// The values of `sample` without its NaNs, in ascending order.
std::vector<double> SortedWithoutNaN(std::span<const double> sample) {
  std::vector<double> out;
  out.reserve(sample.size());
  for (double v : sample) {
    if (!std::isnan(v)) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// numpy.quantile(sorted, q) with its default 'linear' method (Hyndman-Fan 7), including
// numpy's choice of interpolating from the nearer end. `sorted` is non-empty.
double Quantile(const std::vector<double>& sorted, double q) {
  const double index = static_cast<double>(sorted.size() - 1) * q;
  if (index >= static_cast<double>(sorted.size() - 1)) return sorted.back();
  if (index < 0) return sorted.front();
  const double below = std::floor(index);
  const double t = index - below;
  const double a = sorted[static_cast<std::size_t>(below)];
  const double b = sorted[static_cast<std::size_t>(below) + 1];
  if (a == b) return a;  // also keeps two equal infinities from making a NaN
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// ---------------------------------------------------------------------------------------------
// Two-sample Kolmogorov-Smirnov: the exact null distribution (scipy uses it while both samples
// have at most 10,000 values).

// Pr(D >= h/n) for two samples of n values each, 0 < h <= n. By reflection it is the
// alternating sum 2 * sum_k (-1)^(k+1) C(2n, n-kh) / C(2n, n), evaluated innermost-first so
// that each ratio of binomials stays a product of h factors below 1.
double ExactPValueEqualSizes(std::int64_t n, std::int64_t h) {
  double p = 0;
  for (std::int64_t k = n / h; k >= 0; --k) {
    double ratio = 1;
    for (std::int64_t j = 0; j < h; ++j) {
      ratio = static_cast<double>(n - k * h - j) * ratio / static_cast<double>(n + k * h + j + 1);
    }
    p = ratio * (1 - p);
  }
  return 2 * p;
}

// Pr(D >= h / lcm(m, n)) for samples of m and n values with gcd g: the share of monotone
// lattice paths from (0, 0) to (m, n) that touch |x n / g - y m / g| >= h. One column of the
// lattice is kept, as the share of paths reaching each cell that have already left the band
// (Hodges' inside method with Viehmann's recursion on 1 - p, which keeps its accuracy for
// tiny p-values). Only the cells inside the band are stored; those above it hold 1.
double ExactPValueUnequalSizes(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g;
  const std::int64_t ng = n / g;
  const auto floor_div = [](std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
  };
  const auto ceil_div = [](std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(std::ceil(static_cast<double>(a) / static_cast<double>(b)));
  };
  // Column x holds the cells y in [low, high).
  std::int64_t low = 0;
  std::int64_t high = std::min(ceil_div(h, mg), n + 1);
  std::int64_t length = high - low;
  std::vector<double> column(static_cast<std::size_t>(std::min(2 * high + 2, n + 1)), 1.0);
  std::fill(column.begin(), column.begin() + high, 0.0);
  const auto at = [&](std::int64_t i) {
    return i < static_cast<std::int64_t>(column.size()) ? column[i] : 1.0;
  };
  for (std::int64_t x = 1; x <= m; ++x) {
    const std::int64_t previous_low = low;
    const std::int64_t previous_length = length;
    low = std::min(std::max(floor_div(ng * x - h, mg) + 1, std::int64_t{0}), n);
    high = std::min(ceil_div(ng * x + h, mg), n + 1);
    if (high <= low) return 1.0;  // the band is closed: every path leaves it
    // Cell (x, y) is reached from (x - 1, y) by a share x / (x + y) of its paths.
    double below = low == 0 ? 0.0 : 1.0;
    for (std::int64_t y = low; y < high; ++y) {
      below = (at(y - previous_low) * static_cast<double>(x) + below * static_cast<double>(y)) /
              static_cast<double>(x + y);
      column[y - low] = below;
    }
    length = high - low;
    for (std::int64_t i = length; i < previous_length && i < std::ssize(column); ++i) {
      column[i] = 1.0;
    }
  }
  return column[high - low - 1];
}

// ---------------------------------------------------------------------------------------------
// The one-sample distribution of D_n, scipy.stats.kstwo (Simard and L'Ecuyer's choice of
// method per region), which scipy evaluates at the effective size m n / (m + n) for large
// samples.

// log(n! / n^n) by Stirling's series, without forming n log n.
double LogFactorialOverPower(double n) {
  // B_2j / (2j (2j - 1)) for j = 8 down to 1.
  static constexpr double kStirling[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                                         -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                         -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                         -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double r = 1.0 / n;
  double series = 0;
  for (double c : kStirling) series = series * (r / n) + c;
  return std::log(n) / 2 - n + std::log(2 * std::numbers::pi) / 2 + r * series;
}

// Pr(D_n <= d) exactly, by Durbin's matrix formula as computed by Marsaglia, Tsang and Wang:
// with d = (k - h) / n, the k-th diagonal entry of (n! / n^n) H^n for a (2k-1)-square H.
// Powers are rescaled by 2^128 as they grow; memory O(k^2), time O(k^3 log n).
double DurbinCdf(std::int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  const double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) return 0.0;
  const int k = static_cast<int>(std::ceil(nd));
  const double h = k - nd;
  const int m = 2 * k - 1;
  const auto square = static_cast<std::size_t>(m) * static_cast<std::size_t>(m);
  using Matrix = std::vector<double>;  // row-major m x m
  const auto multiply = [m, square](const Matrix& a, const Matrix& b) {
    Matrix c(square, 0.0);
    for (int i = 0; i < m; ++i) {
      for (int l = 0; l < m; ++l) {
        const double a_il = a[i * m + l];
        if (a_il == 0) continue;
        for (int j = 0; j < m; ++j) c[i * m + j] += a_il * b[l * m + j];
      }
    }
    return c;
  };

  // First column v[j] = (1 - h^(j+1)) / (j+1)!, last row its reverse, and w[j] = 1 / j! on and
  // below the superdiagonal; the corner gets (1 - 2 h^m + max(0, 2h - 1)^m) / m!.
  std::vector<double> v(m), w(m);
  double factorial_inverse = 1.0;
  for (int j = 1; j <= m; ++j) {
    w[j - 1] = factorial_inverse;
    factorial_inverse /= j;
    v[j - 1] = (1.0 - std::pow(h, j)) * factorial_inverse;
  }
  v[m - 1] =
      (1.0 + std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m)) * factorial_inverse;
  Matrix base(square, 0.0);
  for (int col = 1; col < m; ++col) {
    for (int row = col - 1; row < m; ++row) base[row * m + col] = w[row - col + 1];
  }
  for (int row = 0; row < m; ++row) base[row * m] = v[row];
  for (int col = 0; col < m; ++col) base[(m - 1) * m + col] = v[m - 1 - col];

  constexpr int kScaleBits = 128;
  const double kScale = std::ldexp(1.0, kScaleBits);
  const auto center = static_cast<std::size_t>(k - 1) * m + (k - 1);
  Matrix power(square, 0.0);
  for (int i = 0; i < m; ++i) power[i * m + i] = 1.0;
  std::int64_t power_exponent = 0;
  std::int64_t base_exponent = 0;
  const auto rescale = [&](Matrix& a, std::int64_t& exponent) {
    if (std::abs(a[center]) > kScale) {
      for (double& x : a) x /= kScale;
      exponent += kScaleBits;
    }
  };
  for (std::int64_t left = n; left > 0; left /= 2) {
    if (left % 2) {
      power = multiply(power, base);
      power_exponent += base_exponent;
      rescale(power, power_exponent);
    }
    base = multiply(base, base);
    base_exponent *= 2;
    rescale(base, base_exponent);
  }

  double p = power[center];
  const double kInverseScale = 1.0 / kScale;
  for (std::int64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / static_cast<double>(n);
    if (std::abs(p) < kInverseScale) {
      p *= kScale;
      power_exponent -= kScaleBits;
    }
  }
  return Clip01(
      std::ldexp(p, static_cast<int>(std::clamp<std::int64_t>(power_exponent, -100000, 100000))));
}

// Pelz and Good's approximation of Pr(D_n <= x): the Li-Chien/Korolyuk expansion
// K0 + K1/sqrt(n) + K2/n + K3/n^1.5 in z = x sqrt(n), with each term rewritten through Jacobi's
// theta identity into a series that converges fast for small z.
double PelzGoodCdf(std::int64_t n, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  constexpr double kPi = std::numbers::pi;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = std::sqrt(2 * kPi);
  const double z = std::sqrt(static_cast<double>(n)) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;

  const double log_q = -pi2 / 8 / z2;
  if (log_q < -708) return 0.0;
  const double q = std::exp(log_q);

  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
               k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
               k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);

  // Sums over odd m = 2k - 1 of c(m) q^(m^2), by Horner in q^8k.
  double terms[4] = {0, 0, 0, 0};
  const int max_k = static_cast<int>(std::ceil(16 * z / kPi));
  for (int k = max_k; k >= 1; --k) {
    const double odd = 2.0 * k - 1, odd2 = odd * odd, odd4 = odd2 * odd2, odd6 = odd4 * odd2;
    const double q_power = std::pow(q, 8.0 * k);
    const double coefficients[4] = {1.0, k1a + k1b * odd2, k2a + k2b * odd2 + k2c * odd4,
                                    k3a + k3b * odd2 + k3c * odd4 + k3d * odd6};
    for (int i = 0; i < 4; ++i) terms[i] = terms[i] * q_power + coefficients[i];
  }
  const double divisors[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
  for (int i = 0; i < 4; ++i) terms[i] = terms[i] * q * sqrt2pi / divisors[i];

  // The sums over all k of (pi k)^2 q'^(k^2) and (3 z^2 - (pi k)^2)(pi k)^2 q'^(k^2) in K2, K3.
  const double q_all = std::exp(-pi2 / 2 / z2);
  const double sqrt3z = std::sqrt(3.0) * z;
  double k2_extra = 0, k3_extra = 0;
  for (int k = max_k; k >= 1; --k) {
    const double k2 = static_cast<double>(k) * k;
    const double q_power = std::pow(q_all, k2);
    const double pik = kPi * k;
    k2_extra += k2 * q_power;
    k3_extra += (sqrt3z + pik) * (sqrt3z - pik) * k2 * q_power;
  }
  terms[2] += k2_extra * (pi2 * sqrt2pi / (-36 * z3));
  terms[3] += k3_extra * (pi2 * sqrt2pi / (216 * z6));
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += terms[i] / std::pow(static_cast<double>(n), i / 2.0);
  return sum;
}

// floor(n x) and n x - floor(n x) computed from the exact product.
std::pair<std::int64_t, double> SplitProduct(std::int64_t n, double x) {
  const double nd = static_cast<double>(n);
  const double high = nd * x;
  const double low = std::fma(nd, x, -high);
  double whole = std::floor(high);
  double fraction = (high - whole) + low;
  if (fraction < 0) {
    whole -= 1;
    fraction += 1;
  }
  if (fraction >= 1) {
    whole += 1;
    fraction = 0;
  }
  return {static_cast<std::int64_t>(whole), fraction};
}

// The one-sided Smirnov survival function Pr(D+_n >= x), scipy.special.smirnov: Smirnov's
// (Birnbaum-Tingey's) sum x sum_{v <= n(1-x)} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v),
// each term in logarithms, stopping once the rest cannot matter; like scipy, sizes above a
// million use the approximation exp(-(6nx + 1)^2 / 18n).
double SmirnovSf(std::int64_t n, double x) {
  if (!(x > 0)) return 1.0;
  if (x >= 1) return 0.0;
  if (n == 1) return 1 - x;
  const double nd = static_cast<double>(n);
  const auto [whole, fraction] = SplitProduct(n, x);
  if (whole == 0 || (whole == 1 && fraction == 0)) return Clip01(1 - x * std::pow(1 + x, nd - 1));
  constexpr double kMinLog = -7.08396418532264106224e2;  // log of the smallest normal double
  if (-2 * nd * x * x < kMinLog) return 0.0;
  if (whole >= n - 1) return std::pow(1 - x, nd);
  if (n > 1000000) {
    const double log_p = -std::pow(6.0 * nd * x + 1, 2) / 18.0 / nd;
    return log_p < -std::numbers::ln2 ? std::exp(log_p) : 1 - (-std::expm1(log_p));
  }
  // The last v with 1 - x - v/n > 0.
  const std::int64_t last = n - whole - 1 - (fraction == 0 ? 1 : 0);
  double sum = 0;
  double log_binomial = 0;  // log C(n, v)
  for (std::int64_t v = 0; v <= last; ++v) {
    const double vd = static_cast<double>(v);
    const double up = std::fma(x, nd, vd) / nd;          // x + v/n
    const double down = std::fma(-x, nd, nd - vd) / nd;  // 1 - x - v/n
    const double term =
        std::exp(log_binomial + (vd - 1) * std::log(up) + (nd - vd) * std::log(down));
    sum += term;
    if (term != 0) {
      if (4 * static_cast<double>(last + 1 - v) * term < kEpsilon * sum && v != last) break;
    } else if (v > n / 2) {
      break;
    }
    log_binomial += std::log((nd - vd) / (vd + 1));
  }
  return Clip01(x * sum);
}

// Pr(D_n >= x) for the two-sided one-sample statistic: scipy.stats.kstwo.sf(x, n).
double KolmogorovSf(std::int64_t n, double x) {
  if (x >= 1.0) return 0.0;
  if (!(x > 0.0)) return 1.0;
  const double nd = static_cast<double>(n);
  const double t = nd * x;
  if (t <= 1.0) {  // Ruben and Gambino: Pr(D_n <= x) = n!/n^n (2t - 1)^n for 1/2n <= x <= 1/n
    if (t <= 0.5) return 1.0;
    double cdf = 1;
    if (n <= 140) {
      for (std::int64_t i = 1; i <= n; ++i)
        cdf *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
    } else {
      cdf = std::exp(LogFactorialOverPower(nd) + nd * std::log(2 * t - 1));
    }
    return Clip01(1.0 - cdf);
  }
  if (t >= nd - 1) return Clip01(2 * std::pow(1.0 - x, nd));  // Ruben and Gambino
  if (x >= 0.5) return Clip01(2 * SmirnovSf(n, x));           // D+ and D- cannot both be >= x
  const double nxx = t * x;
  if (n <= 140) {
    // scipy uses Pomeranz's recursion for 0.754693 < n x^2 <= 4; both are exact.
    if (nxx <= 4) return Clip01(1.0 - DurbinCdf(n, x));
    return Clip01(2 * SmirnovSf(n, x));  // Miller's approximation
  }
  if (nxx >= 370.0) return 0.0;
  if (nxx >= 2.2) return Clip01(2 * SmirnovSf(n, x));
  const double cdf =
      (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) ? DurbinCdf(n, x) : PelzGoodCdf(n, x);
  return Clip01(1.0 - cdf);
}

}  // namespace

double PopulationStabilityIndex(std::span<const double> reference, std::span<const double> current,
                                int bins, double epsilon) {
  const std::vector<double> ref = SortedWithoutNaN(reference);
  const std::vector<double> cur = SortedWithoutNaN(current);
  if (ref.empty() || cur.empty()) return 0.0;
  bins = std::clamp(bins, 1, 1000000);
  if (!(epsilon > 0)) epsilon = std::numeric_limits<double>::min();

  std::vector<double> edges;
  edges.reserve(static_cast<std::size_t>(bins - 1));
  for (int i = 1; i < bins; ++i) edges.push_back(Quantile(ref, static_cast<double>(i) / bins));
  // Interpolating towards an infinite value gives NaN in numpy too; such edges are left out.
  std::erase_if(edges, [](double e) { return std::isnan(e); });
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());

  // Bin i holds the values in (edges[i-1], edges[i]]; both samples are sorted, so one pass.
  const auto count = [&](const std::vector<double>& sorted) {
    std::vector<std::size_t> counts(edges.size() + 1, 0);
    std::size_t bin = 0;
    for (double v : sorted) {
      while (bin < edges.size() && v > edges[bin]) ++bin;
      ++counts[bin];
    }
    return counts;
  };
  const std::vector<std::size_t> ref_counts = count(ref);
  const std::vector<std::size_t> cur_counts = count(cur);
  double psi = 0;
  for (std::size_t i = 0; i < ref_counts.size(); ++i) {
    const double r = ref_counts[i] ? static_cast<double>(ref_counts[i]) / ref.size() : epsilon;
    const double c = cur_counts[i] ? static_cast<double>(cur_counts[i]) / cur.size() : epsilon;
    psi += (c - r) * std::log(c / r);
  }
  return psi;
}

KsResult KolmogorovSmirnov(std::span<const double> reference, std::span<const double> current) {
  const std::vector<double> a = SortedWithoutNaN(reference);
  const std::vector<double> b = SortedWithoutNaN(current);
  if (a.empty() || b.empty()) return {};
  const auto n1 = static_cast<std::int64_t>(a.size());
  const auto n2 = static_cast<std::int64_t>(b.size());

  // The largest gap between the empirical CDFs, both evaluated at each distinct pooled value
  // (after all of its ties in both samples), as scipy does through searchsorted(side='right').
  double max_gap = 0, min_gap = 0;
  for (std::size_t i = 0, j = 0; i < a.size() || j < b.size();) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    const double gap = static_cast<double>(i) / static_cast<double>(n1) -
                       static_cast<double>(j) / static_cast<double>(n2);
    max_gap = std::max(max_gap, gap);
    min_gap = std::min(min_gap, gap);
  }
  double d = std::max(max_gap, std::min(-min_gap, 1.0));

  if (std::max(n1, n2) <= 10000) {
    const std::int64_t g = std::gcd(n1, n2);
    const std::int64_t lcm = (n1 / g) * n2;
    const auto h = static_cast<std::int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
    d = static_cast<double>(h) / static_cast<double>(lcm);
    if (h == 0) return {d, 1.0};
    const double p =
        n1 == n2 ? ExactPValueEqualSizes(n1, h) : ExactPValueUnequalSizes(n1, n2, g, h);
    if (p >= 0 && p <= 1) return {d, p};
    // Like scipy, fall back to the asymptotic distribution if the exact one failed numerically.
  }
  const double m = static_cast<double>(std::max(n1, n2));
  const double n = static_cast<double>(std::min(n1, n2));
  const auto effective = static_cast<std::int64_t>(std::nearbyint(m * n / (m + n)));
  return {d, Clip01(KolmogorovSf(std::max<std::int64_t>(effective, 1), d))};
}

double Wasserstein(std::span<const double> reference, std::span<const double> current) {
  const std::vector<double> a = SortedWithoutNaN(reference);
  const std::vector<double> b = SortedWithoutNaN(current);
  if (a.empty() || b.empty()) return 0.0;
  // The area between the two empirical CDFs, one step between distinct pooled values at a time.
  double distance = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    if (i == a.size() && j == b.size()) break;
    const double next = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    const double gap = std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                                static_cast<double>(j) / static_cast<double>(b.size()));
    if (gap != 0) distance += gap * (next - v);
  }
  return distance;
}

double StandardDeviation(std::span<const double> values) {
  std::vector<double> v;
  v.reserve(values.size());
  for (double x : values) {
    if (!std::isnan(x)) v.push_back(x);
  }
  if (std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); })) return 0.0;
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double squares = 0;
  for (double x : v) squares += (x - mean) * (x - mean);
  return std::sqrt(squares / n);
}

ChiSquaredResult ChiSquared(std::span<const std::int64_t> reference,
                            std::span<const std::int64_t> current) {
  // The 2 x K table without the categories empty in both, negative counts taken as 0.
  std::vector<std::pair<double, double>> table;
  const std::size_t categories = std::max(reference.size(), current.size());
  double ref_total = 0, cur_total = 0;
  for (std::size_t i = 0; i < categories; ++i) {
    const double r =
        i < reference.size() ? static_cast<double>(std::max<std::int64_t>(reference[i], 0)) : 0;
    const double c =
        i < current.size() ? static_cast<double>(std::max<std::int64_t>(current[i], 0)) : 0;
    if (r == 0 && c == 0) continue;
    table.emplace_back(r, c);
    ref_total += r;
    cur_total += c;
  }
  if (table.size() < 2 || ref_total == 0 || cur_total == 0) return {};
  const double total = ref_total + cur_total;
  const int dof = static_cast<int>(table.size()) - 1;

  double statistic = 0;
  for (const auto& [r, c] : table) {
    const double column = r + c;
    const std::pair<double, double> cells[] = {{r, ref_total}, {c, cur_total}};
    for (const auto& [observed_count, row_total] : cells) {
      const double expected = row_total * column / total;
      double observed = observed_count;
      if (dof == 1) {  // Yates: move each count up to 0.5 towards its expectation
        const double diff = expected - observed;
        observed += std::copysign(std::min(0.5, std::abs(diff)), diff);
      }
      statistic += (observed - expected) * (observed - expected) / expected;
    }
  }
  using namespace boost::math::policies;
  using NoThrow =
      policy<domain_error<ignore_error>, pole_error<ignore_error>, overflow_error<ignore_error>,
             underflow_error<ignore_error>, evaluation_error<ignore_error>>;
  double p = boost::math::gamma_q(dof / 2.0, statistic / 2.0, NoThrow());
  if (std::isnan(p)) p = 1.0;
  return {statistic, Clip01(p), dof};
}

double JensenShannon(std::span<const std::int64_t> reference,
                     std::span<const std::int64_t> current) {
  const std::size_t categories = std::max(reference.size(), current.size());
  const auto count = [](std::span<const std::int64_t> counts, std::size_t i) {
    return i < counts.size() ? static_cast<double>(std::max<std::int64_t>(counts[i], 0)) : 0.0;
  };
  double ref_total = 0, cur_total = 0;
  for (std::size_t i = 0; i < categories; ++i) {
    ref_total += count(reference, i);
    cur_total += count(current, i);
  }
  if (ref_total == 0 || cur_total == 0) return 0.0;
  // x log(x / m), 0 for x == 0: scipy.special.rel_entr.
  const auto relative_entropy = [](double x, double m) {
    return x > 0 ? x * std::log(x / m) : 0.0;
  };
  double left = 0, right = 0;
  for (std::size_t i = 0; i < categories; ++i) {
    const double p = count(reference, i) / ref_total;
    const double q = count(current, i) / cur_total;
    const double m = (p + q) / 2.0;
    left += relative_entropy(p, m);
    right += relative_entropy(q, m);
  }
  return std::sqrt(std::max(0.0, (left + right) / 2.0));
}

}  // namespace weir::tasks

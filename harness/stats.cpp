// ddbench: torch-free
#include "harness/stats.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace ddb {

namespace {

// Continued fraction for I_x(a, b) (Numerical Recipes, 3rd ed., 6.4: betacf), modified Lentz.
// Converges quickly for x < (a + 1) / (a + b + 2); the caller uses the symmetry otherwise.
double beta_continued_fraction(double a, double b, double x) {
  constexpr int kMaxIterations = 10000;
  constexpr double kEps = 1e-15;
  constexpr double kTiny = 1e-300;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));  // even step
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));  // odd step
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) return h;
  }
  return h;  // not converged to 1e-15 after 10000 terms: only for extreme a, b (not the t distribution's)
}

}  // namespace

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
    throw std::domain_error("regularized_incomplete_beta: needs a > 0, b > 0, 0 <= x <= 1");
  if (x == 0) return 0;
  if (x == 1) return 1;
  // x^a (1-x)^b / B(a, b), in logs.
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  if (!(df > 0)) throw std::domain_error("student_t_cdf: needs df > 0");
  if (std::isnan(t)) return t;
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  // P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const double tail = 0.5 * regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t));
  return t > 0 ? 1 - tail : tail;
}

double student_t_two_sided_p(double t, double df) {
  if (!(df > 0)) throw std::domain_error("student_t_two_sided_p: needs df > 0");
  if (std::isnan(t)) return t;
  if (std::isinf(t)) return 0;
  return regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

double sample_std_from_population(double population_std, int n) {
  if (n < 2) return 0;
  return population_std * std::sqrt(static_cast<double>(n) / (n - 1));
}

std::optional<WelchResult> welch_t_test(double mean_a, double std_a, int n_a, double mean_b, double std_b, int n_b) {
  if (n_a < 2 || n_b < 2) return std::nullopt;
  const double va = std_a * std_a / n_a, vb = std_b * std_b / n_b;
  WelchResult r;
  if (va + vb == 0) {
    r.df = n_a + n_b - 2;
    if (mean_a == mean_b) {
      r.t = 0;
      r.p = 1;
    } else {
      r.t = mean_a > mean_b ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
      r.p = 0;
    }
    return r;
  }
  r.t = (mean_a - mean_b) / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (n_a - 1) + vb * vb / (n_b - 1));
  r.p = student_t_two_sided_p(r.t, r.df);
  return r;
}

std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  auto summary = [](const std::vector<double>& v, double& mean, double& sd) {
    mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0;
  };
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  double ma, sa, mb, sb;
  summary(a, ma, sa);
  summary(b, mb, sb);
  return welch_t_test(ma, sa, static_cast<int>(a.size()), mb, sb, static_cast<int>(b.size()));
}

}  // namespace ddb

// Small statistics for comparing two sets of runs (ddbench regress): the regularized incomplete beta
// function, Student's t distribution and Welch's unequal-variance t-test. Written here (continued
// fraction of Numerical Recipes 6.4, evaluated with the modified Lentz method) rather than taken from a
// library, and tested against scipy.stats values (tests/unit/test_stats.cpp).
#pragma once
#include <optional>
#include <vector>

namespace ddb {

// I_x(a, b) for a, b > 0 and 0 <= x <= 1. Throws std::domain_error outside that domain.
double regularized_incomplete_beta(double a, double b, double x);

// P(T <= t) for Student's t with df > 0 degrees of freedom (df need not be an integer: Welch's is not).
double student_t_cdf(double t, double df);

// Two-sided p-value of t with df degrees of freedom: P(|T| >= |t|).
double student_t_two_sided_p(double t, double df);

struct WelchResult {
  double t = 0;   // (mean_a - mean_b) / sqrt(var_a / n_a + var_b / n_b), sample variances (ddof 1)
  double df = 0;  // Welch-Satterthwaite degrees of freedom
  double p = 1;   // two-sided
};

// Welch's t-test from summaries. `std_a`/`std_b` are *sample* standard deviations (ddof 1). nullopt when
// a side has fewer than 2 runs (no variance estimate). When both variances are 0: t = 0, p = 1 for equal
// means, otherwise t = +-inf, df = n_a + n_b - 2, p = 0 (every run of one side differs from every run of
// the other by the same amount).
std::optional<WelchResult> welch_t_test(double mean_a, double std_a, int n_a, double mean_b, double std_b, int n_b);
// The same from the raw values.
std::optional<WelchResult> welch_t_test(const std::vector<double>& a, const std::vector<double>& b);

// Sample standard deviation (ddof 1) from a population one (ddof 0, as cells and references report it).
double sample_std_from_population(double population_std, int n);

}  // namespace ddb

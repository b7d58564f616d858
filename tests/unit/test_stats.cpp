// ddbench: torch-free
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "harness/stats.h"

using namespace ddb;

// Expected values computed with SciPy 1.10.1 (/usr/bin/python3): scipy.special.betainc(a, b, x).
TEST(Stats, RegularizedIncompleteBetaMatchesScipy) {
  EXPECT_NEAR(regularized_incomplete_beta(2, 3, 0.4), 0.5247999999999999, 1e-13);
  EXPECT_NEAR(regularized_incomplete_beta(0.5, 0.5, 0.3), 0.3690101195655454, 1e-13);
  EXPECT_NEAR(regularized_incomplete_beta(10, 2.5, 0.9), 0.8121862743088557, 1e-13);
  EXPECT_NEAR(regularized_incomplete_beta(50, 0.5, 0.99), 0.31730439787419623, 1e-12);
  EXPECT_NEAR(regularized_incomplete_beta(1.5, 0.5, 0.001), 1.342515172319684e-05, 1e-16);
  EXPECT_EQ(regularized_incomplete_beta(2, 3, 0), 0);
  EXPECT_EQ(regularized_incomplete_beta(2, 3, 1), 1);
  // Symmetry I_x(a, b) = 1 - I_{1-x}(b, a); I_x(1, 1) = x.
  EXPECT_NEAR(regularized_incomplete_beta(3.5, 1.25, 0.7), 1 - regularized_incomplete_beta(1.25, 3.5, 0.3), 1e-14);
  EXPECT_NEAR(regularized_incomplete_beta(1, 1, 0.37), 0.37, 1e-15);
  EXPECT_THROW(regularized_incomplete_beta(0, 1, 0.5), std::domain_error);
  EXPECT_THROW(regularized_incomplete_beta(1, 1, 1.5), std::domain_error);
}

// scipy.stats.t.cdf(t, df), SciPy 1.10.1; df = 1 and 2 also against their closed forms.
TEST(Stats, StudentTCdfMatchesScipyAndClosedForms) {
  EXPECT_NEAR(student_t_cdf(2.0, 3), 0.9303370157205785, 1e-13);
  EXPECT_NEAR(student_t_cdf(-1.5, 7.3), 0.08778154640154301, 1e-13);
  EXPECT_NEAR(student_t_cdf(0.3, 1), 0.5927735790777423, 1e-13);
  EXPECT_NEAR(student_t_cdf(4.0, 100), 0.9999392381778497, 1e-13);
  EXPECT_NEAR(student_t_cdf(-12.0, 2.5), 0.0014181075150391613, 1e-15);
  EXPECT_NEAR(student_t_cdf(2.576, 1e6), 0.9950023966104015, 1e-10);  // ~ normal; lgamma of 5e5 costs digits
  EXPECT_DOUBLE_EQ(student_t_cdf(0.0, 5), 0.5);
  for (double t : {-7.0, -1.0, -0.2, 0.5, 3.0, 40.0}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-13) << t;            // Cauchy
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-13) << t;  // df 2
    EXPECT_NEAR(student_t_cdf(t, 4.5) + student_t_cdf(-t, 4.5), 1.0, 1e-14) << t;
  }
  EXPECT_EQ(student_t_cdf(INFINITY, 3), 1);
  EXPECT_EQ(student_t_cdf(-INFINITY, 3), 0);
  EXPECT_NEAR(student_t_two_sided_p(2.0, 3), 2 * (1 - 0.9303370157205785), 1e-13);
}

// scipy.stats.ttest_ind(a, b, equal_var=False) (statistic, pvalue), SciPy 1.10.1; df from the
// Welch-Satterthwaite formula with scipy.stats.tvar.
TEST(Stats, WelchTestMatchesScipy) {
  // The smoke suite's committed mtt-ipc1 vs tesla-ipc1 cpu references.
  auto w = welch_t_test({67.22, 66.66, 67.84}, {66.72, 67.57, 69.36});
  ASSERT_TRUE(w);
  EXPECT_NEAR(w->t, -0.7573987339310613, 1e-12);
  EXPECT_NEAR(w->df, 2.7401456204763477, 1e-12);
  EXPECT_NEAR(w->p, 0.5086039596299197, 1e-12);
  w = welch_t_test({1, 2, 3, 4, 5}, {2.5, 3.5, 9, 12});
  ASSERT_TRUE(w);
  EXPECT_NEAR(w->t, -1.5840750235697165, 1e-12);
  EXPECT_NEAR(w->df, 3.590700828688159, 1e-12);
  EXPECT_NEAR(w->p, 0.19633796022834157, 1e-12);
  w = welch_t_test({80.1, 80.5, 79.9, 80.3, 80.2}, {77.0, 76.5, 77.4, 76.9, 77.2});
  ASSERT_TRUE(w);
  EXPECT_NEAR(w->t, 17.615420242021763, 1e-10);
  EXPECT_NEAR(w->df, 6.9252782193958184, 1e-10);
  EXPECT_NEAR(w->p, 5.231082193738358e-07, 1e-15);
}

TEST(Stats, WelchFromSummariesAndEdgeCases) {
  // Population std (ddof 0, as cells store it) converted to the sample std gives the raw-value answer.
  const double pop = std::sqrt(((67.22 - 67.24) * (67.22 - 67.24) + (66.66 - 67.24) * (66.66 - 67.24) +
                                (67.84 - 67.24) * (67.84 - 67.24)) / 3);
  EXPECT_NEAR(sample_std_from_population(pop, 3), 0.5902541825349517, 1e-12);  // numpy.std(runs, ddof=1)
  EXPECT_FALSE(welch_t_test({1.0}, {1.0, 2.0}));  // n < 2: no variance estimate
  auto same = welch_t_test(5, 0, 3, 5, 0, 3);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->p, 1);
  auto apart = welch_t_test(6, 0, 3, 5, 0, 3);
  ASSERT_TRUE(apart);
  EXPECT_EQ(apart->p, 0);
  EXPECT_TRUE(std::isinf(apart->t));
}

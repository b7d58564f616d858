// ZCA whitening (kornia ZCAWhitening as MTT uses it) and the expert-trajectory cache (MTT buffer.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "datasets/registry.h"
#include "ddbench_config.h"
#include "harness/eval_protocol.h"
#include "methods/trajectory/experts.h"
#include "harness/runner.h"
#include "harness/zca.h"
#include "methods/method.h"
#include "../unit/test_helpers.h"

using namespace ddb;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

// Correlated data with a wide eigenvalue spread (so eps = 0.1 matters for some directions and not
// for others): 200 images of 1x4x4.
torch::Tensor correlated_images(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor mix = torch::randn({16, 16}) * torch::logspace(-2, 0.5, 16).unsqueeze(1);
  return (torch::randn({n, 16}).mm(mix) + torch::linspace(0, 1, 16)).view({n, 1, 4, 4});
}

torch::Tensor unbiased_cov(const torch::Tensor& x) {
  const torch::Tensor f = x.reshape({x.size(0), -1}).to(torch::kDouble);
  const torch::Tensor c = f - f.mean(0);
  return c.t().mm(c) / static_cast<double>(f.size(0) - 1);
}

// A dataset as the loader builds it: 8-bit images normalised with mean/std.
LoadedDataset normalised_dataset(int64_t n_train, int64_t n_test) {
  LoadedDataset d;
  d.info.name = "handmade";
  d.info.shape = {1, 4, 4};
  d.info.num_classes = 2;
  d.info.mean = {0.4};
  d.info.std = {0.25};
  torch::manual_seed(5);
  const torch::Tensor base = torch::randint(0, 180, {1, 1, 4, 4});
  auto make = [&](int64_t n) {
    const torch::Tensor u8 = (base + torch::randint(0, 76, {n, 1, 4, 4})).to(torch::kUInt8);
    return ((u8.to(torch::kFloat).div(255)) - 0.4f).div(0.25f);
  };
  d.train.images = make(n_train);
  d.train.labels = torch::arange(n_train) % 2;
  d.test.images = make(n_test);
  d.test.labels = torch::arange(n_test) % 2;
  d.identity = "handmade@sha256:0123456789abcdef";
  d.index_classes();
  return d;
}

const LoadedDataset& toy() {
  static const LoadedDataset d = load_dataset("toy28", {});
  return d;
}

const LoadedDataset& toy_zca() {  // the eigendecomposition (784 dims) takes ~1.5 s here: do it once
  static const LoadedDataset d = with_zca(toy());
  return d;
}

ExpertSpec tiny_spec() {
  ExpertSpec s;
  s.net = "ConvNetW32";
  s.epochs = 2;
  s.batch = 32;
  s.images_per_class = 6;  // 60 images: two batches per epoch
  return s;
}

std::vector<std::string> phases_of(ExpertCache& ec, int64_t count) {
  std::vector<std::string> phases;
  ec.ensure(count, torch::kCPU, [&phases](const std::string& phase, long done, long total) {
    phases.push_back(phase + " " + std::to_string(done) + "/" + std::to_string(total));
  });
  return phases;
}

}  // namespace

// ---- ZCA ----------------------------------------------------------------------------------------

TEST(Zca, InvertUndoesApplyOnTrainAndUnseenImages) {
  const torch::Tensor x = correlated_images(200, 1);
  const ZcaTransform z = fit_zca(x);
  EXPECT_TRUE(torch::allclose(z.invert(z.apply(x)), x, 0, 1e-4));
  const torch::Tensor unseen = correlated_images(7, 2);
  EXPECT_TRUE(torch::allclose(z.invert(z.apply(unseen)), unseen, 0, 1e-4));
  EXPECT_EQ(z.apply(x).sizes(), x.sizes());
}

TEST(Zca, WhitenedCovarianceIsShrunkIdentityInTheEigenbasis) {
  const torch::Tensor x = correlated_images(200, 3);
  const double eps = 0.1;
  const ZcaTransform z = fit_zca(x, eps);
  // Direct computation, kornia's way: svd of the unbiased covariance.
  const torch::Tensor cov = unbiased_cov(x);
  auto [u, s, vh] = torch::linalg_svd(cov, false);
  const torch::Tensor expected = (u * (s / (s + eps)).unsqueeze(0)).mm(u.t());
  const torch::Tensor got = unbiased_cov(z.apply(x));
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-4);
  // The eigenvalues of the whitened covariance are S / (S + eps): near 1 for strong directions,
  // clearly below 1 for weak ones (so the test data exercises eps).
  const torch::Tensor ev = std::get<0>(torch::linalg_eigh(got, "L"));
  EXPECT_TRUE(torch::allclose(std::get<0>((s / (s + eps)).sort()), ev, 0, 1e-4));
  EXPECT_LT(ev.min().item<double>(), 0.5);
  EXPECT_GT(ev.max().item<double>(), 0.9);
  // Mean and transform against the direct computation too.
  EXPECT_TRUE(torch::allclose(z.mean.to(torch::kDouble), x.reshape({200, 16}).to(torch::kDouble).mean(0), 0, 1e-6));
  const torch::Tensor t = (u * (s + eps).rsqrt().unsqueeze(0)).mm(u.t());
  // (float32 products inside the covariance: ~1e-5 relative, as kornia's float32 fit)
  EXPECT_LT((z.transform.to(torch::kDouble) - t).abs().max().item<double>(), 1e-4 * t.abs().max().item<double>());
}

TEST(Zca, RecordsEpsAndHashesTheFit) {
  const torch::Tensor x = correlated_images(200, 4);
  const ZcaTransform a = fit_zca(x);
  EXPECT_DOUBLE_EQ(a.eps, 0.1);
  EXPECT_EQ(a.hash.size(), 16u);
  EXPECT_EQ(fit_zca(x).hash, a.hash);  // deterministic
  EXPECT_NE(fit_zca(x, 0.2).hash, a.hash);
  torch::Tensor y = x.clone();
  y[0][0][0][0] += 0.5;
  EXPECT_NE(fit_zca(y).hash, a.hash);
  EXPECT_THROW(fit_zca(x.narrow(0, 0, 1)), UserError);
  EXPECT_THROW(fit_zca(x, 0.0), UserError);
}

TEST(Zca, UndoNormalisationRecoversToTensorValuesExactly) {
  const LoadedDataset d = normalised_dataset(50, 10);
  const torch::Tensor back = undo_normalisation(d.train.images, d.info);
  const torch::Tensor u8 = (back * 255).round();
  EXPECT_TRUE(torch::equal(back, u8.div(255)));  // the same bits as ToTensor's u8 / 255
  EXPECT_TRUE(torch::allclose(back, d.train.images * 0.25 + 0.4, 0, 1e-6));
  // Data that is not 8-bit is inverted arithmetically, not snapped.
  const torch::Tensor odd = torch::rand({3, 1, 4, 4});
  EXPECT_TRUE(torch::allclose(undo_normalisation(odd, d.info), odd * 0.25 + 0.4, 0, 1e-6));
}

TEST(Zca, WithZcaFitsOnTrainAndAppliesTheSameFitToTest) {
  LoadedDataset d = normalised_dataset(120, 10);
  d.test.images[3] = d.train.images[17];  // one image in both splits
  const LoadedDataset w = with_zca(d);
  EXPECT_TRUE(torch::allclose(w.test.images[3], w.train.images[17], 0, 1e-5));
  // Exactly the reference: fit on the ToTensor() train images, applied to both.
  const torch::Tensor train01 = undo_normalisation(d.train.images, d.info);
  const ZcaTransform z = fit_zca(train01, 0.1);
  EXPECT_TRUE(torch::allclose(w.train.images, z.apply(train01), 0, 1e-6));
  EXPECT_TRUE(torch::allclose(w.test.images, z.apply(undo_normalisation(d.test.images, d.info)), 0, 1e-6));
  // A fit on the test split would differ: the test split really uses the train fit.
  const torch::Tensor test01 = undo_normalisation(d.test.images, d.info);
  EXPECT_FALSE(torch::allclose(w.test.images, fit_zca(test01).apply(test01), 0, 1e-3));
  EXPECT_EQ(w.identity, d.identity + "+zca(eps=0.1):" + z.hash);
  EXPECT_TRUE(has_zca(w));
  EXPECT_FALSE(has_zca(d));
  EXPECT_TRUE(torch::equal(w.train.labels, d.train.labels));
  EXPECT_THROW(with_zca(w), UserError);
}

TEST(Zca, WithZcaOnToy28ChangesTheIdentity) {
  const LoadedDataset& w = toy_zca();
  EXPECT_THAT(w.identity, HasSubstr(toy().identity + "+zca(eps=0.1):"));
  EXPECT_EQ(w.train.images.sizes(), toy().train.images.sizes());
  EXPECT_EQ(w.test.images.sizes(), toy().test.images.sizes());
  // Whitened train pixels have (about) zero mean.
  EXPECT_LT(w.train.images.mean(0).abs().max().item<double>(), 1e-4);
}

// ---- experts ------------------------------------------------------------------------------------

TEST(Experts, FlattenAndLoadRoundTrip) {
  torch::manual_seed(1);
  Net a = make_net("ConvNetW32", {1, 28, 28}, 10);
  Net b = make_net("ConvNetW32", {1, 28, 28}, 10);
  const torch::Tensor fa = flatten_parameters(*a);
  EXPECT_EQ(fa.numel(), parameter_count(*a));
  EXPECT_FALSE(torch::equal(fa, flatten_parameters(*b)));
  load_flat_parameters(*b, fa);
  EXPECT_TRUE(torch::equal(flatten_parameters(*b), fa));
  const torch::Tensor x = torch::randn({3, 1, 28, 28});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  EXPECT_THROW(load_flat_parameters(*b, fa.narrow(0, 0, 10)), UserError);
  for (const auto& p : b->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Experts, TrainResumeAndRetrainOnlyTheMissingOne) {
  const auto dir = testing_support::temp_dir("experts");
  ExpertCache ec(dir.string(), toy(), tiny_spec());
  EXPECT_EQ(ec.available(), 0);
  EXPECT_EQ(ec.training_split().size(), 60);
  EXPECT_THAT(ec.dir(), HasSubstr((dir / "experts").string()));

  // ensure() leaves the caller's RNG stream as it was (cold and warm caches replay the same).
  torch::manual_seed(99);
  const torch::Tensor expected_draw = torch::rand({4});
  torch::manual_seed(99);
  const auto phases = phases_of(ec, 2);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected_draw));
  EXPECT_EQ(phases, (std::vector<std::string>{"expert 1/2 1/2", "expert 1/2 2/2", "expert 2/2 1/2", "expert 2/2 2/2"}));
  EXPECT_EQ(ec.available(), 2);
  for (const char* f : {"expert_0.pt", "expert_1.pt", "meta.json"}) EXPECT_TRUE(fs::exists(fs::path(ec.dir()) / f)) << f;

  const Trajectory t0 = ec.load(0), t1 = ec.load(1);
  ASSERT_EQ(t0.snapshots.size(), 3u);  // init + 2 epochs
  torch::manual_seed(ec.seed_of(0));
  const torch::Tensor fresh = flatten_parameters(*make_net("ConvNetW32", {1, 28, 28}, 10));
  EXPECT_TRUE(torch::equal(t0.snapshots[0], fresh));
  EXPECT_FALSE(torch::equal(t0.snapshots[1], t0.snapshots[0]));
  EXPECT_FALSE(torch::equal(t0.snapshots[2], t0.snapshots[1]));
  EXPECT_FALSE(torch::equal(t1.snapshots[0], t0.snapshots[0]));  // a different seed per expert
  EXPECT_NE(ec.seed_of(0), ec.seed_of(1));
  EXPECT_GE(t0.test_accuracy, 0.0);
  EXPECT_LE(t0.test_accuracy, 100.0);

  std::ifstream meta_in(fs::path(ec.dir()) / "meta.json");
  const json meta = json::parse(meta_in);
  EXPECT_EQ(meta.at("dataset_identity"), toy().identity);
  EXPECT_EQ(meta.at("spec").at("images_per_class"), 6);
  EXPECT_DOUBLE_EQ(meta.at("experts").at("0").at("test_accuracy").get<double>(), t0.test_accuracy);

  // Resume: nothing to train.
  const auto mtime0 = fs::last_write_time(ec.path_of(0));
  EXPECT_TRUE(phases_of(ec, 2).empty());

  // Losing expert 1 retrains exactly it, reproducibly.
  fs::remove(ec.path_of(1));
  EXPECT_EQ(ec.available(), 1);
  EXPECT_FALSE(ec.has(1));
  EXPECT_EQ(phases_of(ec, 2), (std::vector<std::string>{"expert 2/2 1/2", "expert 2/2 2/2"}));
  EXPECT_EQ(fs::last_write_time(ec.path_of(0)), mtime0);
  const Trajectory again = ec.load(1);
  for (size_t i = 0; i < again.snapshots.size(); ++i)
    EXPECT_TRUE(torch::allclose(again.snapshots[i], t1.snapshots[i], 0, 1e-6)) << "snapshot " << i;

  // A second cache object on the same data and spec finds them.
  ExpertCache same(dir.string(), toy(), tiny_spec());
  EXPECT_EQ(same.dir(), ec.dir());
  EXPECT_EQ(same.available(), 2);
  fs::remove_all(dir);
}

TEST(Experts, TruncatedOrMissingFileIsAUserErrorNamingIt) {
  const auto dir = testing_support::temp_dir("experts-bad");
  ExpertSpec s = tiny_spec();
  s.epochs = 1;
  ExpertCache ec(dir.string(), toy(), s);
  ec.ensure(1, torch::kCPU, nullptr);
  const std::string path = ec.path_of(0);
  fs::resize_file(path, fs::file_size(path) / 2);
  try {
    ec.load(0);
    FAIL() << "truncated file loaded";
  } catch (const UserError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
  try {
    ec.load(5);
    FAIL() << "missing file loaded";
  } catch (const UserError& e) {
    EXPECT_THAT(e.what(), HasSubstr(ec.path_of(5)));
  }
  // A file of another shape (e.g. another net's) is refused too.
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("snapshots", torch::zeros({2, 7}));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_THROW(ec.load(0), UserError);
  fs::remove_all(dir);
}

TEST(Experts, CacheKeyFollowsDataAndSpec) {
  const std::string root = "/nonexistent-ddbench-cache";
  const ExpertCache base(root, toy(), tiny_spec());
  ExpertSpec explicit_strategy = tiny_spec();
  explicit_strategy.dsa_strategy = "color_crop_cutout_flip_scale_rotate";  // toy28's default
  EXPECT_EQ(ExpertCache(root, toy(), explicit_strategy).dir(), base.dir());
  ExpertSpec lr = tiny_spec();
  lr.lr = 0.02;
  EXPECT_NE(ExpertCache(root, toy(), lr).dir(), base.dir());
  ExpertSpec sam = tiny_spec();
  sam.sam_rho = 0.01;
  EXPECT_NE(ExpertCache(root, toy(), sam).dir(), base.dir());
  ExpertSpec no_dsa = tiny_spec();
  no_dsa.dsa = false;
  EXPECT_EQ(ExpertCache(root, toy(), no_dsa).spec().dsa_strategy, "none");
  EXPECT_NE(ExpertCache(root, toy(), no_dsa).dir(), base.dir());
  EXPECT_NE(ExpertCache(root, toy_zca(), tiny_spec()).dir(), base.dir());
  EXPECT_FALSE(fs::exists(root));  // constructing a cache writes nothing
  ExpertSpec bad = tiny_spec();
  bad.sam_alpha = 0.4;
  EXPECT_THROW(ExpertCache(root, toy(), bad), UserError);
  bad = tiny_spec();
  bad.dsa_strategy = "color_warp";
  EXPECT_THROW(ExpertCache(root, toy(), bad), UserError);
}

TEST(Experts, SubsetIsBalancedAndFixed) {
  ExpertSpec s = tiny_spec();
  s.images_per_class = 4;
  const ExpertCache a("/nonexistent-ddbench-cache", toy(), s), b("/nonexistent-ddbench-cache", toy(), s);
  EXPECT_EQ(a.training_split().size(), 40);
  EXPECT_TRUE(torch::equal(torch::bincount(a.training_split().labels), torch::full({10}, 4, torch::kLong)));
  EXPECT_TRUE(torch::equal(a.training_split().images, b.training_split().images));
  s.images_per_class = 0;
  EXPECT_EQ(ExpertCache("/nonexistent-ddbench-cache", toy(), s).training_split().size(), toy().train.size());
}

// The GSAM update against a direct computation with flat vectors, for SAM, GSAM and adaptive GSAM.
TEST(Experts, SharpnessAwareStepMatchesTheGsamUpdate) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({8, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {8});
  const double lr = 0.05, rho = 0.05;
  for (const auto& [alpha, adaptive] : std::vector<std::pair<double, bool>>{{0.0, false}, {0.4, false}, {0.4, true}}) {
    torch::manual_seed(4);
    Net net = make_net("ConvNetW32", {1, 28, 28}, 10);
    const torch::Tensor theta = flatten_parameters(*net);
    auto grad_at = [&](const torch::Tensor& flat) {
      load_flat_parameters(*net, flat);
      for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
      torch::nn::functional::cross_entropy(net->forward(x), y).backward();
      std::vector<torch::Tensor> parts;
      for (const auto& p : net->parameters()) parts.push_back(p.grad().reshape({-1}));
      return torch::cat(parts).to(torch::kDouble);
    };
    const torch::Tensor th = theta.to(torch::kDouble);
    const torch::Tensor g = grad_at(theta);
    const torch::Tensor e = adaptive ? rho * g * th.pow(2) / ((th.abs() * g).norm() + 1e-12) : rho * g / (g.norm() + 1e-12);
    torch::Tensor gp = grad_at((th + e).to(torch::kFloat));
    const torch::Tensor cosine = g.dot(gp) / (g.norm() * gp.norm() + 1e-12);
    gp = gp - alpha * (g - cosine * g.norm() * gp / (gp.norm() + 1e-12));
    const torch::Tensor expected = th - lr * gp;

    load_flat_parameters(*net, theta);
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(lr));
    sharpness_aware_step(*net, opt, x, y, rho, alpha, adaptive);
    const torch::Tensor got = flatten_parameters(*net).to(torch::kDouble);
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5) << "alpha " << alpha << " adaptive " << adaptive;
    // ... and it is not plain SGD.
    const torch::Tensor sgd = th - lr * g;
    EXPECT_GT((got - sgd).abs().max().item<double>(), 1e-5) << "alpha " << alpha << " adaptive " << adaptive;
  }
}

TEST(Experts, SamExpertsTrain) {
  const auto dir = testing_support::temp_dir("experts-sam");
  ExpertSpec s = tiny_spec();
  s.epochs = 1;
  s.sam_rho = 0.01;
  s.sam_alpha = 0.4;
  s.sam_adaptive = true;
  ExpertCache ec(dir.string(), toy(), s);
  ec.ensure(1, torch::kCPU, nullptr);
  const Trajectory t = ec.load(0);
  ASSERT_EQ(t.snapshots.size(), 2u);
  EXPECT_TRUE(torch::isfinite(t.snapshots[1]).all().item<bool>());
  EXPECT_FALSE(torch::equal(t.snapshots[1], t.snapshots[0]));
  fs::remove_all(dir);
}

TEST(ExpertsCli, TrainsThenResumes) {
  const auto dir = testing_support::temp_dir("experts-cli");
  const std::string cmd = std::string(DDBENCH_BINARY) +
                          " experts --dataset toy28 --net ConvNetW32 --experts 1 --epochs 1 --images-per-class 3"
                          " --threads 1 --device cpu --cache " + dir.string() + " 2>&1";
  auto run = [&cmd](int& code) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), p)) out += buf.data();
    const int status = pclose(p);
    code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  };
  int code = -1;
  const std::string first = run(code);
  EXPECT_EQ(code, 0) << first;
  EXPECT_THAT(first, HasSubstr("cache " + (dir / "experts").string()));
  EXPECT_THAT(first, HasSubstr("0 already present, 1 trained now"));
  EXPECT_THAT(first, HasSubstr("expert 0: test accuracy"));
  const std::string second = run(code);
  EXPECT_EQ(code, 0) << second;
  EXPECT_THAT(second, HasSubstr("1 already present, 0 trained now"));
  fs::remove_all(dir);
}

// ---- runner integration -------------------------------------------------------------------------

namespace {

// A test-only method with a `zca` option (as the trajectory methods declare it) that records the
// data it was given: the first training image of each class, and the identity it saw.
class ZcaProbe : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    SyntheticSet s;
    std::vector<torch::Tensor> idx;
    for (const auto& ci : ctx.data.class_indices) idx.push_back(ci.narrow(0, 0, 1));
    const torch::Tensor pick = torch::cat(idx);
    s.images = ctx.data.train.images.index_select(0, pick);
    s.labels = ctx.data.train.labels.index_select(0, pick);
    s.meta["seen_identity"] = ctx.data.identity;
    return s;
  }
};
DDBENCH_REGISTER_METHOD(MethodInfo{"zca_probe_test", "test probe: records the data it distils from",
                                   {{"zca", "bool", false, "ZCA-whiten train and test"}},
                                   [] { return std::make_unique<ZcaProbe>(); }});

Job probe_job(bool zca) {
  const MethodInfo& info = MethodRegistry::instance().get("zca_probe_test");
  EvalSpec es;
  es.net = "ConvNetW32";
  es.epochs = 0;
  es.runs = 1;
  return make_job(identify({{"method", "zca_probe_test"},
                            {"options", resolve_options(info, {{"zca", zca}})},
                            {"dataset", "toy28"},
                            {"ipc", 1},
                            {"distill_net", "ConvNetW32"},
                            {"eval", es.to_json()}}),
                  0);
}

}  // namespace

TEST(ZcaRunner, ExecuteJobWhitensWhenTheMethodAsks) {
  RunnerOptions ro;
  ro.quiet = true;
  const JobOutput plain = execute_job(probe_job(false), toy(), ro, nullptr, "");
  EXPECT_EQ(plain.set.meta.at("seen_identity"), toy().identity);

  const JobOutput out = execute_job(probe_job(true), toy(), ro, nullptr, "");
  const LoadedDataset& w = toy_zca();
  EXPECT_EQ(out.set.meta.at("seen_identity"), w.identity);
  EXPECT_EQ(out.set.meta.at("dataset_identity"), w.identity);  // the provenance carries the fit's hash
  std::vector<torch::Tensor> idx;
  for (const auto& ci : w.class_indices) idx.push_back(ci.narrow(0, 0, 1));
  EXPECT_TRUE(torch::allclose(out.set.images, w.train.images.index_select(0, torch::cat(idx)), 0, 1e-6));
  ASSERT_EQ(out.metrics.size(), 1u);

  // Already whitened data is used as it is (run_jobs passes its cached whitened copy).
  const JobOutput again = execute_job(probe_job(true), w, ro, nullptr, "");
  EXPECT_EQ(again.set.meta.at("seen_identity"), w.identity);
}

TEST(ZcaRunner, RunJobsRecordsTheWhitenedIdentity) {
  const auto dir = testing_support::temp_dir("zca-runner");
  Store store(dir.string());
  RunnerOptions ro;
  ro.quiet = true;
  const std::vector<Job> jobs{probe_job(true), probe_job(false)};
  const RunSummary sum = run_jobs(jobs, store, ro);
  EXPECT_EQ(sum.succeeded, 2);
  const auto z = store.find(jobs[0].key()), p = store.find(jobs[1].key());
  ASSERT_TRUE(z && p);
  EXPECT_THAT(z->provenance.at("dataset_identity").get<std::string>(), HasSubstr(toy().identity + "+zca(eps=0.1):"));
  EXPECT_EQ(p->provenance.at("dataset_identity").get<std::string>(), toy().identity);
  fs::remove_all(dir);
}

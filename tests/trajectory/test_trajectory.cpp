// Trajectory matching (mtt / tesla / ftd): the flat-parameter binding, the meta-gradient in both
// modes, the loop's bookkeeping (learned lr, EMA), the seam, and option checks. Experts are small
// ready-made trajectories, never trained through the cache here.
#include <map>
#include <gtest/gtest.h>

#include "datasets/registry.h"
#include "harness/eval_protocol.h"
#include "harness/plan.h"
#include "harness/nets/net.h"
#include "methods/matching/outlier_exposure.h"
#include "methods/trajectory/experts.h"
#include "methods/trajectory/param_binding.h"
#include "methods/trajectory/trajectory_matching.h"
#include "../unit/test_helpers.h"
#include "toy_experts.h"

using namespace ddb;
using ddb::testing_toy::toy;
using ddb::testing_toy::toy_trajectory;

namespace {

torch::Tensor flat_grads(NetImpl& net) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : net.parameters()) parts.push_back(p.grad().reshape({-1}));
  return torch::cat(parts);
}

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(1e-300, b.norm().item<double>());
}

// Bound forward == the module's own forward, and d(sum of logits)/d(flat) == the parameters' grads.
void expect_binding_matches(const std::string& name, const ImageShape& shape, int64_t n) {
  torch::manual_seed(1);
  Net net = make_net(name, shape, 5);
  net->train();
  ParamBinding binding(*net);
  const torch::Tensor x = torch::randn({n, shape.channels, shape.height, shape.width});

  const torch::Tensor plain = net->forward(x);
  plain.sum().backward();
  const torch::Tensor want_grad = flat_grads(*net);

  const torch::Tensor flat = binding.flat_parameters().requires_grad_(true);
  ASSERT_EQ(flat.numel(), want_grad.numel()) << name;
  const torch::Tensor bound = binding.forward(flat, x);
  EXPECT_TRUE(torch::allclose(bound, plain, 1e-5, 1e-5)) << name;
  bound.sum().backward();
  EXPECT_LT(rel_diff(flat.grad(), want_grad), 1e-5) << name;
  // The net's own parameters are back in place after a bound forward with other values.
  binding.forward(flat.detach() * 0.5, x);
  EXPECT_TRUE(torch::allclose(net->forward(x), plain, 1e-5, 1e-5)) << name;
}

TEST(ParamBinding, BoundForwardAndGradientMatchTheModules) {
  expect_binding_matches("ConvNet", {1, 28, 28}, 3);
  expect_binding_matches("ConvNetBN", {3, 32, 32}, 3);
  expect_binding_matches("ResNet18", {3, 32, 32}, 2);
  expect_binding_matches("ConvNetLN", {3, 16, 16}, 2);
}

TEST(ParamBinding, DifferentFlatVectorsGiveDifferentOutputs) {
  torch::manual_seed(2);
  Net net = make_net("ConvNetW32", {1, 28, 28}, 3);
  ParamBinding binding(*net);
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  const torch::Tensor flat = binding.flat_parameters();
  const torch::Tensor a = binding.forward(flat, x);
  const torch::Tensor b = binding.forward(flat * 1.5, x);
  EXPECT_FALSE(torch::allclose(a, b));
  // Wrong length: rejected, and the net still works with its own parameters.
  EXPECT_THROW(binding.forward(flat.narrow(0, 0, 10), x), std::invalid_argument);
  EXPECT_TRUE(torch::allclose(net->forward(x), a));
}

class NetWithConv1d : public NetImpl {
 public:
  NetWithConv1d() { conv_ = register_module("conv", torch::nn::Conv1d(1, 1, 3)); }
  torch::Tensor forward(torch::Tensor x) override { return conv_->forward(x.flatten(1).unsqueeze(1)).flatten(1); }
  torch::Tensor embed(torch::Tensor x) override { return forward(x); }

 private:
  torch::nn::Conv1d conv_{nullptr};
};

TEST(ParamBinding, RejectsModulesItCannotBind) {
  NetWithConv1d net;
  try {
    ParamBinding b(net);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("Conv1d"), std::string::npos) << e.what();
  }
}

// A linear classifier that records the batch sizes it sees (for the FYI test).
class RecordingLinear : public NetImpl {
 public:
  RecordingLinear(int64_t in, int64_t classes) { fc_ = register_module("fc", torch::nn::Linear(in, classes)); }
  torch::Tensor forward(torch::Tensor x) override {
    batches.push_back(x.size(0));
    return fc_->forward(x.flatten(1));
  }
  torch::Tensor embed(torch::Tensor x) override { return x.flatten(1); }
  std::vector<int64_t> batches;

 private:
  torch::nn::Linear fc_{nullptr};
};

struct Problem {
  SyntheticState state;
  torch::Tensor start, target;
};

// 2 classes x IPC 2 random images, a random start and a nearby target, in `dtype`.
Problem make_problem(NetImpl& net, const ImageShape& shape, torch::Dtype dtype, bool learned_labels,
                     bool outliers = false) {
  torch::manual_seed(11);
  ParamBinding b(net);
  Problem p;
  p.start = b.flat_parameters().to(dtype);
  p.target = p.start + 0.05 * torch::randn_like(p.start);
  p.state.images = torch::randn({4, shape.channels, shape.height, shape.width}, dtype).requires_grad_(true);
  p.state.hard_labels = torch::tensor({0, 0, 1, 1}, torch::kLong);
  p.state.syn_lr = torch::tensor(0.05, dtype).requires_grad_(true);
  if (learned_labels) p.state.label_logits = torch::randn({4, 2}, dtype).requires_grad_(true);
  if (outliers) {  // TrustDD's S_out beside them
    p.state.outliers = torch::randn({4, shape.channels, shape.height, shape.width}, dtype).requires_grad_(true);
    p.state.lambda_oe = 0.5;
  }
  return p;
}

struct Grads {
  double loss;
  torch::Tensor images, lr, labels, outliers;
};

// The meta-gradient of a fixed tiny problem (float64, ConvNetW32 on 3x8x8, 2 classes x IPC 2,
// 3 steps of batch 2). `eta_shift` / `image_shift` perturb the lr and the images (finite differences).
Grads meta_gradient(MetaGradient mode, const std::string& strategy, bool learned_labels, uint64_t seed,
                    double eta_shift = 0, const torch::Tensor& image_shift = {}, bool outliers = false,
                    const torch::Tensor& outlier_shift = {}, int64_t steps = 3) {
  const ImageShape shape{3, 8, 8};
  torch::manual_seed(3);
  Net net = make_net("ConvNetW32", shape, 2);
  net->to(torch::kDouble);
  Problem p = make_problem(*net, shape, torch::kDouble, learned_labels, outliers);
  if (outlier_shift.defined()) p.state.outliers = (p.state.outliers.detach() + outlier_shift).requires_grad_(true);
  if (eta_shift != 0) p.state.syn_lr = (p.state.syn_lr.detach() + eta_shift).requires_grad_(true);
  if (image_shift.defined()) p.state.images = (p.state.images.detach() + image_shift).requires_grad_(true);
  ParamBinding student(*net);
  const Dsa dsa(strategy);
  UnrollSettings st;
  st.syn_steps = steps;
  st.batch_syn = 2;  // two chunks per permutation: the third step draws a second permutation
  st.gradient = mode;
  st.dsa = &dsa;
  torch::manual_seed(seed);
  Grads g;
  g.loss = trajectory_meta_gradient(student, p.state, p.start, p.target, st);
  g.images = p.state.images.grad();
  g.lr = p.state.syn_lr.grad();
  if (learned_labels) g.labels = p.state.label_logits.grad();
  if (outliers) g.outliers = p.state.outliers.grad();
  return g;
}

TEST(Tesla, AdjointGradientEqualsUnrolledMtt) {
  const Grads mtt = meta_gradient(MetaGradient::Unrolled, "none", false, 5);
  const Grads tesla = meta_gradient(MetaGradient::Adjoint, "none", false, 5);
  EXPECT_NEAR(tesla.loss, mtt.loss, 1e-12);
  ASSERT_TRUE(mtt.images.defined() && tesla.images.defined());
  EXPECT_GT(mtt.images.norm().item<double>(), 0);
  EXPECT_LT(rel_diff(tesla.images, mtt.images), 1e-5);
  EXPECT_LT(rel_diff(tesla.lr, mtt.lr), 1e-5);
  EXPECT_NE(mtt.lr.item<double>(), 0);
}

// TESLA's first-order gradient drops the Hessian chain through the later steps: with one student step
// there is none, so it equals MTT's exact gradient; with three it does not, while the loss (the same
// forward pass) is the same.
TEST(Tesla, FirstOrderEqualsExactForOneStepAndDiffersForMore) {
  const std::string dsa = "color_crop_cutout_flip_scale_rotate";
  const Grads exact1 = meta_gradient(MetaGradient::Unrolled, dsa, false, 7, 0, {}, false, {}, 1);
  const Grads first1 = meta_gradient(MetaGradient::FirstOrder, dsa, false, 7, 0, {}, false, {}, 1);
  EXPECT_NEAR(first1.loss, exact1.loss, 1e-12);
  EXPECT_LT(rel_diff(first1.images, exact1.images), 1e-6);
  EXPECT_LT(rel_diff(first1.lr, exact1.lr), 1e-6);
  const Grads exact3 = meta_gradient(MetaGradient::Unrolled, dsa, false, 7);
  const Grads first3 = meta_gradient(MetaGradient::FirstOrder, dsa, false, 7);
  EXPECT_NEAR(first3.loss, exact3.loss, 1e-12);
  EXPECT_GT(rel_diff(first3.images, exact3.images), 1e-4);
  // One step by hand: L = |θ0 - η g - θ*|² / |θ0 - θ*|², so dL/dη = -2 (θ1 - θ*)·g / |θ0 - θ*|²; the
  // first-order lr gradient keeps that form over all steps: -∂L/∂θ_N · Σ g_i. Its sign says whether a
  // larger lr would move θ_N towards θ* -- here checked against a finite difference of the one-step loss.
  const double h = 1e-6;
  const double d_eta = (meta_gradient(MetaGradient::FirstOrder, dsa, false, 7, h, {}, false, {}, 1).loss -
                        meta_gradient(MetaGradient::FirstOrder, dsa, false, 7, -h, {}, false, {}, 1).loss) / (2 * h);
  EXPECT_NEAR(first1.lr.item<double>(), d_eta, 1e-6 * std::max(1.0, std::abs(d_eta)));
}

TEST(Mtt, MetaGradientMatchesFiniteDifferences) {
  // Checks the second-order chain (gradient of the unrolled SGD steps) independently of autograd.
  const Grads g = meta_gradient(MetaGradient::Unrolled, "none", false, 5);
  const double h = 1e-6;
  const double d_eta = (meta_gradient(MetaGradient::Unrolled, "none", false, 5, h).loss -
                        meta_gradient(MetaGradient::Unrolled, "none", false, 5, -h).loss) / (2 * h);
  EXPECT_NEAR(d_eta, g.lr.item<double>(), 1e-6 * std::max(1.0, std::abs(d_eta)));
  torch::manual_seed(99);
  const torch::Tensor dir = torch::randn_like(g.images);
  const double d_dir = (meta_gradient(MetaGradient::Unrolled, "none", false, 5, 0, h * dir).loss -
                        meta_gradient(MetaGradient::Unrolled, "none", false, 5, 0, -h * dir).loss) / (2 * h);
  const double analytic = (g.images * dir).sum().item<double>();
  EXPECT_NEAR(d_dir, analytic, 1e-5 * std::max(1.0, std::abs(analytic)));
}

TEST(Tesla, AdjointGradientEqualsUnrolledWithLearnedLabelsAndDsa) {
  // Learned label logits get the same gradient; per-sample DSA is replayed from the saved RNG state.
  const std::string dsa = "color_crop_cutout_flip_scale_rotate";
  const Grads mtt = meta_gradient(MetaGradient::Unrolled, dsa, true, 9);
  const Grads tesla = meta_gradient(MetaGradient::Adjoint, dsa, true, 9);
  EXPECT_NEAR(tesla.loss, mtt.loss, 1e-10);
  EXPECT_LT(rel_diff(tesla.images, mtt.images), 1e-5);
  EXPECT_LT(rel_diff(tesla.lr, mtt.lr), 1e-5);
  ASSERT_TRUE(mtt.labels.defined() && tesla.labels.defined());
  EXPECT_LT(rel_diff(tesla.labels, mtt.labels), 1e-5);
  // A different seed draws different minibatches/augmentations: a different gradient.
  const Grads other = meta_gradient(MetaGradient::Unrolled, dsa, true, 10);
  EXPECT_GT(rel_diff(other.images, mtt.images), 1e-3);
}

// TrustDD on the student: each step adds lambda * H(U; f(S_out minibatch)); S_out gets the trajectory
// loss's gradient, the same in both modes, and the unrolled one agrees with finite differences.
TEST(Tesla, AdjointGradientEqualsUnrolledWithOutliers) {
  const std::string dsa = "color_crop_cutout_flip_scale_rotate";
  const Grads mtt = meta_gradient(MetaGradient::Unrolled, dsa, true, 9, 0, {}, true);
  const Grads tesla = meta_gradient(MetaGradient::Adjoint, dsa, true, 9, 0, {}, true);
  EXPECT_NEAR(tesla.loss, mtt.loss, 1e-10);
  ASSERT_TRUE(mtt.outliers.defined() && tesla.outliers.defined());
  EXPECT_GT(mtt.outliers.norm().item<double>(), 0);
  EXPECT_LT(rel_diff(tesla.outliers, mtt.outliers), 1e-5);
  EXPECT_LT(rel_diff(tesla.images, mtt.images), 1e-5);
  EXPECT_LT(rel_diff(tesla.labels, mtt.labels), 1e-5);
  EXPECT_LT(rel_diff(tesla.lr, mtt.lr), 1e-5);
  // The outliers change the trajectory: other image gradients than without them.
  const Grads plain = meta_gradient(MetaGradient::Unrolled, dsa, true, 9);
  EXPECT_NE(plain.loss, mtt.loss);
  // Finite differences along a random direction of S_out (no augmentation: a smooth function).
  const Grads g = meta_gradient(MetaGradient::Unrolled, "none", false, 5, 0, {}, true);
  torch::manual_seed(98);
  const torch::Tensor dir = torch::randn_like(g.outliers);
  const double h = 1e-6;
  const double d_dir = (meta_gradient(MetaGradient::Unrolled, "none", false, 5, 0, {}, true, h * dir).loss -
                        meta_gradient(MetaGradient::Unrolled, "none", false, 5, 0, {}, true, -h * dir).loss) /
                       (2 * h);
  const double analytic = (g.outliers * dir).sum().item<double>();
  EXPECT_NEAR(d_dir, analytic, 1e-5 * std::max(1.0, std::abs(analytic)));
}

TEST(TrajectoryMatching, FyiDoublesTheStudentsBatch) {
  const ImageShape shape{1, 4, 4};
  RecordingLinear net(16, 2);
  Problem p = make_problem(net, shape, torch::kFloat, false);
  ParamBinding student(net);
  UnrollSettings st;
  st.syn_steps = 2;
  st.batch_syn = 3;
  const MatchingSeam plain;
  const MatchingSeam fyi(Options(json{{"fyi", true}, {"fyi_transform", "hflip"}}));
  st.seam = &plain;
  trajectory_meta_gradient(student, p.state, p.start, p.target, st);
  EXPECT_EQ(net.batches, (std::vector<int64_t>{1, 3}));  // 4 images in chunks of 3, popped from the end
  net.batches.clear();
  st.seam = &fyi;
  trajectory_meta_gradient(student, p.state, p.start, p.target, st);
  EXPECT_EQ(net.batches, (std::vector<int64_t>{2, 6}));
}

// ---------------------------------------------------------------- the whole loop on toy data

SyntheticSet run_loop(const std::string& method, json options, const std::function<void(int64_t, const torch::Tensor&)>& observer,
                      MetaGradient mode = MetaGradient::Unrolled,
                      std::map<int64_t, SyntheticSet>* snapshots = nullptr) {
  const MethodInfo& info = MethodRegistry::instance().get(method);
  const Options o(resolve_options(info, options));
  TrajectoryConfig cfg = TrajectoryConfig::from(method, o);
  cfg.gradient = mode;
  static const std::vector<torch::Tensor> traj = toy_trajectory("ConvNetW32", 3);
  ExpertSource src{1, [](int64_t) { return traj; }};
  torch::manual_seed(4);
  DistillContext ctx{toy(), 1, "ConvNetW32", o, 4};
  if (snapshots) {
    ctx.snapshot_every = 1;
    ctx.snapshot = [snapshots](int64_t updates, const SyntheticSet& s) { (*snapshots)[updates] = s; };
  }
  return run_trajectory_matching(cfg, ctx, src, observer);
}

json tiny_options() {
  return {{"iterations", 1},     {"syn_steps", 3},           {"expert_epochs", 1}, {"max_start_epoch", 2},
          {"lr_img", 10.0},      {"lr_lr", 1e-6},            {"num_experts", 1},   {"expert_train_epochs", 3},
          {"dsa_strategy", "none"}};
}

TEST(Mtt, OneIterationMovesImagesAndLearnedLr) {
  torch::Tensor before;
  const SyntheticSet out = run_loop("mtt", tiny_options(), [&](int64_t it, const torch::Tensor& x) {
    if (it == -1) before = x.clone();
  });
  ASSERT_TRUE(before.defined());
  EXPECT_TRUE(torch::isfinite(out.images).all().item<bool>());
  EXPECT_GT((out.images - before).abs().max().item<double>(), 1e-6);
  ASSERT_TRUE(out.learned_lr.defined());
  EXPECT_NE(out.learned_lr.item<double>(), 0.01);
  EXPECT_TRUE(std::isfinite(out.meta.at("final_loss").get<double>()));
  EXPECT_EQ(out.labels.dim(), 1);
  EXPECT_EQ(out.meta.at("start_epoch_histogram").size(), 2u);
}

// best_iter's evaluation points: the set after 0, 1, ..., Iteration updates, as stored (FTD: the EMA),
// with the learned lr; the last is the returned set, and saving them changes nothing.
TEST(Ftd, SnapshotsAreTheStoredSetAtEachEvaluationPoint) {
  json o = tiny_options();
  o["iterations"] = 2;
  o["ema_decay"] = 0.6;
  std::vector<torch::Tensor> seen;
  std::map<int64_t, SyntheticSet> snaps;
  const SyntheticSet out =
      run_loop("ftd", o, [&](int64_t, const torch::Tensor& x) { seen.push_back(x.clone()); }, MetaGradient::Unrolled, &snaps);
  ASSERT_EQ(snaps.size(), 3u);
  EXPECT_TRUE(torch::equal(snaps.at(0).images, seen[0]));  // before any update
  EXPECT_TRUE(torch::equal(snaps.at(2).images, out.images));
  EXPECT_TRUE(torch::equal(snaps.at(2).learned_lr, out.learned_lr));
  EXPECT_FALSE(torch::equal(snaps.at(1).images, snaps.at(2).images));
  const SyntheticSet plain = run_loop("ftd", o, nullptr);
  EXPECT_TRUE(torch::equal(plain.images, out.images));
}

TEST(Ftd, StoredImagesAreTheEmaOfTheOptimisedOnes) {
  json o = tiny_options();
  o["iterations"] = 2;
  o["ema_decay"] = 0.6;
  std::vector<torch::Tensor> seen;
  const SyntheticSet out = run_loop("ftd", o, [&](int64_t, const torch::Tensor& x) { seen.push_back(x.clone()); });
  ASSERT_EQ(seen.size(), 3u);  // initial + 2 updates (Iteration: the set the reference evaluates)
  torch::Tensor ema = seen[0];
  for (size_t k = 1; k < seen.size(); ++k) ema = 0.6 * ema + 0.4 * seen[k];
  EXPECT_LT((out.images - ema).abs().max().item<double>(), 1e-5) << (out.images - ema).abs().max().item<double>()
      << " " << ema.abs().max().item<double>();
  EXPECT_FALSE(torch::allclose(out.images, seen.back()));
}

TEST(Tesla, ExpertSoftLabelsAreProbabilitiesAndLearnedOnesMove) {
  json o = tiny_options();
  o["iterations"] = 1;  // one update is enough to move learned labels
  o["soft_labels"] = "expert";
  const SyntheticSet fixed = run_loop("tesla", o, nullptr, MetaGradient::Adjoint);
  ASSERT_EQ(fixed.labels.dim(), 2);
  EXPECT_EQ(fixed.labels.size(1), 10);
  EXPECT_TRUE(torch::allclose(fixed.labels.sum(1), torch::ones({fixed.labels.size(0)})));
  o["soft_labels"] = "learned";
  o["lr_label"] = 50.0;
  const SyntheticSet learned = run_loop("tesla", o, nullptr, MetaGradient::Adjoint);
  EXPECT_FALSE(torch::allclose(learned.labels, fixed.labels));
  o["soft_labels"] = "none";
  EXPECT_EQ(run_loop("tesla", o, nullptr, MetaGradient::Adjoint).labels.dim(), 1);
}

TEST(TrajectoryMatching, RegisteredAsMatchingMethodsWithTheSuiteOptionNames) {
  for (const char* m : {"mtt", "tesla", "ftd"}) {
    const json r = resolve_options(MethodRegistry::instance().get(m), json::object());
    for (const char* k : {"iterations", "syn_steps", "expert_epochs", "max_start_epoch", "lr_img", "lr_lr", "lr_teacher",
                          "batch_syn", "num_experts", "expert_train_epochs", "zca", "pix_init", "eval_it", "res",
                          "expert_images_per_class", "dsa_strategy", "momentum", "fyi"})
      EXPECT_TRUE(r.contains(k)) << m << " lacks " << k;
  }
  EXPECT_TRUE(resolve_options(MethodRegistry::instance().get("ftd"), json::object()).contains("ema_decay"));
  EXPECT_TRUE(resolve_options(MethodRegistry::instance().get("tesla"), json::object()).contains("lr_label"));
}

TEST(TrajectoryMatching, OptionChecks) {
  const MethodInfo& info = MethodRegistry::instance().get("mtt");
  auto cfg = [&](json o) { return TrajectoryConfig::from("mtt", Options(resolve_options(info, o))); };
  EXPECT_THROW(cfg({{"max_start_epoch", 50}, {"expert_epochs", 2}, {"expert_train_epochs", 50}}), UserError);
  EXPECT_NO_THROW(cfg({{"max_start_epoch", 49}, {"expert_epochs", 2}, {"expert_train_epochs", 50}}));
  EXPECT_THROW(cfg({{"pix_init", "zeros"}}), UserError);
  json o = tiny_options();
  o["res"] = 32;  // toy28 is 28x28
  EXPECT_THROW(run_loop("mtt", o, nullptr), UserError);
}

}  // namespace

// ---------------------------------------------------------------- eval.selection (MTT's best-over-iterations)

namespace {

TEST(EvalSelection, ParsedRecordedAndPlannedForMethodsWithSnapshots) {
  const json base = {{"protocol", "mtt"}, {"net", "ConvNetW32"}, {"epochs", 2}, {"runs", 1}};
  const EvalSpec last = EvalSpec::from_json(base);
  EXPECT_EQ(last.selection, "last");
  EXPECT_FALSE(last.to_json().contains("selection"));  // absent = last: existing hashes unchanged
  json b = base;
  b["selection"] = "best_iter";
  EXPECT_THROW(EvalSpec::from_json(b), UserError);  // no interval
  b["eval_every"] = 100;
  EXPECT_EQ(EvalSpec::from_json(b).to_json().at("selection"), "best_iter");
  EXPECT_EQ(EvalSpec::from_json(b).to_json().at("eval_every"), 100);
  b["selection"] = "best";
  EXPECT_THROW(EvalSpec::from_json(b), UserError);
  json l = base;
  l["eval_every"] = 100;
  EXPECT_THROW(EvalSpec::from_json(l), UserError);  // an interval without best_iter

  Suite suite;
  suite.id = "t.selection";
  suite.tiers["cpu"] = json::object();
  Cell cell;
  cell.id = "c";
  cell.spec = {{"method", "random"}, {"dataset", "toy28"}, {"ipc", 1}, {"distill_net", "ConvNetW32"},
               {"eval", base}, {"metric", "accuracy"}};
  suite.cells.push_back(cell);
  cell.id = "best";
  cell.spec["eval"]["selection"] = "best_iter";
  cell.spec["eval"]["eval_every"] = 10;
  suite.cells.push_back(cell);
  cell.id = "mtt-best";
  cell.spec["method"] = "mtt";
  suite.cells.push_back(cell);
  PlanEnv env;
  env.tier = "cpu";
  const auto planned = plan_suite(suite, env);
  ASSERT_EQ(planned.size(), 3u);
  EXPECT_TRUE(planned[0].run.has_value()) << planned[0].reason;
  EXPECT_FALSE(planned[1].run.has_value());
  EXPECT_EQ(planned[1].status, Status::Unimplemented);
  EXPECT_NE(planned[1].reason.find("selection best_iter for method random"), std::string::npos) << planned[1].reason;
  EXPECT_TRUE(planned[2].run.has_value()) << planned[2].reason;  // the trajectory family saves its points
}

}  // namespace

// TrustDD POE on mtt: S_out initialised from corrupted real images and moved by the trajectory loss.
TEST(Mtt, PoeDistilsOutliersThroughTheStudent) {
  json given = tiny_options();
  given["poe"] = true;
  given["lr_img"] = 1000.0;
  const MethodInfo& info = MethodRegistry::instance().get("mtt");
  const Options o(resolve_options(info, given));
  const TrajectoryConfig cfg = TrajectoryConfig::from("mtt", o);
  static const std::vector<torch::Tensor> traj = toy_trajectory("ConvNetW32", 3);
  ExpertSource src{1, [](int64_t) { return traj; }};
  torch::manual_seed(4);
  DistillContext ctx{toy(), 1, "ConvNetW32", o, 4};
  OutlierSource outliers(ctx, outlier_options(o, toy().info.name), toy().info.num_classes);
  torch::manual_seed(4);
  const torch::Tensor init = outlier_init(outliers, toy().info, 1, true);
  torch::manual_seed(4);
  OutlierSource again(ctx, outlier_options(o, toy().info.name), toy().info.num_classes);
  const SyntheticSet out = run_trajectory_matching(cfg, ctx, src, nullptr, &again);
  ASSERT_TRUE(out.outliers.defined());
  EXPECT_EQ(out.outliers.sizes(), out.images.sizes());
  EXPECT_TRUE(torch::isfinite(out.outliers).all().item<bool>());
  EXPECT_EQ(out.meta.at("outliers").at("kind"), "poe");
  EXPECT_GT((out.outliers - init).abs().max().item<double>(), 0.0);  // the student's loss moved them
}

// OE experts (paper Eq. 10) train with a batch of outliers beside each real one and have their own key;
// plain experts keep theirs (no OE fields in the spec's JSON).
TEST(Experts, OutlierExposureExpertsHaveTheirOwnKeyAndTrain) {
  const auto dir = ddb::testing_support::temp_dir("oe-experts");
  ExpertSpec spec;
  spec.net = "ConvNetW32";
  spec.epochs = 1;
  spec.images_per_class = 4;
  spec.dsa = false;
  EXPECT_FALSE(spec.to_json().contains("lambda_oe"));
  const ExpertCache plain(dir.string(), toy(), spec);
  spec.lambda_oe = 0.5;
  spec.outliers = {{"kind", "test-noise"}};
  ExpertCache oe(dir.string(), toy(), spec);
  EXPECT_NE(plain.key(), oe.key());
  EXPECT_THROW(oe.ensure(1, torch::kCPU, nullptr), std::logic_error);  // no sampler: a programming error
  int64_t drawn = 0;
  oe.set_outlier_sampler([&drawn](int64_t n) {
    drawn += n;
    return torch::randn({n, 1, 28, 28});
  });
  oe.ensure(1, torch::kCPU, nullptr);
  EXPECT_EQ(drawn, 40);  // one outlier per real image: 10 classes x 4 images, one epoch
  EXPECT_EQ(oe.load(0).snapshots.size(), 2u);
}

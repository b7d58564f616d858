// DREAM (methods/matching/dream.cpp): the k-means, the representative sampler, a tiny distillation, and
// IDC's default path through the sampler hook (methods/matching/idc.h).
#include <gtest/gtest.h>

#include <set>

#include "datasets/registry.h"
#include "harness/nets/net.h"
#include "methods/common.h"
#include "methods/matching/dream.h"
#include "methods/matching/idc.h"
#include "methods/method.h"

namespace ddb {
namespace {

Options options_of(const std::string& method, json given) {
  return Options(resolve_options(MethodRegistry::instance().get(method), given));
}

// Three groups of 40 points in 5-D around centres 10 apart (sd 0.1), in shuffled order.
struct Blobs {
  torch::Tensor points, group, centres;
};
Blobs blobs() {
  torch::manual_seed(11);
  Blobs b;
  b.centres = torch::tensor({0.0f, 10.0f, -10.0f}).view({3, 1}) * torch::ones({1, 5});
  b.group = torch::arange(3, torch::kLong).repeat_interleave(40);
  b.points = b.centres.index_select(0, b.group) + 0.1 * torch::randn({120, 5});
  const torch::Tensor perm = torch::randperm(120, torch::kLong);
  b.points = b.points.index_select(0, perm);
  b.group = b.group.index_select(0, perm);
  return b;
}

TEST(DreamKMeans, FindsWellSeparatedGroupsWithEitherInit) {
  const Blobs b = blobs();
  for (const std::string init : {"random", "kmeans++"}) {
    // Random init may put two centres in one group; a few seeds must all recover the groups with
    // kmeans++, and random init must on most.
    int recovered = 0;
    for (int seed = 0; seed < 5; ++seed) {
      torch::manual_seed(seed);
      KMeansOptions o;
      o.init = init;
      const KMeansResult r = kmeans(b.points, 3, o);
      ASSERT_EQ(r.centres.sizes(), (std::vector<int64_t>{3, 5}));
      ASSERT_EQ(r.assign.sizes(), (std::vector<int64_t>{120}));
      EXPECT_LE(r.iterations, o.max_iter);
      // Each found cluster is exactly one group, and each centre sits on its group's centre.
      bool ok = true;
      std::set<int64_t> groups;
      for (int64_t k = 0; k < 3; ++k) {
        const torch::Tensor members = b.group.index_select(0, (r.assign == k).nonzero().view({-1}));
        if (members.numel() != 40 || !torch::equal(members, torch::full_like(members, members[0].item<int64_t>()))) {
          ok = false;
          continue;
        }
        groups.insert(members[0].item<int64_t>());
        ok = ok && torch::allclose(r.centres[k], b.centres[members[0].item<int64_t>()], 0, 0.1);
      }
      recovered += ok && groups.size() == 3;
    }
    if (init == "kmeans++") EXPECT_EQ(recovered, 5) << init;
    else EXPECT_GE(recovered, 3) << init;
  }
}

TEST(DreamKMeans, SameStreamSameClusters) {
  const Blobs b = blobs();
  torch::manual_seed(4);
  const KMeansResult a = kmeans(b.points, 5);
  torch::manual_seed(4);
  const KMeansResult c = kmeans(b.points, 5);
  EXPECT_TRUE(torch::equal(a.centres, c.centres));
  EXPECT_THROW(kmeans(b.points, 121), UserError);
}

TEST(DreamSampler, RepresentativesAreTheSamplesNearestTheCentres) {
  const Blobs b = blobs();
  torch::manual_seed(1);
  const torch::Tensor idx = representative_indices(b.points, 3, {"kmeans++", 100, 1e-4});
  ASSERT_EQ(idx.numel(), 3);
  // One representative per group, each the point nearest its group's centre.
  std::set<int64_t> groups;
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t g = b.group[idx[i].item<int64_t>()].item<int64_t>();
    groups.insert(g);
    const torch::Tensor in_group = (b.group == g).nonzero().view({-1});
    const torch::Tensor mean = b.points.index_select(0, in_group).mean(0);
    const torch::Tensor d = (b.points.index_select(0, in_group) - mean).pow(2).sum(1);
    EXPECT_EQ(idx[i].item<int64_t>(), in_group[d.argmin()].item<int64_t>());
  }
  EXPECT_EQ(groups.size(), 3u);
  // k >= N: every sample.
  EXPECT_TRUE(torch::equal(representative_indices(b.points.narrow(0, 0, 4), 8), torch::arange(4, torch::kLong)));
}

// IDC's own draw, handed to IDC's loop through the hook.
struct Passthrough : IdcRealSampler {
  explicit Passthrough(const DistillContext& c) : ctx(c) {}
  torch::Tensor real_batch(int64_t c, int64_t, NetImpl&) override { return ctx.data.sample_class(c, ctx.options.integer("batch_real")); }
  const DistillContext& ctx;
};

TEST(Dream, DistillsASetOfTheRightShapeAndLabelsFromRepresentativeBatches) {
  const LoadedDataset data = load_dataset("toy28", {});
  const MethodInfo& info = MethodRegistry::instance().get("dream");
  torch::manual_seed(3);
  DistillContext ctx{data, 2, "ConvNetW32",
                     options_of("dream", {{"base", "idc"}, {"factor", 2}, {"iterations", 2}, {"inner_loop", 2}, {"interval", 1},
                                          {"n_data", 32}, {"batch_real", 8}, {"metric", "mse"}, {"lr_img", 0.01}, {"kmeans_iter", 20}}),
                     3, torch::kCPU, nullptr};
  const SyntheticSet s = info.make()->distill(ctx);
  EXPECT_EQ(s.images.sizes(), (std::vector<int64_t>{2 * data.info.num_classes, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(s.labels, class_major_labels(data.info.num_classes, 2)));
  EXPECT_TRUE(torch::isfinite(s.images).all().item<bool>());
  ASSERT_TRUE(s.meta.contains("real_sampler"));
  // interval 1: every inner step of both outer iterations re-clusters each class: 2 x 2 x 10 queries.
  EXPECT_EQ(s.meta["real_sampler"]["queries"], 2 * 2 * data.info.num_classes);
  EXPECT_EQ(s.meta["real_sampler"]["clusters_per_class"], 8);
  const SyntheticSet d = info.make()->decode(s, ctx.options);
  EXPECT_EQ(d.images.size(0), 8 * data.info.num_classes);
  EXPECT_EQ(d.labels.size(0), 8 * data.info.num_classes);
  // base other than idc: an error naming the valid value.
  DistillContext bad{data, 1, "ConvNetW32", options_of("dream", {{"base", "dsa"}, {"iterations", 1}}), 3, torch::kCPU, nullptr};
  try {
    info.make()->distill(bad);
    ADD_FAILURE() << "base dsa accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("must be idc"), std::string::npos) << e.what();
  }
}

TEST(DreamSampler, MatchesTheClassImagesNearestTheCentresAndReclustersEveryInterval) {
  const LoadedDataset data = load_dataset("toy28", {});
  Net net = make_net("ConvNetW32", data.info.shape, data.info.num_classes);
  DistillContext ctx{data, 1, "ConvNetW32", options_of("dream", {}), 3, torch::kCPU, nullptr};
  const auto sampler = make_representative_sampler(ctx, 6, 3, /*select_init=*/true);
  const int64_t c = 4;
  const torch::Tensor all = data.train.images.index_select(0, data.class_indices[c]);
  const torch::Tensor f = embed_all(*net, all, torch::kCPU);
  torch::manual_seed(9);
  const torch::Tensor batch = sampler->real_batch(c, 0, *net);
  torch::manual_seed(9);
  const KMeansResult r = kmeans(f, 6);  // the same draws: the same clusters
  ASSERT_EQ(batch.size(0), 6);
  for (int64_t k = 0; k < 6; ++k) {
    // The k-th image is of class c (one of its training images) and the nearest of the class to centre k.
    const torch::Tensor same = (all - batch[k]).abs().flatten(1).sum(1) == 0;
    ASSERT_TRUE(same.any().item<bool>()) << k;
    const int64_t i = same.nonzero()[0][0].item<int64_t>();
    const torch::Tensor d = (f - r.centres[k]).pow(2).sum(1);
    EXPECT_NEAR(d[i].item<double>(), d.min().item<double>(), 1e-4) << k;
  }
  // Between re-clusterings the batch stays; at step % interval == 0 it is drawn again (another k-means).
  torch::manual_seed(123);
  EXPECT_TRUE(torch::equal(sampler->real_batch(c, 1, *net), batch));
  EXPECT_TRUE(torch::equal(sampler->real_batch(c, 2, *net), batch));
  torch::manual_seed(9);
  EXPECT_TRUE(torch::equal(sampler->real_batch(c, 3, *net), batch));  // same net, same draws
  // Initial images: as many as asked, of the class.
  EXPECT_EQ(sampler->init_images(c, 5, *net).size(0), 5);
}

TEST(Idc, DefaultPathIsUnchangedByTheSamplerHook) {
  const LoadedDataset data = load_dataset("toy28", {});
  const json o = {{"factor", 2}, {"iterations", 2}, {"inner_loop", 1}, {"n_data", 16}, {"batch_real", 8}, {"metric", "mse"}, {"lr_img", 0.01}};
  auto run_idc = [&](bool through_hook) {
    torch::manual_seed(7);
    DistillContext ctx{data, 1, "ConvNetW32", options_of("idc", o), 7, torch::kCPU, nullptr};
    if (!through_hook) return MethodRegistry::instance().get("idc").make()->distill(ctx);
    Passthrough hook(ctx);
    return idc_distill(ctx, &hook);
  };
  const SyntheticSet plain = run_idc(false), hooked = run_idc(true);
  EXPECT_TRUE(torch::equal(plain.images, hooked.images));
  // dream with its changes off (IDC's random batches and init, IDC's batch_real) is idc, bit for bit.
  json off = o;
  off["sampler"] = "random";
  off["f2_init"] = "random";
  torch::manual_seed(7);
  DistillContext ctx{data, 1, "ConvNetW32", options_of("dream", off), 7, torch::kCPU, nullptr};
  const SyntheticSet dream_off = MethodRegistry::instance().get("dream").make()->distill(ctx);
  EXPECT_TRUE(torch::equal(plain.images, dream_off.images));
  // ... and dream's representatives change it.
  json on = o;
  torch::manual_seed(7);
  DistillContext ctx_on{data, 1, "ConvNetW32", options_of("dream", on), 7, torch::kCPU, nullptr};
  EXPECT_FALSE(torch::equal(plain.images, MethodRegistry::instance().get("dream").make()->distill(ctx_on).images));
}

TEST(Dream, TakesRddsOptionsAndTheSuiteCellsOptionsResolve) {
  const MethodInfo& info = MethodRegistry::instance().get("dream");
  const json cell = {{"base", "idc"}, {"factor", 2}, {"rdd", true}, {"clusters", 10}, {"cluster_centers", "farthest_point_10"},
                     {"cluster_space", "embedding"}, {"cvar_alpha", 0.8}, {"cvar_terms", json::array({"mean", "max"})},
                     {"ce", true}, {"cvar_batch", 256}, {"cvar_every", 3}};
  const Options o(resolve_options(info, cell));
  EXPECT_EQ(o.integer("batch_real"), 128);
  EXPECT_EQ(o.integer("interval"), 10);
  EXPECT_EQ(o.str("init"), "kmeans");
  EXPECT_THROW(resolve_options(info, {{"no_such_option", 1}}), UserError);
}

}  // namespace
}  // namespace ddb

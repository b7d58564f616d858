// `ddbench experts`: trains (or resumes) expert trajectories into the shared cache, the same cache
// the trajectory-matching methods read, so they can be prepared ahead of a run (or on another machine).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "datasets/registry.h"
#include "methods/trajectory/experts.h"
#include "harness/devices.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "harness/zca.h"

namespace ddb::cli {

namespace {

// cpu | cuda | cuda:N | auto, as every verb (harness/devices.h).
torch::Device experts_device(const std::string& d) { return parse_device(d); }

}  // namespace

void register_experts_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "experts",
      "Train or resume expert trajectories (MTT buffer.py) into the cache the trajectory methods read");
  c->footer(
      "Each expert is a fresh net trained with SGD on the real training split (DSA per sample unless --no-dsa),\n"
      "its parameters saved at init and after every epoch (epochs+1 snapshots) to\n"
      "<cache>/experts/<key>/expert_<i>.pt, where key = sha256 of the dataset identity (incl. ZCA) and the\n"
      "training spec. Experts already there are kept; an interrupted run loses only the expert in progress.\n"
      "Expert i's seed is derived from the key and i, so a cache is reproducible and shareable.\n"
      "Reference: MTT buffer.py --num_experts 100 --train_epochs 50 --lr_teacher 0.01 --mom 0 --l2 0\n"
      "--batch_train 256 (ConvNet experts on CIFAR-10 reach ~77-79% test accuracy).");
  static std::string dataset, net = "ConvNet", cache = default_cache_dir(), data_root, device = "auto", strategy;
  static int64_t experts = 1, ipc_subset = 0;
  static int threads = 0;
  static bool no_dsa = false, zca = false;
  static ExpertSpec spec;
  c->add_option("--dataset", dataset, "registry name (ddbench list datasets)")->required();
  c->add_option("--net", net, "expert network (ddbench list nets)")->capture_default_str();
  c->add_option("--experts", experts, "how many experts the cache should hold (0 .. K-1)")->capture_default_str();
  c->add_option("--epochs", spec.epochs, "training epochs per expert (MTT --train_epochs)")->capture_default_str();
  c->add_option("--lr", spec.lr, "SGD learning rate (MTT --lr_teacher)")->capture_default_str();
  c->add_option("--momentum", spec.momentum, "SGD momentum (MTT --mom)")->capture_default_str();
  c->add_option("--weight-decay", spec.weight_decay, "SGD weight decay (MTT --l2)")->capture_default_str();
  c->add_option("--batch", spec.batch, "training batch size (MTT --batch_train)")->capture_default_str();
  c->add_flag("--no-dsa", no_dsa, "train without DSA augmentation");
  c->add_option("--dsa-strategy", strategy, "DSA strategy (default: the dataset's, no flip for digits)");
  c->add_flag("--zca", zca, "ZCA-whiten train and test first (MTT --zca, eps 0.1; a different cache key)");
  c->add_option("--sam-rho", spec.sam_rho, "sharpness-aware training radius (FTD run_buffer.sh: 0.01); 0 = plain SGD")
      ->capture_default_str();
  c->add_option("--sam-alpha", spec.sam_alpha, "GSAM surrogate-gap weight (FTD buffer_FTD.py default: 0.4); 0 = SAM")
      ->capture_default_str();
  c->add_flag("--sam-adaptive", spec.sam_adaptive, "perturbation scaled by |parameter| (GSAM adaptive=True, FTD's setting)");
  c->add_option("--images-per-class", ipc_subset,
                "train on a fixed random subset of M images per class (0 = the whole split, as the reference)")
      ->check(at_least(0))->capture_default_str();
  c->add_option("--cache", cache, "cache directory (default $DDBENCH_CACHE, else ./cache)")->capture_default_str();
  c->add_option("--data-root", data_root, "where datasets live");
  c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
  c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
  c->callback(guarded([] {
    {
      init_runtime(threads);
      if (experts < 1) throw UserError("--experts must be >= 1");
      const torch::Device dev = experts_device(device);
      LoadOptions lo;
      lo.data_root = data_root;
      const auto t0 = std::chrono::steady_clock::now();
      LoadedDataset data = load_dataset(dataset, lo);
      if (zca) data = with_zca(data);
      ExpertSpec s = spec;
      s.net = net;
      s.dsa = !no_dsa;
      s.dsa_strategy = strategy;
      s.images_per_class = ipc_subset;
      ExpertCache ec(cache, data, s);
      int64_t present = 0;
      for (int64_t i = 0; i < experts; ++i) present += ec.has(i) ? 1 : 0;
      std::cout << "cache " << ec.dir() << "\n"
                << "dataset " << data.identity << ", " << ec.training_split().size() << " training images, net "
                << s.net << ", device " << device_name(dev) << ", threads " << torch::get_num_threads() << "\n";
      auto last = std::chrono::steady_clock::now();
      auto progress = [&last](const std::string& phase, long done, long total) {
        const auto now = std::chrono::steady_clock::now();
        std::fprintf(stderr, "%s epoch %ld/%ld (%.1f s)\n", phase.c_str(), done, total,
                     std::chrono::duration<double>(now - last).count());
        last = now;
      };
      const auto t_train = std::chrono::steady_clock::now();
      ec.ensure(experts, dev, progress);
      const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();
      const int64_t trained = experts - present;
      std::cout << "experts: " << experts << " requested, " << present << " already present, " << trained
                << " trained now\n";
      for (int64_t i = 0; i < experts; ++i) {
        const Trajectory t = ec.load(i);
        std::printf("expert %lld: test accuracy %.2f%% (%zu snapshots)\n", static_cast<long long>(i), t.test_accuracy,
                    t.snapshots.size());
      }
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("wall time %.1f s (training %.1f s", wall, train_s);
      if (trained > 0) std::printf(", %.2f s per expert epoch", train_s / static_cast<double>(trained * s.epochs));
      std::printf(")\n");
    }
  }));
}

}  // namespace ddb::cli

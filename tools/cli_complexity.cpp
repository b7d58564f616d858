// `ddbench complexity`: Comp-DD's per-class complexity (EDF, Sec. 3 / App. D; ../shared/method-notes/edf.md).
// A classifier the harness trains itself (the dc protocol's schedule on the training split) gives each image a
// Grad-CAM map of its true class (harness/gradcam.h), normalised to [0,1]; the image's high-activation fraction
// is the share of pixels >= the threshold (0.5), and its complexity is 1 - that share (the EDF code README:
// a larger high-activation area means an easier image). Class complexity = the mean over its images; classes
// are ranked ascending (rank 1 = easiest).
#include "cli_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>

#include "datasets/registry.h"
#include "harness/check.h"
#include "harness/gradcam.h"
#include "harness/report/reporter.h"
#include "harness/runtime.h"
#include "harness/train.h"

namespace ddb::cli {

void register_complexity_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "complexity",
      "Comp-DD class complexity (EDF): 1 - the fraction of Grad-CAM pixels >= threshold on each image's true class, "
      "from a classifier trained here; per-class mean, std and rank (1 = easiest)");
  static std::string dataset = "fashion-mnist", net_name = "ConvNetW32", split_name = "test", out, data_root,
                     device = "auto";
  static int64_t epochs = 5, max_per_class = 0, train_per_class = 0, seed = 0;
  static double threshold = 0.5;
  static int threads = 0;
  c->add_option("--dataset", dataset, "registry name (ddbench list datasets)")->capture_default_str();
  c->add_option("--net", net_name,
                "classifier with a conv feature map (ConvNet family, ResNet18*); the paper uses an ImageNet-trained "
                "ResNet-18, here every net is trained on the dataset's training split")
      ->capture_default_str();
  c->add_option("--epochs", epochs,
                "the dc protocol's Epoch for training the classifier (Epoch+1 epochs, lr 0.01 x0.1 after Epoch//2+1)")
      ->capture_default_str();
  c->add_option("--threshold", threshold, "Grad-CAM value counted as high activation (Comp-DD: 0.5)")
      ->capture_default_str();
  c->add_option("--split", split_name, "test | train: the images whose complexity is measured")->capture_default_str();
  c->add_option("--max-per-class", max_per_class, "the first N images of each class of the split (0: all)")
      ->capture_default_str();
  c->add_option("--train-per-class", train_per_class,
                "train the classifier on the first N training images of each class only (0: the whole split)")
      ->capture_default_str();
  c->add_option("--seed", seed, "torch seed of the classifier's initialisation and batch order")->capture_default_str();
  c->add_option("--out", out, "CSV file: class,name,n,complexity_mean,complexity_std,high_fraction_mean,rank,zero_maps (images whose "
                "map is all zero: complexity 1)");
  c->add_option("--data-root", data_root, "where datasets live");
  c->add_option("--device", device, "cpu | cuda | auto")->capture_default_str();
  c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
  c->callback(guarded([] {
    init_runtime(threads);
    if (epochs < 0) throw UserError("--epochs must be >= 0");
    if (!(threshold >= 0 && threshold <= 1)) throw UserError("--threshold must be in [0, 1]");
    if (max_per_class < 0 || train_per_class < 0) throw UserError("--max-per-class and --train-per-class must be >= 0");
    if (split_name != "test" && split_name != "train") throw UserError("--split must be test or train");
    LoadOptions lo;
    lo.data_root = data_root;
    LoadedDataset data = load_dataset(dataset, lo);
    std::cerr << "dataset " << dataset << ": " << (data.source_dir.empty() ? std::string("generated") : data.source_dir)
              << " (" << data.identity << ")\n";
    const torch::Device dev = resolve_device(device);
    const int64_t k = data.info.num_classes;
    torch::manual_seed(static_cast<uint64_t>(seed));
    Net net = make_net(net_name, data.info.shape, k);
    net->to(dev);
    {  // Before training: a net without a conv map fails now, not after minutes.
      try {
        net->eval();
        net->feature_map_and_logits(data.train.images.narrow(0, 0, 1).to(dev));
        net->train();
      } catch (const UserError& e) {
        throw UserError("--net " + net_name + ": " + e.what());
      }
    }
    TrainSchedule sched;  // the dc protocol's: SGD 0.01, momentum 0.9, wd 5e-4, batch 256, Epoch+1 epochs
    sched.epochs = epochs;
    const auto t0 = std::chrono::steady_clock::now();
    long last = -1;
    auto progress = [&last](const std::string& phase, long done, long total) {
      const long pct = total ? done * 100 / total : 0;
      if (pct / 20 != last / 20) std::cerr << phase << " epoch " << done << "/" << total << "\n";
      last = pct;
    };
    auto first_per_class = [k](const TensorSplit& sp, int64_t per_class) {
      std::vector<torch::Tensor> idx;
      for (int64_t cl = 0; cl < k; ++cl) {
        torch::Tensor ci = sp.labels.eq(cl).nonzero().flatten();
        if (per_class > 0 && ci.size(0) > per_class) ci = ci.narrow(0, 0, per_class);
        idx.push_back(ci);
      }
      return idx;
    };
    TensorSplit train = data.train;
    if (train_per_class > 0) {
      const torch::Tensor ti = torch::cat(first_per_class(data.train, train_per_class));
      train = TensorSplit{data.train.images.index_select(0, ti), data.train.labels.index_select(0, ti)};
    }
    std::cerr << "training " << net_name << " on " << train.size() << " images (" << epochs + 1 << " epochs)\n";
    const double loss = train_classifier(*net, train.images.to(dev), train.labels.to(dev), sched, progress,
                                         "train classifier");
    const double acc = test_accuracy(*net, data.test, dev);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("classifier %s on %s (%lld training images): test accuracy %.2f%% (train loss %.4f, %lld epochs, %.0f s)\n",
                net_name.c_str(), dataset.c_str(), static_cast<long long>(train.size()), acc, loss,
                static_cast<long long>(epochs + 1), secs);

    const TensorSplit& split = split_name == "test" ? data.test : data.train;
    const std::vector<torch::Tensor> idx = first_per_class(split, max_per_class);
    const torch::Tensor all = torch::cat(idx);
    const torch::Tensor images = split.images.index_select(0, all);
    const torch::Tensor labels = split.labels.index_select(0, all);
    std::cerr << "Grad-CAM on " << all.size(0) << " " << split_name << " images\n";
    const torch::Tensor maps = grad_cam(*net, images, labels, dev);
    const torch::Tensor high = fraction_at_least(maps, threshold).to(torch::kDouble).contiguous();
    const double* hp = high.data_ptr<double>();
    // An all-zero map (ReLU removed every location: no positive evidence for the class in the last block)
    // counts as complexity 1; the table says how many there are.
    const torch::Tensor zero = maps.flatten(1).amax(1).eq(0).contiguous();
    const bool* zp = zero.data_ptr<bool>();

    struct Row {
      int64_t cls;
      int64_t n;
      int64_t zero_maps;
      double mean, sd, high_mean;
      int64_t rank = 0;
    };
    std::vector<Row> rows;
    std::vector<double> every;
    int64_t off = 0;
    for (int64_t cl = 0; cl < k; ++cl) {
      const int64_t n = idx[cl].size(0);
      std::vector<double> comp;
      int64_t zeros = 0;
      for (int64_t i = 0; i < n; ++i) {
        comp.push_back(1.0 - hp[off + i]);
        zeros += zp[off + i] ? 1 : 0;
      }
      off += n;
      every.insert(every.end(), comp.begin(), comp.end());
      Row r{cl, n, zeros, NAN, NAN, NAN};
      if (n > 0) {
        const auto [m, s] = mean_std(comp);
        r.mean = m;
        r.sd = s;
        r.high_mean = 1.0 - m;
      }
      rows.push_back(r);
    }
    std::vector<size_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const bool na = std::isnan(rows[a].mean), nb = std::isnan(rows[b].mean);
      if (na != nb) return nb;  // empty classes last
      return !na && rows[a].mean < rows[b].mean;
    });
    for (size_t r = 0; r < order.size(); ++r) rows[order[r]].rank = static_cast<int64_t>(r + 1);

    auto name_of = [&](int64_t cl) {
      return cl < static_cast<int64_t>(data.info.class_names.size()) ? data.info.class_names[cl] : std::string();
    };
    std::printf("complexity = 1 - fraction of Grad-CAM pixels >= %.2f (true class), %s split, rank 1 = easiest\n",
                threshold, split_name.c_str());
    std::printf("%4s  %5s  %-20s %5s  %10s  %8s  %9s\n", "rank", "class", "name", "n", "complexity", "std", "zero_maps");
    for (size_t i : order) {
      const Row& r = rows[i];
      std::printf("%4lld  %5lld  %-20s %5lld  %10.4f  %8.4f  %9lld\n", static_cast<long long>(r.rank),
                  static_cast<long long>(r.cls), name_of(r.cls).c_str(), static_cast<long long>(r.n), r.mean, r.sd,
                  static_cast<long long>(r.zero_maps));
    }
    if (!every.empty()) {
      const auto [m, s] = mean_std(every);
      std::printf("dataset mean complexity %.4f ± %.4f over %zu images\n", m, s, every.size());
    }
    if (!out.empty()) {
      std::ofstream f(out);
      if (!f) throw UserError("cannot write " + out);
      f << "class,name,n,complexity_mean,complexity_std,high_fraction_mean,rank,zero_maps\n";
      char buf[256];
      for (const Row& r : rows) {
        std::snprintf(buf, sizeof buf, "%lld,%s,%lld,%.6f,%.6f,%.6f,%lld,%lld", static_cast<long long>(r.cls),
                      csv_field(name_of(r.cls)).c_str(), static_cast<long long>(r.n), r.mean, r.sd, r.high_mean,
                      static_cast<long long>(r.rank), static_cast<long long>(r.zero_maps));
        f << buf << "\n";
      }
      std::cerr << "wrote " << out << "\n";
    }
  }));
}

}  // namespace ddb::cli

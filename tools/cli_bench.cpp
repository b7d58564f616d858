// `ddbench bench`: end-to-end figures a user compares with their own Python runs — seconds per
// evaluation run (the dc protocol on a real-initialised set of IPC images per class), per DM
// iteration, per test pass; the evaluation's training GFLOP/s and its fraction of the measured conv
// peak (the same ConvNet's convolutions alone, forward + backward, at batch 256). With
// --compare-unfused every figure is taken twice, with and without the fused ConvNet block kernel
// (harness/nets/fused_block.h), alternating, so both see the same machine load.
#include "cli_common.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/registry.h"
#include "harness/devices.h"
#include "harness/eval_protocol.h"
#include "harness/nets/fused_block.h"
#include "harness/nets/net.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "harness/train.h"
#include "methods/common.h"
#include "methods/method.h"

namespace ddb::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Multiply-adds x 2 of the default ConvNet (width 128, depth 3; the first conv pads 3 on one channel,
// as the reference) and its classifier, per image, forward. Training counts 3x (forward, grad of
// input, grad of weight), less the first conv's input gradient, which is never taken.
struct Flops {
  double forward = 0;
  double first_conv = 0;
  double train() const { return 3 * forward - first_conv; }
};

Flops convnet_flops(const ImageShape& s, int64_t classes, int64_t width = 128, int64_t depth = 3) {
  Flops f;
  int64_t c = s.channels, h = s.height, w = s.width;
  for (int64_t d = 0; d < depth; ++d) {
    const int64_t pad = (s.channels == 1 && d == 0) ? 3 : 1;
    h = h + 2 * pad - 2;
    w = w + 2 * pad - 2;
    const double conv = 2.0 * c * width * 9 * h * w;
    if (d == 0) f.first_conv = conv;
    f.forward += conv;
    c = width;
    h /= 2;
    w /= 2;
  }
  f.forward += 2.0 * c * h * w * classes;
  return f;
}

// The conv peak: the ConvNet's three convolutions alone (no norm, activation or pool), forward and
// backward at batch 256, in GFLOP/s.
double conv_peak_gflops(const ImageShape& s, int64_t classes, int steps, torch::Device device) {
  torch::manual_seed(0);
  const int64_t batch = 256, width = 128;
  std::vector<torch::Tensor> weights, inputs;
  int64_t c = s.channels, h = s.height, w = s.width;
  for (int d = 0; d < 3; ++d) {
    const int64_t pad = (s.channels == 1 && d == 0) ? 3 : 1;
    inputs.push_back(torch::randn({batch, c, h, w}).to(device).requires_grad_(d > 0));
    weights.push_back((torch::randn({width, c, 3, 3}) * 0.1).to(device).requires_grad_(true));
    h = (h + 2 * pad - 2) / 2;
    w = (w + 2 * pad - 2) / 2;
    c = width;
  }
  auto once = [&] {
    for (int d = 0; d < 3; ++d) {
      const int64_t pad = (s.channels == 1 && d == 0) ? 3 : 1;
      torch::Tensor y = torch::conv2d(inputs[d], weights[d], {}, 1, pad);
      y.sum().backward();
    }
  };
  // A GPU runs asynchronously: reading a value back waits for the queued kernels.
  auto wait = [&] { weights[0].grad().sum().item<double>(); };
  once();
  wait();
  const auto t = Clock::now();
  for (int i = 0; i < steps; ++i) once();
  wait();
  const Flops f = convnet_flops(s, classes);
  const double conv_flops = f.forward - 2.0 * 128 * (s.height / 8) * (s.width / 8) * classes;  // no classifier
  return (3 * conv_flops - f.first_conv) * batch * steps / seconds_since(t) / 1e9;
}

struct Figure {
  std::string what;
  std::string detail;
  double seconds = 0;          // per unit
  std::string unit;
  double gflops = -1;          // GFLOP/s where counted
  double seconds_unfused = -1;
  bool training = false;       // training FLOPs: comparable with the (forward + backward) conv peak
};

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "bench",
      "Time an evaluation run, a DM iteration and a test pass end to end (the figures to compare with a Python "
      "reference run on the same machine), with training GFLOP/s and the fraction of the measured conv peak");
  static std::string dataset = "fashion-mnist", data_root, json_out, device_opt = "cpu";
  static std::vector<int64_t> ipcs = {1, 10, 50};
  static int64_t epochs = 300, dm_iterations = 3, peak_steps = 5;
  static int threads = 0, stack_runs = 0;
  static bool compare_unfused = false, no_dm = false, no_eval = false;
  c->add_option("--dataset", dataset, "registry name (ddbench list datasets)")->capture_default_str();
  c->add_option("--data-root", data_root, "where datasets live");
  c->add_option("--ipc", ipcs, "images per class of the evaluated sets (one evaluation run each)")->check(at_least(1))->capture_default_str();
  c->add_option("--epochs", epochs, "evaluation epochs (the reference's Epoch: Epoch + 1 are trained)")->check(at_least(0))->capture_default_str();
  c->add_option("--dm-iterations", dm_iterations, "DM iterations timed (IPC 10, batch_real 256, DSA); 0: none")
      ->check(at_least(0))->capture_default_str();
  c->add_option("--peak-steps", peak_steps, "steps of the conv peak measurement")->check(at_least(1))->capture_default_str();
  c->add_option("--threads", threads, "intra-op threads (default: all cores)")->check(at_least(1));
  c->add_option("--device", device_opt, "cpu | cuda | cuda:N | auto: where every figure is taken")->capture_default_str();
  c->add_flag("--compare-unfused", compare_unfused,
              "also time every figure without the fused ConvNet block kernel (alternating), and print the speed-up");
  c->add_flag("--no-eval", no_eval, "skip the evaluation runs");
  c->add_option("--stack-runs", stack_runs,
                "also time R evaluation runs per IPC one after the other and as one stacked model (ddbench run\n"
                "--stack-runs), with the largest difference between the two paths' accuracies; 0: not")
      ->capture_default_str();
  c->add_option("--json", json_out, "also write the figures to this JSON file");
  c->callback(guarded([] {
    init_runtime(threads);
    const torch::Device device = resolve_device(device_opt);
    LoadOptions lo;
    lo.data_root = data_root;
    const LoadedDataset data = load_dataset(dataset, lo);
    const auto& info = data.info;
    std::fprintf(stderr, "dataset %s (%s), device %s, %d threads, torch %s\n", dataset.c_str(),
                 data.source_dir.empty() ? "generated" : data.source_dir.c_str(), device_name(device).c_str(),
                 torch::get_num_threads(), torch_version().c_str());
    const Flops flops = convnet_flops(info.shape, info.num_classes);
    const double peak = conv_peak_gflops(info.shape, info.num_classes, static_cast<int>(peak_steps), device);
    std::fprintf(stderr, "conv peak (ConvNet-128's convolutions, forward+backward, batch 256): %.1f GFLOP/s\n", peak);
    std::vector<Figure> figures;
    // Runs fn with the fused kernel on (and off, alternating, when comparing); returns {on, off} seconds.
    auto timed = [](const std::function<double()>& fn) {
      nets::set_fused_blocks(true);
      const double on = fn();
      double off = -1;
      if (compare_unfused) {
        nets::set_fused_blocks(false);
        off = fn();
        nets::set_fused_blocks(true);
      }
      return std::make_pair(on, off);
    };

    {  // the test pass alone: a fresh ConvNet over the whole test split
      torch::manual_seed(0);
      Net net = make_net("ConvNet", info.shape, info.num_classes);
      net->to(device);
      auto pass = [&] {
        const auto t = Clock::now();
        test_accuracy(*net, data.test, device);
        return seconds_since(t);
      };
      pass();  // warm-up
      const auto [on, off] = timed(pass);
      figures.push_back({"test pass", std::to_string(data.test.size()) + " images, ConvNet", on, "s/pass",
                         flops.forward * static_cast<double>(data.test.size()) / on / 1e9, off});
    }

    for (int64_t ipc : no_eval ? std::vector<int64_t>{} : ipcs) {
      torch::manual_seed(0);
      const SyntheticSet set = real_init(data, ipc);
      EvalSpec es = EvalSpec::from_json({{"protocol", "dc"}, {"net", "ConvNet"}, {"epochs", epochs}, {"runs", 1}});
      double train_loss = 0, acc = 0, train_seconds = 0;
      auto run = [&] {
        // The training's own time: from the start to the last epoch's progress report (the test
        // pass follows it), so the GFLOP/s are the training's alone.
        const auto t0 = Clock::now();
        auto last_epoch = t0;
        const ProgressFn progress = [&last_epoch](const std::string&, long done, long total) {
          if (done == total) last_epoch = Clock::now();
        };
        const EvalRunResult r = evaluate_once(set, data, es, 1234, device, progress, "eval", lo);
        acc = r.accuracy;
        train_loss = r.train_loss;
        if (nets::fused_blocks_enabled()) train_seconds = std::chrono::duration<double>(last_epoch - t0).count();
        return r.seconds;
      };
      const auto [on, off] = timed(run);
      const int64_t n = set.size();
      const int64_t steps_per_epoch = (n + es.batch_train - 1) / es.batch_train;
      const double images = static_cast<double>(n) * static_cast<double>(epochs + 1);
      Figure f{"evaluation run", "IPC " + std::to_string(ipc) + ", " + std::to_string(epochs + 1) + " epochs x " +
                                     std::to_string(steps_per_epoch) + " steps, + test pass; acc " + fmt("%.2f", acc),
               on, "s/run", flops.train() * images / std::max(1e-9, train_seconds) / 1e9, off, true};
      figures.push_back(f);
      std::fprintf(stderr, "eval IPC %lld: %.2f s%s\n", static_cast<long long>(ipc), on,
                   off > 0 ? (" (unfused " + fmt("%.2f", off) + " s)").c_str() : "");
    }

    for (int64_t ipc : stack_runs > 1 && !no_eval ? ipcs : std::vector<int64_t>{}) {
      torch::manual_seed(0);
      const SyntheticSet set = real_init(data, ipc);
      const EvalSpec es = EvalSpec::from_json({{"protocol", "dc"}, {"net", "ConvNet"}, {"epochs", epochs}, {"runs", stack_runs}});
      std::vector<uint64_t> seeds;
      for (int r = 0; r < stack_runs; ++r) seeds.push_back(1234 + static_cast<uint64_t>(r));
      const auto t0 = Clock::now();
      std::vector<double> alone;
      for (uint64_t seed : seeds) alone.push_back(evaluate_once(set, data, es, seed, device, nullptr, "eval", lo).accuracy);
      const double sequential = seconds_since(t0) / stack_runs;
      const auto t1 = Clock::now();
      const auto together = evaluate_together(set, data, es, seeds, device, nullptr, "eval", lo);
      const double stacked = seconds_since(t1) / stack_runs;
      double max_diff = 0;
      for (size_t r = 0; r < seeds.size(); ++r)
        max_diff = together[r].failure.empty() ? std::max(max_diff, std::abs(together[r].result.accuracy - alone[r]))
                                               : std::numeric_limits<double>::infinity();
      const std::string setting = std::to_string(stack_runs) + " runs, IPC " + std::to_string(ipc) + ", " +
                                  std::to_string(epochs + 1) + " epochs + test pass";
      figures.push_back({"evaluation runs, one after the other", setting, sequential, "s/run", -1, -1});
      figures.push_back({"evaluation runs, stacked", setting + "; accuracies within " + fmt("%.2f", max_diff) +
                                                         " of the sequential runs'; " + fmt("%.2fx", sequential / stacked),
                         stacked, "s/run", -1, -1});
      std::fprintf(stderr, "eval IPC %lld x %d runs: sequential %.2f s/run, stacked %.2f s/run\n", static_cast<long long>(ipc),
                   stack_runs, sequential, stacked);
    }

    if (dm_iterations > 0) {
      const MethodInfo& mi = MethodRegistry::instance().get("dm");
      auto iteration_seconds = [&] {
        auto run_dm = [&](int64_t iterations) {
          json config = {{"method", "dm"},
                         {"options", resolve_options(mi, {{"iterations", iterations}})},
                         {"dataset", dataset},
                         {"ipc", 10},
                         {"distill_net", "ConvNet"},
                         {"eval", EvalSpec{}.to_json()}};
          const Job job = make_job(identify(config), 0);
          RunnerOptions ro;
          ro.data = lo;
          ro.device = device;
          const auto t = Clock::now();
          distill_job(job, data, ro, nullptr, "");
          return seconds_since(t);
        };
        // Two lengths, so the set-up (real init, first allocation) cancels out.
        const double one = run_dm(1);
        const double many = run_dm(1 + dm_iterations);
        return (many - one) / static_cast<double>(dm_iterations);
      };
      const auto [on, off] = timed(iteration_seconds);
      figures.push_back({"DM iteration", "IPC 10, batch_real 256, DSA, ConvNet", on, "s/iter", -1, off});
    }

    std::printf("| figure | setting | time | GFLOP/s | of conv peak | unfused | speed-up |\n|---|---|---|---|---|---|---|\n");
    json j = {{"dataset", dataset},
              {"device", device_name(device)},
              {"hardware", device_provenance(device)},
              {"threads", torch::get_num_threads()},
              {"torch", torch_version()},
              {"ddbench", ddbench_version()},
              {"git_commit", git_commit()},
              {"conv_peak_gflops", peak},
              {"figures", json::array()}};
    for (const auto& f : figures) {
      const bool has_flops = f.gflops > 0;
      const bool of_peak = has_flops && f.training;
      std::printf("| %s | %s | %.3f %s | %s | %s | %s | %s |\n", f.what.c_str(), f.detail.c_str(), f.seconds,
                  f.unit.c_str(), has_flops ? fmt("%.1f", f.gflops).c_str() : "",
                  of_peak ? fmt("%.0f%%", 100 * f.gflops / peak).c_str() : "",
                  f.seconds_unfused > 0 ? (fmt("%.3f ", f.seconds_unfused) + f.unit).c_str() : "",
                  f.seconds_unfused > 0 ? fmt("%.2fx", f.seconds_unfused / f.seconds).c_str() : "");
      json fj = {{"figure", f.what}, {"setting", f.detail}, {"seconds", f.seconds}, {"unit", f.unit}};
      if (has_flops) fj["gflops"] = f.gflops;
      if (f.seconds_unfused > 0) fj["seconds_unfused"] = f.seconds_unfused;
      j["figures"].push_back(fj);
    }
    std::printf("\nconv peak %.1f GFLOP/s (the ConvNet's convolutions alone, forward+backward, batch 256)\n", peak);
    if (!json_out.empty()) {
      std::ofstream(json_out) << j.dump(2) << "\n";
      std::fprintf(stderr, "wrote %s\n", json_out.c_str());
    }
  }));
}

}  // namespace ddb::cli

// `forgetting`: the forgetting-score coreset (Toneva et al., "An Empirical Study of Example Forgetting
// during Deep Neural Network Learning", ICLR 2019), a baseline of DC, DM and IDM. A network is trained on
// the whole training set; every time a sample is presented, its prediction in that minibatch's forward
// (before the step, as Toneva's code records it) is scored; per class the ipc samples scored most
// forgettable are kept, ties broken at random.
//   count incorrect: epoch-wise incorrect predictions (the IDM authors' ImageNet Subset coreset,
//                    their supplement: a ConvNet trained 5 epochs);
//   count events   : forgetting events, correct at one presentation and wrong at the next (Toneva);
//                    samples never classified correctly rank above every forgotten one.
// The training recipe behind the CIFAR numbers DC quotes is not published: SGD lr 0.01, momentum 0.9,
// weight decay 5e-4, batch 256 (the dc protocol's), train_epochs epochs exactly, no augmentation.
#include "harness/nets/net.h"
#include "harness/train.h"
#include "methods/common.h"

namespace ddb {
namespace {

class Forgetting : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    const std::string count = ctx.options.str("count");
    if (count != "incorrect" && count != "events")
      throw UserError("forgetting: option count must be incorrect or events, got '" + count + "'");
    const int64_t epochs = ctx.options.integer("train_epochs");
    if (epochs < 1) throw UserError("forgetting: option train_epochs must be >= 1");
    const TensorSplit& train = ctx.data.train;
    const int64_t n = train.size();
    Net net = make_net(ctx.options.str("score_net"), ctx.data.info.shape, ctx.data.info.num_classes);
    net->to(ctx.device);
    net->train();
    TrainSchedule s;
    s.epochs = epochs;
    s.lr_drop = false;
    ScheduledSgd sgd(net->parameters(), s);
    torch::Tensor incorrect = torch::zeros({n}, torch::kLong), events = torch::zeros({n}, torch::kLong);
    torch::Tensor last_correct = torch::zeros({n}, torch::kBool), ever_correct = torch::zeros({n}, torch::kBool);
    for (int64_t ep = 0; ep < epochs; ++ep) {
      const torch::Tensor perm = torch::randperm(n, torch::kLong);
      for (int64_t start = 0; start < n; start += s.batch) {
        const torch::Tensor idx = perm.narrow(0, start, std::min(s.batch, n - start));
        const torch::Tensor x = train.images.index_select(0, idx).to(ctx.device);
        const torch::Tensor y = train.labels.index_select(0, idx).to(ctx.device);
        const torch::Tensor logits = net->forward(x);
        const torch::Tensor correct = logits.detach().argmax(1).eq(y).cpu();
        incorrect.index_add_(0, idx, correct.logical_not().to(torch::kLong));
        events.index_add_(0, idx, last_correct.index_select(0, idx).logical_and(correct.logical_not()).to(torch::kLong));
        last_correct.index_put_({idx}, correct);
        ever_correct.index_put_({idx}, ever_correct.index_select(0, idx).logical_or(correct));
        const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
        sgd.optimizer().zero_grad();
        loss.backward();
        sgd.optimizer().step();
      }
      sgd.end_epoch(ep);
      report(ctx.progress, "forgetting scores", ep + 1, epochs);
    }
    // Never learned: more forgettable than any sample forgotten at most once per presentation.
    const torch::Tensor score =
        count == "incorrect" ? incorrect : torch::where(ever_correct, events, torch::full_like(events, epochs + 1));
    std::vector<torch::Tensor> images;
    for (int64_t c = 0; c < ctx.data.info.num_classes; ++c) {
      const torch::Tensor members = ctx.data.class_indices[static_cast<size_t>(c)];
      if (members.size(0) < ctx.ipc)
        throw UserError("forgetting: class " + std::to_string(c) + " has " + std::to_string(members.size(0)) +
                        " training images, fewer than ipc " + std::to_string(ctx.ipc));
      // A random order first, then a stable sort by score: equal scores stay in random order.
      const torch::Tensor shuffled = members.index_select(0, torch::randperm(members.size(0), torch::kLong));
      const torch::Tensor order =
          std::get<1>(score.index_select(0, shuffled).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
      images.push_back(train.images.index_select(0, shuffled.index_select(0, order.narrow(0, 0, ctx.ipc))));
    }
    SyntheticSet out;
    out.images = torch::cat(images, 0);
    out.labels = class_major_labels(ctx.data.info.num_classes, ctx.ipc);
    out.meta["forgetting"] = {{"count", count},
                              {"train_epochs", epochs},
                              {"never_learned", ever_correct.logical_not().sum().item<int64_t>()},
                              {"mean_incorrect", incorrect.to(torch::kDouble).mean().item<double>()},
                              {"mean_events", events.to(torch::kDouble).mean().item<double>()}};
    return out;
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "forgetting",
    "forgetting-score coreset (Toneva et al. 2019): per class the samples a network trained on the whole set "
    "misclassified most often",
    {{"score_net", "string", "ConvNet", "network trained on the whole training set to score the samples"},
     {"train_epochs", "int", 5, "epochs of that training (5: the IDM authors' ImageNet Subset coreset)"},
     {"count", "string", "incorrect",
      "incorrect: epoch-wise incorrect predictions (IDM supplement); events: forgetting events, correct then "
      "wrong at the next presentation (Toneva), never-learned samples first"}},
    [] { return std::make_unique<Forgetting>(); }});

}  // namespace ddb

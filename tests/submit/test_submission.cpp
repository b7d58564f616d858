// Submission bundles (harness/submission.h, `ddbench submit`): a valid bundle passes, every hostile one
// is refused with a message naming the file and the fault and nothing stored, and an end-to-end submit
// on toy28 writes rows that a second identical submit leaves as they are. Bundles are generated here.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>

#include "core/errors.h"
#include "ddbench_config.h"
#include "harness/store.h"
#include "harness/submission.h"
#include "../unit/test_helpers.h"

namespace fs = std::filesystem;
using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

std::string run(const std::string& args, int* code) {
  const std::string cmd = std::string(DDBENCH_BINARY) + " " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = pclose(p);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

void write_pt(const fs::path& path, const torch::Tensor& images, const torch::Tensor& labels) {
  c10::Dict<std::string, torch::Tensor> d;
  d.insert("images", images);
  d.insert("labels", labels);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// toy28: 1x28x28, 10 classes.
torch::Tensor toy_images(int64_t ipc, int64_t seed, int64_t c = 1, int64_t hw = 28) {
  torch::manual_seed(seed);
  return torch::randn({ipc * 10, c, hw, hw});
}
torch::Tensor toy_labels(int64_t ipc) { return torch::arange(10, torch::kLong).repeat_interleave(ipc); }

const char* kMeta = R"(method: TinyDD
authors: [A. Author, B. Author]
paper: https://example.org/paper
code: https://github.com/example/tinydd
commit: 0123456789abcdef0123456789abcdef01234567
licence: CC-BY-4.0
)";

std::string yaml_for(const std::vector<std::string>& files, int64_t ipc = 2, const std::string& dataset = "toy28") {
  std::string y = std::string(kMeta) + "sets:\n  - dataset: " + dataset + "\n    ipc: " + std::to_string(ipc) +
                  "\n    files:\n";
  for (const auto& f : files) y += "      - " + f + "\n";
  return y;
}

// A valid bundle: toy28, ipc 2, two seeds.
fs::path valid_bundle(const std::string& name, int64_t ipc = 2) {
  const fs::path dir = temp_dir("submit-" + name);
  write_pt(dir / "sets/s0.pt", toy_images(ipc, 1), toy_labels(ipc));
  write_pt(dir / "sets/s1.pt", toy_images(ipc, 2), toy_labels(ipc));
  write_file(dir / "submission.yaml", yaml_for({"sets/s0.pt", "sets/s1.pt"}, ipc));
  return dir;
}

// The refusal message of a bundle ("" when it was accepted).
std::string refusal(const fs::path& bundle, const ddb::SubmissionLimits& lim = {}) {
  try {
    ddb::open_submission(bundle.string(), lim);
  } catch (const ddb::UserError& e) {
    return e.what();
  }
  return "";
}

struct Entry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  std::string link;    // symlink target, or hard link target when `hard`
  bool hard = false;
  uint64_t zeros = 0;  // extra zero bytes after data (bombs)
};

void write_tar_gz(const fs::path& path, const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  const std::vector<char> zero(1 << 20, 0);
  for (const auto& en : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, en.name.c_str());
    archive_entry_set_filetype(e, en.type);
    archive_entry_set_perm(e, 0644);
    if (en.type == AE_IFLNK) archive_entry_set_symlink(e, en.link.c_str());
    if (en.hard) archive_entry_set_hardlink(e, en.link.c_str());
    archive_entry_set_size(e, en.type == AE_IFREG ? static_cast<la_int64_t>(en.data.size() + en.zeros) : 0);
    archive_write_header(a, e);
    if (en.type == AE_IFREG) {
      archive_write_data(a, en.data.data(), en.data.size());
      for (uint64_t left = en.zeros; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, zero.size()));
        archive_write_data(a, zero.data(), n);
        left -= n;
      }
    }
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A tar.gz of a valid bundle's files (under `prefix`), plus `extra` entries.
fs::path tar_of(const fs::path& bundle, const std::string& prefix, std::vector<Entry> extra = {}) {
  std::vector<Entry> entries;
  for (const char* f : {"submission.yaml", "sets/s0.pt", "sets/s1.pt"}) entries.push_back({prefix + f, read_all(bundle / f)});
  for (auto& e : extra) entries.push_back(std::move(e));
  const fs::path out = temp_dir("submit-tar") / "bundle.tar.gz";
  write_tar_gz(out, entries);
  return out;
}

}  // namespace

TEST(Submission, ValidBundlePassesWithHashes) {
  const auto dir = valid_bundle("valid");
  const ddb::Submission s = ddb::open_submission(dir.string());
  ASSERT_EQ(s.sets.size(), 1u);
  EXPECT_EQ(s.meta.at("method"), "TinyDD");
  EXPECT_EQ(s.meta.at("licence"), "CC-BY-4.0");
  ASSERT_EQ(s.sets[0].files.size(), 2u);
  EXPECT_EQ(s.sets[0].files[0].sha256.size(), 64u);
  EXPECT_EQ(s.sets[0].files[0].labels, "hard");
  EXPECT_EQ(s.sets[0].files[0].images, 20);
  EXPECT_NE(s.sets[0].files[0].content_hash, s.sets[0].files[1].content_hash);
  EXPECT_EQ(s.bundle_sha256.size(), 64u);
  // A .tar.gz of the same files (inside one top-level folder) is the same bundle.
  ddb::Submission t = ddb::open_submission(tar_of(dir, "tinydd/").string());
  EXPECT_EQ(t.bundle_sha256, s.bundle_sha256);
  EXPECT_TRUE(fs::exists(t.root));
  const std::string tmp = t.root;
  { ddb::Submission gone = std::move(t); }
  EXPECT_FALSE(fs::exists(tmp)) << "the temporary extraction is removed";
}

TEST(Submission, SoftLabelsMustBeDistributions) {
  const auto dir = temp_dir("submit-soft");
  write_pt(dir / "a.pt", toy_images(1, 1), torch::softmax(torch::randn({10, 10}), 1));
  write_pt(dir / "b.pt", toy_images(1, 2), torch::randn({10, 10}));
  write_file(dir / "submission.yaml", yaml_for({"a.pt"}, 1));
  EXPECT_EQ(refusal(dir), "");
  write_file(dir / "submission.yaml", yaml_for({"b.pt"}, 1));
  EXPECT_NE(refusal(dir).find("b.pt: 10 soft-label rows do not sum to 1"), std::string::npos) << refusal(dir);
}

// Each hostile set file: the message names submission.yaml's line, the field and the file, and the fault.
TEST(Submission, HostileTensorsAreRefusedNamingFileAndFault) {
  struct Case {
    const char* what;
    torch::Tensor images, labels;
    const char* expect;
  };
  auto nan = toy_images(2, 3);
  nan[0][0][3][3] = std::numeric_limits<float>::quiet_NaN();
  nan[5][0][1][1] = std::numeric_limits<float>::infinity();
  auto bad_ipc = toy_labels(2);
  bad_ipc[1] = 1;  // class 0 has 1, class 1 has 3
  auto out_of_range = toy_labels(2);
  out_of_range[19] = 10;
  const std::vector<Case> cases = {
      {"nan", nan, toy_labels(2), "2 of 15680 image values are NaN or Inf"},
      {"shape", toy_images(2, 4, 1, 32), toy_labels(2), "images are 32x32 but toy28 is 28x28"},
      {"channels", toy_images(2, 5, 3, 28), toy_labels(2), "images have 3 channels but toy28 has 1"},
      {"range", toy_images(2, 6), out_of_range, "labels range over [0, 10] but toy28 has 10 classes"},
      {"ipc", toy_images(2, 7), bad_ipc, "images per class must equal ipc 2: class 0 has 1, class 1 has 3"},
      {"count", toy_images(3, 8), toy_labels(3), "30 images but ipc 2 x 10 classes = 20"},
      {"int32-labels", toy_images(2, 9), toy_labels(2).to(torch::kInt), "labels are Int: int64 (torch.long)"},
      {"uint8-images", toy_images(2, 9).to(torch::kByte), toy_labels(2), "images are Byte: float images"},
      {"3d", torch::randn({20, 28, 28}), toy_labels(2), "cannot be read as a set: images must be [N,C,H,W]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto dir = valid_bundle(std::string("hostile-") + c.what);
    write_pt(dir / "sets/s1.pt", c.images, c.labels);
    const std::string msg = refusal(dir);
    EXPECT_NE(msg.find("submission.yaml:12: sets[0].files[1]: sets/s1.pt: " + std::string(c.expect)), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find("s0.pt"), std::string::npos) << "the valid file is not blamed: " << msg;
  }
}

TEST(Submission, EveryFaultIsReportedNotJustTheFirst) {
  const auto dir = valid_bundle("many");
  auto nan = toy_images(2, 3);
  nan[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  write_pt(dir / "sets/s0.pt", nan, toy_labels(2));
  write_file(dir / "submission.yaml",
             "method: TinyDD\nmethod: Again\nauthors: []\ncode: ftp://x\ncommit: xyz\nlicence: MIT\nflavour: 1\n"
             "sets:\n  - dataset: no-such-data\n    ipc: 0\n    files: [x.pt]\n"
             "  - dataset: toy28\n    ipc: 2\n    eval: {epochs: 1}\n    files: [sets/s0.pt, /etc/passwd, ../up.pt]\n");
  const std::string msg = refusal(dir);
  for (const char* want : {"submission.yaml:2: method: duplicate key (first at line 1)",
                           "submission.yaml:3: authors: must be a non-empty list",
                           "submission.yaml:4: code: 'ftp://x' is not an http(s) URL",
                           "submission.yaml:5: commit: must be the code's commit",
                           "submission.yaml:7: flavour: unknown key",
                           "submission.yaml:9: sets[0].dataset: unknown dataset",
                           "submission.yaml:10: sets[0].ipc: must be > 0",
                           "submission.yaml:11: sets[0].files[0]: x.pt: no such file in the bundle",
                           "submission.yaml:14: sets[1].eval: the leaderboard evaluates",
                           "submission.yaml:15: sets[1].files[0]: sets/s0.pt: 1 of 15680 image values are NaN or Inf",
                           "submission.yaml:15: sets[1].files[1]: /etc/passwd: absolute path",
                           "submission.yaml:15: sets[1].files[2]: ../up.pt: path '../up.pt' contains '..'"})
    EXPECT_NE(msg.find(want), std::string::npos) << want << "\n---\n" << msg;
  EXPECT_NE(msg.find("(12 faults;"), std::string::npos) << msg;
}

TEST(Submission, DuplicateKeysAreCaughtAtEveryLevel) {
  const auto dir = valid_bundle("dupkey");
  write_file(dir / "submission.yaml", yaml_for({"sets/s0.pt", "sets/s1.pt"}) + "    ipc: 3\nlicence: MIT\n");
  const std::string msg = refusal(dir);
  EXPECT_NE(msg.find("submission.yaml:13: sets[0].ipc: duplicate key (first at line 9)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("submission.yaml:14: licence: duplicate key (first at line 6)"), std::string::npos) << msg;
}

TEST(Submission, PathsCannotLeaveTheBundle) {
  const auto dir = valid_bundle("paths");
  write_pt(dir.parent_path() / (dir.filename().string() + "-outside.pt"), toy_images(2, 1), toy_labels(2));
  fs::create_symlink("s0.pt", dir / "sets/link.pt");
  fs::create_directory_symlink(dir.parent_path(), dir / "up");
  write_file(dir / "submission.yaml",
             yaml_for({"../" + dir.filename().string() + "-outside.pt", (dir / "sets/s0.pt").string(), "sets/link.pt",
                       "up/" + dir.filename().string() + "/sets/s1.pt"}));
  const std::string msg = refusal(dir);
  EXPECT_NE(msg.find("contains '..': paths cannot leave the bundle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sets[0].files[1]: " + (dir / "sets/s0.pt").string() + ": absolute path"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sets[0].files[2]: sets/link.pt: 'sets/link.pt' is a symbolic link"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sets[0].files[3]: up/"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'up' is a symbolic link"), std::string::npos) << msg;
  // submission.yaml itself as a link
  const auto d2 = valid_bundle("yamllink");
  fs::rename(d2 / "submission.yaml", d2 / "real.yaml");
  fs::create_symlink("real.yaml", d2 / "submission.yaml");
  EXPECT_NE(refusal(d2).find("submission.yaml: is a symbolic link"), std::string::npos) << refusal(d2);
}

TEST(Submission, OversizeFileIsRefused) {
  const auto dir = valid_bundle("oversize");
  ddb::SubmissionLimits lim;
  lim.max_file_bytes = 4096;  // each set file is ~63 KB
  const std::string msg = refusal(dir, lim);
  EXPECT_NE(msg.find("sets[0].files[0]: sets/s0.pt: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("is over the 4 KiB limit per file"), std::string::npos) << msg;
}

TEST(Submission, ArchivesWithTraversalLinksOrDevicesAreRefused) {
  const auto dir = valid_bundle("tar-hostile");
  Entry sym{"sets/evil.pt", "", AE_IFLNK, "/etc/passwd"};
  Entry hard{"sets/hard.pt", "", AE_IFREG, "sets/s0.pt", true};
  Entry fifo{"sets/fifo", "", AE_IFIFO};
  const fs::path tar = tar_of(dir, "", {{"../escape.txt", "x"}, {"/tmp/abs-escape.txt", "x"}, {"a/../../b.txt", "x"}, sym, hard, fifo});
  const std::string msg = refusal(tar);
  EXPECT_NE(msg.find("entry '../escape.txt': path '../escape.txt' contains '..'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry '/tmp/abs-escape.txt': absolute path"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 'a/../../b.txt'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 'sets/evil.pt': symbolic link to '/etc/passwd'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 'sets/hard.pt': hard link to 'sets/s0.pt'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("entry 'sets/fifo': not a regular file"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tar.parent_path() / "escape.txt"));
  EXPECT_FALSE(fs::exists("/tmp/abs-escape.txt"));
}

TEST(Submission, DecompressionBombIsRefused) {
  const auto dir = valid_bundle("tar-bomb");
  // 40 MiB of zeros compress to ~40 KB: a ratio of ~1000 past the 16 MiB mark.
  const fs::path bomb = tar_of(dir, "", {{"zeros.bin", "", AE_IFREG, "", false, 40ull << 20}});
  EXPECT_LT(fs::file_size(bomb), 1u << 20);
  const std::string msg = refusal(bomb);
  EXPECT_NE(msg.find("decompression bomb"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ratio over the limit of 100"), std::string::npos) << msg;
  // And the total limit, whatever the ratio.
  ddb::SubmissionLimits lim;
  lim.max_total_bytes = 100000;
  const std::string msg2 = refusal(tar_of(dir, ""), lim);
  EXPECT_NE(msg2.find("decompression bomb: more than 97."), std::string::npos) << msg2;
}

TEST(SubmitCli, DryRunAndRefusalWriteNothing) {
  const auto dir = valid_bundle("cli-dry");
  const auto results = temp_dir("submit-results") / "store";
  int code = -1;
  std::string out = run("submit " + dir.string() + " --dry-run --results " + results.string(), &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("dry run: the bundle passes every check"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(results));
  auto nan = toy_images(2, 3);
  nan[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  write_pt(dir / "sets/s1.pt", nan, toy_labels(2));
  out = run("submit " + dir.string() + " --results " + results.string(), &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("ddbench: error: submission"), std::string::npos) << out;
  EXPECT_NE(out.find("sets/s1.pt: 1 of 15680 image values are NaN or Inf"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(results)) << "nothing written on a fault";
}

TEST(SubmitCli, EndToEndStoresSubmittedRowsOnceAndIsIdempotent) {
  const auto dir = valid_bundle("cli-e2e", 1);
  const auto results = temp_dir("submit-results-e2e") / "store";
  int code = -1;
  const std::string out = run("submit " + dir.string() + " --results " + results.string() + " --threads 1 --device cpu", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("toy28 +1 +4 +[0-9.]+ ± [0-9.]+ +stored"))) << out;  // 2 files x 2 runs
  EXPECT_NE(out.find("stored"), std::string::npos) << out;
  std::vector<ddb::EvalRecord> evals;
  std::vector<std::vector<ddb::MetricRow>> metrics;
  {
    ddb::Store store(results.string());
    evals = store.all_evaluations();
    ASSERT_EQ(evals.size(), 2u);
    for (const auto& e : evals) {
      EXPECT_EQ(e.status, "done");
      EXPECT_TRUE(e.provenance.at("submitted").get<bool>());
      EXPECT_EQ(e.provenance.at("submission").at("method"), "TinyDD");
      EXPECT_EQ(e.provenance.at("bundle_sha256").get<std::string>().size(), 64u);
      EXPECT_EQ(e.provenance.at("file").at("sha256").get<std::string>().size(), 64u);
      EXPECT_TRUE(e.provenance.contains("git_commit"));
      EXPECT_TRUE(e.config.at("options").at("submitted").get<bool>());
      EXPECT_EQ(e.config.at("eval").at("protocol"), "dc");
      metrics.push_back(store.metrics_of(e.key));
      EXPECT_EQ(metrics.back().size(), 2u);
    }
    const auto d = store.all_distillations();
    ASSERT_EQ(d.size(), 2u);
    EXPECT_TRUE(fs::exists(d[0].synset_path)) << "the set is copied into the store";
  }
  const std::string again = run("submit " + dir.string() + " --results " + results.string() + " --threads 1 --device cpu", &code);
  ASSERT_EQ(code, 0) << again;
  EXPECT_NE(again.find("already in the store"), std::string::npos) << again;
  EXPECT_NE(again.find("nothing new"), std::string::npos) << again;
  ddb::Store store(results.string());
  const auto evals2 = store.all_evaluations();
  ASSERT_EQ(evals2.size(), 2u);
  for (size_t i = 0; i < evals2.size(); ++i) {
    EXPECT_EQ(evals2[i].updated_at, evals[i].updated_at);
    const auto m = store.metrics_of(evals2[i].key);
    ASSERT_EQ(m.size(), metrics[i].size());
    for (size_t k = 0; k < m.size(); ++k) EXPECT_EQ(m[k].value, metrics[i][k].value);
  }
  // A re-run in a fresh store (a maintainer's machine) gives the same numbers: seeds come from the content.
  const auto results2 = temp_dir("submit-results-e2e2") / "store";
  ASSERT_EQ((run("submit " + dir.string() + " --results " + results2.string() + " --threads 1 --device cpu", &code), code), 0);
  ddb::Store fresh(results2.string());
  for (size_t i = 0; i < evals.size(); ++i) {
    const auto m = fresh.metrics_of(evals[i].key);
    ASSERT_EQ(m.size(), metrics[i].size());
    for (size_t k = 0; k < m.size(); ++k) EXPECT_DOUBLE_EQ(m[k].value, metrics[i][k].value);
  }
}

// The committed example (examples/submission/): its submission.yaml with generated sets passes a dry run.
TEST(SubmitCli, ExampleBundle) {
  const auto dir = temp_dir("submit-example");
  fs::copy_file(fs::path(DDBENCH_SOURCE_DIR) / "examples/submission/submission.yaml", dir / "submission.yaml");
  for (int seed = 0; seed < 2; ++seed)  // what make_sets.py writes with torch.save
    write_pt(dir / ("sets/fashion-mnist-ipc1-s" + std::to_string(seed) + ".pt"), toy_images(1, seed), toy_labels(1));
  int code = -1;
  const std::string out = run("submit " + dir.string() + " --dry-run", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("method RandomNoiseDD, 1 set(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("fashion-mnist ipc 1: protocol dc, ConvNet, 1000 epochs, augment dsa, 5 runs per file"),
            std::string::npos) << out;
}

// Out-of-tree methods as plugins: the example plugin (examples/plugin, built with the tests against this
// build's library) loads with --plugin, its method distils and runs through a suite with the plugin's
// file and hash in the results' provenance; bad plugins are clear errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "ddbench_config.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"

using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

using Result = ddb::testing_support::CommandResult;
using ddb::testing_support::ddbench;

// Built next to the ddbench binary by the tests' build (CMakeLists.txt add_subdirectory(examples/plugin)).
std::string example_plugin() {
  return (std::filesystem::path(DDBENCH_BINARY).parent_path() / "examples/plugin/libddbench_class_means.so").string();
}

}  // namespace

TEST(Plugin, ExamplePluginRegistersARunnableMethod) {
  const std::string plugin = example_plugin();
  ASSERT_TRUE(std::filesystem::exists(plugin)) << plugin << " was not built";
  const Result list = ddbench("--plugin " + plugin + " list methods");
  ASSERT_EQ(list.code, 0) << list.output;
  EXPECT_NE(list.output.find("class_means"), std::string::npos) << list.output;
  EXPECT_EQ(ddbench("list methods").output.find("class_means"), std::string::npos) << "only with --plugin";

  const auto dir = temp_dir("plugin");
  const Result d = ddbench("--plugin " + plugin + " distill --method class_means --dataset toy28 --ipc 2 -o group=3 --out " +
                           (dir / "s.pt").string());
  EXPECT_EQ(d.code, 0) << d.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "s.pt")) << d.output;

  const std::string suite = write_file(dir / "s.yaml", R"(id: t.plugin
title: plugin
source: {paper: demo}
defaults:
  dataset: toy28
  distill_net: ConvNetW32
  eval: {protocol: dc, net: ConvNetW32, epochs: 2, runs: 1}
  seeds: 1
  metric: accuracy
  paper: {unavailable: "toy"}
tiers:
  cpu: {}
cells:
  - {id: m, method: class_means, ipc: 2, options: {group: 4}}
)");
  // The option may follow the verb as well.
  const Result r = ddbench("run " + suite + " --results " + (dir / "res").string() +
                           " --no-report --tier cpu --threads 1 --plugin " + plugin);
  ASSERT_EQ(r.code, 0) << r.output;
  ddb::Store store((dir / "res").string());
  const auto evals = store.all_evaluations();
  ASSERT_EQ(evals.size(), 1u);
  const auto& prov = evals[0].provenance;
  ASSERT_TRUE(prov.contains("plugins")) << prov.dump();
  EXPECT_EQ(prov.at("plugins").at(0).at("path"), std::filesystem::canonical(plugin).string());
  EXPECT_EQ(prov.at("plugins").at(0).at("sha256").get<std::string>().size(), 64u);
}

TEST(Plugin, BadPluginsAreClearErrors) {
  const Result missing = ddbench("--plugin /nonexistent/p.so list methods");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/p.so: no such file"), std::string::npos) << missing.output;
  // A shared library that is not a plugin: ddbench's own library.
  const std::string lib = (std::filesystem::path(DDBENCH_BINARY).parent_path() / "libddbench.so").string();
  const Result notplugin = ddbench("--plugin " + lib + " list methods");
  EXPECT_EQ(notplugin.code, 2) << notplugin.output;
  EXPECT_NE(notplugin.output.find("not a ddbench plugin"), std::string::npos) << notplugin.output;
  const auto dir = temp_dir("plugin-bad");
  const std::string junk = write_file(dir / "junk.so", "not an ELF file");
  const Result bad = ddbench("--plugin " + junk + " list methods");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("cannot load"), std::string::npos) << bad.output;
}

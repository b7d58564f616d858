// ddbench: torch-free
#include "harness/plugins.h"

#include <dlfcn.h>

#include <filesystem>
#include <vector>

#include "core/errors.h"
#include "core/hashing.h"
#include "core/plugin_abi.h"

namespace ddb {

std::vector<std::string>*& registration_errors() {
  static std::vector<std::string>* sink = nullptr;
  return sink;
}

namespace {

json& plugins() {
  static json list = json::array();
  return list;
}

}  // namespace

void load_plugin(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_regular_file(path)) throw UserError("--plugin " + path + ": no such file");
  const std::string canonical = fs::canonical(path).string();
  for (const auto& p : plugins())
    if (p.at("path") == canonical) return;  // loaded already
  std::vector<std::string> errors;
  registration_errors() = &errors;
  // RTLD_NOW: an unresolved symbol (a plugin built against another ddbench) is an error here, not a crash later.
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  registration_errors() = nullptr;
  if (!handle) throw UserError("--plugin " + path + ": cannot load: " + dlerror());
  using AbiFn = int (*)();
  using NameFn = const char* (*)();
  const auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "ddbench_plugin_abi"));
  const auto name = reinterpret_cast<NameFn>(dlsym(handle, "ddbench_plugin_name"));
  if (!abi || !name)
    throw UserError("--plugin " + path + ": not a ddbench plugin (no DDBENCH_PLUGIN(\"name\") declaration; see "
                    "examples/plugin)");
  if (abi() != DDBENCH_PLUGIN_ABI)
    throw UserError("--plugin " + path + ": built for plugin ABI " + std::to_string(abi()) + ", this ddbench has " +
                    std::to_string(DDBENCH_PLUGIN_ABI) + " (rebuild it against this ddbench)");
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    throw UserError("--plugin " + path + " (" + name() + "): " + all + " (a plugin adds names, it does not replace them)");
  }
  plugins().push_back({{"path", canonical}, {"name", name()}, {"sha256", sha256_file(canonical)}});
}

json loaded_plugins() { return plugins(); }

}  // namespace ddb

// Out-of-tree methods (plugins): a shared library built against an installed ddbench
// (find_package(ddbench); examples/plugin/) that registers methods, protocols or metrics with the usual
// DDBENCH_REGISTER_* macros and is loaded with `ddbench --plugin FILE.so ...`.
//
// A plugin declares itself once with DDBENCH_PLUGIN("name"): the loader refuses a library without it
// (not a ddbench plugin) or built for another plugin ABI (the layouts of MethodInfo, Method,
// DistillContext and the registries it links against).
#pragma once

// Bump when a type a plugin compiles against changes layout or meaning.
#define DDBENCH_PLUGIN_ABI 1

#define DDBENCH_PLUGIN(plugin_name)                                                             \
  extern "C" __attribute__((visibility("default"))) int ddbench_plugin_abi() { return DDBENCH_PLUGIN_ABI; } \
  extern "C" __attribute__((visibility("default"))) const char* ddbench_plugin_name() { return plugin_name; }

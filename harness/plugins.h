// Loading plugins (`ddbench --plugin FILE.so`; core/plugin_abi.h says what a plugin is): dlopen the
// library, whose static registrations add its methods (protocols, metrics) to the registries, then
// check that it declared itself for this plugin ABI and registered no name ddbench already has.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace ddb {

// UserError naming the file and the fault: missing file, not loadable (dlerror), not a ddbench plugin,
// another plugin ABI, a name already registered.
void load_plugin(const std::string& path);

// While a plugin loads: where a registration of a name ddbench already has goes instead of an exception
// (which cannot cross dlopen); null otherwise. MethodRegistry::add reads it.
std::vector<std::string>*& registration_errors();

// The plugins loaded so far ({path, name, sha256}), for results' provenance; an empty array if none.
json loaded_plugins();

}  // namespace ddb

// ddbench: torch-free
#include "core/planned.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "core/errors.h"
#include "harness/runtime.h"
#include "harness/yaml_json.h"

namespace ddb {

namespace fs = std::filesystem;

const std::map<std::string, json>& PlannedNames::section(const std::string& name) const {
  static const std::map<std::string, json> empty;
  const auto it = sections.find(name);
  return it == sections.end() ? empty : it->second;
}

bool PlannedNames::has_option(const std::string& method, const std::string& option) const {
  const auto it = options.find(method);
  return it != options.end() && it->second.count(option) > 0;
}

std::string PlannedNames::planned_value(const std::string& method, const std::string& option,
                                       const std::string& value) const {
  const auto m = option_values.find(method);
  if (m == option_values.end()) return "";
  const auto o = m->second.find(option);
  if (o == m->second.end()) return "";
  const auto v = o->second.find(value);
  return v == o->second.end() ? "" : (v->second.empty() ? value : v->second);
}

PlannedNames load_planned(const std::string& dir) {
  PlannedNames out;
  if (!fs::is_directory(dir)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  static const std::set<std::string> kSections = {"methods", "protocols", "metrics", "options", "option_values",
                                                       "augments"};
  for (const auto& path : files) {
    const YAML::Node root = load_yaml_file(path.string());
    if (root.IsNull()) continue;  // only comments
    auto fail = [&](const YAML::Node& at, const std::string& why) {
      throw UserError(path.string() + ":" + std::to_string(yaml_line(at)) + ": " + why);
    };
    if (!root.IsMap()) fail(root, "a planned-names file is a mapping with methods, protocols, metrics, options, augments");
    for (const auto& sec : root) {
      const std::string name = sec.first.as<std::string>();
      if (!kSections.count(name)) fail(sec.first, "unknown section '" + name + "' (methods, protocols, metrics, options, option_values, augments)");
      if (sec.second.IsNull()) continue;
      if (!sec.second.IsMap()) fail(sec.second, "section '" + name + "' must be a mapping");
      for (const auto& kv : sec.second) {
        const std::string key = kv.first.as<std::string>();
        if (name == "option_values") {  // method -> {option: {value: description}}
          if (!kv.second.IsMap()) fail(kv.second, "option_values." + key + " must map option names to {value: description}");
          for (const auto& o : kv.second) {
            if (!o.second.IsMap()) fail(o.second, "option_values." + key + "." + o.first.as<std::string>() + " must map values to descriptions");
            for (const auto& v : o.second)
              out.option_values[key][o.first.as<std::string>()][v.first.as<std::string>()] = v.second.IsScalar() ? v.second.Scalar() : "";
          }
          continue;
        }
        if (name == "options") {  // method -> {option: description}
          if (!kv.second.IsMap()) fail(kv.second, "options." + key + " must map option names to descriptions");
          for (const auto& o : kv.second) out.options[key][o.first.as<std::string>()] = o.second.IsScalar() ? o.second.Scalar() : "";
          continue;
        }
        json facts = kv.second.IsMap() ? yaml_to_json(kv.second) : json{{"description", kv.second.IsScalar() ? kv.second.Scalar() : ""}};
        if (!out.sections[name].emplace(key, facts).second) fail(kv.first, name + " '" + key + "' is planned twice");
      }
    }
  }
  return out;
}

const PlannedNames& planned() {
  static const PlannedNames names = load_planned((fs::path(source_root()) / "planned").string());
  return names;
}

}  // namespace ddb

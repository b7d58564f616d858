#include "methods/method.h"

#include "harness/plugins.h"

#include <algorithm>

#include "core/planned.h"
#include "methods/matching/seam.h"

namespace ddb {

const json& Options::at(const std::string& name) const {
  if (!values_.contains(name)) throw UserError("option '" + name + "' is not declared by this method");
  return values_.at(name);
}
int64_t Options::integer(const std::string& name) const { return at(name).get<int64_t>(); }
double Options::real(const std::string& name) const { return at(name).get<double>(); }
bool Options::flag(const std::string& name) const { return at(name).get<bool>(); }
std::string Options::str(const std::string& name) const { return at(name).get<std::string>(); }

std::vector<std::string> Options::strings(const std::string& name) const {
  return at(name).get<std::vector<std::string>>();
}

MethodRegistry& MethodRegistry::instance() {
  static MethodRegistry registry;
  return registry;
}

bool MethodRegistry::add(MethodInfo info) {
  if (auto* sink = registration_errors(); sink && methods_.has(info.name)) {  // a plugin re-registering a name
    sink->push_back("method '" + info.name + "' is already registered");
    return false;
  }
  return register_named(methods_, std::move(info));
}

void MethodRegistry::attach_modifier_options() const {
  if (modifiers_attached_) return;
  modifiers_attached_ = true;
  for (auto& kv : methods_.mutable_items()) {
    if (!kv.second.matching) continue;
    for (const auto& spec : ModifierRegistry::instance().option_specs_for(kv.first)) {
      bool present = false;
      for (const auto& o : kv.second.options) present = present || o.name == spec.name;
      if (!present) kv.second.options.push_back(spec);
    }
  }
}

const MethodInfo& MethodRegistry::get(const std::string& name) const {
  attach_modifier_options();
  return methods_.get(name);  // unknown or only planned: UserError listing the registered methods
}

std::vector<const MethodInfo*> MethodRegistry::all() const {
  attach_modifier_options();
  std::vector<const MethodInfo*> out;
  for (const auto& kv : methods_.items()) out.push_back(&kv.second);
  return out;
}

std::string MethodRegistry::names_joined() const { return methods_.names_joined(); }

json resolve_options(const MethodInfo& info, const json& given) {
  json out = json::object();
  for (const auto& o : info.options) out[o.name] = o.default_value;
  if (given.is_null()) return out;
  if (!given.is_object()) throw UserError("options of method '" + info.name + "' must be a mapping");
  for (auto it = given.begin(); it != given.end(); ++it) {
    const OptionSpec* spec = nullptr;
    for (const auto& o : info.options)
      if (o.name == it.key()) spec = &o;
    if (!spec) {
      std::string valid;
      for (const auto& o : info.options) valid += (valid.empty() ? "" : ", ") + o.name;
      throw UnknownOption("method '" + info.name + "' has no option '" + it.key() + "'; valid options: " +
                      (valid.empty() ? "(none)" : valid));
    }
    const json& v = it.value();
    bool ok = (spec->type == "int" && v.is_number_integer()) || (spec->type == "float" && v.is_number()) ||
              (spec->type == "bool" && v.is_boolean()) || (spec->type == "string" && v.is_string()) ||
              (spec->type == "list" && v.is_array() &&
               std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }));
    if (!ok)
      throw UserError("option '" + it.key() + "' of method '" + info.name + "' must be " +
                      (spec->type == "list" ? std::string("a list of names") : spec->type) + ", got " +
                      v.dump());
    // Every int option is a count, a size or an epoch (none declares a meaning for a negative value).
    if (spec->type == "int" && v.get<int64_t>() < 0)
      throw UserError("option '" + it.key() + "' of method '" + info.name + "' must be >= 0, got " + v.dump());
    out[it.key()] = spec->type == "float" ? json(v.get<double>()) : v;
  }
  return out;
}

void check_ipc(const MethodInfo& info, int64_t ipc) {
  if (info.takes_ipc && ipc < 1)
    throw UserError("ipc " + std::to_string(ipc) + ": method '" + info.name +
                    "' distills ipc >= 1 images per class (ipc 0 is the whole training set, method full)");
  if (!info.takes_ipc && ipc != 0)
    throw UserError("ipc " + std::to_string(ipc) + ": method '" + info.name + "' takes no ipc; name it with ipc 0");
}

const std::map<std::string, std::string>& planned_methods() {
  static const std::map<std::string, std::string> names = [] {
    std::map<std::string, std::string> m;
    for (const auto& [name, facts] : planned().section("methods")) m[name] = str_or(facts, "description", "");
    return m;
  }();
  return names;
}

SyntheticSet decode_for_evaluation(const SyntheticSet& stored) {
  const std::string method = stored.meta.is_object() ? stored.meta.value("method", std::string()) : std::string();
  if (method.empty() || !MethodRegistry::instance().has(method) || !stored.meta.contains("options") ||
      !stored.meta.at("options").is_object())
    return stored;
  const MethodInfo& info = MethodRegistry::instance().get(method);
  return info.make()->decode(stored, Options(resolve_options(info, stored.meta.at("options"))));
}

}  // namespace ddb

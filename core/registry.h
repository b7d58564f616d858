// One registry template for every kind of named, pluggable unit (evaluation protocols, metrics, ...):
// a name -> item map filled by static registration, whose lookups fail with an error that lists the
// registered names and says when a name is planned (planned/*.yaml) but not implemented yet.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/planned.h"

namespace ddb {

template <typename T>
class Registry {
 public:
  // kind: the plural noun used in messages and the planned/*.yaml section ("protocols", "metrics").
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Registration happens during static initialisation; a duplicate name is a programming error.
  bool add(const std::string& name, T item) {
    if (!items_.emplace(name, std::move(item)).second)
      throw std::logic_error(kind_ + ": '" + name + "' registered twice");
    return true;
  }
  const T* find(const std::string& name) const {
    const auto it = items_.find(name);
    return it == items_.end() ? nullptr : &it->second;
  }
  bool has(const std::string& name) const { return items_.count(name) > 0; }
  // A registered name or one planned in planned/*.yaml (a suite may use either).
  bool known(const std::string& name) const { return has(name) || is_planned(name); }
  bool is_planned(const std::string& name) const { return !has(name) && planned().section(kind_).count(name) > 0; }
  // Throws UserError naming the registered items (and saying when the name is only planned).
  const T& get(const std::string& name) const {
    if (const T* t = find(name)) return *t;
    std::string msg = "unknown " + singular() + " '" + name + "'; registered " + kind_ + ": " + names_joined();
    if (is_planned(name)) msg = singular() + " '" + name + "' is planned but not implemented yet; registered " + kind_ + ": " + names_joined();
    throw UserError(msg);
  }
  const std::map<std::string, T>& items() const { return items_; }
  // For a registry that completes its items after static registration (the methods get the matching
  // modifiers' options on first read, since registration order across files is unspecified).
  std::map<std::string, T>& mutable_items() { return items_; }
  std::string names_joined() const {
    std::string s;
    for (const auto& kv : items_) s += (s.empty() ? "" : ", ") + kv.first;
    return s.empty() ? "(none)" : s;
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string singular() const { return kind_.empty() || kind_.back() != 's' ? kind_ : kind_.substr(0, kind_.size() - 1); }
  std::string kind_;
  std::map<std::string, T> items_;
};

// Adds an item under its `.name` (used by the DDBENCH_REGISTER_* macros).
template <typename T>
bool register_named(Registry<T>& registry, T item) {
  const std::string name = item.name;
  return registry.add(name, std::move(item));
}

}  // namespace ddb

#define DDBENCH_REGISTRY_CONCAT_INNER(a, b) a##b
#define DDBENCH_REGISTRY_CONCAT(a, b) DDBENCH_REGISTRY_CONCAT_INNER(a, b)
// DDBENCH_REGISTER_IN(registry_function, Info{...}); at namespace scope: registers the item during
// static initialisation (each kind wraps it: DDBENCH_REGISTER_PROTOCOL, _METRIC, _REPORTER, ...).
#define DDBENCH_REGISTER_IN(registry_function, ...)                                       \
  static const bool DDBENCH_REGISTRY_CONCAT(ddbench_registered_, __COUNTER__) = \
      ::ddb::register_named(registry_function(), __VA_ARGS__)

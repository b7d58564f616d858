// Names that suites use before the code implements them, kept as data (planned/*.yaml), not as C++
// flags: methods, evaluation protocols, metrics, and options of registered methods. A cell naming a
// planned name is `unimplemented`; a name neither registered nor planned makes the cell `invalid`.
#pragma once
#include <map>
#include <string>

#include "core/json.h"

namespace ddb {

struct PlannedNames {
  // section ("methods", "protocols", "metrics") -> name -> facts ({description, ...}).
  std::map<std::string, std::map<std::string, json>> sections;
  // method -> option -> description: options a registered method will take (TrustDD's `oe` on dsa).
  std::map<std::string, std::map<std::string, std::string>> options;
  // method -> option -> value -> description: values of a registered option a later issue adds (EDF's
  // dropout_criterion: uniform); a cell giving one is `unimplemented`, not a run that fails.
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> option_values;

  // Empty when the section has no entries.
  const std::map<std::string, json>& section(const std::string& name) const;
  bool has_option(const std::string& method, const std::string& option) const;
  // The description of a planned value of a registered option; empty when the value is not planned.
  std::string planned_value(const std::string& method, const std::string& option, const std::string& value) const;
};

// Every planned/*.yaml under source_root() (loaded once).
const PlannedNames& planned();
// The planned/*.yaml files of one directory; throws UserError "file:line: why" on a malformed file.
PlannedNames load_planned(const std::string& dir);

}  // namespace ddb

// ddbench: torch-free
// Loads suites/*.yaml into the Suite model, checking structure and types. Every error names
// file, line and field: a DD researcher editing a table must find the typo at once.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "harness/suite.h"
#include "harness/yaml_json.h"

namespace ddb {

namespace fs = std::filesystem;

json merge_json(const json& base, const json& over) {
  if (!base.is_object() || !over.is_object()) return over;
  json out = base;
  for (auto it = over.begin(); it != over.end(); ++it) {
    out[it.key()] = out.contains(it.key()) ? merge_json(out[it.key()], it.value()) : it.value();
  }
  return out;
}

const Cell* Suite::find_cell(const std::string& cid) const {
  for (const auto& c : cells)
    if (c.id == cid) return &c;
  return nullptr;
}

std::optional<json> Suite::spec_at(const Cell& cell, const std::string& tier) const {
  if (tier == "paper") return cell.spec;
  auto it = tiers.find(tier);
  if (it == tiers.end()) return std::nullopt;
  // A profile's `options` reach every cell; `method_options: {dm: {...}}` only the cells of that method
  // (so a cpu profile can cut DM's iterations without giving `random` an option it does not have).
  json profile = it->second;
  json by_method = json::object();
  if (profile.contains("method_options")) {
    by_method = profile.at("method_options");
    profile.erase("method_options");
  }
  json spec = merge_json(cell.spec, profile);
  const std::string method = spec.value("method", "");
  if (by_method.contains(method)) spec["options"] = merge_json(spec.value("options", json::object()), by_method.at(method));
  if (auto own = cell.tiers.find(tier); own != cell.tiers.end()) spec = merge_json(spec, own->second);
  return spec;
}

namespace {

const std::set<std::string> kTopKeys = {"id", "title", "source", "defaults", "band", "tiers",
                                        "cells", "relations", "note", "description", "ctest"};
// Fields that describe the run (merged from defaults and tiers).
const std::set<std::string> kRunKeys = {"method", "options", "dataset", "ipc", "distill_net", "eval",
                                        "seeds", "metric", "ood", "score", "delta_from"};
const std::set<std::string> kCellOnlyKeys = {"id", "setting", "paper", "uncertain", "note", "requires",
                                             "xfail", "band", "reference", "tiers", "allow_failed_runs"};
// Cell fields that `defaults` may also give: every cell inherits them unless it sets its own
// (`paper` merges key by key, so defaults can hold the paper's conventions: runs, selection, source).
const std::set<std::string> kInheritedKeys = {"paper", "requires", "uncertain", "note", "xfail", "allow_failed_runs"};
const std::set<std::string> kEvalKeys = {"protocol", "net", "epochs", "augment", "runs", "steps", "selection", "eval_every", "eval_from",
                                         "batch_train", "lr_net", "dsa_strategy", "note",
                                         // trustdd: OOD test sets, Energy temperature, OE weight, checkpoint rule
                                         "ood", "temperature", "lambda_oe", "test_every", "keep_from",
                                         // kd: the teacher (harness/teacher.h)
                                         "teacher_net", "teacher_epochs"};
const std::set<std::string> kPaperKeys = {"value", "std", "runs", "selection", "source", "unavailable", "note"};

class Checker {
 public:
  explicit Checker(std::string path) : path_(std::move(path)) {}

  void error(const YAML::Node& at, const std::string& field, const std::string& why) {
    errors_.push_back(path_ + ":" + std::to_string(yaml_line(at)) + ": field '" + field + "': " + why);
  }
  void error_line(int line, const std::string& field, const std::string& why) {
    errors_.push_back(path_ + ":" + std::to_string(line) + ": field '" + field + "': " + why);
  }
  void finish() const {
    if (errors_.empty()) return;
    std::string msg;
    for (size_t i = 0; i < errors_.size() && i < 25; ++i) msg += (i ? "\n" : "") + errors_[i];
    if (errors_.size() > 25) msg += "\n... and " + std::to_string(errors_.size() - 25) + " more errors";
    throw UserError(msg);
  }

  void keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) {
    for (const auto& kv : map) {
      const auto key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string valid;
        for (const auto& a : allowed) valid += (valid.empty() ? "" : ", ") + a;
        error(kv.first, where.empty() ? key : where + "." + key, "unknown field (valid: " + valid + ")");
      }
    }
  }
  bool is_map(const YAML::Node& n, const std::string& field) {
    if (n && !n.IsMap() && !n.IsNull()) {
      error(n, field, "must be a mapping");
      return false;
    }
    return true;
  }
  std::optional<double> number(const YAML::Node& n, const std::string& field) {
    if (!n || n.IsNull()) return std::nullopt;
    json j = n.IsScalar() ? yaml_to_json(n) : json();
    if (!j.is_number()) {
      error(n, field, "must be a number, got '" + (n.IsScalar() ? n.Scalar() : std::string("<non-scalar>")) + "'");
      return std::nullopt;
    }
    return j.get<double>();
  }
  std::optional<long long> integer(const YAML::Node& n, const std::string& field, long long min) {
    if (!n || n.IsNull()) return std::nullopt;
    json j = n.IsScalar() ? yaml_to_json(n) : json();
    if (!j.is_number_integer() || j.get<long long>() < min) {
      error(n, field, "must be an integer >= " + std::to_string(min) + ", got '" +
                          (n.IsScalar() ? n.Scalar() : std::string("<non-scalar>")) + "'");
      return std::nullopt;
    }
    return j.get<long long>();
  }
  std::optional<bool> boolean(const YAML::Node& n, const std::string& field) {
    if (!n || n.IsNull()) return std::nullopt;
    const json j = n.IsScalar() ? yaml_to_json(n) : json();
    if (!j.is_boolean()) {
      error(n, field, "must be true or false");
      return std::nullopt;
    }
    return j.get<bool>();
  }
  std::string string(const YAML::Node& n, const std::string& field) {
    if (!n || n.IsNull()) return "";
    if (!n.IsScalar()) {
      error(n, field, "must be a string");
      return "";
    }
    return n.Scalar();
  }

  // Run fields that may appear in defaults, cells and tier profiles.
  void run_fields(const YAML::Node& map, const std::string& where) {
    if (!map || !map.IsMap()) return;
    const std::string p = where.empty() ? "" : where + ".";
    integer(map["ipc"], p + "ipc", 0);
    integer(map["seeds"], p + "seeds", 1);
    for (const char* f : {"method", "dataset", "distill_net", "metric", "score"}) string(map[f], p + f);
    is_map(map["options"], p + "options");
    is_map(map["delta_from"], p + "delta_from");
    const YAML::Node ood = map["ood"];
    if (ood && !ood.IsNull() && !ood.IsScalar() && !ood.IsSequence()) error(ood, p + "ood", "must be a name or a list of names");
    const YAML::Node ev = map["eval"];
    if (ev && is_map(ev, p + "eval") && ev.IsMap()) {
      keys(ev, kEvalKeys, p + "eval");
      integer(ev["epochs"], p + "eval.epochs", 0);
      integer(ev["runs"], p + "eval.runs", 1);
      integer(ev["steps"], p + "eval.steps", 1);
      integer(ev["test_every"], p + "eval.test_every", 1);
      integer(ev["keep_from"], p + "eval.keep_from", 0);
      integer(ev["teacher_epochs"], p + "eval.teacher_epochs", 1);
      if (ev["ood"] && !ev["ood"].IsNull() && !ev["ood"].IsScalar() && !ev["ood"].IsSequence())
        error(ev["ood"], p + "eval.ood", "must be a name or a list of names");
      for (const char* f : {"protocol", "net", "augment", "teacher_net"}) string(ev[f], p + "eval." + f);
    }
  }

  std::optional<Band> band(const YAML::Node& n, const std::string& field) {
    if (!n) return std::nullopt;
    if (!is_map(n, field) || n.IsNull()) return std::nullopt;
    keys(n, {"k", "floor"}, field);
    Band b;
    if (auto k = number(n["k"], field + ".k")) b.k = *k;
    if (auto f = number(n["floor"], field + ".floor")) b.floor = *f;
    if (b.k < 0 || b.floor < 0) error(n, field, "k and floor must be >= 0");
    return b;
  }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

PaperValue parse_paper(Checker& ck, const YAML::Node& n, const YAML::Node& cell, const std::string& field) {
  PaperValue p;
  if (!n || !n.IsMap()) {
    ck.error(n ? n : cell, field, "required: {value, std, ...} or {unavailable: why}");
    return p;
  }
  ck.keys(n, kPaperKeys, field);
  p.value = ck.number(n["value"], field + ".value");
  p.std = ck.number(n["std"], field + ".std");
  if (auto r = ck.integer(n["runs"], field + ".runs", 1)) p.runs = static_cast<int>(*r);
  if (n["selection"]) {
    p.selection = ck.string(n["selection"], field + ".selection");
    if (p.selection != "last" && p.selection != "best_iter" && p.selection != "best_epoch")
      ck.error(n["selection"], field + ".selection", "must be last, best_iter or best_epoch");
  }
  if (n["source"]) {
    p.source = ck.string(n["source"], field + ".source");
    if (p.source != "table" && p.source != "text" && p.source != "figure")
      ck.error(n["source"], field + ".source", "must be table, text or figure");
  }
  p.unavailable = ck.string(n["unavailable"], field + ".unavailable");
  if (!p.value && p.unavailable.empty()) ck.error(n, field, "needs a value, or 'unavailable: <why>'");
  if (p.value && !p.unavailable.empty()) ck.error(n, field, "has both a value and 'unavailable'");
  if (p.std && *p.std < 0) ck.error(n["std"], field + ".std", "must be >= 0");
  return p;
}

}  // namespace

Suite load_suite(const std::string& path) {
  const YAML::Node root = load_yaml_file(path);
  Checker ck(path);
  Suite s;
  s.path = path;
  if (!root.IsMap()) {
    ck.error(root, "<top>", "a suite file must be a mapping with id, source, cells");
    ck.finish();
  }
  ck.keys(root, kTopKeys, "");
  s.id = ck.string(root["id"], "id");
  if (s.id.empty()) ck.error(root, "id", "required");
  s.title = ck.string(root["title"], "title");
  s.note = ck.string(root["note"], "note");
  if (!root["source"] || !root["source"].IsMap()) {
    ck.error(root, "source", "required mapping with at least 'paper'");
  } else {
    s.source = yaml_to_json(root["source"]);
    if (!s.source.contains("paper")) ck.error(root["source"], "source.paper", "required");
  }
  YAML::Node inherited_map(YAML::NodeType::Map);  // cell-level fields given once in defaults (paper conventions, requires, notes)
  if (root["defaults"] && ck.is_map(root["defaults"], "defaults") && root["defaults"].IsMap()) {
    std::set<std::string> allowed = kRunKeys;
    allowed.insert(kInheritedKeys.begin(), kInheritedKeys.end());
    ck.keys(root["defaults"], allowed, "defaults");
    ck.run_fields(root["defaults"], "defaults");
    for (const auto& kv : root["defaults"]) {
      const auto key = kv.first.as<std::string>();
      if (kRunKeys.count(key)) s.defaults[key] = yaml_to_json(kv.second);
      else inherited_map[key] = kv.second;
    }
  }
  if (auto b = ck.band(root["band"], "band")) s.band = *b;
  if (const YAML::Node ct = root["ctest"]; ct) {
    // CMake reads this key with a regular expression (cmake/DdbenchSuites.cmake): one flow mapping on
    // the line that starts with "ctest:".
    if (!ct.IsMap() || ct.Style() != YAML::EmitterStyle::Flow) {
      ck.error(ct, "ctest", "must be a one-line flow mapping: ctest: {tier: cpu, labels: [smoke], timeout: 600}");
    } else {
      ck.keys(ct, {"tier", "labels", "timeout"}, "ctest");
      const std::string tier = ck.string(ct["tier"], "ctest.tier");
      if (!tier.empty() && tier != "paper" && (!root["tiers"] || !root["tiers"][tier]))
        ck.error(ct["tier"], "ctest.tier", "the suite has no '" + tier + "' tier profile");
      ck.integer(ct["timeout"], "ctest.timeout", 1);
      if (ct["labels"] && !ct["labels"].IsSequence()) ck.error(ct["labels"], "ctest.labels", "must be a list of labels");
      s.ctest = yaml_to_json(ct);
    }
  }
  if (const YAML::Node tiers = root["tiers"]; tiers && ck.is_map(tiers, "tiers") && tiers.IsMap()) {
    for (const auto& kv : tiers) {
      const auto name = kv.first.as<std::string>();
      if (name == "paper") ck.error(kv.first, "tiers.paper", "the paper tier is the cells themselves; no profile");
      if (!kv.second.IsMap()) {
        ck.error(kv.second, "tiers." + name, "must be a mapping of run fields");
        continue;
      }
      std::set<std::string> profile_keys = kRunKeys;
      profile_keys.insert("method_options");
      ck.keys(kv.second, profile_keys, "tiers." + name);
      ck.run_fields(kv.second, "tiers." + name);
      if (const YAML::Node mo = kv.second["method_options"]; mo && ck.is_map(mo, "tiers." + name + ".method_options")) {
        for (const auto& m : mo)
          ck.is_map(m.second, "tiers." + name + ".method_options." + m.first.as<std::string>());
      }
      s.tiers[name] = yaml_to_json(kv.second);
    }
  }
  const YAML::Node inherited = inherited_map;  // const: lookups never insert
  const YAML::Node cells = root["cells"];
  if (!cells || !cells.IsSequence() || cells.size() == 0) {
    ck.error(cells ? cells : root, "cells", "required: a non-empty list of cells");
    ck.finish();
  }
  std::set<std::string> keys_all = kRunKeys;
  keys_all.insert(kCellOnlyKeys.begin(), kCellOnlyKeys.end());
  static const std::regex id_re("[a-z0-9_.+-]+");
  std::set<std::string> seen;
  for (size_t i = 0; i < cells.size(); ++i) {
    const YAML::Node n = cells[i];
    const std::string where = "cells[" + std::to_string(i) + "]";
    if (!n.IsMap()) {
      ck.error(n, where, "each cell must be a mapping");
      continue;
    }
    Cell c;
    c.line = yaml_line(n);
    ck.keys(n, keys_all, where);
    c.id = ck.string(n["id"], where + ".id");
    if (c.id.empty()) {
      ck.error(n, where + ".id", "required");
    } else if (!std::regex_match(c.id, id_re)) {
      ck.error(n["id"], where + ".id", "'" + c.id + "' may only use a-z 0-9 _ . + -");
    } else if (!seen.insert(c.id).second) {
      ck.error(n["id"], where + ".id", "duplicate cell id '" + c.id + "'");
    }
    c.setting = ck.string(n["setting"], where + ".setting");
    ck.run_fields(n, where);
    json own = json::object();
    for (const auto& kv : n) {
      const auto key = kv.first.as<std::string>();
      if (kRunKeys.count(key)) own[key] = yaml_to_json(kv.second);
    }
    // Options belong to a method: a cell that names another method than the defaults' does not
    // inherit the defaults' options (a tesla cell in a DSA table must not receive DSA's options).
    json inherited_run = s.defaults;
    if (own.contains("method") && inherited_run.contains("method") && own["method"] != inherited_run["method"])
      inherited_run.erase("options");
    c.spec = merge_json(inherited_run, own);
    // (yaml-cpp: assigning to an invalid node throws, so the merged node is built separately.)
    const YAML::Node own_paper = n["paper"];
    if (inherited["paper"] && inherited["paper"].IsMap()) {
      YAML::Node merged = YAML::Clone(inherited["paper"]);
      if (own_paper && own_paper.IsMap())
        for (const auto& kv : own_paper) merged[kv.first.as<std::string>()] = kv.second;
      c.paper = parse_paper(ck, merged, n, where + ".paper");
    } else {
      c.paper = parse_paper(ck, own_paper, n, where + ".paper");
    }
    auto inherit = [&](const char* key) { return n[key] ? n[key] : inherited[key]; };
    c.uncertain = ck.string(inherit("uncertain"), where + ".uncertain");
    c.note = ck.string(inherit("note"), where + ".note");
    c.xfail = ck.string(inherit("xfail"), where + ".xfail");
    c.allow_failed_runs = ck.boolean(inherit("allow_failed_runs"), where + ".allow_failed_runs").value_or(false);
    std::vector<YAML::Node> req_nodes;
    if (inherited["requires"]) req_nodes.push_back(inherited["requires"]);
    if (n["requires"]) req_nodes.push_back(n["requires"]);
    for (const YAML::Node& r : req_nodes) {
      if (!r.IsSequence()) {
        ck.error(r, where + ".requires", "must be a list (gpu, pretrained:<what>, dataset:<name>)");
      } else {
        for (const auto& item : r) c.requires.push_back(ck.string(item, where + ".requires"));
      }
    }
    c.band = ck.band(n["band"], where + ".band");
    if (const YAML::Node t = n["tiers"]; t && ck.is_map(t, where + ".tiers") && t.IsMap()) {
      for (const auto& kv : t) {
        const auto name = kv.first.as<std::string>();
        const std::string f = where + ".tiers." + name;
        if (!kv.second.IsMap()) {
          ck.error(kv.second, f, "must be a mapping of run fields");
          continue;
        }
        if (!root["tiers"] || !root["tiers"][name])
          ck.error(kv.first, f, "the suite has no '" + name + "' tier profile (add one under the top-level tiers)");
        ck.keys(kv.second, kRunKeys, f);
        ck.run_fields(kv.second, f);
        c.tiers[name] = yaml_to_json(kv.second);
      }
    }
    if (const YAML::Node ref = n["reference"]; ref && ck.is_map(ref, where + ".reference") && ref.IsMap()) {
      for (const auto& kv : ref) {
        const auto tier = kv.first.as<std::string>();
        const std::string f = where + ".reference." + tier;
        if (!kv.second.IsMap()) {
          ck.error(kv.second, f, "must be {value, std, n, from}");
          continue;
        }
        ck.keys(kv.second, {"value", "std", "n", "from", "runs"}, f);
        ReferenceValue rv;
        if (auto v = ck.number(kv.second["value"], f + ".value")) rv.value = *v; else ck.error(kv.second, f + ".value", "required");
        if (auto v = ck.number(kv.second["std"], f + ".std")) rv.std = *v;
        if (auto v = ck.integer(kv.second["n"], f + ".n", 1)) rv.n = static_cast<int>(*v);
        rv.from = ck.string(kv.second["from"], f + ".from");
        if (const YAML::Node runs = kv.second["runs"]; runs) {
          if (!runs.IsSequence()) {
            ck.error(runs, f + ".runs", "must be a list of the pooled per-run values");
          } else {
            for (size_t k = 0; k < runs.size(); ++k)
              if (auto v = ck.number(runs[k], f + ".runs[" + std::to_string(k) + "]")) rv.runs.push_back(*v);
            // The summary must be the summary of the runs (population std, as reported), up to the rounding
            // of the printed runs and summary to 2 decimals (each off by up to 0.005).
            double mean = 0, var = 0;
            for (double x : rv.runs) mean += x / static_cast<double>(rv.runs.size());
            for (double x : rv.runs) var += (x - mean) * (x - mean) / static_cast<double>(rv.runs.size());
            if (rv.n && rv.n != static_cast<int>(rv.runs.size()))
              ck.error(runs, f + ".runs", "holds " + std::to_string(rv.runs.size()) + " values but n is " + std::to_string(rv.n));
            if (!rv.runs.empty() && (std::fabs(mean - rv.value) > 0.011 || std::fabs(std::sqrt(var) - rv.std) > 0.011))
              ck.error(runs, f + ".runs", "mean/std of the runs do not match value/std (rerun `ddbench references`)");
          }
        }
        c.reference[tier] = rv;
      }
    }
    // After merging the defaults a cell must say what runs and what is measured.
    for (const char* f : {"method", "dataset", "metric"}) {
      if (!c.spec.contains(f) || !c.spec[f].is_string() || c.spec[f].get<std::string>().empty())
        ck.error_line(c.line, where + "." + f, std::string("required (in the cell or in defaults)") +
                                                  (c.id.empty() ? "" : " for cell '" + c.id + "'"));
    }
    if (!c.spec.contains("ipc") || !c.spec["ipc"].is_number_integer())
      ck.error_line(c.line, where + ".ipc", "required (in the cell or in defaults) for cell '" + c.id + "'");
    if (!c.spec.contains("eval") || !c.spec["eval"].is_object() || !c.spec["eval"].contains("protocol") ||
        !c.spec["eval"].contains("net"))
      ck.error_line(c.line, where + ".eval", "eval.protocol and eval.net are required (in the cell or in defaults)");
    s.cells.push_back(std::move(c));
  }
  if (const YAML::Node rel = root["relations"]; rel) {
    if (!rel.IsSequence()) {
      ck.error(rel, "relations", "must be a list of {cell, beats, by}");
    } else {
      for (size_t i = 0; i < rel.size(); ++i) {
        const std::string f = "relations[" + std::to_string(i) + "]";
        ck.keys(rel[i], {"cell", "beats", "by"}, f);
        Relation r;
        r.line = yaml_line(rel[i]);
        r.cell = ck.string(rel[i]["cell"], f + ".cell");
        r.beats = ck.string(rel[i]["beats"], f + ".beats");
        if (auto b = ck.number(rel[i]["by"], f + ".by")) r.by = *b;
        if (!seen.count(r.cell)) ck.error(rel[i], f + ".cell", "no cell '" + r.cell + "' in this suite");
        if (!seen.count(r.beats)) ck.error(rel[i], f + ".beats", "no cell '" + r.beats + "' in this suite");
        s.relations.push_back(r);
      }
    }
  }
  ck.finish();
  return s;
}

std::vector<std::string> find_suite_files(const std::string& dir) {
  std::vector<std::string> out;
  if (fs::is_regular_file(dir)) return {dir};
  if (!fs::is_directory(dir)) throw UserError(dir + ": no such suite file or directory");
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const auto ext = e.path().extension().string();
    if (ext == ".yaml" || ext == ".yml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ddb

// ddbench: torch-free
#include "harness/store.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

namespace ddb {

namespace {

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// RAII statement with positional binding.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(st_, i, v);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sqlite step: ") + sqlite3_errmsg(db_));
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(st_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  double real(int col) const { return sqlite3_column_double(st_, col); }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

const char* kDistillColumns =
    "distill_key, distill_hash, config_json, seed_index, seed, status, error, provenance_json, wall_s, synset_path, "
    "updated_at";
const char* kEvalColumns =
    "eval_key, distill_key, distill_hash, eval_hash, config_json, seed_index, status, error, provenance_json, wall_s, "
    "updated_at";

DistillRecord read_distillation(const Stmt& st) {
  DistillRecord r;
  r.key = st.text(0);
  r.distill_hash = st.text(1);
  r.config = json::parse(st.text(2), nullptr, false);
  r.seed_index = static_cast<int>(st.integer(3));
  r.seed = static_cast<uint64_t>(std::stoull(st.text(4)));
  r.status = st.text(5);
  r.error = st.text(6);
  r.provenance = json::parse(st.text(7), nullptr, false);
  r.wall_s = st.real(8);
  r.synset_path = st.text(9);
  r.updated_at = st.text(10);
  return r;
}

EvalRecord read_evaluation(const Stmt& st) {
  EvalRecord r;
  r.key = st.text(0);
  r.distill_key = st.text(1);
  r.distill_hash = st.text(2);
  r.eval_hash = st.text(3);
  r.config = json::parse(st.text(4), nullptr, false);
  r.seed_index = static_cast<int>(st.integer(5));
  r.status = st.text(6);
  r.error = st.text(7);
  r.provenance = json::parse(st.text(8), nullptr, false);
  r.wall_s = st.real(9);
  r.updated_at = st.text(10);
  return r;
}

bool has_table(sqlite3* db, const std::string& name) {
  Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  st.bind(1, name);
  return st.step();
}

}  // namespace

Store::Store(const std::string& dir) : dir_(dir) {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / "results.sqlite").string();
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw UserError("cannot open result store " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 30000);  // several ddbench processes (Slurm shards) may share a store
  try {
    check_schema(path);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
  // Switching to WAL needs the database to itself, and SQLite answers SQLITE_BUSY at once, without the busy
  // handler, while another process opens the same new store (two shards started together): retry for as long
  // as the busy timeout. WAL is stored in the file, so later openers find it already set.
  for (int attempt = 0;; ++attempt) {
    try {
      exec("PRAGMA journal_mode=WAL");
      break;
    } catch (const std::runtime_error&) {
      if (attempt >= 300) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  exec("PRAGMA synchronous=NORMAL");
  exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '" + std::to_string(kStoreSchema) + "')");
  exec(
      "CREATE TABLE IF NOT EXISTS distillations (distill_key TEXT PRIMARY KEY, distill_hash TEXT NOT NULL, "
      "config_json TEXT NOT NULL, seed_index INTEGER NOT NULL, seed TEXT NOT NULL, status TEXT NOT NULL, error TEXT, "
      "provenance_json TEXT, wall_s REAL, synset_path TEXT, updated_at TEXT)");
  exec(
      "CREATE TABLE IF NOT EXISTS evaluations (eval_key TEXT PRIMARY KEY, distill_key TEXT NOT NULL, distill_hash "
      "TEXT NOT NULL, eval_hash TEXT NOT NULL, config_json TEXT NOT NULL, seed_index INTEGER NOT NULL, status TEXT NOT "
      "NULL, error TEXT, provenance_json TEXT, wall_s REAL, updated_at TEXT)");
  exec("CREATE INDEX IF NOT EXISTS evaluations_by_config ON evaluations(distill_hash, eval_hash)");
  exec(
      "CREATE TABLE IF NOT EXISTS metrics (eval_key TEXT NOT NULL, eval_run INTEGER NOT NULL, metric TEXT NOT NULL, "
      "value REAL NOT NULL, PRIMARY KEY (eval_key, eval_run, metric))");
  exec(
      "CREATE TABLE IF NOT EXISTS eval_failures (eval_key TEXT NOT NULL, eval_run INTEGER NOT NULL, error TEXT NOT "
      "NULL, PRIMARY KEY (eval_key, eval_run))");
}

// Schema 1 (one `runs` table keyed by the whole configuration, seeds derived from it) cannot be read
// as schema 2: its seeds are not this version's, so its numbers would not replay. Refuse, with the fix.
void Store::check_schema(const std::string& path) {
  if (has_table(db_, "runs") && !has_table(db_, "meta"))
    throw UserError("result store " + path +
                    " was written by an older ddbench (store schema 1: one 'runs' table keyed by the whole "
                    "configuration, with seeds derived from it). This version keys distillations and evaluations "
                    "apart (schema " + std::to_string(kStoreSchema) +
                    ") and seeds them differently, so those results cannot be replayed or read as its own. Run "
                    "again into a new --results directory, or move " + path + " away (keep it to compare by hand).");
  if (!has_table(db_, "meta")) return;  // a new store
  Stmt st(db_, "SELECT value FROM meta WHERE key = 'schema'");
  const std::string v = st.step() ? st.text(0) : "?";
  if (v != std::to_string(kStoreSchema))
    throw UserError("result store " + path + " has schema " + v + "; this ddbench reads schema " +
                    std::to_string(kStoreSchema) + " (use the ddbench that wrote it, or run again into a new --results "
                    "directory)");
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + msg + " in: " + sql);
  }
}

namespace {

void upsert_distillation(sqlite3* db, const DistillRecord& r, const std::string& status,
                         const std::string& updated_at = now_utc()) {
  Stmt st(db, std::string("INSERT OR REPLACE INTO distillations (") + kDistillColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.key)
      .bind(2, r.distill_hash)
      .bind(3, r.config.dump())
      .bind(4, static_cast<int64_t>(r.seed_index))
      .bind(5, std::to_string(r.seed))
      .bind(6, status)
      .bind(7, r.error)
      .bind(8, r.provenance.dump())
      .bind(9, r.wall_s)
      .bind(10, r.synset_path)
      .bind(11, updated_at);
  st.step();
}

void upsert_evaluation(sqlite3* db, const EvalRecord& r, const std::string& status,
                       const std::string& updated_at = now_utc()) {
  Stmt st(db, std::string("INSERT OR REPLACE INTO evaluations (") + kEvalColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.key)
      .bind(2, r.distill_key)
      .bind(3, r.distill_hash)
      .bind(4, r.eval_hash)
      .bind(5, r.config.dump())
      .bind(6, static_cast<int64_t>(r.seed_index))
      .bind(7, status)
      .bind(8, r.error)
      .bind(9, r.provenance.dump())
      .bind(10, r.wall_s)
      .bind(11, updated_at);
  st.step();
}

}  // namespace

std::optional<DistillRecord> Store::find_distillation(const std::string& key) const {
  Stmt st(db_, std::string("SELECT ") + kDistillColumns + " FROM distillations WHERE distill_key = ?");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return read_distillation(st);
}

void Store::mark_distillation_running(const DistillRecord& r) { upsert_distillation(db_, r, "running"); }
void Store::finish_distillation(const DistillRecord& r) { upsert_distillation(db_, r, "done"); }
void Store::fail_distillation(const DistillRecord& r) { upsert_distillation(db_, r, "failed"); }

std::vector<DistillRecord> Store::all_distillations() const {
  Stmt st(db_, std::string("SELECT ") + kDistillColumns + " FROM distillations ORDER BY distill_hash, seed_index");
  std::vector<DistillRecord> out;
  while (st.step()) out.push_back(read_distillation(st));
  return out;
}

std::optional<EvalRecord> Store::find(const std::string& eval_key) const {
  Stmt st(db_, std::string("SELECT ") + kEvalColumns + " FROM evaluations WHERE eval_key = ?");
  st.bind(1, eval_key);
  if (!st.step()) return std::nullopt;
  return read_evaluation(st);
}

void Store::mark_running(const EvalRecord& r) {
  exec("BEGIN IMMEDIATE");
  try {
    for (const char* table : {"metrics", "eval_failures"}) {
      Stmt del(db_, std::string("DELETE FROM ") + table + " WHERE eval_key = ?");
      del.bind(1, r.key);
      del.step();
    }
    upsert_evaluation(db_, r, "running");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void Store::finish(const EvalRecord& r, const std::vector<MetricRow>& metrics, const std::vector<EvalFailure>& failures) {
  EvalRecord done = r;
  done.status = "done";
  done.updated_at.clear();  // now
  transaction([&] { put_evaluation(done, metrics, failures); });
}

void Store::fail(const EvalRecord& r) { upsert_evaluation(db_, r, "failed"); }

std::vector<EvalFailure> Store::failures_of(const std::string& eval_key) const {
  Stmt st(db_, "SELECT eval_run, error FROM eval_failures WHERE eval_key = ? ORDER BY eval_run");
  st.bind(1, eval_key);
  std::vector<EvalFailure> out;
  while (st.step()) out.push_back({static_cast<int>(st.integer(0)), st.text(1), 0});
  return out;
}

void Store::transaction(const std::function<void()>& body) {
  exec("BEGIN IMMEDIATE");
  try {
    body();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void Store::put_distillation(const DistillRecord& r) {
  upsert_distillation(db_, r, r.status, r.updated_at.empty() ? now_utc() : r.updated_at);
}

void Store::put_evaluation(const EvalRecord& r, const std::vector<MetricRow>& metrics,
                           const std::vector<EvalFailure>& failures) {
  for (const char* table : {"metrics", "eval_failures"}) {
    Stmt del(db_, std::string("DELETE FROM ") + table + " WHERE eval_key = ?");
    del.bind(1, r.key);
    del.step();
  }
  for (const auto& f : failures) {
    Stmt ins(db_, "INSERT OR REPLACE INTO eval_failures (eval_key, eval_run, error) VALUES (?,?,?)");
    ins.bind(1, r.key).bind(2, static_cast<int64_t>(f.eval_run)).bind(3, f.error);
    ins.step();
  }
  for (const auto& m : metrics) {
    Stmt ins(db_, "INSERT INTO metrics (eval_key, eval_run, metric, value) VALUES (?,?,?,?)");
    ins.bind(1, r.key).bind(2, static_cast<int64_t>(m.eval_run)).bind(3, m.metric).bind(4, m.value);
    ins.step();
  }
  upsert_evaluation(db_, r, r.status, r.updated_at.empty() ? now_utc() : r.updated_at);
}

std::vector<double> Store::metric_values(const std::string& distill_hash, const std::string& eval_hash,
                                         const std::string& metric, int seeds) const {
  Stmt st(db_,
          "SELECT m.value FROM metrics m JOIN evaluations e ON e.eval_key = m.eval_key WHERE e.distill_hash = ? AND "
          "e.eval_hash = ? AND e.status = 'done' AND m.metric = ? AND e.seed_index < ? ORDER BY e.seed_index, "
          "m.eval_run");
  st.bind(1, distill_hash).bind(2, eval_hash).bind(3, metric).bind(4, static_cast<int64_t>(seeds));
  std::vector<double> out;
  while (st.step()) out.push_back(st.real(0));
  return out;
}

std::vector<EvalFailure> Store::eval_failures(const std::string& distill_hash, const std::string& eval_hash,
                                              int seeds) const {
  Stmt st(db_,
          "SELECT f.eval_run, f.error, e.seed_index FROM eval_failures f JOIN evaluations e ON e.eval_key = f.eval_key "
          "WHERE e.distill_hash = ? AND e.eval_hash = ? AND e.status = 'done' AND e.seed_index < ? ORDER BY "
          "e.seed_index, f.eval_run");
  st.bind(1, distill_hash).bind(2, eval_hash).bind(3, static_cast<int64_t>(seeds));
  std::vector<EvalFailure> out;
  while (st.step()) out.push_back({static_cast<int>(st.integer(0)), st.text(1), static_cast<int>(st.integer(2))});
  return out;
}

std::vector<EvalRecord> Store::evaluations_of(const std::string& distill_hash, const std::string& eval_hash) const {
  Stmt st(db_, std::string("SELECT ") + kEvalColumns +
                   " FROM evaluations WHERE distill_hash = ? AND eval_hash = ? ORDER BY seed_index");
  st.bind(1, distill_hash).bind(2, eval_hash);
  std::vector<EvalRecord> out;
  while (st.step()) out.push_back(read_evaluation(st));
  return out;
}

std::vector<EvalRecord> Store::all_evaluations() const {
  Stmt st(db_, std::string("SELECT ") + kEvalColumns + " FROM evaluations ORDER BY distill_hash, eval_hash, seed_index");
  std::vector<EvalRecord> out;
  while (st.step()) out.push_back(read_evaluation(st));
  return out;
}

std::vector<MetricRow> Store::metrics_of(const std::string& eval_key) const {
  Stmt st(db_, "SELECT eval_run, metric, value FROM metrics WHERE eval_key = ? ORDER BY eval_run, metric");
  st.bind(1, eval_key);
  std::vector<MetricRow> out;
  while (st.step()) out.push_back({static_cast<int>(st.integer(0)), st.text(1), st.real(2)});
  return out;
}

}  // namespace ddb

// ddbench: torch-free
#include "harness/store.h"

#include <sqlite3.h>

#include <chrono>
#include <ctime>
#include <filesystem>

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

const char* kRunColumns =
    "job_key, config_hash, config_json, seed_index, seed, status, error, provenance_json, wall_s, synset_path, "
    "updated_at";

RunRecord read_run(const Stmt& st) {
  RunRecord r;
  r.job_key = st.text(0);
  r.config_hash = st.text(1);
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
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(
      "CREATE TABLE IF NOT EXISTS runs (job_key TEXT PRIMARY KEY, config_hash TEXT NOT NULL, config_json TEXT NOT "
      "NULL, seed_index INTEGER NOT NULL, seed TEXT NOT NULL, status TEXT NOT NULL, error TEXT, provenance_json TEXT, "
      "wall_s REAL, synset_path TEXT, updated_at TEXT)");
  exec("CREATE INDEX IF NOT EXISTS runs_by_config ON runs(config_hash)");
  exec(
      "CREATE TABLE IF NOT EXISTS metrics (job_key TEXT NOT NULL, eval_run INTEGER NOT NULL, metric TEXT NOT NULL, "
      "value REAL NOT NULL, PRIMARY KEY (job_key, eval_run, metric))");
  exec(
      "CREATE TABLE IF NOT EXISTS eval_failures (job_key TEXT NOT NULL, eval_run INTEGER NOT NULL, error TEXT NOT "
      "NULL, PRIMARY KEY (job_key, eval_run))");
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + msg + " in: " + sql);
  }
}

std::optional<RunRecord> Store::find(const std::string& job_key) const {
  Stmt st(db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE job_key = ?");
  st.bind(1, job_key);
  if (!st.step()) return std::nullopt;
  return read_run(st);
}

namespace {
void upsert(sqlite3* db, const RunRecord& r, const std::string& status) {
  Stmt st(db, std::string("INSERT OR REPLACE INTO runs (") + kRunColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.job_key)
      .bind(2, r.config_hash)
      .bind(3, r.config.dump())
      .bind(4, static_cast<int64_t>(r.seed_index))
      .bind(5, std::to_string(r.seed))
      .bind(6, status)
      .bind(7, r.error)
      .bind(8, r.provenance.dump())
      .bind(9, r.wall_s)
      .bind(10, r.synset_path)
      .bind(11, now_utc());
  st.step();
}
}  // namespace

void Store::mark_running(const RunRecord& r) {
  exec("BEGIN IMMEDIATE");
  try {
    for (const char* table : {"metrics", "eval_failures"}) {
      Stmt del(db_, std::string("DELETE FROM ") + table + " WHERE job_key = ?");
      del.bind(1, r.job_key);
      del.step();
    }
    upsert(db_, r, "running");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void Store::finish(const RunRecord& r, const std::vector<MetricRow>& metrics, const std::vector<EvalFailure>& failures) {
  exec("BEGIN IMMEDIATE");
  try {
    for (const char* table : {"metrics", "eval_failures"}) {
      Stmt del(db_, std::string("DELETE FROM ") + table + " WHERE job_key = ?");
      del.bind(1, r.job_key);
      del.step();
    }
    for (const auto& f : failures) {
      Stmt ins(db_, "INSERT OR REPLACE INTO eval_failures (job_key, eval_run, error) VALUES (?,?,?)");
      ins.bind(1, r.job_key).bind(2, static_cast<int64_t>(f.eval_run)).bind(3, f.error);
      ins.step();
    }
    for (const auto& m : metrics) {
      Stmt ins(db_, "INSERT INTO metrics (job_key, eval_run, metric, value) VALUES (?,?,?,?)");
      ins.bind(1, r.job_key).bind(2, static_cast<int64_t>(m.eval_run)).bind(3, m.metric).bind(4, m.value);
      ins.step();
    }
    upsert(db_, r, "done");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void Store::fail(const RunRecord& r) { upsert(db_, r, "failed"); }

std::vector<double> Store::metric_values(const std::string& config_hash, const std::string& metric, int seeds) const {
  Stmt st(db_,
          "SELECT m.value FROM metrics m JOIN runs r ON r.job_key = m.job_key WHERE r.config_hash = ? AND r.status = "
          "'done' AND m.metric = ? AND r.seed_index < ? ORDER BY r.seed_index, m.eval_run");
  st.bind(1, config_hash).bind(2, metric).bind(3, static_cast<int64_t>(seeds));
  std::vector<double> out;
  while (st.step()) out.push_back(st.real(0));
  return out;
}

std::vector<EvalFailure> Store::eval_failures(const std::string& config_hash, int seeds) const {
  Stmt st(db_,
          "SELECT f.eval_run, f.error, r.seed_index FROM eval_failures f JOIN runs r ON r.job_key = f.job_key WHERE "
          "r.config_hash = ? AND r.status = 'done' AND r.seed_index < ? ORDER BY r.seed_index, f.eval_run");
  st.bind(1, config_hash).bind(2, static_cast<int64_t>(seeds));
  std::vector<EvalFailure> out;
  while (st.step()) out.push_back({static_cast<int>(st.integer(0)), st.text(1), static_cast<int>(st.integer(2))});
  return out;
}

std::vector<RunRecord> Store::runs_of(const std::string& config_hash) const {
  Stmt st(db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE config_hash = ? ORDER BY seed_index");
  st.bind(1, config_hash);
  std::vector<RunRecord> out;
  while (st.step()) out.push_back(read_run(st));
  return out;
}

std::vector<RunRecord> Store::all_runs() const {
  Stmt st(db_, std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY config_hash, seed_index");
  std::vector<RunRecord> out;
  while (st.step()) out.push_back(read_run(st));
  return out;
}

std::vector<MetricRow> Store::metrics_of(const std::string& job_key) const {
  Stmt st(db_, "SELECT eval_run, metric, value FROM metrics WHERE job_key = ? ORDER BY eval_run, metric");
  st.bind(1, job_key);
  std::vector<MetricRow> out;
  while (st.step()) out.push_back({static_cast<int>(st.integer(0)), st.text(1), st.real(2)});
  return out;
}

}  // namespace ddb

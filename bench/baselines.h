// What evenhandd's appends are compared with in evenhand_bench: the same
// durable appends written straight into RocksDB (one synced WriteBatch of
// the event, its stream and id keys) and into PostgreSQL (a table with the
// same keys, synchronous_commit on). Each takes concurrent Append calls from
// numbered clients and returns "" or the first error.
#ifndef EVENHAND_BENCH_BASELINES_H_
#define EVENHAND_BENCH_BASELINES_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/time_util.h"
#include "bench/bench_process.h"
#include "evenhand/v1/log.pb.h"
#include "libpq-fe.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::bench {

namespace fs = std::filesystem;

class RawRocks {
 public:
  RawRocks() : dir_(TempDir("raw")) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    o.IncreaseParallelism(2);
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                        {"events", {}},
                                                        {"streams", {}},
                                                        {"event_ids", {}}};
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, dir_, cfs, &handles_, &db);
    if (!s.ok()) std::fprintf(stderr, "raw-rocksdb: %s\n", s.ToString().c_str());
    db_.reset(db);
  }
  ~RawRocks() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  // The same three records evenhand writes per event, in one synced batch.
  std::string Append(int client, uint64_t n) {
    const uint64_t position = next_.fetch_add(1) + 1;
    v1::RecordedEvent r;
    r.set_position(position);
    *r.mutable_event() = QueryEvent(absl::StrCat("raw-", client, "-", n));
    r.mutable_event()->set_stream_id(absl::StrCat("query-raw-", client, "-", n));
    *r.mutable_event()->mutable_recorded_at() = ToProtoTime(absl::Now());
    std::string key(8, '\0');
    for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(position >> (56 - 8 * i));
    rocksdb::WriteBatch batch;
    batch.Put(handles_[1], key, r.SerializeAsString());
    batch.Put(handles_[2], r.event().stream_id() + std::string(9, '\0'), key);
    batch.Put(handles_[3], r.event().event_id(), key);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db_->Write(wo, &batch);
    return s.ok() ? "" : s.ToString();
  }

 private:
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<uint64_t> next_{0};
};

class Postgres {
 public:
  static constexpr char kBin[] = "/usr/lib/postgresql/15/bin";

  static bool Installed() { return fs::exists(absl::StrCat(kBin, "/postgres")); }

  Postgres() : dir_(TempDir("postgres")) {
    port_ = 20000 + static_cast<int>(getpid() % 20000);
    // PostgreSQL refuses to run as root: run it as the postgres user.
    const bool root = getuid() == 0;
    const std::string as = root ? "runuser -u postgres -- " : "";
    if (root) Run(absl::StrCat("chown -R postgres ", dir_));
    ok_ = Run(absl::StrCat(as, kBin, "/initdb -D ", dir_, "/data --auth=trust -U bench > ", dir_,
                           "/initdb.log 2>&1")) &&
          Run(absl::StrCat(
              as, kBin, "/pg_ctl -D ", dir_, "/data -l ", dir_, "/server.log -w -o \"", "-p ",
              port_, " -k ", dir_, " -c listen_addresses=127.0.0.1 ",
              "-c synchronous_commit=on -c fsync=on -c max_connections=200\" start > /dev/null"));
    if (!ok_) {
      std::fprintf(stderr, "postgres: could not start (see %s)\n", dir_.c_str());
      return;
    }
    PGconn* c = Connect();
    ok_ = c != nullptr && Exec(c,
                               "CREATE EXTENSION IF NOT EXISTS pgcrypto;"
                               "CREATE TABLE events ("
                               " position bigserial PRIMARY KEY,"
                               " event_id uuid NOT NULL UNIQUE,"
                               " stream_id text NOT NULL,"
                               " stream_revision bigint NOT NULL,"
                               " type text NOT NULL,"
                               " occurred_at timestamptz NOT NULL,"
                               " recorded_at timestamptz NOT NULL DEFAULT now(),"
                               " payload bytea NOT NULL,"
                               " UNIQUE (stream_id, stream_revision));");
    if (c != nullptr) PQfinish(c);
  }
  ~Postgres() {
    const std::string as = getuid() == 0 ? "runuser -u postgres -- " : "";
    Run(absl::StrCat(as, kBin, "/pg_ctl -D ", dir_, "/data -m fast -w stop > /dev/null 2>&1"));
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  bool ok() const { return ok_; }

  PGconn* Connect() {
    PGconn* c = PQconnectdb(
        absl::StrCat("host=127.0.0.1 port=", port_, " dbname=postgres user=bench").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::fprintf(stderr, "postgres: %s", PQerrorMessage(c));
      PQfinish(c);
      return nullptr;
    }
    return c;
  }

  static bool Exec(PGconn* c, const char* sql) {
    PGresult* r = PQexec(c, sql);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) std::fprintf(stderr, "postgres: %s", PQerrorMessage(c));
    PQclear(r);
    return ok;
  }

  // One append: one INSERT, its own transaction, committed durably.
  // `run` keeps stream ids unique across runs into the same table.
  static std::string Insert(PGconn* c, const std::string& run, int client, uint64_t n) {
    const v1::Event e = QueryEvent(absl::StrCat("pg-", run, "-", client, "-", n));
    const std::string stream = absl::StrCat("query-pg-", run, "-", client, "-", n);
    const std::string payload = e.SerializeAsString();
    const std::string occurred =
        absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
    const char* values[5] = {e.event_id().c_str(), stream.c_str(), e.type().c_str(),
                             occurred.c_str(), payload.data()};
    const int lengths[5] = {0, 0, 0, 0, static_cast<int>(payload.size())};
    const int formats[5] = {0, 0, 0, 0, 1};
    PGresult* r = PQexecPrepared(c, "append", 5, values, lengths, formats, 0);
    std::string error;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
    return error;
  }

  static bool Prepare(PGconn* c) {
    PGresult* r =
        PQprepare(c, "append",
                  "INSERT INTO events (event_id, stream_id, stream_revision, type, "
                  "occurred_at, payload) VALUES ($1::uuid, $2, 0, $3, $4::timestamptz, $5)",
                  5, nullptr);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  }

 private:
  static bool Run(const std::string& command) { return std::system(command.c_str()) == 0; }
  std::string dir_;
  int port_ = 0;
  bool ok_ = false;
};

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_BASELINES_H_

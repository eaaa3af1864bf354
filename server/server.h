// EvenHandServer: the whole of evenhandd behind one object, so that tests run
// exactly what production runs: the event store, the gRPC services, health
// and reflection, on a real port.
//
// Thread-safety: Shutdown() may be called from any thread, once or more.
#ifndef EVENHAND_SERVER_SERVER_H_
#define EVENHAND_SERVER_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/config.pb.h"

namespace evenhand::server {

// Fills every unset field of `config` with its documented default.
v1::ServerConfig WithDefaults(v1::ServerConfig config);
// WithDefaults, and the defaults of the security section's TLS and identity
// provider (when configured) that their readers fill in (TLS files looked
// at every 60 s, claims "sub" and "groups", 60 s of leeway, the JWKS file
// looked at every 60 s): what --print_config shows. Not for the running
// configuration, whose security section the authoriser compares as written.
v1::ServerConfig WithShownDefaults(v1::ServerConfig config);

// Reads a JSON config file (protobuf JSON mapping of ServerConfig). Unknown
// fields are an error, so a typo does not silently keep a default.
absl::StatusOr<v1::ServerConfig> LoadConfigFile(const std::string& path);
// What Start() checks of `config` (with defaults) before it opens anything:
// the error a server started with it would refuse to start with, or OK.
// Reads the files it names (calendar, TLS files, the identity provider's
// keys); opens no port and no data folder.
// `with_security` false leaves the security section's principals and
// identity provider to the caller (a reload, whose authoriser checks them
// itself, keeping its keys when the provider's section is unchanged).
absl::Status CheckConfig(const v1::ServerConfig& config, bool with_security = true);

struct ServerOptions {
  v1::ServerConfig config;
  // Tests inject a clock; production uses absl::Now.
  std::function<absl::Time()> clock;
  // Load the demo council into an empty log at start-up.
  bool seed_demo = false;
  // Discard the projection's checkpoint and refold the log from position 1.
  bool rebuild_projections = false;
  // When the log no longer extends the checkpoint journal (or the journal is
  // missing), move the journal aside and start a new one instead of
  // refusing to start.
  bool start_new_checkpoint_journal = false;
  // Free bytes on the data folder's disk; tests inject one. Default statvfs.
  std::function<absl::StatusOr<uint64_t>()> free_disk_bytes;
  // Test-only hooks of the store (storage::StoreOptions).
  std::function<absl::Status()> TEST_before_write;
  std::function<absl::Status()> TEST_after_write;
  // Test-only: called by the projection's fold before each batch of events.
  std::function<void()> TEST_before_fold;
  // Test-only: called as each event is folded, under the projection's lock.
  std::function<void()> TEST_fold_event;
  // Test-only: called before each chunk of checkpointed cases is read.
  std::function<void()> TEST_before_load;
  // Test-only: called before each chunk of the findings index is read back.
  std::function<void()> TEST_before_findings_load;
  // FairnessServiceOptions::give_way_after (a test that holds the index's
  // reading back never lets it finish).
  std::optional<absl::Duration> TEST_report_give_way_after;
  // Test-only: the projection's case cache in bytes, below the config's
  // MiB (0: no case's facts kept once checkpointed).
  std::optional<size_t> TEST_case_cache_bytes;
  // Test-only: how many updates a WatchObligations watcher may fall behind
  // before it is ended (services::ObligationWatchOptions::max_queued), so
  // that a test can reach the limit.
  std::optional<size_t> TEST_watch_max_queued;
  // Test-only: how many cases the findings index decides at a time when
  // seeded (projections::RunnerOptions::seed_slice_cases).
  std::optional<size_t> TEST_seed_slice_cases;
  // Test-only: called with how many subjects and entries each seeding
  // slice wrote ahead.
  std::function<void(size_t subjects, size_t entries)> TEST_seeded_written;
  // Test-only: called before a case's body is read back from the
  // projection's checkpoint; an error fails the read.
  std::function<absl::Status(const std::string& stream_id)> TEST_case_read;
  // Test-only: integrity::IntegrityOptions::map_build_in_steps_over and
  // TEST_after_map_step (a stream-head map built in steps, held).
  std::optional<uint64_t> TEST_map_build_in_steps_over;
  std::function<void()> TEST_after_map_step;
};

class EvenHandServer {
 public:
  // Opens the log, starts the services and listens. config.listen may use
  // port 0: the chosen port is in address().
  static absl::StatusOr<std::unique_ptr<EvenHandServer>> Start(ServerOptions options);

  ~EvenHandServer();

  // "host:port" actually listened on.
  const std::string& address() const;
  int port() const;
  // "host:port" of the HTTP listener for /metrics and /healthz; empty if
  // metrics.listen is "off".
  const std::string& metrics_address() const;
  // "https://host:port/metrics" (with TLS) or "http://..."; empty if off.
  std::string metrics_url() const;
  uint64_t LastPosition() const;
  // Events the fairness projection has folded.
  uint64_t ProjectionPosition() const;
  // Whether its checkpoint, cases and findings index, is read after the
  // start (reports are served, derived, from when the cases are).
  bool ProjectionLoaded() const;

  // Takes `security` in place of the config's security section (evenhandd
  // on SIGHUP): principals, lanes, limits, the identity provider
  // (services/auth/authorizer.h, Reload). Its TLS section is not read: the
  // TLS files are watched (server/tls_files.h), and their paths and options
  // need a restart. An error leaves the security in use as it is. Streams
  // already open are decided again, and those the new section no longer
  // grants as they were granted end (services/auth/standing_grants.h);
  // the answer says how many.
  absl::StatusOr<size_t> ReloadSecurity(const v1::SecurityConfig& security);

  // Graceful stop: health turns NOT_SERVING, new appends fail UNAVAILABLE,
  // subscribers are ended, in-flight calls get `grace` to finish, then the
  // log is closed cleanly. Logs one line with the last position.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown() has finished.
  void Wait();

  class Impl;

 private:
  explicit EvenHandServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_SERVER_H_

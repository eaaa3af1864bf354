#include "server/server.h"

#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "integrity/checkpoint_journal.h"
#include "integrity/integrity_log.h"
#include "projections/fairness_projection.h"
#include "projections/projection_runner.h"
#include "projections/working_day_calendar.h"
#include "server/data_dir_lock.h"
#include "server/demo_loader.h"
#include "server/listen_address.h"
#include "server/metrics_http.h"
#include "server/server_metrics.h"
#include "server/socket_poller.h"
#include "server/tls_files.h"
#include "services/audit_service.h"
#include "services/auth/authorizer.h"
#include "services/auth/call_gate.h"
#include "services/auth/header_gate.h"
#include "services/auth/withholding.h"
#include "services/call_guard.h"
#include "services/domain_validation.h"
#include "services/event_log_service.h"
#include "services/fairness_service.h"
#include "services/operations_service.h"
#include "storage/event_store.h"

namespace evenhand::server {
namespace {

constexpr char kComponent[] = "evenhandd";
constexpr char kVersion[] = "0.1.0";

// The political group a stream belongs to, from its first event (which
// never changes, so answers are kept).
services::auth::Authorizer::StreamOwner StreamOwners(const storage::EventStore* store) {
  struct Cache {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::string> owners ABSL_GUARDED_BY(mu);
  };
  auto cache = std::make_shared<Cache>();
  return [store, cache](const std::string& stream_id) -> absl::StatusOr<std::string> {
    {
      absl::MutexLock lock(&cache->mu);
      if (auto it = cache->owners.find(stream_id); it != cache->owners.end()) return it->second;
    }
    std::string owner;
    bool found = false;
    absl::Status s = store->ReadStream(stream_id, 0, storage::Direction::kForwards, 1,
                                       [&](const storage::EventPtr& first) {
                                         owner = services::auth::CaseOwner(stream_id,
                                                                           first->event());
                                         found = true;
                                         return false;
                                       });
    if (!s.ok()) return s;
    if (!found) return std::string();  // no such stream (yet): nobody's
    absl::MutexLock lock(&cache->mu);
    if (cache->owners.size() > 100000) cache->owners.clear();
    cache->owners[stream_id] = owner;
    return owner;
  };
}

}  // namespace

class EvenHandServer::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {}
  // The store is closed before the members it calls into (the integrity
  // log, its commit hook) are destroyed, and after they have stopped using
  // it (a Start that failed half way never ran Shutdown).
  ~Impl() {
    if (runner_) runner_->Stop();
    if (integrity_) integrity_->Stop();
    if (store_) store_->Close().IgnoreError();
  }

  absl::Status Start();
  void Shutdown(absl::Duration grace);

  // Health: NOT_SERVING while the integrity checks know of a problem.
  void WatchHealth();
  bool Healthy() const;

  ServerOptions options_;
  // Outlives the listeners that serve its files.
  std::unique_ptr<TlsFiles> tls_files_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<services::auth::Authorizer> authorizer_;
  std::unique_ptr<services::auth::CallGate> gate_;
  std::unique_ptr<integrity::IntegrityLog> integrity_;
  std::unique_ptr<projections::ProjectionRunner> runner_;
  std::unique_ptr<services::DomainValidator> validator_;
  std::unique_ptr<services::EventLogService> event_log_;
  std::unique_ptr<services::FairnessService> fairness_;
  std::unique_ptr<services::AuditService> audit_;
  std::unique_ptr<services::OperationsService> operations_;
  // Declared before server_, so destroyed after it: gRPC wants a server's
  // queues shut down after the server (SocketPoller::Stop).
  std::unique_ptr<SocketPoller> socket_poller_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttp> metrics_;
  std::string metrics_address_;
  absl::Time started_ = absl::Now();
  std::string address_;
  int port_ = 0;

  absl::Mutex mu_;
  bool shutdown_started_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stopped_;
  std::thread health_watch_;
};

absl::Status EvenHandServer::Impl::Start() {
  const v1::ServerConfig& c = options_.config;
  // Checked first, so that nothing is opened for a config that cannot run
  // (a server that cannot judge deadlines does not start at all). Its
  // security section is checked by creating the authoriser just below,
  // which would otherwise read the identity provider's keys twice.
  EH_RETURN_IF_ERROR(CheckConfig(c, /*with_security=*/false));
  EH_ASSIGN_OR_RETURN(projections::WorkingDayCalendar calendar,
                      projections::WorkingDayCalendar::LoadFile(c.fairness().bank_holidays_file()));
  // Deadlines past the calendar's last year are counted with weekends only
  // (and flagged in reports): say so loudly while there is time to update.
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (calendar.last_covered_day() < today + 365) {
    logging::Warning(
        "fairness",
        absl::StrCat("the bank holiday calendar ", c.fairness().bank_holidays_file(),
                     " covers only up to ", absl::FormatCivilTime(calendar.last_covered_day()),
                     ": deadlines after it are counted without bank holidays and flagged as "
                     "data-quality in reports. Put GOV.UK's current "
                     "https://www.gov.uk/bank-holidays.json there (fairness.bankHolidaysFile)"));
  }
  integrity::StartupCheck check = c.audit().verify_on_start() == "full"
                                      ? integrity::StartupCheck::kFull
                                      : integrity::StartupCheck::kTail;
  const bool local_mode = !c.security().has_tls();
  EH_ASSIGN_OR_RETURN(authorizer_,
                      services::auth::Authorizer::Create(
                          c.security(), local_mode,
                          options_.clock ? options_.clock : [] { return absl::Now(); }));
  // One server per address and per data folder: refuse before opening
  // anything.
  EH_RETURN_IF_ERROR(CheckAddressFree(c.listen()));
  EH_ASSIGN_OR_RETURN(lock_, DataDirLock::Acquire(c.data_dir()));
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!local_mode) {
    EH_ASSIGN_OR_RETURN(tls_files_, TlsFiles::Start(c.security().tls(),
                                                    c.data_dir() + "/tls-served"));
    credentials = tls_files_->GrpcCredentials();
    // Callers who cannot authenticate, or whose roles cannot call the
    // method, are refused on their headers, before their requests are read
    // (services/auth/header_gate.h). The authoriser and the call gate
    // outlive server_ (declared before it); the gate is made before the
    // server takes calls.
    credentials->SetAuthMetadataProcessor(std::make_shared<services::auth::HeaderGate>(
        authorizer_.get(), [this](const services::auth::Identity& identity,
                                  absl::string_view method, const absl::Status& why) {
          if (gate_ != nullptr) gate_->RefusedUnread(identity, method, why);
        }));
  }

  storage::StoreOptions store_options;
  store_options.data_dir = c.data_dir();
  store_options.live_buffer_events = c.live_buffer_events();
  store_options.live_buffer_bytes = static_cast<size_t>(c.live_buffer_mib()) << 20;
  store_options.max_group_commit_events = c.max_group_commit_events();
  store_options.max_stream_events = c.max_events_per_stream();
  store_options.block_cache_bytes = static_cast<size_t>(c.block_cache_mib()) << 20;
  store_options.memtable_bytes = static_cast<size_t>(c.memtable_mib()) << 20;
  store_options.min_free_bytes = static_cast<uint64_t>(c.min_free_disk_mib()) << 20;
  store_options.reserve_bytes = static_cast<uint64_t>(c.reserved_disk_mib()) << 20;
  store_options.free_bytes = options_.free_disk_bytes;
  store_options.extra_column_families = {integrity::IntegrityLog::kColumnFamily};
  store_options.TEST_before_write = options_.TEST_before_write;
  store_options.TEST_after_write = options_.TEST_after_write;
  if (options_.clock) {
    store_options.clock = options_.clock;
    store_options.clock_is_the_systems = false;
  }
  absl::StatusOr<std::unique_ptr<storage::EventStore>> store =
      storage::EventStore::Open(store_options);
  if (absl::IsDataLoss(store.status())) {
    // Say what the journal knows: what was signed, beyond the damage, is
    // lost for certain.
    std::optional<v1::SignedCheckpoint> signed_latest =
        integrity::CheckpointJournal::PeekLatest(c.audit().checkpoint_journal());
    // The position a payload of the refusal names, if any.
    auto position = [&](const char* payload) -> std::optional<uint64_t> {
      absl::optional<absl::Cord> value = store.status().GetPayload(payload);
      uint64_t p = 0;
      if (!value || !absl::SimpleAtoi(std::string(*value), &p)) return std::nullopt;
      return p;
    };
    // The intact part's end (a damaged WAL), or the first position missing
    // (a hole in what the WALs gave back).
    const std::optional<uint64_t> intact = position("evenhand.storage.intact_position");
    const std::optional<uint64_t> missing = position("evenhand.storage.missing_from");
    if (signed_latest && (intact || missing)) {
      const uint64_t signed_size = signed_latest->checkpoint().tree_size();
      std::string what;
      if (intact) {
        what = signed_size > *intact
                   ? absl::StrCat(": positions ", *intact + 1, "..", signed_size,
                                  " were acknowledged and signed, and are lost for certain")
                   : absl::StrCat(
                         ", all within the intact part; whatever was acknowledged "
                         "after position ",
                         *intact,
                         " is known only to the publishers that sent it, who can "
                         "resend it with the same event ids once the log is restored");
      } else {
        what = signed_size >= *missing
                   ? absl::StrCat(": the first missing position, ", *missing,
                                  ", was acknowledged and signed")
                   : absl::StrCat(", all before the first missing position (", *missing,
                                  "): the publishers that sent the missing events can resend "
                                  "them with the same event ids once the log is restored");
      }
      return absl::DataLossError(
          absl::StrCat(store.status().message(), ". The newest signed checkpoint (",
                       c.audit().checkpoint_journal(), ") covers ", signed_size, " events", what));
    }
  }
  EH_ASSIGN_OR_RETURN(store_, std::move(store));

  // The Merkle tree and hash chain, before any append can happen; the log
  // is checked against the checkpoints it signed.
  integrity::IntegrityOptions integrity_options;
  integrity_options.signing_key_file = c.audit().signing_key_file();
  integrity_options.journal_file = c.audit().checkpoint_journal();
  integrity_options.checkpoint_every = absl::Seconds(c.audit().checkpoint_every_seconds());
  integrity_options.checkpoint_every_events = c.audit().checkpoint_every_events();
  integrity_options.startup_check = check;
  integrity_options.start_new_journal = options_.start_new_checkpoint_journal;
  integrity_options.server_version = kVersion;
  integrity_options.stream_map_dir = absl::StrCat(c.data_dir(), "/stream-map");
  if (options_.clock) integrity_options.clock = options_.clock;
  if (options_.TEST_map_build_in_steps_over) {
    integrity_options.map_build_in_steps_over = *options_.TEST_map_build_in_steps_over;
  }
  integrity_options.TEST_after_map_step = options_.TEST_after_map_step;
  EH_ASSIGN_OR_RETURN(integrity_, integrity::IntegrityLog::Open(store_.get(), integrity_options));
  // From here a refused start signs nothing on its way out: a checkpoint
  // would vouch for the log it was refused over (a projection that had
  // folded more than the log holds, say).
  absl::Cleanup abandon_if_refused = [this] { integrity_->Abandon(); };
  if (integrity_->key_replaced()) {
    logging::Warning(
        kComponent,
        absl::StrCat("made a NEW signing key ", c.audit().signing_key_file(), " (key id ",
                     integrity_->public_key().key_id(),
                     ") for a log whose checkpoints an earlier key signed: what the log signed "
                     "before verifies only against that key's public key; publish this one "
                     "beside it (docs/OPERATIONS.md)"));
  }
  logging::Info(kComponent,
                absl::StrCat(integrity_->key_created() ? "created" : "loaded", " signing key ",
                             c.audit().signing_key_file(), " (Ed25519, key id ",
                             integrity_->public_key().key_id(), "); checkpoint journal ",
                             integrity_->journal_path(), "; public key:\n",
                             integrity_->public_key().pem()));
  if (!c.skip_domain_validation()) {
    validator_ = std::make_unique<services::DomainValidator>(store_.get());
  }
  gate_ = std::make_unique<services::auth::CallGate>(
      authorizer_.get(), store_.get(), options_.clock ? options_.clock : [] { return absl::Now(); });
  authorizer_->SetStreamOwner(StreamOwners(store_.get()));

  services::EventLogOptions log_options;
  log_options.limits.max_event_bytes = c.max_event_bytes();
  log_options.limits.max_batch_events = c.max_batch_events();
  log_options.limits.max_text_bytes = c.max_text_bytes();
  log_options.limits.max_clock_skew = absl::Seconds(c.max_future_skew_seconds());
  log_options.server_version = kVersion;
  log_options.validator = validator_.get();
  log_options.max_subscriptions = c.max_subscriptions();
  log_options.max_subscriptions_per_client = c.max_subscriptions_per_client();
  log_options.subscriber_bytes_per_second =
      static_cast<uint64_t>(c.max_subscriber_mib_per_second()) << 20;
  log_options.problems = [this] { return integrity_->problems(); };
  log_options.checkpoints_stalled = [this] { return integrity_->signing_stalled(); };
  // (The runner starts below, before anything is served.)
  // Published by the fold: GetStatus never waits behind a report.
  log_options.projection_position = [this] { return runner_ ? runner_->published_position() : 0; };
  log_options.projection_stopped = [this] {
    return runner_ ? std::string(runner_->published_fold_stopped().message()) : std::string();
  };
  log_options.gate = gate_.get();
  log_options.append_stream_window = c.append_stream_window();
  log_options.max_append_bytes_in_flight = uint64_t{c.max_append_mib_in_flight()} << 20;
  if (options_.clock) log_options.clock = options_.clock;

  if (options_.seed_demo && store_->LastPosition() == 0) {
    absl::StatusOr<size_t> events =
        LoadDemo(store_.get(), log_options.limits, validator_.get(), log_options.clock());
    if (!events.ok()) return DemoNotLoaded(events.status(), store_->LastPosition());
    logging::Info(kComponent, absl::StrCat("loaded the demo council: ", *events, " events"));
  }

  projections::RunnerOptions runner_options;
  runner_options.checkpoint_dir = c.data_dir() + "/fairness-projection";
  runner_options.checkpoint_every_events = c.fairness().checkpoint_every_events();
  runner_options.checkpoint_every = absl::Seconds(c.fairness().checkpoint_every_seconds());
  runner_options.block_cache_bytes = static_cast<size_t>(c.fairness().cache_mib()) << 20;
  runner_options.case_cache_bytes = options_.TEST_case_cache_bytes.value_or(
      static_cast<size_t>(c.fairness().case_cache_mib()) << 20);
  if (options_.TEST_seed_slice_cases) {
    runner_options.seed_slice_cases = *options_.TEST_seed_slice_cases;
  }
  runner_options.rebuild = options_.rebuild_projections;
  runner_options.read_only = store_->write_state().read_only;
  runner_options.min_free_bytes = store_options.min_free_bytes;
  runner_options.free_bytes = options_.free_disk_bytes;
  runner_options.TEST_before_fold = options_.TEST_before_fold;
  runner_options.TEST_fold_event = options_.TEST_fold_event;
  runner_options.TEST_before_load = options_.TEST_before_load;
  runner_options.TEST_before_findings_load = options_.TEST_before_findings_load;
  runner_options.TEST_case_read = options_.TEST_case_read;
  runner_options.TEST_seeded_written = options_.TEST_seeded_written;
  projections::FairnessSettings fairness_settings =
      projections::FairnessSettings::FromConfig(c.fairness());
  fairness_settings.max_future_skew = log_options.limits.max_clock_skew;
  runner_options.index_settings = fairness_settings;
  runner_options.index_calendar = calendar;
  EH_ASSIGN_OR_RETURN(runner_, projections::ProjectionRunner::Start(store_.get(), runner_options));

  event_log_ = std::make_unique<services::EventLogService>(store_.get(), log_options);
  services::FairnessServiceOptions fairness_options;
  fairness_options.settings = fairness_settings;
  fairness_options.catch_up_wait = absl::Seconds(c.fairness().report_wait_seconds());
  fairness_options.gate = gate_.get();
  fairness_options.max_reply_bytes = c.max_reply_bytes();
  fairness_options.max_future_skew = absl::Seconds(c.max_future_skew_seconds());
  fairness_options.max_watchers = c.max_obligation_watches();
  if (options_.clock) fairness_options.clock = options_.clock;
  if (options_.TEST_report_give_way_after) {
    fairness_options.give_way_after = *options_.TEST_report_give_way_after;
  }
  if (options_.TEST_watch_max_queued) {
    fairness_options.watch_max_queued = *options_.TEST_watch_max_queued;
  }
  fairness_ = std::make_unique<services::FairnessService>(
      store_.get(), runner_.get(), integrity_.get(), std::move(calendar), fairness_options);
  services::AuditOptions audit_options;
  audit_options.max_export_events = c.max_export_events();
  audit_options.gate = gate_.get();
  audit_options.names_are_registered = !c.skip_domain_validation();
  audit_options.group_memberships = [fairness = fairness_.get()](const std::string& group,
                                                                 uint64_t through,
                                                                 absl::Time deadline) {
    return fairness->GroupMemberships(group, through, deadline);
  };
  audit_ = std::make_unique<services::AuditService>(store_.get(), integrity_.get(), audit_options);
  services::OperationsOptions operations_options;
  operations_options.data_dir = c.data_dir();
  operations_options.signing_key_file = c.audit().signing_key_file();
  operations_options.backup_dir = c.backup().dir();
  operations_options.keep_backups = c.backup().keep();
  operations_options.exclude_signing_key = c.backup().exclude_signing_key();
  operations_options.confine_to_backup_dir = !local_mode;
  operations_options.server_version = kVersion;
  operations_options.gate = gate_.get();
  if (options_.clock) operations_options.clock = options_.clock;
  operations_ = std::make_unique<services::OperationsService>(store_.get(), integrity_.get(),
                                                              operations_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT, and a second server on the same
  // port would start and take half of the clients.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients' keepalive pings (the publisher's, every 20 s while a call is
  // open) are welcome every 10 s; more often, gRPC drops the connection.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddListeningPort(c.listen(), credentials, &port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.max_request_bytes()));
  builder.experimental().SetInterceptorCreators(services::CallGuardCreators(gate_.get()));
  builder.RegisterService(event_log_.get());
  builder.RegisterService(fairness_.get());
  builder.RegisterService(audit_.get());
  builder.RegisterService(operations_.get());
  socket_poller_ = std::make_unique<SocketPoller>(builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    if (server_ != nullptr) {
      server_->Shutdown();
      server_->Wait();
    }
    socket_poller_->Stop();
    store_->BeginShutdown();
    runner_->Stop();
    integrity_->Abandon();
    store_->Close().IgnoreError();
    EH_RETURN_IF_ERROR(CheckAddressFree(c.listen()));
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", c.listen(),
        ": the address is invalid or in use (use --listen=HOST:PORT, port 0 picks a free one)"));
  }
  socket_poller_->Start();
  std::string host = c.listen().substr(0, c.listen().rfind(':'));
  address_ = absl::StrCat(host, ":", port_);
  if (c.metrics().listen() != "off") {
    MetricSources sources;
    sources.store = store_.get();
    sources.integrity = integrity_.get();
    sources.runner = runner_.get();
    sources.event_log = event_log_.get();
    sources.healthy = [this] { return Healthy(); };
    sources.version = kVersion;
    sources.started = started_;
    MetricsHttp::Handlers handlers;
    handlers.metrics = [sources] { return RenderServerMetrics(sources); };
    handlers.health = [this]() -> std::pair<bool, std::string> {
      std::vector<std::string> problems = integrity_->problems();
      absl::MutexLock lock(&mu_);
      if (shutdown_started_) return {false, "shutting down"};
      if (problems.empty()) return {true, ""};
      return {false, absl::StrJoin(problems, "; ")};
    };
    // /metrics as GetStatus: for the monitoring, admin and auditor roles.
    handlers.metrics_refusal =
        [this](const services::auth::ClientCertificate& certificate) -> std::string {
      services::auth::Caller caller;
      caller.tls = true;
      caller.certificate_names = certificate.names;
      caller.certificate_without_name = certificate.names.empty();
      caller.certificate_not_after = certificate.not_after;
      absl::StatusOr<services::auth::Identity> identity = authorizer_->Authenticate(caller);
      absl::Status refused = identity.status();
      if (identity.ok()) {
        refused =
            authorizer_
                ->Authorize(*identity, "evenhand.v1.EventLog/GetStatus", v1::GetStatusRequest())
                .status();
      }
      if (refused.ok()) return "";
      return absl::StrCat("/metrics is read as GetStatus is: ", refused.message());
    };
    absl::StatusOr<std::unique_ptr<MetricsHttp>> metrics =
        MetricsHttp::Start(c.metrics().listen(), std::move(handlers), tls_files_.get());
    if (!metrics.ok()) {
      server_->Shutdown();
      server_->Wait();
      socket_poller_->Stop();
      store_->BeginShutdown();
      runner_->Stop();
      integrity_->Abandon();
      store_->Close().IgnoreError();
      return metrics.status();
    }
    metrics_ = *std::move(metrics);
    metrics_address_ = metrics_->address();
  }
  lock_->SetListening(address_);
  server_->GetHealthCheckService()->SetServingStatus(Healthy());
  health_watch_ = std::thread([this] { WatchHealth(); });
  const storage::WriteState state = store_->write_state();
  if (local_mode) {
    logging::Info(kComponent,
                  absl::StrCat("local mode: plain text on loopback, every caller is the local "
                               "principal \"",
                               c.security().local().name().empty() ? "local"
                                                                   : c.security().local().name(),
                               "\"; configure security.tls to serve a network"));
  }
  logging::Info(kComponent,
                absl::StrCat("started listen=", address_, local_mode ? " (local mode)" : " (TLS)",
                             " data_dir=", c.data_dir(),
                             " last_position=", store_->LastPosition(),
                             " log_id=", store_->log_id(), " version=", kVersion,
                             metrics_ ? absl::StrCat(" metrics=", metrics_->scheme(), "://",
                                                     metrics_address_, "/metrics")
                                      : std::string(" metrics=off"),
                             state.accepting ? "" : " appends=refused"));
  if (!state.accepting) {
    logging::Error(kComponent, absl::StrCat("appends are refused: ", state.refusal.message()));
  }
  for (const std::string& problem : integrity_->problems()) {
    logging::Error(kComponent, absl::StrCat("health is NOT_SERVING: ", problem));
  }
  std::move(abandon_if_refused).Cancel();
  return absl::OkStatus();
}

bool EvenHandServer::Impl::Healthy() const { return integrity_->problems().empty(); }

void EvenHandServer::Impl::WatchHealth() {
  bool healthy = Healthy();
  size_t subscriptions = 0;
  absl::Time trimmed = absl::Now();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&shutdown_started_), absl::Seconds(1))) return;
    }
    // Give freed memory back to the system when subscribers have gone (and
    // once a minute): glibc otherwise keeps what gRPC's threads free in their
    // arenas, and the server's memory would not come down after a burst.
    const size_t now_subscribed = event_log_->subscriptions();
    if (now_subscribed < subscriptions || absl::Now() - trimmed > absl::Minutes(1)) {
      malloc_trim(0);
      trimmed = absl::Now();
    }
    subscriptions = now_subscribed;
    // Refusals passed over in a flood that has stopped go on the record.
    gate_->RecordPassedOver();
    const bool now = Healthy();
    if (now == healthy) continue;
    healthy = now;
    server_->GetHealthCheckService()->SetServingStatus(healthy);
    if (!healthy) {
      for (const std::string& problem : integrity_->problems()) {
        logging::Error(kComponent, absl::StrCat("health is NOT_SERVING: ", problem));
      }
    }
  }
}

void EvenHandServer::Impl::Shutdown(absl::Duration grace) {
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !shutdown_started_;
    shutdown_started_ = true;
  }
  if (!first) {
    stopped_.WaitForNotification();
    return;
  }
  logging::Info(kComponent, "shutting down: finishing in-flight appends");
  if (health_watch_.joinable()) health_watch_.join();
  server_->GetHealthCheckService()->SetServingStatus(false);
  // New appends now fail UNAVAILABLE (with a message that says why, while
  // gRPC still takes calls) and subscribers end; appends already queued
  // commit and are answered; then gRPC stops taking calls.
  const absl::Time deadline = absl::Now() + grace;
  store_->BeginShutdown();
  fairness_->BeginShutdown();
  event_log_->EndAppendStreams();
  if (!store_->WaitForAppendsToFinish(deadline)) {
    logging::Error(kComponent, "appends in flight did not finish within the shutdown grace period");
  }
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  // Reads that ended as gRPC stopped (subscriptions it cut) go on the record
  // with what they were sent, while the log still takes the server's records.
  if (const size_t left =
          event_log_->FinishAccessRecords(std::max(deadline, absl::Now() + absl::Seconds(10)));
      left != 0) {
    logging::Error(kComponent, absl::StrCat(left,
                                            " access records of reads that ended at the "
                                            "shutdown could not be appended in time"));
  }
  // Refusals passed over and not yet counted on the record, whether or not
  // their flood has stopped: the next start does not know them.
  gate_->RecordPassedOver(/*all=*/true);
  socket_poller_->Stop();
  if (metrics_) metrics_->Stop();
  if (tls_files_) tls_files_->Stop();
  // The projection checkpoints what it has folded, and the tree is signed as
  // it stands, while the log is open.
  runner_->Stop();
  runner_->Close();
  integrity_->Stop();
  uint64_t last = store_->LastPosition();
  absl::Status closed = store_->Close();
  if (!closed.ok()) {
    logging::Error(kComponent, absl::StrCat("closing the log: ", closed.ToString()));
  }
  logging::Info(kComponent, absl::StrCat("stopped data_dir=", options_.config.data_dir(),
                                         " last_position=", last));
  // evenhandd ends the process without destructors from here on.
  if (lock_ != nullptr) lock_->SetStopped();
  stopped_.Notify();
}

EvenHandServer::EvenHandServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EvenHandServer::~EvenHandServer() { Shutdown(absl::Seconds(5)); }

absl::StatusOr<std::unique_ptr<EvenHandServer>> EvenHandServer::Start(ServerOptions options) {
  options.config = WithDefaults(std::move(options.config));
  auto impl = std::make_unique<Impl>(std::move(options));
  EH_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<EvenHandServer>(new EvenHandServer(std::move(impl)));
}

const std::string& EvenHandServer::address() const { return impl_->address_; }
int EvenHandServer::port() const { return impl_->port_; }
const std::string& EvenHandServer::metrics_address() const { return impl_->metrics_address_; }
std::string EvenHandServer::metrics_url() const {
  if (impl_->metrics_ == nullptr) return "";
  return absl::StrCat(impl_->metrics_->scheme(), "://", impl_->metrics_address_, "/metrics");
}
uint64_t EvenHandServer::LastPosition() const { return impl_->store_->LastPosition(); }
uint64_t EvenHandServer::ProjectionPosition() const { return impl_->runner_->position(); }
bool EvenHandServer::ProjectionLoaded() const { return impl_->runner_->loaded().has_value(); }
void EvenHandServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
absl::StatusOr<size_t> EvenHandServer::ReloadSecurity(const v1::SecurityConfig& security) {
  EH_RETURN_IF_ERROR(impl_->authorizer_->Reload(security));
  return impl_->gate_->Reconsider();
}
void EvenHandServer::Wait() { impl_->stopped_.WaitForNotification(); }

}  // namespace evenhand::server

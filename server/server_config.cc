// The server's configuration (server.h): its defaults, the file it is read
// from, and what a start checks of it before it opens anything.
#include <arpa/inet.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/data_files.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/trusted_file.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/checkpoint_journal.h"
#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"
#include "server/listen_address.h"
#include "server/server.h"
#include "server/tls_files.h"
#include "services/auth/authorizer.h"
#include "services/fairness_service.h"

namespace evenhand::server {
namespace {

// Whether `listen` ("host:port") is a loopback address.
bool IsLoopback(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return false;
}

}  // namespace

v1::ServerConfig WithDefaults(v1::ServerConfig c) {
  if (c.listen().empty()) c.set_listen("127.0.0.1:50051");
  if (c.data_dir().empty()) c.set_data_dir("./data");
  if (c.max_event_bytes() == 0) c.set_max_event_bytes(1 << 20);
  if (c.max_batch_events() == 0) c.set_max_batch_events(1000);
  if (c.max_events_per_stream() == 0) c.set_max_events_per_stream(10000);
  if (c.max_text_bytes() == 0) c.set_max_text_bytes(64 << 10);
  if (c.max_future_skew_seconds() == 0) c.set_max_future_skew_seconds(24 * 3600);
  if (c.max_request_bytes() == 0) c.set_max_request_bytes(64 << 20);
  if (c.max_reply_bytes() == 0) c.set_max_reply_bytes(256 << 20);
  if (c.live_buffer_events() == 0) c.set_live_buffer_events(65536);
  if (c.max_group_commit_events() == 0) c.set_max_group_commit_events(16384);
  if (c.shutdown_grace_seconds() == 0) c.set_shutdown_grace_seconds(10);
  if (c.block_cache_mib() == 0) c.set_block_cache_mib(64);
  if (c.memtable_mib() == 0) c.set_memtable_mib(128);
  if (c.live_buffer_mib() == 0) c.set_live_buffer_mib(64);
  if (c.min_free_disk_mib() == 0) c.set_min_free_disk_mib(256);
  if (c.reserved_disk_mib() == 0) c.set_reserved_disk_mib(64);
  if (c.max_subscriptions() == 0) c.set_max_subscriptions(4096);
  if (c.max_subscriptions_per_client() == 0) c.set_max_subscriptions_per_client(1024);
  if (c.max_obligation_watches() == 0) c.set_max_obligation_watches(1024);
  if (c.max_export_events() == 0) c.set_max_export_events(200000);
  if (c.max_subscriber_mib_per_second() == 0) c.set_max_subscriber_mib_per_second(8);
  if (c.append_stream_window() == 0) c.set_append_stream_window(1024);
  if (c.max_append_mib_in_flight() == 0) c.set_max_append_mib_in_flight(256);
  v1::FairnessConfig* f = c.mutable_fairness();
  // The rules' own defaults (projections::FairnessSettings), so that what
  // --print_config shows is what the rules use.
  const projections::FairnessSettings rules;
  if (f->council_name().empty()) f->set_council_name(rules.council_name);
  if (f->offer_deadline_working_days() == 0) {
    f->set_offer_deadline_working_days(rules.offer_deadline_working_days);
  }
  if (f->equal_offer_lookback_days() == 0) {
    f->set_equal_offer_lookback_days(rules.equal_offer_lookback_days);
  }
  if (f->query_reply_working_days() == 0) {
    f->set_query_reply_working_days(rules.query_reply_working_days);
  }
  if (f->same_matter_window_days() == 0) {
    f->set_same_matter_window_days(rules.same_matter_window_days);
  }
  if (f->parity_alpha() == 0) f->set_parity_alpha(rules.parity_alpha);
  if (f->decline_rate_gap() == 0) f->set_decline_rate_gap(rules.decline_rate_gap);
  if (f->late_reply_gap() == 0) f->set_late_reply_gap(rules.late_reply_gap);
  if (f->officer_time_ratio() == 0) f->set_officer_time_ratio(rules.officer_time_ratio);
  if (f->parity_min_cases() == 0) f->set_parity_min_cases(rules.parity_min_cases);
  if (f->bank_holidays_file().empty()) {
    f->set_bank_holidays_file(FindDataFile("bank-holidays.json", EVENHAND_DEFAULT_BANK_HOLIDAYS));
  }
  if (f->checkpoint_every_events() == 0) f->set_checkpoint_every_events(10000);
  if (f->checkpoint_every_seconds() == 0) f->set_checkpoint_every_seconds(60);
  if (f->report_wait_seconds() == 0) f->set_report_wait_seconds(10);
  if (f->cache_mib() == 0) f->set_cache_mib(32);
  if (f->case_cache_mib() == 0) f->set_case_cache_mib(64);
  v1::AuditConfig* a = c.mutable_audit();
  if (a->signing_key_file().empty()) {
    a->set_signing_key_file(absl::StrCat(c.data_dir(), "/signing-key.pem"));
  }
  if (a->checkpoint_every_seconds() == 0) a->set_checkpoint_every_seconds(60);
  if (a->checkpoint_every_events() == 0) a->set_checkpoint_every_events(10000);
  if (a->checkpoint_journal().empty()) {
    a->set_checkpoint_journal(integrity::DefaultJournalPath(c.data_dir()));
  }
  if (a->verify_on_start().empty()) a->set_verify_on_start("tail");
  v1::BackupConfig* b = c.mutable_backup();
  if (b->dir().empty()) {
    std::error_code ec;
    std::filesystem::path data = std::filesystem::absolute(c.data_dir(), ec).lexically_normal();
    if (!data.has_filename()) data = data.parent_path();
    b->set_dir(data.string() + "-backups");
  }
  if (b->keep() == 0) b->set_keep(7);
  v1::MetricsConfig* m = c.mutable_metrics();
  if (m->listen().empty()) {
    // A server on a port picked at random (tests, tools) picks its metrics
    // port the same way, so that many can run side by side.
    m->set_listen(absl::EndsWith(c.listen(), ":0") ? "127.0.0.1:0" : "127.0.0.1:9464");
  }
  v1::LogConfig* l = c.mutable_log();
  if (l->format().empty()) l->set_format("json");
  if (l->level().empty()) l->set_level("info");
  if (l->repeat_seconds() == 0) l->set_repeat_seconds(60);
  return c;
}

v1::ServerConfig WithShownDefaults(v1::ServerConfig config) {
  v1::ServerConfig c = WithDefaults(std::move(config));
  v1::SecurityConfig* s = c.mutable_security();
  if (s->has_tls() && s->tls().check_seconds() == 0) s->mutable_tls()->set_check_seconds(60);
  // The limits' defaults, as the authoriser applies them: 0 must not read
  // as "unlimited".
  *s->mutable_limits() = services::auth::WithDefaultLimits(s->limits());
  if (s->has_oidc()) {
    v1::OidcConfig* o = s->mutable_oidc();
    if (o->subject_claim().empty()) o->set_subject_claim("sub");
    if (o->groups_claim().empty()) o->set_groups_claim("groups");
    if (o->leeway_seconds() == 0) o->set_leeway_seconds(60);
    if (o->jwks_check_seconds() == 0) o->set_jwks_check_seconds(60);
  }
  return c;
}

absl::Status CheckConfig(const v1::ServerConfig& c, bool with_security) {
  logging::Format format;
  logging::Severity level;
  if (!logging::ParseFormat(c.log().format(), &format)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log.format: \"", c.log().format(), "\" is neither \"json\" nor \"text\""));
  }
  if (!logging::ParseSeverity(c.log().level(), &level)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log.level: \"", c.log().level(), "\" is not one of info, warning, error"));
  }
  EH_RETURN_IF_ERROR(projections::FairnessSettings::Check(c.fairness()));
  EH_RETURN_IF_ERROR(
      projections::WorkingDayCalendar::LoadFile(c.fairness().bank_holidays_file()).status());
  if (c.audit().verify_on_start() != "tail" && c.audit().verify_on_start() != "full") {
    return absl::InvalidArgumentError(absl::StrCat("audit.verifyOnStart: \"",
                                                   c.audit().verify_on_start(),
                                                   "\" is neither \"tail\" nor \"full\""));
  }
  if (c.max_reply_bytes() > services::FairnessServiceOptions::kMaxReplyBytesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("maxReplyBytes: ", c.max_reply_bytes(), " is more than ",
                     services::FairnessServiceOptions::kMaxReplyBytesLimit,
                     ", the largest reply protobuf can serialise"));
  }
  if (c.max_request_bytes() > services::FairnessServiceOptions::kMaxReplyBytesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("maxRequestBytes: ", c.max_request_bytes(), " is more than ",
                     services::FairnessServiceOptions::kMaxReplyBytesLimit,
                     ", the largest request protobuf can parse"));
  }
  // Reads send an event whole in one message, and gRPC clients refuse
  // messages over 4 MiB unless told otherwise: a larger event could be
  // written and never read back.
  constexpr uint64_t kMaxEventBytesLimit = 3 << 20;
  if (c.max_event_bytes() > kMaxEventBytesLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "maxEventBytes: ", c.max_event_bytes(), " is more than ", kMaxEventBytesLimit,
        " (3 MiB): reads send each event whole, and gRPC clients refuse messages over 4 MiB by "
        "default, so an event that large could be written and never read back"));
  }
  EH_RETURN_IF_ERROR(ParseListenAddress("listen", c.listen()).status());
  if (!c.metrics().listen().empty() && c.metrics().listen() != "off") {
    EH_RETURN_IF_ERROR(
        ParseListenAddress("metrics.listen (or \"off\")", c.metrics().listen()).status());
  }
  // TLS, or plain text on loopback only (local mode).
  const bool local_mode = !c.security().has_tls();
  if (local_mode && !IsLoopback(c.listen())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen in plain text on ", c.listen(),
        ": plain text is allowed only on a loopback address (127.0.0.1, ::1). To serve a "
        "network, configure TLS (security.tls.certFile, keyFile and clientCaFile; "
        "scripts/make-certs creates a local CA and certificates to try it) and the principals "
        "who may call it (security.principals): see docs/SECURITY.md"));
  }
  if (local_mode && c.metrics().listen() != "off" && !IsLoopback(c.metrics().listen())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve metrics in plain HTTP on ", c.metrics().listen(),
        ": without TLS the metrics listener, like the gRPC one, may use a loopback address "
        "only. Set metrics.listen (or --metrics_listen) to 127.0.0.1:PORT or \"off\", or "
        "configure security.tls, which makes it HTTPS with a client certificate required: "
        "see docs/SECURITY.md"));
  }
  if (!local_mode) EH_RETURN_IF_ERROR(TlsFiles::Check(c.security().tls()));
  if (with_security) {
    EH_RETURN_IF_ERROR(services::auth::Authorizer::Create(c.security(), local_mode).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ServerConfig> LoadConfigFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", path, " is a folder: --config names the JSON file"));
  }
  // It names whom the server trusts: read only if nobody else can change it
  // (base/trusted_file.h).
  absl::StatusOr<std::string> text = ReadTrustedFile(path, "config", FileSecrecy::kPublic);
  if (!text.ok()) return text.status();
  v1::ServerConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(*text, &config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", path, " is not a valid ServerConfig: ", status.ToString()));
  }
  return config;
}

}  // namespace evenhand::server

#include "services/auth/authorizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "evenhand/v1/audit.pb.h"
#include "evenhand/v1/log.pb.h"
#include "grpc/grpc_security_constants.h"
#include "services/auth/client_certificate.h"
#include "services/auth/security_config_check.h"
#include "services/event_validation.h"

namespace evenhand::services::auth {
namespace {

// Which roles may call a method, and what a grant of it is for. A role ending
// in ":" matches every role with that prefix ("publisher:" any publisher).
struct MethodRule {
  const char* method;
  std::vector<std::string> roles;
  Grant::Values values;
  bool recorded;
};

const std::vector<MethodRule>& Rules() {
  using V = Grant::Values;
  static const auto* rules = new std::vector<MethodRule>{
      {"evenhand.v1.EventLog/Append", {"publisher:"}, V::kNone, false},
      // Each request on the stream is checked as an Append is.
      {"evenhand.v1.EventLog/AppendStream", {"publisher:"}, V::kNone, false},
      {"evenhand.v1.EventLog/ReadStream", {"auditor", "group:"}, V::kFull, true},
      {"evenhand.v1.EventLog/ReadAll", {"auditor"}, V::kFull, true},
      {"evenhand.v1.EventLog/Subscribe", {"auditor"}, V::kFull, true},
      {"evenhand.v1.EventLog/GetStatus", {"monitoring", "admin", "auditor"}, V::kNone, false},
      {"evenhand.v1.Fairness/GetReport", {"committee", "auditor"}, V::kNone, true},
      {"evenhand.v1.Fairness/GetReportDocument", {"committee", "auditor"}, V::kNone, true},
      {"evenhand.v1.Fairness/WatchObligations", {"committee", "auditor"}, V::kNone, true},
      {"evenhand.v1.Fairness/ListFindings", {"committee", "auditor"}, V::kNone, true},
      {"evenhand.v1.Fairness/ListRules", {"*"}, V::kNone, false},
      {"evenhand.v1.Fairness/ListObligations", {"committee", "auditor"}, V::kNone, true},
      {"evenhand.v1.Audit/Replay", {"auditor", "group:"}, V::kFull, true},
      {"evenhand.v1.Audit/Export", {"auditor"}, V::kFull, true},
      // Public evidence: hashes, signed roots and the key.
      {"evenhand.v1.Audit/GetInclusionProof", {"*"}, V::kNone, false},
      {"evenhand.v1.Audit/GetConsistencyProof", {"*"}, V::kNone, false},
      {"evenhand.v1.Audit/GetTreeHead", {"*"}, V::kNone, false},
      {"evenhand.v1.Audit/GetCheckpoint", {"*"}, V::kNone, false},
      {"evenhand.v1.Audit/ListCheckpoints", {"*"}, V::kNone, false},
      {"evenhand.v1.Audit/GetPublicKey", {"*"}, V::kNone, false},
      // A backup copies every event: on the record as a read of the log.
      {"evenhand.v1.Operations/Backup", {"admin"}, V::kNone, true},
      {"evenhand.v1.Operations/ListBackups", {"admin", "monitoring"}, V::kNone, false},
  };
  return *rules;
}

const MethodRule* FindRule(absl::string_view method) {
  for (const MethodRule& r : Rules()) {
    if (method == r.method) return &r;
  }
  return nullptr;
}

bool RoleMatches(const std::string& granted, const std::string& needed) {
  if (needed == "*") return true;
  if (!needed.empty() && needed.back() == ':') return absl::StartsWith(granted, needed);
  return granted == needed;
}

// The same groups, in whatever order the configuration lists them.
bool SameGroups(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

std::string Who(const Identity& id) {
  return absl::StrCat("principal ", Quoted(id.principal), " (", OneLine(id.authenticated_as, 256),
                      ")");
}

std::string RolesText(const Identity& id) {
  return id.roles.empty() ? std::string("no role") : absl::StrJoin(id.roles, ", ");
}

std::string NeededText(const MethodRule& rule) {
  std::vector<std::string> names;
  for (const std::string& r : rule.roles) {
    names.push_back(r.back() == ':' ? absl::StrCat(r, "<", r == "group:" ? "id" : "system", ">")
                                    : r);
  }
  return absl::StrJoin(names, " or ");
}

}  // namespace

bool Identity::HasRole(absl::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::vector<std::string> Identity::Groups() const {
  std::vector<std::string> out;
  for (const std::string& r : roles) {
    if (absl::StartsWith(r, "group:")) out.push_back(r.substr(6));
  }
  return out;
}

bool Identity::PublishesAs(absl::string_view system) const {
  return HasRole(kAnyPublisher) || HasRole(absl::StrCat("publisher:", system));
}

Caller Caller::FromContext(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  Caller c = FromConnection(auth.get(), context.client_metadata());
  c.peer = context.peer();
  return c;
}

Caller Caller::FromConnection(const grpc::AuthContext* auth,
                              const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  Caller c;
  if (auth != nullptr) {
    for (const auto& v : auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
      // "tls" from the server's TLS credentials (server/tls_files.h); "ssl"
      // from SslServerCredentials.
      const std::string type(v.data(), v.size());
      c.tls |= type == GRPC_TLS_TRANSPORT_SECURITY_TYPE || type == GRPC_SSL_TRANSPORT_SECURITY_TYPE;
    }
    if (auth->IsPeerAuthenticated()) {
      // Read from the certificate itself, as /metrics reads it (no PEM:
      // refused as expired, with no name, rather than taken undated).
      ClientCertificate certificate;
      for (const auto& v : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
        certificate = ClientCertificateFromPem(absl::string_view(v.data(), v.size()));
      }
      c.certificate_names = std::move(certificate.names);
      c.certificate_without_name = c.certificate_names.empty();
      c.certificate_not_after = certificate.not_after;
    }
  }
  auto [first, end] = metadata.equal_range("authorization");
  for (auto it = first; it != end; ++it) {
    if (c.authorization_headers++ == 0)
      c.authorization.assign(it->second.data(), it->second.size());
  }
  return c;
}

struct Authorizer::Policy {
  v1::SecurityConfig config;
  // Shared with the policy before when the identity provider's section is
  // unchanged (its keys, and what it knows of the file, carry over).
  std::shared_ptr<JwksKeys> tokens;
  Identity local;
  double rate = 0, burst = 0;
  size_t max_subscriptions = 0;
  size_t max_export_events = 0;
  size_t max_concurrent_reads = 0;
  size_t max_obligation_watches = 0;
};

v1::PrincipalLimits WithDefaultLimits(v1::PrincipalLimits l) {
  if (l.requests_per_second() == 0) l.set_requests_per_second(5000);
  if (l.burst() == 0) {
    l.set_burst(static_cast<uint32_t>(
        std::min<uint64_t>(uint64_t{2} * l.requests_per_second(), UINT32_MAX)));
  }
  if (l.max_subscriptions() == 0) l.set_max_subscriptions(64);
  if (l.max_export_events() == 0) l.set_max_export_events(200000);
  if (l.max_concurrent_reads() == 0) l.set_max_concurrent_reads(16);
  if (l.max_obligation_watches() == 0) l.set_max_obligation_watches(64);
  return l;
}

Authorizer::Authorizer(bool local_mode, std::function<absl::Time()> clock)
    : local_mode_(local_mode), clock_(std::move(clock)) {}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(const v1::SecurityConfig& config,
                                                               bool local_mode,
                                                               std::function<absl::Time()> clock) {
  std::unique_ptr<Authorizer> a(new Authorizer(local_mode, std::move(clock)));
  EH_ASSIGN_OR_RETURN(std::shared_ptr<const Policy> policy,
                      MakePolicy(config, local_mode, /*previous=*/nullptr));
  {
    absl::MutexLock lock(&a->policy_mu_);
    a->policy_ = std::move(policy);
  }
  return a;
}

absl::Status Authorizer::Reload(const v1::SecurityConfig& config) {
  EH_ASSIGN_OR_RETURN(std::shared_ptr<const Policy> policy,
                      MakePolicy(config, local_mode_, Current().get()));
  absl::MutexLock lock(&policy_mu_);
  policy_ = std::move(policy);
  ++generation_;
  return absl::OkStatus();
}

std::shared_ptr<const Authorizer::Policy> Authorizer::Current(uint64_t* generation) const {
  absl::MutexLock lock(&policy_mu_);
  if (generation != nullptr) *generation = generation_;
  return policy_;
}

uint64_t Authorizer::generation() const {
  absl::MutexLock lock(&policy_mu_);
  return generation_;
}

size_t Authorizer::max_subscriptions() const { return Current()->max_subscriptions; }
size_t Authorizer::max_export_events() const { return Current()->max_export_events; }

absl::StatusOr<std::shared_ptr<const Authorizer::Policy>> Authorizer::MakePolicy(
    const v1::SecurityConfig& config, bool local_mode, const Policy* previous) {
  auto p = std::make_shared<Policy>();
  p->config = config;
  p->local.principal = config.local().name().empty() ? "local" : config.local().name();
  p->local.authenticated_as = "local";
  p->local.local = true;
  if (config.local().roles().empty()) {
    p->local.roles = {kAnyPublisher, "committee", "auditor", "monitoring", "admin"};
  } else {
    p->local.roles.assign(config.local().roles().begin(), config.local().roles().end());
  }
  const v1::PrincipalLimits l = WithDefaultLimits(config.limits());
  p->rate = l.requests_per_second();
  p->burst = l.burst();
  p->max_subscriptions = l.max_subscriptions();
  p->max_export_events = l.max_export_events();
  p->max_concurrent_reads = l.max_concurrent_reads();
  p->max_obligation_watches = l.max_obligation_watches();
  // Off the record only for tests of the log's own mechanics: never silent
  // (outside probe), at each start and each reload.
  if (local_mode && config.local().do_not_record_reads()) {
    logging::Warning("auth",
                     "security.local.doNotRecordReads is set: reads in local mode are NOT on "
                     "the record (no AccessRecorded events), which docs/SECURITY.md promises "
                     "they are; it is meant for tests of the log's own mechanics only");
  }
  // What would blur who is who is refused before any of it is used.
  EH_RETURN_IF_ERROR(CheckSecurityConfig(config));
  if (!local_mode && !config.oidc().jwks_file().empty()) {
    if (previous != nullptr && previous->tokens != nullptr &&
        previous->config.oidc().SerializeAsString() == config.oidc().SerializeAsString()) {
      p->tokens = previous->tokens;
      // Read now, so that a reload says what the file holds (SIGHUP was
      // silent about a file it could not use: outside probe). Keys that
      // cannot be used leave those held in place, as between reloads.
      p->tokens->ReadAgain().IgnoreError();  // said on the server's log
    } else {
      EH_ASSIGN_OR_RETURN(p->tokens, JwksKeys::Load(config.oidc()));
    }
  }
  return std::shared_ptr<const Policy>(std::move(p));
}

absl::StatusOr<Identity> Authorizer::Authenticate(const Caller& caller) const {
  return AuthenticateWith(*Current(), caller, clock_());
}

Authorizer::Decision Authorizer::Decide(const Caller& caller, absl::string_view method,
                                        const google::protobuf::Message& request) {
  uint64_t generation = 0;
  const std::shared_ptr<const Policy> policy = Current(&generation);
  const absl::Time now = clock_();
  Decision d{AuthenticateWith(*policy, caller, now)};
  if (d.identity.ok()) d.grant = AuthorizeWith(*policy, *d.identity, method, request);
  if (d.grant.ok()) {
    d.grant->policy_generation = generation;
    d.grant->decided_at = now;
  }
  return d;
}

absl::Status Authorizer::Reconfirm(const Caller& caller, absl::Time admitted_at,
                                   absl::string_view method,
                                   const google::protobuf::Message& request, const Grant& held) {
  const std::shared_ptr<const Policy> policy = Current();
  absl::StatusOr<Identity> identity = AuthenticateWith(*policy, caller, admitted_at);
  absl::StatusOr<Grant> grant =
      identity.ok() ? AuthorizeWith(*policy, *identity, method, request, /*rate_limited=*/false)
                    : absl::StatusOr<Grant>(identity.status());
  if (!grant.ok() && !absl::IsPermissionDenied(grant.status()) &&
      !absl::IsUnauthenticated(grant.status())) {
    // Not a refusal: the decision could not be made (a stream's owner could
    // not be read, say). The stream keeps the grant it has, and says so.
    logging::Warning("auth", absl::StrCat("a ", method, " call of ", Who(held.identity),
                                          " could not be decided again, and keeps its grant: ",
                                          grant.status().message()));
    return absl::OkStatus();
  }
  if (!grant.ok()) {
    return WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat(
            "the server's security configuration was read again, and it no longer allows this ",
            method, " call of ", Who(held.identity), " (", grant.status().message(),
            "); what was sent before stands")),
        "GRANT_WITHDRAWN", {{"principal", held.identity.principal}});
  }
  std::string changed;
  if (grant->identity.principal != held.identity.principal) {
    changed = absl::StrCat("the caller is principal ", Quoted(grant->identity.principal), " now");
  } else if (grant->values != held.values || !SameGroups(grant->groups, held.groups)) {
    changed = grant->values == Grant::Values::kFull
                  ? std::string("it may read every value now")
                  : absl::StrCat("it reads with the values of groups other than its own (",
                                 absl::StrJoin(grant->groups, ", "), ") withheld now");
  } else if (grant->recorded != held.recorded) {
    changed = grant->recorded ? "its reads are put on the record now"
                              : "its reads are no longer put on the record";
  } else {
    return absl::OkStatus();
  }
  return WithErrorInfo(absl::AbortedError(absl::StrCat(
                           "the server's security configuration was read again, and this ", method,
                           " call of ", Who(held.identity), " is granted differently (", changed,
                           "); call again to go on under the new grant")),
                       "GRANT_CHANGED", {{"principal", held.identity.principal}});
}

absl::StatusOr<Identity> Authorizer::AuthenticateWith(const Policy& policy_ref,
                                                      const Caller& caller, absl::Time now) const {
  const Policy* const policy = &policy_ref;
  if (local_mode_) {
    if (!caller.authorization.empty()) {
      return absl::UnauthenticatedError(
          "bearer tokens are accepted only over TLS, and this server runs in local mode (plain "
          "text on loopback): do not send a token to it");
    }
    return policy->local;
  }
  if (!caller.tls) {
    return absl::UnauthenticatedError("this server accepts TLS connections only");
  }
  if (caller.authorization_headers > 1) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the call carries ", caller.authorization_headers,
        " authorization headers, and which one is meant is not for the server to guess: send "
        "one bearer token"));
  }
  Identity id;
  if (!caller.certificate_names.empty()) {
    // The handshake checked the dates when the connection (or the TLS
    // session it resumed) began, which may be hours ago.
    // notAfter itself is within the validity (RFC 5280 4.1.2.5).
    if (now > caller.certificate_not_after) {
      return absl::UnauthenticatedError(absl::StrCat(
          "the client certificate ",
          caller.certificate_not_after == absl::InfinitePast()
              ? std::string("has no expiry date the server can read")
              : absl::StrCat("expired at ",
                             absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", caller.certificate_not_after,
                                              absl::UTCTimeZone())),
          " (the connection, or the TLS session it resumed, began while it was valid): present "
          "a renewed certificate on a new connection"));
    }
    id.expires_at = caller.certificate_not_after;
  }
  std::vector<const v1::PrincipalConfig*> matched;
  const v1::PrincipalConfig* by_name = nullptr;  // the principal that names the caller
  if (!caller.authorization.empty()) {
    absl::string_view header = caller.authorization;
    if (!absl::ConsumePrefix(&header, "Bearer ") && !absl::ConsumePrefix(&header, "bearer ")) {
      return absl::UnauthenticatedError(
          "the authorization metadata must be \"Bearer <token>\" (an OIDC access token)");
    }
    if (policy->tokens == nullptr) {
      return absl::UnauthenticatedError(
          "this server takes no bearer tokens (security.oidc is not configured)");
    }
    if (policy->config.tls().require_client_certificate()) {
      // Systems only: a token would make a system's connection a person.
      return absl::UnauthenticatedError(
          "this server serves systems by their certificates only "
          "(security.tls.requireClientCertificate): it takes no bearer token");
    }
    EH_ASSIGN_OR_RETURN(
        TokenClaims claims,
        policy->tokens->Verify(std::string_view(header.data(), header.size()), now));
    id.authenticated_as = absl::StrCat("token ", claims.subject);
    id.expires_at = std::min(id.expires_at, claims.usable_until);
    // A token sent over a client certificate is the token's person; the
    // record names the certificate too.
    if (!caller.certificate_names.empty()) {
      absl::StrAppend(&id.authenticated_as, " over certificate ", caller.certificate_names.front());
    }
    // A person is named by their subject, so the record says who read,
    // not which group of the identity provider let them; a principal
    // that names the subject itself names them.
    id.principal = claims.subject;
    for (const v1::PrincipalConfig& p : policy->config.principals()) {
      bool is = std::find(p.token_subjects().begin(), p.token_subjects().end(), claims.subject) !=
                p.token_subjects().end();
      if (is && by_name == nullptr) by_name = &p;
      for (const std::string& g : claims.groups) {
        if (g.empty()) continue;  // (refused in the configuration too)
        is |= std::find(p.token_groups().begin(), p.token_groups().end(), g) !=
              p.token_groups().end();
      }
      if (is) matched.push_back(&p);
    }
  } else if (!caller.certificate_names.empty()) {
    // The name a principal lists, else the certificate's first.
    std::string name = caller.certificate_names.front();
    for (const v1::PrincipalConfig& p : policy->config.principals()) {
      const std::string* listed = nullptr;
      for (const std::string& n : caller.certificate_names) {
        if (std::find(p.certificate_names().begin(), p.certificate_names().end(), n) !=
            p.certificate_names().end()) {
          listed = &n;
          break;
        }
      }
      if (listed == nullptr) continue;
      if (!matched.empty()) {
        // A system is one principal: a certificate two principals list
        // would hold both's roles, recorded under one.
        return absl::UnauthenticatedError(absl::StrCat(
            "the client certificate's names (", absl::StrJoin(caller.certificate_names, ", "),
            ") are listed by two principals, ", Quoted(matched.front()->name()), " and ",
            Quoted(p.name()),
            ": a certificate must be one principal's; issue one per system, "
            "or list its name under one principal (security.principals)"));
      }
      matched.push_back(&p);
      name = *listed;
    }
    id.authenticated_as = absl::StrCat("certificate ", name);
    id.principal = name;
    if (!matched.empty()) by_name = matched.front();
  } else if (caller.certificate_without_name) {
    return absl::UnauthenticatedError(
        "the client certificate names no DNS name, IP address, e-mail address or URI (nor, "
        "without subject alternative names, a common name), so it cannot be told apart from "
        "another: a system presents a certificate of the council's CA that names it");
  } else {
    return absl::UnauthenticatedError(
        "no client certificate and no bearer token: a system presents a certificate issued by "
        "the council's CA; a person signs in with the council's identity provider (evenhand "
        "--token-file)");
  }
  // Every principal that matches the caller gives it its roles.
  id.listed = !matched.empty();
  if (by_name != nullptr) {
    id.principal = by_name->name();
  } else if (caller.authorization.empty()) {
    // A certificate of the council's CA that no principal lists (it has no
    // role): its own rate, subscriptions and access-record stream, under a
    // name no principal and no person can have.
    id.principal = absl::StrCat("certificate:", id.principal);
  } else if (NamesAPrincipal(*policy, id.principal)) {
    // A person (a token's subject, their groups mapped) whose subject
    // spells a principal's name ("auditor") or begins with a prefix of
    // these names is not that principal.
    id.principal = absl::StrCat("token:", id.principal);
  }
  for (const v1::PrincipalConfig* p : matched) {
    for (const std::string& r : p->roles()) {
      if (!id.HasRole(r)) id.roles.push_back(r);
    }
  }
  return id;
}

bool Authorizer::NamesAPrincipal(const Policy& policy, absl::string_view name) {
  if (name == policy.local.principal || absl::StartsWith(name, "token:") ||
      absl::StartsWith(name, "certificate:")) {
    return true;
  }
  for (const v1::PrincipalConfig& p : policy.config.principals()) {
    if (p.name() == name) return true;
  }
  return false;
}

bool Authorizer::HasRuleFor(absl::string_view method) { return FindRule(method) != nullptr; }

absl::Status Authorizer::MethodAllowed(const Identity& identity, absl::string_view method) const {
  const MethodRule* rule = FindRule(method);
  if (rule == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        Who(identity), " may not call ", method, ": nobody may (the method is not in the table)"));
  }
  for (const std::string& needed : rule->roles) {
    if (needed == "*") return absl::OkStatus();
    for (const std::string& granted : identity.roles) {
      if (RoleMatches(granted, needed)) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(Who(identity), " may not call ", method,
                                                  ": it needs the role ", NeededText(*rule),
                                                  ", and it has ", RolesText(identity)));
}

absl::Status Authorizer::CheckRate(const Policy& policy, const Identity& identity) {
  if (identity.local) return absl::OkStatus();  // the machine's own user
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  auto [it, inserted] = buckets_.try_emplace(identity.principal, Bucket{policy.burst, now});
  Bucket& b = it->second;
  b.tokens =
      std::min(policy.burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) * policy.rate);
  b.refilled = now;
  if (b.tokens < 1) {
    return WithRetryDelay(
        WithErrorInfo(absl::ResourceExhaustedError(absl::StrCat(
                          Who(identity), " made more than ", policy.rate,
                          " requests per second (security.limits.requestsPerSecond); slow down "
                          "and retry")),
                      "RATE_LIMITED", {{"setting", "security.limits.requestsPerSecond"}}),
        absl::Seconds(1));
  }
  b.tokens -= 1;
  return absl::OkStatus();
}

namespace {
// Whether a lane's list holds `value` or "*".
bool Lists(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end() ||
         std::find(list.begin(), list.end(), "*") != list.end();
}
}  // namespace

absl::Status Authorizer::CheckAppend(const Policy& policy, const Identity& identity,
                                     const google::protobuf::Message& message) const {
  const auto* request = dynamic_cast<const v1::AppendRequest*>(&message);
  if (request == nullptr) return absl::InternalError("Append without an AppendRequest");
  const std::string kind = request->stream_id().substr(0, request->stream_id().find('-'));
  for (int i = 0; i < request->events_size(); ++i) {
    const v1::Event& e = request->events(i);
    const std::string type = PayloadTypeName(e.payload());
    if (type == "AccessRecorded") {
      return absl::PermissionDeniedError(
          absl::StrCat(Who(identity), " may not append events[", i,
                       "]: AccessRecorded is the server's own record of reads; nobody appends it"));
    }
    if (!identity.PublishesAs(e.source_system())) {
      return absl::PermissionDeniedError(
          absl::StrCat(Who(identity), " may not append events[", i, "] as source_system ",
                       Quoted(e.source_system()), ": it needs the role ",
                       Quoted(absl::StrCat("publisher:", e.source_system())),
                       ", and it has ", RolesText(identity)));
    }
    // A system appends only what its lane lists; with no lane, nothing on a
    // network, and anything in local mode (whose one principal holds every
    // role).
    const v1::PublisherLane* lane = nullptr;
    for (const v1::PublisherLane& l : policy.config.publishers()) {
      if (l.system() == e.source_system()) lane = &l;
    }
    if (lane == nullptr) {
      if (local_mode_) continue;
      return absl::PermissionDeniedError(absl::StrCat(
          Who(identity), " may not append events[", i, "]: publisher ", Quoted(e.source_system()),
          " has no lane in security.publishers; list the event types and stream kinds it may "
          "append there"));
    }
    if (!Lists(lane->event_types(), type)) {
      return absl::PermissionDeniedError(
          absl::StrCat(Who(identity), " may not append events[", i, "] of type ", type,
                       ": publisher ", lane->system(), " may append only ",
                       absl::StrJoin(lane->event_types(), ", "), " (security.publishers)"));
    }
    if (!Lists(lane->stream_kinds(), kind)) {
      return absl::PermissionDeniedError(absl::StrCat(
          Who(identity), " may not append to stream ", Quoted(request->stream_id()), ": publisher ",
          lane->system(), " may append only to ", absl::StrJoin(lane->stream_kinds(), "-, "),
          "- streams (security.publishers)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Grant> Authorizer::Authorize(const Identity& identity, absl::string_view method,
                                            const google::protobuf::Message& request) {
  return AuthorizeWith(*Current(), identity, method, request);
}

absl::StatusOr<Grant> Authorizer::AuthorizeWith(const Policy& policy_ref, const Identity& identity,
                                                absl::string_view method,
                                                const google::protobuf::Message& request,
                                                bool rate_limited) {
  const Policy* const policy = &policy_ref;
  if (rate_limited) EH_RETURN_IF_ERROR(CheckRate(*policy, identity));
  EH_RETURN_IF_ERROR(MethodAllowed(identity, method));
  const MethodRule* rule = FindRule(method);
  Grant grant;
  grant.identity = identity;
  grant.values = rule->values;
  grant.recorded =
      rule->recorded && !(identity.local && policy->config.local().do_not_record_reads());
  grant.max_subscriptions = policy->max_subscriptions;
  grant.max_export_events = policy->max_export_events;
  grant.max_concurrent_reads = identity.local ? SIZE_MAX : policy->max_concurrent_reads;
  grant.max_obligation_watches = identity.local ? SIZE_MAX : policy->max_obligation_watches;
  if (method == "evenhand.v1.EventLog/Append" || method == "evenhand.v1.EventLog/AppendStream") {
    EH_RETURN_IF_ERROR(CheckAppend(*policy, identity, request));
    return grant;
  }
  // A hash is of a whole event, values and all, and a value withheld from a
  // reader is often short and guessable (a topic, "sibling"): a reader that
  // sees an event with a value withheld, and has a hash that covers it (its
  // leaf hash, a chain hash after it, a sibling in a proof's path), can
  // check a guess at the value by hashing the event with it (an outside
  // probe recovered withheld summaries so). A principal whose reads are
  // withheld (a group's, without the auditor's role) gets no proofs and no
  // hashes, until withheld values are kept as salted commitments
  // (WithheldValue.commitment, docs/SECURITY.md).
  // Tree heads and checkpoints too: a checkpoint's chain head is the hash
  // chain after its last event (checkpoints a second apart in a quiet log
  // are at consecutive sizes), and a tree head of any size n covers event n
  // with the heads of smaller sizes (review). So do a signed report (its
  // checkpoint, and the root at an as-of position of the reader's choosing)
  // and a backup's manifest, for a principal that holds a group's role with
  // the committee's or an admin's (a councillor on the standards committee);
  // its GetReport comes without the root (Grant::hashes).
  const bool withheld_reader = !identity.Groups().empty() && !identity.HasRole("auditor");
  if (withheld_reader &&
      (method == "evenhand.v1.Audit/GetInclusionProof" ||
       method == "evenhand.v1.Audit/GetConsistencyProof" ||
       method == "evenhand.v1.Audit/GetTreeHead" || method == "evenhand.v1.Audit/GetCheckpoint" ||
       method == "evenhand.v1.Audit/ListCheckpoints" ||
       method == "evenhand.v1.Fairness/GetReportDocument" ||
       method == "evenhand.v1.Operations/Backup" ||
       method == "evenhand.v1.Operations/ListBackups")) {
    return absl::PermissionDeniedError(absl::StrCat(
        Who(identity), " may not call ", method,
        ": it reads events with other groups' confidential values withheld, and the log's "
        "hashes (proofs, tree heads, checkpoints' chain heads) cover whole events, so they would "
        "let it check guesses at those values; an auditor checks the log (evenhand verify)"));
  }
  grant.hashes = !withheld_reader;
  // A group principal reads, of what it may read, only its own group's, and
  // only if it has no wider role for the method.
  if (grant.values == Grant::Values::kFull && !identity.HasRole("auditor")) {
    grant.values = Grant::Values::kOwnGroupOnly;
    grant.groups = identity.Groups();
    if (const auto* read = dynamic_cast<const v1::ReadStreamRequest*>(&request)) {
      EH_ASSIGN_OR_RETURN(std::string owner, OwnerOf(read->stream_id()));
      if (std::find(grant.groups.begin(), grant.groups.end(), owner) == grant.groups.end()) {
        return absl::PermissionDeniedError(absl::StrCat(
            Who(identity), " may not read stream ", Quoted(read->stream_id()), ": ",
            owner.empty() ? std::string("it is not a political group's case")
                          : absl::StrCat("it is group ", owner, "'s case"),
            ", and it may read its own group's (", absl::StrJoin(grant.groups, ", "), ") only"));
      }
    }
    if (const auto* replay = dynamic_cast<const v1::ReplayRequest*>(&request)) {
      const std::string& wanted = replay->filter().group_id();
      if (!wanted.empty() &&
          std::find(grant.groups.begin(), grant.groups.end(), wanted) == grant.groups.end()) {
        return absl::PermissionDeniedError(absl::StrCat(
            Who(identity), " may not replay what concerns group ", Quoted(wanted),
            ": it may read its own group's (", absl::StrJoin(grant.groups, ", "), ") only"));
      }
    }
  }
  return grant;
}

absl::StatusOr<std::string> Authorizer::OwnerOf(const std::string& stream_id) const {
  if (!owner_) return std::string();
  return owner_(stream_id);
}

}  // namespace evenhand::services::auth

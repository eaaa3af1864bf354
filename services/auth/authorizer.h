// Authorizer: the one place that decides who may do what (docs/SECURITY.md).
//
// Every gRPC method of the EventLog, Fairness, Audit and Operations services calls
// Authorize() before it does anything else, with its own name and request.
// The authoriser:
//   1. authenticates the caller: a client certificate verified by the TLS
//      handshake (its subject alternative names; its common name only if it
//      has none), one principal's, or an
//      OIDC bearer token in the `authorization` metadata (accepted only over
//      TLS), or, in local mode (plain text on loopback), the local principal;
//   2. maps the identity to the configured principal (by certificate name,
//      token subject or token group) and so to its roles; an identity no
//      principal names has no roles;
//   3. applies the principal's request rate limit;
//   4. decides, default deny, from the table below and the request:
//        publisher:<system>  EventLog.Append only: event types and stream
//                            kinds of its lane, source_system = <system>
//        committee           Fairness (reports, findings, rules): no
//                            confidential value ever appears in them
//        auditor             every read, replay, proof and export, in full
//        group:<id>          EventLog.ReadStream of its own group's cases and
//                            Audit.Replay of what concerns its group, with
//                            other groups' confidential values withheld
//        monitoring          EventLog.GetStatus (health is open to anyone)
//        admin               EventLog.GetStatus
//      Anyone authenticated may fetch the public key, checkpoints and proofs
//      (public evidence), but for a group principal without the auditor's
//      role: no proofs, tree heads or checkpoints, and no hashes in its reads
//      (a hash covering a value withheld from it would let it check a guess
//      at the value). Nobody can delete or rewrite: there is no method.
//   5. says what the grant is for the service to apply: full values, or
//      values withheld, and whether the read must be recorded.
// A refusal is PERMISSION_DENIED naming the principal, the method and the
// role it lacks (UNAUTHENTICATED if the caller could not be identified,
// RESOURCE_EXHAUSTED over the rate limit).
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_AUTHORIZER_H_
#define EVENHAND_SERVICES_AUTH_AUTHORIZER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/config.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "services/auth/jwks_keys.h"

namespace evenhand::services::auth {

// Who is calling.
struct Identity {
  // The configured principal's name ("local" in local mode); for an identity
  // no principal names, the identity itself.
  std::string principal;
  // How it proved who it is: "certificate <name>", "token <subject>",
  // "local".
  std::string authenticated_as;
  std::vector<std::string> roles;
  bool local = false;
  // Whether a configured principal names it (its roles may still be none).
  bool listed = false;
  // When what it proved itself with stops being taken: its client
  // certificate's notAfter, its token's expiry (with the leeway), whichever
  // comes first. A stream it opened ends then (standing_grants.h).
  absl::Time expires_at = absl::InfiniteFuture();

  bool HasRole(absl::string_view role) const;
  // The ids of its "group:<id>" roles.
  std::vector<std::string> Groups() const;
  // Whether it may publish as `system` ("publisher:<system>" or
  // "publisher:*").
  bool PublishesAs(absl::string_view system) const;
};

// What a caller may see of what it is allowed to read.
struct Grant {
  Identity identity;
  enum class Values {
    kFull,          // auditors: everything as stored
    kOwnGroupOnly,  // group principals: confidential values of other groups' cases withheld
    kNone,          // no event content is returned (reports, status, proofs, appends)
  };
  Values values = Values::kNone;
  // The reader's groups, for kOwnGroupOnly.
  std::vector<std::string> groups;
  // Whether what it reads may carry the log's hashes (Replay's leaf and
  // chain hashes, a report's root): not for a principal values are withheld
  // from, as a hash covering a withheld value would let it check a guess at
  // the value.
  bool hashes = true;
  // The call reads the log's content for a person or an auditor: it must
  // be on the record (AccessRecorder) before it is answered.
  bool recorded = false;
  // The per-principal limits of the policy that decided (security.limits).
  size_t max_subscriptions = 0;
  size_t max_export_events = 0;
  // Reads that stream it may have open at once (SIZE_MAX: no limit).
  size_t max_concurrent_reads = 0;
  // Obligation watches it may have open at once (SIZE_MAX: no limit).
  size_t max_obligation_watches = 0;
  // Which policy decided (Authorizer::generation()), and when: a stream
  // held after a newer policy was taken is decided again at once, by the
  // identity it proved then (services/auth/standing_grants.h).
  uint64_t policy_generation = 0;
  absl::Time decided_at;
};

// Connection facts the authoriser needs, taken from a gRPC call.
struct Caller {
  // Whether the transport is TLS (GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME
  // "tls" or "ssl", not "insecure").
  bool tls = false;
  // The verified client certificate's names (its SANs, or its common name
  // if it has no SAN extension: RFC 6125 6.4.4; services/auth/
  // client_certificate.h).
  std::vector<std::string> certificate_names;
  // A certificate was presented, but it names nothing a principal can be
  // told apart by (only otherName or directoryName SANs, an empty subject).
  bool certificate_without_name = false;
  // The verified client certificate's notAfter (InfiniteFuture without
  // one): a connection, or a TLS session resumed, outlives the handshake
  // that checked it.
  absl::Time certificate_not_after = absl::InfiniteFuture();
  // The `authorization` metadata, if any, and how many the call carried
  // (more than one is refused: which would be meant?).
  std::string authorization;
  int authorization_headers = 0;
  // ipv4:127.0.0.1:port etc.
  std::string peer;

  static Caller FromContext(const grpc::ServerContextBase& context);
  // The same from a connection's AuthContext and a call's metadata (before
  // the call is handed to a method: services/auth/header_gate.h); no peer.
  static Caller FromConnection(const grpc::AuthContext* auth,
                               const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);
};

// `limits` with every unset (0) field at its default: 5,000 requests a
// second with a burst of twice the rate, 64 subscriptions, 200,000 events
// an export, 16 concurrent reads, 64 obligation watches. What every
// principal but the local one is held to; --print_config shows it.
v1::PrincipalLimits WithDefaultLimits(v1::PrincipalLimits limits);

class Authorizer {
 public:
  // `local_mode`: the listener is plain text on loopback; every caller is
  // the local principal. Otherwise TLS: certificates and tokens.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(
      const v1::SecurityConfig& config, bool local_mode,
      std::function<absl::Time()> clock = [] { return absl::Now(); });

  // Takes `config` in place of the one given to Create() (the server's
  // config read again on SIGHUP): principals, lanes, limits and the
  // identity provider. Checked as Create() checks it; if it fails, the
  // policy held is kept and the error says why. Calls admitted before keep
  // the identity they were admitted with; the rate buckets of principals
  // are kept.
  absl::Status Reload(const v1::SecurityConfig& config);

  // The policy in use: 1 for Create()'s, one more for each Reload() taken.
  uint64_t generation() const;

  // Who `caller` is; Unauthenticated if it cannot be identified.
  absl::StatusOr<Identity> Authenticate(const Caller& caller) const;

  // Authenticate() then Authorize(), both by one policy, so that a Reload()
  // between them never judges a call by two (the old roles and the new
  // lanes). `identity` is the first step's outcome; if it is OK, `grant`
  // is the second's.
  struct Decision {
    absl::StatusOr<Identity> identity;
    absl::StatusOr<Grant> grant = absl::UnknownError("not decided");
  };
  Decision Decide(const Caller& caller, absl::string_view method,
                  const google::protobuf::Message& request);

  // The decision for `method` ("evenhand.v1.EventLog/Append") and its
  // request, for an authenticated identity. Applies the rate limit.
  absl::StatusOr<Grant> Authorize(const Identity& identity, absl::string_view method,
                                  const google::protobuf::Message& request);

  // Whether a call admitted with `held` (from `caller`, at `admitted_at`)
  // would be granted the same by the policy held now (after a Reload): OK
  // if so; PERMISSION_DENIED (reason GRANT_WITHDRAWN) if it would be
  // refused; ABORTED (GRANT_CHANGED) if it would be granted differently:
  // as another principal, with other values withheld, or recorded or not.
  // A token is checked as at `admitted_at` (one that expired since still
  // counts: it was good when it opened the call); no rate limit applies.
  absl::Status Reconfirm(const Caller& caller, absl::Time admitted_at, absl::string_view method,
                         const google::protobuf::Message& request, const Grant& held);

  // Whether the table above has a rule for `method`: a method without one
  // is refused to everyone.
  static bool HasRuleFor(absl::string_view method);

  // The role-only part of the decision: whether `method` is open to any of
  // `identity`'s roles at all (before the request is looked at).
  absl::Status MethodAllowed(const Identity& identity, absl::string_view method) const;

  // The political group a stream (a case) belongs to, "" if none: for a
  // group principal's reads. Set by the server, which has the log.
  using StreamOwner = std::function<absl::StatusOr<std::string>(const std::string& stream_id)>;
  void SetStreamOwner(StreamOwner owner) { owner_ = std::move(owner); }
  absl::StatusOr<std::string> OwnerOf(const std::string& stream_id) const;

  // Per-principal limits.
  size_t max_subscriptions() const;
  size_t max_export_events() const;
  bool local_mode() const { return local_mode_; }

 private:
  // What the security config decides, as one value swapped whole.
  struct Policy;
  Authorizer(bool local_mode, std::function<absl::Time()> clock);
  // `previous` (if any) lends its identity provider's keys when the
  // provider's section is unchanged.
  static absl::StatusOr<std::shared_ptr<const Policy>> MakePolicy(const v1::SecurityConfig& config,
                                                                  bool local_mode,
                                                                  const Policy* previous);
  std::shared_ptr<const Policy> Current(uint64_t* generation = nullptr) const;
  // A token is checked as at `now`.
  absl::StatusOr<Identity> AuthenticateWith(const Policy& policy, const Caller& caller,
                                            absl::Time now) const;
  absl::StatusOr<Grant> AuthorizeWith(const Policy& policy, const Identity& identity,
                                      absl::string_view method,
                                      const google::protobuf::Message& request,
                                      bool rate_limited = true);
  absl::Status CheckRate(const Policy& policy, const Identity& identity);
  absl::Status CheckAppend(const Policy& policy, const Identity& identity,
                           const google::protobuf::Message& request) const;
  // Whether an identity no principal names must not go by `name`: it is a
  // configured principal's (or the local one's), or has the prefix that
  // marks such identities ("token:", "certificate:").
  static bool NamesAPrincipal(const Policy& policy, absl::string_view name);

  const bool local_mode_;
  StreamOwner owner_;
  const std::function<absl::Time()> clock_;
  mutable absl::Mutex policy_mu_;
  std::shared_ptr<const Policy> policy_ ABSL_GUARDED_BY(policy_mu_);
  uint64_t generation_ ABSL_GUARDED_BY(policy_mu_) = 1;

  struct Bucket {
    double tokens;
    absl::Time refilled;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_AUTHORIZER_H_

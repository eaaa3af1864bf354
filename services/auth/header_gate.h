// HeaderGate: authentication on a call's headers, before its request is
// read. gRPC reads a unary call's whole request (up to maxRequestBytes)
// before a method runs, so a caller without credentials could make the
// server take in a large message only to refuse it (an outside probe: eight
// such callers sending 60 MiB each took the server from 284 MB to 1.9 GB).
// gRPC runs this processor on a call's headers; a refusal here ends the call
// before its message is read.
//
// A caller without a verified client certificate is refused
// UNAUTHENTICATED, with the authoriser's message, unless its bearer token
// authenticates (Authorizer::Authenticate): calls to gRPC's health and
// reflection services too, whose requests gRPC reads as it reads ours. (A
// verified certificate the authoriser does not take, an expired one say,
// is let through to the CallGate, whose refusal says more.)
//
// A caller who authenticates but none of whose roles may call the method at
// all (Authorizer::MethodAllowed: a person whose token maps to no role, a
// group's certificate calling Export) is refused PERMISSION_DENIED here too,
// with the CallGate's message: the probe that found the first gap sent
// eight 60 MiB requests with such a token and took the server to 0.7 GB.
// That refusal goes on the record as the CallGate's do (`on_refused`,
// CallGate::RefusedUnread), throttled alike, appended without waiting.
//
// What is let through is authenticated again, and authorised, by the
// CallGate: one decision by one policy, of which this takes only the part
// that needs no request.
//
// What it cannot do: its refusals carry no ErrorInfo (gRPC passes on only a
// processor's code and message; the message names the principal), and the
// server's log line names no address (the processor is not told it).
//
// Thread-safe. Only for TLS listeners (plain text on loopback has no
// processor; every caller there is the local principal).
#ifndef EVENHAND_SERVICES_AUTH_HEADER_GATE_H_
#define EVENHAND_SERVICES_AUTH_HEADER_GATE_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "services/auth/authorizer.h"

namespace evenhand::services::auth {

class HeaderGate : public grpc::AuthMetadataProcessor {
 public:
  // A refusal of a caller who authenticated: `method` as the CallGate names
  // it ("evenhand.v1.EventLog/Append"). Must not block.
  using OnRefused =
      std::function<void(const Identity& identity, absl::string_view method, const absl::Status&)>;

  // `*authorizer` must outlive the gate (and the server it serves), as
  // whatever `on_refused` uses.
  HeaderGate(const Authorizer* authorizer, OnRefused on_refused)
      : authorizer_(authorizer), on_refused_(std::move(on_refused)) {}

  // Inline on gRPC's thread: a certificate costs a look at the connection's
  // properties, a token one verification.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const Authorizer* const authorizer_;
  const OnRefused on_refused_;
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_HEADER_GATE_H_

// HeaderGate: authentication on a call's headers, before its request is
// read. gRPC reads a unary call's whole request (up to maxRequestBytes)
// before a method runs, so a caller without credentials could make the
// server take in a large message only to refuse it (an outside probe: eight
// such callers sending 60 MiB each took the server from 284 MB to 1.9 GB).
// gRPC runs this processor on a call's headers; a refusal here ends the call
// before its message is read.
//
// A caller with a verified client certificate is let through at once (the
// handshake proved it; the CallGate decides who it is and what it may do).
// Without one, the call is refused UNAUTHENTICATED, with the authoriser's
// message, unless its bearer token authenticates (Authorizer::Authenticate):
// calls to gRPC's health and reflection services too, whose requests gRPC
// reads as it reads ours. What is let through is authenticated again, and
// authorised, by the CallGate: one decision by one policy.
//
// What it cannot do: such a refusal carries no ErrorInfo (gRPC passes on only
// a processor's code and message), and the server's log line names no
// address (the processor is not told it).
//
// Thread-safe. Only for TLS listeners (plain text on loopback has no
// processor; every caller there is the local principal).
#ifndef EVENHAND_SERVICES_AUTH_HEADER_GATE_H_
#define EVENHAND_SERVICES_AUTH_HEADER_GATE_H_

#include "grpcpp/security/auth_metadata_processor.h"
#include "services/auth/authorizer.h"

namespace evenhand::services::auth {

class HeaderGate : public grpc::AuthMetadataProcessor {
 public:
  // `*authorizer` must outlive the gate (and the server it serves).
  explicit HeaderGate(const Authorizer* authorizer) : authorizer_(authorizer) {}

  // Inline on gRPC's thread: a certificate costs a look at the connection's
  // properties, a token one verification.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const Authorizer* const authorizer_;
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_HEADER_GATE_H_

// Checks a security configuration (docs/SECURITY.md) when it is read, at
// start and at each reload, before any of it is used: what would blur who
// is who, or let one caller be another, is refused naming the setting.
// Knows the config's shape, the roles and the event types; knows nothing of
// callers or calls (services/auth/authorizer.h decides those). Pure;
// thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_SECURITY_CONFIG_CHECK_H_
#define EVENHAND_SERVICES_AUTH_SECURITY_CONFIG_CHECK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "evenhand/v1/config.pb.h"

namespace evenhand::services::auth {

// Every publisher's role: local mode's, never a network principal's.
inline constexpr char kAnyPublisher[] = "publisher:*";
// The source of the server's own records (services/auth/call_gate.cc).
inline constexpr char kServerSource[] = "evenhandd";
// What gRPC names every subject alternative name that is not a DNS name,
// IP address, e-mail address or URI (an otherName, a directoryName, a
// registeredID): one placeholder for all of them, so never a name.
inline constexpr char kOtherSanTypes[] = "other types of SAN";
inline constexpr uint32_t kMaxLeewaySeconds = 600;

// InvalidArgument naming the first setting that is wrong and why.
absl::Status CheckSecurityConfig(const v1::SecurityConfig& config);

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_SECURITY_CONFIG_CHECK_H_

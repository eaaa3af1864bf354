#include "clients/connection.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace evenhand::clients {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A host:port address gRPC would take as it is but dial elsewhere: a port
// over 65535 wraps (127.0.0.1:104651 reached port 39115, shown as typed),
// and none dials port 0 (outside probe). gRPC's own target forms
// (dns:///..., unix:..., ipv4:..., ipv6:...) are left to it.
absl::Status CheckAddress(const std::string& a) {
  const std::string what = absl::StrCat("--server (address, EVENHAND_SERVER) \"", a, "\"");
  if (a.empty()) return absl::InvalidArgumentError(what + " is empty: give host:port");
  if (absl::StrContains(a, "://")) return absl::OkStatus();
  for (const char* scheme : {"unix:", "unix-abstract:", "ipv4:", "ipv6:", "dns:", "vsock:"}) {
    if (absl::StartsWith(a, scheme)) return absl::OkStatus();
  }
  const size_t colon = a.rfind(':');
  const size_t bracket = a.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    return absl::InvalidArgumentError(
        what + " has no port: give host:port (e.g. 127.0.0.1:50051, [::1]:50051)");
  }
  const std::string host = a.substr(0, colon);
  const std::string port = a.substr(colon + 1);
  if (host.empty()) {
    return absl::InvalidArgumentError(what + " has no host: give host:port");
  }
  if (absl::StrContains(host, ':') && !(absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))) {
    return absl::InvalidArgumentError(what +
                                      ": an IPv6 address goes in brackets, e.g. [::1]:50051");
  }
  uint32_t number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char ch) { return absl::ascii_isdigit(ch); }) ||
      !absl::SimpleAtoi(port, &number) || number == 0 || number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", port, "\" is not a port number (1 to 65535)"));
  }
  return absl::OkStatus();
}

}  // namespace

Connection Connection::FromEnvironment() {
  Connection c;
  if (std::string s = Env("EVENHAND_SERVER"); !s.empty()) c.address = s;
  c.ca_file = Env("EVENHAND_CA");
  c.cert_file = Env("EVENHAND_CERT");
  c.key_file = Env("EVENHAND_KEY");
  c.token_file = Env("EVENHAND_TOKEN_FILE");
  return c;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const Connection& c) {
  if (absl::Status address = CheckAddress(c.address); !address.ok()) return address;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  if (c.keepalive > absl::ZeroDuration()) {
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(c.keepalive));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms);
    // However long the call has been quiet (a held-up server sends nothing).
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  if (c.max_reconnect_backoff > absl::ZeroDuration()) {
    const int ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(c.max_reconnect_backoff), INT32_MAX));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, std::max(ms, 100));
    // (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: in gRPC 1.51 that is how long
    // a connection attempt may take, 20 s, which a slow network needs.)
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::clamp(ms, 100, 1000));
  }
  if (!c.tls()) {
    if (!c.server_name.empty()) {
      return absl::InvalidArgumentError(
          "--server-name (server_name) is the name checked in the server's certificate, so it "
          "needs TLS: give the server's CA with --ca (ca_file, EVENHAND_CA)");
    }
    if (!c.token_file.empty()) {
      return absl::InvalidArgumentError(
          "--token-file (token_file): a token is sent only over TLS; give the server's CA with "
          "--ca (ca_file, EVENHAND_CA)");
    }
    if (!c.cert_file.empty() || !c.key_file.empty()) {
      return absl::InvalidArgumentError(
          "--cert/--key (cert_file/key_file) need TLS: give the server's CA with --ca (ca_file, "
          "EVENHAND_CA)");
    }
    return grpc::CreateCustomChannel(c.address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadFile(c.ca_file, "--ca (ca_file)");
  if (!ca.ok()) return ca.status();
  if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    // gRPC would fall back to the system's roots: the council's CA would no
    // longer be what is trusted.
    return absl::InvalidArgumentError(absl::StrCat(
        "--ca (ca_file): ", c.ca_file, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  ssl.pem_root_certs = *ca;
  if (c.cert_file.empty() != c.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--cert and --key (cert_file and key_file) go together (a certificate and its key)");
  }
  if (!c.cert_file.empty()) {
    auto cert = ReadFile(c.cert_file, "--cert (cert_file)");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(c.key_file, "--key (key_file)");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (!c.token_file.empty()) {
    auto token = ReadFile(c.token_file, "--token-file (token_file)");
    if (!token.ok()) return token.status();
    credentials = grpc::CompositeChannelCredentials(
        credentials, grpc::AccessTokenCredentials(std::string(absl::StripAsciiWhitespace(*token))));
  }
  if (!c.server_name.empty()) args.SetSslTargetNameOverride(c.server_name);
  return grpc::CreateCustomChannel(c.address, credentials, args);
}

}  // namespace evenhand::clients

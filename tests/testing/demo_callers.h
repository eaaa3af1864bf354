// Callers of a test server over TLS, with what scripts/make-certs wrote
// into `certs` (testing::MakeCerts): a connection as one of its
// certificates, a token signed by its identity provider's RSA key, and a
// channel whose flow-control window is small, so that a server streaming
// more than a few messages waits on the client's reading (a client that
// stops reading, for tests of what such a client holds).
#ifndef EVENHAND_TESTS_TESTING_DEMO_CALLERS_H_
#define EVENHAND_TESTS_TESTING_DEMO_CALLERS_H_

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/connection.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/jwt.h"

namespace evenhand::testing {

// make-certs' identity provider.
inline constexpr char kDemoIssuer[] = "https://login.demo.council";

// A connection to `address` as make-certs' `who` (its `who`.pem and
// `who`.key), or with no certificate if `who` is empty.
inline clients::Connection DemoConnection(const std::string& address, const std::string& certs,
                                          const std::string& who) {
  clients::Connection c;
  c.address = address;
  c.ca_file = certs + "/ca.pem";
  if (!who.empty()) {
    c.cert_file = absl::StrCat(certs, "/", who, ".pem");
    c.key_file = absl::StrCat(certs, "/", who, ".key");
  }
  return c;
}

// A token of make-certs' identity provider (RS256, its "idp-rsa" key) for
// `subject`, a member of `group`, valid from now for `valid`.
inline std::string DemoToken(const std::string& certs, const std::string& subject,
                             const std::string& group, absl::Duration valid) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  return SignJwt(certs + "/idp-rsa.key", "RS256", "idp-rsa",
                 absl::StrCat(R"({"iss":")", kDemoIssuer, R"(","aud":"evenhand","sub":")", subject,
                              R"(","groups":[")", group, R"("],"iat":)", now, R"(,"nbf":)", now - 5,
                              R"(,"exp":)", now + absl::ToInt64Seconds(valid), "}"));
}

// A channel to `address` as make-certs' `who` whose window is 16 KiB and
// does not grow.
inline std::shared_ptr<grpc::Channel> SmallWindowChannel(const std::string& address,
                                                         const std::string& certs,
                                                         const std::string& who) {
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read(certs + "/ca.pem");
  ssl.pem_cert_chain = read(absl::StrCat(certs, "/", who, ".pem"));
  ssl.pem_private_key = read(absl::StrCat(certs, "/", who, ".key"));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_DEMO_CALLERS_H_

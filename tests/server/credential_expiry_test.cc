// A credential's end is the end of what it reads, on a real server over TLS
// with make-certs' CA: a client certificate that expires while its
// connection is open (the handshake checked it when the connection began;
// a TLS 1.3 session resumed later presents none) is refused on the next
// call, and the subscription it opened ends at its notAfter with
// UNAUTHENTICATED (CREDENTIAL_EXPIRED). An outside probe read on for as long
// as a resumed TLS session lived; the check is per call, so a long-lived
// connection (tested here) and a resumed session are refused alike. Bearer
// tokens' streams are in config_reload_test.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "clients/connection.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/auth/client_certificate.h"
#include "tests/testing/child_server.h"
#include "tests/testing/demo_callers.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/short_lived_cert.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::TempDir;

TEST(CredentialExpiryTest, ACertificateThatExpiresOnAnOpenConnectionReadsNoFurther) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  ChildServer server(dir, 0, {absl::StrCat("--config=", certs, "/evenhandd.tls.json")});
  server.Start();
  // The auditor's name, valid for 20 seconds from now (to the second).
  const absl::Duration valid = absl::Seconds(20);
  const absl::Time issued = absl::Now();
  ASSERT_TRUE(testing::IssueShortLivedCert(certs, "auditor.demo.council", valid, "auditor-short"));
  auto channel = clients::Dial(testing::DemoConnection(server.address(), certs, "auditor-short"));
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::EventLog::NewStub(*channel);

  // While it is valid: served, and a subscription opens.
  {
    grpc::ClientContext context;
    v1::GetStatusResponse status;
    ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  }
  grpc::ClientContext subscribed;
  subscribed.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::SubscribeRequest from_end;
  from_end.set_from_end(true);
  auto subscription = stub->Subscribe(&subscribed, from_end);
  v1::SubscribeResponse response;
  ASSERT_TRUE(subscription->Read(&response)) << subscription->Finish().error_message();
  ASSERT_TRUE(response.has_caught_up()) << response.DebugString();
  if (absl::Now() > issued + valid - absl::Seconds(2)) {
    GTEST_SKIP() << "the machine was too slow to open the call while the certificate was valid";
  }
  // The server reads the same notAfter from the certificate's PEM.
  const absl::Time not_after =
      services::auth::ClientCertificateFromPem(testing::ReadFile(certs + "/auditor-short.pem"))
          .not_after;
  EXPECT_GE(not_after, issued + valid - absl::Seconds(1));
  EXPECT_LE(not_after, issued + valid + absl::Seconds(1));
  EXPECT_EQ(services::auth::ClientCertificateFromPem("not a certificate").not_after,
            absl::InfinitePast());

  // At its notAfter the subscription, idle at the end of the log, ends.
  while (subscription->Read(&response)) {
  }
  const grpc::Status ended = subscription->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_TRUE(absl::StrContains(ended.error_message(),
                                "the client certificate this evenhand.v1.EventLog/Subscribe "
                                "call of principal \"auditor\" was opened with expired at"))
      << ended.error_message();
  EXPECT_EQ(ReasonOf(FromGrpcStatus(ended)), "CREDENTIAL_EXPIRED");
  EXPECT_GE(absl::Now(), not_after) << "not before it expired";
  // (Ended by its credential, not by the call's deadline: the status says
  // so, with no wall-clock bound to assert on a busy machine.)

  // A call on the same connection, which the handshake let in while it was
  // valid, is refused now.
  grpc::ClientContext after;
  v1::GetStatusResponse status;
  const grpc::Status refused = stub->GetStatus(&after, v1::GetStatusRequest(), &status);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "the client certificate expired at"))
      << refused.error_message();
}

}  // namespace
}  // namespace evenhand

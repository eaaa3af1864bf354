// CallGate (services/auth/call_gate.h): refusals on the record, with a real
// store in a temporary folder and a clock the test moves. Refusals made to
// happen over real TLS, tokens and certificates: tests/server/security_test.cc
// and security_limits_test.cc.
#include "services/auth/call_gate.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/auth/access_stream.h"
#include "storage/event_store.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::services::auth {
namespace {

class CallGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.data_dir = dir_.Sub("log");
    options.clock_is_the_systems = false;
    auto store = storage::EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto authorizer = Authorizer::Create(v1::SecurityConfig(), /*local_mode=*/true);
    ASSERT_TRUE(authorizer.ok()) << authorizer.status();
    authorizer_ = std::move(*authorizer);
    gate_ = std::make_unique<CallGate>(authorizer_.get(), store_.get(), [this] { return now_; });
  }

  // The access records of `principal`, once there are `at_least` (a
  // refusal on a call's headers is appended without waiting), or after 10 s.
  std::vector<v1::AccessRecorded> Records(const std::string& principal, size_t at_least,
                                          std::vector<absl::Time>* dated = nullptr) {
    std::vector<v1::AccessRecorded> out;
    for (int i = 0; i < 200; ++i) {
      out.clear();
      if (dated != nullptr) dated->clear();
      EXPECT_TRUE(store_
                      ->ReadStream(
                          AccessStreamOf(principal), std::nullopt, storage::Direction::kForwards, 0,
                          [&](const storage::EventPtr& e) {
                            out.push_back(e->event().payload().access_recorded());
                            if (dated != nullptr) {
                              dated->push_back(
                                  absl::FromUnixSeconds(e->event().occurred_at().seconds()));
                            }
                            return true;
                          })
                      .ok());
      if (out.size() >= at_least) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return out;
  }

  // What the committee's table counts as refusals (access_figures).
  static uint64_t Refusals(const std::vector<v1::AccessRecorded>& records) {
    uint64_t n = 0;
    for (const v1::AccessRecorded& a : records) {
      if (absl::StartsWith(a.outcome(), "denied")) n += 1 + a.refusals_not_recorded();
    }
    return n;
  }

  evenhand::testing::TempDir dir_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<CallGate> gate_;
};

// A flood of refusals that stops is on the record with its count a minute
// after its last refusal, not only once the next refusal of the method
// comes (found from outside: a flood that stopped was on the record as one
// refusal, its count in the log and the metric only).
TEST_F(CallGateTest, AFloodOfRefusalsThatStopsIsCountedOnTheRecord) {
  Identity labour;
  labour.principal = "labour-group";
  labour.authenticated_as = "certificate labour.demo.council";
  labour.roles = {"group:labour"};
  labour.listed = true;
  const std::string method = "evenhand.v1.Audit/Export";
  const absl::Status why = absl::PermissionDeniedError("labour-group may not call Export");
  const absl::Time start = now_;
  for (int i = 0; i < 25; ++i) {
    gate_->RefusedUnread(labour, method, why);
    now_ += absl::Seconds(1);
  }
  const absl::Time last_refused = now_ - absl::Seconds(1);
  ASSERT_EQ(Records("labour-group", 1).size(), 1u) << "the first, on the record at once";
  // Not a minute quiet yet.
  now_ = last_refused + absl::Seconds(59);
  EXPECT_EQ(gate_->RecordPassedOver(), 0u);
  now_ = last_refused + absl::Seconds(60);
  EXPECT_EQ(gate_->RecordPassedOver(), 1u);
  std::vector<absl::Time> dated;
  std::vector<v1::AccessRecorded> records = Records("labour-group", 2, &dated);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(Refusals(records), 25u) << "every refusal counted once";
  EXPECT_EQ(records[1].method(), method);
  EXPECT_EQ(records[1].outcome(), "denied: labour-group may not call Export");
  EXPECT_EQ(records[1].refusals_not_recorded(), 23u);
  EXPECT_EQ(records[1].roles_size(), 1);
  EXPECT_EQ(records[1].authenticated_as(), "certificate labour.demo.council");
  EXPECT_TRUE(absl::StrContains(records[1].request(), "recorded late: the last of 24"))
      << records[1].request();
  EXPECT_EQ(dated[0], start);
  EXPECT_EQ(dated[1], last_refused) << "dated when it was refused";
  // Counted once.
  now_ += absl::Minutes(5);
  EXPECT_EQ(gate_->RecordPassedOver(), 0u);
  gate_->RefusedUnread(labour, method, why);
  records = Records("labour-group", 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].refusals_not_recorded(), 0u);
  EXPECT_EQ(Refusals(records), 26u);
}

// A caller no principal names has one refusal a minute on the record,
// whatever it asks; the rest, per method, once it stops.
TEST_F(CallGateTest, ARolelessCallersRefusalsPassedOverAreCountedPerMethod) {
  Identity nobody;
  nobody.principal = "token:nobody";
  nobody.authenticated_as = "token nobody";
  const absl::Status why = absl::PermissionDeniedError("it has no role");
  for (const char* method : {"evenhand.v1.EventLog/GetStatus", "evenhand.v1.EventLog/Append",
                             "evenhand.v1.EventLog/Append", "evenhand.v1.Audit/Replay"}) {
    gate_->RefusedUnread(nobody, method, why);
  }
  ASSERT_EQ(Records("token:nobody", 1).size(), 1u);
  now_ += absl::Minutes(1);
  EXPECT_EQ(gate_->RecordPassedOver(), 2u);
  const std::vector<v1::AccessRecorded> records = Records("token:nobody", 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(Refusals(records), 4u);
  uint64_t appends = 0;
  for (const v1::AccessRecorded& a : records) {
    if (a.method() == "evenhand.v1.EventLog/Append") appends += 1 + a.refusals_not_recorded();
  }
  EXPECT_EQ(appends, 2u);
  // As the server stops: every one passed over, quiet or not.
  for (int i = 0; i < 3; ++i) gate_->RefusedUnread(nobody, "evenhand.v1.Audit/Replay", why);
  now_ += absl::Seconds(1);
  EXPECT_EQ(gate_->RecordPassedOver(), 0u);
  EXPECT_EQ(gate_->RecordPassedOver(/*all=*/true), 1u);
  EXPECT_EQ(Refusals(Records("token:nobody", 4)), 7u);
}

}  // namespace
}  // namespace evenhand::services::auth

// FairnessServiceTest: the real server with domain validation on, the
// demo council appended over gRPC, reports and /metrics read back. Shared
// by the Fairness service's tests (fairness_service_test.cc) and those of
// its projection's checkpoint (fairness_checkpoint_test.cc).
#ifndef EVENHAND_TESTS_SERVICES_FAIRNESS_SERVICE_FIXTURE_H_
#define EVENHAND_TESTS_SERVICES_FAIRNESS_SERVICE_FIXTURE_H_

#include <httplib.h>

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "clients/event_log_client.h"
#include "demo/demo_council.h"
#include "gtest/gtest.h"
#include "tests/testing/server_fixture.h"

namespace evenhand {

class FairnessServiceTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    domain_validation_ = true;
  }

  // Appends the demo council through the EventLog service, one append per
  // case step, as the council's systems would.
  void AppendDemoCouncil() {
    for (auto& append : demo::DemoCouncil(absl::Now())) {
      v1::AppendRequest r;
      r.set_stream_id(append.stream_id);
      for (auto& e : append.events) *r.add_events() = std::move(e);
      auto response = client_->Append(r);
      ASSERT_TRUE(response.ok()) << append.stream_id << ": " << response.status();
    }
  }

  v1::AppendRequest Append(const std::string& stream, absl::Time at, v1::Payload payload) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    *r.add_events() = clients::NewEvent(std::move(payload), "test", at);
    return r;
  }

  v1::FairnessReport Report(v1::ReportRequest request = {}) {
    auto report = fairness_->GetReport(request);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : v1::FairnessReport();
  }

  // A gauge of the server's /metrics (config.metrics.listen must be set).
  double Gauge(const std::string& name) {
    httplib::Client http(absl::StrCat("http://", server_->metrics_address()));
    auto got = http.Get("/metrics");
    EXPECT_TRUE(got) << "no /metrics";
    if (!got) return -1.0;
    for (absl::string_view line : absl::StrSplit(got->body, '\n')) {
      if (absl::StartsWith(line, absl::StrCat(name, " "))) {
        return std::stod(std::string(line.substr(name.size() + 1)));
      }
    }
    ADD_FAILURE() << name << " is not in /metrics";
    return -1.0;
  }
  // Waits until the gauge reads `value`, for a minute at most (the server's
  // background work is slow on a busy machine or under a sanitizer); the
  // caller asserts on it after.
  void AwaitGauge(const std::string& name, double value) {
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (Gauge(name) != value && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  }

  // Holds the next start while it reads the findings index back, until
  // Release(); when the test ends, lets it go and stops the server. `more`
  // adds to the server's options.
  class HeldFindingsLoad {
   public:
    explicit HeldFindingsLoad(FairnessServiceTest* test,
                              std::function<void(server::ServerOptions&)> more = nullptr)
        : test_(test) {
      test_->customize_ = [this, more = std::move(more)](server::ServerOptions& o) {
        if (more) more(o);
        o.TEST_before_findings_load = [this] {
          if (!hold_) return;
          if (!held_.HasBeenNotified()) held_.Notify();
          release_.WaitForNotification();
        };
      };
    }
    ~HeldFindingsLoad() {
      Release();
      test_->StopServer();
      test_->customize_ = nullptr;
    }
    // Whether the start got there (within 30 s).
    bool AwaitHeld() { return held_.WaitForNotificationWithTimeout(absl::Seconds(30)); }
    void Release() {
      hold_ = false;
      if (!release_.HasBeenNotified()) release_.Notify();
    }

   private:
    FairnessServiceTest* test_;
    absl::Notification release_, held_;
    std::atomic<bool> hold_{true};
  };

  static std::set<std::string> RuleIds(const v1::FairnessReport& r) {
    std::set<std::string> ids;
    for (const auto& f : r.findings()) ids.insert(f.rule_id());
    return ids;
  }
};

}  // namespace evenhand

#endif  // EVENHAND_TESTS_SERVICES_FAIRNESS_SERVICE_FIXTURE_H_

// ReportBudget: what one report may cost before it is given up.
//
// A report over a long history can hold millions of findings and
// obligations: at 10M events the whole log's held 1.1 GB before its
// evidence was read, took half a minute and 6 GB under the projection's
// read lock (the fold and every report at the log's end waited), and was
// then refused as larger than a reply may be. The report's builder spends
// this budget as it adds each finding, obligation and cited summary (their
// serialised bytes) and asks it every so often whether the caller still
// waits; once either says no, the build stops and its report is incomplete:
// the caller must discard it and say why (status()).
//
// Knows nothing of gRPC: the caller says what "still waits" means.
// Not thread-safe: one report's builder uses it.
#ifndef EVENHAND_PROJECTIONS_REPORT_BUDGET_H_
#define EVENHAND_PROJECTIONS_REPORT_BUDGET_H_

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/status/status.h"

namespace evenhand::projections {

class ReportBudget {
 public:
  // How many steps (a finding, obligation or summary added: one each; a
  // case read: kCaseRead more) go between two questions to `abandoned` (the
  // first step asks too). A step takes about a microsecond, a case read
  // back from disk more.
  static constexpr uint32_t kPollEvery = 256;
  static constexpr uint32_t kCaseRead = 16;

  // `max_bytes`: the most the report's findings, obligations and cited
  // summaries may hold, serialised (UINT64_MAX: no bound). `abandoned`, if
  // given, is asked every `poll_every` steps: a non-OK status (the call
  // cancelled, its deadline passed) gives the report up.
  explicit ReportBudget(uint64_t max_bytes = UINT64_MAX,
                        std::function<absl::Status()> abandoned = nullptr,
                        uint32_t poll_every = kPollEvery)
      : max_bytes_(max_bytes),
        abandoned_(std::move(abandoned)),
        poll_every_(poll_every == 0 ? 1 : poll_every) {}

  ReportBudget(const ReportBudget&) = delete;
  ReportBudget& operator=(const ReportBudget&) = delete;

  // Counts `bytes` more, one step. False once the report is given up
  // (nothing is counted then: what a report adds after that may not be in
  // it, and spent() is a lower bound of what it holds).
  bool Spend(uint64_t bytes) {
    if (given_up_) return false;
    spent_ += bytes;
    if (spent_ > max_bytes_) {
      over_bytes_ = true;
      given_up_ = true;
    }
    return KeepGoing();
  }
  // Forgets what was spent (a build that failed, started again another
  // way). Only before the report is given up.
  void ForgetSpent() {
    if (!given_up_) spent_ = 0;
  }
  // `steps` of work that add nothing. False once given up.
  bool KeepGoing(uint32_t steps = 1) {
    if (given_up_ || abandoned_ == nullptr) return !given_up_;
    const uint64_t before = steps_;
    steps_ += steps;
    if (before == 0 || before / poll_every_ != steps_ / poll_every_) Poll();
    return !given_up_;
  }

  bool given_up() const { return given_up_; }
  // Given up for its size first: spent() is over max_bytes().
  bool over_bytes() const { return over_bytes_; }
  uint64_t spent() const { return spent_; }
  uint64_t max_bytes() const { return max_bytes_; }
  // Why it was given up if not for its size: what `abandoned` said (OK if
  // it was not abandoned).
  const absl::Status& abandoned_status() const { return abandoned_status_; }

 private:
  void Poll();

  const uint64_t max_bytes_;
  const std::function<absl::Status()> abandoned_;
  const uint32_t poll_every_;
  uint64_t spent_ = 0;
  uint64_t steps_ = 0;
  bool given_up_ = false;
  bool over_bytes_ = false;
  absl::Status abandoned_status_;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_REPORT_BUDGET_H_

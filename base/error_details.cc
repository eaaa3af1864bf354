#include "base/error_details.h"

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"

namespace evenhand {
namespace {

template <typename Message>
std::optional<Message> Get(const absl::Status& status, const char* url) {
  auto payload = status.GetPayload(url);
  if (!payload.has_value()) return std::nullopt;
  Message m;
  if (!m.ParseFromString(std::string(*payload))) return std::nullopt;
  return m;
}

void Put(absl::Status& status, const char* url, const google::protobuf::Message& m) {
  status.SetPayload(url, absl::Cord(m.SerializeAsString()));
}

// How long to wait by default before retrying after a code that says
// "later": the server is restarting or catching up (seconds), or a limit or
// the disk needs someone to act (longer).
std::optional<absl::Duration> DefaultRetryDelay(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
      return absl::Seconds(1);
    case absl::StatusCode::kAborted:
      return absl::Milliseconds(100);
    case absl::StatusCode::kResourceExhausted:
      return absl::Seconds(5);
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           std::vector<std::pair<std::string, std::string>> metadata) {
  if (status.ok()) return status;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  for (auto& [key, value] : metadata) (*info.mutable_metadata())[key] = std::move(value);
  Put(status, kErrorInfoUrl, info);
  return status;
}

absl::Status InvalidFieldError(absl::string_view field, absl::string_view problem,
                               absl::string_view reason) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
  google::rpc::BadRequest bad;
  auto* v = bad.add_field_violations();
  v->set_field(std::string(field));
  v->set_description(std::string(problem));
  Put(status, kBadRequestUrl, bad);
  return WithErrorInfo(std::move(status), reason, {{"field", std::string(field)}});
}

absl::Status WithPreconditionFailure(absl::Status status, absl::string_view type,
                                     absl::string_view subject, absl::string_view description) {
  if (status.ok()) return status;
  google::rpc::PreconditionFailure failure =
      Get<google::rpc::PreconditionFailure>(status, kPreconditionFailureUrl)
          .value_or(google::rpc::PreconditionFailure());
  auto* v = failure.add_violations();
  v->set_type(std::string(type));
  v->set_subject(std::string(subject));
  v->set_description(std::string(description));
  Put(status, kPreconditionFailureUrl, failure);
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  google::rpc::RetryInfo retry;
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  retry.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  Put(status, kRetryInfoUrl, retry);
  return status;
}

// An internal payload: never leaves the server (not a google.rpc type).
constexpr char kNoRetryUrl[] = "evenhand.error.no_retry";

absl::Status WithoutRetry(absl::Status status) {
  if (!status.ok()) status.SetPayload(kNoRetryUrl, absl::Cord("1"));
  return status;
}

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status) {
  return Get<google::rpc::ErrorInfo>(status, kErrorInfoUrl);
}
std::optional<google::rpc::BadRequest> GetBadRequest(const absl::Status& status) {
  return Get<google::rpc::BadRequest>(status, kBadRequestUrl);
}
std::optional<google::rpc::PreconditionFailure> GetPreconditionFailure(const absl::Status& status) {
  return Get<google::rpc::PreconditionFailure>(status, kPreconditionFailureUrl);
}
std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status) {
  return Get<google::rpc::RetryInfo>(status, kRetryInfoUrl);
}

std::string ReasonOf(const absl::Status& status) {
  if (status.ok()) return "";
  if (auto info = GetErrorInfo(status); info.has_value() && !info->reason().empty()) {
    return info->reason();
  }
  return absl::StatusCodeToString(status.code());
}

absl::Status WithDefaultDetails(absl::Status status) {
  if (status.ok()) return status;
  if (!GetErrorInfo(status).has_value()) {
    const std::string reason = absl::StatusCodeToString(status.code());
    status = WithErrorInfo(std::move(status), reason);
  }
  if (!GetRetryInfo(status).has_value() && !status.GetPayload(kNoRetryUrl).has_value()) {
    if (std::optional<absl::Duration> delay = DefaultRetryDelay(status.code())) {
      status = WithRetryDelay(std::move(status), *delay);
    }
  }
  return status;
}

}  // namespace evenhand

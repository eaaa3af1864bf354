#include "services/evidence_envelopes.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace evenhand::services {

absl::Status EvidenceEnvelopes::Read(const std::vector<uint64_t>& positions,
                                     const reporting::ReadEvents& read,
                                     const std::function<void(const v1::RecordedEvent&)>& visit) {
  // More than a generation holds: read through, keeping nothing.
  if (positions.size() > half_) return read(positions, visit);
  std::vector<Envelope> found(positions.size());
  std::vector<uint64_t> missing;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < positions.size(); ++i) {
      found[i] = Find(positions[i]);
      if (found[i] == nullptr) missing.push_back(positions[i]);
    }
  }
  for (size_t i = 0; i < positions.size(); ++i) {
    if (found[i] != nullptr) EH_RETURN_IF_ERROR(check_(positions[i]));
  }
  if (!missing.empty()) {
    std::vector<Envelope> read_now;
    read_now.reserve(missing.size());
    absl::Status s = read(missing, [&](const v1::RecordedEvent& event) {
      auto envelope = std::make_shared<v1::RecordedEvent>(event);
      envelope->mutable_event()->clear_payload();
      read_now.push_back(std::move(envelope));
    });
    if (!s.ok()) return s;
    if (read_now.size() != missing.size()) {
      return absl::InternalError(absl::StrCat("the report cites ", missing.size(),
                                              " events not read before and only ",
                                              read_now.size(), " were read"));
    }
    absl::MutexLock lock(&mu_);
    size_t next = 0;
    for (size_t i = 0; i < positions.size(); ++i) {
      if (found[i] != nullptr) continue;
      found[i] = read_now[next++];
      Keep(positions[i], found[i]);
    }
  }
  for (const Envelope& e : found) visit(*e);
  return absl::OkStatus();
}

size_t EvidenceEnvelopes::size() const {
  absl::MutexLock lock(&mu_);
  return current_.size() + previous_.size();
}

EvidenceEnvelopes::Envelope EvidenceEnvelopes::Find(uint64_t position) {
  if (auto it = current_.find(position); it != current_.end()) return it->second;
  auto it = previous_.find(position);
  if (it == previous_.end()) return nullptr;
  Envelope e = std::move(it->second);
  previous_.erase(it);
  Keep(position, e);
  return e;
}

void EvidenceEnvelopes::Keep(uint64_t position, Envelope envelope) {
  if (current_.size() >= half_) {
    previous_ = std::move(current_);
    current_.clear();
  }
  current_.insert_or_assign(position, std::move(envelope));
}

}  // namespace evenhand::services

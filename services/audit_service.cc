#include "services/audit_service.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/nearest.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "services/auth/withholding.h"
#include "services/internal/read_filter.h"

namespace evenhand::services {
namespace {

// The kinds of stream a filter's case may be ("<kind>-<id>").
constexpr const char* kCaseKinds[] = {"briefing-", "query-",   "complaint-", "meeting-",
                                      "member-",   "officer-", "group-",     "election-"};

// A replay's message holds at most this many events and about kChunkBytes
// of them, or one larger event alone (maxEventBytes is at most 3 MiB), so a
// message stays within the 4 MiB a gRPC client accepts by default.
constexpr int kChunkEvents = 256;
constexpr size_t kChunkBytes = 1 << 20;
constexpr char kReplay[] = "evenhand.v1.Audit/Replay";
constexpr char kExport[] = "evenhand.v1.Audit/Export";

// Whether the payload names, in a field whose name ends with `suffix`
// ("group_id", "officer_id", "member_id"; lists too), at any depth, an id
// `found` returns true for. Field names carry the meaning in events.proto,
// so new event types are covered without a list to keep up to date.
bool AnyNamed(const google::protobuf::Message& m, const std::string& suffix,
              const std::function<bool(const std::string&)>& found) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          if (AnyNamed(r->GetRepeatedMessage(m, f, i), suffix, found)) return true;
        }
      } else if (AnyNamed(r->GetMessage(m, f), suffix, found)) {
        return true;
      }
      continue;
    }
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) continue;
    const bool single = absl::EndsWith(f->name(), suffix);
    const bool list = absl::EndsWith(f->name(), suffix + "s");
    if (!single && !list) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (found(r->GetRepeatedString(m, f, i))) return true;
      }
    } else if (found(r->GetString(m, f))) {
      return true;
    }
  }
  return false;
}

bool Mentions(const google::protobuf::Message& m, const std::string& suffix,
              const std::string& id) {
  return AnyNamed(m, suffix, [&id](const std::string& v) { return v == id; });
}

// The envelope conditions of a filter (not the ones about who is named).
bool MatchesEnvelope(const v1::ReplayFilter& f, const v1::Event& e) {
  if (!f.stream_id().empty() && e.stream_id() != f.stream_id()) return false;
  if (!f.actor().empty() && e.actor() != f.actor()) return false;
  if (f.has_occurred_from() && FromProtoTime(e.occurred_at()) < FromProtoTime(f.occurred_from())) {
    return false;
  }
  if (f.has_occurred_to() && FromProtoTime(e.occurred_at()) >= FromProtoTime(f.occurred_to())) {
    return false;
  }
  return true;
}

// Whether an event concerns a group, councillor or officer: it names them,
// or the case it belongs to was opened naming them (a decline does not name
// the group, but the request it declines does). A group is also concerned
// by what names a councillor who was in it then, or is in a case opened so
// (its councillors' written queries and complaints name them, not the
// group). Case openings are looked up once per stream.
class Concerns {
 public:
  // `memberships`: the group's councillors over time (AuditOptions).
  Concerns(const storage::EventStore* store, const v1::ReplayFilter& f,
           std::vector<projections::MembershipSpell> memberships)
      : store_(store), f_(f) {
    for (projections::MembershipSpell& s : memberships) {
      spells_[s.member_id].push_back({s.from, s.to});
    }
  }

  absl::StatusOr<bool> operator()(const v1::Event& e) {
    if (f_.group_id().empty() && f_.officer_id().empty() && f_.member_id().empty()) return true;
    if (Names(e.payload(), FromProtoTime(e.occurred_at()))) return true;
    auto inserted = opening_.try_emplace(e.stream_id(), false);
    auto it = inserted.first;
    if (inserted.second) {
      absl::Status s = store_->ReadStream(
          e.stream_id(), 0, storage::Direction::kForwards, 1, [&](const storage::EventPtr& first) {
            it->second =
                Names(first->event().payload(), FromProtoTime(first->event().occurred_at()));
            return false;
          });
      if (!s.ok()) return s;
    }
    return it->second;
  }

 private:
  bool Names(const v1::Payload& p, absl::Time at) const {
    return (f_.group_id().empty() || Mentions(p, "group_id", f_.group_id()) ||
            AnyNamed(p, "member_id", [&](const std::string& m) { return InGroup(m, at); })) &&
           (f_.officer_id().empty() || Mentions(p, "officer_id", f_.officer_id())) &&
           (f_.member_id().empty() || Mentions(p, "member_id", f_.member_id()));
  }
  bool InGroup(const std::string& member, absl::Time at) const {
    auto it = spells_.find(member);
    if (it == spells_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [at](const auto& s) { return s.first <= at && at < s.second; });
  }

  const storage::EventStore* store_;
  const v1::ReplayFilter& f_;
  absl::flat_hash_map<std::string, bool> opening_;
  // The group's councillors: when each was in it, [from, to).
  absl::flat_hash_map<std::string, std::vector<std::pair<absl::Time, absl::Time>>> spells_;
};

// A filter's positions the wrong way round select nothing, and say so.
// Positions and times the wrong way round, past the log's end (`last`) or
// not times at all: refused, rather than read as "nothing happened".
absl::Status CheckPositions(const v1::ReplayFilter& f, uint64_t last) {
  if (f.to_position() != 0 && f.from_position() > f.to_position()) {
    return InvalidFieldError("filter.from_position", "is after filter.to_position");
  }
  if (f.from_position() > last + 1) {
    return WithErrorInfo(
        absl::OutOfRangeError(absl::StrCat("filter.from_position: ", f.from_position(),
                                           " is beyond the end of the log (last position ", last,
                                           ")")),
        "BEYOND_END_OF_LOG",
        {{"field", "filter.from_position"}, {"last_position", absl::StrCat(last)}});
  }
  if (f.has_occurred_from()) {
    EH_RETURN_IF_ERROR(internal::CheckFilterTime("filter.occurred_from", f.occurred_from()));
  }
  if (f.has_occurred_to()) {
    EH_RETURN_IF_ERROR(internal::CheckFilterTime("filter.occurred_to", f.occurred_to()));
  }
  if (f.has_occurred_from() && f.has_occurred_to() &&
      FromProtoTime(f.occurred_from()) >= FromProtoTime(f.occurred_to())) {
    return InvalidFieldError("filter.occurred_from", "must be before filter.occurred_to");
  }
  return absl::OkStatus();
}

}  // namespace

AuditService::AuditService(const storage::EventStore* store, integrity::IntegrityLog* integrity,
                           AuditOptions options)
    : store_(store), integrity_(integrity), options_(options) {}

std::string AuditService::Describe(const v1::ReplayFilter& f) {
  std::vector<std::string> parts;
  if (!f.stream_id().empty()) parts.push_back(absl::StrCat("case ", f.stream_id()));
  if (!f.stream_prefixes().empty()) {
    parts.push_back(absl::StrCat("streams starting ", absl::StrJoin(f.stream_prefixes(), " or ")));
  }
  if (!f.event_types().empty()) {
    parts.push_back(absl::StrCat("events of type ", absl::StrJoin(f.event_types(), " or ")));
  }
  if (!f.actor().empty()) parts.push_back(absl::StrCat("by ", f.actor()));
  if (!f.group_id().empty()) parts.push_back(absl::StrCat("concerning group ", f.group_id()));
  if (!f.officer_id().empty()) parts.push_back(absl::StrCat("concerning officer ", f.officer_id()));
  if (!f.member_id().empty())
    parts.push_back(absl::StrCat("concerning councillor ", f.member_id()));
  if (f.has_occurred_from()) {
    parts.push_back(absl::StrCat("from ", absl::FormatTime(FromProtoTime(f.occurred_from()))));
  }
  if (f.has_occurred_to()) {
    parts.push_back(absl::StrCat("before ", absl::FormatTime(FromProtoTime(f.occurred_to()))));
  }
  if (f.from_position() != 0 || f.to_position() != 0) {
    parts.push_back(
        absl::StrCat("positions ", f.from_position() == 0 ? 1 : f.from_position(), "..",
                     f.to_position() == 0 ? std::string("end") : absl::StrCat(f.to_position())));
  }
  return parts.empty() ? std::string("the whole log") : absl::StrJoin(parts, "; ");
}

absl::Status AuditService::CheckNames(const v1::ReplayFilter& f) const {
  // Types first: a typo there is refused before the log is looked at.
  EH_RETURN_IF_ERROR(
      internal::ToReadFilter(f.stream_prefixes(), f.event_types(), "filter.").status());
  if (!f.stream_id().empty()) {
    // A case that does not exist would read as "nothing happened": refused,
    // with the case it was probably meant to be (its kind's prefix left
    // out, as in "C-17" for "complaint-C-17").
    EH_ASSIGN_OR_RETURN(bool exists, store_->StreamExists(f.stream_id()));
    if (!exists) {
      std::vector<std::string> near;
      for (const char* kind : kCaseKinds) {
        const std::string candidate = absl::StrCat(kind, f.stream_id());
        EH_ASSIGN_OR_RETURN(bool found, store_->StreamExists(candidate));
        if (found) near.push_back(candidate);
      }
      // Else the streams sorting beside it, the nearest of them if it is
      // near enough to be a typo ("query-Q-10444" for "query-Q-1044"); an
      // example only from the log itself (a made-up one was taken for a
      // real case: outside probe).
      std::string example;
      if (near.empty()) {
        EH_ASSIGN_OR_RETURN(std::vector<std::string> around,
                            store_->StreamsAround(f.stream_id(), 8));
        if (std::string nearest = Nearest(f.stream_id(), around); !nearest.empty()) {
          near.push_back(std::move(nearest));
        } else {
          for (const std::string& s : around) {
            if (absl::c_any_of(kCaseKinds,
                               [&s](const char* kind) { return absl::StartsWith(s, kind); })) {
              example = absl::StrCat(", e.g. ", s);
              break;
            }
          }
        }
      }
      return WithErrorInfo(
          absl::NotFoundError(absl::StrCat(
              "filter.stream_id: no case ", Quoted(f.stream_id()), " in the log",
              near.empty()
                  ? absl::StrCat("; case streams are named <kind>-<id>", example)
                  : absl::StrCat("; did you mean \"", absl::StrJoin(near, "\" or \""), "\"?"))),
          "UNKNOWN_CASE", {{"field", "filter.stream_id"}});
    }
  }
  // A group, officer or councillor the log never registered would match
  // nothing and read as "nothing concerned them". (A log written without
  // domain validation need not register them in streams of their own.)
  if (!options_.names_are_registered) return absl::OkStatus();
  if (!f.group_id().empty()) {
    EH_ASSIGN_OR_RETURN(bool known, store_->StreamExists(absl::StrCat("group-", f.group_id())));
    if (!known) {
      std::vector<std::string> groups;
      storage::ReadFilter recognised;
      recognised.stream_prefixes = {"group-"};
      recognised.event_types = {"PoliticalGroupRecognised"};
      EH_RETURN_IF_ERROR(store_->ReadAll(std::nullopt, storage::Direction::kForwards, 0,
                                         recognised, [&](const storage::EventPtr& e) {
                                           groups.push_back(e->event().stream_id().substr(6));
                                           return true;
                                         }));
      return InvalidFieldError("filter.group_id",
                               UnknownValueMessage("political group", f.group_id(), groups),
                               "UNKNOWN_VALUE");
    }
  }
  for (const auto& [id, kind, field] :
       {std::tuple<std::string, const char*, const char*>{f.officer_id(), "officer", "officer_id"},
        {f.member_id(), "member", "member_id"}}) {
    if (id.empty()) continue;
    EH_ASSIGN_OR_RETURN(bool known, store_->StreamExists(absl::StrCat(kind, "-", id)));
    if (!known) {
      return InvalidFieldError(
          absl::StrCat("filter.", field),
          absl::StrCat("no ", std::string(kind) == "member" ? "councillor" : "officer", " ",
                       Quoted(id), " is registered in the log (no stream of its own)"),
          "UNKNOWN_VALUE");
    }
  }
  return absl::OkStatus();
}

absl::Status AuditService::Select(const v1::ReplayFilter& f, absl::Time deadline,
                                  const std::function<bool(const storage::EventPtr&)>& visit,
                                  const std::function<bool(uint64_t)>& progress) const {
  const uint64_t last = store_->LastPosition();
  EH_RETURN_IF_ERROR(CheckPositions(f, last));
  const uint64_t to = f.to_position() == 0 ? last : std::min(f.to_position(), last);
  uint64_t scanned = 0;
  std::vector<projections::MembershipSpell> memberships;
  if (!f.group_id().empty() && options_.group_memberships) {
    EH_ASSIGN_OR_RETURN(memberships, options_.group_memberships(f.group_id(), to, deadline));
  }
  Concerns concerns(store_, f, std::move(memberships));
  absl::Status inner;
  auto each = [&](const storage::EventPtr& e) {
    if (e->position() > to) return false;
    if (e->position() - scanned >= 4096) {
      scanned = e->position();
      if (!progress(scanned)) return false;
    }
    if (!MatchesEnvelope(f, e->event())) return true;
    absl::StatusOr<bool> relevant = concerns(e->event());
    if (!relevant.ok()) {
      inner = relevant.status();
      return false;
    }
    if (!*relevant) return true;
    return visit(e);
  };
  EH_ASSIGN_OR_RETURN(storage::ReadFilter read_filter,
                      internal::ToReadFilter(f.stream_prefixes(), f.event_types(), "filter."));
  if (!f.stream_id().empty()) {
    // One case: its stream, not the whole log; its types and prefixes
    // must hold too (every condition set must, whichever reads).
    EH_RETURN_IF_ERROR(store_->ReadStream(f.stream_id(), std::nullopt,
                                          storage::Direction::kForwards, 0,
                                          [&](const storage::EventPtr& e) {
                                            if (e->position() < f.from_position()) return true;
                                            if (!read_filter.Matches(e->event())) return true;
                                            return each(e);
                                          }));
    return inner;
  }
  EH_RETURN_IF_ERROR(store_->ReadAll(std::max<uint64_t>(1, f.from_position()),
                                     storage::Direction::kForwards, 0, read_filter, each));
  return inner;
}

grpc::Status AuditService::Replay(grpc::ServerContext* context, const v1::ReplayRequest* request,
                                  grpc::ServerWriter<v1::ReplayResponse>* writer) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kReplay, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  // Names the log does not have, and positions the wrong way round, are
  // refused before the read is on the record as opened.
  if (absl::Status s = CheckNames(request->filter()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = CheckPositions(request->filter(), store_->LastPosition()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  v1::ReplayFilter scoped = request->filter();
  if (grant->values == auth::Grant::Values::kOwnGroupOnly && scoped.group_id().empty()) {
    // A group's reader replays what concerns its own group.
    if (grant->groups.size() != 1) {
      return ToGrpcStatus(
          InvalidFieldError("filter.group_id", "required (you read for more than one group)"));
    }
    scoped.set_group_id(grant->groups.front());
  }
  // Within the principal's open reads; ends, with a clear status, if a
  // reloaded configuration withdraws it.
  absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
      options_.gate->Hold(*context, kReplay, *request, *grant);
  if (!held.ok()) return ToGrpcStatus(held.status());
  const std::unique_ptr<auth::StandingGrants::Hold> standing = *std::move(held);
  if (absl::Status s = options_.gate->Record(*grant, kReplay, *request, 0, "opened"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::flat_hash_map<std::string, std::string> owners;  // stream -> its group, for withholding
  uint64_t returned = 0;
  const uint64_t tree_size = integrity_->size();
  v1::ReplayResponse chunk;
  const uint64_t last = request->filter().to_position() == 0
                            ? tree_size
                            : std::min(request->filter().to_position(), tree_size);
  chunk.set_last_position(last);
  bool client_gone = false;
  absl::Status inner;
  uint64_t unsent = 0;  // of `returned`, in `chunk`
  size_t chunk_bytes = 0;  // of the events in `chunk`
  // Whether it was written: not once the grant is withdrawn.
  auto flush = [&](uint64_t scanned) {
    if (standing->withdrawn()) return false;
    chunk.set_scanned_to_position(scanned);
    if (!writer->Write(chunk)) {
      client_gone = true;  // its events were not sent: still unsent
      return true;
    }
    chunk.clear_events();
    unsent = 0;
    chunk_bytes = 0;
    return true;
  };
  // Tiles read and the last chain hash, so a replay in position order reads
  // each tile once and hashes each event once.
  integrity::IntegrityLog::ReadCache tree_cache;
  v1::ReplayFilter filter = scoped;
  // Only what the tree covers: every replayed event has its hashes.
  filter.set_to_position(last);
  // From just past the end (checked above): nothing yet to replay.
  absl::Status status =
      filter.from_position() > last
          ? absl::OkStatus()
          : Select(
                filter, absl::FromChrono(context->deadline()),
                [&](const storage::EventPtr& e) {
                  if (context->IsCancelled()) {
                    client_gone = true;
                    return false;
                  }
                  if (standing->withdrawn()) return false;
                  // An auditor is never handed an event that no longer matches the
                  // leaf the tree recorded for it.
                  if (absl::Status damaged = integrity_->CheckLeaf(*e, &tree_cache);
                      !damaged.ok()) {
                    inner = damaged;
                    return false;
                  }
                  // A large event goes in a message of its own rather than on top of
                  // others: a message is about kChunkBytes at most, or one event (at
                  // most maxEventBytes, 3 MiB) and its hashes.
                  if (chunk.events_size() > 0 &&
                      chunk_bytes + e->ByteSizeLong() + 256 > kChunkBytes) {
                    flush(chunk.events(chunk.events_size() - 1).event().position());
                    if (client_gone) return false;
                  }
                  v1::AuditedEvent* out = chunk.add_events();
                  *out->mutable_event() = *e;
                  if (grant->values != auth::Grant::Values::kFull) {
                    auto [owner, inserted] = owners.try_emplace(e->event().stream_id());
                    if (inserted) {
                      absl::StatusOr<std::string> o =
                          options_.gate->authorizer().OwnerOf(e->event().stream_id());
                      if (!o.ok()) {
                        inner = o.status();
                        return false;
                      }
                      owner->second = *o;
                    }
                    auth::Withhold(*grant, owner->second, out->mutable_event()->mutable_event());
                  }
                  ++returned;
                  ++unsent;
                  // A reader values are withheld from gets no hashes
                  // (auth::Grant::hashes).
                  if (grant->hashes) {
                    absl::StatusOr<std::string> leaf =
                        integrity_->LeafHash(e->position(), &tree_cache);
                    absl::StatusOr<std::string> chain = integrity_->ChainHashAfter(*e, &tree_cache);
                    if (!leaf.ok() || !chain.ok()) {
                      inner = leaf.ok() ? chain.status() : leaf.status();
                      return false;
                    }
                    out->set_leaf_hash(*std::move(leaf));
                    out->set_chain_hash(*std::move(chain));
                  }
                  chunk_bytes += out->ByteSizeLong();
                  if (chunk.events_size() >= kChunkEvents || chunk_bytes >= kChunkBytes) {
                    flush(e->position());
                  }
                  return !client_gone;
                },
                [&](uint64_t scanned) {
                  // Progress for long scans that match little.
                  if (chunk.events_size() == 0 && !client_gone) flush(scanned);
                  return !client_gone && !standing->withdrawn();
                });
  if (!status.ok() || !inner.ok() || client_gone) {
    // Ended before it was done: on the record with what it was sent.
    options_.gate->RecordEnd(*grant, kReplay, *request, returned - unsent, "cancelled");
    if (!status.ok()) return ToGrpcStatus(status);
    if (!inner.ok()) return ToGrpcStatus(inner);
    return grpc::Status(grpc::StatusCode::CANCELLED, "");
  }
  if (!flush(last)) {
    // Withdrawn: nothing more is sent, not even what was read before it
    // was seen.
    options_.gate->RecordEnd(*grant, kReplay, *request, returned - unsent, "withdrawn");
    return ToGrpcStatus(standing->status());
  }
  options_.gate->RecordEnd(*grant, kReplay, *request, returned, "completed");
  return grpc::Status::OK;
}

grpc::Status AuditService::GetInclusionProof(grpc::ServerContext* context,
                                             const v1::GetInclusionProofRequest* request,
                                             v1::InclusionProof* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/GetInclusionProof", *request).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::InclusionProof> proof =
      integrity_->InclusionProof(request->position(), request->tree_size());
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  *response = *std::move(proof);
  return grpc::Status::OK;
}

grpc::Status AuditService::GetConsistencyProof(grpc::ServerContext* context,
                                               const v1::GetConsistencyProofRequest* request,
                                               v1::ConsistencyProof* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/GetConsistencyProof", *request)
              .status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::ConsistencyProof> proof =
      integrity_->ConsistencyProof(request->from_size(), request->to_size());
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  *response = *std::move(proof);
  return grpc::Status::OK;
}

grpc::Status AuditService::GetTreeHead(grpc::ServerContext* context,
                                       const v1::GetTreeHeadRequest* request,
                                       v1::TreeHead* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/GetTreeHead", *request).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  const uint64_t size = request->tree_size() == 0 ? integrity_->size() : request->tree_size();
  absl::StatusOr<std::string> root = integrity_->Root(size);
  if (!root.ok()) return ToGrpcStatus(root.status());
  response->set_tree_size(size);
  response->set_root_hash(*std::move(root));
  return grpc::Status::OK;
}

grpc::Status AuditService::GetCheckpoint(grpc::ServerContext* context,
                                         const v1::GetCheckpointRequest* request,
                                         v1::SignedCheckpoint* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/GetCheckpoint", *request).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Anyone who may read checkpoints may ask for the latest: one is signed
  // for the tree as it stands, but at most once a second, so that asking
  // after every append does not grow the journal with every append.
  absl::StatusOr<v1::SignedCheckpoint> c = request->tree_size() == 0
                                               ? integrity_->CheckpointNow(absl::Seconds(1))
                                               : integrity_->Checkpoint(request->tree_size());
  if (!c.ok()) return ToGrpcStatus(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status AuditService::ListCheckpoints(grpc::ServerContext* context,
                                           const v1::ListCheckpointsRequest* request,
                                           v1::ListCheckpointsResponse* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/ListCheckpoints", *request).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<std::vector<v1::SignedCheckpoint>> all = integrity_->Checkpoints();
  if (!all.ok()) return ToGrpcStatus(all.status());
  for (auto& c : *all) *response->add_checkpoints() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status AuditService::GetPublicKey(grpc::ServerContext* context,
                                        const v1::GetPublicKeyRequest* request,
                                        v1::PublicKey* response) {
  if (absl::Status s =
          options_.gate->Admit(*context, "evenhand.v1.Audit/GetPublicKey", *request).status();
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  *response = integrity_->public_key();
  return grpc::Status::OK;
}

grpc::Status AuditService::Export(grpc::ServerContext* context, const v1::ExportRequest* request,
                                  grpc::ServerWriter<v1::ExportChunk>* writer) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kExport, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  if (absl::Status s = CheckNames(request->filter()); !s.ok()) return ToGrpcStatus(s);
  const size_t max_events = std::min(options_.max_export_events, grant->max_export_events);
  // Within the principal's open reads; ends, with a clear status, if a
  // reloaded configuration withdraws it.
  absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
      options_.gate->Hold(*context, kExport, *request, *grant);
  if (!held.ok()) return ToGrpcStatus(held.status());
  const std::unique_ptr<auth::StandingGrants::Hold> standing = *std::move(held);
  std::vector<storage::EventPtr> events;
  bool too_many = false;
  bool client_gone = false;
  v1::ExportChunk progress;
  progress.set_last_position(
      request->filter().to_position() == 0
          ? store_->LastPosition()
          : std::min(request->filter().to_position(), store_->LastPosition()));
  absl::Status status = Select(
      request->filter(), absl::FromChrono(context->deadline()),
      [&](const storage::EventPtr& e) {
        if (events.size() >= max_events) {
          too_many = true;
          return false;
        }
        events.push_back(e);
        return !context->IsCancelled() && !client_gone && !standing->withdrawn();
      },
      [&](uint64_t scanned) {
        if (standing->withdrawn()) return false;
        progress.set_scanned_to_position(scanned);
        if (!writer->Write(progress)) client_gone = true;
        return !client_gone;
      });
  if (client_gone) return grpc::Status(grpc::StatusCode::CANCELLED, "");
  if (!status.ok()) return ToGrpcStatus(status);
  // Withdrawn while it selected: no bundle, and not on the record as read.
  if (absl::Status withdrawn = standing->status(); !withdrawn.ok()) return ToGrpcStatus(withdrawn);
  if (too_many) {
    const absl::Status refused = WithoutRetry(WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat(
            "the filter selects more than ", max_events,
            " events, the most one export holds (maxExportEvents, "
            "security.limits.maxExportEvents); narrow it (a case, a group, a period)")),
        "EXPORT_TOO_LARGE", {{"max_export_events", absl::StrCat(max_events)}}));
    // A per-principal limit's refusal, on the record as the others are.
    options_.gate->Refused(*grant, kExport, *request, refused);
    return ToGrpcStatus(refused);
  }
  absl::StatusOr<std::string> bundle =
      integrity_->ExportBundle(events, request->description(), Describe(request->filter()));
  if (!bundle.ok()) return ToGrpcStatus(bundle.status());
  // Withdrawn while the bundle was made: not on the record as read, not sent.
  if (absl::Status withdrawn = standing->status(); !withdrawn.ok()) return ToGrpcStatus(withdrawn);
  if (absl::Status s = options_.gate->Record(*grant, kExport, *request, events.size(), "allowed");
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  constexpr size_t kChunk = 1 << 20;
  v1::ExportChunk chunk;
  chunk.set_scanned_to_position(progress.last_position());
  chunk.set_last_position(progress.last_position());
  chunk.set_bundle_bytes(bundle->size());
  // On the record as read whole, the bundle is sent whole: a withdrawal
  // stops an export while it selects, not half-way through its bundle.
  for (size_t at = 0; at < bundle->size(); at += kChunk) {
    chunk.set_data(bundle->substr(at, kChunk));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "");
  }
  return grpc::Status::OK;
}

}  // namespace evenhand::services

// evenhand verify: check an investigation bundle offline, or with --server
// replay the live log and recompute every leaf, chain link and root (and
// that it extends a checkpoint saved earlier).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/audit_client.h"
#include "clients/cli/common.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/stream_map.h"

namespace evenhand::cli {
namespace {

struct VerifyFlags {
  std::string bundle;
  std::string pubkey;
  bool server = false;
  // --server=HOST:PORT given to verify itself: the log to check.
  std::string server_address;
  CLI::Option* server_option = nullptr;
  std::string checkpoint;
  std::string save_checkpoint;
  std::string progress = "auto";
};

int RunBundle(const VerifyFlags& flags) {
  absl::StatusOr<std::string> bytes =
      ReadLocalFile("verify", flags.bundle, kMaxDocumentBytes, "bundle");
  // Empty, or larger than a bundle can be: not one.
  if (absl::IsInvalidArgument(bytes.status())) {
    return VerificationFailed(std::string(bytes.status().message()));
  }
  if (!bytes.ok()) return FailIo(bytes.status());
  std::optional<v1::PublicKey> pinned;
  if (!flags.pubkey.empty()) {
    absl::StatusOr<v1::PublicKey> key = ReadPublicKey(flags.pubkey);
    if (!key.ok()) return FailLocal(key.status());
    pinned = *key;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<integrity::BundleReport> r =
      integrity::VerifyBundle(*bytes, pinned ? &*pinned : nullptr);
  if (!r.ok()) return VerificationFailed(std::string(r.status().message()));
  const double seconds = std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  std::printf("bundle %s: VERIFIED%s\n", flags.bundle.c_str(),
              r->events.empty() ? " (but it holds no event: it proves only that the log had "
                                  "this signed state, nothing about any case)"
                                : "");
  std::printf("  description  %s\n  selection    %s\n  created      %s\n",
              Printable(r->description).c_str(), Printable(r->selection).c_str(),
              absl::FormatTime(r->created_at, absl::UTCTimeZone()).c_str());
  std::printf("  checkpoint   tree size %llu, root %s\n               signed %s by key %s (%s)\n",
              static_cast<unsigned long long>(r->tree_size), Hex(r->root_hash).c_str(),
              absl::FormatTime(r->checkpoint_time, absl::UTCTimeZone()).c_str(),
              Printable(r->key_id).c_str(),
              r->key_pinned ? "the key you gave with --pubkey"
                            : "the key inside the bundle: NOT PINNED, compare it with the "
                              "council's published key or pass --pubkey");
  std::printf(
      "  events       %zu, each: canonical record, leaf hash, inclusion proof to the root; "
      "manifest signature\n",
      r->events.size());
  if (r->whole_log) {
    std::printf(
        "  whole log    the hash chain and the stream-head map recomputed from the events "
        "match the signed chain head and map root\n");
  }
  std::printf("  streams      %zu, each head proven in the checkpoint's stream-head map:\n",
              r->streams.size());
  for (const auto& st : r->streams) {
    if (st.complete()) {
      std::printf(
          "    %-40s complete as of checkpoint %llu (%s)\n", Printable(st.stream_id).c_str(),
          static_cast<unsigned long long>(r->tree_size),
          st.total == 1 ? "its only event" : absl::StrCat("all ", st.total, " events").c_str());
    } else {
      std::printf(
          "    %-40s partial: %llu of its %llu events as of checkpoint %llu (the "
          "selection took only some)\n",
          Printable(st.stream_id).c_str(), static_cast<unsigned long long>(st.held),
          static_cast<unsigned long long>(st.total), static_cast<unsigned long long>(r->tree_size));
    }
  }
  for (const auto& e : r->events) {
    std::printf("    %10llu  %-30s  %-30s  %s\n", static_cast<unsigned long long>(e.position()),
                Printable(e.event().stream_id()).c_str(), Printable(e.event().type()).c_str(),
                FormatTimestamp(e.event().occurred_at()).c_str());
  }
  std::printf("  verified in %.3f s (%.0f events/s)\n", seconds, r->events.size() / seconds);
  return kOk;
}

int RunServer(const Context& context, const VerifyFlags& flags) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  // Before the replay: a checkpoint that cannot be saved is told at once.
  if (absl::Status s = CheckWritablePath("--save-checkpoint", flags.save_checkpoint); !s.ok()) {
    return FailIo(s);
  }
  // The server itself found that what it holds is not what was written:
  // the verdict, not an outage.
  auto fail_server = [&context](const absl::Status& s) {
    if (absl::IsDataLoss(s)) {
      return VerificationFailed(absl::StrCat("the server reports damage: ", s.message()));
    }
    return FailServer(s, context);
  };
  clients::AuditClient client_object(v1::Audit::NewStub(*channel));
  clients::AuditClient* client = &client_object;
  v1::PublicKey key;
  bool pinned = false;
  if (!flags.pubkey.empty()) {
    absl::StatusOr<v1::PublicKey> k = ReadPublicKey(flags.pubkey);
    if (!k.ok()) return FailLocal(k.status());
    key = *k;
    pinned = true;
  } else {
    absl::StatusOr<v1::PublicKey> k = client->GetPublicKey();
    if (!k.ok()) return fail_server(k.status());
    key = *k;
  }
  std::optional<v1::SignedCheckpoint> old;
  if (!flags.checkpoint.empty()) {
    absl::StatusOr<std::string> text =
        ReadLocalFile("--checkpoint", flags.checkpoint, kMaxSmallFileBytes, "saved checkpoint");
    if (!text.ok()) return FailLocal(text.status());
    v1::SignedCheckpoint c;
    // One with none of what a checkpoint is ("{}", say) is not one: it is
    // no evidence against the log (outside probe: it was "another log").
    if (!google::protobuf::util::JsonStringToMessage(*text, &c).ok() || !c.has_checkpoint() ||
        c.signed_body().empty() || c.signature().empty() || c.checkpoint().log_id().empty()) {
      return FailUsage(absl::InvalidArgumentError(absl::StrCat(
          "--checkpoint: ", flags.checkpoint,
          " is not a saved checkpoint (the JSON `evenhand checkpoint` prints: checkpoint, "
          "signedBody, signature)")));
    }
    if (absl::Status s = integrity::VerifyCheckpoint(c, key); !s.ok()) {
      // Most often a checkpoint of another log, signed with its key: say so.
      if (absl::StatusOr<v1::SignedCheckpoint> theirs = client->GetCheckpoint(0);
          theirs.ok() && theirs->checkpoint().log_id() != c.checkpoint().log_id()) {
        return VerificationFailed(
            absl::StrCat("your saved checkpoint is of log ", Printable(c.checkpoint().log_id()),
                         ", and the server serves log ", Printable(theirs->checkpoint().log_id()),
                         ": another log (check --server), not a later state of yours"));
      }
      // Signed by another key than the one held: say which, rather than
      // blame the checkpoint (found from outside: a server whose key was
      // replaced made a genuine saved checkpoint look forged).
      if (!c.key_id().empty() && !key.key_id().empty() && c.key_id() != key.key_id()) {
        return VerificationFailed(absl::StrCat(
            "your saved checkpoint names signing key ", Printable(c.key_id()), ", and ",
            pinned ? "the public key you gave (--pubkey) is " : "the server now signs with ",
            Printable(key.key_id()),
            ": either the log's key was replaced since (a server started with "
            "--start_new_checkpoint_journal after its key was lost; what was signed before "
            "verifies only against the old public key), or this is not the log you saved it "
            "from. Compare with the public key the council published"));
      }
      return VerificationFailed(absl::StrCat("your saved checkpoint: ", s.message()));
    }
    old = c;
  }
  absl::StatusOr<v1::SignedCheckpoint> latest = client->GetCheckpoint(0);
  if (!latest.ok()) return fail_server(latest.status());
  if (absl::Status s = integrity::VerifyCheckpoint(*latest, key); !s.ok()) {
    return VerificationFailed(absl::StrCat("the server's latest checkpoint: ", s.message()));
  }
  const uint64_t n = latest->checkpoint().tree_size();
  if (old && old->checkpoint().log_id() != latest->checkpoint().log_id()) {
    return VerificationFailed(
        absl::StrCat("your saved checkpoint is of log ", Printable(old->checkpoint().log_id()),
                     ", and the server serves log ", Printable(latest->checkpoint().log_id()),
                     ": another log (check --server), not a later state of yours"));
  }
  if (old && old->checkpoint().tree_size() > n) {
    return VerificationFailed(absl::StrCat("the log has shrunk: your checkpoint has ",
                                           old->checkpoint().tree_size(),
                                           " events, the server's latest ", n));
  }
  // Recompute every leaf and chain link from the events themselves.
  v1::ReplayRequest request;
  request.mutable_filter()->set_to_position(n);
  integrity::CompactRange range;
  std::string chain = integrity::GenesisChainHash();
  std::map<std::string, integrity::StreamHeadValue> heads;  // by StreamKey
  std::string problem;
  std::optional<std::string> old_root_recomputed;
  if (old && old->checkpoint().tree_size() == 0) old_root_recomputed = range.Root();
  ProgressBar bar("verifying", flags.progress);
  const absl::Time start = absl::Now();
  absl::Status status = client->Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        const uint64_t p = e.event().position();
        // to_position 0 means "to the end": a checkpoint of no events reads
        // none of the events appended since.
        if (p > n) return false;
        if (p != range.size() + 1) {
          problem = absl::StrCat("position ", range.size() + 1, " is missing (next came ", p, ")");
          return false;
        }
        absl::StatusOr<std::string> canonical = integrity::CanonicalRecord(e.event());
        if (!canonical.ok()) {
          problem = absl::StrCat("event at position ", p, ": ", canonical.status().message());
          return false;
        }
        const std::string leaf = integrity::LeafHash(*canonical);
        if (leaf != e.leaf_hash()) {
          problem = absl::StrCat("event at position ", p,
                                 ": the server's leaf hash is not the hash of the event");
          return false;
        }
        chain = integrity::ChainHash(chain, *canonical);
        if (chain != e.chain_hash()) {
          problem = absl::StrCat("event at position ", p, ": the hash chain breaks here");
          return false;
        }
        heads[integrity::StreamKey(e.event().event().stream_id())] = {e.event().stream_revision(),
                                                                      p};
        range.Append(leaf, [](int, uint64_t, const std::string&) {});
        if (old && range.size() == old->checkpoint().tree_size())
          old_root_recomputed = range.Root();
        return true;
      },
      [&](uint64_t scanned, uint64_t last) { bar.Update(scanned, last, range.size()); });
  bar.Done();
  if (!status.ok()) return fail_server(status);
  if (!problem.empty()) return VerificationFailed(problem);
  const double seconds = std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  if (range.size() != n) {
    return VerificationFailed(
        absl::StrCat("the server replayed ", range.size(), " events but its checkpoint says ", n));
  }
  if (range.Root() != latest->checkpoint().root_hash()) {
    return VerificationFailed("the root recomputed from the events is not the checkpoint's root");
  }
  const bool v2 = !latest->checkpoint().stream_map_root().empty();
  if (v2 && chain != latest->checkpoint().chain_head()) {
    return VerificationFailed(
        "the hash chain recomputed from the events is not the checkpoint's signed chain head");
  }
  if (v2) {
    std::vector<integrity::StreamMapEntry> entries;
    entries.reserve(heads.size());
    for (const auto& [k, v] : heads) entries.push_back({k, v});
    if (integrity::StreamMapRoot(std::move(entries)) != latest->checkpoint().stream_map_root()) {
      return VerificationFailed(
          "the stream-head map recomputed from the events is not the checkpoint's signed map "
          "root: the server would prove cases complete or incomplete wrongly");
    }
  }
  // Every check before the verdict: nothing says VERIFIED of a log that
  // then fails one.
  if (old) {
    absl::StatusOr<v1::ConsistencyProof> proof =
        client->GetConsistencyProof(old->checkpoint().tree_size(), n);
    if (!proof.ok()) return fail_server(proof.status());
    std::vector<std::string> path(proof->hashes().begin(), proof->hashes().end());
    if (old->checkpoint().tree_size() > 0) {
      if (absl::Status s = integrity::VerifyConsistency(old->checkpoint().tree_size(), n,
                                                        old->checkpoint().root_hash(),
                                                        latest->checkpoint().root_hash(), path);
          !s.ok()) {
        return VerificationFailed(
            absl::StrCat("the log is not an extension of your saved checkpoint: its history up "
                         "to your checkpoint was rewritten, or it is a copy of the log that went "
                         "another way (",
                         s.message(), ")"));
      }
    }
    if (!old_root_recomputed || *old_root_recomputed != old->checkpoint().root_hash()) {
      return VerificationFailed(
          "the first events of the log no longer hash to your saved checkpoint's root: history "
          "was rewritten");
    }
  }
  std::printf("log %s: VERIFIED\n", Printable(latest->checkpoint().log_id()).c_str());
  std::printf(
      "  %llu events replayed; every leaf hash and chain link recomputed from the events "
      "(%.0f events/s)\n",
      static_cast<unsigned long long>(n), n / seconds);
  std::printf("  root matches the latest checkpoint: %s\n", DescribeCheckpoint(*latest).c_str());
  if (v2) {
    std::printf(
        "  chain head %s and stream-head map root %s (%zu streams) recomputed: both "
        "match it\n",
        Hex(latest->checkpoint().chain_head()).c_str(),
        Hex(latest->checkpoint().stream_map_root()).c_str(), heads.size());
  } else {
    std::printf("  (a version 1 checkpoint: it signs no chain head or stream-head map)\n");
  }
  std::printf("  key %s (%s)\n", Printable(key.key_id()).c_str(),
              pinned ? "pinned with --pubkey" : "as the server reports it: NOT PINNED");
  if (old) {
    std::printf(
        "  consistent with your saved checkpoint (%s): the consistency proof verifies "
        "and its root was recomputed from the events\n",
        DescribeCheckpoint(*old).c_str());
  }
  if (!flags.save_checkpoint.empty()) {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(*latest, &json, o);
    absl::Status w = WriteOutput(flags.save_checkpoint, json, "--save-checkpoint");
    if (!w.ok()) return FailIo(w);
  }
  return kOk;
}

int RunVerify(const Context& context, VerifyFlags flags) {
  flags.server = flags.server_option != nullptr && flags.server_option->count() > 0;
  if (flags.server && !flags.server_address.empty() &&
      flags.server_address.find(':') == std::string::npos) {
    return FailUsage(absl::InvalidArgumentError(absl::StrCat(
        "--server: \"", flags.server_address,
        "\" is not HOST:PORT; to check a bundle file give it without --server, to check a "
        "server give --server=HOST:PORT (or --server alone for the default)")));
  }
  if (flags.server) {
    if (!flags.bundle.empty()) {
      return FailUsage(absl::InvalidArgumentError(
          "give a bundle file or --server, not both: one check at a time"));
    }
    if (flags.server_address.empty()) return RunServer(context, flags);
    // The address given here is the log that is checked, never the default.
    Context here = context;
    here.connection.address = flags.server_address;
    std::fprintf(stderr, "verifying the log at %s\n", flags.server_address.c_str());
    return RunServer(here, flags);
  }
  if (flags.bundle.empty()) {
    return FailUsage(absl::InvalidArgumentError("give a bundle file, or --server"));
  }
  if (!flags.checkpoint.empty() || !flags.save_checkpoint.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--checkpoint and --save-checkpoint go with --server (a bundle carries its checkpoint)"));
  }
  return RunBundle(flags);
}

}  // namespace

void AddVerify(Registry& r) {
  auto flags = std::make_shared<VerifyFlags>();
  CLI::App* cmd =
      r.Add("verify", "check a bundle offline, or with --server the live log's whole history",
            [flags](const Context& c) { return RunVerify(c, *flags); });
  cmd->add_option("bundle", flags->bundle, "the bundle file to check offline");
  cmd->add_option("--pubkey", flags->pubkey, "the council's published public key (PEM) to pin");
  // `--server` alone checks the server the global --server (or
  // EVENHAND_SERVER) names; `--server=HOST:PORT` checks that one.
  flags->server_option =
      cmd->add_option("--server", flags->server_address,
                      "replay the live log and recompute its chain and root; --server=HOST:PORT "
                      "to name it")
          ->expected(0, 1);
  cmd->add_option("--checkpoint", flags->checkpoint,
                  "with --server: a checkpoint saved earlier; the log must extend it");
  cmd->add_option("--save-checkpoint", flags->save_checkpoint,
                  "with --server: save the verified checkpoint for next time");
  AddProgressOption(cmd, &flags->progress);
}

}  // namespace evenhand::cli

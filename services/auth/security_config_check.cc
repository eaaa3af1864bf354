#include "services/auth/security_config_check.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/nearest.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::services::auth {

absl::Status CheckSecurityConfig(const v1::SecurityConfig& config) {
  // Leeway forgives clocks a little apart, not expired tokens (outside
  // probe: 400,000,000 seconds was taken, and a token three years expired
  // with it).
  if (config.oidc().leeway_seconds() > kMaxLeewaySeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.oidc.leewaySeconds: ", config.oidc().leeway_seconds(), " is more than ",
        kMaxLeewaySeconds,
        " (10 minutes): it is the clock difference forgiven between the identity provider and "
        "this server, in seconds, and every token would live that much longer"));
  }
  // Roles are checked when the configuration is read, not when they are
  // first needed.
  auto check_roles = [](const google::protobuf::RepeatedPtrField<std::string>& roles,
                        const std::string& where) -> absl::Status {
    for (const std::string& r : roles) {
      // A principal publishes as the systems it names: "*" is local mode's
      // (every role on loopback), and the server's own source is its own
      // (outside probe: both were taken, so one certificate could append as
      // any system with a lane, or as evenhandd itself).
      if (r == kAnyPublisher && where != "security.local.roles") {
        return absl::InvalidArgumentError(
            absl::StrCat(where,
                         ": \"publisher:*\" would let one principal append as every system; list "
                         "publisher:<system> for each system it publishes as"));
      }
      if (r == absl::StrCat("publisher:", kServerSource)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": \"publisher:", kServerSource, "\": ", kServerSource,
            " is the server's own source (its records of reads); no caller appends as it"));
      }
      if (r == "committee" || r == "auditor" || r == "monitoring" || r == "admin" ||
          (absl::StartsWith(r, "publisher:") && r.size() > 10) ||
          (absl::StartsWith(r, "group:") && r.size() > 6)) {
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown role \"", r,
          "\"; use publisher:<system>, committee, auditor, group:<group id>, monitoring or "
          "admin"));
    }
    return absl::OkStatus();
  };
  // A principal's name is its access-record stream and its allowances;
  // a certificate name is one system.
  absl::flat_hash_map<std::string, std::string> names, certificates, subjects;
  for (int i = 0; i < config.principals_size(); ++i) {
    const v1::PrincipalConfig& p = config.principals(i);
    const std::string where = absl::StrCat("security.principals[", i, "]");
    if (p.name().empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".name: required"));
    if (!names.emplace(p.name(), where).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: ", Quoted(p.name()), " names ", names[p.name()],
                       " already; two principals of one name would share one access record and one "
                       "allowance"));
    }
    for (const std::string& c : p.certificate_names()) {
      if (absl::StripAsciiWhitespace(c).empty() || c == kOtherSanTypes) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".certificateNames: ", Quoted(c),
            " is not a name a certificate can be told apart by (",
            c != kOtherSanTypes
                ? "it would match certificates that name nothing"
                : "gRPC's stand-in for every subject alternative name that is not a DNS "
                  "name, IP address, e-mail address or URI",
            "); list a DNS name, IP address, e-mail address or URI of the certificate"));
      }
      auto [it, fresh] = certificates.emplace(c, p.name());
      if (!fresh && it->second != p.name()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".certificateNames: ", Quoted(c), " is listed by principal ",
                         Quoted(it->second), " already; a certificate must be one principal's"));
      }
    }
    // An empty value would match a token whose claim is empty (found from
    // outside: `"groups": ""` signed in as an auditor).
    for (const auto* values : {&p.token_subjects(), &p.token_groups()}) {
      for (const std::string& v : *values) {
        if (absl::StripAsciiWhitespace(v).empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              where,
              values == &p.token_subjects() ? ".tokenSubjects: " : ".tokenGroups: ", Quoted(v),
              " is not a value a token can be told apart by (it would match tokens "
              "whose claim is empty); list the identity provider's value"));
        }
      }
    }
    // The local principal's access record is its own (local mode's reads).
    if (const std::string local = config.local().name().empty() ? "local" : config.local().name();
        p.name() == local) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".name: ", Quoted(p.name()),
          " is the local principal's name (security.local.name): its reads would be recorded in "
          "one access stream with those made in local mode; choose another name"));
    }
    for (const std::string& subject : p.token_subjects()) {
      auto [it, fresh] = subjects.emplace(subject, p.name());
      if (!fresh && it->second != p.name()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".tokenSubjects: ", Quoted(subject), " is listed by principal ",
            Quoted(it->second),
            " already; a person must be one principal's (their reads are recorded under it): "
            "give one principal both's roles, or map the roles through tokenGroups"));
      }
    }
    if (absl::StartsWith(p.name(), "token:") || absl::StartsWith(p.name(), "certificate:")) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".name (", p.name(),
          "): \"token:\" and \"certificate:\" begin the names of callers no principal names"));
    }
    if (p.certificate_names().empty() && p.token_subjects().empty() && p.token_groups().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " (", p.name(),
          "): names no certificate, token subject or token group, so nobody could be it"));
    }
    EH_RETURN_IF_ERROR(check_roles(p.roles(), where + ".roles"));
  }
  EH_RETURN_IF_ERROR(check_roles(config.local().roles(), "security.local.roles"));
  // A lane lists what its system may append; nothing listed is a mistake
  // that would otherwise read as "anything" or as "nothing".
  absl::flat_hash_set<std::string> systems;
  for (int i = 0; i < config.publishers_size(); ++i) {
    const v1::PublisherLane& lane = config.publishers(i);
    const std::string where = absl::StrCat("security.publishers[", i, "]");
    if (lane.system().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".system: required"));
    }
    if (lane.system() == kServerSource || lane.system() == "*") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".system: ", Quoted(lane.system()),
          lane.system() == "*" ? " is not a system: a lane is one system's"
                               : " is the server's own source (its records of reads); no caller "
                                 "appends as it"));
    }
    if (!systems.insert(lane.system()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": publisher ", lane.system(), " has a lane already"));
    }
    if (lane.event_types().empty() || lane.stream_kinds().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " (", lane.system(), "): list the eventTypes and the streamKinds it may append ",
          "(\"*\" for any)"));
    }
    // A type no event has is a typo that would leave the lane short of
    // what it was meant to allow (outside probe: "NoSuchEvent" was taken).
    static const std::vector<std::string>* const kEventTypes = [] {
      auto* types = new std::vector<std::string>;
      const google::protobuf::Descriptor* payload = v1::Payload::descriptor();
      for (int f = 0; f < payload->field_count(); ++f) {
        if (payload->field(f)->message_type() != nullptr) {
          types->push_back(payload->field(f)->message_type()->name());
        }
      }
      return types;
    }();
    for (const std::string& type : lane.event_types()) {
      if (type == "AccessRecorded") {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".eventTypes (", lane.system(),
            "): AccessRecorded is the server's own record of reads; no publisher appends it"));
      }
      if (type == "*" ||
          std::find(kEventTypes->begin(), kEventTypes->end(), type) != kEventTypes->end()) {
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".eventTypes (", lane.system(),
                       "): ", UnknownValueMessage("event type", type, *kEventTypes)));
    }
  }
  return absl::OkStatus();
}

}  // namespace evenhand::services::auth

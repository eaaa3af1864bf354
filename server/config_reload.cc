#include "server/config_reload.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace evenhand::server {
namespace {

constexpr char kComponent[] = "evenhandd";

// The fields of `a` and `b` (messages of one type) whose values differ, by
// their JSON names, under `prefix`; `skip` is not compared.
void Differences(const google::protobuf::Message& a, const google::protobuf::Message& b,
                 const std::string& prefix, const std::string& skip,
                 std::vector<std::string>* out) {
  const google::protobuf::Descriptor* d = a.GetDescriptor();
  const google::protobuf::Reflection* r = a.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->name() == skip) continue;
    std::unique_ptr<google::protobuf::Message> only_a(a.New()), only_b(b.New());
    only_a->CopyFrom(a);
    only_b->CopyFrom(b);
    // Each keeps only `f`.
    for (int j = 0; j < d->field_count(); ++j) {
      if (j == i) continue;
      r->ClearField(only_a.get(), d->field(j));
      r->ClearField(only_b.get(), d->field(j));
    }
    std::string sa, sb;
    only_a->SerializeToString(&sa);
    only_b->SerializeToString(&sb);
    if (sa != sb) out->push_back(prefix + f->json_name());
  }
}

}  // namespace

void ReloadConfig(const std::string& path, const std::function<void(v1::ServerConfig*)>& overrides,
                  v1::ServerConfig* running, EvenHandServer* server) {
  if (path.empty()) {
    logging::Warning(kComponent,
                     "SIGHUP: evenhandd was started without --config, so there is no file to "
                     "read again; nothing changed");
    return;
  }
  absl::StatusOr<v1::ServerConfig> read = LoadConfigFile(path);
  if (!read.ok()) {
    logging::Error(kComponent, absl::StrCat("SIGHUP: ", read.status().message(),
                                            "; the configuration in use is kept"));
    return;
  }
  v1::ServerConfig fresh = *std::move(read);
  overrides(&fresh);
  // A file the server would not start with is not taken, even in part: the
  // next restart would fail on it. (Its security section is checked by the
  // authoriser below, which keeps the provider's keys when that section is
  // unchanged: a JWKS file caught half-written blocks no principal change.)
  if (absl::Status s = CheckConfig(WithDefaults(fresh), /*with_security=*/false); !s.ok()) {
    logging::Error(kComponent, absl::StrCat("SIGHUP: ", path, ": ", s.message(),
                                            "; a server would not start with it, so the "
                                            "configuration in use is kept"));
    return;
  }
  // Compared with defaults filled in: a default written out is no change.
  const v1::ServerConfig was = WithDefaults(*running);
  const v1::ServerConfig is = WithDefaults(fresh);
  std::vector<std::string> restart;
  Differences(was, is, "", "security", &restart);
  Differences(was.security(), is.security(), "security.", "principals", &restart);
  // Of the security section, what the authoriser takes is not a restart's.
  std::erase_if(restart, [](const std::string& field) {
    return field == "security.oidc" || field == "security.publishers" ||
           field == "security.limits" || field == "security.local";
  });
  // The TLS section in use stays until a restart (warned of above), for the
  // authoriser too (requireClientCertificate decides whether it takes
  // tokens).
  v1::SecurityConfig security = fresh.security();
  if (running->security().has_tls()) {
    *security.mutable_tls() = running->security().tls();
  } else {
    security.clear_tls();
  }
  absl::StatusOr<size_t> ended = server->ReloadSecurity(security);
  if (!ended.ok()) {
    logging::Error(kComponent, absl::StrCat("SIGHUP: ", path, ": ", ended.status().message(),
                                            "; the security configuration in use is kept"));
    return;
  }
  logging::Info(kComponent,
                absl::StrCat("SIGHUP: the security configuration was read again from ", path, ": ",
                             fresh.security().principals_size(), " principal(s), ",
                             fresh.security().publishers_size(), " publisher lane(s); ", *ended,
                             " open stream(s) ended, no longer granted as they were"));
  if (!restart.empty()) {
    logging::Warning(kComponent,
                     absl::StrCat("SIGHUP: ", path, " also changes ", absl::StrJoin(restart, ", "),
                                  ", which only a restart takes; until then the values in use "
                                  "stay"));
  }
  // What is in use now: the security read (with the TLS in use), the rest
  // as started.
  *running->mutable_security() = std::move(security);
}

}  // namespace evenhand::server

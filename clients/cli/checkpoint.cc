// evenhand checkpoint: the latest signed checkpoint, to keep for later
// verification.
#include <memory>
#include <string>

#include "clients/audit_client.h"
#include "clients/cli/common.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::cli {
namespace {

int Run(const Context& context, const std::string& output) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailUsage(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  absl::StatusOr<v1::SignedCheckpoint> c = client.GetCheckpoint(0);
  if (!c.ok()) return FailServer(c.status(), context);
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*c, &json, o);
  absl::Status w = WriteOutput(output, json);
  return w.ok() ? kOk : FailIo(w);
}

}  // namespace

void AddCheckpoint(Registry& r) {
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = r.Add(
      "checkpoint", "fetch the latest signed checkpoint (JSON) to keep for later verification",
      [output](const Context& c) { return Run(c, *output); });
  cmd->add_option("--output,-o", *output, "write to this file");
}

}  // namespace evenhand::cli

// evenhand pubkey: the public key (PEM) that signs the log's checkpoints.
#include <cstdio>
#include <memory>
#include <string>

#include "clients/audit_client.h"
#include "clients/cli/common.h"

namespace evenhand::cli {
namespace {

int RunPubkey(const Context& context, const std::string& output) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  absl::StatusOr<v1::PublicKey> k = client.GetPublicKey();
  if (!k.ok()) return FailServer(k.status(), context);
  absl::Status w = WriteOutput(output, k->pem());
  if (!w.ok()) return FailIo(w);
  std::fprintf(stderr, "evenhand: Ed25519 key id %s\n", Printable(k->key_id()).c_str());
  return kOk;
}

}  // namespace

void AddPubkey(Registry& r) {
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = r.Add("pubkey", "print the log's public key (PEM) that signs checkpoints",
                        [output](const Context& c) { return RunPubkey(c, *output); });
  cmd->add_option("--output,-o", *output, "write to this file")->check(OutputFileName());
}

}  // namespace evenhand::cli

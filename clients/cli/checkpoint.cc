// evenhand checkpoint: the latest signed checkpoint, to keep for later
// verification (JSON, the file `verify --checkpoint` reads), or shown to a
// person with its hashes in hex.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/audit_client.h"
#include "clients/cli/common.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::cli {
namespace {

struct CheckpointFlags {
  std::string output;
  std::string format = "json";
};

std::string AsTable(const v1::SignedCheckpoint& c) {
  const v1::Checkpoint& p = c.checkpoint();
  return absl::StrCat("log            ", p.log_id(), "\ntree size      ", p.tree_size(),
                      "\nroot           ", Hex(p.root_hash()), "\nchain head     ",
                      Hex(p.chain_head()), "\nstream map     ", Hex(p.stream_map_root()),
                      "\nsigned         ", FormatTimestamp(p.timestamp()), "\nkey            ",
                      c.key_id(), "\nsignature      ", Hex(c.signature()), "\n");
}

int RunCheckpoint(const Context& context, const CheckpointFlags& flags) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  absl::StatusOr<v1::SignedCheckpoint> c = client.GetCheckpoint(0);
  if (!c.ok()) return FailServer(c.status(), context);
  std::string text;
  if (flags.format == "table") {
    text = AsTable(*c);
  } else {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(*c, &text, o);
  }
  absl::Status w = WriteOutput(flags.output, text);
  if (!w.ok()) return FailIo(w);
  // What was saved, for the person who saved it (hashes in hex; the JSON
  // file holds them in base64, as protobuf's JSON mapping has bytes).
  if (!flags.output.empty() && flags.output != "-") {
    std::fprintf(stderr, "evenhand: checkpoint of %s\n", DescribeCheckpoint(*c).c_str());
  }
  return kOk;
}

}  // namespace

void AddCheckpoint(Registry& r) {
  auto flags = std::make_shared<CheckpointFlags>();
  CLI::App* cmd =
      r.Add("checkpoint",
            "fetch the latest signed checkpoint: JSON to keep for later verification, or a table",
            [flags](const Context& c) { return RunCheckpoint(c, *flags); });
  cmd->add_option("--output,-o", flags->output, "write to this file")->check(OutputFileName());
  AddFormatOption(cmd, &flags->format, {"json", "table"});
}

}  // namespace evenhand::cli

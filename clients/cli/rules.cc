// evenhand rules: the rules checked, each with its citation.
#include <cstdio>

#include "clients/cli/common.h"
#include "clients/fairness_client.h"

namespace evenhand::cli {
namespace {

int RunRules(const Context& context) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::ListRulesResponse> rules = client.ListRules();
  if (!rules.ok()) return FailServer(rules.status(), context);
  for (const auto& r : rules->rules()) {
    std::printf("%-26s %-7s %s\n  %s\n  %s\n\n", Printable(r.rule_id()).c_str(),
                v1::Severity_Name(r.severity()).c_str(), Printable(r.title()).c_str(),
                Printable(r.citation()).c_str(), Printable(r.description()).c_str());
  }
  return kOk;
}

}  // namespace

void AddRules(Registry& r) {
  r.Add("rules", "list the rules checked, with citations",
        [](const Context& c) { return RunRules(c); });
}

}  // namespace evenhand::cli

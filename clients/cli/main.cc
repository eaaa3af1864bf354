// evenhand: the command-line client.
//
//   evenhand [--server=HOST:PORT] [--ca=FILE [--cert=FILE --key=FILE | --token-file=FILE]]
//            <command> [flags]
//   evenhand <command> --help
//
// Each command lives in its own file of this folder and adds itself to the
// registry below. Events are printed in protobuf's JSON mapping, one per
// line, so the output of `read` can be fed to other tools (and back to
// `append`).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/nearest.h"
#include "clients/cli/common.h"

namespace evenhand::cli {
namespace {

// The first comma-separated list flag of the command in `argv` with an
// empty item ("--group=green," or "--rule=,a"), as given; "" if none. CLI11
// drops empty items, so "--group=green," ran as "--group=green" without a
// word (outside probe): refused instead.
std::string EmptyListItem(const CLI::App& app, int argc, char** argv) {
  const CLI::App* command = nullptr;
  int i = 1;
  for (; i < argc && command == nullptr; ++i) {
    if (argv[i][0] == '-') continue;
    try {
      command = app.get_subcommand(argv[i]);
    } catch (const CLI::OptionNotFound&) {
      return "";  // not a command: CLI11 says so
    }
  }
  if (command == nullptr) return "";
  std::vector<std::string> lists;
  for (const CLI::Option* o : command->get_options()) {
    if (o->get_delimiter() != ',') continue;
    for (const std::string& name : o->get_lnames()) lists.push_back("--" + name);
  }
  auto has_empty_item = [](absl::string_view value) {
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      if (item.empty()) return true;
    }
    return false;
  };
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    for (const std::string& flag : lists) {
      if (absl::StartsWith(arg, flag + "=") && has_empty_item(arg.substr(flag.size() + 1))) {
        return arg;
      }
      if (arg == flag && i + 1 < argc && absl::StrContains(argv[i + 1], ",") &&
          has_empty_item(argv[i + 1])) {
        return absl::StrCat(arg, " ", argv[i + 1]);
      }
    }
  }
  return "";
}

// For arguments CLI11 did not expect: the first "--flag" in `argv` that
// neither the command nor the connection takes (before the command, only
// the connection's), refused with the nearest it does take ("--form" for
// --from); "" if none is (an extra word, which CLI11's own message names).
std::string UnknownFlag(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> known;
  std::vector<std::string> with_value;  // "--server 1:2": "1:2" is no command
  auto add_flags = [&](const CLI::App& a) {
    for (const CLI::Option* o : a.get_options()) {
      for (const std::string& name : o->get_lnames()) {
        known.push_back("--" + name);
        if (o->get_items_expected_max() > 0) with_value.push_back("--" + name);
      }
    }
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
  };
  add_flags(app);
  const CLI::App* command = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-")) {
      if (command != nullptr) continue;
      try {
        command = app.get_subcommand(arg);
      } catch (const CLI::OptionNotFound&) {
        return "";  // not a command: named as such before parsing
      }
      add_flags(*command);
      continue;
    }
    if (!absl::StartsWith(arg, "--")) continue;
    const std::string flag = arg.substr(0, arg.find('='));
    if (std::find(known.begin(), known.end(), flag) != known.end()) {
      const bool value_follows =
          flag == arg && std::find(with_value.begin(), with_value.end(), flag) != with_value.end();
      if (value_follows) ++i;
      continue;
    }
    const std::string evenhand =
        command == nullptr ? "evenhand" : absl::StrCat("evenhand ", command->get_name());
    return absl::StrCat(evenhand, ": ", UnknownValueMessage("flag", flag, known), "; see ",
                        evenhand, " --help");
  }
  return "";
}

}  // namespace

int Main(int argc, char** argv) {
  KeepGrpcLogs();
  CLI::App app{"evenhand: the Even Hand command-line client"};
  app.require_subcommand(1);
  app.fallthrough();  // connection flags may also come after the command
  Context context;
  context.connection = clients::Connection::FromEnvironment();
  clients::Connection& c = context.connection;
  app.add_option("--server", c.address, "server address host:port (env EVENHAND_SERVER)")
      ->capture_default_str();
  // An empty --ca would silently turn TLS off (over EVENHAND_CA, too).
  const CLI::Validator not_empty(
      [](std::string& v) -> std::string { return v.empty() ? "must name a file" : ""; },
      "FILE");
  app.add_option("--ca", c.ca_file,
                 "CA certificate (PEM) that signed the server's certificate: turns TLS on "
                 "(env EVENHAND_CA)")
      ->check(not_empty);
  app.add_option("--cert", c.cert_file,
                 "this client's certificate (PEM), for mTLS (env EVENHAND_CERT)");
  app.add_option("--key", c.key_file, "this client's private key (PEM) (env EVENHAND_KEY)");
  app.add_option(
      "--token-file", c.token_file,
      "a file holding an OIDC access token, sent only over TLS (env EVENHAND_TOKEN_FILE)");
  app.add_option("--server-name", c.server_name,
                 "the name to check in the server's certificate, if not the address's host");

  Registry registry(&app);
  AddAppend(registry);
  AddRead(registry);
  AddTail(registry);
  AddStatus(registry);
  AddReport(registry);
  AddFindings(registry);
  AddRules(registry);
  AddReplay(registry);
  AddExport(registry);
  AddVerify(registry);
  AddVerifyReport(registry);
  AddCheckpoint(registry);
  AddPubkey(registry);
  AddAccess(registry);
  AddImport(registry);
  AddDue(registry);
  AddBackup(registry);
  AddRestore(registry);

  // The first word that is not a global flag (or its value) is the
  // command: one that does not exist is named as such, with the nearest.
  {
    const std::vector<std::string> with_value = {"--server", "--ca",         "--cert",
                                                 "--key",    "--token-file", "--server-name"};
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
    }
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--") break;
      if (!arg.empty() && arg[0] == '-') {
        if (std::find(with_value.begin(), with_value.end(), arg) != with_value.end()) ++i;
        continue;
      }
      if (std::find(names.begin(), names.end(), arg) == names.end()) {
        std::fprintf(stderr, "evenhand: %s; see evenhand --help\n",
                     UnknownValueMessage("command", arg, names).c_str());
        return kUsage;
      }
      break;
    }
  }
  // "--from=" with nothing after the "=" would take the next argument as
  // its value ("--from= --to=2026-06-30" read --from as "--to=...", and
  // "--as-of= 2026-11-01" ran as --as-of=2026-11-01): refused, not guessed.
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    // (Only the first "=": "--correlation-id=dGVzdA==" has a value.)
    if (arg.size() > 3 && absl::StartsWith(arg, "--") && arg.find('=') == arg.size() - 1) {
      std::fprintf(stderr,
                   "evenhand: %s has no value after the \"=\": give one (%s...), or leave the "
                   "flag out\n",
                   arg.c_str(), arg.c_str());
      return kUsage;
    }
  }
  if (const std::string empty = EmptyListItem(app, argc, argv); !empty.empty()) {
    std::fprintf(stderr,
                 "evenhand: %s has an empty item in its list (a stray comma?): name each one, "
                 "separated by single commas\n",
                 empty.c_str());
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    if (const std::string unknown = UnknownFlag(app, argc, argv); !unknown.empty()) {
      std::fprintf(stderr, "%s\n", unknown.c_str());
      return kUsage;
    }
    return app.exit(e) == 0 ? kOk : kUsage;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  const int code = registry.RunParsed(context);
  return code < 0 ? kUsage : code;
}

}  // namespace evenhand::cli

int main(int argc, char** argv) { return evenhand::cli::Main(argc, argv); }

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
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/cli/common.h"

namespace evenhand::cli {

int Main(int argc, char** argv) {
  CLI::App app{"evenhand: the Even Hand command-line client"};
  app.require_subcommand(1);
  app.fallthrough();  // connection flags may also come after the command
  Context context;
  context.connection = clients::Connection::FromEnvironment();
  clients::Connection& c = context.connection;
  app.add_option("--server", c.address, "server address host:port (env EVENHAND_SERVER)")
      ->capture_default_str();
  app.add_option("--ca", c.ca_file,
                 "CA certificate (PEM) that signed the server's certificate: turns TLS on "
                 "(env EVENHAND_CA)");
  app.add_option("--cert", c.cert_file, "this client's certificate (PEM), for mTLS (env EVENHAND_CERT)");
  app.add_option("--key", c.key_file, "this client's private key (PEM) (env EVENHAND_KEY)");
  app.add_option("--token-file", c.token_file,
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
  AddCheckpoint(registry);
  AddPubkey(registry);
  AddAccess(registry);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  const int code = registry.RunParsed(context);
  return code < 0 ? kUsage : code;
}

}  // namespace evenhand::cli

int main(int argc, char** argv) { return evenhand::cli::Main(argc, argv); }

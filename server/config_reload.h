// What evenhandd does on SIGHUP: reads its config file again and takes what
// can change while it runs, the security section's principals, publisher
// lanes, limits and identity provider (a system added, a role granted or
// withdrawn, a key file moved), without a restart.
//
// Everything else (listen, data_dir, TLS file paths and options, limits of
// the log...) is compared with the config in use; a difference is logged
// as needing a restart, and not taken. A file that does not read or parse,
// or a security section the authoriser refuses, leaves everything as it
// is, and the log says why. The TLS files themselves are watched apart
// (server/tls_files.h).
#ifndef EVENHAND_SERVER_CONFIG_RELOAD_H_
#define EVENHAND_SERVER_CONFIG_RELOAD_H_

#include <functional>
#include <string>

#include "evenhand/v1/config.pb.h"
#include "server/server.h"

namespace evenhand::server {

// Reads `path` again, applies `overrides` (the command line's flags, as at
// start), and gives `server` its security section. `*running` is the
// config in use (before defaults), and becomes the one read if it was
// taken.
void ReloadConfig(const std::string& path, const std::function<void(v1::ServerConfig*)>& overrides,
                  v1::ServerConfig* running, EvenHandServer* server);

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_CONFIG_RELOAD_H_

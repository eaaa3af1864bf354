// TlsFiles: the server's TLS files (security.tls: its certificate chain, its
// key, and the CA client certificates must chain to), checked at start and
// read again while it runs, so that a renewed certificate or a new CA is
// served without a restart (short-lived certificates are docs/SECURITY.md's
// answer to revocation).
//
// Every `tls.check_seconds` (default 60) a thread looks at the three files;
// when one changed it reads and checks them all: PEM, at least one
// certificate in the chain and the CA file, every one whole, the key
// matching the first certificate, and OpenSSL willing to serve them at its
// default security level (no key too weak). Files that pass are served;
// files that do not (caught half-written, a key for another certificate)
// leave the ones served as they are, are said once on the log, and are
// read again at each check until they pass.
//
// Two listeners serve them:
// - gRPC: its file watcher (FileWatcherCertificateProvider) reads the files
//   served, never the operator's: TlsFiles writes each checked set into a
//   folder of its own and swaps a symbolic link to it, so gRPC, which reads
//   the key and the certificate one after the other and checks neither,
//   only ever sees a set that matches (its checks of the files' times tell
//   it to read again if the link moved between its reads). It looks every
//   check_seconds too, so the gRPC port may take up to twice that.
// - OpenSSL servers (the metrics listener): ServeFrom() sets a certificate
//   callback that gives each new connection the certificate, key and CA
//   held.
// The folder is <data_dir>/tls-served (mode 0700, as private as the signing
// key beside it), emptied at each start.
//
// Thread-safe.
#ifndef EVENHAND_SERVER_TLS_FILES_H_
#define EVENHAND_SERVER_TLS_FILES_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "evenhand/v1/config.pb.h"
#include "grpcpp/security/server_credentials.h"

namespace evenhand::server {

class TlsFiles {
 public:
  // Reads and checks the files, as Start() does, without serving them:
  // errors name the setting and say what is wrong. The certificate's dates
  // are left to Start() and the renewal watcher: an expiry that arrives
  // with time must not make a config (a SIGHUP's) refused.
  static absl::Status Check(const v1::TlsConfig& tls);
  // Reads and checks the files, serves them from `folder` (the server's
  // own, <data_dir>/tls-served: emptied first), and starts watching.
  static absl::StatusOr<std::unique_ptr<TlsFiles>> Start(const v1::TlsConfig& tls,
                                                         std::string folder);
  // Stops watching (the destructor does too, and removes the folder).
  void Stop();
  ~TlsFiles();

  // gRPC's credentials, serving the files as they are renewed; client
  // certificates requested (and required if tls.require_client_certificate)
  // and verified against the CA.
  std::shared_ptr<grpc::ServerCredentials> GrpcCredentials() const;

  // The folder of the files served (a symbolic link to the latest set),
  // holding server.pem, server.key and ca.pem.
  std::string ServedFolder() const;
  // Makes `ctx`'s connections use the files held from now on. `ctx` must
  // not outlive this.
  void ServeFrom(SSL_CTX* ctx) const;

  struct Material;

 private:
  TlsFiles(v1::TlsConfig tls, std::string folder);
  std::shared_ptr<const Material> Held() const;
  // The watching thread: reads the files if they changed since last time
  // or the last read failed.
  void Recheck();
  // Writes `m` into the folder as version `version` and points "current" at
  // it.
  absl::Status Serve(const Material& m, int version);
  static int CertificateCallback(SSL* ssl, void* arg);

  const v1::TlsConfig tls_;
  const std::string folder_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Material> held_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The watching thread's own: what the files looked like, the version
  // served, and the last error said.
  std::string seen_;
  int version_ = 0;
  std::string said_;
  std::thread watcher_;
};

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_TLS_FILES_H_

#include "server/tls_files.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/trusted_file.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace evenhand::server {

struct TlsFiles::Material {
  std::string cert_pem, key_pem, ca_pem;
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the certificates after the first
  EVP_PKEY* key = nullptr;
  X509_STORE* store = nullptr;
  STACK_OF(X509_NAME) * ca_names = nullptr;
  std::string subject, not_after;

  Material() = default;
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;
  ~Material() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(store);
    sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
  }
};

namespace {

constexpr char kComponent[] = "tls";
constexpr char kCurrent[] = "current";

// A file that decides whom the server trusts, or its own key: read only
// if nobody else can change it (nor, for the key, read it): see
// base/trusted_file.h.
absl::StatusOr<std::string> ReadPem(const std::string& path, const std::string& setting,
                                    FileSecrecy secrecy = FileSecrecy::kPublic) {
  return ReadTrustedFile(path, setting, secrecy);
}

std::unique_ptr<BIO, decltype(&BIO_free)> Bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free};
}

// Every PEM certificate in `text`; false (and none) if one does not read
// (a block cut short, a file caught half-written), as OpenSSL's own
// SSL_CTX_use_certificate_chain_file decides.
bool Certificates(const std::string& text, std::vector<X509*>* out) {
  auto bio = Bio(text);
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out->push_back(x);
  // The end of the text reads as "no start line"; anything else is damage.
  const unsigned long last = ERR_peek_last_error();
  const bool whole = last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM &&
                                   ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (!whole) {
    for (X509* x : *out) X509_free(x);
    out->clear();
  }
  return whole;
}

// What an OpenSSL server (gRPC's TLS stack, the metrics listener) says of
// serving `m`, at its default security level: a key too weak or a signature
// of a digest no longer taken is refused there, so here first.
absl::Status Servable(const TlsFiles::Material& m, const v1::TlsConfig& tls) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  ERR_clear_error();
  if (ctx == nullptr || SSL_CTX_use_cert_and_key(ctx.get(), m.leaf, m.key, m.chain, 1) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    char reason[256] = "unknown";
    if (const unsigned long e = ERR_peek_last_error(); e != 0) {
      ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("security.tls.certFile ", tls.cert_file(),
                                                   " and keyFile ", tls.key_file(),
                                                   ": OpenSSL will not serve them (", reason, ")"));
  }
  return absl::OkStatus();
}

std::string NameOf(const X509_NAME* name) {
  char buffer[512];
  X509_NAME_oneline(name, buffer, sizeof(buffer));
  return buffer;
}

std::string TimeText(const ASN1_TIME* t) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  ASN1_TIME_print(bio.get(), t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Reads and checks the three files.
// `check_dates`: refuse a certificate outside its dates (to serve it; a
// config's check leaves that to the files' reader, which looks again as
// they are renewed).
absl::StatusOr<std::shared_ptr<const TlsFiles::Material>> Read(const v1::TlsConfig& tls,
                                                               bool check_dates = true) {
  auto m = std::make_shared<TlsFiles::Material>();
  auto cert = ReadPem(tls.cert_file(), "security.tls.certFile");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key_file(), "security.tls.keyFile", FileSecrecy::kSecret);
  if (!key.ok()) return key.status();
  auto ca = ReadPem(tls.client_ca_file(), "security.tls.clientCaFile");
  if (!ca.ok()) return ca.status();
  m->cert_pem = *std::move(cert);
  m->key_pem = *std::move(key);
  m->ca_pem = *std::move(ca);

  std::vector<X509*> chain;
  if (!Certificates(m->cert_pem, &chain) || chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.certFile ", tls.cert_file(),
        ": no whole PEM certificate in it, or a damaged one (a file caught half-written?)"));
  }
  m->leaf = chain[0];
  m->chain = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(m->chain, chain[i]);
  m->subject = NameOf(X509_get_subject_name(m->leaf));
  m->not_after = TimeText(X509_get0_notAfter(m->leaf));

  auto key_bio = Bio(m->key_pem);
  m->key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (m->key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("security.tls.keyFile ", tls.key_file(),
                     ": not a PEM private key (a key protected by a passphrase is not taken)"));
  }
  if (X509_check_private_key(m->leaf, m->key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.keyFile ", tls.key_file(), " is not the key of the certificate in ",
        tls.cert_file(), " (", m->subject, "); replace both together"));
  }

  // A certificate outside its dates is refused by every client's
  // handshake: serving it would take the service (and its monitoring)
  // down, so it is refused here, at start and when renewed files are read.
  const int after = check_dates ? X509_cmp_current_time(X509_get0_notAfter(m->leaf)) : 1;
  if (after <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.certFile ", tls.cert_file(), ": the certificate of ", m->subject,
        after == 0 ? " has an end date OpenSSL cannot read"
                   : absl::StrCat(" expired on ", m->not_after),
        "; clients refuse it at the handshake. Install a renewed certificate with its key"));
  }
  const int before = check_dates ? X509_cmp_current_time(X509_get0_notBefore(m->leaf)) : -1;
  if (before >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.certFile ", tls.cert_file(), ": the certificate of ", m->subject,
        before == 0 ? " has a start date OpenSSL cannot read"
                    : absl::StrCat(" is not valid before ", TimeText(X509_get0_notBefore(m->leaf)),
                                   " (by this server's clock)"),
        "; clients refuse it at the handshake"));
  }
  if (absl::Status s = Servable(*m, tls); !s.ok()) return s;

  std::vector<X509*> cas;
  if (!Certificates(m->ca_pem, &cas) || cas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.clientCaFile ", tls.client_ca_file(),
        ": no whole PEM certificate in it, or a damaged one (a file caught half-written?)"));
  }
  // A client certificate chains to a CA: a file of end-entity
  // certificates alone (the server's own, say) would refuse every client.
  // (A self-signed certificate counts: a client's pinned certificate.)
  if (std::none_of(cas.begin(), cas.end(), [](X509* x) {
        return X509_check_ca(x) >= 1 || X509_check_issued(x, x) == X509_V_OK;
      })) {
    const std::string first = NameOf(X509_get_subject_name(cas[0]));
    for (X509* x : cas) X509_free(x);
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.clientCaFile ", tls.client_ca_file(), ": no CA certificate in it (", first,
        " is not a CA), so every client certificate would be refused: name the CA "
        "that issues the council's client certificates"));
  }
  m->store = X509_STORE_new();
  m->ca_names = sk_X509_NAME_new_null();
  bool added = m->store != nullptr && m->ca_names != nullptr;
  // Each certificate of the file is trusted as it is, a root or not, as
  // gRPC's own verification takes it on the gRPC port: a council that
  // names its issuing (intermediate) CA there trusts what it issues, not
  // everything its root signs (outside probe: the metrics port refused
  // every such client the gRPC port took).
  added = added && X509_STORE_set_flags(m->store, X509_V_FLAG_PARTIAL_CHAIN) == 1;
  for (X509* x : cas) {
    // The same CA twice is no error (OpenSSL 3 takes it quietly).
    added = added && X509_STORE_add_cert(m->store, x) == 1;
    X509_NAME* name = added ? X509_NAME_dup(X509_get_subject_name(x)) : nullptr;
    if (name == nullptr || sk_X509_NAME_push(m->ca_names, name) == 0) {
      X509_NAME_free(name);
      added = false;
    }
    X509_free(x);
  }
  ERR_clear_error();
  if (!added) {
    return absl::InternalError(absl::StrCat("security.tls.clientCaFile ", tls.client_ca_file(),
                                            ": OpenSSL could not hold its certificates"));
  }
  return std::shared_ptr<const TlsFiles::Material>(std::move(m));
}

// What the files look like from outside: changes when one is replaced.
std::string Seen(const v1::TlsConfig& tls) {
  std::string seen;
  for (const std::string* path : {&tls.cert_file(), &tls.key_file(), &tls.client_ca_file()}) {
    struct stat st;
    if (::stat(path->c_str(), &st) != 0) {
      absl::StrAppend(&seen, "-;");
    } else {
      // The change time too: a file made readable (chmod, chown) changes
      // only that.
      absl::StrAppend(&seen, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, ":", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec, ";");
    }
  }
  return seen;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

int CheckSeconds(const v1::TlsConfig& tls) {
  return tls.check_seconds() != 0 ? static_cast<int>(tls.check_seconds()) : 60;
}

}  // namespace

absl::Status TlsFiles::Check(const v1::TlsConfig& tls) {
  return Read(tls, /*check_dates=*/false).status();
}

absl::StatusOr<std::unique_ptr<TlsFiles>> TlsFiles::Start(const v1::TlsConfig& tls,
                                                          std::string folder) {
  // Looked at before it is read: a file replaced in between is read again.
  const std::string seen = Seen(tls);
  auto material = Read(tls);
  if (!material.ok()) return material.status();
  std::error_code error;
  std::filesystem::remove_all(folder, error);
  if (error || ::mkdir(folder.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat(
        "cannot make ", folder,
        " afresh for the TLS files served: ", error ? error.message() : std::strerror(errno)));
  }
  std::unique_ptr<TlsFiles> t(new TlsFiles(tls, std::move(folder)));
  t->seen_ = seen;
  if (absl::Status s = t->Serve(**material, 1); !s.ok()) return s;
  t->version_ = 1;
  {
    absl::MutexLock lock(&t->mu_);
    t->held_ = *std::move(material);
  }
  t->watcher_ = std::thread([p = t.get()] {
    const absl::Duration every = absl::Seconds(CheckSeconds(p->tls_));
    for (;;) {
      {
        absl::MutexLock lock(&p->mu_);
        if (p->mu_.AwaitWithTimeout(absl::Condition(&p->stopping_), every)) return;
      }
      p->Recheck();
    }
  });
  return t;
}

TlsFiles::TlsFiles(v1::TlsConfig tls, std::string folder)
    : tls_(std::move(tls)), folder_(std::move(folder)) {}

void TlsFiles::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

TlsFiles::~TlsFiles() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

std::shared_ptr<const TlsFiles::Material> TlsFiles::Held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

absl::Status TlsFiles::Serve(const Material& m, int version) {
  const std::string name = absl::StrCat("v", version);
  const std::string dir = absl::StrCat(folder_, "/", name);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot make ", dir));
  }
  // The key first, readable by the server alone.
  const std::string key = dir + "/server.key";
  const int fd = ::open(key.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) ::close(fd);
  for (const auto& [file, text] : {std::pair<std::string, const std::string*>{key, &m.key_pem},
                                   {dir + "/server.pem", &m.cert_pem},
                                   {dir + "/ca.pem", &m.ca_pem}}) {
    if (absl::Status s = WriteFile(file, *text); !s.ok()) return s;
  }
  const std::string link = absl::StrCat(folder_, "/", kCurrent);
  const std::string staged = link + ".new";
  ::unlink(staged.c_str());
  if (::symlink(name.c_str(), staged.c_str()) != 0 || ::rename(staged.c_str(), link.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot point ", link, " at ", dir));
  }
  // The set before the last stays a round, for a reader between two reads.
  if (version > 2) {
    std::error_code ignored;
    std::filesystem::remove_all(absl::StrCat(folder_, "/v", version - 2), ignored);
  }
  return absl::OkStatus();
}

void TlsFiles::Recheck() {
  const std::string seen = Seen(tls_);
  // Unchanged files are not read again, unless the last read failed (what
  // failed may have been outside them: a full disk, a folder's mode).
  if (seen == seen_ && said_.empty()) return;
  seen_ = seen;
  absl::StatusOr<std::shared_ptr<const Material>> read = Read(tls_);
  absl::Status problem = read.status();
  if (read.ok()) {
    const std::shared_ptr<const Material> held = Held();
    const Material& m = **read;
    if (m.cert_pem == held->cert_pem && m.key_pem == held->key_pem && m.ca_pem == held->ca_pem) {
      said_.clear();
      return;
    }
    problem = Serve(m, version_ + 1);
    if (problem.ok()) {
      ++version_;
      {
        absl::MutexLock lock(&mu_);
        held_ = *read;
      }
      said_.clear();
      logging::Info(kComponent,
                    absl::StrCat("serving the TLS files as renewed: the certificate of ", m.subject,
                                 ", valid until ", m.not_after));
      return;
    }
  }
  const std::string said(problem.message());
  if (said != said_) {
    logging::Warning(kComponent,
                     absl::StrCat(said,
                                  "; the certificate, key and CA served before are kept "
                                  "until the files read and match"));
  }
  said_ = said;
}

std::string TlsFiles::ServedFolder() const { return absl::StrCat(folder_, "/", kCurrent); }

std::shared_ptr<grpc::ServerCredentials> TlsFiles::GrpcCredentials() const {
  const std::string current = ServedFolder();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      current + "/server.key", current + "/server.pem", current + "/ca.pem",
      static_cast<unsigned int>(CheckSeconds(tls_)));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(tls_.require_client_certificate()
                                    ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                    : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

int TlsFiles::CertificateCallback(SSL* ssl, void* arg) {
  const std::shared_ptr<const Material> m = static_cast<const TlsFiles*>(arg)->Held();
  if (SSL_use_cert_and_key(ssl, m->leaf, m->key, m->chain, 1) != 1 ||
      SSL_set1_verify_cert_store(ssl, m->store) != 1) {
    return 0;
  }
  SSL_set_client_CA_list(ssl, SSL_dup_CA_list(m->ca_names));
  return 1;
}

void TlsFiles::ServeFrom(SSL_CTX* ctx) const {
  // No session is resumed: a resumed one skips the client certificate's
  // check, which a CA replaced since must not be spared.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_cert_cb(ctx, &TlsFiles::CertificateCallback, const_cast<TlsFiles*>(this));
}

}  // namespace evenhand::server

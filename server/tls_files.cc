#include "server/tls_files.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/logging.h"
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

absl::StatusOr<std::string> ReadPem(const std::string& path, const std::string& setting) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, ": required"));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(setting, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<BIO, decltype(&BIO_free)> Bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free};
}

// Every PEM certificate in `text`.
std::vector<X509*> Certificates(const std::string& text) {
  std::vector<X509*> out;
  auto bio = Bio(text);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.push_back(x);
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

std::string NameOf(const X509_NAME* name) {
  char buffer[512];
  X509_NAME_oneline(name, buffer, sizeof(buffer));
  return buffer;
}

std::string NotAfter(const X509* x) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(x));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Reads and checks the three files.
absl::StatusOr<std::shared_ptr<const TlsFiles::Material>> Read(const v1::TlsConfig& tls) {
  auto m = std::make_shared<TlsFiles::Material>();
  auto cert = ReadPem(tls.cert_file(), "security.tls.certFile");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key_file(), "security.tls.keyFile");
  if (!key.ok()) return key.status();
  auto ca = ReadPem(tls.client_ca_file(), "security.tls.clientCaFile");
  if (!ca.ok()) return ca.status();
  m->cert_pem = *std::move(cert);
  m->key_pem = *std::move(key);
  m->ca_pem = *std::move(ca);

  std::vector<X509*> chain = Certificates(m->cert_pem);
  if (chain.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("security.tls.certFile ", tls.cert_file(), ": no PEM certificate in it"));
  }
  m->leaf = chain[0];
  m->chain = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(m->chain, chain[i]);
  m->subject = NameOf(X509_get_subject_name(m->leaf));
  m->not_after = NotAfter(m->leaf);

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

  std::vector<X509*> cas = Certificates(m->ca_pem);
  if (cas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "security.tls.clientCaFile ", tls.client_ca_file(), ": no PEM certificate in it"));
  }
  m->store = X509_STORE_new();
  m->ca_names = sk_X509_NAME_new_null();
  for (X509* x : cas) {
    X509_STORE_add_cert(m->store, x);
    sk_X509_NAME_push(m->ca_names, X509_NAME_dup(X509_get_subject_name(x)));
    X509_free(x);
  }
  ERR_clear_error();
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
      absl::StrAppend(&seen, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, ";");
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

absl::StatusOr<std::unique_ptr<TlsFiles>> TlsFiles::Start(const v1::TlsConfig& tls) {
  auto material = Read(tls);
  if (!material.ok()) return material.status();
  const char* tmp = ::getenv("TMPDIR");
  std::string folder =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/evenhandd-tls-XXXXXX");
  if (::mkdtemp(folder.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot make a folder for the TLS files served in ", folder, " (set TMPDIR)"));
  }
  std::unique_ptr<TlsFiles> t(new TlsFiles(tls, std::move(folder)));
  t->seen_ = Seen(tls);
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
      p->Check();
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
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

TlsFiles::~TlsFiles() { Stop(); }

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

void TlsFiles::Check() {
  const std::string seen = Seen(tls_);
  if (seen == seen_) return;
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
  SSL_CTX_set_cert_cb(ctx, &TlsFiles::CertificateCallback, const_cast<TlsFiles*>(this));
}

}  // namespace evenhand::server

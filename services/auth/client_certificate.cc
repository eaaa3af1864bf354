#include "services/auth/client_certificate.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace evenhand::services::auth {
namespace {

// An ASN.1 string's text, unless it holds a NUL byte (or none at all).
bool TextOf(const ASN1_STRING* s, std::string* out) {
  if (s == nullptr) return false;
  const int length = ASN1_STRING_length(s);
  if (length <= 0) return false;
  const absl::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<size_t>(length));
  if (text.find('\0') != absl::string_view::npos) return false;
  out->assign(text.data(), text.size());
  return true;
}

std::vector<std::string> NamesOf(const X509* certificate) {
  std::vector<std::string> names;
  int critical = 0;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr));
  // -1: no such extension; anything else (it is there, even if it does not
  // parse or is empty) keeps the common name out.
  const bool has_sans = sans != nullptr || critical != -1;
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    std::string name;
    if (n->type == GEN_DNS || n->type == GEN_EMAIL || n->type == GEN_URI) {
      if (TextOf(n->d.ia5, &name)) names.push_back(std::move(name));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      const int family = ASN1_STRING_length(ip) == 4    ? AF_INET
                         : ASN1_STRING_length(ip) == 16 ? AF_INET6
                                                        : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text))) {
        names.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(sans);
  if (has_sans) return names;
  const X509_NAME* subject = X509_get_subject_name(certificate);
  const int at = subject == nullptr ? -1 : X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    std::string cn;
    if (TextOf(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)), &cn)) {
      names.push_back(std::move(cn));
    }
  }
  return names;
}

absl::Time NotAfterOf(const X509* certificate) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &tm) != 1) return absl::InfinitePast();
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

ClientCertificate Parse(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (bio == nullptr) return {};
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (cert == nullptr) return {};
  return ClientCertificateOf(cert.get());
}

}  // namespace

ClientCertificate ClientCertificateOf(const X509* certificate) {
  if (certificate == nullptr) return {};
  return ClientCertificate{NamesOf(certificate), NotAfterOf(certificate)};
}

ClientCertificate ClientCertificateFromPem(absl::string_view pem) {
  static absl::Mutex mu;
  static auto* const known = new absl::flat_hash_map<std::string, ClientCertificate>;
  constexpr size_t kMaxKnown = 4096;
  {
    absl::MutexLock lock(&mu);
    auto it = known->find(pem);
    if (it != known->end()) return it->second;
  }
  ClientCertificate parsed = Parse(pem);
  absl::MutexLock lock(&mu);
  // Forgotten all at once when full: the certificates in use come back.
  if (known->size() >= kMaxKnown) known->clear();
  known->emplace(std::string(pem), parsed);
  return parsed;
}

}  // namespace evenhand::services::auth

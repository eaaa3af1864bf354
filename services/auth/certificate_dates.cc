#include "services/auth/certificate_dates.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace evenhand::services::auth {
namespace {

absl::Time Parse(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (bio == nullptr) return absl::InfinitePast();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (cert == nullptr) return absl::InfinitePast();
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return absl::InfinitePast();
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

}  // namespace

absl::Time CertificateNotAfter(absl::string_view pem) {
  static absl::Mutex mu;
  static auto* const known = new absl::flat_hash_map<std::string, absl::Time>;
  constexpr size_t kMaxKnown = 4096;
  {
    absl::MutexLock lock(&mu);
    auto it = known->find(pem);
    if (it != known->end()) return it->second;
  }
  const absl::Time not_after = Parse(pem);
  absl::MutexLock lock(&mu);
  // Forgotten all at once when full: the certificates in use come back.
  if (known->size() >= kMaxKnown) known->clear();
  known->emplace(std::string(pem), not_after);
  return not_after;
}

}  // namespace evenhand::services::auth

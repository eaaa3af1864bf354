// ClientCertificate (services/auth/client_certificate.h): the names and
// notAfter of certificates built here, as gRPC calls and /metrics both
// read them.
#include "services/auth/client_certificate.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evenhand::services::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A self-signed certificate with common name `cn` (none if empty), valid
// until 2030-01-02, with `sans` ("DNS:a", "IP:127.0.0.1", ...) if
// `san_extension`, as OpenSSL's config syntax writes them; `raw_dns`, if
// given, one more DNS name of exactly these bytes.
X509Ptr Make(const std::string& cn, bool san_extension, const std::string& sans,
             const std::string& raw_dns = "") {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20300102030405Z");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Council"), -1, -1, 0);
  if (!cn.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.data()),
                               static_cast<int>(cn.size()), -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  if (san_extension) {
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    if (!sans.empty()) {
      X509V3_CTX ctx;
      X509V3_set_ctx_nodb(&ctx);
      X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, sans.c_str());
      EXPECT_NE(ext, nullptr) << sans;
      GENERAL_NAMES_free(names);
      names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
      X509_EXTENSION_free(ext);
    }
    if (!raw_dns.empty()) {
      GENERAL_NAME* n = GENERAL_NAME_new();
      ASN1_IA5STRING* v = ASN1_IA5STRING_new();
      ASN1_STRING_set(v, raw_dns.data(), static_cast<int>(raw_dns.size()));
      GENERAL_NAME_set0_value(n, GEN_DNS, v);
      sk_GENERAL_NAME_push(names, n);
    }
    X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(names);
  }
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  X509_set_pubkey(cert.get(), key);
  X509_sign(cert.get(), key, nullptr);
  EVP_PKEY_free(key);
  return cert;
}

std::string Pem(const X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

TEST(ClientCertificateTest, SubjectAlternativeNamesOfEveryKindAPrincipalCanList) {
  X509Ptr cert = Make("ignored.council", true,
                      "DNS:case-system.council.gov.uk,email:clerk@council.gov.uk,"
                      "URI:spiffe://council/case-system,IP:10.0.0.7,IP:fd00::1");
  const ClientCertificate c = ClientCertificateOf(cert.get());
  EXPECT_THAT(c.names, ElementsAre("case-system.council.gov.uk", "clerk@council.gov.uk",
                                   "spiffe://council/case-system", "10.0.0.7", "fd00::1"))
      << "and not the common name: the SANs name the holder";
  EXPECT_EQ(c.not_after,
            absl::FromCivil(absl::CivilSecond(2030, 1, 2, 3, 4, 5), absl::UTCTimeZone()));
  // From its PEM (as gRPC hands a call's), the same.
  const ClientCertificate from_pem = ClientCertificateFromPem(Pem(cert.get()));
  EXPECT_EQ(from_pem.names, c.names);
  EXPECT_EQ(from_pem.not_after, c.not_after);
}

TEST(ClientCertificateTest, TheCommonNameOnlyWithoutASubjectAlternativeNameExtension) {
  X509Ptr cn_only = Make("monitoring.council", false, "");
  EXPECT_THAT(ClientCertificateOf(cn_only.get()).names, ElementsAre("monitoring.council"));
  // An empty extension is still one (RFC 6125 6.4.4: the CN is for
  // certificates without any): found by reading, gRPC's names and
  // /metrics' differed here.
  X509Ptr empty_sans = Make("monitoring.council", true, "");
  EXPECT_THAT(ClientCertificateOf(empty_sans.get()).names, IsEmpty());
  // Only kinds a principal cannot list: nothing.
  X509Ptr other = Make("monitoring.council", true,
                       "RID:1.2.3.4,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:clerk@council");
  EXPECT_THAT(ClientCertificateOf(other.get()).names, IsEmpty());
  X509Ptr nothing = Make("", false, "");
  EXPECT_THAT(ClientCertificateOf(nothing.get()).names, IsEmpty());
}

TEST(ClientCertificateTest, ANameHoldingANulByteNamesNothing) {
  X509Ptr cert =
      Make("", true, "DNS:good.council", std::string("case-system.council\0.evil.example", 33));
  EXPECT_THAT(ClientCertificateOf(cert.get()).names, ElementsAre("good.council"));
}

TEST(ClientCertificateTest, WhatDoesNotParseHasNoNameAndIsExpired) {
  for (const std::string& pem :
       {std::string(), std::string("not a certificate"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    const ClientCertificate c = ClientCertificateFromPem(pem);
    EXPECT_THAT(c.names, IsEmpty());
    EXPECT_EQ(c.not_after, absl::InfinitePast());
  }
  EXPECT_EQ(ClientCertificateOf(nullptr).not_after, absl::InfinitePast());
}

}  // namespace
}  // namespace evenhand::services::auth

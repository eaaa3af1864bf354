// A client certificate that expires while a test runs: issued by the demo
// CA of scripts/make-certs (ca.pem, ca.key in `certs`) for `name` (its SAN
// and common name), for client authentication, valid from a minute ago
// for `valid` (openssl's command line counts validity in days only).
//
//   ASSERT_TRUE(testing::IssueShortLivedCert(certs_, "auditor.demo.council",
//                                            absl::Seconds(8), "auditor-short"));
//   // certs_/auditor-short.pem and certs_/auditor-short.key
#ifndef EVENHAND_TESTS_TESTING_SHORT_LIVED_CERT_H_
#define EVENHAND_TESTS_TESTING_SHORT_LIVED_CERT_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace evenhand::testing {

inline ::testing::AssertionResult IssueShortLivedCert(const std::string& certs,
                                                      const std::string& name, absl::Duration valid,
                                                      const std::string& file) {
  auto fail = [](const std::string& what) { return ::testing::AssertionFailure() << what; };
  auto open = [](const std::string& path, const char* mode) {
    return std::unique_ptr<FILE, decltype(&std::fclose)>(std::fopen(path.c_str(), mode),
                                                         std::fclose);
  };
  auto ca_file = open(certs + "/ca.pem", "r");
  auto ca_key_file = open(certs + "/ca.key", "r");
  if (ca_file == nullptr || ca_key_file == nullptr) return fail("cannot read ca.pem or ca.key");
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_X509(ca_file.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ca_key(
      PEM_read_PrivateKey(ca_key_file.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (ca == nullptr || ca_key == nullptr || key == nullptr || cert == nullptr) {
    return fail("cannot load the CA or make a key");
  }
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(absl::ToUnixNanos(absl::Now()) & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(valid));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth"},
        {NID_subject_alt_name, absl::StrCat("DNS:", name)}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) return fail(absl::StrCat("cannot make extension ", value));
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return fail("cannot sign");
  auto pem = open(absl::StrCat(certs, "/", file, ".pem"), "w");
  auto key_pem = open(absl::StrCat(certs, "/", file, ".key"), "w");
  if (pem == nullptr || key_pem == nullptr || PEM_write_X509(pem.get(), cert.get()) != 1 ||
      PEM_write_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail("cannot write the certificate or its key");
  }
  return ::testing::AssertionSuccess();
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_SHORT_LIVED_CERT_H_

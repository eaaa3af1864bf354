// The signed-report reader: any file a clerk or an auditor could be handed
// as a report. VerifyDocument (and the text forms it parses) must answer,
// verified or why not, without crashing, for every byte string.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "integrity/signing.h"
#include "reporting/report_document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* key = [] {
    auto* k = new evenhand::v1::PublicKey();
    k->set_algorithm("Ed25519");
    k->set_raw(std::string(32, '\x11'));
    return k;
  }();
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)evenhand::reporting::VerifyDocument(bytes, *key);
  (void)evenhand::reporting::ParseStatement(bytes);
  (void)evenhand::integrity::ParseCheckpointBody(bytes);
  return 0;
}

// The bundle reader: any file an auditor could be handed. VerifyBundle must
// answer (verified or why not) without crashing, for every byte string.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "integrity/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)evenhand::integrity::VerifyBundle(
      absl::string_view(reinterpret_cast<const char*>(data), size), nullptr);
  return 0;
}

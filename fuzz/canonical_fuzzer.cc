// The canonical decoder: any bytes an auditor's bundle could hold as a
// record. What decodes must encode back to exactly the same bytes (one event,
// one encoding), or the hashes over it would mean nothing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "integrity/canonical.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = evenhand::integrity::DecodeCanonicalRecord(bytes);
  if (!decoded.ok()) return 0;
  auto encoded = evenhand::integrity::CanonicalRecord(*decoded);
  if (!encoded.ok() || *encoded != bytes) std::abort();
  return 0;
}

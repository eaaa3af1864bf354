// Proof verification (RFC 9162 inclusion and consistency) with hostile
// sizes, indexes and paths: never a crash, never a hang. And a proof that
// verifies against a root made from the same inputs must be the real one:
// a one-leaf tree's root is its leaf, so an inclusion proof for it must be
// empty.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "integrity/merkle.h"

namespace {

uint64_t Take64(const uint8_t*& data, size_t& size) {
  uint64_t v = 0;
  const size_t n = size < 8 ? size : 8;
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

std::string TakeHash(const uint8_t*& data, size_t& size) {
  const size_t n = size < 32 ? size : 32;
  std::string h(reinterpret_cast<const char*>(data), n);
  data += n;
  size -= n;
  h.resize(32, '\0');
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Sizes up to 2^40 exercise deep paths without shifting past 64 bits.
  const uint64_t a = Take64(data, size) & ((uint64_t{1} << 40) - 1);
  const uint64_t b = Take64(data, size) & ((uint64_t{1} << 40) - 1);
  const std::string leaf = TakeHash(data, size);
  const std::string root = TakeHash(data, size);
  std::vector<std::string> path;
  while (size > 0 && path.size() < 70) path.push_back(TakeHash(data, size));
  (void)evenhand::integrity::VerifyInclusion(a, b, leaf, path, root);
  (void)evenhand::integrity::VerifyConsistency(a, b, leaf, root, path);
  if (evenhand::integrity::VerifyInclusion(0, 1, leaf, path, leaf).ok() && !path.empty()) {
    std::abort();  // a non-empty path "proved" a one-leaf tree
  }
  return 0;
}

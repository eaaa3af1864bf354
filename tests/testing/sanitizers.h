// Whether this test binary runs under AddressSanitizer (the sanitizer build
// of scripts/test). Memory figures mean nothing there (shadow memory, a
// quarantine of freed blocks) and everything runs several times slower, so
// the few tests that measure memory or sweep thousands of cases adapt.
#ifndef EVENHAND_TESTS_TESTING_SANITIZERS_H_
#define EVENHAND_TESTS_TESTING_SANITIZERS_H_

namespace evenhand::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_SANITIZERS_H_

// The stream that holds a principal's access records (docs/SECURITY.md,
// "Reads on the record").
//
// A principal's name comes from the server's config, a certificate or a
// token's subject, so it may hold any byte, and be long; a stream id is at
// most 200 characters of the stream-id alphabet. The name is written so that
// two principals never share a stream, and so that the streams of the names
// people use (letters, digits and - _ . : @ / +, as every e-mail address and
// make-certs name) read as the name itself:
//   - a character of the stream-id alphabet other than '=' is kept;
//   - any other byte, and '=', is written "=XX" (its value in upper-case hex);
//   - a name that comes out longer than the stream id can hold is cut, and
//     ends "==" and the SHA-256 of the whole name in hex. "==" is
//     never in a name written whole, since an '=' written is always followed
//     by a hex digit.
//
// Knows nothing of who the principal is; a pure function, thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_ACCESS_STREAM_H_
#define EVENHAND_SERVICES_AUTH_ACCESS_STREAM_H_

#include <string>
#include <string_view>

namespace evenhand::services::auth {

// "access-clerk.jones", "access-token:clerk+jones@example.org",
// "access-token:J=C3=A9r=C3=B4me" (a subject of "Jérôme").
std::string AccessStreamOf(std::string_view principal);

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_ACCESS_STREAM_H_

// Small status helpers that Debian's abseil (20220623) does not ship.
//
//   EH_RETURN_IF_ERROR(expr);            // returns expr's status if not OK
//   EH_ASSIGN_OR_RETURN(auto x, expr);   // unwraps a StatusOr or returns
#ifndef EVENHAND_BASE_STATUS_MACROS_H_
#define EVENHAND_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EH_RETURN_IF_ERROR(expr)                         \
  do {                                                   \
    ::absl::Status eh_status_ = (expr);                  \
    if (!eh_status_.ok()) return eh_status_;             \
  } while (0)

#define EH_STATUS_CONCAT_INNER_(a, b) a##b
#define EH_STATUS_CONCAT_(a, b) EH_STATUS_CONCAT_INNER_(a, b)

#define EH_ASSIGN_OR_RETURN(lhs, expr) \
  EH_ASSIGN_OR_RETURN_IMPL_(EH_STATUS_CONCAT_(eh_statusor_, __LINE__), lhs, expr)

#define EH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = *std::move(statusor)

#endif  // EVENHAND_BASE_STATUS_MACROS_H_

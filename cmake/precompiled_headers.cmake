# Precompiled headers: what every heavy translation unit parses before its
# first line of its own, compiled once instead of once per file.
#
# Only third-party headers and the generated .pb.h files go in, never the
# project's own: editing a header of ours must not rebuild everything. The
# generated headers change only with the .proto files.
#
#   evenhand_library_code(TARGET [FUZZED] [NO_PCH])
#       a library or tool: the shared precompiled header (evenhand_pch, or
#       evenhand_fuzzed_pch). In the clang sanitizer build (EVENHAND_FUZZ)
#       only code the fuzzers in fuzz/ reach is FUZZED and carries their
#       coverage instrumentation; the rest is built without it.
#   evenhand_test_code(TARGET)
#       a test executable: test-code options, and the tests' shared
#       precompiled header (evenhand_test_pch)
#
# A target none of these name (evenhand_base, evenhand_proto) is built with
# the global options: with the fuzzers' coverage.
#
# Each is built once, from an empty file, by a target of its own that every
# user reuses (REUSE_FROM). A precompiled header is only used by a compile
# with the same options as the one that made it (GCC would quietly fall back
# to reading the headers, and -Winvalid-pch, which CMake adds, says so), so
# each is built with exactly the options of the code that uses it.

set(EVENHAND_PCH_HEADERS
  <algorithm> <atomic> <cstdint> <functional> <map> <memory> <optional>
  <string> <string_view> <utility> <vector>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/str_format.h> <absl/synchronization/mutex.h> <absl/time/time.h>
  <google/protobuf/message.h> <google/protobuf/util/json_util.h>
  <grpcpp/grpcpp.h>
  <evenhand/v1/events.pb.h> <evenhand/v1/log.grpc.pb.h>
  <evenhand/v1/fairness.grpc.pb.h> <evenhand/v1/audit.grpc.pb.h>)

set(EVENHAND_TEST_PCH_HEADERS ${EVENHAND_PCH_HEADERS}
  <filesystem> <fstream> <thread> <gtest/gtest.h> <gmock/gmock.h> <rocksdb/db.h>)

# evenhand_pch_target(NAME OPTIONS opts... LIBS libs... HEADERS headers...)
# LIBS are only those whose usage requirements the users share: a header
# made with a macro its user lacks is refused (GoogleTest's targets define
# GTEST_HAS_PTHREAD, so only the tests' header links them).
function(evenhand_pch_target name)
  cmake_parse_arguments(P "" "" "OPTIONS;LIBS;HEADERS" ${ARGN})
  # Written only when it changes (file(WRITE) would make the target stale
  # at every configure).
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/${name}.cc CONTENT
    "// A precompiled header is built with this empty file (cmake/precompiled_headers.cmake).\n")
  add_library(${name} OBJECT ${CMAKE_BINARY_DIR}/${name}.cc)
  target_link_libraries(${name} PRIVATE evenhand_proto gRPC::grpc++
    RocksDB::rocksdb-shared absl::status absl::statusor absl::strings
    absl::str_format absl::synchronization absl::time ${P_LIBS})
  target_compile_options(${name} PRIVATE ${P_OPTIONS})
  target_precompile_headers(${name} PRIVATE ${P_HEADERS})
endfunction()

if(EVENHAND_PCH)
  evenhand_pch_target(evenhand_pch OPTIONS ${EVENHAND_UNFUZZED_OPTIONS}
    HEADERS ${EVENHAND_PCH_HEADERS})
  if(EVENHAND_FUZZ)
    evenhand_pch_target(evenhand_fuzzed_pch HEADERS ${EVENHAND_PCH_HEADERS})
  endif()
  evenhand_pch_target(evenhand_test_pch OPTIONS ${EVENHAND_TEST_CODE_OPTIONS}
    LIBS GTest::gtest GTest::gmock HEADERS ${EVENHAND_TEST_PCH_HEADERS})
endif()

function(evenhand_library_code target)
  cmake_parse_arguments(L "FUZZED;NO_PCH" "" "" ${ARGN})
  set(pch evenhand_pch)
  if(L_FUZZED AND EVENHAND_FUZZ)
    set(pch evenhand_fuzzed_pch)
  elseif(NOT L_FUZZED)
    target_compile_options(${target} PRIVATE ${EVENHAND_UNFUZZED_OPTIONS})
  endif()
  if(EVENHAND_PCH AND NOT L_NO_PCH)
    target_precompile_headers(${target} REUSE_FROM ${pch})
  endif()
endfunction()

function(evenhand_test_code target)
  target_compile_options(${target} PRIVATE ${EVENHAND_TEST_CODE_OPTIONS})
  if(EVENHAND_PCH)
    target_precompile_headers(${target} REUSE_FROM evenhand_test_pch)
  endif()
endfunction()

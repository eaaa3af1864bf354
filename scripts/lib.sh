# Shared by scripts/run, scripts/test and scripts/bench: install what is
# missing from Debian's packages, then configure and build into ./build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${EVENHAND_BUILD_DIR:-$ROOT/build}"

# Everything the build and the tests need. See ../shared/BUILD-NOTES.md for
# why each is here (e.g. find_package(gRPC) needs protobuf-compiler-grpc).
PACKAGES=(
  build-essential clang cmake ninja-build pkg-config lld
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
  libcli11-dev libpq-dev libcpp-httplib-dev help2man tzdata
  python3 python3-grpcio python3-protobuf python3-cryptography grpc-proto
)

# What only the tests need: a browser for the report page test, and Node.js
# to drive it (skipped if a node is already installed).
TEST_PACKAGES=(chromium python3-prometheus-client)

# The sanitizer build and the fuzzers: clang's libFuzzer and sanitizer
# runtimes.
SANITIZER_PACKAGES=(libclang-rt-14-dev)
SANITIZER_BUILD_DIR="${EVENHAND_SANITIZER_BUILD_DIR:-$ROOT/build-asan}"

# What only the Debian package needs: help2man for its man pages, dpkg-dev
# for dpkg-shlibdeps (its dependencies), systemd for systemd-analyze.
PACKAGE_PACKAGES=(help2man dpkg-dev systemd)

# What only the benchmarks need: a PostgreSQL server to compare against
# (libpq-dev, its client library, is in PACKAGES: the bench is always built).
BENCH_PACKAGES=(postgresql)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "==> installing from Debian: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

# npm ci of the package in $1 (package.json and its package-lock.json) into
# folder $2, unless $2 already holds that lockfile's node_modules.
npm_ci_into() {
  local from="$1" dir="$2" what="$3"
  mkdir -p "$dir"
  if ! cmp -s "$from/package-lock.json" "$dir/package-lock.json" ||
     [ ! -d "$dir/node_modules" ]; then
    echo "==> installing $what's npm packages"
    cp "$from/package.json" "$from/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The tests' npm packages, into a build folder (default $BUILD_DIR), each
# pinned by its committed lockfile: the report page test's (browser/) and
# the Node.js integration example's (examples-node/, found through NODE_PATH
# by tests/clients/examples_test.py).
install_node_modules() {
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    install_missing nodejs npm
  fi
  local build="${1:-$BUILD_DIR}"
  npm_ci_into "$ROOT/tests/browser" "$build/browser" "the browser test"
  npm_ci_into "$ROOT/clients/examples/node" "$build/examples-node" "the Node.js example"
}

# A new build folder is compiled by clang unless CXX names another
# compiler: Debian's clang 14 builds everything in a third of GCC 12's time
# on two cores (4 min against 11; README.md, "Build time"). A folder
# already configured keeps its compiler and options (delete it to change:
# CMake would otherwise drop every option it was configured with).
build() {
  echo "==> building into $BUILD_DIR"
  local compiler=()
  if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    compiler=(-DCMAKE_CXX_COMPILER="${CXX:-clang++}")
  fi
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${compiler[@]}" > /dev/null
  cmake --build "$BUILD_DIR" "$@"
}

# The ASan+UBSan build with clang (and the fuzzers), into ./build-asan; no
# benchmarks. Arguments name targets (default: everything).
build_sanitized() {
  echo "==> building with ASan and UBSan into $SANITIZER_BUILD_DIR"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$SANITIZER_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVENHAND_SANITIZE=ON -DEVENHAND_BENCH=OFF > /dev/null
  if [ $# -gt 0 ]; then
    cmake --build "$SANITIZER_BUILD_DIR" --target "$@"
  else
    cmake --build "$SANITIZER_BUILD_DIR"
  fi
}

# The Debian package from the build (CPack; deploy/packaging.cmake); prints
# its path.
package() {
  install_missing "${PACKAGE_PACKAGES[@]}"
  echo "==> packaging" >&2
  rm -f "$BUILD_DIR"/evenhand_*_amd64.deb
  (cd "$BUILD_DIR" && cpack -G DEB > cpack.log 2>&1) || { cat "$BUILD_DIR/cpack.log" >&2; return 1; }
  ls "$BUILD_DIR"/evenhand_*_amd64.deb
}

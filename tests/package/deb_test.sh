#!/usr/bin/env bash
# The Debian package as an operator gets it: unpacked into a temporary root
# (dpkg -x, no install), its unit checked by systemd-analyze, its control
# data (conffile, maintainer scripts, dependencies) checked, and the
# installed evenhandd started with the installed config, appended to and
# read through the installed evenhand.
#
#   tests/package/deb_test.sh build/evenhand_0.1.0_amd64.deb
set -euo pipefail
DEB="$(realpath "$1")"
ROOT="$(mktemp -d /tmp/evenhand-deb-XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2> /dev/null || true; wait "$SERVER_PID" 2> /dev/null || true; fi
  rm -rf "$ROOT"
}
trap cleanup EXIT
fail() { echo "deb_test: FAILED: $*" >&2; exit 1; }

dpkg -x "$DEB" "$ROOT/root"
dpkg-deb -e "$DEB" "$ROOT/control"
R="$ROOT/root"
for f in usr/bin/evenhandd usr/bin/evenhand etc/evenhand/evenhandd.json \
         lib/systemd/system/evenhandd.service usr/share/evenhand/bank-holidays.json \
         usr/share/evenhand/grafana-dashboard.json usr/share/man/man8/evenhandd.8.gz \
         usr/share/man/man1/evenhand.1.gz usr/share/doc/evenhand/README.md \
         usr/share/doc/evenhand/docs/OPERATIONS.md usr/share/doc/evenhand/docs/INTEGRITY.md \
         usr/share/doc/evenhand/docs/vectors/vectors.json usr/share/doc/evenhand/deploy/README.md \
         usr/share/evenhand/proto/google/rpc/status.proto usr/share/doc/evenhand/scripts/make-certs \
         usr/share/doc/evenhand/proto/google/rpc/error_details.proto; do
  [ -e "$R/$f" ] || fail "the package has no /$f"
done
# Every relative link of the installed documents (README.md's docs/..., a
# document's vectors/..., deploy/README.md's ../docs/...) reaches a file of
# the package.
D="$R/usr/share/doc/evenhand"
while IFS= read -r doc; do
  for link in $(grep -o '](\([^)]*\))' "$doc" | sed 's/^](//; s/)$//' | grep -v '://' |
                 sed 's/#.*//' | grep . | sort -u); do
    [ -e "$(dirname "$doc")/$link" ] || fail "${doc#"$R"} links to $link, which the package does not install"
  done
done < <(find "$D" -name '*.md')
grep -qx /etc/evenhand/evenhandd.json "$ROOT/control/conffiles" || fail "the config is not a conffile"
for s in postinst prerm postrm; do
  [ -x "$ROOT/control/$s" ] || fail "no $s"
  sh -n "$ROOT/control/$s" || fail "$s does not parse"
done
grep -q "^Depends:.*librocksdb" "$ROOT/control/control" || fail "dependencies were not computed"
# Binaries are stripped.
file "$R/usr/bin/evenhandd" > "$ROOT/file.txt"
if grep -q "with debug_info" "$ROOT/file.txt"; then fail "evenhandd is not stripped"; fi
zcat "$R/usr/share/man/man8/evenhandd.8.gz" > "$ROOT/evenhandd.8"
grep -q -- "data_dir" "$ROOT/evenhandd.8" || fail "man page lacks the flags"

# The unit, as systemd reads it: against the unpacked root (where its
# ExecStart exists), with this machine's own units beside it for the
# targets it names. Its man pages were checked above (man(1) does not look
# in the root).
UNIT="$R/lib/systemd/system/evenhandd.service"
cp -n /lib/systemd/system/*.target /lib/systemd/system/*.service "$R/lib/systemd/system/" 2> /dev/null || true
# ExecReload's /bin/kill, from procps (a dependency of the package).
mkdir -p "$R/bin" && cp -n /bin/kill "$R/bin/kill"
grep -q "^Depends:.*procps" "$ROOT/control/control" || fail "the package does not depend on procps (/bin/kill)"
systemd-analyze verify --man=no --root="$R" /lib/systemd/system/evenhandd.service 2> "$ROOT/verify.log" || {
  cat "$ROOT/verify.log" >&2; fail "systemd-analyze verify"; }
if grep -v "Cannot add dependency job\|network-online.target\|Failed to prepare filename\|not found" "$ROOT/verify.log" | grep -q .; then
  cat "$ROOT/verify.log" >&2
  fail "systemd-analyze verify complained"
fi
for setting in "User=evenhand" "ProtectSystem=strict" "NoNewPrivileges=yes" "StateDirectory=evenhand" \
               "ExecStart=/usr/bin/evenhandd --config=/etc/evenhand/evenhandd.json" \
               'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qx "$setting" "$UNIT" || fail "the unit lacks $setting"
done

# The installed server with the installed config: only what must differ in
# a temporary root is overridden (the data folder and ports).
"$R/usr/bin/evenhandd" --config="$R/etc/evenhand/evenhandd.json" --print_config > "$ROOT/effective.json"
grep -q '"bankHolidaysFile": "'"$R"'/usr/share/evenhand/bank-holidays.json"' "$ROOT/effective.json" ||
  fail "the installed server does not use the installed calendar: $(grep bankHolidays "$ROOT/effective.json")"
"$R/usr/bin/evenhandd" --config="$R/etc/evenhand/evenhandd.json" --data_dir="$ROOT/data" \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --ready_file="$ROOT/ready" \
  > "$ROOT/server.out" 2> "$ROOT/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do [ -s "$ROOT/ready" ] && break; sleep 0.05; done
[ -s "$ROOT/ready" ] || { cat "$ROOT/server.log" >&2; fail "the installed evenhandd did not start"; }
ADDRESS="$(cat "$ROOT/ready")"
CLI=("$R/usr/bin/evenhand" --server="$ADDRESS")
echo '{"payload":{"officerRegistered":{"officerId":"o-deb","name":"Package Test","role":"OFFICER"}}}' |
  "${CLI[@]}" append --stream=officer-o-deb --expected=no_stream > "$ROOT/appended.json"
grep -q '"positions"' "$ROOT/appended.json" || fail "append through the installed CLI"
"${CLI[@]}" read --stream=officer-o-deb > "$ROOT/read.json"
grep -q '"officerId":"o-deb"' "$ROOT/read.json" || fail "read through the installed CLI: $(cat "$ROOT/read.json")"
"${CLI[@]}" backup --to="$ROOT/backups" > /dev/null || fail "backup through the installed CLI"
head -1 "$ROOT/server.log" | grep -q '^{"time":' || fail "the server's log is not JSON lines"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "evenhandd did not stop cleanly"
SERVER_PID=""
"$R/usr/bin/evenhand" restore --from="$ROOT/backups" --to="$ROOT/restored" > /dev/null ||
  fail "restore through the installed CLI"
echo "deb_test: the package installs, its unit verifies, and the installed server and CLI work"

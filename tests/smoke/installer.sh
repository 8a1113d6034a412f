#!/usr/bin/env bash
# The generated shell installer, run as a user runs it (`sh installer.sh`)
# against a local web server holding the release's files (the installer's
# base-URL override, PLURUM_CLI_DOWNLOAD_URL), into an empty prefix
# (PLURUM_CLI_UNMANAGED_INSTALL: no PATH or profile edits). Then the
# installed binary gets the same smoke test as any other.
#
#   tests/smoke/installer.sh target/distrib x86_64-unknown-linux-musl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dist=$(cd "$1" && pwd)
target=$2
installer="$dist/plurum-cli-installer.sh"
[ -f "$installer" ] || { echo "no installer at $installer"; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A free port, then the server on it, serving the release folder.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dist" >"$work/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done

# The installer picks the archive by asking `ldd --version`. On this glibc
# machine it would pick the glibc archive, which CI does not build; the
# static musl archive is what it picks on a musl system (Alpine) and on a
# glibc older than 2.31 (CentOS 7): both are simulated with an `ldd` of
# their own, first on PATH.
install_as() {
  local system=$1 ldd_says=$2 prefix="$work/prefix-$1" fake="$work/bin-$1"
  mkdir -p "$fake" "$work/home-$1"
  printf '#!/bin/sh\nprintf "%%s\\n" "%s"\n' "$ldd_says" >"$fake/ldd"
  chmod +x "$fake/ldd"
  : >"$work/http.log"
  env -i HOME="$work/home-$system" PATH="$fake:/usr/bin:/bin" \
    PLURUM_CLI_DOWNLOAD_URL="http://127.0.0.1:$port" \
    PLURUM_CLI_UNMANAGED_INSTALL="$prefix" \
    PLURUM_CLI_DISABLE_UPDATE=1 \
    sh "$installer" >"$work/install-$system.log" 2>&1 || { cat "$work/install-$system.log"; echo "the installer failed ($system)"; exit 1; }
  installed=$(find "$prefix" -name plurum -type f | head -n 1)
  [ -n "$installed" ] || { cat "$work/install-$system.log"; echo "the installer put no plurum under $prefix ($system)"; exit 1; }
  grep -q "GET /plurum-cli-$target.tar.xz " "$work/http.log" \
    || { cat "$work/http.log"; echo "the installer did not fetch the $target archive ($system)"; exit 1; }
  if [ -e "$work/home-$system/.profile" ] && grep -q plurum "$work/home-$system/.profile"; then
    echo "an unmanaged install edited .profile ($system)"; exit 1
  fi
  echo "installed on $system: $installed"
}
install_as alpine "musl libc (x86_64)"
install_as centos7 "ldd (GNU libc) 2.17"
"$here/binary.sh" "$installed" "$target"
echo "installer ok"

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

prefix="$work/prefix"
env -i HOME="$work/home" PATH=/usr/bin:/bin \
  PLURUM_CLI_DOWNLOAD_URL="http://127.0.0.1:$port" \
  PLURUM_CLI_UNMANAGED_INSTALL="$prefix" \
  PLURUM_CLI_DISABLE_UPDATE=1 \
  sh "$installer" 2>&1 | tail -n 5
installed=$(find "$prefix" -name plurum -type f | head -n 1)
[ -n "$installed" ] || { echo "the installer put no plurum under $prefix"; ls -R "$prefix"; exit 1; }
grep -q "GET /plurum-cli-$target" "$work/http.log" || { cat "$work/http.log"; echo "the installer did not fetch the $target archive"; exit 1; }
[ ! -e "$work/home/.profile" ] || ! grep -q plurum "$work/home/.profile" || { echo "an unmanaged install edited .profile"; exit 1; }
"$here/binary.sh" "$installed" "$target"
echo "installer ok"

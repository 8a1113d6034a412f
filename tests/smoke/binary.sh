#!/usr/bin/env bash
# Smoke test of an installed `plurum`, as a user meets it: in an empty
# environment (`env -i`, a fresh HOME, PATH=/usr/bin:/bin), `--version`
# (and `--version --json`), `plurum demo`, and an MCP handshake. On Linux an
# ELF binary built for musl must be static: no interpreter, no NEEDED
# library (checked with readelf).
#
#   tests/smoke/binary.sh /path/to/plurum [expected-target]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
target=${2:-}
[ -x "$binary" ] || { echo "not an executable: $binary"; exit 1; }

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
run() { env -i HOME="$home" PATH=/usr/bin:/bin "$@"; }

version=$(run "$binary" --version)
echo "$version"
case "$version" in
  "plurum "[0-9]*" (commit "*", "*", rustls with "*")") ;;
  *) echo "unexpected --version: $version"; exit 1 ;;
esac
if [ -n "$target" ] && [[ "$version" != *"$target"* ]]; then
  echo "--version does not name $target"; exit 1
fi
run "$binary" --version --json | "$(command -v python3)" -c 'import json,sys; d=json.load(sys.stdin); assert d["name"] == "plurum" and d["version"] and d["target"], d'

if [[ "$target" == *-linux-musl ]] && command -v readelf >/dev/null 2>&1; then
  if readelf -l "$binary" | grep -q 'INTERP'; then echo "$binary has an interpreter: not static"; exit 1; fi
  if readelf -d "$binary" | grep -q 'NEEDED'; then readelf -d "$binary" | grep NEEDED; echo "not static"; exit 1; fi
  echo "static: no interpreter, no NEEDED library"
fi

run "$binary" demo >"$home/demo.log" 2>&1 || { cat "$home/demo.log"; echo "plurum demo failed"; exit 1; }
tail -n 1 "$home/demo.log"

# The harness is Python (whichever python3 CI has); the server gets the empty environment.
run PLURUM_NO_KEYRING=1 "$(command -v python3)" "$here/mcp_handshake.py" "$binary" mcp
echo "smoke ok: $binary"

#!/usr/bin/env bash
# A release archive as a user gets it: unpacked into an empty folder, it
# holds the binary, the licenses and the README, and the binary passes the
# smoke test (`--version`, `demo`, an MCP handshake; static on musl).
#
#   tests/smoke/archive.sh target/distrib/plurum-cli-x86_64-unknown-linux-musl.tar.xz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
archive=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
name=$(basename "$archive")
target=${name#plurum-cli-}
target=${target%.tar.xz}
target=${target%.tar.gz}
target=${target%.zip}

prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
case "$archive" in
  *.tar.xz) tar -xJf "$archive" -C "$prefix" ;;
  *.tar.gz) tar -xzf "$archive" -C "$prefix" ;;
  *.zip) python3 -m zipfile -e "$archive" "$prefix" ;;
  *) echo "unknown archive: $archive"; exit 1 ;;
esac
# The checksum file next to it matches.
if [ -f "$archive.sha256" ]; then
  (cd "$(dirname "$archive")" && sha256sum -c "$name.sha256" >/dev/null) || { echo "checksum mismatch"; exit 1; }
  echo "checksum ok"
fi
root="$prefix/plurum-cli-$target"
for file in plurum LICENSE-MIT LICENSE-APACHE README.md; do
  [ -e "$root/$file" ] || { echo "the archive lacks $file"; find "$prefix"; exit 1; }
done
du -b "$archive" "$root/plurum" | awk '{ printf "%s bytes  %s\n", $1, $2 }'
"$here/binary.sh" "$root/plurum" "$target"
echo "archive ok"

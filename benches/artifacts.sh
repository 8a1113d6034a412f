#!/usr/bin/env bash
# The sizes of what users download and install, from what is built in
# target/: the release archives (cargo-dist), the binaries in them, the
# wheel, and the aarch64 binary. `.ci/run` builds them all and prints this
# at its end; by hand:
#
#   dist build --artifacts=local --target x86_64-unknown-linux-musl
#   (cd python && maturin build --target x86_64-unknown-linux-musl \
#     --compatibility manylinux2014 musllinux_1_2 --out ../target/wheels)
#   cargo zigbuild --release -p plurum-cli --target aarch64-unknown-linux-musl
#   benches/artifacts.sh
set -euo pipefail
cd "$(dirname "$0")/.."

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
printf '| artifact | profile | size |\n|---|---|---|\n'
found=0
for archive in target/distrib/plurum-cli-*.tar.xz target/distrib/plurum-cli-*.zip; do
  [ -f "$archive" ] || continue
  found=1
  printf '| `%s` | dist | %s |\n' "$(basename "$archive")" "$(mib "$(stat -c %s "$archive")")"
done
for binary in target/*/dist/plurum target/*/dist/plurum.exe; do
  [ -f "$binary" ] || continue
  found=1
  target=$(basename "$(dirname "$(dirname "$binary")")")
  printf '| `plurum` for %s | dist | %s |\n' "$target" "$(mib "$(stat -c %s "$binary")")"
done
for binary in target/*-linux-musl/release/plurum target/release/plurum; do
  [ -f "$binary" ] || continue
  found=1
  target=$(basename "$(dirname "$(dirname "$binary")")")
  [ "$target" = target ] && target="this host"
  printf '| `plurum` for %s | release | %s |\n' "$target" "$(mib "$(stat -c %s "$binary")")"
done
for wheel in target/wheels/plurum_cli-*.whl; do
  [ -f "$wheel" ] || continue
  found=1
  printf '| `%s` | dist | %s |\n' "$(basename "$wheel")" "$(mib "$(stat -c %s "$wheel")")"
done
[ "$found" = 1 ] || echo "nothing built yet: see the commands at the top of $0"

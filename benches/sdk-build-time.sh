#!/usr/bin/env bash
# The cold build time of the SDK as its users compile it: `cargo build -p
# plurum-sdk` with default features, in an empty target directory (the
# crates already downloaded), and what it compiles.
#
#   benches/sdk-build-time.sh            # default features (pulse, rustls-ring)
#   FEATURES="--no-default-features --features rustls-ring" benches/sdk-build-time.sh
#
# Close other work first: on a 2-core machine anything else running skews it.
set -euo pipefail
cd "$(dirname "$0")/.."

features=${FEATURES:-}
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT

cargo fetch --locked >/dev/null
start=$(date +%s.%N)
# shellcheck disable=SC2086
CARGO_TARGET_DIR="$target" cargo build -p plurum-sdk --locked $features 2>"$target/build.log"
end=$(date +%s.%N)
units=$(grep -c '^ *Compiling ' "$target/build.log" || true)
# shellcheck disable=SC2086
aws=$(cargo tree -p plurum-sdk -e normal --locked $features -i aws-lc-sys 2>/dev/null | grep -m1 '^aws-lc-sys' || true)
# shellcheck disable=SC2086
ws=$(cargo tree -p plurum-sdk -e normal --locked $features -i tungstenite 2>/dev/null | grep -m1 '^tungstenite' || true)

printf 'cold `cargo build -p plurum-sdk %s`: %.0f s, %s crates compiled (%s cores)\n' \
  "${features:-(default features)}" "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" "$units" "$(nproc)"
printf '  aws-lc-sys in the tree: %s\n' "${aws:-no}"
printf '  WebSocket stack (tungstenite): %s\n' "${ws:-not compiled}"

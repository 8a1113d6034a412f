#!/usr/bin/env bash
# The Python package as users install it, from a folder of wheels and no
# index at all: into a fresh virtual environment (`pip install plurum-cli`,
# then the smoke test of the binary it installed), and the way MCP hosts
# start it: `uvx --from plurum-cli==VERSION plurum mcp`, exactly as
# `plurum mcp --print-config --launch uvx` prints it (UV_NO_INDEX=1,
# UV_FIND_LINKS=the folder).
#
#   tests/smoke/wheel.sh target/wheels [uv]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wheels=$(cd "$1" && pwd)
uv=${2:-uv}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wheel=$(ls "$wheels"/plurum_cli-*.whl | head -n 1)
echo "$(basename "$wheel"): $(du -b "$wheel" | cut -f1) bytes"
version=$(basename "$wheel" | cut -d- -f2)

# pip, from the folder only.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-index --find-links "$wheels" "plurum-cli==$version"
# The venv's plurum is the binary itself (bindings = "bin"), not a Python shim.
"$here/binary.sh" "$work/venv/bin/plurum" "${TARGET:-}"

# uvx, exactly as the configuration prints it.
export UV_NO_INDEX=1 UV_FIND_LINKS="$wheels" UV_CACHE_DIR="$work/uv-cache" UV_PYTHON_DOWNLOADS=never
export PLURUM_CONFIG_DIR="$work/config" PLURUM_STATE_DIR="$work/state" PLURUM_NO_KEYRING=1
printed=$("$work/venv/bin/plurum" --json mcp --print-config generic --launch uvx)
launch=$(printf '%s' "$printed" | python3 -c 'import json,sys; s=json.load(sys.stdin)["server"]; print(" ".join([s["command"]] + s["args"]))')
echo "launching: $launch"
case "$launch" in "uvx --from plurum-cli==$version plurum mcp") ;; *) echo "unexpected launch line"; exit 1 ;; esac
# shellcheck disable=SC2086
PATH="$(dirname "$(command -v "$uv")"):$PATH" python3 "$here/mcp_handshake.py" $launch
# A plurum started by uvx runs from uv's cache: its own configuration must
# not name that path.
cached=$(PATH="$(dirname "$(command -v "$uv")"):$PATH" uvx --from "plurum-cli==$version" plurum --json mcp --print-config generic)
printf '%s' "$cached" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["launch"] == "uvx", d; print("from uv cache: launch", d["launch"])'
echo "wheel ok"

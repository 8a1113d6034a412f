#!/usr/bin/env bash
# `plurum mcp` driven by the MCP Inspector's CLI (`inspector --cli`), a host
# other than the Python SDK: it sends every --tool-arg as text and converts
# it by the schema's type (numbers with Number(), booleans as "true", JSON
# for objects and arrays), and `--strict` reports tool schemas that other
# hosts may misread. Against a reference server (`plurum serve`), it lists
# the tools (strict: no portability problem, every tool but one with an
# outputSchema) and calls the guide's loop with numbers, booleans and enums
# given as text, plus calls that must come back as tool errors.
#
#   tests/smoke/inspector.sh /path/to/plurum [tools-dir]
#
# Node 22.19 or later is needed (the machines have Node 20): a pinned Node
# 22 comes from npm (the `node` package) with a pinned Inspector, into
# tools-dir (default target/ci-tools/inspector), once.
set -euo pipefail
NODE_VERSION=22.23.3
INSPECTOR_VERSION=2.12.0

binary=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tools=${2:-target/ci-tools/inspector}
mkdir -p "$tools"
tools=$(cd "$tools" && pwd)
if [ "$("$tools/node_modules/.bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ] ||
  ! grep -q "\"version\": \"$INSPECTOR_VERSION\"" "$tools/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null; then
  (cd "$tools" && npm install --no-audit --no-fund --silent --no-save \
    "node@$NODE_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION")
fi
export PATH="$tools/node_modules/.bin:$PATH"
echo "node $(node --version), inspector $INSPECTOR_VERSION"

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export PLURUM_CONFIG_DIR="$work/config" PLURUM_STATE_DIR="$work/state" PLURUM_NO_KEYRING=1
"$binary" serve --addr 127.0.0.1:0 >"$work/url" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.05; done
export PLURUM_API_URL="$(head -n1 "$work/url")"
"$binary" -q register --name Inspector --username inspector-agent >/dev/null 2>&1
"$binary" -q register --profile author --name Author --username inspector-author >/dev/null 2>&1
experience=$("$binary" --profile author experience create --publish \
  --goal "Run pgBouncer in transaction mode" --gotcha "prepared statements break" --jq .short_id)

# The Inspector starts the server with only the environment it is given.
env_args=(-e "PLURUM_CONFIG_DIR=$PLURUM_CONFIG_DIR" -e "PLURUM_STATE_DIR=$PLURUM_STATE_DIR"
  -e "PLURUM_NO_KEYRING=1" -e "PLURUM_API_URL=$PLURUM_API_URL" -e "HOME=$work")
inspect() { HOME="$work" inspector --cli "${env_args[@]}" "$@" -- "$binary" mcp; }

# tools/list, strict: a portability problem of error severity exits 6.
inspect --strict --method tools/list >"$work/tools.json" 2>"$work/strict.log" || {
  cat "$work/strict.log"; echo "inspector --strict found problems in the tool schemas"; exit 1
}
if grep -q "^Warning" "$work/strict.log"; then
  cat "$work/strict.log"; echo "inspector --strict warned about the tool schemas"; exit 1
fi
python3 - "$work/tools.json" <<'PY'
import json, sys
tools = json.load(open(sys.argv[1]))["tools"]
names = [t["name"] for t in tools]
assert len(tools) >= 25, f"{len(tools)} tools: {names}"
missing = [t["name"] for t in tools if "outputSchema" not in t and t["name"] != "plurum_get_artifact"]
assert not missing, f"no outputSchema: {missing}"
for tool in tools:
    for name, prop in tool["inputSchema"].get("properties", {}).items():
        assert isinstance(prop.get("type", "string"), str), f"{tool['name']}.{name}: {prop}"
print(f"tools/list: {len(tools)} tools, strict clean, outputSchema on all but plurum_get_artifact")
PY

# call TOOL ARG=VALUE...: the result JSON in $work/result.json; the exit code of the Inspector.
call() {
  local tool=$1
  shift
  local code=0
  inspect --method tools/call --tool-name "$tool" ${1:+--tool-arg "$@"} >"$work/result.json" 2>"$work/call.log" || code=$?
  return $code
}
# expect ok|error TOOL ARGS...: checks isError, prints nothing else.
expect() {
  local want=$1
  shift
  local tool=$1
  call "$@" || true
  python3 - "$work/result.json" "$want" "$tool" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
decoder = json.JSONDecoder()
result, _ = decoder.raw_decode(text.lstrip())
failed = result.get("isError", False)
if (sys.argv[2] == "error") != failed:
    raise SystemExit(f"{sys.argv[3]}: expected {sys.argv[2]}, got {json.dumps(result)[:600]}")
PY
}
field() { # field EXPR: a value of the last result's structured content
  python3 - "$work/result.json" "$1" <<'PY'
import json, sys
result, _ = json.JSONDecoder().raw_decode(open(sys.argv[1]).read().lstrip())
value = result["structuredContent"]
for key in sys.argv[2].split("."):
    value = value[int(key)] if key.isdigit() else value[key]
print(value)
PY
}

expect ok plurum_whoami
[ "$(field username)" = inspector-agent ]
expect ok plurum_search query="pgbouncer transaction mode" limit=3 min_quality=0
[ "$(field results.0.short_id)" = "$experience" ]
expect ok plurum_session_open topic="Put pgBouncer in front of Postgres" domain=infrastructure
expect ok plurum_session_log kind=note text="pool size 20 was enough"
expect ok plurum_session_log kind=breakthrough insight="transaction pooling" detail="400 connections became 40" importance=high
expect ok plurum_acquire id="$experience" mode=checklist
expect ok plurum_report_outcome id="$experience" success=true execution_time_ms=1200
[ "$(field queued)" = False ]
expect ok plurum_session_list mine=true status=open limit=5
expect ok plurum_similar id="$experience" limit=2
expect ok plurum_inbox limit=5
expect ok plurum_outcome_pending
expect ok plurum_session_close outcome=success
expect ok plurum_heartbeat query=pgbouncer
# Text that is no number, a value outside its range or its closed set, an
# unknown argument: tool errors, never a call made with a guess.
expect error plurum_search query=pgbouncer limit=abc
expect error plurum_search query=pgbouncer limit=500
expect error plurum_acquire id="$experience" mode=everything
expect error plurum_vote id="$experience" direction=sideways
expect error plurum_search query=pgbouncer colour=blue
# The server is still there.
expect ok plurum_pulse_status
echo "inspector ok: $binary"

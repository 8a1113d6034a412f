#!/usr/bin/env bash
# The daemon at rest: `plurum daemon` with its default configuration (pulse
# socket open, 20 s pings, 15 s ticks, heartbeat every 30 min) against a
# reference server in another process, sampled from /proc for a minute.
# Prints resident memory (mean and peak), CPU time and share, and wake-ups
# (context switches summed over the daemon's threads) per second: a busy
# loop shows as thousands per second, an idle daemon as a handful.
#
#   benches/daemon-idle.sh               # 60 s
#   DURATION=300 benches/daemon-idle.sh
#
# Goal (issue 7): under 20 MB resident, no busy polling. Linux only (/proc).
# Needs: cargo, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-60}"

cargo build --release --quiet -p plurum-cli
PLURUM="$PWD/target/release/plurum"
WORK="$(mktemp -d)"
SERVER_PID=""
DAEMON_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export PLURUM_CONFIG_DIR="$WORK/config" PLURUM_STATE_DIR="$WORK/state" PLURUM_NO_KEYRING=1
unset PLURUM_API_KEY PLURUM_PROFILE

"$PLURUM" serve --addr 127.0.0.1:0 --no-limits >"$WORK/url" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/url" ] && break; sleep 0.05; done
export PLURUM_API_URL="$(head -n1 "$WORK/url")"
"$PLURUM" -q register --name "Idle bench" --username idle-bench >/dev/null 2>&1

"$PLURUM" daemon --api-addr 127.0.0.1:0 2>"$WORK/daemon.log" &
DAEMON_PID=$!
ADDR_FILE="$PLURUM_STATE_DIR/default/daemon.addr"
for _ in $(seq 1 200); do [ -s "$ADDR_FILE" ] && break; sleep 0.05; done
API="http://$(cat "$ADDR_FILE")"
for _ in $(seq 1 200); do
  curl -sf "$API/state" | grep -q '"state": *"connected"' && break
  sleep 0.05
done
curl -sf "$API/state" | grep -q '"state": *"connected"' || { echo "the pulse socket did not connect" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
# Let the first heartbeat finish before measuring rest.
for _ in $(seq 1 200); do
  curl -sf "$API/state" | grep -q '"last_status": *"' && break
  sleep 0.05
done

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
switches() {
  cat /proc/"$DAEMON_PID"/task/*/status 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {n += $2} END {print n}'
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"; }

cpu0=$(cpu_ticks)
sw0=$(switches)
threads=$(ls /proc/"$DAEMON_PID"/task | wc -l)
sum=0 peak=0 samples=0
for _ in $(seq 1 "$DURATION"); do
  sleep 1
  r=$(rss_kb)
  sum=$((sum + r)); samples=$((samples + 1))
  [ "$r" -gt "$peak" ] && peak=$r
done
cpu1=$(cpu_ticks)
sw1=$(switches)
state=$(curl -sf "$API/state")
kill -0 "$DAEMON_PID"

awk -v sum="$sum" -v n="$samples" -v peak="$peak" -v c0="$cpu0" -v c1="$cpu1" -v hz="$ticks" \
    -v s0="$sw0" -v s1="$sw1" -v d="$DURATION" -v threads="$threads" 'BEGIN {
  cpu = (c1 - c0) / hz
  printf "plurum daemon at rest for %d s (socket open, default config, %d threads)\n", d, threads
  printf "  resident memory  mean %.1f MB, peak %.1f MB (goal: under 20 MB)\n", sum / n / 1024, peak / 1024
  printf "  CPU time         %.2f s (%.3f%% of one core)\n", cpu, 100 * cpu / d
  printf "  wake-ups         %.1f per second (context switches, all threads)\n", (s1 - s0) / d
}'
echo "  pulse socket     $(echo "$state" | grep -o '"state": *"[a-z_]*"' | head -n1)"

#!/usr/bin/env bash
# Raw throughput: wrk straight at the simulator, then through the gateway, at 16 and 64 connections.
# The gateway runs pinned to CPU 1; the simulator and wrk share CPU 0. Prints a markdown table of
# RPS, p50/p99, gateway CPU per request and RSS, plus the time from launch to the first 200.
#   bash loadtests/wrk/run.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
duration=${1:-10}
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo; $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk; }
bin=${OCTOMESH_BIN:-artifacts/native/octomesh}
[[ -x $bin ]] || dotnet publish src/OctoMesh.Edge -c Release -r linux-x64 -o artifacts/native >/dev/null
sim_port=18090 gw_port=18080
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

taskset -c 0 "$bin" sim --urls "http://127.0.0.1:$sim_port" --log-level Warning >"$work/sim.log" 2>&1 &
cat >"$work/config.json" <<JSON
{ "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:$sim_port/v1" } },
  "models": { "*": { "provider": "sim" } } }
JSON
until curl -sf "http://127.0.0.1:$sim_port/healthz" >/dev/null; do sleep 0.05; done

# Launch to first 200 on a real completion, polled every millisecond.
start=$(date +%s%N)
taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
gw_pid=$!
body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" loadtests/wrk/chat.lua)
until curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/v1/chat/completions" -H 'content-type: application/json' -d "$body" 2>/dev/null | grep -q 200; do sleep 0.001; done
startup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$gw_pid/status)

cpu_ticks() { awk '{print $14 + $15}' /proc/$gw_pid/stat; }
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))

run() { # name url script connections
  local out requests rps p50 p99 before after rss
  before=$(cpu_ticks)
  out=$(taskset -c 0 wrk -t2 -c"$4" -d"${duration}s" --latency -s "loadtests/wrk/$3" "$2/v1/chat/completions")
  after=$(cpu_ticks)
  rss=$(awk '/VmHWM/ {print $2}' /proc/$gw_pid/status)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out" | awk '{print $NF}' || true)
  local cpu="-"
  [[ $1 == gateway* ]] && cpu=$(( (after - before) * tick_us / requests ))
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$4" "$rps" "$p50" "$p99" "$cpu" "$((rss / 1024))" "${errors:-0}"
}

echo "| target | connections | requests/s | p50 | p99 | gateway CPU µs/request | gateway peak RSS MB | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for c in 16 64; do
  run "direct to simulator" "http://127.0.0.1:$sim_port" chat.lua "$c"
  run "gateway → simulator" "http://127.0.0.1:$gw_port" chat.lua "$c"
done
run "direct to simulator (stream)" "http://127.0.0.1:$sim_port" chat-stream.lua 64
run "gateway → simulator (stream)" "http://127.0.0.1:$gw_port" chat-stream.lua 64

# The exact cache: the same gateway binary with cache.exact on, hits (chat.lua repeats one request) against
# misses forced with x-octomesh-cache: off, on the same process.
kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true
sed 's/"models"/"cache": { "exact": true }, "models"/' "$work/config.json" >"$work/cache.json"
taskset -c 1 "$bin" serve --config "$work/cache.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw-cache.log" 2>&1 &
gw_pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$gw_port/healthz"; do sleep 0.01; done
run "gateway, cache bypassed (miss)" "http://127.0.0.1:$gw_port" chat-nocache.lua 64
run "gateway, cache hit" "http://127.0.0.1:$gw_port" chat.lua 64
echo
echo "gateway: launch to first 200 = ${startup_ms} ms; RSS idle = $((rss_idle / 1024)) MB"

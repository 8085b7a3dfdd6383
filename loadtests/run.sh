#!/usr/bin/env bash
# The load suite in one command: the simulator, then nginx (reverse proxy) and the native gateway in front of it,
# each pinned to CPU 1 in turn (the simulator and the driver share CPU 0), the same LLM-aware load against each,
# and a table of the gateway against nginx (throughput, p99, time to first token, CPU per request, RSS) written
# between the load-suite markers of docs/performance.md.
#   bash loadtests/run.sh [seconds per run, default 10]
#   SOAK=600 bash loadtests/run.sh    # also: the gateway under the mixed load for 600 s, RSS sampled every 5 s,
#                                     # flat when the last third's mean is within 10% of the first third's
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-10}
command -v nginx >/dev/null || { sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo; $sudo apt-get update -qq && $sudo apt-get install -y -qq nginx-light || $sudo apt-get install -y -qq nginx; }
bin=${OCTOMESH_BIN:-artifacts/native/octomesh}
[[ -x $bin ]] || dotnet publish src/OctoMesh.Edge -c Release -r linux-x64 -o artifacts/native >/dev/null
dotnet build -c Release loadtests/OctoMesh.Load -nologo -v quiet >/dev/null
driver="dotnet loadtests/OctoMesh.Load/bin/Release/net10.0/octomesh-load.dll"
sim_port=19090 gw_port=19080 ngx_port=19081
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT

taskset -c 0 "$bin" sim --urls "http://127.0.0.1:$sim_port" --log-level Warning >"$work/sim.log" 2>&1 &
until curl -sf "http://127.0.0.1:$sim_port/healthz" >/dev/null; do sleep 0.05; done

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream sim { server 127.0.0.1:$sim_port; keepalive 128; }
  server {
    listen 127.0.0.1:$ngx_port;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
cat >"$work/config.json" <<JSON
{ "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:$sim_port/v1" } }, "models": { "*": { "provider": "sim" } } }
JSON

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# run NAME PID PORT ARGS...: one driver run against the target; prints "rps p99_ms ttft_p99_ms cpu_us_per_request rss_mb".
run() {
  local pid=$2 port=$3; shift 3
  local before; before=$(cpu_ticks "$pid")
  taskset -c 0 $driver --target "http://127.0.0.1:$port" --seconds "$seconds" "$@" --json "$work/out.json" >/dev/null || true
  local after; after=$(cpu_ticks "$pid")
  python3 - "$work/out.json" "$before" "$after" "$(getconf CLK_TCK)" "$(rss_kb "$pid")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); ticks = int(sys.argv[3]) - int(sys.argv[2]); hz = int(sys.argv[4])
cpu_us = ticks / hz * 1e6 / max(1, r["requests"])
print(f'{r["rps"]:.0f} {r["latency_us"]["p99"]/1000:.2f} {r["ttft_us"]["p99"]/1000:.2f} {cpu_us:.0f} {int(sys.argv[5])/1024:.0f} {r["errors"]}')
PY
}

declare -A results
for target in nginx gateway; do
  if [[ $target == nginx ]]; then
    taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"
    until [[ -s $work/nginx.pid ]]; do sleep 0.05; done
    pid=$(cat "$work/nginx.pid"); pid=$(pgrep -P "$pid" | head -1 || echo "$pid"); port=$ngx_port
  else
    DOTNET_GCgen0size=400000 taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
    pid=$!; port=$gw_port
    until curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null; do sleep 0.05; done
  fi
  taskset -c 0 $driver --target "http://127.0.0.1:$port" --seconds 2 --users 64 >/dev/null || true   # warm-up
  results[$target,json]=$(run "$target" "$pid" "$port" --users 64)
  results[$target,stream]=$(run "$target" "$pid" "$port" --users 64 --stream 1)
  if [[ $target == nginx ]]; then kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"; else kill "$pid"; wait "$pid" 2>/dev/null || true; fi
done

soak=""
if [[ ${SOAK:-0} -gt 0 ]]; then
  DOTNET_GCgen0size=400000 taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null; do sleep 0.05; done
  taskset -c 0 $driver --target "http://127.0.0.1:$gw_port" --seconds "$SOAK" --users 64 --stream 0.5 --cache 0.3 --faults 0.05 --anthropic 0.2 >/dev/null &
  load=$!
  samples=()
  while kill -0 "$load" 2>/dev/null; do samples+=("$(rss_kb "$pid")"); sleep 5; done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  soak=$(python3 - "$SOAK" "${samples[@]}" <<'PY'
import sys
seconds, kb = sys.argv[1], [int(v) for v in sys.argv[2:]]
third = max(1, len(kb) // 3)
first, last = sum(kb[:third]) / third / 1024, sum(kb[-third:]) / third / 1024
verdict = "flat" if last <= first * 1.10 else "GROWING"
print(f"Soak: {seconds} s of the mixed load (64 users; half streamed, 30% cache-hit prompts, 5% faults, 20% Anthropic), RSS every 5 s: "
      f"first third {first:.0f} MB, last third {last:.0f} MB, peak {max(kb) / 1024:.0f} MB: {verdict}.")
PY
)
fi

table=$(python3 - "${results[nginx,json]}" "${results[gateway,json]}" "${results[nginx,stream]}" "${results[gateway,stream]}" "$seconds" <<'PY'
import sys
def parse(s): return dict(zip(["rps", "p99", "ttft", "cpu", "rss", "errors"], map(float, s.split())))
nj, gj, ns, gs = (parse(a) for a in sys.argv[1:5])
rows = [f"Measured by `bash loadtests/run.sh {sys.argv[5]}` (64 connections, closed model, {sys.argv[5]} s per run; nginx and the gateway each pinned to CPU 1 in turn, the simulator and the driver on CPU 0).", "",
        "| scenario | target | rps | p99 | TTFT p99 | CPU per request | RSS | errors |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for name, n, g in (("JSON", nj, gj), ("stream", ns, gs)):
    for target, r in (("nginx", n), ("gateway", g)):
        ttft = f'{r["ttft"]:.2f} ms' if name == "stream" else ""
        rows.append(f'| {name} | {target} | {r["rps"]:.0f} | {r["p99"]:.2f} ms | {ttft} | {r["cpu"]:.0f} µs | {r["rss"]:.0f} MB | {r["errors"]:.0f} |')
rows.append("")
for name, n, g in (("JSON", nj, gj), ("stream", ns, gs)):
    extra = f', added TTFT p99 {g["ttft"] - n["ttft"]:+.2f} ms' if name == "stream" else ""
    rows.append(f'- {name}: throughput {g["rps"] / n["rps"]:.0%} of nginx\'s (aim ≥ 80%), added p99 {g["p99"] - n["p99"]:+.2f} ms (aim ≤ 1 ms), CPU per request {g["cpu"] / n["cpu"]:.1f}× nginx\'s (aim ≤ 2×){extra}; gateway RSS {g["rss"]:.0f} MB (aim ≤ 60 MB).')
print("\n".join(rows))
PY
)
[[ -n $soak ]] && table+=$'\n\n'"$soak"
echo "$table"
python3 - docs/performance.md "$table" <<'PY'
import sys, re
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
block = f"<!-- load-suite:begin -->\n{table}\n<!-- load-suite:end -->"
text = re.sub(r"<!-- load-suite:begin -->.*?<!-- load-suite:end -->", lambda _: block, text, flags=re.S) if "<!-- load-suite:begin -->" in text else text.rstrip() + "\n\n### Against nginx\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "wrote the table into docs/performance.md"

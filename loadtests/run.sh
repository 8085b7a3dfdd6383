#!/usr/bin/env bash
# The load suite in one command: the simulator, then nginx (reverse proxy) and the native gateway in front of it,
# each pinned to CPU 1 in turn (the simulator and the driver share CPU 0), the same LLM-aware load against each, and
# a table of the gateway against nginx written between the load-suite markers of docs/performance.md. Per target:
#   throughput: 64 connections, closed model, JSON then streamed answers (rps, CPU per request at full load);
#   latency: a fixed arrival rate well below either's capacity (open model, 8 connections), JSON at $RATE/s and
#   streams at $STREAM_RATE/s (percentiles, time to first token, CPU per request at that load), and the gateway's
#   own overhead histogram (arrival to first byte less upstream waits) over the JSON run;
#   then CPU per request at the fixed rates with both targets side by side (same window, three rounds).
#   bash loadtests/run.sh [seconds per run, default 10]
#   RATE=2000 STREAM_RATE=1000 bash loadtests/run.sh
#   SOAK=600 bash loadtests/run.sh    # also: the gateway under the mixed load for 600 s, RSS sampled every 5 s,
#                                     # flat when the last third's mean is within 10% of the first third's
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-10}
rate=${RATE:-2000} stream_rate=${STREAM_RATE:-1000}
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  $sudo service nginx stop >/dev/null 2>&1 || true   # the package starts one on port 80; the suite runs its own
fi
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

# run PID PORT ARGS...: one driver run against the target; prints
# "rps p50 p99 p999 ttft_p50 ttft_p99 cpu_us_per_request rss_mb errors" (milliseconds).
run() {
  local pid=$1 port=$2; shift 2
  local before; before=$(cpu_ticks "$pid")
  rm -f "$work/out.json"
  taskset -c 0 $driver --target "http://127.0.0.1:$port" --seconds "$seconds" "$@" --json "$work/out.json" >/dev/null || true
  local after; after=$(cpu_ticks "$pid")
  [[ -s $work/out.json ]] || { echo "the driver wrote no result for: $*" >&2; exit 1; }
  python3 - "$work/out.json" "$before" "$after" "$(getconf CLK_TCK)" "$(rss_kb "$pid")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); ticks = int(sys.argv[3]) - int(sys.argv[2]); hz = int(sys.argv[4])
if r["requests"] == 0: sys.exit("the driver sent no request")
if r["late"]: print(f'{r["late"]} starts were over 10 ms late (the driver fell behind)', file=sys.stderr)
cpu_us = ticks / hz * 1e6 / max(1, r["requests"])
ms = lambda h, q: r[h][q] / 1000
print(f'{r["rps"]:.0f} {ms("latency_us", "p50"):.3f} {ms("latency_us", "p99"):.3f} {ms("latency_us", "p99.9"):.3f} '
      f'{ms("ttft_us", "p50"):.3f} {ms("ttft_us", "p99"):.3f} {cpu_us:.0f} {int(sys.argv[5]) / 1024:.0f} {r["errors"]}')
PY
}

# The gateway's overhead histogram (summed over operations) as "le count" lines.
overhead() {
  { curl -sf "http://127.0.0.1:$1/metrics" || echo "the gateway's /metrics did not answer" >&2; } | sed -n 's/^octomesh_gateway_overhead_seconds_bucket{.*le="\([^"]*\)".*} \([0-9.e+]*\)$/\1 \2/p' \
    | awk '{sum[$1] += $2} END {for (le in sum) print le, sum[le]}'
}

declare -A results
for target in nginx gateway; do
  if [[ $target == nginx ]]; then
    taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"
    until [[ -s $work/nginx.pid ]]; do sleep 0.05; done
    pid=$(cat "$work/nginx.pid"); pid=$(pgrep -P "$pid" | head -1 || echo "$pid"); port=$ngx_port
  else
    DOTNET_GCgen0size=400000 DOTNET_GCRegionSize=100000 taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
    pid=$!; port=$gw_port
    until curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null; do sleep 0.05; done
  fi
  taskset -c 0 $driver --target "http://127.0.0.1:$port" --seconds 2 --users 64 >/dev/null || true   # warm-up
  results[$target,json]=$(run "$pid" "$port" --users 64)
  results[$target,stream]=$(run "$pid" "$port" --users 64 --stream 1)
  [[ $target == gateway ]] && overhead "$port" >"$work/overhead.before"
  results[$target,json_rate]=$(run "$pid" "$port" --users 8 --rate "$rate")
  [[ $target == gateway ]] && overhead "$port" >"$work/overhead.after"
  results[$target,stream_rate]=$(run "$pid" "$port" --users 8 --rate "$stream_rate" --stream 1)
  if [[ $target == nginx ]]; then kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"; else kill "$pid"; wait "$pid" 2>/dev/null || true; fi
done

# Side by side: nginx and the gateway on CPU 1 at once, each under the same fixed-rate load from its own driver, CPU
# per request read for both over the same window. The machine's own speed drifts by 10–20% within minutes (one
# target's runs a minute apart differ by as much), so the ratios above, from runs 40 s apart, swing with it; within
# one window the drift is the same for both. Three rounds each of JSON and streams, "nginx_us gateway_us" per round.
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"
until [[ -s $work/nginx.pid ]]; do sleep 0.05; done
npid=$(cat "$work/nginx.pid"); npid=$(pgrep -P "$npid" | head -1 || echo "$npid")
DOTNET_GCgen0size=400000 DOTNET_GCRegionSize=100000 taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
gpid=$!
until curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null; do sleep 0.05; done
both() {
  local n0 g0 other
  n0=$(cpu_ticks "$npid"); g0=$(cpu_ticks "$gpid")
  taskset -c 0 $driver --target "http://127.0.0.1:$ngx_port" "$@" --json "$work/n.json" >/dev/null &
  other=$!
  taskset -c 0 $driver --target "http://127.0.0.1:$gw_port" "$@" --json "$work/g.json" >/dev/null || true
  wait "$other" || true
  python3 - "$work/n.json" "$work/g.json" "$(($(cpu_ticks "$npid") - n0))" "$(($(cpu_ticks "$gpid") - g0))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
n, g = (json.load(open(path)) for path in sys.argv[1:3]); hz = int(sys.argv[5])
print(" ".join(f"{int(ticks) / hz * 1e6 / max(1, r['requests']):.0f}" for r, ticks in ((n, sys.argv[3]), (g, sys.argv[4]))))
PY
}
both --seconds 2 --users 64 >/dev/null   # warm-up
side_json="" side_stream=""
for round in 1 2 3; do
  side_json+="$(both --seconds "$seconds" --users 8 --rate "$rate");"
  side_stream+="$(both --seconds "$seconds" --users 8 --rate "$stream_rate" --stream 1);"
done
kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"; kill "$gpid"; wait "$gpid" 2>/dev/null || true

soak=""
if [[ ${SOAK:-0} -gt 0 ]]; then
  DOTNET_GCgen0size=400000 DOTNET_GCRegionSize=100000 taskset -c 1 "$bin" serve --config "$work/config.json" --urls "http://127.0.0.1:$gw_port" --log-level Warning >"$work/gw.log" 2>&1 &
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

table=$(python3 - "$seconds" "$rate" "$stream_rate" "$work/overhead.before" "$work/overhead.after" "$side_json" "$side_stream" \
  "${results[nginx,json]}" "${results[gateway,json]}" "${results[nginx,stream]}" "${results[gateway,stream]}" \
  "${results[nginx,json_rate]}" "${results[gateway,json_rate]}" "${results[nginx,stream_rate]}" "${results[gateway,stream_rate]}" <<'PY'
import sys
seconds, rate, stream_rate, before, after, side_json, side_stream = sys.argv[1:8]
fields = ["rps", "p50", "p99", "p999", "ttft50", "ttft99", "cpu", "rss", "errors"]
runs = [dict(zip(fields, map(float, a.split()))) for a in sys.argv[8:16]]
(nj, gj, ns, gs, njr, gjr, nsr, gsr) = runs
def buckets(path):
    return {float(le): float(n) for le, n in (line.split() for line in open(path) if line.strip())}
b, a = buckets(before), buckets(after)
counts = sorted((le, a[le] - b.get(le, 0)) for le in a)
total = counts[-1][1] if counts else 0
def bound(q):
    for le, n in counts:
        if total and n >= q * total:
            return "≤ " + (f"{le * 1e6:.0f} µs" if le < 0.001 else f"{le * 1e3:g} ms") if le != float("inf") else "> 100 ms"
    return "n/a"
rows = [f"Measured by `bash loadtests/run.sh {seconds}` ({seconds} s per run; nginx and the gateway each pinned to CPU 1 in turn, the simulator and the driver on CPU 0). "
        f"Throughput: 64 connections, closed model. Latency: open model at a fixed rate (JSON {rate}/s, streams {stream_rate}/s), 8 connections.", "",
        "| scenario | target | rps | p50 | p99 | p99.9 | TTFT p50 | TTFT p99 | CPU per request | RSS | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
scenarios = (("JSON, 64 connections", nj, gj, False), ("stream, 64 connections", ns, gs, True),
             (f"JSON at {rate}/s", njr, gjr, False), (f"stream at {stream_rate}/s", nsr, gsr, True))
for name, n, g, stream in scenarios:
    for target, r in (("nginx", n), ("gateway", g)):
        ttft = (f'{r["ttft50"]:.2f} ms', f'{r["ttft99"]:.2f} ms') if stream else ("", "")
        rows.append(f'| {name} | {target} | {r["rps"]:.0f} | {r["p50"]:.2f} ms | {r["p99"]:.2f} ms | {r["p999"]:.2f} ms | {ttft[0]} | {ttft[1]} | {r["cpu"]:.0f} µs | {r["rss"]:.0f} MB | {r["errors"]:.0f} |')
rss = max(g["rss"] for g in (gj, gs, gjr, gsr))
def side(rounds):
    pairs = [tuple(map(float, r.split())) for r in rounds.split(";") if r.strip()]
    ratios = sorted(g / n for n, g in pairs)
    spread = f"{ratios[0]:.1f}" if f"{ratios[0]:.1f}" == f"{ratios[-1]:.1f}" else f"{ratios[0]:.1f}–{ratios[-1]:.1f}"
    return (f"{spread}× (median {ratios[len(ratios) // 2]:.1f}×; nginx {min(n for n, _ in pairs):.0f}–{max(n for n, _ in pairs):.0f} µs, "
            f"gateway {min(g for _, g in pairs):.0f}–{max(g for _, g in pairs):.0f} µs)")
rows += ["",
    f'- Throughput at 64 connections: JSON {gj["rps"] / nj["rps"]:.0%} of nginx\'s, streams {gs["rps"] / ns["rps"]:.0%} (aim ≥ 80%).',
    f'- CPU per request, gateway ÷ nginx: at 64 connections JSON {gj["cpu"] / nj["cpu"]:.1f}×, streams {gs["cpu"] / ns["cpu"]:.1f}×; '
    f'at the fixed rate JSON {gjr["cpu"] / njr["cpu"]:.1f}×, streams {gsr["cpu"] / nsr["cpu"]:.1f}× (aim ≤ 2×).',
    f'- The same, side by side (both targets on CPU 1 at once under the fixed rates, each with its own driver, three rounds of {seconds} s; '
    f'in one window the machine\'s drift is the same for both): JSON {side(side_json)}; streams {side(side_stream)} (aim ≤ 2×).',
    f'- Added latency at {rate}/s: p50 {gjr["p50"] - njr["p50"]:+.2f} ms, p99 {gjr["p99"] - njr["p99"]:+.2f} ms (aim ≤ 1 ms); '
    f'added time to first token at {stream_rate}/s: p50 {gsr["ttft50"] - nsr["ttft50"]:+.2f} ms, p99 {gsr["ttft99"] - nsr["ttft99"]:+.2f} ms (aim ≤ 0.5 ms).',
    f'- The gateway\'s own overhead over the JSON run at {rate}/s (its `octomesh_gateway_overhead_seconds` histogram, {total:.0f} requests): '
    f'p50 {bound(0.5)}, p99 {bound(0.99)}, p99.9 {bound(0.999)}.',
    f'- Gateway RSS: {rss:.0f} MB at most (aim ≤ 60 MB).']
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

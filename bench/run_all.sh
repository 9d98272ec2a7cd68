#!/usr/bin/env bash
# `make bench`: builds the benchmarks (Release, build-bench/), starts a tensord and the raw gRPC
# anchor on free loopback ports, runs every benchmark side by side with its anchor, and writes
# bench/results/latest.json and bench/results/latest.md. Not part of `make test`.
# Usage: bench/run_all.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
build=build-bench
out=bench/results
mkdir -p "$out"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTENSORD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target tensord raw_echo_server remote_bench engine_vs_libtorch >/dev/null

logs=$(mktemp -d)
"$build/server/tensord" --listen=127.0.0.1:0 --max_session_bytes=$((4 << 30)) --max_message_bytes=$((16 << 20)) \
  >"$logs/tensord.log" 2>&1 &
tpid=$!
"$build/bench/raw_echo_server" --listen=127.0.0.1:0 >"$logs/echo.log" 2>&1 &
epid=$!
trap 'kill $tpid $epid 2>/dev/null; wait 2>/dev/null; rm -rf "$logs"' EXIT
for _ in $(seq 1 100); do
  tport=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$logs/tensord.log" | head -n1)
  eport=$(awk '/^port/ {print $2}' "$logs/echo.log")
  [ -n "$tport" ] && [ -n "$eport" ] && break
  sleep 0.05
done

echo "== engine vs libtorch (same process) =="
"$build/bench/engine_vs_libtorch" --rounds=9 --json="$out/engine_vs_libtorch.json"
echo
echo "== remote: tensord vs raw gRPC =="
"$build/bench/remote_bench" --tensord=127.0.0.1:"$tport" --echo=127.0.0.1:"$eport" --server_pid=$tpid \
  --json="$out/remote.json" $quick
echo
echo "== PyTorch RPC anchor (torch.distributed.rpc, two local processes) =="
/usr/bin/python3 bench/torch_rpc_bench.py --requests 2000 2>/dev/null | tail -n1 >"$out/torch_rpc.json"
cat "$out/torch_rpc.json"

/usr/bin/python3 - "$out" <<'PY'
import json, sys, os, datetime
out = sys.argv[1]
e = json.load(open(os.path.join(out, "engine_vs_libtorch.json")))
r = json.load(open(os.path.join(out, "remote.json")))
t = json.load(open(os.path.join(out, "torch_rpc.json")))
rows = []
def row(name, value, target, ok):
    rows.append((name, value, target, "met" if ok else "MISSED"))
row("1. op p50: tensord / raw gRPC echo", f"{r['op_vs_echo_p50_ratio']:.3f} ({r['op_p50_us']:.1f} vs {r['echo_p50_us']:.1f} us)", "<= 1.10", r["op_vs_echo_p50_ratio"] <= 1.10)
speed = t["p50_us"] / r["op_p50_us"]
row("2. op p50: PyTorch RPC / tensord", f"{speed:.1f}x ({t['p50_us']:.0f} vs {r['op_p50_us']:.1f} us)", ">= 3x", speed >= 3)
row("3. pipelined speedup (10,000 ops + item)", f"{r['pipelined_speedup']:.1f}x, {r['pipelined_us_per_op']:.2f} us/op", ">= 20x, <= 8 us/op", r["pipelined_speedup"] >= 20 and r["pipelined_us_per_op"] <= 8)
for mib in (1, 64, 512):
    k = f"xfer_{mib}MiB_ratio"
    if k in r:
        row(f"4. transfer {mib} MiB up+down / raw stream", f"{r[k]:.3f} ({r[f'xfer_{mib}MiB_tensord_MiBps']:.0f} vs {r[f'xfer_{mib}MiB_raw_MiBps']:.0f} MiB/s)", ">= 0.8", r[k] >= 0.8)
for x in e["rows"]:
    row("5. " + x["name"], f"{x['ratio']:.3f} ({x['engine']:.3f} vs {x['libtorch']:.3f} {x['unit']})", f"<= {x['target']}", x["ratio"] <= x["target"])
for c in (1, 8, 64):
    k = f"conc{c}"
    if k + "_steps_per_s" in r:
        before, peak, after = r[k + "_rss_before_kib"], r[k + "_rss_peak_kib"], r[k + "_rss_after_kib"]
        ok = r[k + "_errors"] == 0
        row(f"6. {c} clients, tutorial step", f"{r[k+'_steps_per_s']:.0f}/s, p50 {r[k+'_p50_us']:.0f} us, p99 {r[k+'_p99_us']:.0f} us, errors {r[k+'_errors']:.0f}, RSS {before/1024:.0f}->{peak/1024:.0f}->{after/1024:.0f} MiB", "0 errors", ok)
merged = {"date": datetime.datetime.utcnow().isoformat() + "Z", "engine_vs_libtorch": e, "remote": r, "torch_rpc": t,
          "table": [dict(zip(("benchmark", "measured", "target", "result"), x)) for x in rows]}
json.dump(merged, open(os.path.join(out, "latest.json"), "w"), indent=2)
with open(os.path.join(out, "latest.md"), "w") as f:
    f.write("| benchmark | measured (ratio; raw numbers) | target | result |\n|---|---|---|---|\n")
    for x in rows:
        f.write("| " + " | ".join(x) + " |\n")
print(open(os.path.join(out, "latest.md")).read())
PY

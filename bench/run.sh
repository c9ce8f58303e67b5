#!/usr/bin/env bash
# The whole comparison in one command: REST in both set-ups of ANCHOR.md (pin1: one server process
# pinned to CPU 0, wrk on CPU 1; free2: two processes, nothing pinned), then WebSocket fan-out,
# each scenario TaskFlow then the FastAPI anchor, on the same MariaDB and Redis with the same
# client; prints one table with both and TaskFlow's ratio. About 15 minutes. TaskFlow runs in its
# production topology (bench/serve: nginx in front of HTTP-only uvicorn processes and WebSocket-only
# $SERVER processes); TF_SERVE=serve runs taskflow.serve alone, each process serving both (bench/lib.sh).
#
#   bench/run.sh
#
# Env: TF_SERVE (topology), SERVER (uvicorn), FANOUT_N ("100 500 1000 2000"), FANOUT_PROCS (2), TASKS (10000),
# DURATION (10s), PERF (../shared/perf), OUT (bench/results/run-<time>). The TaskFlow database
# (taskflow_bench) is seeded once and reused by the later steps.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/results/run-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
export SERVER="${SERVER:-uvicorn}" TASKS="${TASKS:-10000}" TF_SERVE="${TF_SERVE:-topology}"
FANOUT_N="${FANOUT_N:-100 500 1000 2000}"

echo "== REST pin1"
PROCS=1 SERVER_CPUS=0 CLIENT_CPUS=1 OUT="$OUT/rest-pin1" "$ROOT/bench/rest.sh" >/dev/null
echo "== REST free2"
PROCS=2 SERVER_CPUS= CLIENT_CPUS= REUSE_DATABASE=1 OUT="$OUT/rest-free2" "$ROOT/bench/rest.sh" >/dev/null
echo "== fan-out"
# shellcheck disable=SC2086
PROCS="${FANOUT_PROCS:-2}" SERVER_CPUS= CLIENT_CPUS=0,1 REUSE_DATABASE=1 OUT="$OUT/fanout" \
	"$ROOT/bench/fanout.sh" $FANOUT_N >/dev/null

{
	echo "# TaskFlow ($TF_SERVE, $SERVER) vs the FastAPI anchor, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs"
	echo
	echo "REST: req/s (p50 / p99 ms)"
	printf '%-14s %-26s %-26s %s\n' "scenario" "TaskFlow" "anchor" "ratio"
	for setup in pin1 free2; do
		awk -v setup="$setup" '
			$1 == "taskflow" || $1 == "anchor" { v[$1, $2] = sprintf("%s (%s / %s)", $3, $4, $5); r[$1, $2] = $3; s[$2] = 1 }
			END { for (k in s) if (r["anchor", k] > 0)
				printf "%-14s %-26s %-26s %.2f\n", setup " " k, v["taskflow", k], v["anchor", k], r["taskflow", k] / r["anchor", k] }
		' "$OUT/rest-$setup/summary.txt" | sort
	done
	echo
	echo "Fan-out, ${WRITES:-200} writes at ${RATE:-20}/s: latency from PATCH sent, p50/p95/p99/max ms; lost, duplicated, out of order"
	grep -E '^(taskflow|anchor) ' "$OUT/fanout/summary.txt" | sed -E 's/RESULT subscribers=[0-9]+ deliveries=[0-9]+ //' | sort -k2,2n -k1,1r
} | tee "$OUT/table.txt"
echo "results in $OUT"

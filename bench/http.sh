#!/usr/bin/env bash
# The HTTP side, server against server: bench/rest.sh for each way of serving TaskFlow's REST API,
# in both set-ups of ANCHOR.md (pin1: one server process on CPU 0, wrk on CPU 1; free2: two
# processes, nothing pinned), ROUNDS times in alternation (so that a burst of other load on the
# machine hits every one alike), then one table: the median req/s and p99 over the rounds, with
# their spread (min-max).
#
#   bench/http.sh
#
# MODES ("uvicorn topology anchor"): uvicorn is taskflow.serve with uvicorn alone (the threaded ASGI
# handler, both protocols in each process, no nginx), topology is bench/serve (nginx in front of
# HTTP-only and WebSocket-only uvicorn processes), anchor the FastAPI anchor, in every round. Env: ROUNDS (3), SETUPS ("pin1 free2"), and those
# of rest.sh (TASKS, DURATION, DATABASE: seeded once, then reused; PERF, REDIS_URL), OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/results/http-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
MODES="${MODES:-uvicorn topology anchor}"
SETUPS="${SETUPS:-pin1 free2}"
ROUNDS="${ROUNDS:-3}"
: >"$OUT/rounds.txt"

run() {  # SETUP MODE ROUND
	local setup=$1 mode=$2 round=$3 procs=1 server_cpus=0 client_cpus=1 dir
	local tf_serve=$mode taskflow=1 anchor=0
	dir="$OUT/$setup-$mode-$round"
	if [ "$setup" = free2 ]; then procs=2 server_cpus= client_cpus=; fi
	if [ "$mode" = uvicorn ]; then tf_serve=serve; fi
	if [ "$mode" = anchor ]; then taskflow=0 anchor=1; fi
	env TF_SERVE="$tf_serve" SERVER=uvicorn TASKFLOW=$taskflow ANCHOR=$anchor REUSE_DATABASE=1 PROCS=$procs \
		SERVER_CPUS=$server_cpus CLIENT_CPUS=$client_cpus OUT="$dir" "$ROOT/bench/rest.sh" >/dev/null
	# rest.sh's lines: implementation scenario req/s p50_ms p99_ms errors
	awk -v s="$setup" -v m="$mode" -v r="$round" '$1 == "taskflow" || $1 == "anchor" { print s, m, r, $2, $3, $4, $5, $6 }' \
		"$dir/summary.txt" | tee -a "$OUT/rounds.txt"
}

for round in $(seq "$ROUNDS"); do
	for setup in $SETUPS; do
		for mode in $MODES; do
			echo "== round $round $setup $mode $(date -u +%H:%M:%S)"
			run "$setup" "$mode" "$round"
		done
	done
done

{
	echo "# REST by server, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $ROUNDS rounds, commit $(git -C "$ROOT" rev-parse --short HEAD)"
	echo "# setup scenario mode: req/s median (min-max), p99 ms median (min-max), errors (sum)"
	sort -k1,1 -k4,4 -k2,2 "$OUT/rounds.txt" | awk '
		function median(list, n,   i, j, t, v) {
			split(list, v, " "); n = length(v)
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		function lo(list,   v, i, n, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 < m + 0) m = v[i]; return m }
		function hi(list,   v, i, n, m) { n = split(list, v, " "); m = v[1]; for (i = 2; i <= n; i++) if (v[i] + 0 > m + 0) m = v[i]; return m }
		{ k = $1 " " $4 " " $2; if (!(k in rps)) order[++count] = k; rps[k] = rps[k] " " $5; p99[k] = p99[k] " " $7; err[k] += $8 }
		END { for (i = 1; i <= count; i++) { k = order[i]
			printf "%-34s %8.1f (%s-%s)  p99 %6.1f (%s-%s)  errors %d\n", k, median(rps[k]), lo(rps[k]), hi(rps[k]),
				median(p99[k]), lo(p99[k]), hi(p99[k]), err[k] } }'
} | tee "$OUT/table.txt"
echo "results in $OUT"

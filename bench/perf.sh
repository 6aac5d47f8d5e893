#!/usr/bin/env bash
# perf.sh: the measurement matrix behind docs/PERFORMANCE.md. Runs `chronik
# bench produce --embedded` for 1 broker RF=1 and 3 brokers RF=3, 1 and 8
# partitions, 1 KiB records, acks=all (as fast as possible, then at a fixed
# 10,000 records/s), each RUNS times, and prints the median of each figure.
# Then runs the raw dragonboat yardstick RUNS times beside it.
#
#   bench/perf.sh                 # from the repository root; needs go and jq
#   RUNS=5 DURATION=20s bench/perf.sh
#
# Every run starts a fresh in-process cluster in a temporary directory.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CEILING=${CEILING:-/work/shared/tools/raft-ceiling}
BIN=${BIN:-$(mktemp -d)/chronik}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

go build -o "$BIN" ./cli/chronik
echo "binary $BIN, raw results in $OUT" >&2

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# run NAME ARGS...: RUNS runs of bench produce, then one table row of medians.
run() {
	local name=$1
	shift
	for i in $(seq "$RUNS"); do
		"$BIN" bench produce --embedded --record-size 1KiB --acks all --json -q \
			--duration "$DURATION" --warmup "$WARMUP" --topic "bench-$i" "$@" >"$OUT/$name.$i.json"
	done
	local f=("$OUT/$name".*.json)
	local rps mib p50 p99 failed
	rps=$(jq -r .records_per_sec "${f[@]}" | median)
	mib=$(jq -r .mib_per_sec "${f[@]}" | median)
	p50=$(jq -r .latency.p50_ms "${f[@]}" | median)
	p99=$(jq -r .latency.p99_ms "${f[@]}" | median)
	failed=$(jq -r .failed "${f[@]}" | paste -sd+ | bc)
	printf '| %s | %.0f | %.1f | %.2f | %.2f | %d |\n' "$name" "$rps" "$mib" "$p50" "$p99" "$failed"
}

echo "| run | records/s | MiB/s | p50 ms | p99 ms | failed (all runs) |"
echo "|---|---:|---:|---:|---:|---:|"
run 1node-rf1-1p --nodes 1 --replication-factor 1 --partitions 1
run 1node-rf1-8p --nodes 1 --replication-factor 1 --partitions 8
run 3node-rf3-1p --nodes 3 --replication-factor 3 --partitions 1
run 3node-rf3-8p --nodes 3 --replication-factor 3 --partitions 8
run 1node-rf1-8p-10k --nodes 1 --replication-factor 1 --partitions 8 --rate 10000
run 3node-rf3-8p-10k --nodes 3 --replication-factor 3 --partitions 8 --rate 10000

echo
echo "raw dragonboat (tan, 8 shards, 64 KiB entries, 16 in flight, 3 replicas in one process), medians of $RUNS:"
for i in $(seq "$RUNS"); do
	(cd "$CEILING" && go run . -json -port $((20000 + RANDOM % 20000)) -logdb tan -shards 8 -payload 65536 -inflight 16 -duration "$DURATION" -dir "$(mktemp -d)") \
		>"$OUT/ceiling.$i.json"
done
ceil=$(jq -r .mb_per_s "$OUT"/ceiling.*.json | median)
cp50=$(jq -r .p50_ms "$OUT"/ceiling.*.json | median)
cp99=$(jq -r .p99_ms "$OUT"/ceiling.*.json | median)
chronik=$(jq -r '.bytes / .elapsed_s / 1e6' "$OUT"/3node-rf3-8p.*.json | median)
printf 'ceiling %.1f MB/s (p50 %.2f ms, p99 %.2f ms); chronik 3 brokers RF=3 8 partitions %.1f MB/s = %.0f%% of it (MB = 10^6 bytes)\n' \
	"$ceil" "$cp50" "$cp99" "$chronik" "$(echo "100 * $chronik / $ceil" | bc -l)"

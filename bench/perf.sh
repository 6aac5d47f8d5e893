#!/usr/bin/env bash
# perf.sh: the measurement matrix behind docs/PERFORMANCE.md. Runs `chronik
# bench produce --embedded` for 1 broker RF=1 and 3 brokers RF=3, 1 and 8
# partitions, 1 KiB records, acks=all (as fast as possible, then at a fixed
# 10,000 records/s), each RUNS times, and prints the median of each figure.
# The raw dragonboat yardstick runs RUNS times, alternating with the 3-broker
# 8-partition runs, and the median ratio of the pairs is printed.
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
CEILING_BIN=$(dirname "$BIN")/raftceiling
(cd "$CEILING" && go build -o "$CEILING_BIN" .)
echo "binary $BIN, raw results in $OUT" >&2

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# produce NAME I ARGS...: run I of bench produce for row NAME.
produce() {
	local name=$1 i=$2
	shift 2
	"$BIN" bench produce --embedded --record-size 1KiB --acks all --json -q \
		--duration "$DURATION" --warmup "$WARMUP" --topic "bench-$i" "$@" >"$OUT/$name.$i.json"
}

# ceiling I: run I of the raw dragonboat yardstick (a random port range:
# others may run it on its default ports).
ceiling() {
	"$CEILING_BIN" -json -port $((20000 + RANDOM % 20000)) -logdb tan -shards 8 \
		-payload 65536 -inflight 16 -duration "$DURATION" -dir "$(mktemp -d)" >"$OUT/ceiling.$1.json"
}

# row NAME: one table row of medians over NAME's runs.
row() {
	local name=$1
	local f=("$OUT/$name".*.json)
	local rps mib p50 p99 failed
	rps=$(jq -r .records_per_sec "${f[@]}" | median)
	mib=$(jq -r .mib_per_sec "${f[@]}" | median)
	p50=$(jq -r .latency.p50_ms "${f[@]}" | median)
	p99=$(jq -r .latency.p99_ms "${f[@]}" | median)
	failed=$(jq -r .failed "${f[@]}" | paste -sd+ | bc)
	# The spread: the lowest and highest records/s and p50 of the runs.
	local rr pr
	rr=$(jq -r .records_per_sec "${f[@]}" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.0f-%.0f", lo, hi}')
	pr=$(jq -r .latency.p50_ms "${f[@]}" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.1f-%.1f", lo, hi}')
	printf '| %s | %.0f | %.1f | %.2f | %.2f | %d | %s | %s |\n' "$name" "$rps" "$mib" "$p50" "$p99" "$failed" "$rr" "$pr"
}

# run NAME ARGS...: RUNS runs, then the row.
run() {
	local name=$1
	shift
	for i in $(seq "$RUNS"); do
		produce "$name" "$i" "$@"
	done
	row "$name"
}

echo "| run | records/s | MiB/s | p50 ms | p99 ms | failed (all runs) | records/s range | p50 range |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
run 1node-rf1-1p --nodes 1 --replication-factor 1 --partitions 1
run 1node-rf1-8p --nodes 1 --replication-factor 1 --partitions 8
run 3node-rf3-1p --nodes 3 --replication-factor 3 --partitions 1
# The 3-broker, 8-partition runs alternate with the yardstick, so each
# ratio compares two runs made under the same load on this shared machine.
for i in $(seq "$RUNS"); do
	produce 3node-rf3-8p "$i" --nodes 3 --replication-factor 3 --partitions 8
	ceiling "$i"
done
row 3node-rf3-8p
# A broker answers one connection's requests one at a time (as Kafka does),
# so more producers (connections) show how far a cluster scales past one.
run 1node-rf1-8p-4prod --nodes 1 --replication-factor 1 --partitions 8 --producers 4
run 3node-rf3-8p-4prod --nodes 3 --replication-factor 3 --partitions 8 --producers 4
run 1node-rf1-8p-10k --nodes 1 --replication-factor 1 --partitions 8 --rate 10000
run 3node-rf3-8p-10k --nodes 3 --replication-factor 3 --partitions 8 --rate 10000
run 3node-rf3-1p-10k --nodes 3 --replication-factor 3 --partitions 1 --rate 10000

# consume NAME ARGS...: RUNS times, fill a kept embedded cluster with
# CONSUME_RECORDS records, restart it and read them back; one row of medians.
consume() {
	local name=$1
	shift
	for i in $(seq "$RUNS"); do
		local d
		d=$(mktemp -d)
		"$BIN" bench produce --embedded --dir "$d" --record-size 1KiB --acks all -q \
			--records "${CONSUME_RECORDS:-200000}" --topic consume "$@" >/dev/null
		"$BIN" bench consume --embedded --dir "$d" --topic consume --json -q \
			--records "${CONSUME_RECORDS:-200000}" >"$OUT/$name.$i.json"
		rm -rf "$d"
	done
	local f=("$OUT/$name".*.json)
	printf '| %s | %.0f | %.1f | | | %d | | |\n' "$name" \
		"$(jq -r .records_per_sec "${f[@]}" | median)" "$(jq -r .mib_per_sec "${f[@]}" | median)" \
		"$(jq -r .failed "${f[@]}" | paste -sd+ | bc)"
}
consume consume-1node-rf1-8p --nodes 1 --replication-factor 1 --partitions 8
consume consume-3node-rf3-8p --nodes 3 --replication-factor 3 --partitions 8

# The yardstick's commit latency: 1 KiB entries, one in flight, one shard.
for i in $(seq "$RUNS"); do
	"$CEILING_BIN" -json -port $((20000 + RANDOM % 20000)) -logdb tan -shards 1 -payload 1024 -inflight 1 \
		-duration "$DURATION" -dir "$(mktemp -d)" >"$OUT/ceiling-lat.$i.json"
done

echo
ratios=$(for i in $(seq "$RUNS"); do
	echo "$(jq -r '.bytes / .elapsed_s / 1e6' "$OUT/3node-rf3-8p.$i.json") $(jq -r .mb_per_s "$OUT/ceiling.$i.json")" |
		awk '{print 100 * $1 / $2}'
done | median)
printf 'raw dragonboat (tan, 8 shards, 64 KiB entries, 16 in flight, 3 replicas in one process), medians of %s:\n' "$RUNS"
printf 'ceiling %.1f MB/s (p50 %.2f ms, p99 %.2f ms); chronik 3 brokers RF=3 8 partitions %.1f MB/s; ratio %.0f%% (median of per-pair ratios; MB = 10^6 bytes)\n' \
	"$(jq -r .mb_per_s "$OUT"/ceiling.*.json | median)" \
	"$(jq -r .p50_ms "$OUT"/ceiling.*.json | median)" \
	"$(jq -r .p99_ms "$OUT"/ceiling.*.json | median)" \
	"$(jq -r '.bytes / .elapsed_s / 1e6' "$OUT"/3node-rf3-8p.*.json | median)" \
	"$ratios"
printf 'raw dragonboat commit latency (tan, 1 shard, 1 KiB, one in flight), medians of %s: p50 %.2f ms, p99 %.2f ms, %.0f commits/s\n' "$RUNS" \
	"$(jq -r .p50_ms "$OUT"/ceiling-lat.*.json | median)" \
	"$(jq -r .p99_ms "$OUT"/ceiling-lat.*.json | median)" \
	"$(jq -r .proposals_per_s "$OUT"/ceiling-lat.*.json | median)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

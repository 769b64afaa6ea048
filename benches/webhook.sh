#!/usr/bin/env bash
# The webhook sink (issue 5): disk-queue throughput (fsync per batch of 256 alerts, and none),
# delivery of a backlog to a local receiver, and RSS while the receiver is down and alerts keep
# coming (500/s). Runs examples/webhook_bench.rs --runs times; prints each run's lines, then the
# medians.
#
# Usage: benches/webhook.sh [--runs K] [--alerts N] [--outage SECS] [--batch ALERTS_PER_FSYNC]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=3
alerts=100000
outage=60
batch=256
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --alerts) alerts=$2; shift 2 ;;
        --outage) outage=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
cd "$root"
cargo build --release --example webhook_bench >&2
out=$(mktemp)
for r in $(seq "$runs"); do
    echo "run $r" >&2
    target/release/examples/webhook_bench "$alerts" "$outage" "$batch" | tee -a "$out" >&2
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians of $runs runs, $(nproc) cores:"
echo "  queue fsync=batch ($batch alerts per fsync): $(grep 'fsync=Batch' "$out" | awk '{print $5}' | median) alerts/s"
echo "  queue fsync=never: $(grep 'fsync=Never' "$out" | awk '{print $5}' | median) alerts/s"
echo "  delivery of $alerts: $(grep '^delivery' "$out" | awk '{print $6}' | median) s"
echo "  outage of $outage s: peak RSS $(grep '^outage' "$out" | awk '{print $(NF-1)}' | median) KiB"
rm -f "$out"

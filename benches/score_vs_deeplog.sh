#!/usr/bin/env bash
# Side-by-side scoring speed: `dante score` vs the PyTorch DeepLog package (pip `deeplog`).
#
# dante: trains on hdfs_train, then times the whole `dante score` process on the abnormal test
# file followed by the training file (medians of --runs). DeepLog: with --with-deeplog only, since
# its install (PyTorch) is ~5 GB; it is set up in a venv under --work and timed by
# benches/deeplog_bench.py (windows of h = 10, k = 9, batched and one at a time).
#
# Usage: benches/score_vs_deeplog.sh [--data DIR] [--runs K] [--work DIR] [--with-deeplog]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/hdfs"
runs=5
work="$root/target/bench"
with_deeplog=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --with-deeplog) with_deeplog=1; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -f "$data/hdfs_train" ] && [ -f "$data/hdfs_test_abnormal" ] || {
    echo "no hdfs_train / hdfs_test_abnormal in $data" >&2; exit 2; }
mkdir -p "$work"
bin=${DANTE_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release >&2)
    bin="$root/target/release/dante"
fi
sessions="$work/hdfs_score_input"
cat "$data/hdfs_test_abnormal" "$data/hdfs_train" > "$sessions"
events=$(wc -w < "$sessions")

echo "[bench] training dante on $data/hdfs_train" >&2
"$bin" train --sessions "$data/hdfs_train" --out "$work/hdfs.model" 2> "$work/train.log"
tail -1 "$work/train.log" >&2

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
times=()
for i in $(seq "$runs"); do
    s=$(date +%s.%N)
    "$bin" score --model "$work/hdfs.model" --sessions "$sessions" > /dev/null 2>&1
    e=$(date +%s.%N)
    times+=("$(awk -v a="$s" -v b="$e" 'BEGIN {print b - a}')")
done
dante_s=$(printf '%s\n' "${times[@]}" | median)

echo "## dante score vs DeepLog (PyTorch)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) cores, $(uname -m)"
echo "- input: $events keys in $(wc -l < "$sessions") sessions; dante runs: $runs, median"
echo
echo "| tool | what | events (or windows)/s |"
echo "|---|---|---:|"
printf '| dante score | whole process, %s keys | %.0f |\n' "$events" "$(awk -v n="$events" -v t="$dante_s" 'BEGIN {print n / t}')"

if [ "$with_deeplog" = 1 ]; then
    venv="$work/deeplog-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # deeplog 0.0.3 does not declare its dependencies: PyTorch, torch-train, tqdm.
    "$venv/bin/pip" install -q deeplog torch torch-train tqdm >&2
    out=$("$venv/bin/python" "$root/benches/deeplog_bench.py" "$data/hdfs_train" "$data/hdfs_test_abnormal")
    echo "[bench] deeplog: $out" >&2
    python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| deeplog (PyTorch) | predict, batched | {r['batched_windows_per_s']} |")
print(f"| deeplog (PyTorch) | predict, one window at a time | {r['single_windows_per_s']} |")
PY
else
    echo "| deeplog (PyTorch) | not run here (add --with-deeplog; ~5 GB install) | — |"
fi

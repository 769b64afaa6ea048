#!/usr/bin/env bash
# End to end through the agent: lines → keys → users → score → JSONL sink, on one core.
#
# Generates authentication logs (`dante generate`), then times `dante run` with a stdin source
# and a file sink under `taskset -c 0` (medians of --runs), and reports lines/s and peak RSS.
# A second input with --users-rss distinct users (one day) measures memory with that many users
# tracked. With --callgrind N, also counts the instructions of one run over the first N lines of
# the first input (valgrind's callgrind: immune to the noise of a shared machine).
#
# Usage: benches/agent_e2e.sh [--runs K] [--users N] [--days D] [--users-rss N] [--callgrind N]
#                             [--work DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=5
users=2000
days=7
users_rss=100000
work="$root/target/bench/agent"
callgrind=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --users) users=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --users-rss) users_rss=$2; shift 2 ;;
        --callgrind) callgrind=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$work"
bin=${DANTE_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release -q)
    bin="$root/target/release/dante"
fi
"$bin" generate --users "$users" --days "$days" --seed 3 --out "$work/speed.log"
"$bin" generate --users "$users_rss" --days 2 --seed 4 --out "$work/users.log"

write_config() {
    rm -rf "$work/state" "$work/alerts.jsonl"
    cat > "$work/agent.toml" <<TOML
data_dir = "$work/state"
[sources.in]
type = "stdin"
[sinks.alerts]
type = "file"
path = "$work/alerts.jsonl"
[api]
enabled = false
[users]
max_users = 200000
TOML
}

run_once() { # input → "seconds peak_kib alerts"
    write_config
    /usr/bin/time -o "$work/time.txt" -f "%e %M" taskset -c 0 "$bin" run --config "$work/agent.toml" \
        < "$1" > /dev/null 2> "$work/stderr.txt"
    echo "$(tail -1 "$work/time.txt") $(wc -l < "$work/alerts.jsonl")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for input in speed users; do
    lines=$(wc -l < "$work/$input.log")
    : > "$work/$input.times"
    for _ in $(seq "$runs"); do run_once "$work/$input.log" >> "$work/$input.times"; done
    secs=$(cut -d' ' -f1 "$work/$input.times" | median)
    rss=$(cut -d' ' -f2 "$work/$input.times" | median)
    alerts=$(cut -d' ' -f3 "$work/$input.times" | median)
    awk -v n="$lines" -v s="$secs" -v r="$rss" -v a="$alerts" -v i="$input" \
        'BEGIN {printf "%-6s %9d lines  %6.2f s  %9.0f lines/s  peak RSS %6.1f MiB  %d alerts\n", i, n, s, n / s, r / 1024, a}'
done

if [ "$callgrind" -gt 0 ]; then
    head -n "$callgrind" "$work/speed.log" > "$work/callgrind.log"
    write_config
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
        "$bin" run --config "$work/agent.toml" < "$work/callgrind.log" > /dev/null 2> "$work/stderr.txt"
    instr=$(grep -o 'Collected : [0-9]*' "$work/stderr.txt" | grep -o '[0-9]*$')
    echo "callgrind: $callgrind lines, $instr instructions ($work/callgrind.out)"
fi

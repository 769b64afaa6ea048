#!/usr/bin/env bash
# End to end through the agent: lines → keys → users → score → JSONL sink, on one core.
#
# Generates authentication logs (`dante generate`), then times `dante run` with a stdin source
# and a file sink under `taskset -c 0` (medians of --runs), and reports lines/s and peak RSS.
# A second input with --users-rss distinct users (one day) measures memory with that many users
# tracked. With --callgrind N, also counts the instructions of one run over the first N lines of
# the first input (valgrind's callgrind: immune to the noise of a shared machine).
#
# --source file times the file source instead (`read_from = "beginning"`): it tails for ever, so
# the run is timed from start until /metrics counts every line through the core
# (`dante_events_total`, polled from core 1 every 10 ms), with the CPU time read from /proc at
# that moment; then it is stopped. Peak RSS is left out there (the process is still running).
#
# Usage: benches/agent_e2e.sh [--runs K] [--users N] [--days D] [--users-rss N] [--callgrind N]
#                             [--source stdin|file] [--work DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=5
users=2000
days=7
users_rss=100000
work="$root/target/bench/agent"
callgrind=0
source=stdin
port=18699
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --users) users=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --users-rss) users_rss=$2; shift 2 ;;
        --callgrind) callgrind=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --source) source=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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

case "$source" in
    stdin | file) ;;
    *) echo "--source: expected stdin or file, not $source" >&2; exit 2 ;;
esac

write_config() { # [input] → agent.toml: a stdin source, or the file source on input
    rm -rf "$work/state" "$work/alerts.jsonl"
    if [ $# -eq 0 ]; then
        sources='[sources.in]
type = "stdin"
[api]
enabled = false'
    else
        sources="[sources.in]
type = \"file\"
include = [\"$1\"]
read_from = \"beginning\"
[api]
enabled = true
address = \"127.0.0.1:$port\""
    fi
    cat > "$work/agent.toml" <<TOML
data_dir = "$work/state"
$sources
[sinks.alerts]
type = "file"
path = "$work/alerts.jsonl"
[users]
max_users = 200000
TOML
}

run_once() { # input → "seconds peak_kib alerts cpu_seconds"
    write_config
    /usr/bin/time -o "$work/time.txt" -f "%e %M %U %S" taskset -c 0 "$bin" run --config "$work/agent.toml" \
        < "$1" > /dev/null 2> "$work/stderr.txt"
    tail -1 "$work/time.txt" | awk -v a="$(wc -l < "$work/alerts.jsonl")" '{print $1, $2, a, $3 + $4}'
}

run_file_once() { # input → "seconds cpu_seconds alerts"
    local lines pid start end count ticks
    lines=$(wc -l < "$1")
    write_config "$1"
    # Another process answering there would be read instead of this run.
    if curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; then
        echo "127.0.0.1:$port is in use: stop what listens there first" >&2
        exit 1
    fi
    start=$(date +%s.%N)
    taskset -c 0 "$bin" run --config "$work/agent.toml" > /dev/null 2> "$work/stderr.txt" &
    pid=$!
    # However this script ends, the agent does not outlive it.
    trap 'kill -TERM "$pid" 2> /dev/null || true' EXIT
    count=0
    last=
    stalled=0
    while [ "$count" != "$lines" ]; do
        if ! kill -0 "$pid" 2> /dev/null; then
            echo "dante run stopped early: $(tail -3 "$work/stderr.txt")" >&2
            exit 1
        fi
        # A dante without the counter (older builds), or one that stopped reading, would keep
        # this loop going: give up after 20 s without progress.
        if [ "$count" = "$last" ]; then stalled=$((stalled + 1)); else stalled=0; last=$count; fi
        if [ "$stalled" -gt 2000 ]; then
            kill -TERM "$pid"
            echo "no progress past ${count:-0} of $lines lines (dante_events_total) for 20 s" >&2
            exit 1
        fi
        sleep 0.01
        # Before the API is up curl fails: that is no reason to stop.
        count=$( (taskset -c 1 curl -s "http://127.0.0.1:$port/metrics" || true) \
            | awk '$1 == "dante_events_total" {print $2}')
    done
    end=$(date +%s.%N)
    # Fields 14 and 15 (utime, stime); the command name in field 2 has no spaces here.
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" || true
    trap - EXIT
    awk -v s="$start" -v e="$end" -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v a="$(wc -l < "$work/alerts.jsonl")" \
        'BEGIN {printf "%.3f %.3f %d\n", e - s, t / hz, a}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for input in speed users; do
    lines=$(wc -l < "$work/$input.log")
    : > "$work/$input.times"
    if [ "$source" = file ]; then
        for _ in $(seq "$runs"); do run_file_once "$work/$input.log" >> "$work/$input.times"; done
        secs=$(cut -d' ' -f1 "$work/$input.times" | median)
        cpu=$(cut -d' ' -f2 "$work/$input.times" | median)
        alerts=$(cut -d' ' -f3 "$work/$input.times" | median)
        awk -v n="$lines" -v s="$secs" -v c="$cpu" -v a="$alerts" -v i="$input" \
            'BEGIN {printf "%-6s %9d lines  %6.2f s  %9.0f lines/s  (file source; %9.0f lines/s of CPU time)  %d alerts\n", i, n, s, n / s, n / c, a}'
        continue
    fi
    for _ in $(seq "$runs"); do run_once "$work/$input.log" >> "$work/$input.times"; done
    secs=$(cut -d' ' -f1 "$work/$input.times" | median)
    rss=$(cut -d' ' -f2 "$work/$input.times" | median)
    alerts=$(cut -d' ' -f3 "$work/$input.times" | median)
    cpu=$(cut -d' ' -f4 "$work/$input.times" | median)
    awk -v n="$lines" -v s="$secs" -v r="$rss" -v a="$alerts" -v c="$cpu" -v i="$input" \
        'BEGIN {printf "%-6s %9d lines  %6.2f s  %9.0f lines/s  (%9.0f lines/s of CPU time)  peak RSS %6.1f MiB  %d alerts\n", i, n, s, n / s, n / c, r / 1024, a}'
done

if [ "$callgrind" -gt 0 ]; then
    head -n "$callgrind" "$work/speed.log" > "$work/callgrind.log"
    write_config
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
        "$bin" run --config "$work/agent.toml" < "$work/callgrind.log" > /dev/null 2> "$work/stderr.txt"
    instr=$(grep -o 'Collected : [0-9]*' "$work/stderr.txt" | grep -o '[0-9]*$')
    echo "callgrind: $callgrind lines, $instr instructions ($work/callgrind.out)"
fi

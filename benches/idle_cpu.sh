#!/usr/bin/env bash
# Idle CPU: the agent with every kind of source configured (file tailing, syslog UDP/TCP/unix,
# HTTP, the API) and nothing arriving. Reports the CPU time it used over --secs, after a
# warm-up, from /proc/PID/stat (utime + stime), and its wake-ups (voluntary context switches).
#
# Usage: benches/idle_cpu.sh [--secs S] [--work DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=60
work="$root/target/bench/idle"
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) secs=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
rm -rf "$work" && mkdir -p "$work/logs"
bin=${DANTE_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release -q)
    bin="$root/target/release/dante"
fi
echo "Nov 25 10:00:00 ws-1 sshd[1]: Accepted password for alice from 10.0.0.1 port 22 ssh2" > "$work/logs/auth.log"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat > "$work/agent.toml" <<TOML
data_dir = "$work/state"
[sources.files]
type = "file"
include = ["$work/logs/*.log"]
[sources.udp]
type = "syslog"
mode = "udp"
address = "127.0.0.1:$(port)"
[sources.tcp]
type = "syslog"
mode = "tcp"
address = "127.0.0.1:$(port)"
[sources.unix]
type = "syslog"
mode = "unix"
address = "$work/syslog.sock"
[sources.http]
type = "http"
address = "127.0.0.1:$(port)"
[sinks.alerts]
type = "file"
path = "$work/alerts.jsonl"
[api]
address = "127.0.0.1:$(port)"
TOML
"$bin" run --config "$work/agent.toml" 2> "$work/stderr.txt" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
switches() { awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}' /proc/$pid/task/*/status; }
t0=$(ticks); w0=$(switches)
sleep "$secs"
t1=$(ticks); w1=$(switches)
hz=$(getconf CLK_TCK)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$secs" -v w=$((w1 - w0)) -v rss="$rss" 'BEGIN {
    printf "idle for %d s: %.2f s of CPU (%.3f%% of one core), %.1f wake-ups/s, RSS %.1f MiB\n",
        s, t / hz, 100 * t / hz / s, w / s, rss / 1024 }'

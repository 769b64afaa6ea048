#!/usr/bin/env bash
# Side-by-side speed benchmark: `dante parse` vs drain3 0.9.11 (PyPI).
#
# What it measures
#   * dante: wall-clock time of the whole process `dante parse mixed.log >/dev/null`
#     (start-up, reading, format detection, mining, output), K runs, once using
#     all cores and once pinned to one core with `taskset -c 0` (the target is
#     measured on one core).  Peak RSS via `/usr/bin/time -f %M`.
#   * drain3: TemplateMiner with the masking/[DRAIN] settings of drain3's
#     examples/drain3.ini, no persistence, profiling off.  Only the
#     add_log_message loop is timed (lines are read into memory first), so
#     drain3's interpreter start-up and file reading are NOT counted: the
#     comparison is generous to drain3.  It runs on a smaller prefix of the
#     same corpus (drain3 manages ~10^4 lines/s), pinned to core 0 as well.
#   * Corpus: the 10 loghub 2k logs (HDFS Spark Zookeeper BGL HPC Windows
#     Linux Android Apache OpenSSH) concatenated, each made to end with a
#     newline (CRLF lines are kept as they are), repeated to exactly N lines.
#   * Reported figures are medians over the runs.
#
# Usage
#   benches/parse_vs_drain3.sh [--lines N] [--runs K] [--drain3-lines M]
#                              [--data DIR] [--work DIR]
#     --data DIR        loghub 2k folder      (default: <repo>/../shared/data/loghub2k)
#     --lines N         dante corpus lines    (default: 1000000)
#     --runs K          timed runs per tool   (default: 5; drain3 does min(K,3))
#     --drain3-lines M  drain3 corpus lines   (default: 100000)
#     --work DIR        scratch dir: corpus, venv (default: <repo>/target/bench)
#   Environment:
#     DANTE_BIN=/path/to/dante   use this binary, skip `cargo build --release`
#
# Progress goes to stderr; the markdown report goes to stdout, e.g.
#   benches/parse_vs_drain3.sh --runs 3 > target/bench/report.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRAIN3_VERSION=0.9.11
LOGS=(HDFS Spark Zookeeper BGL HPC Windows Linux Android Apache OpenSSH)

DATA="$ROOT/../shared/data/loghub2k"
LINES=1000000
RUNS=5
DRAIN3_LINES=100000
WORK="$ROOT/target/bench"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '/^# Usage/,/^# Progress/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

is_posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

while (($#)); do
    case $1 in
        --data)         DATA=${2:?--data needs a value}; shift 2 ;;
        --lines)        LINES=${2:?--lines needs a value}; shift 2 ;;
        --runs)         RUNS=${2:?--runs needs a value}; shift 2 ;;
        --drain3-lines) DRAIN3_LINES=${2:?--drain3-lines needs a value}; shift 2 ;;
        --work)         WORK=${2:?--work needs a value}; shift 2 ;;
        -h|--help)      usage; exit 0 ;;
        *)              usage; die "unknown argument: $1" ;;
    esac
done
is_posint "$LINES" || die "--lines must be a positive integer, got '$LINES'"
is_posint "$RUNS" || die "--runs must be a positive integer, got '$RUNS'"
is_posint "$DRAIN3_LINES" || die "--drain3-lines must be a positive integer, got '$DRAIN3_LINES'"
((DRAIN3_LINES <= LINES)) || die "--drain3-lines ($DRAIN3_LINES) must not exceed --lines ($LINES)"
DRAIN3_RUNS=$((RUNS < 3 ? RUNS : 3))

command -v python3 >/dev/null || die "python3 is required"
[[ -d $DATA ]] || die "data folder not found: $DATA"
DATA=$(cd "$DATA" && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)   # absolute, as we cd to $ROOT for cargo
cd "$ROOT"
trap 'rm -f "$WORK/rss" "$WORK/rss.tmp" "$WORK/base.log" "$WORK/dante_check.out"' EXIT

# ---------------------------------------------------------------- helpers --

now() { date +%s.%N; }

# median of the numbers given as arguments
median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# /usr/bin/time gives peak RSS; install it if we can (Debian package `time`).
TIME_BIN=""
ensure_time() {
    if [[ -x /usr/bin/time ]]; then TIME_BIN=/usr/bin/time; return; fi
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "/usr/bin/time missing; installing Debian package 'time'"
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 ||
           { apt-get update -qq >/dev/null 2>&1 &&
             DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1; }; then
            TIME_BIN=/usr/bin/time; return
        fi
    fi
    log "warning: /usr/bin/time not available (apt-get install time); peak RSS of dante will be n/a"
}

PIN=(taskset -c 0)
command -v taskset >/dev/null || { log "warning: taskset not found (util-linux); skipping pinned runs"; PIN=(); }

# run_timed RSS_FILE CMD... : runs CMD (stdout to /dev/null), prints wall seconds.
# Peak RSS in KiB goes to RSS_FILE ("" if unknown).  Fails if CMD fails.
run_timed() {
    local rss_file=$1; shift
    local t0 t1 rc=0
    : >"$rss_file"
    t0=$(now)
    if [[ -n $TIME_BIN ]]; then
        "$TIME_BIN" -f %M -o "$rss_file" "$@" >/dev/null || rc=$?
    else
        "$@" >/dev/null || rc=$?
    fi
    t1=$(now)
    ((rc == 0)) || die "command failed (exit $rc): $*"
    # With -o, GNU time writes only the format line (plus a "Command exited" line on failure).
    if [[ -n $TIME_BIN ]]; then
        tail -n1 "$rss_file" >"$rss_file.tmp"
        mv "$rss_file.tmp" "$rss_file"
    fi
    python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.6f}")' "$t0" "$t1"
}

# ----------------------------------------------------------------- corpus --

build_corpus() {
    local base="$WORK/base.log" s f
    : >"$base"
    for s in "${LOGS[@]}"; do
        f="$DATA/$s/${s}_2k.log"
        [[ -f $f ]] || die "missing log file: $f"
        cat "$f" >>"$base"
        # Ensure the file ends with a newline; CRLF lines are left untouched.
        if [[ -s $f && $(tail -c1 "$f" | od -An -tx1 | tr -d ' \n') != 0a ]]; then
            printf '\n' >>"$base"
        fi
    done
    local base_lines reps rem i
    base_lines=$(wc -l <"$base")
    ((base_lines > 0)) || die "no lines in $DATA"
    reps=$((LINES / base_lines)); rem=$((LINES % base_lines))
    log "corpus: $base_lines base lines x $reps + $rem -> $LINES lines"
    {
        for ((i = 0; i < reps; i++)); do cat "$base"; done
        ((rem == 0)) || head -n "$rem" "$base"
    } >"$WORK/mixed.log"
    head -n "$DRAIN3_LINES" "$WORK/mixed.log" >"$WORK/mixed_small.log"
    rm -f "$base"
    local got
    got=$(wc -l <"$WORK/mixed.log")
    ((got == LINES)) || die "mixed.log has $got lines, expected $LINES"
    got=$(wc -l <"$WORK/mixed_small.log")
    ((got == DRAIN3_LINES)) || die "mixed_small.log has $got lines, expected $DRAIN3_LINES"
}

# ------------------------------------------------------------------ drain3 --

VENV="$WORK/venv"
PY="$VENV/bin/python"
ensure_venv() {
    if [[ ! -x $PY ]]; then
        log "creating venv $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    local have
    have=$("$PY" -c 'from importlib.metadata import version; print(version("drain3"))' 2>/dev/null || true)
    if [[ $have != "$DRAIN3_VERSION" ]]; then
        log "pip install drain3==$DRAIN3_VERSION"
        "$PY" -m pip install -q --disable-pip-version-check "drain3==$DRAIN3_VERSION" >&2
    fi
}

# ------------------------------------------------------------------- dante --

ensure_dante() {
    if [[ -n ${DANTE_BIN:-} ]]; then
        [[ -x $DANTE_BIN ]] || die "DANTE_BIN is not executable: $DANTE_BIN"
        log "using DANTE_BIN=$DANTE_BIN (no cargo build)"
        return
    fi
    log "cargo build --release"
    cargo build --release --quiet >&2 || die "cargo build --release failed"
    DANTE_BIN="$ROOT/target/release/dante"
    [[ -x $DANTE_BIN ]] || die "no binary at $DANTE_BIN after cargo build"
}

# Refuse to time a binary that does not do the job: on the small corpus it
# must print one `line_no<TAB>key_id<TAB>template` line per input line
# (the corpus has no blank lines).  Otherwise the table would be meaningless.
check_dante() {
    local out="$WORK/dante_check.out" n fields
    "$DANTE_BIN" parse "$WORK/mixed_small.log" >"$out" || die "'$DANTE_BIN parse' failed on mixed_small.log"
    n=$(wc -l <"$out")
    ((n == DRAIN3_LINES)) ||
        die "'$DANTE_BIN parse' printed $n lines for $DRAIN3_LINES input lines; first line: $(head -c 200 "$out" | head -n1)"
    fields=$(awk -F'\t' 'NF < 3 || $1 != NR { print NR; exit }' "$out")
    [[ -z $fields ]] ||
        die "'$DANTE_BIN parse' output line $fields is not 'line_no<TAB>key_id<TAB>template' with line_no = $fields"
    rm -f "$out"
}

# ------------------------------------------------------------------- main --

ensure_time
build_corpus
ensure_venv
ensure_dante
check_dante

# Results: one row per tool/variant.
ROW_NAMES=() ROW_LINES=() ROW_SECS=() ROW_LPS=() ROW_RSS=()

# bench_dante LABEL [PREFIX...]: K timed runs (after one untimed warm-up).
bench_dante() {
    local label=$1; shift
    local secs=() rss=() s r i
    log "$label: warm-up"
    run_timed "$WORK/rss" "$@" "$DANTE_BIN" parse "$WORK/mixed.log" >/dev/null
    for ((i = 1; i <= RUNS; i++)); do
        s=$(run_timed "$WORK/rss" "$@" "$DANTE_BIN" parse "$WORK/mixed.log")
        r=$(cat "$WORK/rss")
        secs+=("$s"); [[ -z $r ]] || rss+=("$r")
        log "$label run $i/$RUNS: ${s}s rss=${r:-n/a}KiB"
    done
    add_row "$label" "$LINES" "$(median "${secs[@]}")" "${rss[@]+"${rss[@]}"}"
}

# add_row LABEL LINES MEDIAN_SECONDS [RSS_KIB...]  (peak RSS = max over runs)
add_row() {
    local label=$1 lines=$2 sec=$3; shift 3
    local peak=""
    if (($#)); then peak=$(printf '%s\n' "$@" | sort -n | tail -n1); fi
    ROW_NAMES+=("$label"); ROW_LINES+=("$lines"); ROW_SECS+=("$sec")
    ROW_LPS+=("$(python3 -c 'import sys; print(float(sys.argv[1]) / float(sys.argv[2]))' "$lines" "$sec")")
    ROW_RSS+=("$peak")
}

bench_dante "dante (all $(nproc) cores)"
((${#PIN[@]} == 0)) || bench_dante "dante (taskset -c 0)" "${PIN[@]}"

# drain3: the python script prints JSON with its own loop timing.
D_SECS=() D_RSS=() D_CLUSTERS=""
log "drain3 $DRAIN3_VERSION: $DRAIN3_RUNS runs on $DRAIN3_LINES lines"
for ((i = 1; i <= DRAIN3_RUNS; i++)); do
    : >"$WORK/rss"
    if [[ -n $TIME_BIN ]]; then
        json=$("$TIME_BIN" -f %M -o "$WORK/rss" "${PIN[@]+"${PIN[@]}"}" \
            "$PY" "$ROOT/benches/drain3_bench.py" "$WORK/mixed_small.log") || die "drain3_bench.py failed"
        r=$(tail -n1 "$WORK/rss")
    else
        json=$("${PIN[@]+"${PIN[@]}"}" "$PY" "$ROOT/benches/drain3_bench.py" "$WORK/mixed_small.log") ||
            die "drain3_bench.py failed"
        r=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["max_rss_kib"])' "$json")
    fi
    s=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["seconds"])' "$json")
    D_CLUSTERS=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["clusters"])' "$json")
    D_SECS+=("$s"); D_RSS+=("$r")
    log "drain3 run $i/$DRAIN3_RUNS: $json"
done
add_row "drain3 $DRAIN3_VERSION${PIN[*]:+ (${PIN[*]})}" "$DRAIN3_LINES" "$(median "${D_SECS[@]}")" "${D_RSS[@]}"
DRAIN3_LPS=${ROW_LPS[-1]}

# ------------------------------------------------------------------ report --

cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -z $(git -C "$ROOT" status --porcelain 2>/dev/null || true) ]] || rev="$rev, dirty tree"

echo "## dante parse vs drain3 $DRAIN3_VERSION"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) cores, $(uname -m), CPU: ${cpu:-unknown}"
echo "- dante: \`$DANTE_BIN\`, git $rev"
echo "- corpus: 10 loghub 2k logs repeated; dante on $LINES lines ($(du -h "$WORK/mixed.log" | cut -f1)), drain3 on the first $DRAIN3_LINES lines; drain3 clusters: $D_CLUSTERS"
echo "- runs: dante $RUNS (+1 warm-up), drain3 $DRAIN3_RUNS; medians"
echo "- dante time = whole process wall clock; drain3 time = add_log_message loop only"
echo
echo "| tool | lines | median s | median lines/s | peak RSS MiB | vs drain3 (lines/s) |"
echo "|---|---:|---:|---:|---:|---:|"
for i in "${!ROW_NAMES[@]}"; do
    # args: name lines seconds lines/s rss_kib("" = unknown) drain3_lines/s
    python3 -c '
import sys
name, lines, sec, lps, rss, base = sys.argv[1:]
rss_mib = f"{int(rss) / 1024:.1f}" if rss else "n/a"
print(f"| {name} | {lines} | {float(sec):.3f} | {float(lps):,.0f} | {rss_mib} | {float(lps) / float(base):.1f}x |")
' "${ROW_NAMES[i]}" "${ROW_LINES[i]}" "${ROW_SECS[i]}" "${ROW_LPS[i]}" "${ROW_RSS[i]}" "$DRAIN3_LPS"
done

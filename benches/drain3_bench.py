#!/usr/bin/env python3
"""Time drain3's TemplateMiner on one log file; print one line of JSON.

Used by benches/parse_vs_drain3.sh as the baseline for `dante parse`.

    python drain3_bench.py FILE [--max-lines N]

Configuration: the masking instructions, mask prefix/suffix and [DRAIN]
parameters of drain3's own example config (examples/drain3.ini in the drain3
project), built in code.  Deviations from that file, on purpose:
  * no persistence (TemplateMiner(persistence_handler=None)), so the
    [SNAPSHOT] section is moot;
  * profiling disabled (the example enables it; it adds overhead and prints).

Each input line is fed whole (header included, trailing CR/LF removed), the
same input `dante parse` gets.  Lines are read into memory first; only the
`add_log_message` loop is timed (time.perf_counter).

Output: {"lines": ..., "seconds": ..., "lines_per_s": ..., "clusters": ...,
         "max_rss_kib": ..., "drain3_version": ...}
(max_rss_kib is the process peak from getrusage, a fallback for when
/usr/bin/time is not available.)
"""

import argparse
import json
import resource
import sys
import time
from importlib.metadata import version

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

# [MASKING] masking = [...] from drain3's examples/drain3.ini, in order
# (order matters: each instruction runs on the output of the previous one).
_EDGE_L = r"((?<=[^A-Za-z0-9])|^)"
_EDGE_R = r"((?=[^A-Za-z0-9])|$)"
EXAMPLE_MASKING = [
    (_EDGE_L + r"(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))" + _EDGE_R, "ID"),
    (_EDGE_L + r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})" + _EDGE_R, "IP"),
    (_EDGE_L + r"([0-9a-f]{6,} ?){3,}" + _EDGE_R, "SEQ"),
    (_EDGE_L + r"([0-9A-F]{4} ?){4,}" + _EDGE_R, "SEQ"),
    (_EDGE_L + r"(0x[a-f0-9A-F]+)" + _EDGE_R, "HEX"),
    (_EDGE_L + r"([\-\+]?\d+)" + _EDGE_R, "NUM"),
    (r'(?<=executed cmd )(".+?")', "CMD"),
]


def example_config() -> TemplateMinerConfig:
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    # [MASKING]
    cfg.masking_instructions = [MaskingInstruction(p, name) for p, name in EXAMPLE_MASKING]
    cfg.mask_prefix = "<:"
    cfg.mask_suffix = ":>"
    # [DRAIN]
    cfg.drain_sim_th = 0.4
    cfg.drain_depth = 4
    cfg.drain_max_children = 100
    cfg.drain_max_clusters = 1024
    cfg.drain_extra_delimiters = ["_"]
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--max-lines", type=int, default=0, help="only the first N lines (0 = all)")
    args = ap.parse_args()

    lines = []
    # newline="" keeps a CR, stripped below together with the LF.
    with open(args.file, encoding="utf-8", errors="replace", newline="") as f:
        for line in f:
            lines.append(line.rstrip("\r\n"))
            if args.max_lines and len(lines) >= args.max_lines:
                break

    miner = TemplateMiner(persistence_handler=None, config=example_config())
    add = miner.add_log_message

    t0 = time.perf_counter()
    for line in lines:
        add(line)
    seconds = time.perf_counter() - t0

    out = {
        "lines": len(lines),
        "seconds": round(seconds, 6),
        "lines_per_s": round(len(lines) / seconds, 1) if seconds > 0 else None,
        "clusters": len(miner.drain.clusters),
        # Linux reports ru_maxrss in KiB.
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "drain3_version": version("drain3"),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

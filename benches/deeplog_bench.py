"""Scoring speed of the PyTorch DeepLog package (pip `deeplog`) on DeepLog's HDFS sessions.

Usage: python deeplog_bench.py TRAIN TEST [--epochs N] [--single N]

Trains DeepLog (h = 10, hidden 64, as in the paper) on TRAIN, then times `predict` on every window
of TEST, batched, and on the first N windows one at a time. Prints one JSON line.
"""
import argparse
import json
import time

import torch
from deeplog import DeepLog
from deeplog.preprocessor import Preprocessor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--single", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(2)

    pre = Preprocessor(length=10, timeout=float("inf"))
    X, y, _, _ = pre.text(args.train)
    Xt, yt, _, _ = pre.text(args.test)
    # Each file gets its own event mapping; the sizes cover both (speed is what is measured).
    n = int(max(X.max(), y.max(), Xt.max(), yt.max())) + 1
    model = DeepLog(input_size=n, hidden_size=64, output_size=n)
    start = time.perf_counter()
    model.fit(X=X, y=y, epochs=args.epochs, batch_size=128, verbose=False)
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    model.predict(X=Xt, y=yt, k=9, verbose=False)
    batched_s = time.perf_counter() - start

    single = min(args.single, len(Xt))
    start = time.perf_counter()
    for i in range(single):
        model.predict(X=Xt[i : i + 1], y=yt[i : i + 1], k=9, verbose=False)
    single_s = time.perf_counter() - start

    print(json.dumps({
        "train_windows": len(X),
        "train_seconds": round(train_s, 2),
        "test_windows": len(Xt),
        "batched_windows_per_s": round(len(Xt) / batched_s),
        "single_windows_per_s": round(single / single_s),
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The bandwidth ceiling against an independent measurement on the same machine.

run-benchmark's calibration sums a buffer past the last-level cache with libtorch and copies
one half of it into the other. This measures the same with numpy (its own C loops, not
libtorch): the maximum of the same bytes read as int32, and np.copyto of one half into the
other, split over the same number of Python threads (numpy releases the GIL in both), each the
fastest of repeats over a fifth of a second at least. Rounds alternate the two tools so that
the machine's load falls on both; each tool's figure is its fastest round.

    python3 scripts/bandwidth_check.py --threads 1 2 --rounds 3 --out docs/bandwidth-check.json

numpy is installed from PyPI into target/bandwidth-venv on first use (the project's .venv
holds torch, not numpy). OPENBLAS_CORETYPE does not matter here: sum and copyto are numpy's
own loops, not BLAS.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "bandwidth-venv")
BIN = os.path.join(ROOT, "target", "release", "run-benchmark")
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny-bert.json")


def ensure_numpy():
    try:
        import numpy  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "numpy"], check=True)
    os.execv(python, [python] + sys.argv)


def ours(threads):
    """run-benchmark's calibration at `threads`, measured afresh (an empty cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        subprocess.run(
            [BIN, "--models", TINY, "--batch-sizes", "1", "--sequence-lengths", "8",
             "--no-memory", "--threads", str(threads), "--min-runs", "1", "--quiet",
             "--export-json", out],
            check=True, env=env, stdout=subprocess.DEVNULL)
        with open(out) as f:
            export = json.load(f)
    return export["calibrations"][0]["bandwidth"]


def fastest(run, min_time=0.2, min_runs=3):
    run()  # warm-up
    times, start = [], time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def in_threads(threads, work):
    """Runs work(i) for i in range(threads) at once and waits for all."""
    if threads == 1:
        work(0)
        return
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def numpy_bandwidth(buffer_bytes, threads):
    import numpy as np
    values = buffer_bytes // 4 // 2 * 2
    buf = np.ones(values, dtype=np.float32)  # every page touched before timing
    half = values // 2
    src, dst = buf[:half], buf[half:]
    read_parts = np.array_split(buf, threads)
    src_parts, dst_parts = np.array_split(src, threads), np.array_split(dst, threads)
    # An integer max: numpy's SIMD loop, with no floating-point order to keep (its float32
    # sum is pairwise and slower than memory on one core).
    ints = [part.view(np.int32) for part in read_parts]
    read = fastest(lambda: in_threads(threads, lambda i: ints[i].max()))
    copy = fastest(lambda: in_threads(threads, lambda i: np.copyto(dst_parts[i], src_parts[i])))
    bytes_ = values * 4
    return {"read_bytes_per_second": bytes_ / read, "copy_bytes_per_second": bytes_ / copy}


def main():
    ensure_numpy()
    import numpy as np
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args()
    results = []
    for threads in args.threads:
        best = {"ours": None, "numpy": None}
        for _ in range(args.rounds):
            o = ours(threads)
            n = numpy_bandwidth(o["buffer_bytes"], threads)
            for name, r in (("ours", o), ("numpy", n)):
                if best[name] is None:
                    best[name] = dict(r)
                for k in ("read_bytes_per_second", "copy_bytes_per_second"):
                    best[name][k] = max(best[name][k], r[k])
        row = {"threads": threads, "buffer_bytes": best["ours"]["buffer_bytes"]}
        for k in ("read", "copy"):
            a = best["ours"][f"{k}_bytes_per_second"]
            b = best["numpy"][f"{k}_bytes_per_second"]
            row[f"{k}_ours_gb_s"] = round(a / 1e9, 2)
            row[f"{k}_numpy_gb_s"] = round(b / 1e9, 2)
            row[f"{k}_ratio"] = round(a / b, 3)
        row["within_15_percent"] = all(abs(row[f"{k}_ratio"] - 1) <= 0.15 for k in ("read", "copy"))
        results.append(row)
        print(json.dumps(row))
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": subprocess.run(["lscpu"], capture_output=True, text=True).stdout,
        "load_average": os.getloadavg(),
        "numpy": np.__version__,
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
    sys.exit(0 if all(r["within_15_percent"] for r in results) else 1)


if __name__ == "__main__":
    main()

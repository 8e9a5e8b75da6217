#!/usr/bin/env python3
"""The floor under a large model's build: what first touch of fresh memory costs here.

A model's weights are fresh anonymous memory; each 4 KiB page faults once when it is first
written, whatever fills it. This writes N GiB of fresh memory twice in a new process each
trial (the first pass pays the faults, the second is memory speed), and once more with
MAP_POPULATE (the kernel faults the pages in up front, in the mmap call), so the build
seconds a 7B model reports can be read against this machine's fault cost.

    python3 scripts/first_touch.py --gib 4 --trials 3 --out docs/first-touch.json

Run it on a quiet machine; on a VM the first trial after boot may also pay the host's
backing of guest memory, which later trials do not.
"""
import argparse
import ctypes
import json
import mmap
import os
import platform
import subprocess
import sys
import time

TRIAL = r"""
import ctypes, json, mmap, sys, time
n = int(sys.argv[1]) << 30
populate = sys.argv[2] == "populate"
flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | (mmap.MAP_POPULATE if populate else 0)
start = time.perf_counter()
m = mmap.mmap(-1, n, flags=flags)
mapped = time.perf_counter()
address = ctypes.addressof(ctypes.c_char.from_buffer(m))
ctypes.memset(address, 1, n)
first = time.perf_counter()
ctypes.memset(address, 2, n)
second = time.perf_counter()
print(json.dumps({"mmap_s": mapped - start, "first_pass_s": first - mapped,
                  "second_pass_s": second - first}))
"""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def trial(gib, mode):
    out = subprocess.run([sys.executable, "-c", TRIAL, str(gib), mode], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=int, default=4, help="GiB written per trial")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", help="write the record (JSON) here")
    args = parser.parse_args()
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "gib": args.gib,
        "load_average": os.getloadavg(),
        "trials": [],
    }
    for i in range(args.trials):
        for mode in ("demand", "populate"):
            t = trial(args.gib, mode)
            t.update(mode=mode, trial=i)
            record["trials"].append(t)
            fault_s = t["mmap_s"] + t["first_pass_s"] - t["second_pass_s"]
            print(f"trial {i} {mode:8}: mmap {t['mmap_s']:.2f} s, first pass "
                  f"{t['first_pass_s']:.2f} s, second {t['second_pass_s']:.2f} s -> "
                  f"{fault_s / args.gib:.2f} s/GiB of faults")
    record["load_average_after"] = os.getloadavg()
    demand = sorted((t["first_pass_s"] - t["second_pass_s"]) / args.gib
                    for t in record["trials"] if t["mode"] == "demand")
    record["fault_s_per_gib_median"] = demand[len(demand) // 2]
    print(f"median fault cost {record['fault_s_per_gib_median']:.2f} s/GiB "
          f"(load average {record['load_average'][0]:.2f} before, "
          f"{record['load_average_after'][0]:.2f} after)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()

"""Extracts TensorFlow's C API library and its framework library from the PyPI wheel.

Usage: extract_tensorflow.py WHEEL DEST. Only the two shared objects the graph child loads
are written (the wheel holds ~1.5 GB more that it never uses), flat into DEST.
"""

import os
import sys
import zipfile

FILES = ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")


def main() -> None:
    wheel, dest = sys.argv[1], sys.argv[2]
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in FILES:
            target = os.path.join(dest, os.path.basename(name))
            partial = target + ".partial"
            with archive.open(name) as src, open(partial, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(partial, target)
            print(f"{target}: {os.path.getsize(target)} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates the benchmark tree: gen-tree.py DIR FILES TOTAL_MB [--empty]
FILES files spread over 200x7 directories with sizes from a fixed seed (small, medium, up to 1 MiB),
scaled so the total is about TOTAL_MB; --empty makes FILES empty files in 100 directories."""
import os, random, sys
src, n = sys.argv[1], int(sys.argv[2])
if "--empty" in sys.argv:
    for i in range(n):
        d = os.path.join(src, "d%03d" % (i % 100))
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "e%06d" % i), "wb").close()
    sys.exit(0)
total = int(sys.argv[3]) * 1024 * 1024
rnd = random.Random(1234)
raw = [rnd.choice([rnd.randint(0, 4096), rnd.randint(4096, 65536), rnd.randint(65536, 1 << 20)]) for _ in range(n)]
scale = total / sum(raw)
blob = os.urandom(4 << 20)
for i, s in enumerate(raw):
    d = os.path.join(src, "d%03d" % (i % 200), "s%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    size, off = int(s * scale), rnd.randint(0, len(blob) - 1)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        while size > 0:
            chunk = blob[off:off + size]
            if not chunk:
                off = 0
                continue
            f.write(chunk); size -= len(chunk); off = 0

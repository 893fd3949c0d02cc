#!/usr/bin/env bash
# Extraction benchmark: ext4j get -r vs debugfs rdump vs kernel loop mount + cp -a, same image, same run.
# Usage: bench/extract-bench.sh [FILES] [TOTAL_MB]   (default 20000 files, 500 MB)
# Needs root for the kernel mount (skipped otherwise). Caches are dropped before each timed run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=${1:-20000}
total_mb=${2:-500}
work=$(mktemp -d /tmp/ext4j-bench.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
src="$work/src"; img="$work/bench.img"
mkdir -p "$src"

echo "== generating $files files, ~$total_mb MB in $src"
python3 - "$src" "$files" "$total_mb" <<'PY'
import os, random, sys
src, n, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 1024 * 1024
rnd = random.Random(1234)
# sizes: mostly small, a few large, scaled to the total
raw = [rnd.choice([rnd.randint(0, 4096), rnd.randint(4096, 65536), rnd.randint(65536, 1 << 20)]) for _ in range(n)]
scale = total / sum(raw)
blob = os.urandom(4 << 20)
for i, s in enumerate(raw):
    d = os.path.join(src, "d%03d" % (i % 200), "s%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    size = int(s * scale)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        off = rnd.randint(0, len(blob) - 1)
        while size > 0:
            chunk = blob[off:off + size]
            if not chunk:
                off = 0
                continue
            f.write(chunk); size -= len(chunk); off = 0
PY
du -sh "$src"
mke2fs -q -F -t ext4 -d "$src" "$img" "$(( total_mb * 2 + 512 ))M"
"$root/ext4j" info "$img" >/dev/null   # builds the jar outside the timing

drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }

drop; rm -rf "$work/o1"; t_ext4j=$(timeit "$root/ext4j" get -r "$img" / "$work/o1")
drop; rm -rf "$work/o2"; mkdir "$work/o2"; t_debugfs=$(timeit debugfs -R "rdump / $work/o2" "$img")
diff -r "$src" "$work/o1" --exclude=lost+found >/dev/null && echo "ext4j output matches the source tree" || { echo "ext4j output DIFFERS"; exit 1; }

t_kernel=""
mkdir -p "$work/mnt"
if [ "$(id -u)" = 0 ] && mount -o loop,ro "$img" "$work/mnt" 2>/dev/null; then
  umount "$work/mnt"
  drop; rm -rf "$work/o3"
  t_kernel=$(timeit bash -c "mount -o loop,ro '$img' '$work/mnt' && cp -a '$work/mnt' '$work/o3' && umount '$work/mnt'")
fi

printf '%-28s %8.2f s\n' "ext4j get -r" "$t_ext4j"
printf '%-28s %8.2f s   (ext4j is %.2fx faster)\n' "debugfs rdump" "$t_debugfs" "$(echo "$t_debugfs / $t_ext4j" | bc -l)"
if [ -n "$t_kernel" ]; then
  printf '%-28s %8.2f s   (ext4j takes %.2fx the kernel time)\n' "kernel mount + cp -a" "$t_kernel" "$(echo "$t_ext4j / $t_kernel" | bc -l)"
else
  echo "kernel mount + cp -a: skipped (needs root and loop mount)"
fi

#!/usr/bin/env bash
# Core API concurrency (Ext4Vfs and its per-inode read-write locks): 1 thread against 2, one run on a fresh image.
#  - cached random 4 KiB reads: 1 thread on one 64 MiB file, then 2 threads, one per file (aim: ratio >= 1.6);
#  - getattr of 100,000 cached inodes (empty files in 100 directories): 1 thread, 2 threads;
#  - create+unlink pairs: 1 thread in one directory, then 2 threads each in its own (aim: ratio >= 1.3).
# bench/CoreBench.java does the work and prints the figures; the image is checked with e2fsck -fn at the end.
# The image has -N 131072: mke2fs's default for 512M (32,768 inodes) is too few for 100,000 files.
# Usage: bench/core-bench.sh [DIR] [SECONDS] [PAIRS]   (defaults /var/tmp, 3 s per read round, 20000 pairs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/var/tmp}; secs=${2:-3}; pairs=${3:-20000}
"$root/ext4j" --version >/dev/null
. "$root/scripts/java-env.sh"; _ext4j_find_java
img=$(mktemp "$dir/ext4j-core-bench.XXXXXX.img")
trap 'rm -f "$img"' EXIT
mke2fs -q -F -t ext4 -N 131072 "$img" 512M
echo "== core API, 1 thread vs 2: $(nproc) CPUs, image in $dir ($(stat -f -c %T "$dir"))"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/target/ext4j.jar" "$root/bench/CoreBench.java" "$img" "$secs" "$pairs"
e2fsck -fn "$img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED"; exit 1; }
echo "e2fsck -fn: clean"

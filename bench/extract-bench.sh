#!/usr/bin/env bash
# Extraction benchmark: ext4j get -r vs debugfs rdump vs kernel loop mount + cp -a, same image, same run.
# Usage: bench/extract-bench.sh [FILES] [TOTAL_MB] [RUNS]   (default 20000 files, 500 MB, 3 runs each)
# The image sits on disk and the page cache is dropped before every timed run (cold reads).
# As root the copies go to a tmpfs, so the host disk's write path does not drown the readers'
# differences; otherwise to a directory on disk. The median of RUNS runs is reported.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=${1:-20000}; total_mb=${2:-500}; runs=${3:-3}
work=$(mktemp -d /tmp/ext4j-bench.XXXXXX)
cleanup() { umount "$work/mnt" 2>/dev/null || true; umount "$work/out" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
src="$work/src"; img="$work/bench.img"; out="$work/out"
mkdir -p "$src" "$out" "$work/mnt"
is_root=0; [ "$(id -u)" = 0 ] && is_root=1

echo "== generating $files files, ~$total_mb MB"
python3 "$root/bench/gen-tree.py" "$src" "$files" "$total_mb"
echo "source: $(du -sh "$src" | cut -f1), $(find "$src" -type f | wc -l) files"
mke2fs -q -F -t ext4 -d "$src" "$img" "$(( total_mb * 3 ))M"
"$root/ext4j" info "$img" >/dev/null   # builds the jar outside the timing
if [ $is_root = 1 ]; then mount -t tmpfs -o size=$(( total_mb * 3 ))m tmpfs "$out"; target="tmpfs"; else target="disk"; fi

drop() { sync; [ $is_root = 1 ] && echo 3 > /proc/sys/vm/drop_caches; true; }
now() { date +%s.%N; }
# time_median NAME CMD... : runs CMD RUNS times on an empty $out/x, prints the median seconds
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
  local t=()
  for _ in $(seq "$runs"); do
    rm -rf "$out/x"; drop
    local s e; s=$(now); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; exit 1; }; e=$(now)
    t+=("$(echo "$e - $s" | bc)")
  done
  printf '%s\n' "${t[@]}" | median
}

t_ext4j=$(measure "$root/ext4j" get -r "$img" / "$out/x")
diff -r "$src" "$out/x" --exclude=lost+found >/dev/null && echo "ext4j output matches the source tree" || { echo "ext4j output DIFFERS"; exit 1; }
t_debugfs=$(measure bash -c "mkdir '$out/x' && debugfs -R 'rdump / $out/x' '$img'")
t_kernel=""
if [ $is_root = 1 ] && mount -o loop,ro "$img" "$work/mnt" 2>/dev/null; then
  umount "$work/mnt"
  t_kernel=$(measure bash -c "mount -o loop,ro '$img' '$work/mnt' && cp -a '$work/mnt' '$out/x'; r=\$?; umount '$work/mnt'; exit \$r")
fi

echo "== extract ~$total_mb MB / $files files to $target, cold cache, median of $runs runs"
printf '%-24s %7.2f s\n' "ext4j get -r" "$t_ext4j"
printf '%-24s %7.2f s   debugfs/ext4j = %.2f (above 1: ext4j faster)\n' "debugfs rdump" "$t_debugfs" "$(echo "$t_debugfs / $t_ext4j" | bc -l)"
if [ -n "$t_kernel" ]; then
  printf '%-24s %7.2f s   ext4j/kernel = %.2f (goal: at most 1.5)\n' "kernel mount + cp -a" "$t_kernel" "$(echo "$t_ext4j / $t_kernel" | bc -l)"
else
  echo "kernel mount + cp -a: skipped (needs root and loop mount)"
fi

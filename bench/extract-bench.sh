#!/usr/bin/env bash
# Extraction benchmark: ext4j get -r vs debugfs rdump vs kernel loop mount + cp -a, same image, same run.
# Usage: bench/extract-bench.sh [FILES] [TOTAL_MB] [RUNS]   (default 20000 files, 500 MB, 3 runs each)
# Each reader's wall time and CPU time (user + system) are reported: on a machine others load, CPU
# time is the steadier figure, and a single-threaded reader loses less wall time to the load.
# The image sits on disk; the page cache is dropped before every cold run (as root), and the warm
# runs read an image already in it. ext4j and debugfs (and BASE's ext4j) run in turn in each round.
# BASE=DIR: also times the ext4j of another checkout DIR (e.g. a worktree at main): "before".
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
once() {   # once CMD... : "WALL:CPU" seconds of one run into an empty $out/x (CPU: user + system, children too)
  rm -rf "$out/x"
  local s e; s=$(now); /usr/bin/time -o "$work/cpu" -f '%U %S' "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; exit 1; }; e=$(now)
  echo "$(echo "$e - $s" | bc):$(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu")"
}
[ -n "${BASE:-}" ] && "$BASE/ext4j" info "$img" >/dev/null
rdump() { once bash -c 'mkdir "$1" && debugfs -R "rdump / $1" "$2"' rdump "$out/x" "$img"; }   # a command, for /usr/bin/time
# round COLD: one run of each reader, the page cache dropped before each when COLD is 1
declare -A T
round() {
  local k
  for k in debugfs ${BASE:+base} ext4j; do
    [ "$1" = 1 ] && drop
    case $k in
      debugfs) T[$k$1]+="$(rdump) " ;;
      base) T[$k$1]+="$(once "$BASE/ext4j" get -r "$img" / "$out/x") " ;;
      ext4j) T[$k$1]+="$(once "$root/ext4j" get -r "$img" / "$out/x") " ;;
    esac
  done
}
med() { printf '%s\n' ${T[$1]} | cut -d: -f1 | median; }      # wall seconds
medcpu() { printf '%s\n' ${T[$1]} | cut -d: -f2 | median; }   # CPU seconds

"$root/ext4j" get -r "$img" / "$out/x" >/dev/null
diff -r "$src" "$out/x" --exclude=lost+found >/dev/null && echo "ext4j output matches the source tree" || { echo "ext4j output DIFFERS"; exit 1; }
for _ in $(seq "$runs"); do round 1; done
cat "$img" >/dev/null
for _ in $(seq "$runs"); do round 0; done
t_kernel=""
if [ $is_root = 1 ] && mount -o loop,ro "$img" "$work/mnt" 2>/dev/null; then
  umount "$work/mnt"
  kt=()
  for _ in $(seq "$runs"); do
    drop; kt+=("$(once bash -c "mount -o loop,ro '$img' '$work/mnt' && cp -a '$work/mnt' '$out/x'; r=\$?; umount '$work/mnt'; exit \$r")")
  done
  t_kernel=$(printf '%s\n' "${kt[@]}" | cut -d: -f1 | median)
fi

for c in 1 0; do
  [ $c = 1 ] && what="cold cache" || what="warm cache"
  [ $c = 1 ] && [ $is_root = 0 ] && what="cache not dropped (not root)"
  echo "== extract ~$total_mb MB / $files files to $target, $what, median of $runs runs"
  t_e=$(med ext4j$c); t_d=$(med debugfs$c)
  c_e=$(medcpu ext4j$c); c_d=$(medcpu debugfs$c)
  if [ -n "${BASE:-}" ]; then t_b=$(med base$c); c_b=$(medcpu base$c); printf '%-24s %7.2f s, CPU %5.2f s   debugfs/ext4j = %.2f wall, %.2f CPU   (runs wall:CPU: %s)\n' "ext4j get -r (before)" "$t_b" "$c_b" "$(echo "$t_d / $t_b" | bc -l)" "$(echo "$c_d / $c_b" | bc -l)" "${T[base$c]}"; fi
  printf '%-24s %7.2f s, CPU %5.2f s   debugfs/ext4j = %.2f wall (goal: at least 1.2), %.2f CPU   (runs wall:CPU: %s)\n' "ext4j get -r" "$t_e" "$c_e" "$(echo "$t_d / $t_e" | bc -l)" "$(echo "$c_d / $c_e" | bc -l)" "${T[ext4j$c]}"
  printf '%-24s %7.2f s, CPU %5.2f s   (runs wall:CPU: %s)\n' "debugfs rdump" "$t_d" "$c_d" "${T[debugfs$c]}"
done
t_ext4j=$(med ext4j1)
if [ -n "$t_kernel" ]; then
  printf '%-24s %7.2f s   ext4j/kernel = %.2f (goal: at most 1.5), cold\n' "kernel mount + cp -a" "$t_kernel" "$(echo "$t_ext4j / $t_kernel" | bc -l)"
else
  echo "kernel mount + cp -a: skipped (needs root and loop mount)"
fi

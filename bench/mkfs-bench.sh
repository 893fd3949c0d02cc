#!/usr/bin/env bash
# Write benchmark, all figures from one run:
#  1. `ext4j mkfs -d` vs `mke2fs -t ext4 -d` on the same ~500 MB / ~20,000-file tree, same image size
#  2. 100,000 empty files through `ext4j put -r` into a fresh image: files per second
#     (and `mke2fs -d` of the same tree for reference)
# Usage: bench/mkfs-bench.sh [FILES] [TOTAL_MB] [RUNS]   (default 20000 500 3; medians reported)
# BASE=DIR: also times the ext4j of another checkout DIR (built there, e.g. a worktree at main),
# each of its runs next to the same run of this one, and prints both ("before" and "after").
# Images go to a tmpfs as root (the host disk's write speed is not what is compared), else /tmp.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=${1:-20000}; total_mb=${2:-500}; runs=${3:-3}; empties=${EMPTIES:-100000}
work=$(mktemp -d /tmp/ext4j-mkfs-bench.XXXXXX)
cleanup() { umount "$work/img" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/src" "$work/empty" "$work/img"
size_mb=$(( total_mb * 2 + 256 ))
if [ "$(id -u)" = 0 ]; then mount -t tmpfs -o size=$(( size_mb + 64 ))m tmpfs "$work/img"; where=tmpfs; else where=disk; fi
img="$work/img/bench.img"

echo "== generating $files files (~$total_mb MB) and $empties empty files"
python3 "$root/bench/gen-tree.py" "$work/src" "$files" "$total_mb"
python3 "$root/bench/gen-tree.py" "$work/empty" "$empties" 0 --empty
"$root/ext4j" --version >/dev/null   # builds the jar outside the timing
# run a private copy of the jar (and its AOT cache), so edits to the sources during the run change nothing
. "$root/scripts/java-env.sh"; _ext4j_find_java
mkdir -p "$work/bin"; cp -p "$root/target/ext4j.jar" "$work/bin/"
[ "$root/target/ext4j.aot" -nt "$root/target/ext4j.jar" ] && cp -p "$root/target/ext4j.aot" "$work/bin/"   # only a cache of this jar
if [ -n "${BASE:-}" ]; then
  "$BASE/ext4j" --version >/dev/null
  mkdir -p "$work/base"; cp -p "$BASE/target/ext4j.jar" "$work/base/"
  [ "$BASE/target/ext4j.aot" -nt "$BASE/target/ext4j.jar" ] && cp -p "$BASE/target/ext4j.aot" "$work/base/"
  # the JVM options of that checkout's launcher (its GC choice is part of what is compared)
  base_opts=$(grep -q UseSerialGC "$BASE/ext4j" && echo "-XX:+UseSerialGC" || true)
fi
bin=$work/bin; jvm_extra=-XX:+UseSerialGC
e4j() {   # runs the jar in $bin (this checkout's, or BASE's inside base_run)
  local o=(-XX:TieredStopAtLevel=1 $jvm_extra --enable-native-access=ALL-UNNAMED)   # as ./ext4j runs it
  [ -f "$bin/ext4j.aot" ] && o+=(-XX:AOTCache="$bin/ext4j.aot" -Xlog:aot=off -Xlog:cds=off)
  "$JAVA_HOME/bin/java" "${o[@]}" -jar "$bin/ext4j.jar" "$@"
}
base_run() { bin=$work/base jvm_extra=$base_opts "$@"; }
export -f e4j base_run; export work JAVA_HOME bin jvm_extra base_opts

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
once() {   # once CMD... : seconds of one fresh run (image removed first, page cache warm for the source);
  # its CPU time (user + system, children included) is appended to $work/cpu.log under the tag $CPU_TAG
  # (through bash -c: CMD may be one of the exported functions e4j, base_run)
  rm -f "$img"; sync
  local s e; s=$(now); /usr/bin/time -o "$work/cpu1" -f '%U %S' bash -c '"$@"' once "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; "$@" 2>&1 | tail -5 >&2; exit 1; }; e=$(now)
  echo "${CPU_TAG:-untagged} $(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu1")" >> "$work/cpu.log"
  echo "$e - $s" | bc
}
cpu() { awk -v t="$1" '$1 == t { print $2 }' "$work/cpu.log" | median; }   # cpu TAG : median CPU seconds of TAG's runs
measure() {   # measure CMD... : median seconds over RUNS fresh runs
  local t=()
  for _ in $(seq "$runs"); do t+=("$(once "$@")"); done
  printf '%s\n' "${t[@]}" | median
}
# measure2 CMD... : like measure, and with BASE each run of CMD follows a run of the same CMD under BASE's jar;
# sets m_new and m_old (empty without BASE)
measure2() {
  local t=() b=()
  for _ in $(seq "$runs"); do
    [ -n "${BASE:-}" ] && b+=("$(CPU_TAG=${CPU_TAG:-x}-base base_run once "$@")")
    t+=("$(CPU_TAG=${CPU_TAG:-x} once "$@")")
  done
  m_new=$(printf '%s\n' "${t[@]}" | median)
  m_old=""; [ -n "${BASE:-}" ] && m_old=$(printf '%s\n' "${b[@]}" | median)
  true
}
check() { e2fsck -fn "$img" >/dev/null 2>&1 && echo "  e2fsck -fn clean: $1" || { echo "  e2fsck -fn FAILED: $1"; e2fsck -fn "$img" | head -20; exit 1; }; }

find "$work/src" -type f -exec cat {} + >/dev/null   # warm the source in the page cache
# mke2fs -d, BASE's ext4j and this ext4j in turn, so load drifting during the run moves all alike
tm=(); tb=(); tn=()
for _ in $(seq "$runs"); do
  tm+=("$(CPU_TAG=mke2fs once mke2fs -q -F -t ext4 -d "$work/src" "$img" "${size_mb}M")")
  [ -n "${BASE:-}" ] && tb+=("$(CPU_TAG=mkfs-base base_run once e4j mkfs -t ext4 -d "$work/src" "$img" "${size_mb}M")")
  tn+=("$(CPU_TAG=mkfs once e4j mkfs -t ext4 -d "$work/src" "$img" "${size_mb}M")")
done
check "ext4j mkfs -d"
once mke2fs -q -F -t ext4 -d "$work/src" "$img" "${size_mb}M" >/dev/null; check "mke2fs -d"
t_mke2fs=$(printf '%s\n' "${tm[@]}" | median); t_ext4j=$(printf '%s\n' "${tn[@]}" | median)
t_ext4j_old=""; [ -n "${BASE:-}" ] && t_ext4j_old=$(printf '%s\n' "${tb[@]}" | median)
echo "  runs (s): mke2fs ${tm[*]}; ext4j ${tn[*]}${BASE:+; before ${tb[*]}}"
once e4j mkfs -t ext4 -d "$work/src" "$img" "${size_mb}M" >/dev/null
rm -rf "$work/out"; e4j get -r "$img" / "$work/out" >/dev/null
diff -r "$work/src" "$work/out" --exclude=lost+found >/dev/null && echo "  ext4j image read back equals the source" || { echo "  ext4j image DIFFERS from the source"; exit 1; }
rm -rf "$work/out"

CPU_TAG=put measure2 bash -c "e4j mkfs -t ext4 -N $(( empties * 2 )) '$img' ${size_mb}M && e4j put -r '$img' '$work/empty' /e"; t_put=$m_new; t_put_old=$m_old
check "ext4j put -r of $empties empty files"
CPU_TAG=mkfs-only measure2 e4j mkfs -t ext4 -N $(( empties * 2 )) "$img" "${size_mb}M"; t_mkfs_only=$m_new; t_mkfs_only_old=$m_old
t_mke2fs_empty=$(CPU_TAG=mke2fs-empty measure mke2fs -q -F -t ext4 -N $(( empties * 2 )) -d "$work/empty" "$img" "${size_mb}M")

echo "== images on $where, ${size_mb} MiB, median of $runs runs (wall; CPU = user + system)"
c_mke2fs=$(cpu mke2fs); c_ext4j=$(cpu mkfs)
printf '%-34s %7.2f s, CPU %5.2f s\n' "mke2fs -t ext4 -d (~$total_mb MB)" "$t_mke2fs" "$c_mke2fs"
[ -n "$t_ext4j_old" ] && printf '%-34s %7.2f s, CPU %5.2f s   mke2fs/ext4j = %.2f wall, %.2f CPU\n' "ext4j mkfs -d (before: BASE)" "$t_ext4j_old" "$(cpu mkfs-base)" "$(echo "$t_mke2fs / $t_ext4j_old" | bc -l)" "$(echo "$c_mke2fs / $(cpu mkfs-base)" | bc -l)"
printf '%-34s %7.2f s, CPU %5.2f s   mke2fs/ext4j = %.2f wall (goal: at least 1.5), %.2f CPU\n' "ext4j mkfs -d" "$t_ext4j" "$c_ext4j" "$(echo "$t_mke2fs / $t_ext4j" | bc -l)" "$(echo "$c_mke2fs / $c_ext4j" | bc -l)"
if [ -n "$t_put_old" ]; then
  t_put_net_old=$(echo "$t_put_old - $t_mkfs_only_old" | bc -l)
  printf '%-34s %7.2f s   (%.2f s without the mkfs) = %.0f files/s, CPU %.2f s (mkfs alone %.2f s)\n' "put -r $empties empty (before: BASE)" "$t_put_old" "$t_put_net_old" "$(echo "$empties / $t_put_net_old" | bc -l)" "$(cpu put-base)" "$(cpu mkfs-only-base)"
fi
t_put_net=$(echo "$t_put - $t_mkfs_only" | bc -l)
printf '%-34s %7.2f s   (%.2f s without the mkfs) = %.0f files/s, CPU %.2f s (mkfs alone %.2f s)\n' "ext4j put -r $empties empty files" "$t_put" "$t_put_net" "$(echo "$empties / $t_put_net" | bc -l)" "$(cpu put)" "$(cpu mkfs-only)"
printf '%-34s %7.2f s   = %.0f files/s, CPU %.2f s (reference)\n' "mke2fs -d $empties empty files" "$t_mke2fs_empty" "$(echo "$empties / $t_mke2fs_empty" | bc -l)" "$(cpu mke2fs-empty)"

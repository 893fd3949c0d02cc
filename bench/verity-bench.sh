#!/usr/bin/env bash
# fs-verity, one run, the peer in the same rounds: `ext4j verity digest` of a SIZE MiB file inside an
# image against fsverity-utils' `fsverity digest` of the same bytes on the host (both compute the same
# SHA-256 Merkle tree), `ext4j verity enable` of it against ext4j's own digest, then the digest of a
# 90%-sparse file (a 1 MiB island of data every 10 MiB) and of a sparse file with one byte of data:
# ext4j skips holes (the all-zero block's hash is reused), fsverity-utils reads them as zeros. Files
# live in DIR (default /dev/shm, so the disk does not dominate). Each case runs RUNS times, the two
# sides in turn, and reports the median; digests are compared. JVM start is timed once (--version).
# Usage: bench/verity-bench.sh [SIZE_MiB] [DIR] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-1024}; dir=${2:-/dev/shm}; runs=${3:-3}
"$root/ext4j" --version >/dev/null
work=$(mktemp -d "$dir/ext4j-verity-bench.XXXXXX"); trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
# timed VAR CMD...: runs CMD, appends its wall seconds to VAR and its CPU seconds (user + system,
# children included) to VAR_cpu, leaves its first output word in $out. CPU time is what a loaded
# machine (others' jobs on the same 2 cores) disturbs least.
timed() {
  local var=$1 s e; shift
  s=$(now); out=$(/usr/bin/time -o "$work/cpu" -f '%U %S' "$@" | cut -d' ' -f1); e=$(now)
  printf -v "$var" '%s %s' "${!var}" "$(echo "$e - $s" | bc)"
  local c="${var}_cpu"
  printf -v "$c" '%s %s' "${!c:-}" "$(awk '{ printf "%.2f", $1 + $2 }' "$work/cpu")"
}
med() { printf '%s\n' $1 | median; }
same() { [ "$1" = "$2" ] || { echo "DIGESTS DIFFER: fsverity $1, ext4j $2"; exit 1; }; }

T_start=""; for _ in $(seq "$runs"); do timed T_start "$root/ext4j" --version; done
echo "JVM start (ext4j --version): $(med "$T_start") s, CPU $(med "$T_start_cpu") s  (runs:$T_start)"

# case NAME HOSTFILE IMAGE PATH: fsverity digest of HOSTFILE against ext4j verity digest of IMAGE PATH, in turn
case_digest() {
  local name=$1 host=$2 img=$3 path=$4 tf="" te="" tf_cpu="" te_cpu=""
  for _ in $(seq "$runs"); do
    timed tf fsverity digest "$host"; want=$out
    timed te "$root/ext4j" verity digest "$img" "$path"; same "$want" "$out"
  done
  f=$(med "$tf"); e=$(med "$te"); fc=$(med "$tf_cpu"); ec=$(med "$te_cpu")
  echo "== $name: digest $want"
  printf '%-32s %6.3f s, CPU %5.2f s  (runs:%s; CPU:%s)\n' "fsverity digest (host file)" "$f" "$fc" "$tf" "$tf_cpu"
  printf '%-32s %6.3f s, CPU %5.2f s  (runs:%s; CPU:%s)\n' "ext4j verity digest (image)" "$e" "$ec" "$te" "$te_cpu"
  echo "ratio fsverity/ext4j: $(ratio "$f" "$e") wall, $(ratio "$fc" "$ec") CPU  (goal: $5, wall)"
}

head -c "$((size << 20))" /dev/urandom > "$work/data"
mke2fs -q -F -t ext4 -b 4096 -O verity "$work/img" "$((size + size / 8 + 64))M"
"$root/ext4j" put "$work/img" "$work/data" /f
case_digest "$size MiB of random data" "$work/data" "$work/img" /f "at least 1.5"
digest_med=$e; digest_cpu=$ec
te="" te_cpu=""
for _ in $(seq "$runs"); do
  cp "$work/img" "$work/run.img"
  timed te "$root/ext4j" verity enable "$work/run.img" /f; same "$want" "$out"
done
e2fsck -fn "$work/run.img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED after enable"; exit 1; }
e=$(med "$te"); ec=$(med "$te_cpu")
printf '%-32s %6.3f s, CPU %5.2f s  (runs:%s; CPU:%s; tree built and stored, transaction committed)\n' "ext4j verity enable (image)" "$e" "$ec" "$te" "$te_cpu"
echo "ratio enable/digest: $(ratio "$e" "$digest_med") wall, $(ratio "$ec" "$digest_cpu") CPU  (goal: at most 1.2, wall)"
rm -f "$work/data" "$work/img" "$work/run.img"

truncate -s "${size}M" "$work/sparse90"
for ((mib = 0; mib < size; mib += 10)); do
  head -c 1M /dev/urandom | dd of="$work/sparse90" bs=1M seek="$mib" conv=notrunc status=none
done
mke2fs -q -F -t ext4 -b 4096 "$work/img" "$((size / 4 + 128))M"
"$root/ext4j" put "$work/img" "$work/sparse90" /s
case_digest "$size MiB, 90% holes ($(du -m "$work/sparse90" | cut -f1) MiB of data)" "$work/sparse90" "$work/img" /s "at least 10"
rm -f "$work/sparse90" "$work/img"

truncate -s "${size}M" "$work/sparse"; printf x | dd of="$work/sparse" bs=1 seek=$((size << 19)) conv=notrunc 2>/dev/null
mke2fs -q -F -t ext4 -b 4096 "$work/img" 256M
"$root/ext4j" put "$work/img" "$work/sparse" /s
case_digest "$size MiB sparse file (one byte of data)" "$work/sparse" "$work/img" /s "none; the hole shortcut"

#!/usr/bin/env bash
# fs-verity, one run: `ext4j verity enable` of a SIZE MiB file inside an image against `fsverity digest`
# of the same bytes on the host (both compute the same SHA-256 Merkle tree), then `ext4j verity digest`
# of a SIZE MiB sparse file (holes: the all-zero block hash is computed once) against fsverity-utils on
# the same sparse host file. Files live in DIR (default /dev/shm, so the disk does not dominate).
# Usage: bench/verity-bench.sh [SIZE_MiB] [DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-1024}; dir=${2:-/dev/shm}
"$root/ext4j" --version >/dev/null
work=$(mktemp -d "$dir/ext4j-verity-bench.XXXXXX"); trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
head -c "$((size << 20))" /dev/urandom > "$work/data"
mke2fs -q -F -t ext4 -b 4096 -O verity "$work/img" "$((size + size / 8 + 64))M"
"$root/ext4j" put "$work/img" "$work/data" /f
t0=$(now); want=$(fsverity digest "$work/data" | cut -d' ' -f1); t1=$(now)
got=$("$root/ext4j" verity enable "$work/img" /f | cut -d' ' -f1); t2=$(now)
[ "$want" = "$got" ] || { echo "DIGESTS DIFFER: fsverity $want, ext4j $got"; exit 1; }
e2fsck -fn "$work/img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED"; exit 1; }
f=$(secs "$t0" "$t1"); e=$(secs "$t1" "$t2")
echo "== $size MiB of random data: digest $want"
echo "fsverity digest (host file):      $f s"
echo "ext4j verity enable (in an image): $e s  (JVM start, tree built and stored, transaction committed)"
echo "ratio fsverity/ext4j: $(ratio "$f" "$e")"
rm -f "$work/data" "$work/img"
truncate -s "${size}M" "$work/sparse"; printf x | dd of="$work/sparse" bs=1 seek=$((size << 19)) conv=notrunc 2>/dev/null
mke2fs -q -F -t ext4 -b 4096 "$work/img" 256M
"$root/ext4j" put "$work/img" "$work/sparse" /s
t0=$(now); want=$(fsverity digest "$work/sparse" | cut -d' ' -f1); t1=$(now)
got=$("$root/ext4j" verity digest "$work/img" /s | cut -d' ' -f1); t2=$(now)
[ "$want" = "$got" ] || { echo "DIGESTS DIFFER: fsverity $want, ext4j $got"; exit 1; }
f=$(secs "$t0" "$t1"); e=$(secs "$t1" "$t2")
echo "== $size MiB sparse file (one byte of data): digest $want"
echo "fsverity digest (host file):  $f s"
echo "ext4j verity digest (image):  $e s  (all-zero blocks hashed once)"
echo "ratio fsverity/ext4j: $(ratio "$f" "$e")"

#!/usr/bin/env bash
# Buffered I/O: ext4j's engine against a plain FileChannel file on the same disk, one run.
#  - sequential 1 MiB writes of SIZE MiB then fsync, then a cold-cache sequential read (OS caches dropped);
#  - 4 KiB random writes (then fsync) and reads over a RAND MiB file: ext4j vs the kernel's ext4 (loop mount, same driver);
#  - 4 KiB random writes into a new sparse file of RAND MiB, fsync every 1,000 (the extent tree grows
#    to tens of thousands of extents): ext4j vs the kernel.
# Usage: bench/io-bench.sh [SIZE_MiB] [RAND_MiB] [DIR]   (defaults 1024 512 /var/tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-1024}; rsize=${2:-512}; dir=${3:-/var/tmp}
"$root/ext4j" --version >/dev/null
. "$root/scripts/java-env.sh"; _ext4j_find_java
img=$(mktemp "$dir/ext4j-io-bench.XXXXXX.img"); plain=$(mktemp "$dir/ext4j-io-bench.XXXXXX.plain"); mnt=$(mktemp -d)
trap 'umount "$mnt" 2>/dev/null || true; rm -rf "$img" "$plain" "$mnt"' EXIT
J() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/target/ext4j.jar" "$root/bench/IoBench.java" "$@"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop OS caches: reads are warm)"; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }
rate() { sed 's/.*= \([0-9.]*\) .*/\1/'; }
echo "== sequential: $size MiB in 1 MiB writes + fsync, then a cold read; files in $dir ($(stat -f -c %T "$dir"))"
mke2fs -q -F -t ext4 "$img" $((size + size / 4 + 256))M
rm -f "$plain"; drop; pw=$(J seqwrite "$img" "$plain" "$size" plain); drop; ew=$(J seqwrite "$img" "$plain" "$size")
e2fsck -fn "$img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED after the write"; exit 1; }
echo "$pw"; echo "$ew"; echo "write ratio ext4j/plain: $(ratio "$(echo "$ew" | rate)" "$(echo "$pw" | rate)") (aim >= 0.80)"
echo "extents of /big: $(debugfs -R 'ex /big' "$img" 2>/dev/null | grep -c '^ *[0-9]')"
drop; pr=$(J seqread "$img" "$plain" "$size" plain); drop; er=$(J seqread "$img" "$plain" "$size")
echo "$pr"; echo "$er"; echo "read ratio ext4j/plain: $(ratio "$(echo "$er" | rate)" "$(echo "$pr" | rate)") (aim >= 0.90)"
echo "== random 4 KiB over $rsize MiB: ext4j vs the kernel (loop mount), $((rsize * 64)) ops each"
rm -f "$img"; mke2fs -q -F -t ext4 "$img" $((rsize * 2 + 256))M
J seqwrite "$img" "$plain" "$rsize" >/dev/null
cp --sparse=always "$img" "$img.k"; trap 'umount "$mnt" 2>/dev/null || true; rm -rf "$img" "$img.k" "$plain" "$mnt"' EXIT
erw=$(J randwrite "$img" "$plain" "$rsize"); drop; err=$(J randread "$img" "$plain" "$rsize")
e2fsck -fn "$img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED after random writes"; exit 1; }
if mount -o loop "$img.k" "$mnt" 2>/dev/null; then
  krw=$(J randwrite "$img" "$mnt/big" "$rsize" plain); drop; krr=$(J randread "$img" "$mnt/big" "$rsize" plain); umount "$mnt"
  echo "ext4j  $erw"; echo "kernel $krw"; echo "random write ratio ext4j/kernel: $(ratio "$(echo "$erw" | rate)" "$(echo "$krw" | rate)")"
  echo "ext4j  $err"; echo "kernel $krr"; echo "random read ratio ext4j/kernel: $(ratio "$(echo "$err" | rate)" "$(echo "$krr" | rate)")"
  esw=$(J sparsewrite "$img" "$plain" "$rsize")
  e2fsck -fn "$img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED after sparse writes"; exit 1; }
  echo "extents of /sparse: $(debugfs -R 'ex /sparse' "$img" 2>/dev/null | grep -c '^ *[0-9]')"
  mount -o loop "$img.k" "$mnt"; ksw=$(J sparsewrite "$img" "$mnt/sparse" "$rsize" plain); umount "$mnt"
  echo "ext4j  $esw"; echo "kernel $ksw"; echo "sparse write ratio ext4j/kernel: $(ratio "$(echo "$esw" | rate)" "$(echo "$ksw" | rate)")"
else
  echo "ext4j  $erw"; echo "ext4j  $err"; echo "(cannot loop-mount here: no kernel figure)"
fi

#!/usr/bin/env bash
# java.nio.file through ext4j's provider (a file inside an image) against the JDK's default provider
# (a host file on the same disk), one run: 1 MiB sequential writes + force, cold sequential read,
# 4 KiB random writes + force, cold 4 KiB random reads. OS caches are dropped before each read
# phase; every phase opens the image again (before the clock starts), so ext4j's own cache starts cold too.
# Aim (issue 16): ext4j at least 0.8x the default provider. The image is checked with e2fsck -fn.
# Usage: bench/nio-bench.sh [MiB] [DIR]   (defaults 512 /var/tmp)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mib=${1:-512}; dir=${2:-/var/tmp}
"$root/ext4j" --version >/dev/null
. "$root/scripts/java-env.sh"; _ext4j_find_java
img=$(mktemp "$dir/ext4j-nio-bench.XXXXXX.img"); host=$(mktemp -d "$dir/ext4j-nio-bench.XXXXXX")
trap 'rm -rf "$img" "$host"' EXIT
mke2fs -q -F -t ext4 "$img" $((mib * 2 + 256))M
J() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/target/ext4j.jar" "$root/bench/NioBench.java" "$@"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "(cannot drop OS caches: reads are warm)"; }
rate() { sed 's/.*= \([0-9.]*\) .*/\1/'; }
echo "== java.nio.file, $mib MiB, $(nproc) CPUs, files in $dir ($(stat -f -c %T "$dir"))"
printf "%-10s %14s %14s %7s\n" phase default ext4j ratio
for phase in seqwrite seqread randwrite randread; do
  case $phase in *read) drop;; esac
  d=$(J $phase default "$img" "$host" "$mib")
  case $phase in *read) drop;; esac
  e=$(J $phase ext4j "$img" "$host" "$mib")
  printf "%-10s %14s %14s %7s\n" "$phase" "$(echo "$d" | cut -d= -f2)" "$(echo "$e" | cut -d= -f2)" "$(echo "$(echo "$e" | rate) $(echo "$d" | rate)" | awk '{ printf "%.2f", $1 / $2 }')"
done
e2fsck -fn "$img" >/dev/null 2>&1 && echo "e2fsck -fn: clean" || { echo "e2fsck -fn FAILED"; exit 1; }

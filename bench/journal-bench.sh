#!/usr/bin/env bash
# Journal cost: the same metadata workload (create/rename/unlink, sync every 100 ops) with the jbd2
# journal and without it (-Dext4j.noJournal=true: blocks written home in batches), one run, on a
# fresh image each time. Usage: bench/journal-bench.sh [OPS] [DIR]   (default 100000 ops, image in /var/tmp: a real disk)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ops=${1:-100000}; dir=${2:-/var/tmp}
"$root/ext4j" --version >/dev/null
. "$root/scripts/java-env.sh"; _ext4j_find_java
img=$(mktemp "$dir/ext4j-journal-bench.XXXXXX.img")
trap 'rm -f "$img"' EXIT
run() {
  rm -f "$img"; "$root/ext4j" mkfs -q -t ext4 -N 300000 "$img" 2G
  "$JAVA_HOME/bin/java" "$@" --enable-native-access=ALL-UNNAMED -cp "$root/target/ext4j.jar" "$root/bench/JournalBench.java" "$img" "$ops" | tail -1
  e2fsck -fn "$img" >/dev/null 2>&1 || { echo "e2fsck -fn FAILED"; exit 1; }
}
echo "== $ops metadata operations, sync every 100, image in $dir ($(stat -f -c %T "$dir"))"
with=$(run); without=$(run -Dext4j.noJournal=true)
echo "with the jbd2 journal:    $with"
echo "without a journal:        $without"
a=$(echo "$with" | sed 's/.*= \([0-9]*\) ops.*/\1/'); b=$(echo "$without" | sed 's/.*= \([0-9]*\) ops.*/\1/')
printf 'journal overhead: %.0f%% (goal: under 30%%)\n' "$(echo "($b / $a - 1) * 100" | bc -l)"

#!/usr/bin/env bash
# FUSE mount: `ext4j mount` against the kernel's ext4 (loop mount) and fuse2fs, one run, each on its own
# fresh copy of one image (mke2fs -t ext4, 2 GiB). Per filesystem, in this order:
#  - fio, ioengine=psync, one job, one SIZE MiB file: 1 MiB sequential write + end_fsync, cold 1 MiB
#    sequential read, 4 KiB random write (over the same file) + end_fsync, cold 4 KiB random read;
#  - metadata: FILES empty files created with a bash builtin (: > fN), `ls -l` of them (to /dev/null),
#    `rm` of them (names through xargs), each timed: files per second.
# Between phases the filesystem is unmounted, the page cache dropped (sync; echo 3 > drop_caches) and
# it is mounted again, so every phase starts cold (drop_caches cannot reach a FUSE server's own cache).
# REMOUNT=0: stay mounted, only drop the page cache.
# The kernel mounts with noinit_itable (no lazy inode-table zeroing in the background while measuring).
# Prints a table (kernel, fuse2fs, ext4j, ext4j/kernel, ext4j/fuse2fs) and writes it as CSV, a PNG bar
# chart (normalized to the kernel = 1.0, log scale), fio's JSON and the servers' logs into OUTDIR.
# Ends with e2fsck -fn of each image. If `ext4j mount` fails (or a phase on it fails or times out,
# PHASE_TIMEOUT seconds, default 1800), says why and still prints the other columns.
# Needs root, fio, fuse2fs, fuse3, jq, gnuplot (apt-get install fio fuse2fs fuse3 jq gnuplot-nox).
# Usage: bench/fuse-bench.sh [OUTDIR] [SIZE_MiB] [FILES]   (defaults /var/tmp/fuse-bench-out 512 10000;
#        images in FUSE_BENCH_DIR, default /var/tmp: a real disk, not tmpfs; EXT4J_MOUNT_ARGS: extra mount args)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/var/tmp/fuse-bench-out}; size=${2:-512}; files=${3:-10000}
dir=${FUSE_BENCH_DIR:-/var/tmp}; remount=${REMOUNT:-1}; limit=${PHASE_TIMEOUT:-1800}
[ "$(id -u)" = 0 ] || { echo "fuse-bench: needs root (loop mount, drop_caches)" >&2; exit 1; }
for t in fio fuse2fs jq gnuplot mke2fs e2fsck; do
  command -v "$t" >/dev/null || { echo "fuse-bench: $t missing (apt-get install fio fuse2fs fuse3 jq gnuplot-nox)" >&2; exit 1; }
done
"$root/ext4j" --version >/dev/null
mkdir -p "$out/fio"; rm -f "$out"/fio/*.json "$out"/*.log
work=$(mktemp -d "$dir/ext4j-fuse-bench.XXXXXX"); mnt=$work/mnt; mkdir "$mnt"
fs=; f2pid=; conn=; bpid=
mounted() { awk -v m="$mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
# A FUSE server that does not answer: abort its connection (every request waiting on it fails).
abort_fuse() {
  [ -n "$conn" ] && [ -e "/sys/fs/fuse/connections/$conn/abort" ] || return 0
  echo 1 > "/sys/fs/fuse/connections/$conn/abort" && echo "$fs: FUSE connection $conn aborted" >&2 || true
}
# bounded SECONDS CMD...: CMD in its own process group, waited for at most SECONDS (then exit 124).
# A request that a FUSE server has taken waits uninterruptibly, so killing its caller does not end it:
# past the limit the connection is aborted first, then CMD's group is killed.
bounded() {
  local secs=$1 end rc=0; shift; end=$((SECONDS + secs))
  setsid -w "$@" & bpid=$!
  while kill -0 "$bpid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  if kill -0 "$bpid" 2>/dev/null; then
    echo "$fs: timed out after $secs s: $*" >&2
    abort_fuse; kill -KILL -- "-$bpid" "$bpid" 2>/dev/null || true
    for ((end = SECONDS + 10; SECONDS < end; )); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$bpid" 2>/dev/null && echo "$fs: pid $bpid still there after SIGKILL" >&2
    bpid=; return 124
  fi
  wait "$bpid" || rc=$?; bpid=; return $rc
}
force_unmount() { abort_fuse; bounded 30 umount -l "$mnt" 2>/dev/null || true; }
cleanup() {
  [ -n "$bpid" ] && kill -KILL -- "-$bpid" "$bpid" 2>/dev/null
  if mounted; then fs_umount || force_unmount; fi
  [ -n "$f2pid" ] && kill "$f2pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

fs_mount() {
  case $fs in
    kernel) bounded 120 mount -o loop,noinit_itable "$work/$fs.img" "$mnt" ;;
    fuse2fs)  # foreground, in the background: its pid is ours, and its exit says the image is closed
      fuse2fs -f "$work/$fs.img" "$mnt" >>"$out/fuse2fs.log" 2>&1 & f2pid=$!
      local i; for ((i = 0; i < 300; i++)); do mounted && break; kill -0 "$f2pid" 2>/dev/null || break; sleep 0.1; done
      mounted || { echo "fuse2fs did not mount (log: $out/fuse2fs.log)"; return 1; } ;;
    ext4j)
      echo "== $(date +%T) ext4j mount ${EXT4J_MOUNT_ARGS:-}$work/$fs.img $mnt" >>"$out/ext4j.log"
      local rc=0; bounded 120 "$root/ext4j" mount ${EXT4J_MOUNT_ARGS:-} "$work/$fs.img" "$mnt" >>"$out/ext4j.log" 2>&1 || rc=$?
      if [ "$rc" != 0 ] || ! mounted; then
        echo "ext4j mount failed (exit $rc$([ "$rc" = 124 ] && echo ': did not return in 120 s')$(mounted || echo ', not mounted')):"
        tail -n 15 "$out/ext4j.log" | sed 's/^/  | /'; return 1
      fi ;;
  esac || return 1
  # the FUSE connection's id: the minor of the mount's device number
  conn=$(awk -v m="$mnt" '$5 == m { for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^fuse/) { split($3, d, ":"); c = d[2] } } END { print c }' /proc/self/mountinfo)
}
fs_umount() {
  case $fs in
    kernel) bounded 120 umount "$mnt" ;;
    fuse2fs)
      bounded 120 umount "$mnt" || return 1
      local end; for ((end = SECONDS + 120; SECONDS < end; )); do kill -0 "$f2pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$f2pid" 2>/dev/null && { echo "fuse2fs (pid $f2pid) still running 120 s after umount"; return 1; }
      wait "$f2pid" || true; f2pid= ;;
    ext4j)
      echo "== $(date +%T) ext4j umount $mnt" >>"$out/ext4j.log"
      local rc=0; bounded 120 "$root/ext4j" umount "$mnt" >>"$out/ext4j.log" 2>&1 || rc=$?
      [ "$rc" = 0 ] && ! mounted || { echo "ext4j umount failed (exit $rc$(mounted && echo ', still mounted')):"; tail -n 15 "$out/ext4j.log" | sed 's/^/  | /'; return 1; } ;;
  esac
}
drop() { bounded 600 sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'; }
# Between phases: unmount, drop the page cache, mount again (REMOUNT=0: only drop).
cycle() { if [ "$remount" = 1 ]; then fs_umount && drop && fs_mount; else drop; fi; }

# fio NAME RW BS [fio args]: one fio job on $mnt/fio.dat; sets val to MB/s (BS 1M) or IOPS (BS 4k).
fio_phase() {
  local name=$1 rw=$2 bs=$3 dirn=read json=$out/fio/$fs-$1.json log=$out/fio/$fs-$1.log rc=0; shift 3
  case $rw in *write) dirn=write ;; esac
  bounded "$limit" fio --output-format=json --output="$json" --name="$name" --filename="$mnt/fio.dat" --size="${size}M" \
    --rw="$rw" --bs="$bs" --ioengine=psync --numjobs=1 --fallocate=none "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { echo "fio $name on $fs: exit $rc"; sed 's/^/  | /' "$log"; return 1; }
  [ "$(jq '.jobs[0].error' "$json")" = 0 ] || { echo "fio $name on $fs: error $(jq '.jobs[0].error' "$json")"; return 1; }
  case $bs in
    1M) val=$(jq -r ".jobs[0].$dirn.bw_bytes / 1e6" "$json") ;;
    *) val=$(jq -r ".jobs[0].$dirn.iops" "$json") ;;
  esac
}
# meta PHASE: one metadata phase on FILES files in $mnt/meta, timed inside a child bash; sets val to files/s.
meta() {
  local code rc=0 t
  case $1 in
    create) code='cd "$1"; mkdir -p meta; cd meta; t0=$EPOCHREALTIME; for ((i = 1; i <= $2; i++)); do : > "f$i"; done' ;;
    ls) code='cd "$1"/meta; t0=$EPOCHREALTIME; LC_ALL=C ls -l > /dev/null' ;;
    rm) code='cd "$1"/meta; t0=$EPOCHREALTIME; printf "%s\0" f* | xargs -0 rm -f --' ;;
  esac
  bounded "$limit" bash -c "set -e; $code"'; echo "$t0 $EPOCHREALTIME"' _ "$mnt" "$files" >"$work/time" 2>"$work/meta.err" || rc=$?
  [ "$rc" = 0 ] || { echo "$1 on $fs: exit $rc"; head -n 5 "$work/meta.err" | sed 's/^/  | /'; return 1; }
  val=$(awk -v n="$files" '{ printf "%.0f", n / ($2 - $1) }' "$work/time")
}
# Untimed check after a metadata phase: meta/ holds that many entries.
expect() {
  bounded 600 find "$mnt/meta" -mindepth 1 -maxdepth 1 >"$work/list" || { echo "find in meta/ on $fs failed"; return 1; }
  local n; n=$(wc -l < "$work/list"); [ "$n" = "$1" ] || { echo "$fs: $n entries in meta/, expected $1"; return 1; }
}

phases=(seqw seqr randw randr create ls rm)
declare -A label=([seqw]="seq write MB/s" [seqr]="seq read MB/s" [randw]="rand write IOPS" [randr]="rand read IOPS"
                  [create]="create files/s" [ls]="ls -l entries/s" [rm]="rm files/s")
declare -A res fsck
run_phase() {
  val=
  case $1 in
    seqw) fio_phase seqwrite write 1M --end_fsync=1 ;;
    seqr) fio_phase seqread read 1M ;;
    randw) fio_phase randwrite randwrite 4k --end_fsync=1 ;;
    randr) fio_phase randread randread 4k ;;
    create) meta create && expect "$files" ;;
    ls) meta ls ;;
    rm) meta rm && expect 0 ;;
  esac
}
fmt() { [ -z "${1:-}" ] && { echo -; return; }; awk -v v="$1" -v p="$2" 'BEGIN { printf(p ~ /^seq/ ? "%.1f" : "%.0f", v) }'; }
# run FS: all phases on a fresh copy of the image; a failure ends this filesystem's run, the others go on.
run() {
  fs=$1; local p first=1
  cp --sparse=always "$work/base.img" "$work/$fs.img"; drop
  echo "== $(date +%T) $fs (load average $(cut -d" " -f1-3 /proc/loadavg))"
  fs_mount || { echo "$fs: not measured"; fsck[$fs]="not run ($fs did not mount)"; return 0; }
  for p in "${phases[@]}"; do
    if [ $first = 0 ] && ! cycle; then echo "$fs: remount/drop before '${label[$p]}' failed; stopping $fs"; break; fi
    first=0
    if run_phase "$p" && [ -n "$val" ]; then
      res[$fs,$p]=$val; printf '   %-18s %10s\n' "${label[$p]}" "$(fmt "$val" "$p")"
    else
      echo "$fs: '${label[$p]}' failed (fio's output in $out/fio/, the server's log in $out/$fs.log); stopping $fs"
      break
    fi
  done
  if mounted; then
    fs_umount || { force_unmount; echo "$fs: forced unmount (FUSE connection ${conn:-?} aborted, umount -l)"
                   echo "$fs: processes holding the image: $(fuser "$work/$fs.img" 2>/dev/null || echo none)"; }
  fi
  if e2fsck -fn "$work/$fs.img" >"$out/e2fsck-$fs.log" 2>&1; then fsck[$fs]=clean; else fsck[$fs]="NOT clean (exit $?, $out/e2fsck-$fs.log)"; fi
  rm -f "$work/$fs.img"
}

mke2fs -q -F -t ext4 "$work/base.img" 2G >/dev/null
echo "== fuse-bench: ${size} MiB fio file, $files files, $(nproc) CPUs, images in $dir ($(stat -f -c %T "$dir")), remount between phases: $remount"
echo "   $(uname -r); $(fio --version); $(fuse2fs -V 2>&1 | head -1), $(fuse2fs -V 2>&1 | grep 'FUSE library'); $("$root/ext4j" --version 2>&1 | head -1)"
for f in kernel fuse2fs ext4j; do run "$f"; done

ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo -; }
norm() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }' || echo '?'; }
csv=$out/fuse-bench.csv; dat=$work/chart.dat
echo "phase,kernel,fuse2fs,ext4j,ext4j/kernel,ext4j/fuse2fs" > "$csv"; : > "$dat"
{
  printf '%-18s %10s %10s %10s %13s %14s\n' phase kernel fuse2fs ext4j ext4j/kernel ext4j/fuse2fs
  for p in "${phases[@]}"; do
    k=${res[kernel,$p]:-}; f=${res[fuse2fs,$p]:-}; e=${res[ext4j,$p]:-}
    row=("$(fmt "$k" "$p")" "$(fmt "$f" "$p")" "$(fmt "$e" "$p")" "$(ratio "$e" "$k")" "$(ratio "$e" "$f")")
    printf '%-18s %10s %10s %10s %13s %14s\n' "${label[$p]}" "${row[@]}"
    (IFS=,; echo "${label[$p]},${row[*]}") | sed 's/,-/,/g' >> "$csv"
    printf '"%s\\n(kernel %s)" %s %s %s\n' "${label[$p]}" "${row[0]}" "$(norm "$k" "$k")" "$(norm "$f" "$k")" "$(norm "$e" "$k")" >> "$dat"
  done
} | tee "$out/fuse-bench.txt"
for f in kernel fuse2fs ext4j; do echo "e2fsck -fn $f image: ${fsck[$f]:-not run}"; done | tee -a "$out/fuse-bench.txt"
if grep -q '^"[^"]*" [0-9]' "$dat"; then
  # y range (log scale): from the power of ten under the smallest bar to one decade over the largest
  yr=$(awk '{ for (i = NF - 2; i <= NF; i++) if ($i != "?") { v = $i + 0; if (!n++ || v < lo) lo = v; if (v > hi) hi = v } }
            END { printf "%g:%g", 10 ^ (int(log(lo * 0.9) / log(10) + 10) - 10), 10 ^ (int(log(hi) / log(10) + 10) - 9) }' "$dat")
  # bars: kernel, fuse2fs, ext4j, each labelled with its ratio (a missing figure: no bar, no label)
  plot="plot \"$dat\" using 2:xtic(1) title \"kernel\" lc rgb \"#4477aa\""; missing=
  for c in 3:fuse2fs:-0:#ee7733 4:ext4j:+0.25:#228833; do
    IFS=: read -r col name off color <<<"$c"
    if ! awk -v c="$col" '$(NF - 4 + c) != "?" { f = 1 } END { exit !f }' "$dat"; then
      plot+=", '' using (1e-30) notitle"; missing+=" - $name: not measured"; continue   # keeps its slot in each group
    fi
    plot+=", '' using $col title \"$name\" lc rgb \"$color\""
    plot+=", '' using (\$0 $off):(\$$col * 1.15):(sprintf(\"%.2f\", \$$col)) with labels font \",9\" notitle"
  done
  gnuplot <<EOF || echo "(gnuplot failed: no chart)"
set terminal pngcairo size 1200,650 font ",11"
set output "$out/fuse-bench.png"
set title "ext4j mount vs kernel ext4 and fuse2fs: ${size} MiB psync fio, $files files (relative to kernel = 1.0, higher is better)$missing"
set datafile missing '?'
set style data histogram; set style histogram clustered gap 1; set style fill solid 0.85 border -1; set boxwidth 0.9
set logscale y; set yrange [$yr]; set grid ytics; set ylabel "relative to kernel (log scale)"
set key top right; set xtics nomirror; set bmargin 4
$plot
EOF
fi
echo "table: $out/fuse-bench.txt, CSV: $csv, chart: $out/fuse-bench.png, fio JSON: $out/fio/"

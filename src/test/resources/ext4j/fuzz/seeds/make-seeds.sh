#!/usr/bin/env bash
# Makes the fuzz targets' seed images (committed gzipped; run again only to change them).
# Needs mke2fs, setfattr and root (the last seed is written by a kernel loop mount).
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000
mk() { # name size mke2fs-options...
  local name=$1 size=$2; shift 2
  rm -f "$work/$name.img"
  mke2fs -q -F -U 6f1c2d3e-4b5a-6978-8796-a5b4c3d2e1f0 -E hash_seed=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 "$@" -d "$work/src" "$work/$name.img" "$size"
  # mke2fs -d writes linear directories; e2fsck -D indexes the big one (where dir_index is on)
  e2fsck -fyD "$work/$name.img" >/dev/null 2>&1 || [ $? -le 1 ]
  gzip -9n -c "$work/$name.img" > "$out/$name.img.gz"
}
src=$work/src
mkdir -p "$src/dir" "$src/htree" "$src/deep/a/b/c"
# low-entropy but position-dependent contents, so a wrong block is visible and the images compress
line() { for i in $(seq 1 "$2"); do printf '%s line %05d\n' "$1" "$i"; done; }
line small 3 > "$src/small"
line medium 700 > "$src/medium"                        # ~14 KiB: direct blocks
line large 16000 > "$src/large"                        # ~300 KiB: indirect and double indirect on 1 KiB blocks
for i in $(seq 0 2 120); do line "frag$i" 40 | dd of="$src/fragmented" bs=1024 seek=$((i * 4)) conv=notrunc status=none; done  # many extents
for i in $(seq 1 300); do line "n$i" 1 > "$src/htree/entry-with-a-longer-name-$i"; done
line deep 20 > "$src/deep/a/b/c/file"
ln -s small "$src/fastlink"
ln -s "$(printf 'x%.0s' $(seq 1 200))/target/beyond/sixty/bytes" "$src/slowlink"
for i in 1 2 3; do line "d$i" 2 > "$src/dir/f$i"; done
setfattr -n user.small -v hello "$src/small"
setfattr -n user.big -v "$(printf 'v%.0s' $(seq 1 700))" "$src/medium"   # does not fit in the inode: an xattr block
setfattr -n user.a -v 1 -n user.b -v 2 "$src/dir" 2>/dev/null || setfattr -n user.a -v 1 "$src/dir"
setfacl -m u:1000:rw,g:100:r "$src/dir/f1" 2>/dev/null || true
setfacl -d -m u:1000:rwx "$src/dir" 2>/dev/null || true
mk ext4-csum 4M -t ext4 -I 256
mk ext4-nocsum-1k 4M -t ext4 -b 1024 -O ^metadata_csum
mk ext2-1k 4M -t ext2 -b 1024
mk ext4-inline 4M -t ext4 -O inline_data,^metadata_csum -b 1024
# kernel-written: a journal with committed transactions not yet checkpointed (the copy is taken while mounted)
rm -f "$work/kj.img"
mke2fs -q -F -t ext4 -b 1024 -U 6f1c2d3e-4b5a-6978-8796-a5b4c3d2e1f1 "$work/kj.img" 4M
mkdir -p "$work/mnt" && mount -o loop,commit=600 "$work/kj.img" "$work/mnt"
mkdir "$work/mnt/j"; for i in $(seq 1 120); do line "j$i" 30 > "$work/mnt/j/file-with-a-long-name-$i"; done   # the kernel indexes it
ln "$work/mnt/j/file-with-a-long-name-1" "$work/mnt/j/f1"; line f2 3 > "$work/mnt/j/f2"
ln -s f1 "$work/mnt/j/link"; setfattr -n user.k -v v "$work/mnt/j/f1"; rm "$work/mnt/j/f2"
sync -f "$work/mnt/j/f1"; cp "$work/kj.img" "$work/kj-copy.img"
umount "$work/mnt"
gzip -9n -c "$work/kj-copy.img" > "$out/kernel-journal.img.gz"
ls -la "$out"

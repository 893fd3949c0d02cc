#!/usr/bin/env bash
# Installs what the build and the tests use, from Debian's packages. Run by ./run-tests and .ci/run.
# Idempotent: when every tool below is already there it does nothing (a few stat calls). As root it runs
# apt-get itself, otherwise through sudo (asking for a password only on a terminal). When it cannot install
# (no apt-get, no sudo, no network) it says what is missing and returns 0: the tests that need a missing
# tool then skip or fail by name. EXT4J_NO_INSTALL=1 skips it.
#
# package         tools                          what for
# e2fsprogs       mke2fs debugfs e2fsck dumpe2fs  the oracles images are made and checked with
# attr            setfattr getfattr              xattr fixtures and comparisons
# acl             setfacl getfacl                ACL fixtures and comparisons
# fsverity        fsverity                       fsverity-utils: the digest and Merkle tree oracle
# fuse3           fusermount3                    `ext4j mount` for users (and /dev/fuse's permissions below)
# rsync           rsync                          a real program copying through the mount
# gcc, linux-libc-dev  gcc, linux/fuse.h         FuseProtoTest compiles the kernel's structure layouts
# maven           mvn                            the build
set -uo pipefail

[ "${EXT4J_NO_INSTALL:-}" = 1 ] && exit 0

have() {
  local d
  for d in ${PATH//:/ } /usr/sbin /sbin /usr/bin /bin; do [ -x "$d/$1" ] && return 0; done
  return 1
}

missing=()
need() { # need PACKAGE TOOL... : the package is missing if one of its tools is (a path starting with / is a file)
  local pkg=$1 t; shift
  for t in "$@"; do
    if [[ $t == /* ]]; then [ -e "$t" ] || { missing+=("$pkg"); return; }
    else have "$t" || { missing+=("$pkg"); return; }
    fi
  done
}
need e2fsprogs mke2fs debugfs e2fsck dumpe2fs tune2fs
need attr setfattr getfattr
need acl setfacl getfacl
need fsverity fsverity
need fuse3 fusermount3
need rsync rsync
need gcc gcc
need linux-libc-dev /usr/include/linux/fuse.h
need maven mvn

# distributions open /dev/fuse to every user (fusermount3 mounts for them); some containers leave it 0600
fuse_mode_wrong=0
[ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ] && fuse_mode_wrong=1

[ ${#missing[@]} -eq 0 ] && [ $fuse_mode_wrong -eq 0 ] && exit 0

say() { echo "install-test-deps: $*" >&2; }
give_up() {
  [ ${#missing[@]} -gt 0 ] && say "$1; not installed: ${missing[*]} (apt-get install ${missing[*]}); the tests that need them will skip or fail"
  [ $fuse_mode_wrong -eq 1 ] && say "$1; /dev/fuse stays mode $(stat -c %a /dev/fuse) (chmod 0666 /dev/fuse lets non-root tests mount)"
  exit 0
}

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  have sudo || give_up "not root and no sudo"
  if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
fi

if [ $fuse_mode_wrong -eq 1 ]; then
  "${as_root[@]}" chmod 0666 /dev/fuse 2>/dev/null || say "could not chmod 0666 /dev/fuse: non-root mount tests will skip or fail"
fi

[ ${#missing[@]} -eq 0 ] && exit 0
have apt-get || give_up "no apt-get here"
say "installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || give_up "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade "${missing[@]}" || give_up "apt-get install failed"
exit 0

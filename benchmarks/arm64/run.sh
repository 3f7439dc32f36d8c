#!/usr/bin/env bash
# run.sh -- check cadence-coach on an EMULATED 64-bit Raspberry Pi OS userland (Debian Bookworm
# arm64 under qemu-user), from an x86-64 machine.
#
# Usage:
#   sudo benchmarks/arm64/run.sh [--json FILE] [--rebuild] [--skip-tests]
#
#   --json FILE   also copy the result JSON here (default: only $CC_ARM64_DIR/result.json)
#   --rebuild     throw the cached chroot away and build it again
#   --skip-tests  do not run the kernels' tests inside the chroot (replay and timings only)
#
# What it does, each step cached and safe to repeat:
#   1. apt installs debootstrap, qemu-user-static and binfmt-support (apt-get update first) and makes
#      sure the kernel runs aarch64 binaries through qemu (binfmt_misc, flag F: no qemu in the chroot)
#   2. debootstrap --arch=arm64 --foreign --variant=minbase bookworm, from the Debian mirror that
#      apt's own sources name, then the second stage inside the chroot (emulated)
#   3. installs the aarch64 wheels with THIS machine's pip (pip inside the chroot may lack
#      certificates): pip install --platform manylinux_2_28_aarch64 --only-binary=:all:
#      --target <chroot>/opt/site numpy scipy numba llvmlite smbus2 gpiozero colorzero pytest
#      hypothesis, at the versions installed here (so both sides run the same numpy and numba)
#   4. copies the project (dsp, firmware_py, benchmarks, tests, config, pyproject.toml) in
#   5. inside the chroot: the kernels' tests (tests/test_steps.py, tests/test_stride.py: every
#      kernel against its naive reference in tests/naive*.py), a replay of every bundled recording
#      (firmware_py/data, tests/fixtures), and EMULATED timings: numba compile time (empty cache),
#      cache-load time (warm cache), steady step-core throughput
#   6. the same replay on this machine, then a bit-for-bit comparison of the steps (the replay
#      JSON `steps`, and the float64 bits of every contact time, cadence and stride length)
#
# The chroot is cached in $CC_ARM64_DIR (default /tmp/cc-arm64, outside the checkout). The result
# is $CC_ARM64_DIR/result.json; `python -m benchmarks` puts it in the README's speed block.
# Exit status: 0 when the tests pass and every step agrees, 1 when not, 2 when the emulated
# system could not be built (the reason is printed; with no Debian mirror in reach debootstrap
# cannot run).
#
# Environment:
#   CC_ARM64_DIR   cache folder (default /tmp/cc-arm64)
#   CC_ARM64_MIRROR  Debian mirror (default: the first deb.debian.org-style URI in apt's sources)
#   PYTHON         this machine's Python with cadence-coach's dependencies (default: python3)

set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
WORK=${CC_ARM64_DIR:-/tmp/cc-arm64}
ROOT=$WORK/rootfs
SUITE=bookworm
PYTHON=${PYTHON:-python3}
OUT_JSON=""
REBUILD=0
SKIP_TESTS=0

log() { printf '==> %s\n' "$*"; }
die() { printf 'arm64: ERROR: %s\n' "$*" >&2; exit "${2:-2}"; }

while (($#)); do
    case $1 in
        --json) OUT_JSON=$2; shift ;;
        --rebuild) REBUILD=1 ;;
        --skip-tests) SKIP_TESTS=1 ;;
        -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

[[ $EUID -eq 0 ]] || die "run as root (debootstrap and chroot need it): sudo $0"
[[ $(uname -m) == x86_64 || $(uname -m) == aarch64 ]] || die "unsupported host $(uname -m)"
mkdir -p "$WORK"

# ------------------------------------------------------------------ 1. tools and binfmt
need_pkgs=()
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
[[ -x /usr/bin/qemu-aarch64-static ]] || need_pkgs+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need_pkgs+=(binfmt-support)
if ((${#need_pkgs[@]})); then
    log "apt-get install ${need_pkgs[*]}"
    apt-get update -q >"$WORK/apt-update.log" 2>&1 || die "apt-get update failed (see $WORK/apt-update.log)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >"$WORK/apt-install.log" 2>&1 ||
        die "apt-get install ${need_pkgs[*]} failed (see $WORK/apt-install.log)"
fi
if [[ $(uname -m) == x86_64 ]]; then
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "cannot mount binfmt_misc (a container without CAP_SYS_ADMIN?): aarch64 binaries cannot run here"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 ||
            die "cannot register qemu-aarch64 with binfmt_misc"
    fi
fi

# ------------------------------------------------------------------ 2. the userland
mirror=${CC_ARM64_MIRROR:-}
if [[ -z $mirror ]]; then
    # the mirror apt itself uses (deb822 sources first, then the one-line format)
    mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
        grep -vE 'security|updates' | head -n1 || true)
    if [[ -z $mirror ]]; then
        mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' |
            grep -vE 'security' | head -n1 || true)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
fi

mount_fs() {
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}
umount_fs() {
    local m
    for m in "$ROOT/dev" "$ROOT/proc"; do
        if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
    done
}
trap umount_fs EXIT

if ((REBUILD)) && [[ -d $ROOT ]]; then
    umount_fs
    log "removing the cached chroot $ROOT"
    rm -rf --one-file-system "$ROOT"
fi
if [[ ! -e $ROOT/.cc-stage2-done ]]; then
    if [[ ! -e $ROOT/.cc-stage1-done ]]; then
        rm -rf --one-file-system "$ROOT"
        log "debootstrap stage 1: $SUITE arm64 from $mirror (log: $WORK/debootstrap1.log)"
        if ! debootstrap --arch=arm64 --foreign --variant=minbase --include=python3,ca-certificates \
            "$SUITE" "$ROOT" "$mirror" >"$WORK/debootstrap1.log" 2>&1; then
            tail -n 5 "$WORK/debootstrap1.log" >&2
            die "debootstrap stage 1 failed: the Debian mirror $mirror was not reachable or refused (see $WORK/debootstrap1.log); set CC_ARM64_MIRROR to one that is"
        fi
        touch "$ROOT/.cc-stage1-done"
    fi
    # not needed with binfmt's F flag, harmless otherwise
    cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/" 2>/dev/null || true
    log "debootstrap stage 2 inside the chroot, EMULATED (log: $WORK/debootstrap2.log; a few minutes)"
    if ! chroot "$ROOT" /debootstrap/debootstrap --second-stage >"$WORK/debootstrap2.log" 2>&1; then
        tail -n 5 "$WORK/debootstrap2.log" >&2
        die "debootstrap stage 2 failed (see $WORK/debootstrap2.log)"
    fi
    touch "$ROOT/.cc-stage2-done"
fi
mount_fs
chroot "$ROOT" /usr/bin/python3 -c 'import platform, sys; print("chroot:", platform.machine(), sys.version.split()[0])' ||
    die "python3 does not run in the chroot"

# ------------------------------------------------------------------ 3. aarch64 wheels
# Same versions as on this machine, so that x86 and arm64 run the same numpy and numba.
mapfile -t reqs < <("$PYTHON" - <<'PY'
from importlib.metadata import PackageNotFoundError, version

for name in ("numpy", "scipy", "numba", "llvmlite", "smbus2", "gpiozero", "colorzero", "pytest", "hypothesis"):
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)
PY
)
stamp=$(printf '%s\n' "${reqs[@]}" | sha256sum | cut -c1-16)
SITE=$ROOT/opt/site
if [[ ! -e $SITE/.cc-$stamp ]]; then
    log "pip install (host pip, --platform manylinux_2_28_aarch64) ${reqs[*]}"
    rm -rf "$SITE"
    "$PYTHON" -m pip install --disable-pip-version-check --quiet --no-compile \
        --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
        --implementation cp --python-version 3.11 --abi cp311 --only-binary=:all: \
        --target "$SITE" "${reqs[@]}" >"$WORK/pip.log" 2>&1 || {
        tail -n 5 "$WORK/pip.log" >&2
        die "pip could not get the aarch64 wheels (see $WORK/pip.log)"
    }
    touch "$SITE/.cc-$stamp"
fi

# ------------------------------------------------------------------ 4. the project
APP=$ROOT/opt/cadence-coach
rm -rf "$APP"
mkdir -p "$APP"
tar -C "$REPO" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.nbi' --exclude='*.nbc' \
    -cf - dsp firmware_py benchmarks tests config pyproject.toml | tar -C "$APP" -xf -
rm -rf "$ROOT/opt/out"
mkdir -p "$ROOT/opt/out"

# ------------------------------------------------------------------ 5. inside (EMULATED)
log "inside the chroot (EMULATED aarch64): tests, replay, timings"
inside_args=(--out /opt/out)
((SKIP_TESTS)) && inside_args+=(--skip-tests)
set +e
chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    PYTHONPATH=/opt/site:/opt/cadence-coach PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 /opt/cadence-coach/benchmarks/arm64/check.py inside "${inside_args[@]}"
inside_rc=$?
set -e
[[ -s $ROOT/opt/out/inside.json ]] || die "the run inside the chroot wrote no result (exit $inside_rc)" 1

# ------------------------------------------------------------------ 6. x86 reference, comparison
log "the same replay on this machine ($(uname -m))"
rm -rf "$WORK/host"
mkdir -p "$WORK/host"
(cd "$REPO" && PYTHONPATH=$REPO "$PYTHON" benchmarks/arm64/check.py replay --out "$WORK/host")
set +e
(cd "$REPO" && PYTHONPATH=$REPO "$PYTHON" benchmarks/arm64/check.py compare \
    --arm "$ROOT/opt/out" --host "$WORK/host" --result "$WORK/result.json")
rc=$?
set -e
if [[ -n $OUT_JSON ]]; then
    cp "$WORK/result.json" "$OUT_JSON"
fi
exit "$rc"

#!/usr/bin/env bash
# setup-pi.sh -- prepare a Raspberry Pi for cadence-coach.
#
# Target: a fresh Raspberry Pi OS Bookworm, 64-bit (arm64), on a Pi Zero 2 W,
# Pi 4 or Pi 5. 32-bit (armhf) works too, with the numba JIT off (slower).
#
# Usage:
#   sudo hardware/setup-pi.sh [--dry-run] [--no-start] [--i2c-hz N] [SOURCE_DIR]
#
#   SOURCE_DIR  the cadence-coach source tree to install (default: the
#               checkout this script lives in, i.e. the parent of hardware/)
#   --dry-run   print every command instead of running it; needs no root and
#               changes nothing (the checks it makes only read)
#   --no-start  install and enable the service but do not (re)start it now
#   --i2c-hz N  run the I2C bus at N Hz (10000-1000000, e.g. 100000 for a long
#               cable); without it, the speed config.txt already sets for
#               every board (before any [pi4]-like section, or under [all]) is
#               kept, and 400000 is set only when it sets none. A speed set
#               only in a conditional section ([pi4], [pi02]...) is left to win
#               on the boards it names; --i2c-hz N rewrites those lines too
#
# What it does, each step safe to repeat:
#    1. checks it runs as root, on arm64 (armhf: warns, turns the JIT off)
#    2. enables I2C (raspi-config nonint do_i2c 0); the bus speed in config.txt:
#       --i2c-hz N, else the one already there for every board, else 400 kHz
#    3. apt installs python3-venv python3-lgpio i2c-tools (and, on arm64, gcc
#       g++ python3-dev: the compilers and headers the AOT kernel module needs)
#    4. creates the system user `cadence` (groups i2c and gpio only)
#    5. creates /var/lib/cadence-coach/{logs,numba-cache} (cadence, 0750)
#    6. creates the venv /opt/cadence-coach/venv (--system-site-packages, so
#       it sees apt's python3-lgpio) and pip installs the project into it
#    7. installs /etc/cadence-coach/config.toml from config/device.toml (the
#       placement and the profile; every other key keeps its built-in default,
#       see config/default.toml) unless it already exists (never overwritten)
#    8. compiles every numba kernel ahead of time into a native module in the
#       cache, as the cadence user (`cadence-coach precompile --aot`): the
#       service then runs without numba (about 50 MB instead of 155 MB, faster
#       start). Should that build fail, it warms the numba JIT cache instead.
#    9. installs, enables and (re)starts cadence-coach.service
#
# For tests and previews (honoured with --dry-run only):
#   CADENCE_SETUP_ROOT=/some/dir   look for existing files (config.txt,
#                                  config.toml, venv, drop-in) under this prefix
#                                  and print paths under it
# Always honoured:
#   CADENCE_SETUP_ARCH=arm64|armhf override the detected Debian architecture
#                                  (also accepts aarch64, armv7l, armv6l)

set -euo pipefail

readonly SERVICE_USER=cadence
readonly STATE_DIR=/var/lib/cadence-coach
readonly VENV=/opt/cadence-coach/venv
readonly ETC_DIR=/etc/cadence-coach
readonly UNIT_NAME=cadence-coach.service
readonly DEFAULT_I2C_HZ=400000
# Packages that come from apt instead of pip on 32-bit (armhf): PyPI has no
# armv7 numba/llvmlite wheels.
readonly ARMHF_APT_PYPKGS=(python3-numpy python3-scipy)
readonly ARMHF_FROM_APT_NAMES=(numpy scipy numba llvmlite)

DRY_RUN=0
NO_START=0
I2C_HZ=""       # --i2c-hz N (empty: keep config.txt's speed, $DEFAULT_I2C_HZ when it has none)
I2C_BUS_HZ=""   # the speed config.txt sets for every board once setup_i2c has run
I2C_COND_HZ=""  # speeds config.txt keeps in conditional sections ([pi4]...), space-separated
R=""            # file-system prefix (CADENCE_SETUP_ROOT, dry-run only)
ARCH=""         # arm64 or armhf
REBOOT_NEEDED=0

log()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# shell_quote ARG: ARG as it would be typed in a shell (quoted only if needed).
shell_quote() {
    if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

# run CMD ARGS...: run a command, or print it (shell-quoted) in dry-run mode.
run() {
    if ((DRY_RUN)); then
        local arg line="+"
        for arg in "$@"; do
            line+=" $(shell_quote "$arg")"
        done
        printf '%s\n' "$line"
    else
        "$@"
    fi
}

# write_file PATH MODE OWNER GROUP < content: install a small file atomically.
write_file() {
    local path=$1 mode=$2 owner=$3 group=$4 content tmp
    content=$(cat)
    if ((DRY_RUN)); then
        printf '+ write %s (mode %s, %s:%s):\n' "$path" "$mode" "$owner" "$group"
        printf '%s\n' "$content" | sed 's/^/    | /'
        return 0
    fi
    tmp=$(mktemp)
    printf '%s\n' "$content" >"$tmp"
    install -D -m "$mode" -o "$owner" -g "$group" "$tmp" "$path"
    rm -f "$tmp"
}

# config.txt's conditional sections ("Conditional filters" in the Raspberry Pi
# documentation): a line "[pi4]", "[pi02]", "[cm4]", "[gpio4=1]"... starts a
# section whose lines apply only where that filter matches, until the next
# section line; "[all]" resets to lines every board reads; "[none]" lines are
# read by no board. Later lines win. The I2C functions below count as "set" only
# what applies on every board: lines before the first section, or under [all].

# CONFIG_TXT_SCOPE_AWK: awk code that keeps `global` (1 on lines every board
# reads), `never` (1 under [none]), `section` (the last section line, "" before
# any) and `is_section` (1 on a section line) up to date, per input file.
# shellcheck disable=SC2016  # awk code: its $0 is awk's, not the shell's
readonly CONFIG_TXT_SCOPE_AWK='
    FNR == 1 { global = 1; never = 0; section = "" }
    { is_section = 0 }
    /^[ \t]*\[[^]]*\]/ {
        section = $0; sub(/^[ \t]*/, "", section); sub(/\].*/, "]", section)
        global = (tolower(section) == "[all]"); never = (tolower(section) == "[none]")
        is_section = 1
    }
'

# i2c_config_filter FILE [HZ]: print FILE (a config.txt) with I2C switched on
# and the ARM I2C bus at HZ; without HZ, a speed FILE already sets for every
# board is kept (a bus slowed for a long cable stays slow) and $DEFAULT_I2C_HZ
# is added only when it sets none. Idempotent: filtering the output again
# changes nothing. The baud rate goes on its own line, dtparam=i2c_arm_baudrate=...,
# which is the same as the combined dtparam=i2c_arm=on,i2c_arm_baudrate=...
# but survives `raspi-config nonint do_i2c`, which rewrites whole
# "dtparam=i2c_arm=..." lines to plain "dtparam=i2c_arm=on". A combined line
# that is already there gets its value fixed in place.
# Conditional sections: only lines every board reads count as "already set".
# Missing lines go where every board reads them and they override no section:
# just before the first conditional section (at the end when there is none),
# so a speed the user sets under [pi4] still wins on a Pi 4. With HZ, the
# i2c_arm_baudrate lines of conditional sections are set to HZ too (HZ is the
# speed asked for on this board); i2c_arm=off becomes on in any section (the
# coach needs the bus). Lines under [none] are left as they are.
i2c_config_filter() {
    local file=$1 hz=${2:-}
    awk -v force="$hz" -v baud_default="$DEFAULT_I2C_HZ" "$CONFIG_TXT_SCOPE_AWK"'
        # pass 1: what every board already reads (active, i.e. uncommented, lines only)
        NR == FNR {
            if (is_section && !global && !first_cond) first_cond = FNR
            # an "i2c_arm=off" every board reads is switched on in place below
            if (global && $0 ~ /^[ \t]*dtparam=([^#]*,)?i2c_arm=o(n|ff)/)   has_on = 1
            if (global && $0 ~ /^[ \t]*dtparam=([^#]*,)?i2c_arm_baudrate=/) has_baud = 1
            if (global && !on_here && $0 ~ /^[ \t]*#[ \t]*dtparam=i2c_arm=on[ \t]*$/) on_here = FNR
            next
        }
        # pass 2: rewrite
        FNR == 1 && has_on { on_here = 0 }  # else a commented "#dtparam=i2c_arm=on" is switched on in place
        FNR == first_cond && (!has_on && !on_here || !has_baud) {
            if (!has_on && !on_here) print "dtparam=i2c_arm=on"
            if (!has_baud) print "dtparam=i2c_arm_baudrate=" (force != "" ? force : baud_default)
            print ""
            has_on = 1; has_baud = 1
        }
        !never && /^[ \t]*dtparam=/ {
            if ($0 ~ /(=|,)i2c_arm=off/) sub(/i2c_arm=off/, "i2c_arm=on")
            if (force != "") gsub(/i2c_arm_baudrate=[0-9]*/, "i2c_arm_baudrate=" force)
        }
        FNR == on_here { print "dtparam=i2c_arm=on"; next }
        { print }
        END {
            if (!has_on && !on_here) print "dtparam=i2c_arm=on"
            if (!has_baud) print "dtparam=i2c_arm_baudrate=" (force != "" ? force : baud_default)
        }
    ' "$file" "$file"
}

# i2c_config_hz: print the I2C bus speed the config.txt on stdin sets for every
# board (its last active i2c_arm_baudrate before any conditional section or
# under [all]; nothing when it sets none).
i2c_config_hz() {
    awk "$CONFIG_TXT_SCOPE_AWK"'
        global && match($0, /^[ \t]*dtparam=([^#]*,)?i2c_arm_baudrate=[0-9]+/) {
            v = substr($0, RSTART, RLENGTH); sub(/.*=/, "", v); hz = v
        }
        END { if (hz != "") print hz }
    '
}

# i2c_config_cond_hz: print "SECTION HZ", one a line, for each active
# i2c_arm_baudrate in a conditional section of the config.txt on stdin (those
# apply only on the boards the section names; [none] is left out).
i2c_config_cond_hz() {
    awk "$CONFIG_TXT_SCOPE_AWK"'
        !global && !never && match($0, /^[ \t]*dtparam=([^#]*,)?i2c_arm_baudrate=[0-9]+/) {
            v = substr($0, RSTART, RLENGTH); sub(/.*=/, "", v); print section, v
        }
    '
}

parse_args() {
    SRC=""
    while (($#)); do
        case $1 in
            --dry-run) DRY_RUN=1 ;;
            --no-start) NO_START=1 ;;
            --i2c-hz | --i2c-hz=*)
                if [[ $1 == --i2c-hz ]]; then
                    (($# >= 2)) || die "--i2c-hz needs a speed in Hz, e.g. --i2c-hz 100000"
                    shift
                    I2C_HZ=$1
                else
                    I2C_HZ=${1#--i2c-hz=}
                fi
                if ! [[ $I2C_HZ =~ ^[0-9]{1,7}$ ]] || ((10#$I2C_HZ < 10000 || 10#$I2C_HZ > 1000000)); then
                    die "--i2c-hz $I2C_HZ: give the bus speed in Hz, 10000 to 1000000 (100000 or 400000)"
                fi
                I2C_HZ=$((10#$I2C_HZ))
                ;;
            -h | --help) usage; exit 0 ;;
            --) shift; break ;;
            -*) die "unknown option: $1 (see --help)" ;;
            *)
                [[ -z $SRC ]] || die "only one SOURCE_DIR may be given"
                SRC=$1
                ;;
        esac
        shift
    done
    if (($#)); then
        [[ -z $SRC ]] || die "only one SOURCE_DIR may be given"
        SRC=$1
    fi
    local script_dir
    script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
    SCRIPT_DIR=$script_dir
    SRC=${SRC:-$script_dir/..}
    [[ -d $SRC ]] || die "source directory not found: $SRC"
    SRC=$(cd -- "$SRC" && pwd)
    [[ -f $SRC/pyproject.toml ]] || die "$SRC has no pyproject.toml: not a cadence-coach source tree"
}

check_root_and_prefix() {
    if [[ -n ${CADENCE_SETUP_ROOT:-} ]]; then
        ((DRY_RUN)) || die "CADENCE_SETUP_ROOT is for --dry-run previews only"
        R=${CADENCE_SETUP_ROOT%/}
    fi
    if [[ $EUID -ne 0 ]]; then
        if ((DRY_RUN)); then
            note "(not root: fine for --dry-run, nothing is changed)"
        else
            die "run as root: sudo $0 $*"
        fi
    fi
}

detect_arch() {
    local raw=${CADENCE_SETUP_ARCH:-}
    if [[ -z $raw ]]; then
        # The userland decides which wheels pip gets. (32-bit Pi OS on a Pi 4
        # or 5 boots a 64-bit kernel, so `uname -m` says aarch64 there.)
        if command -v dpkg >/dev/null 2>&1; then
            raw=$(dpkg --print-architecture)
        else
            raw=$(uname -m)
        fi
    fi
    case $raw in
        arm64 | aarch64) ARCH=arm64 ;;
        armhf | armel | armv7l | armv6l | armv8l) ARCH=armhf ;;
        *)
            die "architecture '$raw' is not a Raspberry Pi OS one (arm64 or armhf). To preview on another machine: CADENCE_SETUP_ARCH=arm64 $0 --dry-run"
            ;;
    esac
    log "Architecture: $ARCH"
    if [[ $ARCH == armhf ]]; then
        warn "32-bit Raspberry Pi OS: numba has no wheels for armv7, so cadence-coach"
        warn "runs with the JIT off (NUMBA_DISABLE_JIT=1, set in a systemd drop-in)."
        warn "It works, but step detection is much slower. Recommended: reflash with"
        warn "Raspberry Pi OS (64-bit) and run this script again."
    fi
}

check_python() {
    if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
        if ((DRY_RUN)); then
            warn "python3 here is older than 3.11 (fine for a preview; Bookworm has 3.11)"
        else
            die "cadence-coach needs Python >= 3.11 (Raspberry Pi OS Bookworm or later)"
        fi
    fi
}

boot_config_path() {
    if [[ -f $R/boot/firmware/config.txt ]]; then
        printf '%s\n' "$R/boot/firmware/config.txt"
    elif [[ -f $R/boot/config.txt ]]; then
        printf '%s\n' "$R/boot/config.txt"
    fi
}

setup_i2c() {
    local cfg old_hz="" cond="" why
    cfg=$(boot_config_path)
    # read before raspi-config, which rewrites a dtparam=i2c_arm=on,i2c_arm_baudrate=N line
    # to plain dtparam=i2c_arm=on (the speed would be lost)
    if [[ -n $cfg ]]; then
        old_hz=$(i2c_config_hz <"$cfg")
        cond=$(i2c_config_cond_hz <"$cfg")
    fi
    if [[ -n $I2C_HZ ]]; then
        I2C_BUS_HZ=$I2C_HZ
        why="--i2c-hz"
        [[ -z $old_hz || $old_hz == "$I2C_HZ" ]] || why+="; config.txt had $old_hz Hz"
    elif [[ -n $old_hz ]]; then
        I2C_BUS_HZ=$old_hz
        why="kept from config.txt; --i2c-hz N changes it"
    else
        I2C_BUS_HZ=$DEFAULT_I2C_HZ
        why="the default; --i2c-hz N for another speed"
    fi
    log "Enabling I2C at ${I2C_BUS_HZ} Hz (${why})"
    if [[ -n $cond ]]; then
        local section hz
        while read -r section hz; do
            if [[ -n $I2C_HZ ]]; then
                note "config.txt's $section section set ${hz} Hz: set to ${I2C_HZ} Hz too (--i2c-hz)"
            else
                I2C_COND_HZ+="${I2C_COND_HZ:+ }$hz"
                note "config.txt's $section section sets ${hz} Hz: kept, and on the boards $section names"
                note " the bus runs at that speed, not ${I2C_BUS_HZ} Hz (--i2c-hz N sets one speed everywhere)"
            fi
        done <<<"$cond"
    fi
    if command -v raspi-config >/dev/null 2>&1; then
        run raspi-config nonint do_i2c 0
    elif ((DRY_RUN)); then
        # Show what a Pi would run; this machine has no raspi-config.
        run raspi-config nonint do_i2c 0
        note "(raspi-config not found here: on a machine without it, config.txt is edited directly"
        note " and i2c-dev is loaded via /etc/modules-load.d/cadence-coach-i2c.conf)"
    else
        warn "raspi-config not found: editing config.txt directly and loading i2c-dev"
        write_file "$R/etc/modules-load.d/cadence-coach-i2c.conf" 0644 root root <<<"i2c-dev"
        run modprobe i2c-dev || warn "could not load i2c-dev now; it loads at the next boot"
    fi

    if [[ -z $cfg ]]; then
        if ((DRY_RUN)); then
            note "(no config.txt found under '${R:-/}'; on a Pi it is /boot/firmware/config.txt)"
            printf '+ edit %s: dtparam=i2c_arm=on, dtparam=i2c_arm_baudrate=%s\n' \
                "$R/boot/firmware/config.txt" "$I2C_BUS_HZ"
            return 0
        fi
        die "neither /boot/firmware/config.txt nor /boot/config.txt exists: is this Raspberry Pi OS?"
    fi
    local new
    # $I2C_HZ, not $I2C_BUS_HZ: without --i2c-hz, conditional sections keep their speeds
    new=$(i2c_config_filter "$cfg" "$I2C_HZ")
    if [[ $new == "$(cat -- "$cfg")" ]]; then
        note "$cfg already has I2C on at ${I2C_BUS_HZ} Hz"
        check_live_i2c
        return 0
    fi
    if ((DRY_RUN)); then
        printf '+ edit %s:\n' "$cfg"
        diff -u --label "$cfg" --label "$cfg (new)" "$cfg" <(printf '%s\n' "$new") | sed 's/^/    | /' || true
    else
        [[ -e $cfg.cadence-coach.bak ]] || cp -p -- "$cfg" "$cfg.cadence-coach.bak"
        printf '%s\n' "$new" >"$cfg.tmp.$$"
        chmod --reference="$cfg" "$cfg.tmp.$$" 2>/dev/null || true
        mv -f -- "$cfg.tmp.$$" "$cfg"
        note "edited $cfg (backup of the original: $cfg.cadence-coach.bak)"
    fi
    # raspi-config applies i2c_arm=on live, but the bus speed needs a reboot.
    REBOOT_NEEDED=1
}

# check_live_i2c: ask for a reboot if the running system does not have the bus
# yet, or runs it at another speed (config.txt was edited by an earlier run
# that was not followed by a reboot). A speed config.txt sets in a conditional
# section counts as right: this script does not work out which board it runs on.
check_live_i2c() {
    ((DRY_RUN)) && return 0
    if [[ ! -e /dev/i2c-1 ]]; then
        REBOOT_NEEDED=1
        return 0
    fi
    # The device tree of the current boot holds the clock the bus runs at.
    local f=/sys/class/i2c-adapter/i2c-1/of_node/clock-frequency hz=""
    if [[ -r $f ]]; then
        hz=$(od -An -tu4 --endian=big "$f" 2>/dev/null | tr -d ' \n') || hz=""
    fi
    # A speed from a conditional section ([pi4]...) is right on the boards it names.
    if [[ -n $hz && $hz != "$I2C_BUS_HZ" && " $I2C_COND_HZ " != *" $hz "* ]]; then
        note "the I2C bus runs at $hz Hz now; $I2C_BUS_HZ Hz after a reboot"
        REBOOT_NEEDED=1
    fi
    return 0
}

install_packages() {
    log "Installing system packages"
    local pkgs=(python3-venv python3-lgpio i2c-tools)
    if [[ $ARCH == arm64 ]]; then
        # `cadence-coach precompile --aot` links the kernels into a C extension:
        # it needs a C and a C++ compiler and Python's headers (gcc ships with
        # Raspberry Pi OS; Lite images may lack g++ and python3-dev).
        pkgs+=(gcc g++ python3-dev)
    fi
    if [[ $ARCH == armhf ]]; then
        pkgs+=("${ARMHF_APT_PYPKGS[@]}")
        # Debian's numba (older, but importable) where the archive has it.
        if apt-cache show python3-numba >/dev/null 2>&1 || ((DRY_RUN)); then
            pkgs+=(python3-numba)
        else
            warn "no python3-numba in apt: cadence-coach must then run without numba installed"
        fi
    fi
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
}

create_user() {
    log "Creating the service user '$SERVICE_USER' (groups i2c, gpio)"
    local g
    for g in i2c gpio; do
        # Raspberry Pi OS has both groups (and the udev rules giving them
        # /dev/i2c-* and /dev/gpiochip*); create them if a minimal image lacks one.
        getent group "$g" >/dev/null 2>&1 || run groupadd --system "$g"
    done
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        # Exactly these supplementary groups, nothing else.
        run usermod --groups i2c,gpio "$SERVICE_USER"
    else
        run useradd --system --user-group --groups i2c,gpio \
            --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "cadence-coach service" "$SERVICE_USER"
    fi
}

create_dirs() {
    log "Creating $STATE_DIR/{logs,numba-cache} (owner $SERVICE_USER, mode 0750)"
    run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 \
        "$R$STATE_DIR" "$R$STATE_DIR/logs" "$R$STATE_DIR/numba-cache"
}

# The runtime dependencies from pyproject.toml minus those apt provides on
# armhf, one requirement per line.
pip_deps_without_apt_ones() {
    python3 - "$SRC/pyproject.toml" "${ARMHF_FROM_APT_NAMES[@]}" <<'PY'
import re
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    deps = tomllib.load(f).get("project", {}).get("dependencies", [])
skip = {n.lower() for n in sys.argv[2:]}
for dep in deps:
    name = re.split(r"[\s<>=!~;\[(]", dep, maxsplit=1)[0].lower().replace("_", "-")
    if name not in skip:
        print(dep)
PY
}

install_venv() {
    log "Creating the venv $VENV and installing cadence-coach from $SRC"
    local cfg=$R$VENV/pyvenv.cfg
    if [[ -x $R$VENV/bin/python ]] && grep -qE '^include-system-site-packages *= *true' "$cfg" 2>/dev/null; then
        note "venv already there"
    else
        run install -d -m 0755 "$R${VENV%/*}"
        run python3 -m venv --system-site-packages "$R$VENV"
    fi

    # Build from a scratch copy so that no root-owned build/ or *.egg-info
    # lands in the (user's) source checkout.
    local stage
    if ((DRY_RUN)); then
        stage="<scratch copy of $SRC>"
        printf '+ copy %s to a scratch directory (without .git, build/, dist/, *.egg-info)\n' "$SRC"
    else
        stage=$(mktemp -d /tmp/cadence-coach-src.XXXXXX)
        # shellcheck disable=SC2064  # expand $stage now, on purpose
        trap "rm -rf -- '$stage'" EXIT
        tar -C "$SRC" --exclude=.git --exclude=build --exclude=dist --exclude='*.egg-info' \
            --exclude=__pycache__ --exclude=.venv --exclude=venv --exclude=.pytest_cache \
            --exclude=.ruff_cache --exclude=.mypy_cache -cf - . | tar -C "$stage" -xf -
    fi

    local pip=$R$VENV/bin/pip
    if [[ $ARCH == arm64 ]]; then
        run "$pip" install --no-cache-dir "$stage"
    else
        # No numba wheels on armv7: numpy/scipy/numba come from apt (seen
        # through --system-site-packages), the rest from PyPI/piwheels.
        local deps=()
        mapfile -t deps < <(pip_deps_without_apt_ones)
        run "$pip" install --no-cache-dir --no-deps "$stage"
        if ((${#deps[@]})); then
            run "$pip" install --no-cache-dir "${deps[@]}"
        fi
    fi
    # `cadence-coach detect` etc. from any shell.
    run ln -sfn "$VENV/bin/cadence-coach" "$R/usr/local/bin/cadence-coach"
}

install_config() {
    local conf=$R$ETC_DIR/config.toml
    log "Installing the configuration $ETC_DIR/config.toml"
    run install -d -m 0755 "$R$ETC_DIR"
    if [[ -e $conf ]]; then
        note "$conf exists: left as it is (never overwritten)"
    elif [[ -f $SRC/config/device.toml ]]; then
        # Only the keys a runner sets: a full copy of default.toml would override every key of
        # the coaching profile, and `profile = "gentle"` would change nothing.
        # root owns it, the service reads it through its group.
        run install -m 0640 -o root -g "$SERVICE_USER" "$SRC/config/device.toml" "$conf"
    else
        warn "$SRC/config/device.toml not found: create $conf before starting the service"
    fi
}

precompile() {
    if [[ $ARCH == armhf ]]; then
        log "Skipping numba precompile (JIT off on 32-bit)"
        return 0
    fi
    log "Compiling the numba kernels ahead of time into $STATE_DIR/numba-cache (takes a few minutes on a Zero 2 W)"
    # The module is tied to these kernel sources, numba, numpy, Python and the
    # CPU architecture: after an upgrade the unit's ExecStartPre (plain
    # `precompile`) finds it stale and rebuilds it before the live loop starts.
    if ! run runuser -u "$SERVICE_USER" -- env --chdir="$STATE_DIR" \
        NUMBA_CACHE_DIR="$STATE_DIR/numba-cache" LG_WD="$STATE_DIR" \
        "$VENV/bin/cadence-coach" precompile --aot; then
        warn "building the AOT kernel module failed (see above; it needs gcc g++ python3-dev):"
        warn "the service will use the numba JIT instead (about 155 MB of memory, slower start)"
        run runuser -u "$SERVICE_USER" -- env --chdir="$STATE_DIR" \
            NUMBA_CACHE_DIR="$STATE_DIR/numba-cache" LG_WD="$STATE_DIR" \
            "$VENV/bin/cadence-coach" precompile ||
            die "cadence-coach precompile failed (see the messages above); the service would fail too"
    fi
}

install_unit() {
    log "Installing and enabling $UNIT_NAME"
    local unit_src=$SRC/hardware/$UNIT_NAME
    [[ -f $unit_src ]] || unit_src=$SCRIPT_DIR/$UNIT_NAME
    [[ -f $unit_src ]] || die "$UNIT_NAME not found in $SRC/hardware or $SCRIPT_DIR"
    run install -m 0644 "$unit_src" "$R/etc/systemd/system/$UNIT_NAME"

    local dropin_dir=$R/etc/systemd/system/$UNIT_NAME.d
    local dropin=$dropin_dir/10-no-jit.conf
    if [[ $ARCH == armhf ]]; then
        run install -d -m 0755 "$dropin_dir"
        write_file "$dropin" 0644 root root <<'EOF'
# Written by setup-pi.sh: 32-bit Raspberry Pi OS has no numba wheels.
[Service]
# Run the numba kernels as plain Python (slower, same results).
Environment=NUMBA_DISABLE_JIT=1
# Nothing to precompile with the JIT off: clear the ExecStartPre list.
ExecStartPre=
EOF
    elif [[ -e $dropin ]]; then
        run rm -f "$dropin"
    fi

    local systemd_up=0
    if [[ -d /run/systemd/system ]] || ((DRY_RUN)); then
        systemd_up=1
    fi
    if ((systemd_up)); then
        run systemctl daemon-reload
    fi
    run systemctl enable "$UNIT_NAME"
    if ((!systemd_up)); then
        note "systemd is not running here (image build?): the service starts at the next boot"
    elif ((REBOOT_NEEDED)); then
        note "not starting now: the I2C settings take effect after a reboot"
    elif ((NO_START)); then
        note "--no-start: not starting now"
    else
        run systemctl restart "$UNIT_NAME"
    fi
}

print_next_steps() {
    log "Done."
    if ((REBOOT_NEEDED)); then
        printf '\n  Reboot now to apply the I2C settings:  sudo reboot\n'
    fi
    cat <<EOF

  Check the wiring (stop the service first so nothing else uses the bus):
    sudo systemctl stop cadence-coach
    i2cdetect -y 1          # IMU at 68/69 (MPU, ICM) or 6a/6b (LSM6DS); barometer 76/77
    sudo cadence-coach detect --config /etc/cadence-coach/config.toml    # which chip answers, and where (sudo: the config is root:cadence 0640)
    sudo systemctl start cadence-coach

  Watch it run:
    systemctl status cadence-coach
    journalctl -u cadence-coach -f

  Recordings: $STATE_DIR/logs    Configuration: $ETC_DIR/config.toml
EOF
}

main() {
    parse_args "$@"
    if ((DRY_RUN)); then
        log "Dry run: printing the commands, changing nothing"
    fi
    check_root_and_prefix "$@"
    detect_arch
    check_python
    umask 022 # the venv and /etc files must be readable by the service user
    setup_i2c
    install_packages
    create_user
    create_dirs
    install_venv
    install_config
    precompile
    install_unit
    print_next_steps
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi

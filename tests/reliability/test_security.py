"""Security: the systemd unit's hardening, no network port (in the code and in a live process), and
log files that nobody else can write.
"""

from __future__ import annotations

import stat

import pytest

from tests.reliability import campaigns as C

UNIT_CHECKS = C.unit_file_checks()


@pytest.mark.parametrize(("name", "ok", "detail"), UNIT_CHECKS, ids=[c[0] for c in UNIT_CHECKS])
def test_the_unit_file_is_hardened(name, ok, detail):
    assert ok, detail


def test_the_device_code_opens_no_network_port():
    assert C.network_code_hits() == []


def test_the_network_pattern_would_catch_a_server():
    code = "import socket\ns = socket.socket()\ns.bind(('', 80))\ns.listen()\n"
    assert len(C.NETWORK_PATTERNS.findall(code)) >= 2


def test_a_live_process_has_no_ip_socket_and_writes_a_private_log(rel_workdir):
    ip, _socks, log = C.live_process_sockets(rel_workdir / "net")
    assert ip == []
    assert log is not None
    assert not stat.S_IMODE(log.stat().st_mode) & stat.S_IWOTH


def test_recorded_logs_are_not_world_writable(rel_workdir):
    checks = C.file_mode_checks(rel_workdir / "modes")
    assert len(checks) == 2
    assert all(ok for _name, ok, _detail in checks), checks

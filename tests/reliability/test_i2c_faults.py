"""I2C faults on the register-level fake chips, with the live loop on an injected clock.

Storms of OSError 121/5/110 on 1 %, 10 % and 50 % of transactions for 20 s, unplugs of 1 s, 5 s and
60 s (the chip comes back reset), and a chip that resets itself while plugged (asleep, FIFO off).
The loop must never die, every sample the driver delivered must be in the log, every sample the
chip produced but nobody read must lie in a GAP block, and contacts must be detected after the
fault as in a clean run.
"""

from __future__ import annotations

import pytest

from firmware_py.imu.fake import FAKE_IMUS
from tests.reliability import campaigns as C


@pytest.mark.parametrize("sc", C.I2C_SCENARIOS, ids=lambda sc: sc.name)
def test_the_loop_survives_and_the_gap_is_in_the_log(i2c_outcomes, sc):
    out = i2c_outcomes(sc)
    assert not out.crashed, out.problems
    assert out.problems == []
    assert out.steps_after > 10
    assert out.report.faults >= 1
    if sc.kind == "unplug":  # a storm of transient errors is absorbed by retries, an unplug needs a restart
        assert out.report.restarts >= 1


def test_an_unplug_is_announced_and_recovered_within_2_s(i2c_outcomes):
    sc = C.I2CScenario("unplug", 5.0)
    out = i2c_outcomes(sc)
    kinds = [k for k, _, _ in out.session.listener.device]
    assert kinds[0] == "ready"
    assert kinds.index("sensor_lost") < kinds.index("sensor_back")
    gaps = [g for g in out.log.meta["gap_blocks"] if g["t_after_s"] - g["t_before_s"] > 4.0]
    assert len(gaps) == 1
    assert gaps[0]["t_after_s"] - gaps[0]["t_before_s"] < sc.value + 2.0 + 0.5


def test_a_long_unplug_reopens_the_bus(i2c_outcomes):
    out = i2c_outcomes(C.I2CScenario("unplug", 60.0))
    assert len(out.session.reopens) == 1


def test_a_transient_error_is_retried_before_the_chip_is_reset(i2c_outcomes):
    light = i2c_outcomes(C.I2CScenario("storm", 0.01))
    heavy = i2c_outcomes(C.I2CScenario("storm", 0.10))
    assert light.kept_fraction >= 0.99
    assert heavy.kept_fraction >= 0.40


def test_another_chip_comes_back_after_an_unplug(rel_workdir):
    out = C.i2c_trial(rel_workdir / "i2c-chips", "mpu6050", C.I2CScenario("unplug", 5.0))
    assert out.problems == []


@pytest.mark.slow
def test_every_scenario_on_every_chip_with_three_seeds(rel_workdir):
    rows = C.i2c_campaign(rel_workdir / "i2c-all", tuple(sorted(FAKE_IMUS)), (1, 2, 3))
    bad = [(r.fault, r.failures) for r in rows if not r.ok]
    assert not bad

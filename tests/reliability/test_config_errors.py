"""Configuration mistakes, generated from ``config/default.toml`` itself (a new key is covered as
soon as it is documented there): every key with a wrong type and out of range, an unknown key in
every section, a missing file, broken TOML. Each must end in one line naming the file, the key and
what is allowed.
"""

from __future__ import annotations

import pytest

from tests.reliability import campaigns as C

CASES = C.config_cases()


def _id(case: C.ConfigCase) -> str:
    return f"{case.label}-{case.key}-{case.text!r}"[:90]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_a_config_mistake_is_one_line_naming_file_key_and_allowed_values(tmp_path, case):
    problems, crashed = C.check_config_case(case, tmp_path / "user.toml")
    assert not crashed, problems
    assert problems == []


def test_every_key_of_the_default_config_is_tried():
    keys = C.default_config_keys()
    assert len(keys) > 50
    tried = {c.key for c in CASES if c.label == "wrong type"}
    assert {k.dotted for k in keys} <= tried
    # the optional keys documented as comments are covered too
    assert {"device.address", "device.accel_range_g", "runner.height_m"} <= {k.dotted for k in keys}
    numeric = [k for k in keys if isinstance(k.default, int | float) and not isinstance(k.default, bool)]
    assert all(any(c.key == k.dotted and c.label == "out of range" for c in CASES) for k in numeric)

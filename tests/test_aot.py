"""Ahead-of-time compiled kernels (``dsp/_aot.py``): loader, staleness, and AOT == JIT bit for bit."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from types import SimpleNamespace

import pytest

from dsp import _aot
from tests.conftest import FIXTURES, REPO

#: Runs every bundled fixture through the batch APIs and the whole pipeline (as replay does) and
#: pickles the raw outputs (arrays as bytes, events as objects), with whether numba was imported.
OUTPUTS_SCRIPT = f"""
import pickle, sys
from pathlib import Path
import numpy as np
import dsp
from dsp import _config
from dsp.terrain import classify_terrain
from firmware_py.logs import read_log
from firmware_py.replay import find_recordings, replay_recording

def arrays(prefix, res, out):
    for k, v in sorted(vars(res).items()):
        if isinstance(v, np.ndarray):
            out[prefix + "." + k] = (v.dtype.str, v.shape, v.tobytes())

out = {{}}
for path in find_recordings(Path({str(FIXTURES)!r})):
    rec = read_log(path)
    name = path.relative_to({str(FIXTURES)!r}).as_posix()
    kw = dict(sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    steps = dsp.detect_steps(rec.t_s, rec.acc_mps2, rec.gyro_rads, **kw)
    arrays(name + ":steps", steps, out)
    strides = dsp.estimate_strides(rec.t_s, rec.acc_mps2, rec.gyro_rads, steps.t_s,
                                   contacts_is_run=steps.is_run, **kw)
    arrays(name + ":strides", strides, out)
    if rec.gyro_rads is not None or rec.placement == "lower_back":
        terrain = classify_terrain(rec.t_s, rec.acc_mps2, rec.gyro_rads, steps.t_s, **kw)
        arrays(name + ":terrain", terrain, out)
    result = replay_recording(rec)
    out[name + ":events"] = pickle.dumps(result.events)
    out[name + ":cues"] = pickle.dumps(result.cues)
out["aot"] = _config.AOT
out["numba_imported"] = "numba" in sys.modules or "llvmlite" in sys.modules
sys.stdout.buffer.write(pickle.dumps(out))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", _aot.ENV_SWITCH)}
    env.update(extra)
    env["PYTHONPATH"] = str(REPO)
    return env


def _outputs(env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", OUTPUTS_SCRIPT], capture_output=True, env=env, cwd=REPO, timeout=900
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return pickle.loads(proc.stdout)


# ---- fast: names, fingerprint, loader ---------------------------------------------------------
def test_export_names_are_unique_identifiers():
    names = [_aot.export_name(m, f) for m, f in _aot.ENTRY_KERNELS]
    assert names == ["step_detect_block", "stride_foot_block", "stride_trunk_block", "terrain_terrain_block"]
    assert len(set(names)) == len(names)


def test_fingerprint_follows_kernel_sources_and_numba_version(tmp_path, monkeypatch):
    for src in _aot._HERE.glob("_*.py"):
        (tmp_path / src.name).write_bytes(src.read_bytes())
    monkeypatch.setattr(_aot, "_HERE", tmp_path)
    base = _aot.fingerprint()
    assert base == _aot.fingerprint()
    assert 0 <= base < 2**63  # fits the module's int64 constant
    kernels = tmp_path / "_stride_kernels.py"
    kernels.write_text(kernels.read_text() + "\n# one more line\n")
    edited = _aot.fingerprint()
    assert edited != base
    real = _aot._version
    monkeypatch.setattr(_aot, "_version", lambda d: "0.0.1" if d == "numba" else real(d))
    assert _aot.fingerprint() not in (base, edited)


def test_switches_turn_the_aot_module_off(monkeypatch):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setenv(_aot.ENV_SWITCH, "1")
    assert _aot.enabled()
    monkeypatch.setenv(_aot.ENV_SWITCH, "0")
    assert not _aot.enabled()
    monkeypatch.setenv(_aot.ENV_SWITCH, "1")
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")  # plain Python wanted (coverage, 32-bit OS)
    assert not _aot.enabled()


def test_no_module_means_the_jit_silently(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _aot.load(tmp_path) is None


def test_an_unloadable_module_is_ignored_with_a_warning(tmp_path):
    _aot.module_path(tmp_path).write_bytes(b"\x7fELF truncated by a power cut")
    with pytest.warns(_aot.AotStaleWarning, match="could not be loaded.*precompile --aot"):
        assert _aot.load(tmp_path) is None


def _fake_module(monkeypatch, tmp_path, stamp: int, names: list[str]) -> None:
    _aot.module_path(tmp_path).write_bytes(b"stands in for the extension module")
    fake = SimpleNamespace(fingerprint=lambda: stamp, **{n: object() for n in names})

    class Loader:
        def exec_module(self, mod):
            mod.__dict__.update(vars(fake))

    monkeypatch.setattr(
        _aot.importlib.util, "spec_from_file_location", lambda name, path: SimpleNamespace(loader=Loader())
    )
    monkeypatch.setattr(_aot.importlib.util, "module_from_spec", lambda spec: SimpleNamespace())


def test_a_stale_module_is_ignored_with_one_warning(tmp_path, monkeypatch):
    names = [_aot.export_name(m, f) for m, f in _aot.ENTRY_KERNELS]
    _fake_module(monkeypatch, tmp_path, _aot.fingerprint() ^ 1, names)
    with pytest.warns(_aot.AotStaleWarning) as record:
        assert _aot.load(tmp_path) is None
    assert len(record) == 1
    assert "\n" not in str(record[0].message)
    assert "other kernel sources" in str(record[0].message)


def test_a_current_module_is_used(tmp_path, monkeypatch):
    names = [_aot.export_name(m, f) for m, f in _aot.ENTRY_KERNELS]
    _fake_module(monkeypatch, tmp_path, _aot.fingerprint(), names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod = _aot.load(tmp_path)
    assert mod is not None
    assert all(hasattr(mod, n) for n in names)


def test_a_module_missing_a_kernel_is_ignored(tmp_path, monkeypatch):
    names = [_aot.export_name(m, f) for m, f in _aot.ENTRY_KERNELS]
    _fake_module(monkeypatch, tmp_path, _aot.fingerprint(), names[:-1])
    with pytest.warns(_aot.AotStaleWarning, match="lack terrain_terrain_block"):
        assert _aot.load(tmp_path) is None


SIGNATURES_SCRIPT = """
import json
from dsp.warmup import _dispatchers, warm_up_report
warm_up_report()
exec(open(0).read())  # the fixtures, through every public API
print(json.dumps({n: len(d.signatures) for n, d in _dispatchers().items()}))
"""


def test_the_wrappers_pass_one_type_combination_per_entry_kernel():
    """The AOT module holds one version per entry kernel (AOT functions do not check types).

    After every device mode and every bundled fixture through the public APIs, the JIT must have
    compiled exactly one version of each entry kernel: the wrappers never pass other types.
    """
    body = OUTPUTS_SCRIPT.replace("sys.stdout.buffer.write(pickle.dumps(out))", "")
    proc = subprocess.run(
        [sys.executable, "-c", SIGNATURES_SCRIPT],
        input=body,
        capture_output=True,
        text=True,
        env=_env(**{_aot.ENV_SWITCH: "0"}),
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    for module, function in _aot.ENTRY_KERNELS:
        assert counts[f"{module}.{function}"] == 1, (module, function)


# ---- build the module (~20 s), compare with the JIT bit for bit --------------------------------
@pytest.fixture(scope="module")
def aot_dir(tmp_path_factory):
    """Build the AOT module (from the default numba cache: only pycc compiles) into a tmp dir."""
    if not (shutil.which("cc") and shutil.which("c++")):
        pytest.skip("building the AOT module needs a C and a C++ compiler (apt install gcc g++ python3-dev)")
    out = tmp_path_factory.mktemp("aot")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from dsp._aot import build; build(sys.argv[1])", str(out)],
        capture_output=True,
        text=True,
        env=_env(**{_aot.ENV_SWITCH: "0"}),
        cwd=REPO,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _aot.module_path(out).is_file()
    return out


def test_aot_outputs_are_bit_identical_to_the_jit(aot_dir):
    jit = _outputs(_env(**{_aot.ENV_SWITCH: "0"}))
    aot = _outputs(_env(NUMBA_CACHE_DIR=str(aot_dir)))
    assert jit.pop("aot") is False
    assert jit.pop("numba_imported") is True
    assert aot.pop("aot") is True
    assert aot.pop("numba_imported") is False, "with the AOT module, numba must not be imported"
    assert len(jit) > 50
    assert any(":terrain." in k for k in jit)
    assert sorted(aot) == sorted(jit)
    different = [k for k in jit if aot[k] != jit[k]]
    assert not different


RUN_SCRIPT = """
import sys
from firmware_py.cli import main
rc = main(sys.argv[1:])
print("NUMBA_IMPORTED", "numba" in sys.modules or "llvmlite" in sys.modules)
sys.exit(rc)
"""


@pytest.mark.parametrize("command", ["run", "replay"])
def test_run_and_replay_do_not_import_numba_with_the_aot_module(aot_dir, tmp_path, command):
    demo = REPO / "firmware_py" / "data" / "demo_foot_run.csv"
    if command == "run":
        args = ["run", "--bus", f"fake:{demo}", "--chip", "lsm6dsox", "--fast", "--duration", "20"]
        args += ["--pins", "none", "--data-dir", str(tmp_path / "logs"), "--json", str(tmp_path / "out.json")]
    else:
        args = ["replay", str(demo), "--json", str(tmp_path / "out.json")]
    results = {}
    for label, env in (("aot", _env(NUMBA_CACHE_DIR=str(aot_dir))), ("jit", _env(**{_aot.ENV_SWITCH: "0"}))):
        proc = subprocess.run(
            [sys.executable, "-c", RUN_SCRIPT, *args], capture_output=True, text=True, env=env, cwd=REPO
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"NUMBA_IMPORTED {label == 'jit'}" in proc.stdout
        results[label] = (tmp_path / "out.json").read_text()
    assert results["aot"] == results["jit"]


def test_precompile_with_a_current_module_compiles_nothing(aot_dir):
    for extra in ([], ["--aot"]):
        proc = subprocess.run(
            [sys.executable, "-c", RUN_SCRIPT, "precompile", *extra],
            capture_output=True,
            text=True,
            env=_env(NUMBA_CACHE_DIR=str(aot_dir)),
            cwd=REPO,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "are current: nothing to compile" in proc.stdout
        assert "NUMBA_IMPORTED False" in proc.stdout


def test_precompile_aot_refuses_when_the_module_would_not_be_used(capsys, monkeypatch):
    from dsp import _config, warmup
    from firmware_py.cli import main

    monkeypatch.setattr(_config, "AOT", False)  # as loaded with CADENCE_AOT=0 (the suite's default)
    assert warmup.kernel_backend() in ("jit", "python")
    monkeypatch.setenv(_aot.ENV_SWITCH, "0")
    assert main(["precompile", "--aot"]) == 2
    assert "CADENCE_AOT=0" in capsys.readouterr().err


def test_precompile_aot_without_a_compiler_warms_the_jit_and_says_what_to_install():
    default_dir = os.path.join(REPO, "dsp", "__pycache__")
    if _aot.module_path(default_dir).exists():
        pytest.skip("an AOT module was built into dsp/__pycache__: precompile --aot would have nothing to do")
    proc = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, "precompile", "--aot"],
        capture_output=True,
        text=True,
        env=_env(CC="/nonexistent/cc", CXX="/nonexistent/c++", **{_aot.ENV_SWITCH: "1"}),
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "building the AOT kernels failed" in proc.stderr
    assert "apt install gcc g++ python3-dev" in proc.stderr
    assert "compiled or loaded" in proc.stdout  # the JIT cache is warm for the service
    assert not _aot.module_path(default_dir).exists()


def test_the_warm_up_calls_every_entry_kernel(monkeypatch):
    """`precompile` (and `precompile --aot`, which exports what it compiled) must reach every entry
    kernel through the device's modes: a kernel no mode calls is left out of the AOT module."""
    import importlib

    from dsp.warmup import warm_up_report

    calls = {}
    for module, name in _aot.ENTRY_KERNELS:
        mod = importlib.import_module(module)
        original = getattr(mod, name)

        def counting(*args, _key=(module, name), _f=original):
            calls[_key] = calls.get(_key, 0) + 1
            return _f(*args)

        monkeypatch.setattr(mod, name, counting)
    warm_up_report()
    assert {k for k, n in calls.items() if n} == set(_aot.ENTRY_KERNELS)


#: Warms up a pipeline built like the device's (``run``), then feeds a real recording through a
#: fresh one in 50 ms blocks; prints how many machine-code versions each entry kernel had after each.
PLACEMENT_WARM_UP_SCRIPT = """
import importlib, json, sys
from dsp import _aot
from dsp.warmup import kernel_backend, warm_up_pipeline
from firmware_py.config import load_config, make_pipeline
from firmware_py.logs import read_log

placement, path = sys.argv[1], sys.argv[2]
assert kernel_backend() == "jit", kernel_backend()
kernels = {name: getattr(importlib.import_module(module), name) for module, name in _aot.ENTRY_KERNELS}

def versions():
    return {name: len(k.signatures) for name, k in kernels.items()}

cfg = load_config(None)
make = lambda fs: make_pipeline(cfg, sampling_rate_hz=fs, placement=placement, has_gyro=True)
warm_up_pipeline(make(200.0))
warm = versions()
rec = read_log(path)
pipe = make(rec.sampling_rate_hz)
block = max(1, int(0.05 * rec.sampling_rate_hz))
for i in range(0, rec.t_s.shape[0], block):
    pipe.process(rec.t_s[i : i + block], rec.acc_mps2[i : i + block], rec.gyro_rads[i : i + block])
pipe.finish()
print(json.dumps([warm, versions()]))
"""


@pytest.mark.parametrize(
    ("placement", "recording", "loaded"),
    [
        ("foot", "pyshoe_vicon/2017-11-27-11-24-07.csv", {"_detect_block", "_foot_block"}),
        ("lower_back", "mobgap_example/HA-001_Test11_Trial1.csv", {"_detect_block", "_trunk_block"}),
        ("shank", "gaitmap_example/sample_left_foot.csv", {"_detect_block", "_terrain_block"}),
    ],
)
def test_run_warm_up_loads_every_kernel_its_pipeline_calls_and_only_those(placement, recording, loaded):
    """`cadence-coach run` warms up a pipeline built like the device's: a real recording fed
    afterwards must not load anything more (a kernel loaded in the loop lets the FIFO overflow), and
    the other placements' kernels stay unloaded (memory)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), _aot.ENV_SWITCH: "0"}
    proc = subprocess.run(
        [sys.executable, "-c", PLACEMENT_WARM_UP_SCRIPT, placement, str(FIXTURES / recording)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warm, after = json.loads(proc.stdout.strip().splitlines()[-1])
    assert after == warm
    assert {name for name, n in warm.items() if n} == loaded

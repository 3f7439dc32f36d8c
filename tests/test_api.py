"""The ``dsp`` library as an outside developer meets it: exports, docstrings, argument errors, streaming.

A signal-processing engineer feeding their own IMU arrays from a notebook should get a one-line
:class:`dsp.ValidationError` naming the argument for anything the kernels cannot take, never a
numba TypingError or a bare ``ValueError`` from a conversion deep inside.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import dsp
from dsp import Pipeline, StepDetector, ValidationError, detect_steps, estimate_strides
from dsp.grade import GradeEstimator
from dsp.stride import make_stride_estimator
from dsp.terrain import TerrainClassifier, classify_terrain
from tests.ast_imports import imported_modules

DSP_DIR = Path(dsp.__file__).parent
PUBLIC_MODULES = [
    "dsp.steps",
    "dsp.stride",
    "dsp.pipeline",
    "dsp.coach",
    "dsp.grade",
    "dsp.terrain",
    "dsp.warmup",
]
FS = 100.0


def _walk(n: int = 1000, fs: float = FS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic gait: trunk bounce at 1.4 Hz (84 steps/min... per foot pair), foot pitch at 0.7 Hz."""
    t = np.arange(n) / fs
    acc = np.zeros((n, 3))
    acc[:, 2] = 9.81 + 4.0 * np.maximum(0.0, np.sin(2 * np.pi * 1.4 * t)) ** 3
    acc[:, 0] = 2.0 * np.sin(2 * np.pi * 0.7 * t)
    gyro = np.zeros((n, 3))
    gyro[:, 1] = 5.0 * np.sin(2 * np.pi * 0.7 * t)
    return t, acc, gyro


# ---- the package boundary -------------------------------------------------------------------------
FORBIDDEN = ("smbus2", "gpiozero", "firmware_py", "serial", "RPi", "lgpio", "pigpio")


def test_dsp_sources_import_no_hardware_library_nor_firmware():
    for path in sorted(DSP_DIR.glob("*.py")):
        for name in imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_importing_every_dsp_module_loads_no_hardware_library_nor_firmware():
    code = (
        "import importlib, pkgutil, sys, dsp\n"
        "for m in pkgutil.iter_modules(dsp.__path__):\n"
        "    importlib.import_module('dsp.' + m.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DSP_DIR.parent
    )
    assert out.stdout.strip() == "[]"


# ---- exports and docstrings -----------------------------------------------------------------------
def test_top_level_all_is_exactly_the_exported_public_names():
    exported = {n for n, v in vars(dsp).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert set(dsp.__all__) == exported
    assert len(dsp.__all__) == len(set(dsp.__all__))


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_module_all_names_exist(module):
    m = importlib.import_module(module)
    for name in getattr(m, "__all__", []):
        assert hasattr(m, name), f"{module}.__all__ names {name}, which does not exist"


def _public_callables():
    for module in PUBLIC_MODULES:
        m = importlib.import_module(module)
        for name, obj in vars(m).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module:
                continue
            if inspect.isfunction(obj):
                yield f"{module}.{name}", obj, obj
            elif inspect.isclass(obj):
                yield f"{module}.{name}", obj, obj
                for an, a in vars(obj).items():
                    if an.startswith("_"):
                        continue
                    if isinstance(a, (classmethod, staticmethod)):
                        a = a.__func__
                    if inspect.isfunction(a):
                        yield f"{module}.{name}.{an}", a, a


def _documented(doc: str, param: str) -> bool:
    """Whether a numpydoc entry ``param : type`` (or ``a, param : type``) is in the docstring."""
    return re.search(rf"^\s*(\w+\s*,\s*)*{param}(\s*,\s*\w+)*\s*:", doc, re.MULTILINE) is not None


CALLABLES = list(_public_callables())


@pytest.mark.parametrize(("name", "obj", "sigobj"), CALLABLES, ids=[c[0] for c in CALLABLES])
def test_every_parameter_is_documented_and_typed(name, obj, sigobj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    try:
        sig = inspect.signature(sigobj)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return
    for p, v in sig.parameters.items():
        if p in ("self", "cls") or v.kind in (v.VAR_POSITIONAL, v.VAR_KEYWORD):
            continue
        assert _documented(doc, p), f"{name}: parameter {p!r} is not in its docstring"
        assert v.annotation is not inspect.Parameter.empty, f"{name}: parameter {p!r} has no type hint"
    if not inspect.isclass(obj):
        assert sig.return_annotation is not inspect.Signature.empty, f"{name} has no return type hint"


@pytest.mark.parametrize("module", ["dsp.steps", "dsp.stride", "dsp.coach"])
def test_docstring_examples_run_as_written(module):
    m = importlib.import_module(module)
    result = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# ---- bad arguments: one ValidationError naming the argument ---------------------------------------
def _lb() -> Pipeline:
    return Pipeline(sampling_rate_hz=FS, placement="lower_back", has_gyro=False)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda t, a, g: detect_steps(["x"] * len(t), a, sampling_rate_hz=FS, placement="waist"), "t_s"),
        (
            lambda t, a, g: detect_steps(t, a.astype(complex), sampling_rate_hz=FS, placement="waist"),
            "acc_mps2",
        ),
        (
            lambda t, a, g: detect_steps(t, a, g.astype(str), sampling_rate_hz=FS, placement="foot"),
            "gyro_rads",
        ),
        (lambda t, a, g: _lb().process(t, a.astype(object), None), "acc_mps2"),
        (
            lambda t, a, g: estimate_strides(t, a, None, ["1.0s"], sampling_rate_hz=FS, placement="waist"),
            "contacts_t_s",
        ),
        (
            lambda t, a, g: classify_terrain(t, a, g, [None], sampling_rate_hz=FS, placement="shank"),
            "contacts_t_s",
        ),
        (lambda t, a, g: GradeEstimator().update_pressure("now", 101325.0), "t_s"),
        (
            lambda t, a, g: detect_steps(t, a, sampling_rate_hz="100 Hz", placement="waist"),
            "sampling_rate_hz",
        ),
        (lambda t, a, g: _lb().add_pressure(1.0, "1013 hPa"), "pressure_pa"),
    ],
)
def test_non_numeric_input_is_a_validation_error_naming_the_argument(call, argument):
    t, acc, gyro = _walk(200)
    with pytest.raises(ValidationError, match=argument) as info:
        call(t, acc, gyro)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sample_time_is_a_validation_error(bad):
    t, acc, _ = _walk(200)
    t[57] = bad
    with pytest.raises(ValidationError, match=r"t_s\[57\]"):
        detect_steps(t, acc, sampling_rate_hz=FS, placement="lower_back")
    with pytest.raises(ValidationError, match=r"t_s\[57\]"):
        _lb().process(t, acc)


def test_stride_contacts_must_be_one_dimensional_like_terrain_contacts():
    t, acc, _ = _walk(300)
    est = make_stride_estimator(sampling_rate_hz=FS, placement="lower_back", has_gyro=False)
    with pytest.raises(ValidationError, match="contacts_t_s has shape"):
        est.update(t, acc, None, np.array([[0.5, 1.2]]))
    clf = TerrainClassifier(sampling_rate_hz=FS, placement="shank", has_gyro=False)
    with pytest.raises(ValidationError, match="contacts_t_s has shape"):
        clf.update(t, acc, None, np.array([[0.5, 1.2]]))


def test_pipeline_terrain_mode_error_is_a_validation_error():
    with pytest.raises(ValidationError, match="mud"):
        _lb().set_terrain_mode("mud")


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.astype(np.float32).astype(np.float64) if x.dtype.kind == "f" else x,  # the reference
        lambda x: x.astype(np.float32),
        lambda x: np.asfortranarray(x),
        lambda x: np.repeat(x, 2, axis=0)[::2],  # a strided view
        lambda x: x.tolist(),
    ],
)
def test_float32_strided_and_list_inputs_give_the_float64_results(convert):
    # float32 values exactly representable in float64: every conversion must give the same contacts
    t, acc, gyro = (x.astype(np.float32).astype(np.float64) for x in _walk())
    want = detect_steps(t, acc, gyro, sampling_rate_hz=FS, placement="foot")
    got = detect_steps(convert(t), convert(acc), convert(gyro), sampling_rate_hz=FS, placement="foot")
    assert want.n_steps > 0
    np.testing.assert_array_equal(got.t_s, want.t_s)
    np.testing.assert_array_equal(got.cadence_spm, want.cadence_spm)


def test_integer_arrays_are_accepted_as_numbers():
    t, acc, _ = _walk()
    t_ms = np.arange(t.size) * 10  # integer milliseconds
    want = detect_steps(t_ms / 1000.0, np.round(acc), sampling_rate_hz=FS, placement="lower_back")
    got = detect_steps(
        t_ms.astype(np.int64) / 1000,
        np.round(acc).astype(np.int32),
        sampling_rate_hz=FS,
        placement="lower_back",
    )
    np.testing.assert_array_equal(got.t_s, want.t_s)


# ---- streaming objects ----------------------------------------------------------------------------
@pytest.mark.parametrize(("placement", "has_gyro"), [("lower_back", False), ("foot", True)])
def test_zero_length_blocks_change_nothing(placement, has_gyro):
    t, acc, gyro = _walk()
    g = gyro if has_gyro else None
    whole = Pipeline(sampling_rate_hz=FS, placement=placement, has_gyro=has_gyro)
    split = Pipeline(sampling_rate_hz=FS, placement=placement, has_gyro=has_gyro)
    want = whole.process(t, acc, g)
    empty = split.process(t[:0], acc[:0], None if g is None else g[:0])
    assert (empty.steps, empty.strides, empty.cues, empty.missed_strides) == ([], [], [], [])
    got = split.process(t, acc, g)
    split.process(t[:0], acc[:0], None if g is None else g[:0])
    assert [e.t_s for e in got.steps] == [e.t_s for e in want.steps]
    assert len(want.steps) > 0


@pytest.mark.parametrize(("placement", "has_gyro"), [("lower_back", False), ("foot", True)])
def test_finish_and_flush_twice_give_nothing_the_second_time(placement, has_gyro):
    t, acc, gyro = _walk()
    g = gyro if has_gyro else None
    pipe = Pipeline(sampling_rate_hz=FS, placement=placement, has_gyro=has_gyro)
    pipe.process(t, acc, g)
    pipe.finish()
    again = pipe.finish()
    assert (again.steps, again.strides, again.missed_strides) == ([], [], [])
    # more samples after the end were taken silently and joined to strides already flushed
    with pytest.raises(ValidationError, match=r"process\(\) after finish\(\).*make a new Pipeline"):
        pipe.process(t[:10], acc[:10], None if g is None else g[:10])
    contacts = detect_steps(t, acc, g, sampling_rate_hz=FS, placement=placement).t_s
    est = make_stride_estimator(sampling_rate_hz=FS, placement=placement, has_gyro=has_gyro)
    n = 600  # cut mid-recording: the next contact arrives in a zero-length block and waits for samples
    est.update(t[:n], acc[:n], None if g is None else g[:n], contacts[contacts < t[n - 1]])
    est.update(t[:0], acc[:0], None if g is None else g[:0], contacts[contacts >= t[n - 1]][:1])
    pending = est.pending_contacts
    assert pending > 0
    assert est.flush().n_strides == pending
    assert est.flush().n_strides == 0
    assert est.pending_contacts == 0
    assert est.flush().n_strides == 0


@pytest.mark.parametrize(("placement", "has_gyro"), [("lower_back", False), ("foot", True), ("shank", True)])
def test_reset_makes_a_streaming_object_as_new(placement, has_gyro):
    t, acc, gyro = _walk()
    g = gyro if has_gyro else None
    det = StepDetector(sampling_rate_hz=FS, placement=placement, has_gyro=has_gyro)
    first = det.update(t, acc, g)
    det.reset()
    second = det.update(t, acc, g)
    assert first.n_steps > 0
    np.testing.assert_array_equal(first.t_s, second.t_s)
    np.testing.assert_array_equal(first.cadence_spm, second.cadence_spm)
    assert det.flags.samples == t.size


# ---- the docs' code sketches ----------------------------------------------------------------------
DOC_BLOCKS = [
    (md, i, block)
    for md in [DSP_DIR.parent / "README.md", *sorted((DSP_DIR.parent / "docs").glob("*.md"))]
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", md.read_text(encoding="utf-8"), re.S))
]


@pytest.mark.parametrize(("md", "i", "block"), DOC_BLOCKS, ids=[f"{b[0].name}-{b[1]}" for b in DOC_BLOCKS])
def test_doc_code_sketches_name_real_dsp_objects_and_arguments(md, i, block):
    # the sketches use the reader's own data (step_events, feature_mean...), so they cannot run;
    # what they import from dsp must exist, and every call of it must bind to its signature
    tree = ast.parse(block)
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "dsp":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{md.name}: {node.module} has no {alias.name}"
                names[alias.asname or alias.name] = getattr(module, alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in names:
            obj = names[f.id]
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names:
            assert hasattr(names[f.value.id], f.attr), f"{md.name}: {f.value.id} has no {f.attr}"
            obj = getattr(names[f.value.id], f.attr)
        else:
            continue
        kwargs = {k.arg: None for k in node.keywords if k.arg}
        inspect.signature(obj).bind_partial(*[None] * len(node.args), **kwargs)  # TypeError if wrong


def test_has_gyro_must_be_a_bool():
    # bool("no") is True: a notebook passing has_gyro="no" got a detector waiting for a gyroscope
    from dsp.stride import make_stride_estimator

    for make in (
        lambda v: StepDetector(sampling_rate_hz=FS, placement="foot", has_gyro=v),
        lambda v: Pipeline(sampling_rate_hz=FS, placement="foot", has_gyro=v).steps,
        lambda v: make_stride_estimator(sampling_rate_hz=FS, placement="lower_back", has_gyro=v),
    ):
        with pytest.raises(ValidationError, match=r"^has_gyro='no' is not True or False; pass a bool$"):
            make("no")
        assert make(np.bool_(True)).has_gyro is True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a foot without gyroscope warns
            assert make(0).has_gyro is False
    with pytest.raises(ValidationError, match=r"^has_gyro='no' is not True or False"):
        make_stride_estimator(sampling_rate_hz=FS, placement="foot", has_gyro="no")


def test_an_undocumented_side_means_unknown():
    # sidecars say "not documented (one foot)": the side is unknown, not an error
    t, acc, gyro = _walk()
    pipe = Pipeline(sampling_rate_hz=FS, placement="foot", has_gyro=True, placement_side="not documented")
    assert {e.side for e in pipe.process(t, acc, gyro).steps} == {None}
    pipe = Pipeline(sampling_rate_hz=FS, placement="foot", has_gyro=True, placement_side="L")
    assert {e.side for e in pipe.process(t, acc, gyro).steps} == {"L"}

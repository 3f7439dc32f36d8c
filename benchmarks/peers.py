"""Side by side with the open libraries: mobgap (lower back) and gaitmap (foot), speed and F1.

The peers are installed by this benchmark only, into their own virtual environment
(``/tmp/peers-venv`` by default, ``CC_PEERS_VENV`` to move it), with
``pip install mobgap gaitmap gaitmap_mad``; nothing of theirs is vendored or imported by
cadence-coach (gaitmap_mad is AGPL-3.0). This file has two halves:

* run by the benchmark (``run_peers``): builds the venv when missing, writes a manifest of the
  recordings, runs this same file as a script under the venv's Python (the worker), replays the
  same recordings through our pipeline in this process, and scores everyone with
  :mod:`benchmarks.scoring`;
* the worker (``python peers.py worker MANIFEST OUT``, stdlib + the peers' own dependencies):
  runs each method on each recording, once untimed (imports, numba JIT), then timed.

Methods (as ``../shared/datasets/PEERS.md`` ran them):

* ``mg-Ion``: mobgap 1.2 ``GsdIluz`` gait sequences, then ``IcdIonescu`` in each (lower back);
* ``mg-Ion/whole``: ``IcdIonescu`` on the whole recording, no gait-sequence detector;
* ``mg-Ion/orc``: ``IcdIonescu`` in the labelled intervals (``gt_intervals``: an oracle);
* ``gaitmap``: gaitmap 2.6 + gaitmap_mad: gravity, PCA and forward-sign alignment to gaitmap's
  foot sensor frame, ``BarthDtw`` stride segmentation (original template on ``gyr_ml`` only, which
  matches turning strides), ``RamppEventDetection`` (initial contacts of every segmented stride),
  ``RtsKalman`` trajectory per stride (foot, with gyroscope); contact times are the recording's
  own timestamps at the detected samples.

Body frame for mobgap: ``acc_is`` is the sidecar's ``vertical_axis_when_still`` (sign so that it
reads +g standing); of the two other axes the one with the larger variance is ``acc_pa``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: Requirement strings of the peers (also the optional extra ``compare`` the lead may add).
PEER_REQUIREMENTS = ("mobgap==1.2.0", "gaitmap==2.6.0", "gaitmap_mad==2.6.0")
DEFAULT_VENV = Path(os.environ.get("CC_PEERS_VENV", "/tmp/peers-venv"))
LOWER_BACK_METHODS = ("mg-Ion", "mg-Ion/whole", "mg-Ion/orc")
FOOT_METHODS = ("gaitmap",)


# =============================================================================================
# worker (runs under the peers' venv: no cadence-coach imports here)
# =============================================================================================
def _load(item: dict):
    import numpy as np

    data = np.genfromtxt(item["csv"], delimiter=",", names=True, dtype=float)
    t = np.asarray(data["t"], dtype=float)
    acc = np.column_stack([data["ax"], data["ay"], data["az"]]).astype(float)
    gyro = None
    if "gx" in data.dtype.names and np.isfinite(data["gx"]).all():
        gyro = np.column_stack([data["gx"], data["gy"], data["gz"]]).astype(float)
    return t, acc, gyro


def _body_frame(acc, vertical: str | None):
    import numpy as np
    import pandas as pd

    if vertical and vertical.strip().lstrip("+-") in ("x", "y", "z"):
        axis = "xyz".index(vertical.strip().lstrip("+-"))
        sign = -1.0 if vertical.strip().startswith("-") else 1.0
    else:  # the axis that carries gravity on average
        mean = acc.mean(axis=0)
        axis = int(np.argmax(np.abs(mean)))
        sign = float(np.sign(mean[axis]) or 1.0)
    others = [i for i in range(3) if i != axis]
    var = [float(np.var(acc[:, i])) for i in others]
    pa, ml = (others[0], others[1]) if var[0] >= var[1] else (others[1], others[0])
    n = acc.shape[0]
    return pd.DataFrame(
        {
            "acc_is": sign * acc[:, axis],
            "acc_ml": acc[:, ml],
            "acc_pa": acc[:, pa],
            "gyr_is": np.zeros(n),
            "gyr_ml": np.zeros(n),
            "gyr_pa": np.zeros(n),
        }
    )


def _mobgap(method: str, df, fs: float, intervals, t) -> list[float]:
    """Run a mobgap method; return the contacts as sample indices.

    ``intervals`` (``/orc``) are times in s, found in the recording's own timestamps ``t`` (a
    recording with dropped samples is not sampled at ``fs`` all through).
    """
    import numpy as np
    from mobgap.gait_sequences import GsdIluz
    from mobgap.initial_contacts import IcdIonescu

    def icd(start: int, end: int) -> list[int]:
        part = df.iloc[start:end].reset_index(drop=True)
        if len(part) < int(3 * fs):
            return []
        ic = IcdIonescu().detect(part, sampling_rate_hz=fs).ic_list_
        return [int(i) + start for i in ic["ic"].to_numpy()]

    if method == "mg-Ion/whole":
        idx = icd(0, len(df))
    elif method == "mg-Ion/orc":
        idx = []
        for a, b in intervals:
            idx += icd(int(np.searchsorted(t, a, side="left")), int(np.searchsorted(t, b, side="right")))
    else:
        gs = GsdIluz().detect(df, sampling_rate_hz=fs).gs_list_
        idx = []
        for _, row in gs.iterrows():
            idx += icd(int(row["start"]), int(row["end"]))
    return sorted(set(idx))


def _gaitmap(acc, gyro, fs: float, side: str | None) -> tuple[list[float], list[float]]:
    """Run gaitmap's foot pipeline; return initial contacts as sample indices (and no strides).

    As gaitmap's documentation intends: gyroscope in deg/s; the automatic sensor-to-foot alignment
    (gravity, PCA, forward-direction sign) into gaitmap's foot sensor frame (x forward, y left,
    z up, the same for both feet); the sidecar's side picks the left/right body-frame conversion
    (right when undocumented). ``BarthDtw`` uses the original template on ``gyr_ml`` only: with all
    three gyroscope axes (the default) the template "will not match turning strides" (its
    docstring), and every recording here turns (U-turns, VICON-room loops). Contacts come from the
    segmented strides (every matched stride): the min-vel list drops the last stride of every run
    of consecutive strides. ``RtsKalman`` then reconstructs every min-vel stride, as a user would.
    """
    import numpy as np
    import pandas as pd
    from gaitmap.event_detection import RamppEventDetection
    from gaitmap.preprocessing import sensor_alignment as sa
    from gaitmap.stride_segmentation import BarthDtw, BarthOriginalTemplate
    from gaitmap.trajectory_reconstruction import RtsKalman, StrideLevelTrajectory
    from gaitmap.utils.coordinate_conversion import convert_to_fbf

    name = "left_sensor" if (side or "").lower().startswith("l") else "right_sensor"
    sf = pd.DataFrame(
        np.column_stack([acc, np.rad2deg(gyro)]),
        columns=["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"],
    )
    data = {name: sf}
    data = sa.align_dataset_to_gravity(data, fs)
    data = sa.PcaAlignment(target_axis="y", pca_plane_axis=("gyr_x", "gyr_y")).align(data).aligned_data_
    data = sa.ForwardDirectionSignAlignment().align(data, sampling_rate_hz=fs).aligned_data_
    bf = convert_to_fbf(data, left_like="left_", right_like="right_")
    dtw = BarthDtw(template=BarthOriginalTemplate(use_cols=("gyr_ml",))).segment(data=bf, sampling_rate_hz=fs)
    ed = RamppEventDetection().detect(data=bf, stride_list=dtw.stride_list_, sampling_rate_hz=fs)
    traj = StrideLevelTrajectory(trajectory_method=RtsKalman())
    if len(ed.min_vel_event_list_[name]):
        traj.estimate(data=data, stride_event_list=ed.min_vel_event_list_, sampling_rate_hz=fs)
    events = ed.segmented_event_list_[name]
    ics = sorted(float(i) for i in events["ic"].dropna().to_numpy()) if len(events) else []
    return ics, []


def _sample_times(t, idx) -> list[float]:
    """Return the times of sample indices, read from the recording's own timestamps.

    Some recordings have gaps (dropped packets) or a sidecar rate that differs from their
    timestamps, where ``t[0] + i / fs`` drifts by seconds. Indices are rounded and clipped.
    """
    last = len(t) - 1
    return [float(t[min(max(round(i), 0), last)]) for i in idx]


def worker(manifest: Path, out: Path) -> int:
    """Run every peer method on the manifest's recordings; write predictions and timings."""
    import warnings

    warnings.simplefilter("ignore")
    items = json.loads(manifest.read_text())
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    import gaitmap  # noqa: F401
    import mobgap  # noqa: F401

    versions = {}
    from importlib.metadata import version

    for name in ("mobgap", "gaitmap", "gaitmap_mad", "numpy", "numba", "pandas"):
        versions[name] = version(name)
    report: dict = {"import_s": time.perf_counter() - t0, "versions": versions, "methods": {}}
    loaded = {it["key"]: _load(it) for it in items}
    for method in LOWER_BACK_METHODS + FOOT_METHODS:
        mine = [it for it in items if it["placement"] == ("foot" if method in FOOT_METHODS else "lower_back")]
        if method in FOOT_METHODS:
            mine = [it for it in mine if loaded[it["key"]][2] is not None]
        if not mine:
            continue

        def run(it, method=method):
            t, acc, gyro = loaded[it["key"]]
            fs = float(it["fs"])
            if method not in FOOT_METHODS:
                ics = _mobgap(method, _body_frame(acc, it.get("vertical")), fs, it.get("intervals") or [], t)
                return _sample_times(t, ics)
            ics, _ = _gaitmap(acc, gyro, fs, it.get("side"))
            return _sample_times(t, ics)

        entry = {"recordings": len(mine), "samples": 0, "warm_s": 0.0, "errors": []}
        c0 = time.perf_counter()
        try:
            run(mine[0])  # imports, numba JIT: the cold first call
        except Exception as exc:
            entry["errors"].append(f"{mine[0]['key']}: first call: {exc!r}"[:300])
        entry["cold_first_call_s"] = time.perf_counter() - c0
        preds = {}
        for it in mine:
            n = loaded[it["key"]][0].shape[0]
            try:
                s0 = time.perf_counter()
                times = run(it)
                entry["warm_s"] += time.perf_counter() - s0
                entry["samples"] += n
                preds[it["key"]] = times
            except Exception as exc:
                entry["errors"].append(f"{it['key']}: {exc!r}"[:300])
        entry["samples_per_s"] = entry["samples"] / entry["warm_s"] if entry["warm_s"] else None
        feet = "one" if method in FOOT_METHODS else "both"
        (out / (method.replace("/", "_") + ".json")).write_text(
            json.dumps({"steps_feet": feet, "predictions": preds})
        )
        report["methods"][method] = entry
        sps = entry["samples_per_s"] or 0
        print(f"peers: {method}: {len(preds)}/{len(mine)} recordings, {sps:,.0f} samples/s", flush=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


# =============================================================================================
# orchestrator (runs in the benchmark's own process)
# =============================================================================================
def ensure_venv(venv: Path = DEFAULT_VENV) -> tuple[Path | None, str]:
    """Create the peers' venv and install them when missing; return its Python and a log line."""
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import mobgap, gaitmap, gaitmap_mad"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py, f"reused {venv}"
    t0 = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        proc = subprocess.run(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *PEER_REQUIREMENTS],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not create {venv}: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return None, f"pip install {' '.join(PEER_REQUIREMENTS)} failed: {' / '.join(tail)}"
    return py, f"installed {' '.join(PEER_REQUIREMENTS)} into {venv} in {time.perf_counter() - t0:.0f} s"


def run_peers(folder: Path, venv: Path = DEFAULT_VENV, max_recordings: int | None = None) -> dict:
    """Run the peers and our pipeline on the same recordings; return speeds and F1 side by side.

    Parameters
    ----------
    folder : Path
        Truth folder (``<dataset>/<recording>.csv`` + sidecars), e.g. ``../shared/datasets``.
    venv : Path
        Where the peers live (created when missing).
    max_recordings : int, optional
        Use at most this many recordings per placement (quick runs).

    Returns
    -------
    dict
        ``install`` (what happened), ``rows`` (one per method: placement, recordings, samples,
        samples/s, cold first call, F1, our F1 and samples/s on the same recordings, speed ratio).
    """
    import tempfile
    import warnings

    from benchmarks.scoring import load_truth, parse_prediction, score_truths
    from dsp import detect_steps
    from firmware_py.config import load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import replay_recording, to_json

    cfg = load_config()

    truths = [t for t in load_truth(folder) if t.has_step_truth and t.placement in ("lower_back", "foot")]
    by_place: dict[str, list] = {"lower_back": [], "foot": []}
    for t in truths:
        csv = t.sidecar.with_suffix(".csv") if t.sidecar else None
        if csv is not None and csv.is_file():
            by_place[t.placement].append((t, csv))
    if max_recordings:
        by_place = {k: v[:max_recordings] for k, v in by_place.items()}
    py, install = ensure_venv(venv)
    result: dict = {"folder": str(folder), "install": install, "rows": []}
    if py is None:
        result["skipped"] = install
        return result
    items = []
    for place, recs in by_place.items():
        for t, csv in recs:
            gt = t.ground_truth
            items.append(
                {
                    "key": f"{t.dataset}/{t.recording_id}",
                    "csv": str(csv),
                    "fs": float(t.meta.get("sample_rate_hz") or 0) or None,
                    "placement": place,
                    "side": t.meta.get("placement_side"),
                    "vertical": t.meta.get("vertical_axis_when_still"),
                    "intervals": gt.get("gt_intervals") or [],
                }
            )
    # our pipeline on the same recordings, in this process, warm (the first recording once untimed)
    ours: dict[str, dict] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = {it["key"]: read_log(Path(it["csv"])) for it in items}
    for it in items:
        if it["fs"] is None:
            it["fs"] = recs[it["key"]].sampling_rate_hz
    for place in ("lower_back", "foot"):
        keys = [it["key"] for it in items if it["placement"] == place]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if keys:
                replay_recording(recs[keys[0]], config=cfg)
            total = 0.0
            for k in keys:
                t0 = time.perf_counter()
                res = replay_recording(recs[k], config=cfg)
                total += time.perf_counter() - t0
                ours[k] = to_json(res)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps(items))
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(py), str(Path(__file__).resolve()), "worker", str(manifest), str(out)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        result["worker_s"] = time.perf_counter() - t0
        if proc.returncode != 0 or not (out / "report.json").exists():
            result["skipped"] = f"peer worker failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
            return result
        rep = json.loads((out / "report.json").read_text())
        preds = {m: json.loads((out / (m.replace("/", "_") + ".json")).read_text()) for m in rep["methods"]}
    result["versions"] = rep["versions"]
    result["import_s"] = rep["import_s"]
    truth_by_key = {f"{t.dataset}/{t.recording_id}": t for t in truths}

    def f1(pred_docs: dict[str, dict], keys: list[str]) -> float:
        sel = [truth_by_key[k] for k in keys]
        pmap = {
            (truth_by_key[k].dataset, truth_by_key[k].recording_id): parse_prediction(pred_docs[k], k)
            for k in keys
        }
        return score_truths(sel, pmap).overall.f1

    for method, entry in rep["methods"].items():
        place = "foot" if method in FOOT_METHODS else "lower_back"
        keys = [it["key"] for it in items if it["placement"] == place]
        done = preds[method]["predictions"]
        peer_docs = {
            k: {"steps_feet": preds[method]["steps_feet"], "steps": [{"t": x} for x in done.get(k, [])]}
            for k in keys
        }
        samples = sum(recs[k].n_samples for k in keys)
        t_ours = t_steps = 0.0
        # our warm time on exactly these recordings, measured again here (same process, same data):
        # the whole pipeline (steps, stride, coach), and the step detector alone
        # (warnings ignored, as in the peers' worker: both sides are timed without printing them)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in keys:
                r = recs[k]
                t0 = time.perf_counter()
                replay_recording(r, config=cfg)
                t1 = time.perf_counter()
                detect_steps(
                    r.t_s, r.acc_mps2, r.gyro_rads, sampling_rate_hz=r.sampling_rate_hz, placement=place
                )
                t_steps += time.perf_counter() - t1
                t_ours += t1 - t0
        ours_sps = samples / t_ours
        peer_sps = entry.get("samples_per_s")
        result["rows"].append(
            {
                "method": method,
                "placement": place,
                "recordings": len(keys),
                "recordings_done": len(done),
                "samples": samples,
                "peer_samples_per_s": peer_sps,
                "peer_cold_first_call_s": entry.get("cold_first_call_s"),
                "peer_f1": f1(peer_docs, keys),
                "ours_samples_per_s": ours_sps,
                "ours_f1": f1(ours, keys),
                "speed_ratio": ours_sps / peer_sps if peer_sps else None,
                "ours_steps_only_samples_per_s": samples / t_steps,
                "speed_ratio_steps_only": samples / t_steps / peer_sps if peer_sps else None,
                "errors": entry.get("errors", [])[:5],
            }
        )
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        sys.exit(worker(Path(sys.argv[2]), Path(sys.argv[3])))
    print("usage: peers.py worker MANIFEST OUT  (python -m benchmarks runs the rest)", file=sys.stderr)
    sys.exit(2)

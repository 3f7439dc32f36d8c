"""Pure signal processing for cadence-coach: arrays in SI units in, events out.

Nothing here touches hardware, files or the wall clock; ``firmware_py`` feeds it blocks
from a live sensor or from a recorded log, and both get the same results.
"""

from dsp.exc import DspError, ValidationError
from dsp.pipeline import Pipeline, StepEvent
from dsp.steps import DetectorFlags, StepDetector, Steps, StepSettings, canonical_placement, detect_steps

__all__ = [
    "DetectorFlags",
    "DspError",
    "Pipeline",
    "StepDetector",
    "StepEvent",
    "StepSettings",
    "Steps",
    "ValidationError",
    "canonical_placement",
    "detect_steps",
]

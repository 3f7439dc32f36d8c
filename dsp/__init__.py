"""Pure signal processing for cadence-coach: arrays in SI units in, events out.

Nothing here touches hardware, files or the wall clock; ``firmware_py`` feeds it blocks
from a live sensor or from a recorded log, and both get the same results.
"""

from dsp.coach import Coach, CoachSettings, CueEvent
from dsp.exc import DspError, PlacementWarning, ValidationError
from dsp.pipeline import Pipeline, PipelineUpdate, StepEvent, StrideUpdate
from dsp.steps import DetectorFlags, StepDetector, Steps, StepSettings, canonical_placement, detect_steps
from dsp.stride import StrideResults, StrideSettings, estimate_strides

__all__ = [
    "Coach",
    "CoachSettings",
    "CueEvent",
    "DetectorFlags",
    "DspError",
    "Pipeline",
    "PipelineUpdate",
    "PlacementWarning",
    "StepDetector",
    "StepEvent",
    "StepSettings",
    "Steps",
    "StrideResults",
    "StrideSettings",
    "StrideUpdate",
    "ValidationError",
    "canonical_placement",
    "detect_steps",
    "estimate_strides",
]

"""The baselines users compare against: SOFI, SRRF, SPARCOM and LSPARCOM.

Each is a function ``method(stack, *, optics, ...) -> BaselineResult`` whose
``image`` lies on pointillist's fine grid (``optics.upsample`` x the camera
grid), as COL0RME's, so that every method is scored on the same pixels.
"""

from .common import BaselineResult
from .lsparcom import lsparcom
from .sofi import sofi
from .sparcom import sparcom
from .srrf import srrf

__all__ = ["BaselineResult", "sofi", "srrf", "sparcom", "lsparcom"]

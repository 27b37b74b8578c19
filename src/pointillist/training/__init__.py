"""One training engine for every network: seeding, stages, validation, best checkpoint, log, resume.

The networks (SMLM, the gradient-step denoiser, LSPARCOM) are recipes of
:func:`~pointillist.training.engine.train`; see ``engine``. Importing this
package does not import torch.
"""

__all__ = ["engine", "files"]

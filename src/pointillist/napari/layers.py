"""Results as napari layer data: ``(data, kwargs, layer_type)`` tuples in nm that overlay their input.

World coordinates are nm with pointillist's pixel convention: camera pixel
``(i, j)`` of ``p`` nm covers ``[i p, (i+1) p) x [j p, (j+1) p)`` from the
field's corner, so its centre (where napari draws a pixel) is at
``((i + 0.5) p, (j + 0.5) p)``; a fine pixel of ``f = p / q`` nm has its centre at
``(k + 0.5) f``; a localization at ``(y_nm, x_nm)`` is drawn at exactly that
point. A :class:`Placement` moves all of them together when the input layer
sits elsewhere in the viewer. Frames are the leading coordinate of stacks
and of localizations (0-based, as napari counts slices). Nothing here imports
napari: the tuples are what napari's readers and widgets hand to the viewer.

Examples
--------
>>> import numpy as np
>>> data, kwargs, kind = fine_image(np.zeros((8, 8)), Placement(100.0), upsample=4, name="intensity")
>>> kind, kwargs["scale"], kwargs["translate"]
('image', (25.0, 25.0), (12.5, 12.5))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Placement", "stack_layer", "camera_image", "fine_image", "points_layer", "depth_layer",
           "reconstruction_layers", "localization_layers", "simulation_layers", "DEPTH_COLORMAP"]

#: colour map of depth maps (nm above the coverslip)
DEPTH_COLORMAP = "turbo"


@dataclass(frozen=True)
class Placement:
    """Where a camera field sits in the viewer.

    Attributes
    ----------
    pixel_nm : float
        Camera pixel size in nm (world units are nm).
    corner_nm : tuple of float
        World position (y, x) of the field's top-left corner (the outer corner of pixel (0, 0)).
    frame_scale, frame_origin : float
        World coordinate of frame ``k`` is ``frame_origin + k * frame_scale`` (the input stack's leading axis).
    """

    pixel_nm: float
    corner_nm: tuple[float, float] = (0.0, 0.0)
    frame_scale: float = 1.0
    frame_origin: float = 0.0

    def grid(self, pixel_nm: float) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(scale, translate)`` of a 2-D image with pixels of ``pixel_nm`` covering this field."""
        y0, x0 = self.corner_nm
        return (pixel_nm, pixel_nm), (y0 + pixel_nm / 2, x0 + pixel_nm / 2)

    @classmethod
    def of_layer(cls, scale, translate) -> Placement:
        """The placement of an image layer whose last two axes have ``scale`` nm pixels at ``translate``."""
        scale, translate = [float(s) for s in scale], [float(t) for t in translate]
        py, px = scale[-2:]
        frame = (scale[-3], translate[-3]) if len(scale) >= 3 else (1.0, 0.0)
        return cls(pixel_nm=px, corner_nm=(translate[-2] - py / 2, translate[-1] - px / 2),
                   frame_scale=frame[0], frame_origin=frame[1])


def stack_layer(stack, placement: Placement, *, name: str, metadata: dict | None = None) -> tuple:
    """A stack ``(..., T, H, W)`` of camera frames as an image layer (frames leading)."""
    scale, translate = placement.grid(placement.pixel_nm)
    lead = np.ndim(stack) - 2
    frames = [(1.0, 0.0)] * (lead - 1) + [(placement.frame_scale, placement.frame_origin)] if lead else []
    return (stack, {"name": name, "scale": tuple(s for s, _ in frames) + scale,
                    "translate": tuple(t for _, t in frames) + translate, "metadata": dict(metadata or {}),
                    "colormap": "gray"}, "image")


def camera_image(image, placement: Placement, *, name: str, **kwargs) -> tuple:
    """A 2-D image on the camera grid (a background, a mean frame)."""
    scale, translate = placement.grid(placement.pixel_nm)
    return (np.asarray(image), {"name": name, "scale": scale, "translate": translate, **kwargs}, "image")


def fine_image(image, placement: Placement, *, upsample: int, name: str, labels: bool = False, **kwargs) -> tuple:
    """A 2-D image on the fine grid (``pixel / upsample`` nm); ``labels``: a labels layer (a support)."""
    scale, translate = placement.grid(placement.pixel_nm / upsample)
    image = np.asarray(image)
    if labels:
        return (image.astype(np.uint8), {"name": name, "scale": scale, "translate": translate, **kwargs}, "labels")
    return (image, {"name": name, "scale": scale, "translate": translate, "blending": "additive", **kwargs}, "image")


def points_layer(locs, placement: Placement, *, name: str, size_nm: float | None = None, **kwargs) -> tuple:
    """Localizations as points ``(frame, y, x)`` with their intensity (and uncertainty, background) as features."""
    y0, x0 = placement.corner_nm
    data = np.column_stack([placement.frame_origin + placement.frame_scale * np.asarray(locs.frame, float),
                            y0 + np.asarray(locs.y_nm, float), x0 + np.asarray(locs.x_nm, float)])
    features = {"intensity": np.asarray(locs.photons, float), "frame": np.asarray(locs.frame) + 1}
    for column, key in (("uncertainty_nm", "uncertainty [nm]"), ("background", "background")):
        values = getattr(locs, column, None)
        if values is not None:
            features[key] = np.asarray(values, float)
    size = size_nm if size_nm is not None else placement.pixel_nm / 2
    return (data, {"name": name, "features": features, "size": size, "face_color": "magenta", "border_width": 0,
                   **kwargs}, "points")


def depth_layer(depth, placement: Placement, *, upsample: int, name: str = "depth [nm]",
                limits: tuple[float, float] | None = None) -> tuple:
    """A depth map (nm, NaN off the support) colour-coded with :data:`DEPTH_COLORMAP`."""
    depth = np.asarray(depth, dtype=np.float32)
    finite = depth[np.isfinite(depth)]
    if limits is None:
        limits = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if limits[1] <= limits[0]:
        limits = (limits[0], limits[0] + 1.0)
    return fine_image(depth, placement, upsample=upsample, name=name, colormap=DEPTH_COLORMAP,
                      contrast_limits=limits, blending="translucent")


def reconstruction_layers(result, placement: Placement, *, label: str) -> list[tuple]:
    """The layers of a ``pointillist reconstruct`` result: intensity (fine), support (labels), background."""
    q = result.optics.upsample
    out = [fine_image(result.image, placement, upsample=q, name=f"{label} intensity", colormap="magma")]
    support = getattr(result, "support", None)
    if support is not None:
        out.append(fine_image(support, placement, upsample=q, name=f"{label} support", labels=True, opacity=0.5))
    background = getattr(result, "background", None)
    if background is not None:
        out.append(camera_image(background, placement, name=f"{label} background", visible=False))
    return out


def localization_layers(result, placement: Placement, *, label: str) -> list[tuple]:
    """The layers of a ``pointillist localize`` result: the localizations as points and the summed render."""
    q = result.optics.upsample
    return [fine_image(result.render, placement, upsample=q, name=f"{label} render", colormap="magma"),
            points_layer(result.localizations, placement, name=f"{label} localizations",
                         size_nm=2 * result.optics.fine_pixel_nm)]


def simulation_layers(sim, *, name: str = "simulated") -> list[tuple]:
    """A simulation's stack (ADU, its camera offset and gain in the metadata) and its ground truth."""
    optics = sim.optics
    placement = Placement(optics.pixel_size_nm)
    camera = sim.meta.get("camera") or {}  # None: a stack in photons (--snr)
    metadata = {"pixel_size_nm": optics.pixel_size_nm, "offset": camera.get("offset"), "gain": camera.get("gain"),
                "psf_fwhm_nm": getattr(optics, "psf_fwhm_nm", None), "simulation": sim.meta}
    q = optics.upsample
    kind = sim.meta.get("kind")
    if kind == "smlm":
        return [stack_layer(sim.stack, placement, name=f"{name} SMLM stack", metadata=metadata),
                points_layer(sim.ground_truth, placement, name=f"{name} ground truth", size_nm=2 * optics.fine_pixel_nm,
                             face_color="cyan")]
    if kind == "matirf":
        return [stack_layer(sim.stacks, placement, name=f"{name} MA-TIRF stacks (angle, frame)", metadata=metadata),
                fine_image(sim.support, placement, upsample=q, name=f"{name} true support", labels=True,
                           visible=False),
                depth_layer(np.where(sim.support, sim.depth, np.nan), placement, upsample=q,
                            name=f"{name} true depth [nm]")]
    return [stack_layer(sim.stack, placement, name=f"{name} fluctuation stack", metadata=metadata),
            fine_image(sim.support, placement, upsample=q, name=f"{name} true support", labels=True, visible=False),
            fine_image(sim.mean_intensity, placement, upsample=q, name=f"{name} true intensity", visible=False,
                       colormap="magma")]

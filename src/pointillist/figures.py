"""PNG figures (matplotlib, loaded only when a figure is made)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["save_panels", "save_curves", "save_convergence", "save_simulation_preview", "save_depth_image",
           "save_angle_decay"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, *, overwrite, dpi) -> Path:
    """Write ``fig`` atomically as PNG (no software tag: the same figure gives the same bytes) and close it."""
    from .io import atomic_output

    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    _pyplot().close(fig)
    return path


def save_panels(path, panels, *, overwrite: bool = False, cmap: str = "magma", dpi: int = 110) -> Path:
    """Images side by side with physical scales, written atomically as PNG.

    ``panels`` is a list of ``(title, image, pixel_size_nm)``; each panel
    shows its image in micrometres with its own colour scale (0.1 and 99.9
    percentiles, so a few hot pixels do not wash it out).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = save_panels(os.path.join(d, "a.png"), [("x", np.eye(4), 100.0)])
    >>> p.name
    'a.png'
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (title, image, pixel_nm) in zip(axes[0], panels):
        image = np.asarray(image, dtype=np.float64)
        h, w = image.shape
        lo, hi = np.percentile(image, [0.1, 99.9])
        if hi <= lo:
            hi = lo + 1.0
        extent = (0, w * pixel_nm / 1000, h * pixel_nm / 1000, 0)
        im = ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _save(fig, path, overwrite=overwrite, dpi=dpi)


def save_curves(path, curves, *, xlabel, ylabel, title="", logy=False, overwrite=False, dpi=110) -> Path:
    """Line plot of ``curves`` (a list of ``(label, x, y)``), written atomically as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for label, x, y in curves:
        ax.plot(x, y, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    return _save(fig, path, overwrite=overwrite, dpi=dpi)


def save_convergence(path, runs, *, title="", overwrite=False, dpi=110) -> Path:
    """Objective and relative change per iteration, one line per run, written atomically as PNG.

    ``runs`` is a list of ``(label, objective, rel_change)``; the relative
    change is drawn on a log scale.

    Examples
    --------
    >>> import tempfile, os
    >>> p = save_convergence(os.path.join(tempfile.mkdtemp(), "c.png"), [("tile", [3.0, 2.0, 1.5], [1e-1, 1e-2, 1e-3])])
    >>> p.name
    'c.png'
    """
    plt = _pyplot()
    fig, (ax_g, ax_r) = plt.subplots(1, 2, figsize=(10, 4.0))
    for label, objective, change in runs:
        g = np.asarray(objective, dtype=np.float64)
        it = np.arange(1, len(g) + 1)
        ax_g.plot(it, g, label=label)
        ax_r.semilogy(it, np.maximum(np.asarray(change, dtype=np.float64), 1e-16), label=label)
    ax_g.set_xlabel("iteration")
    ax_g.set_ylabel("objective G")
    ax_g.set_title("objective G (must decrease)")
    ax_r.set_xlabel("iteration")
    ax_r.set_ylabel("|r_k+1 - r_k| / |r_0|")
    ax_r.set_title("relative change")
    if 1 < len(runs) <= 10:
        ax_g.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, overwrite=overwrite, dpi=dpi)


def save_simulation_preview(path, sim, *, overwrite: bool = False) -> Path:
    """The preview of a simulation: its mean frame beside its ground truth, written atomically as PNG.

    For an SMLM simulation the ground truth is every activation of every
    frame rendered on the fine grid; for a fluctuation simulation it is the
    mean intensity of each fine pixel.

    Parameters
    ----------
    path : str or path-like
        PNG file to write (``preview.png`` in ``pointillist simulate``).
    sim : SMLMSimulation or FluctuationSimulation
        What :func:`pointillist.simulate.simulate_smlm` or
        :func:`pointillist.simulate.simulate_fluctuation` returned.
    overwrite : bool, default False
        Whether an existing PNG may be replaced.

    Returns
    -------
    pathlib.Path
        The PNG written.

    Examples
    --------
    >>> import tempfile, os
    >>> from pointillist import Optics
    >>> from pointillist.simulate import simulate_smlm
    >>> sim = simulate_smlm(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21), shape=(8, 8), n_frames=2, seed=0)
    >>> save_simulation_preview(os.path.join(tempfile.mkdtemp(), "preview.png"), sim).name
    'preview.png'
    """
    from .errors import InputError
    from .io import render_localizations
    from .simulate import FluctuationSimulation, MATIRFSimulation, SMLMSimulation

    optics = sim.optics
    p, fine = optics.pixel_size_nm, optics.fine_pixel_nm
    if isinstance(sim, MATIRFSimulation):
        first = f"mean frame, {sim.excitation.angles_deg[0]:g} deg"
        return save_depth_image(path, sim.depth, sim.brightness, pixel_size_nm=fine,
                                depth_range_nm=tuple(sim.meta["depth_range_nm"]), title="ground truth depth",
                                panels=[(first, sim.stacks[0].mean(axis=0), p)], overwrite=overwrite)
    if isinstance(sim, SMLMSimulation):
        shape = tuple(s * optics.upsample for s in sim.stack.shape[1:])
        rendered = render_localizations(sim.ground_truth, shape=shape, pixel_size_nm=fine)
        truth = ("ground truth (all frames)", rendered, fine)
    elif isinstance(sim, FluctuationSimulation):
        truth = ("ground truth mean intensity", sim.mean_intensity, fine)
    else:
        raise InputError(f"sim must be what simulate_smlm, simulate_fluctuation or simulate_matirf returned, got "
                         f"{type(sim).__name__}")
    return save_panels(path, [("mean frame", sim.stack.mean(axis=0), p), truth], overwrite=overwrite)


def save_depth_image(path, depth_nm, weight, *, pixel_size_nm: float, depth_range_nm=(0.0, 300.0), title="",
                     panels=(), overwrite: bool = False, dpi: int = 110) -> Path:
    """Depth colour-coded (hue, with a colour bar in nm) and weighted by intensity (brightness), as PNG.

    Parameters
    ----------
    path : str or path-like
    depth_nm : ndarray (H, W)
        Depth in nm; NaN where there is nothing (drawn black).
    weight : ndarray (H, W)
        Brightness of each pixel (intensity); scaled to its 99.5th percentile.
    pixel_size_nm : float
    depth_range_nm : (float, float)
        The ends of the colour scale.
    title : str
    panels : sequence of (title, image, pixel_size_nm) or (title, depth_nm, pixel_size_nm, weight)
        Images drawn to the left: grey (e.g. a mean frame), or with a weight another depth map colour-coded on
        the same scale (e.g. the truth).

    Examples
    --------
    >>> import tempfile, os
    >>> z = np.full((4, 4), np.nan); z[1, 1:3] = [40.0, 200.0]
    >>> save_depth_image(os.path.join(tempfile.mkdtemp(), "d.png"), z, np.ones((4, 4)), pixel_size_nm=25).name
    'd.png'
    >>> save_depth_image(os.path.join(tempfile.mkdtemp(), "t.png"), z, np.ones((4, 4)), pixel_size_nm=25,
    ...                  panels=[("truth", z, 25, np.ones((4, 4)))]).name
    't.png'
    """
    plt = _pyplot()
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    norm = Normalize(*depth_range_nm)
    cmap = colormaps["turbo"]

    def coloured(depth, weight):
        depth = np.asarray(depth, dtype=np.float64)
        weight = np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=0.0).clip(min=0)
        top = np.percentile(weight[weight > 0], 99.5) if np.any(weight > 0) else 1.0
        rgb = cmap(norm(np.nan_to_num(depth, nan=depth_range_nm[0])))[..., :3]
        return rgb * np.where(np.isfinite(depth), np.clip(weight / top, 0, 1), 0.0)[..., None]

    depth = np.asarray(depth_nm, dtype=np.float64)
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.6 * (len(panels) + 1), 4.2), squeeze=False)
    for ax, (name, image, pixel, *panel_weight) in zip(axes[0], panels):
        image = np.asarray(image, dtype=np.float64)
        h, w = image.shape
        extent = (0, w * pixel / 1000, h * pixel / 1000, 0)
        if panel_weight:  # another depth map, on the same colour scale
            ax.imshow(coloured(image, panel_weight[0]), extent=extent, interpolation="nearest")
        else:
            ax.imshow(image, cmap="gray", extent=extent, interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    ax = axes[0][-1]
    h, w = depth.shape
    ax.imshow(coloured(depth, weight), extent=(0, w * pixel_size_nm / 1000, h * pixel_size_nm / 1000, 0),
              interpolation="nearest")
    ax.set_title(title or "depth")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("depth above the coverslip (nm)")
    fig.tight_layout()
    return _save(fig, path, overwrite=overwrite, dpi=dpi)


def save_angle_decay(path, angles_deg, measured, fitted, labels, *, overwrite: bool = False, dpi: int = 110) -> Path:
    """Intensity against incidence angle for a few pixels: measured (points) and the depth model's fit (lines).

    Parameters
    ----------
    path : str or path-like
    angles_deg : sequence of float (K,)
    measured, fitted : array_like (n, K)
        One row per pixel.
    labels : sequence of str (n,)

    Examples
    --------
    >>> import tempfile, os
    >>> save_angle_decay(os.path.join(tempfile.mkdtemp(), "a.png"), [63, 66], [[2.0, 1.0]], [[2.1, 0.9]], ["p"]).name
    'a.png'
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    order = np.argsort(angles_deg)
    angles = np.asarray(angles_deg, dtype=np.float64)[order]
    for label, m, f in zip(labels, np.asarray(measured, dtype=np.float64), np.asarray(fitted, dtype=np.float64)):
        line = ax.plot(angles, f[order], label=label)[0]
        ax.plot(angles, m[order], "o", color=line.get_color(), markersize=4)
    ax.set_xlabel("incidence angle (deg)")
    ax.set_ylabel("intensity (photons per frame)")
    ax.set_title("intensity per angle (points) and fitted depth model (lines)")
    if len(labels):
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path, overwrite=overwrite, dpi=dpi)

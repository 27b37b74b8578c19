"""3D-COL0RME's axial step: known depths recovered, the constraints kept, the prox checked by brute force."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from pointillist.errors import InputError
from pointillist.methods.colorme3d import axial_reconstruction
from pointillist.methods.colorme3d.axial import _SupportTV
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation, depth_bin_matrix, depth_edges

EXC = TIRFExcitation(DEFAULT_ANGLES_DEG)


@pytest.mark.parametrize("depth", [25.0, 95.0, 137.0, 210.0, 280.0])
def test_one_emitter_at_a_known_depth(depth):
    edges = depth_edges(300, 10)
    y = np.zeros((13, 4, 4))
    y[:, 2, 1] = 120.0 * EXC.excitation(depth)
    res = axial_reconstruction(y, y[0] > 0, depth_bin_matrix(EXC, edges), edges, mu=0.0)
    assert abs(res.depth[2, 1] - depth) < 3
    assert np.isnan(res.depth[y[0] == 0]).all()
    # the density is where the emitter is, and non-negative
    assert res.volume.min() >= 0 and np.all(res.volume[:, y[0] == 0] == 0)


def test_noisy_intensities_and_the_tv_weight():
    rng = np.random.default_rng(0)
    edges = depth_edges(300, 20)
    a = depth_bin_matrix(EXC, edges)
    # a filament segment at 120 nm, 1 % noise on each angle's intensity
    y = np.zeros((13, 6, 6))
    y[:, 3, 1:5] = 100.0 * EXC.excitation(120.0)[:, None]
    noisy = y * (1 + 0.01 * rng.standard_normal(y.shape))
    support = y[0] > 0
    plain = axial_reconstruction(noisy, support, a, edges, mu=0.0)
    smooth = axial_reconstruction(noisy, support, a, edges, mu=1e-2)
    err_plain = np.abs(plain.depth[3, 1:5] - 120.0)
    err_smooth = np.abs(smooth.depth[3, 1:5] - 120.0)
    # without TV, 1 % noise moves single pixels by up to ~25 nm (the exponentials are nearly collinear);
    # TV along the segment pulls the four pixels' profiles together, onto the right depth
    assert err_smooth.max() < 5 and err_smooth.mean() < 0.5 * err_plain.mean()
    assert np.ptp(smooth.depth[3, 1:5]) < np.ptp(plain.depth[3, 1:5])


def test_support_tv_prox_against_brute_force():
    rng = np.random.default_rng(3)
    z = torch.as_tensor(rng.normal(0.5, 1.0, (2, 3, 3)))
    mask = torch.ones(3, 3, dtype=torch.float64)
    mask[0, 0] = 0
    t = 0.3
    prox = _SupportTV(1.0, mask, inner_iter=2000, inner_tol=1e-12)
    x = prox.prox(z, t)

    def objective(flat):
        v = torch.as_tensor(flat.reshape(z.shape))
        gy = torch.diff(v, dim=-2, append=v[..., -1:, :])
        gx = torch.diff(v, dim=-1, append=v[..., :, -1:])
        return float(0.5 * ((v - z) ** 2).sum() + t * torch.sqrt(gy**2 + gx**2).sum())

    free = np.broadcast_to(mask.numpy().astype(bool), z.shape).ravel()
    bounds = [(0, None) if f else (0, 0) for f in free]
    best = minimize(objective, np.clip(z.numpy().ravel(), 0, None) * free, method="Powell", bounds=bounds,
                    options={"xtol": 1e-10, "ftol": 1e-12, "maxiter": 200000}).fun
    assert x.min() >= 0 and float(x[:, 0, 0].abs().max()) == 0
    assert objective(x.numpy().ravel()) <= best + 1e-6


def test_axial_inputs_are_checked():
    edges = depth_edges(300, 20)
    a = depth_bin_matrix(EXC, edges)
    y = np.ones((13, 4, 4))
    with pytest.raises(InputError, match="one row per angle"):
        axial_reconstruction(y[:5], y[0] > 0, a, edges)
    with pytest.raises(InputError, match="edges"):
        axial_reconstruction(y, y[0] > 0, a, edges[:-1])
    with pytest.raises(InputError, match="support is"):
        axial_reconstruction(y, np.ones((3, 3), bool), a, edges)
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        axial_reconstruction(bad, y[0] > 0, a, edges)

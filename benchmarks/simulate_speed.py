"""Simulator speed: 1000 frames of 64 x 64 with about 200 emitters each (target < 10 s on 2 cores).

Run: .venv/bin/python benchmarks/simulate_speed.py
"""

from __future__ import annotations

import time

from pointillist.optics import Optics
from pointillist.simulate import simulate_fluctuation, simulate_smlm


def main() -> None:
    optics = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
    area_um2 = 6.4 * 6.4
    t0 = time.perf_counter()
    sim = simulate_smlm(optics=optics, shape=(64, 64), n_frames=1000, density_per_um2=200 / area_um2, seed=0)
    t_smlm = time.perf_counter() - t0
    per_frame = len(sim.ground_truth) / 1000
    print(f"smlm: 1000 frames 64x64, {per_frame:.0f} emitters/frame: {t_smlm:.2f} s")
    t0 = time.perf_counter()
    fl = simulate_fluctuation(optics=optics, shape=(64, 64), n_frames=1000, seed=0)
    t_fl = time.perf_counter() - t0
    print(f"fluct: 1000 frames 64x64, {fl.meta['n_emitters']} fixed emitters: {t_fl:.2f} s")


if __name__ == "__main__":
    main()

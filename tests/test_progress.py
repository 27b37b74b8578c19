"""Progress bars a host can follow and cancel: every step reaches the callback, and a Cancelled raised there stops
the computation (the napari plugin's Cancel button), in the calling thread and in the scheduler's threads."""

import numpy as np
import pytest

from pointillist.methods.baselines import sparcom
from pointillist.optics import Optics
from pointillist.progress import Cancelled, follow_progress, progress_bar
from pointillist.scheduler import open_scheduler


def _frames():
    return np.random.default_rng(0).poisson(30.0, (60, 12, 12)).astype(np.float64)


def test_every_step_of_a_method_reaches_the_callback():
    steps = []
    with follow_progress(lambda desc, n, total: steps.append((desc, n, total))):
        sparcom(_frames(), optics=Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2), max_iter=25,
                progress=True)
    iterations = [n for desc, n, _ in steps if desc == "SPARCOM iterations"]
    assert iterations == list(range(1, len(iterations) + 1)) and len(iterations) >= 5
    assert {total for desc, _, total in steps if desc == "SPARCOM iterations"} == {25}


def test_cancelled_in_the_callback_stops_the_method_at_that_step():
    seen = []

    def cancel_at_three(desc, n, total):
        seen.append(n)
        if n == 3:
            raise Cancelled()

    with pytest.raises(Cancelled), follow_progress(cancel_at_three):
        sparcom(_frames(), optics=Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2), max_iter=1000,
                progress=True)
    assert seen == [1, 2, 3]


def test_scheduler_tasks_are_followed_and_cancelled():
    def cancel_at_two(desc, n, total):
        if n == 2:
            raise Cancelled()

    with open_scheduler(threads=2) as scheduler:
        with pytest.raises(Cancelled), follow_progress(cancel_at_two):
            scheduler.map(lambda x: x * 2, range(20), desc="tasks", progress=True)


def test_outside_follow_progress_bars_are_plain_tqdm_and_silent_off_a_terminal(capsys):
    from tqdm import tqdm

    bar = progress_bar(range(3), desc="x")
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest

"""The training engine: seeding, the resume rule, files (on LSPARCOM's tiny recipe, the fastest)."""

import pytest
import torch

from pointillist import InputError
from pointillist.io.weights import read_weights
from pointillist.methods.baselines.lsparcom_training import LsparcomTrainingConfig, train_lsparcom
from pointillist.training.engine import Stage, resume_changes

QUIET = dict(progress=False, echo=lambda line: None)


def _config(**kw):
    base = dict(n_train=6, n_val=2, image_size=8, epochs=2, batch_size=3, folds=2, input_kernel=7, state_kernel=3,
                seed=4)
    return LsparcomTrainingConfig(**{**base, **kw})


def _bytes(state_dict):
    return {k: v.numpy().tobytes() for k, v in state_dict.items()}


def test_same_seed_same_weight_bytes_and_the_global_rng_is_untouched(tmp_path):
    rng = torch.get_rng_state()
    a = train_lsparcom(_config(), tmp_path / "a.pt", **QUIET)
    assert torch.equal(rng, torch.get_rng_state())
    b = train_lsparcom(_config(), tmp_path / "b.pt", **QUIET)
    assert _bytes(read_weights(tmp_path / "a.pt")[0]) == _bytes(read_weights(tmp_path / "b.pt")[0])
    assert _bytes(a.net.state_dict()) == _bytes(b.net.state_dict())
    c = train_lsparcom(_config(seed=5), tmp_path / "c.pt", **QUIET)
    assert _bytes(c.net.state_dict()) != _bytes(a.net.state_dict())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("a.")) == [
        "a.json", "a.log", "a.pt", "a.resume.pt"]


def test_resuming_with_more_epochs_equals_the_uninterrupted_run(tmp_path):
    straight = train_lsparcom(_config(epochs=2), tmp_path / "s.pt", **QUIET)
    train_lsparcom(_config(epochs=1), tmp_path / "r.pt", **QUIET)
    resumed = train_lsparcom(_config(epochs=2), tmp_path / "r.pt", resume=True, **QUIET)
    assert _bytes(read_weights(tmp_path / "r.pt")[0]) == _bytes(read_weights(tmp_path / "s.pt")[0])
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in straight.history]
    assert resumed.record.epochs == 2 and "resuming after epoch 1" in (tmp_path / "r.log").read_text()


@pytest.mark.parametrize("change, named", [(dict(lr=2e-3), "lr 0.001 -> 0.002"),
                                           (dict(batch_size=2), "batch_size 3 -> 2"),
                                           (dict(epochs=1), "epochs 1: 2 epochs have already run")])
def test_resuming_with_another_configuration_is_refused_naming_the_change(tmp_path, change, named):
    train_lsparcom(_config(), tmp_path / "m.pt", **QUIET)
    with pytest.raises(InputError, match="another configuration") as err:
        train_lsparcom(_config(**change), tmp_path / "m.pt", resume=True, **QUIET)
    assert named in str(err.value) and "--overwrite" in str(err.value)


def test_nothing_to_resume_and_nothing_overwritten(tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        train_lsparcom(_config(), tmp_path / "m.pt", resume=True, **QUIET)
    train_lsparcom(_config(epochs=1), tmp_path / "m.pt", **QUIET)
    with pytest.raises(InputError, match="--overwrite"):
        train_lsparcom(_config(epochs=1), tmp_path / "m.pt", **QUIET)


def test_the_resume_rule_for_two_stages():
    stages = (Stage("gs", "epochs"), Stage("prox", "prox_epochs", restart_from_best=True))
    old = {"epochs": 3, "prox_epochs": 1, "lr": 0.1}
    assert resume_changes(old, {**old, "prox_epochs": 4}, stages, 4) == []
    assert resume_changes(old, {**old, "epochs": 5}, stages, 3) == []  # the GS stage is done, prox not begun
    assert resume_changes(old, {**old, "epochs": 5}, stages, 4) == ["epochs 3 -> 5: that stage is over"]

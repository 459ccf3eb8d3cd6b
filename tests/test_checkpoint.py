"""Model files: safe loading, clear errors, atomic writes."""
import os
import pickle

import pytest
import torch

from karting.rl.checkpoint import CheckpointError, build_agent, load_agent, load_checkpoint, save_checkpoint
from karting.rl.config import TrainConfig
from karting.rl.policy import Agent


def payload(frame_stack=1, seed=0):
    torch.manual_seed(seed)
    return {"model": Agent(frame_stack).state_dict(),
            "config": TrainConfig(frame_stack=frame_stack).to_dict(), "global_step": 5}


def test_round_trip_gives_the_same_network(tmp_path):
    p = save_checkpoint(tmp_path / "m.pt", payload())
    agent, cfg, data = load_agent(p)
    ref = Agent()
    ref.load_state_dict(payload()["model"])
    v, t = torch.zeros(2, 84, 84, 3, dtype=torch.uint8), torch.zeros(2, 9)
    assert torch.equal(agent.get_value(v, t), ref.get_value(v, t))
    assert data["global_step"] == 5 and cfg.frame_stack == 1


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited",))


def test_a_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as f:
        torch.save({"format": "karting-ppo", "model": Exploit(), "config": {}}, f)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint("evil.pt")
    assert not (tmp_path / "exploited").exists()


@pytest.mark.parametrize("content,match", [
    (b"", "truncated/corrupted"),
    (b"not a model at all", "truncated/corrupted"),
])
def test_garbage_files_get_a_clear_error(tmp_path, content, match):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(p)


def test_truncated_checkpoint(tmp_path):
    p = save_checkpoint(tmp_path / "m.pt", payload())
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated/corrupted"):
        load_checkpoint(p)


def test_other_torch_files_and_missing_files(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a karting model file"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such model file.*other.pt"):
        load_checkpoint(tmp_path / "best.pt")


def test_weights_that_do_not_fit_the_config(tmp_path):
    data = payload(frame_stack=4)
    data["config"] = TrainConfig(frame_stack=1).to_dict()      # says 1, weights are for 4
    with pytest.raises(CheckpointError, match="do not fit"):
        build_agent(data)


def test_a_crash_mid_save_keeps_the_previous_file(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path / "best.pt", payload(seed=1))
    before = p.read_bytes()

    def dies_half_way(obj, f):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(p, payload(seed=2))
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["best.pt"]      # no temporary file left
    load_checkpoint(p)


def test_pickle_protocol_is_plain_data(tmp_path):
    """Everything the trainer saves loads under weights_only (no pickled classes)."""
    from karting.rl.ppo import RewardScaler
    opt = torch.optim.Adam(Agent().parameters())
    data = {**payload(), "optimizer": opt.state_dict(), "reward_scaler": RewardScaler(2, 0.99).state_dict(),
            "torch_rng": torch.get_rng_state(), "best_score": [0.5, 1.0], "eval": {"x": float("nan")}}
    p = save_checkpoint(tmp_path / "m.pt", data)
    torch.load(p, weights_only=True)
    assert pickle.HIGHEST_PROTOCOL >= 2

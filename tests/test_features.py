"""Learned visual features (python -m karting.features): frames, the VAE fit, the reconstruction
sheet, and --encoder vae:PATH in PPO and SAC runs, frozen and fine-tuned; bad files."""
import imageio.v3 as iio
import numpy as np
import pytest
import torch

from karting import features, train
from karting.rl import features as lib
from karting.rl.checkpoint import load_checkpoint
from karting.rl.policy import Agent


@pytest.fixture(scope="module")
def vae_file(ring_png, tmp_path_factory):
    out = tmp_path_factory.mktemp("feat") / "vae.pt"
    assert features.main(["fit", "--tracks", str(ring_png), "--frames", "768", "--karts", "8", "--epochs", "3",
                          "--latent", "16", "--batch-size", "64", "--out", str(out)]) == 0
    return out


def test_frames_come_from_expert_and_random_driving(ring_png):
    frames = lib.collect_frames(str(ring_png), 64, karts=4, seed=1, log=lambda *_: None)
    assert frames.shape == (64, 84, 84, 3) and frames.dtype == np.uint8
    assert len({f.tobytes() for f in frames}) == 64               # no frame twice
    assert frames[:, :20].mean() > 100                              # sky at the top of every view


def test_fit_learns_and_the_file_loads_into_the_drivers_vision_layers(vae_file, capsys):
    data = lib.load_features(vae_file)
    hist = data["info"]["history"]
    assert len(hist) == 3 and hist[-1]["mse"] < hist[0]["mse"]       # reconstructions improved
    assert np.sqrt(hist[-1]["mse"]) * 255 < 40
    agent = Agent()
    lib.load_encoder(agent.vision, f"vae:{vae_file}")
    vae = lib.load_vae(vae_file)
    for (k, a), (_, b) in zip(agent.vision.state_dict().items(), vae.vision.state_dict().items()):
        assert torch.equal(a, b), k


def test_show_draws_frames_over_their_reconstructions(vae_file, ring_png, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert features.main(["show", "--encoder", str(vae_file), "--tracks", str(ring_png), "--count", "3",
                          "--out", str(out)]) == 0
    im = iio.imread(out)
    assert im.shape == (2 * 168 + 12, 3 * 168 + 16, 3)
    top, bottom = im[4:172, 4:172].astype(float), im[176:344, 4:172].astype(float)
    assert top.std() > 20 and bottom.std() > 5                       # a view, and a picture of it
    assert np.abs(top - bottom).mean() < 40
    assert "RMSE" in capsys.readouterr().out


@pytest.mark.parametrize("algo", ["ppo", "sac"])
@pytest.mark.parametrize("frozen", ["true", "false"])
def test_a_run_starts_from_the_vae_encoder_frozen_or_fine_tuned(vae_file, ring_png, tmp_path, algo, frozen, capsys):
    extra = (["--algo", "sac", "--learning-starts", "32", "--buffer-size", "1000", "--utd-ratio", "0.5"]
             if algo == "sac" else [])
    assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", "--vector-envs", "4",
                       "--n-steps", "16", "--batch-size", "32", "--n-epochs", "1", "--eval-episodes", "2",
                       "--max-episode-steps", "30", "--timesteps", "128", "--eval-freq", "0",
                       "--encoder", f"vae:{vae_file}", "--encoder-frozen", frozen, *extra]) == 0
    assert "vision layers from" in capsys.readouterr().out
    model = load_checkpoint(tmp_path / "checkpoints" / "karting_ppo" / "final.pt")
    model = model.get("train_model", model["model"])
    vae = lib.load_vae(vae_file).vision.state_dict()
    same = all(torch.equal(model[f"vision.{k}"], v) for k, v in vae.items())
    assert same == (frozen == "true")
    if algo == "sac":          # the target encoder starts from the VAE too, and follows the online one
        diff = sum((model[f"target.vision.{k}"] - v).abs().sum() for k, v in vae.items())
        assert (diff == 0) == (frozen == "true")


def test_bad_features_files_and_specs_are_clear_errors(ring_png, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    assert features.main(["show", "--encoder", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "not a readable features file" in capsys.readouterr().err
    other = tmp_path / "other.pt"
    torch.save({"model": {}}, other)
    base = ["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", "--timesteps", "64",
            "--vector-envs", "4", "--n-steps", "16"]
    assert train.main([*base, "--encoder", f"vae:{other}"]) == 2
    assert "not a karting features file" in capsys.readouterr().err
    assert train.main([*base, "--encoder", "resnet"]) == 2
    assert "give nature, or vae:PATH" in capsys.readouterr().err
    assert train.main([*base, "--encoder", f"vae:{tmp_path / 'none.pt'}"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert train.main([*base, "--encoder", f"vae:{bad}", "--frame-stack", "2"]) == 2
    assert "--frame-stack 1" in capsys.readouterr().err
    out = tmp_path / "exists.pt"
    out.write_bytes(b"keep me")
    assert features.main(["fit", "--tracks", str(ring_png), "--frames", "256", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == b"keep me"

import io

import numpy as np
import torch

from karting.rl.policy import Agent, RunningNorm


def batch(n=4, c=3, t=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 84, 84, c), dtype=torch.uint8, generator=g),
            torch.randn(n, t, generator=g))


def test_architecture_is_the_readme_one():
    a = Agent()
    convs = [m for m in a.vision if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs] == \
        [(3, 32, 8, 4), (32, 64, 4, 2), (64, 64, 3, 1)]
    assert a.n_flat == 3136
    assert [m.in_features for m in a.telemetry if isinstance(m, torch.nn.Linear)] == [9, 64]
    assert a.fusion[0].in_features == 3200 and a.fusion[0].out_features == 512
    def shapes(seq):
        return [(m.in_features, m.out_features) for m in seq if isinstance(m, torch.nn.Linear)]
    assert shapes(a.actor) == [(512, 256), (256, 2)]
    assert shapes(a.critic) == [(512, 256), (256, 1)]
    assert a.actor[-1].weight.std() < 0.01 * 2 / np.sqrt(256) * 5    # gain 0.01 on the policy head


def test_frame_stack_changes_input_channels():
    a = Agent(frame_stack=4, telemetry_history=2)
    v, t = batch(c=12, t=18)
    action, logp, ent, value = a.get_action_and_value(v, t)
    assert a.vision[0].in_channels == 12
    assert action.shape == (4, 2) and logp.shape == ent.shape == value.shape == (4,)


def test_uint8_scaled_inside_and_std_state_independent():
    a = Agent()
    v, t = batch()
    f_u8 = a.features(v, t)
    f_float = a.features(v.float(), t)
    assert torch.allclose(f_u8, f_float)
    _, _, ent1, _ = a.get_action_and_value(v[:2], t[:2])
    _, _, ent2, _ = a.get_action_and_value(v[2:], t[2:])
    assert torch.allclose(ent1, ent2)                      # entropy depends on log_std only


def test_logprob_of_given_action_matches_normal():
    a = Agent()
    v, t = batch()
    act = torch.randn(4, 2)
    _, logp, _, _ = a.get_action_and_value(v, t, act)
    mean = a.actor(a.features(v, t))
    ref = torch.distributions.Normal(mean, a.log_std.exp()).log_prob(act).sum(-1)
    assert torch.allclose(logp, ref)
    det, _, _, _ = a.get_action_and_value(v, t, deterministic=True)
    assert torch.allclose(det, mean)


def test_running_norm_matches_numpy_and_is_saved():
    rn = RunningNorm(3)
    rng = np.random.default_rng(0)
    chunks = [rng.normal(5, 2, (50, 3)), rng.normal(5, 2, (70, 3))]
    for c in chunks:
        rn.update(torch.as_tensor(c))
    allx = np.concatenate(chunks)
    assert np.allclose(rn.mean.numpy(), allx.mean(0), atol=1e-3)
    assert np.allclose(rn.var.numpy(), allx.var(0), rtol=1e-2)
    a = Agent()
    a.telemetry_norm.update(torch.randn(100, 9) * 3 + 1)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    b = Agent()
    b.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    v, t = batch()
    assert torch.equal(a.get_value(v, t), b.get_value(v, t))

"""Reinforcement learning on the env: ``policy`` (the hybrid CNN + MLP actor-critic), ``ppo``
(compute_gae, ppo_update, reward scaling, low-precision working copy: pure functions), ``config``
(TrainConfig: the training flags), ``checkpoint`` (safe model files). The training loop is the
``karting.train`` command."""

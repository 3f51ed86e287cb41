"""PPO on CartPole-v1 in PyTorch: the framework baseline for the `ppo` crate.

This is the same algorithm, with the same defaults, as the Rust crate's
`PpoConfig::default()`, which in turn is CleanRL's `ppo.py` workload
(https://github.com/vwxyzjn/cleanrl/blob/master/cleanrl/ppo.py), with one
deliberate difference that the crate makes by default:

    Truncation is bootstrapped. When an episode ends by the time limit (not by
    failing), the reward of that step becomes r + gamma * V(final_observation),
    as Stable-Baselines3 does (on_policy_algorithm.py, collect_rollouts). CleanRL
    treats a truncation like a termination (CleanRL issue #198).
    `--no-bootstrap-truncation` restores CleanRL's behaviour.

Autoreset (gymnasium 1.x). `SyncVectorEnv` in gymnasium 1.x resets a finished
sub-environment on the *next* call to `step` by default (AutoresetMode.NEXT_STEP):
the step that ends an episode returns the true last observation, and the next
step ignores the action, returns the reset observation with reward 0 and
terminated = truncated = False. CleanRL's loop was written for the old same-step
semantics (gym 0.2x, gymnasium < 1.0), where the returned observation is already
the first observation of the next episode. We therefore build the vector env with
`autoreset_mode=AutoresetMode.SAME_STEP`, which gives exactly those semantics:
the step that ends an episode returns the reset observation, and the true last
observation is in `infos["final_obs"][i]` (with mask `infos["_final_obs"]`), the
RecordEpisodeStatistics data in `infos["final_info"]["episode"]`. Every step
therefore is a real environment step, as in the crate and in CleanRL.

One thread (`torch.set_num_threads(1)`): the crate is single-threaded, so the
comparison is one core against one core.

Run (from the repository root):

    python3 benches/torch/ppo.py --seed 1

The last line printed is machine-readable, e.g.

    RESULT wall_time_s=124.601 sps=4010.5 final_return=500.000 global_step=499712 episodes=1518

where `wall_time_s` is the training loop's wall time (first reset to last
update, the same interval CleanRL divides by for SPS), `sps` is env steps over
that time, and `final_return` is the mean episodic return of the last 100
finished episodes (over all envs, in the order they finished).
"""

import argparse
import random
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions.categorical import Categorical


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1,
                   help="seeds python, numpy and torch; env i is reset with seed + i (default 1)")
    p.add_argument("--total-timesteps", type=int, default=500_000,
                   help="env steps over all envs; runs total // batch_size updates (default 500000)")
    p.add_argument("--env-id", type=str, default="CartPole-v1",
                   help="a gymnasium env id with a discrete action space (default CartPole-v1)")
    p.add_argument("--no-bootstrap-truncation", action="store_true",
                   help="treat truncation like termination, as CleanRL does")
    args = p.parse_args()

    # The fixed defaults: CleanRL ppo.py's, and the crate's PpoConfig::default().
    args.num_envs = 4            # N parallel envs
    args.num_steps = 128         # T steps per env per rollout
    args.learning_rate = 2.5e-4  # Adam lr, annealed linearly to 0 over the updates
    args.adam_eps = 1e-5         # PyTorch's default is 1e-8; the "37 details" blog uses 1e-5
    args.gamma = 0.99            # discount
    args.gae_lambda = 0.95       # GAE lambda (Schulman et al. 2016)
    args.num_minibatches = 4     # minibatches per epoch
    args.update_epochs = 4       # K epochs over each batch
    args.clip_coef = 0.2         # epsilon of the clipped surrogate (PPO eq. 7), also the value clip
    args.ent_coef = 0.01         # c2 in PPO eq. 9
    args.vf_coef = 0.5           # c1 in PPO eq. 9
    args.max_grad_norm = 0.5     # global gradient-norm clip
    args.batch_size = args.num_envs * args.num_steps             # B = 512
    args.minibatch_size = args.batch_size // args.num_minibatches  # 128
    args.bootstrap_truncation = not args.no_bootstrap_truncation
    return args


def make_env(env_id):
    def thunk():
        env = gym.make(env_id)
        # Records each episode's return and length; the vector env puts them in
        # infos["final_info"]["episode"] in same-step autoreset mode.
        return gym.wrappers.RecordEpisodeStatistics(env)
    return thunk


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    """Orthogonal weights scaled by `std`, constant biases (the "37 details": orthogonal init)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """Separate actor and critic MLPs, O -> 64 -> 64 -> {A, 1}, tanh."""

    def __init__(self, obs_size, n_actions):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_size, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_size, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, n_actions), std=0.01),
        )

    def get_value(self, x):
        """x: [M, O] -> [M, 1]"""
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        """x: [M, O], action: [M] or None -> action [M], logprob [M], entropy [M], value [M, 1]"""
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def main():
    args = parse_args()
    torch.set_num_threads(1)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    envs = gym.vector.SyncVectorEnv(
        [make_env(args.env_id) for _ in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    assert isinstance(envs.single_action_space, gym.spaces.Discrete), "only discrete actions"
    obs_size = int(np.prod(envs.single_observation_space.shape))
    N, T = args.num_envs, args.num_steps

    agent = Agent(obs_size, envs.single_action_space.n)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=args.adam_eps)

    # Rollout storage, [T, N, ...]
    obs = torch.zeros((T, N, obs_size))
    actions = torch.zeros((T, N), dtype=torch.long)
    logprobs = torch.zeros((T, N))
    rewards = torch.zeros((T, N))
    dones = torch.zeros((T, N))
    values = torch.zeros((T, N))

    recent_returns = deque(maxlen=100)  # episodic returns of the last 100 finished episodes
    num_episodes = 0
    global_step = 0
    start_time = time.time()
    # reset(seed=s) seeds sub-env i with s + i (gymnasium SyncVectorEnv.reset).
    next_obs_np, _ = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32)
    next_done = torch.zeros(N)
    num_updates = args.total_timesteps // args.batch_size

    for update in range(1, num_updates + 1):
        # Learning-rate annealing: linear from lr to 0 (lr / num_updates at the last update).
        frac = 1.0 - (update - 1.0) / num_updates
        optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        # ---- Rollout: T steps in each of the N envs ----
        for step in range(T):
            global_step += N
            obs[step] = next_obs
            dones[step] = next_done

            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            next_obs_np, reward, terminations, truncations, infos = envs.step(action.numpy())
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)

            if "final_obs" in infos:
                if args.bootstrap_truncation:
                    # Time-limit ends are not true ends: add gamma * V(s_final) to the
                    # last reward, where s_final is the real last observation (the
                    # returned one is already the reset one). An env that both
                    # terminates and truncates on the same step has terminated.
                    trunc = np.flatnonzero(truncations & ~terminations)
                    if trunc.size > 0:
                        final_obs = torch.as_tensor(
                            np.stack(infos["final_obs"][trunc]), dtype=torch.float32
                        )
                        with torch.no_grad():
                            final_value = agent.get_value(final_obs).flatten()
                        rewards[step, trunc] += args.gamma * final_value
                episode = infos["final_info"].get("episode")
                if episode is not None:
                    for i in np.flatnonzero(infos["final_info"]["_episode"]):
                        recent_returns.append(float(episode["r"][i]))
                        num_episodes += 1

            next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32)
            next_done = torch.as_tensor(np.logical_or(terminations, truncations), dtype=torch.float32)

        # ---- GAE (Schulman et al. 2016, eq. 16), backwards over the rollout ----
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(T)):
                if t == T - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (
                    delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
                )
            returns = advantages + values

        # Flatten the batch, [T, N, ...] -> [B, ...]
        b_obs = obs.reshape((-1, obs_size))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # ---- PPO update: K epochs of shuffled minibatches, every sample once per epoch ----
        b_inds = np.arange(args.batch_size)
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start:start + args.minibatch_size]

                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], b_actions[mb_inds]
                )
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()  # r_t(theta), PPO eq. 6

                # Advantage normalisation per minibatch (torch's std is unbiased).
                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # Clipped surrogate (PPO eq. 7), as a loss to minimise.
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                # Clipped value loss.
                newvalue = newvalue.view(-1)
                v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(
                    newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef
                )
                v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()

                # Overall loss with entropy bonus (PPO eq. 9, negated).
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + args.vf_coef * v_loss

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

    wall_time = time.time() - start_time
    envs.close()

    sps = global_step / wall_time
    final_return = float(np.mean(recent_returns)) if recent_returns else float("nan")
    print(f"env_id={args.env_id} seed={args.seed} bootstrap_truncation={args.bootstrap_truncation}")
    print(f"wall_time_s={wall_time:.2f} SPS={sps:.0f} "
          f"final_return(last {len(recent_returns)} episodes)={final_return:.2f}")
    print(f"RESULT wall_time_s={wall_time:.3f} sps={sps:.1f} final_return={final_return:.3f} "
          f"global_step={global_step} episodes={num_episodes}")


if __name__ == "__main__":
    main()

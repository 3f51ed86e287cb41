"""PPO in PyTorch: the framework baseline for the `ppo` crate.

The same algorithm, with the same defaults, as the crate (src/algo/), which in turn is
CleanRL's `ppo.py` and `ppo_continuous_action.py`
(https://github.com/vwxyzjn/cleanrl/blob/master/cleanrl/ppo.py), on the workloads of
`workloads.py` (W1: CleanRL's CartPole; W3: 64 envs and 256-256 layers; Pendulum: a
Gaussian policy). One deliberate difference from CleanRL, which the crate makes by default:

    Truncation is bootstrapped. When an episode ends by the time limit (not by failing),
    the reward of that step becomes r + gamma * V(final_observation), as Stable-Baselines3
    does (on_policy_algorithm.py, collect_rollouts). CleanRL treats a truncation like a
    termination (CleanRL issue #198). `--no-bootstrap-truncation` restores CleanRL's way.

Autoreset (gymnasium 1.x). `SyncVectorEnv` in gymnasium 1.x resets a finished
sub-environment on the *next* call to `step` by default (AutoresetMode.NEXT_STEP). CleanRL's
loop was written for same-step autoreset, which `autoreset_mode=AutoresetMode.SAME_STEP`
gives: the step that ends an episode returns the reset observation, and the true last one
is in `infos["final_obs"][i]`; every step is a real environment step, as in the crate.

One thread (`torch.set_num_threads(1)`): the crate is single-threaded, so the comparison
is one core against one core.

Run (from the repository root):

    python3 benches/frameworks/torch_ppo.py --workload W1 --seed 1
    python3 benches/frameworks/torch_ppo.py --workload Pendulum --metrics-csv /tmp/p.csv

The last line printed is machine-readable:

    RESULT wall_time_s=124.601 sps=4010.5 final_return=500.000 global_step=499712 episodes=1518

`wall_time_s` is the training loop (first reset to last update, the interval CleanRL
divides by for SPS), `sps` env steps over that time, `final_return` the mean episodic
return of the last 100 finished episodes (over all envs, in the order they finished).
`--metrics-csv` writes one row per update: global_step, episodic_return (that mean so far).
"""

import argparse
import csv
import os
import random
import sys
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions.categorical import Categorical
from torch.distributions.normal import Normal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import ALL, append_result, workload  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", choices=sorted(ALL), default="W1",
                   help="the hyperparameters of workloads.py (default W1)")
    p.add_argument("--seed", type=int, default=1,
                   help="seeds python, numpy and torch; env i is reset with seed + i (default 1)")
    p.add_argument("--total-timesteps", type=int, default=None,
                   help="env steps over all envs (default: the workload's)")
    p.add_argument("--no-bootstrap-truncation", action="store_true",
                   help="treat truncation like termination, as CleanRL does")
    p.add_argument("--metrics-csv", default=None, help="write global_step,episodic_return per update here")
    p.add_argument("--reset-return-at-episode-end", action="store_true", dest="reset_return",
                   help="reward normalisation restarts its discounted return when an episode ends, truncated "
                        "or not, as gymnasium's vector NormalizeReward and the crate do (gymnasium's single-env "
                        "NormalizeReward, CleanRL's, carries it over a truncation)")
    p.add_argument("--results-csv", default=None,
                   help="append implementation,env_id,seed,final_return,eval_return,steps (`ppo report --against`)")
    a = p.parse_args()
    args = argparse.Namespace(**workload(a.workload, a.total_timesteps))
    args.workload, args.seed, args.metrics_csv, args.results_csv = a.workload, a.seed, a.metrics_csv, a.results_csv
    args.reset_return = a.reset_return
    if a.no_bootstrap_truncation:
        args.bootstrap_truncation = False
    return args


class NormalizeRewardPerEpisode(gym.wrappers.NormalizeReward):
    """gymnasium's NormalizeReward with its discounted return restarted at every reset (the
    vector env resets a sub-env when its episode ends, truncated or not)."""

    def reset(self, **kwargs):
        self.discounted_reward = np.array([0.0])
        return super().reset(**kwargs)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    """Orthogonal weights scaled by `std`, constant biases (the "37 details": orthogonal init)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def mlp(sizes, activation, head_std):
    """Linear layers O -> H ... -> out with `activation` between them; gain sqrt(2) on the
    hidden layers and `head_std` on the last (CleanRL's layer_init)."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    layers = []
    for k in range(len(sizes) - 1):
        last = k == len(sizes) - 2
        layers.append(layer_init(nn.Linear(sizes[k], sizes[k + 1]), std=head_std if last else np.sqrt(2)))
        if not last:
            layers.append(act())
    return nn.Sequential(*layers)


class Agent(nn.Module):
    """Separate actor and critic MLPs. Discrete: the actor gives logits [M, A]. Continuous:
    the actor gives the mean [M, A] of a Normal with a state-independent log-std parameter
    `actor_logstd` [1, A]; log-prob and entropy are summed over the action dimensions.

    Definition order is parameter order, as in CleanRL and the crate's state dict:
    critic.*, actor.*, actor_logstd."""

    def __init__(self, obs_size, n_out, hidden_sizes, activation, continuous, log_std_init=0.0):
        super().__init__()
        self.continuous = continuous
        self.critic = mlp([obs_size, *hidden_sizes, 1], activation, 1.0)
        self.actor = mlp([obs_size, *hidden_sizes, n_out], activation, 0.01)
        if continuous:
            self.actor_logstd = nn.Parameter(torch.full((1, n_out), float(log_std_init)))

    def get_value(self, x):
        """x: [M, O] -> [M, 1]"""
        return self.critic(x)

    def dist(self, x):
        if self.continuous:
            mean = self.actor(x)
            return Normal(mean, torch.exp(self.actor_logstd.expand_as(mean)))
        return Categorical(logits=self.actor(x))

    def get_action_and_value(self, x, action=None):
        """x: [M, O], action: [M] / [M, A] or None -> action, logprob [M], entropy [M], value [M, 1]"""
        probs = self.dist(x)
        if action is None:
            action = probs.sample()
        if self.continuous:
            return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def ppo_loss(agent, mb_obs, mb_actions, mb_logprobs, mb_advantages, mb_returns, mb_values, args):
    """The PPO loss of one minibatch (CleanRL's loop body; PPO eq. 9 as a loss) and its
    debug variables. `parity.py` calls this on the crate's PyTorch fixture."""
    _, newlogprob, entropy, newvalue = agent.get_action_and_value(mb_obs, mb_actions)
    logratio = newlogprob - mb_logprobs
    ratio = logratio.exp()  # r_t(theta), PPO eq. 6

    with torch.no_grad():
        old_approx_kl = (-logratio).mean()
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > args.clip_coef).float().mean()

    # Advantage normalisation per minibatch (torch's std is unbiased).
    if args.norm_adv:
        mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

    # Clipped surrogate (PPO eq. 7), as a loss to minimise.
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

    # Value loss, clipped around the rollout's values (detail 9) or plain.
    newvalue = newvalue.view(-1)
    v_loss_unclipped = (newvalue - mb_returns) ** 2
    if args.clip_vloss:
        v_clipped = mb_values + torch.clamp(newvalue - mb_values, -args.clip_coef, args.clip_coef)
        v_loss_clipped = (v_clipped - mb_returns) ** 2
        v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        v_loss = 0.5 * v_loss_unclipped.mean()

    # Overall loss with entropy bonus (PPO eq. 9, negated).
    entropy_loss = entropy.mean()
    loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
    stats = {"pg_loss": pg_loss, "v_loss": v_loss, "entropy_loss": entropy_loss, "loss": loss,
             "old_approx_kl": old_approx_kl, "approx_kl": approx_kl, "clipfrac": clipfrac}
    return loss, stats


def main():
    args = parse_args()
    torch.set_num_threads(1)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    def make_env():
        # RecordEpisodeStatistics puts each episode's return in infos["final_info"]["episode"].
        env = gym.wrappers.RecordEpisodeStatistics(gym.make(args.env_id))
        # CleanRL's normalisation wrappers (ppo_continuous_action.py), under the statistics
        # wrapper so that returns are recorded raw: a running mean/std of the observations
        # and of the discounted return, each result clipped to [-10, 10].
        if getattr(args, "norm_obs", False):
            env = gym.wrappers.NormalizeObservation(env)
            env = gym.wrappers.TransformObservation(env, lambda o: np.clip(o, -10, 10), env.observation_space)
        if getattr(args, "norm_reward", False):
            if args.reset_return:
                env = NormalizeRewardPerEpisode(env, gamma=args.gamma)
            else:
                env = gym.wrappers.NormalizeReward(env, gamma=args.gamma)
            env = gym.wrappers.TransformReward(env, lambda r: np.clip(r, -10, 10))
        return env

    envs = gym.vector.SyncVectorEnv(
        [make_env for _ in range(args.n_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    continuous = isinstance(envs.single_action_space, gym.spaces.Box)
    obs_size = int(np.prod(envs.single_observation_space.shape))
    if continuous:
        act_shape = envs.single_action_space.shape
        n_out = int(np.prod(act_shape))
        low, high = envs.single_action_space.low, envs.single_action_space.high
    else:
        act_shape, n_out = (), int(envs.single_action_space.n)
    N, T = args.n_envs, args.n_steps

    agent = Agent(obs_size, n_out, args.hidden_sizes, args.activation, continuous, args.log_std_init)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=args.adam_eps)

    # Rollout storage, [T, N, ...]
    obs = torch.zeros((T, N, obs_size))
    actions = torch.zeros((T, N, *act_shape), dtype=torch.float32 if continuous else torch.long)
    logprobs = torch.zeros((T, N))
    rewards = torch.zeros((T, N))
    dones = torch.zeros((T, N))
    values = torch.zeros((T, N))

    recent_returns = deque(maxlen=100)  # episodic returns of the last 100 finished episodes
    curve = []                          # (global_step, mean of the last 100) per update
    num_episodes = 0
    global_step = 0
    start_time = time.time()
    # reset(seed=s) seeds sub-env i with s + i (gymnasium SyncVectorEnv.reset).
    next_obs_np, _ = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32)
    next_done = torch.zeros(N)

    for update in range(1, args.num_updates + 1):
        # Learning-rate annealing: linear from lr to 0 (lr / num_updates at the last update).
        if args.anneal_lr:
            frac = 1.0 - (update - 1.0) / args.num_updates
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

            # Continuous actions are clipped to the bounds for the env; the unclipped
            # sample is what the update sees (the "37 details", continuous detail 5).
            env_action = np.clip(action.numpy(), low, high) if continuous else action.numpy()
            next_obs_np, reward, terminations, truncations, infos = envs.step(env_action)
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)

            if "final_obs" in infos:
                if args.bootstrap_truncation:
                    # Time-limit ends are not true ends: add gamma * V(s_final) to the last
                    # reward, where s_final is the real last observation (the returned one
                    # is already the reset one). Terminated and truncated at once: terminated.
                    trunc = np.flatnonzero(truncations & ~terminations)
                    if trunc.size > 0:
                        final_obs = torch.as_tensor(np.stack(infos["final_obs"][trunc]), dtype=torch.float32)
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
        # CleanRL's form: dones[t] says obs[t] starts a new episode (the crate stores the
        # same flag at t - 1); the recursion is the same.
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
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        # Flatten the batch, [T, N, ...] -> [B, ...]
        b_obs = obs.reshape((-1, obs_size))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1, *act_shape))
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # ---- PPO update: K epochs of shuffled minibatches, every sample once per epoch ----
        b_inds = np.arange(args.batch_size)
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb = b_inds[start:start + args.minibatch_size]
                loss, _ = ppo_loss(agent, b_obs[mb], b_actions[mb], b_logprobs[mb], b_advantages[mb],
                                   b_returns[mb], b_values[mb], args)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        curve.append((global_step, float(np.mean(recent_returns)) if recent_returns else None))

    wall_time = time.time() - start_time
    envs.close()

    if args.metrics_csv:
        with open(args.metrics_csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["global_step", "episodic_return"])
            w.writerows([(s, "" if r is None else r) for s, r in curve])

    sps = global_step / wall_time
    final_return = float(np.mean(recent_returns)) if recent_returns else float("nan")
    print(f"workload={args.workload} env_id={args.env_id} seed={args.seed} "
          f"bootstrap_truncation={args.bootstrap_truncation}")
    print(f"RESULT wall_time_s={wall_time:.3f} sps={sps:.1f} final_return={final_return:.3f} "
          f"global_step={global_step} episodes={num_episodes}")
    if args.results_csv:
        name = "torch-port-episode-return" if args.reset_return else "torch-port"
        append_result(args.results_csv, name, args.env_id, args.seed, final_return, global_step)


if __name__ == "__main__":
    main()

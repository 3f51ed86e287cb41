"""PPO in JAX, the whole training loop compiled by XLA as PureJaxRL does.

The same algorithm, with the same defaults, as the crate (src/algo/) and `torch_ppo.py`, on
the workloads of `workloads.py`: separate actor and critic MLPs with orthogonal init (gain
sqrt(2) on hidden layers, 0.01 on the actor head, 1.0 on the critic head, zero biases), a
Gaussian policy with a state-independent log-std for continuous actions, GAE, K epochs of
shuffled minibatches, per-minibatch advantage normalisation (unbiased std, as torch's),
the clipped surrogate, the clipped value loss (or plain, as the workload says), the
entropy bonus, global-norm gradient clipping (`optax.clip_by_global_norm`), Adam with eps
1e-5 (`optax.adam`) and the learning rate annealed linearly to 0 per update (W1, W3), and
truncation bootstrapped with gamma * V(final observation).

Everything, rollout included, is one `jax.lax.scan` over the updates inside one
`jax.jit` (PureJaxRL, https://github.com/luchris429/purejaxrl/blob/main/purejaxrl/ppo.py).
That needs environments written in JAX. gymnax has CartPole-v1 and Pendulum-v1, but its
`step` merges termination and the time limit into one `done` and auto-resets in the same
step without returning the last observation, so V(final obs) cannot be computed; its
CartPole also gives reward 0 on the step after a terminal state was reached and keeps the
state in float32. The two environments are therefore written here (about 60 lines), from
gymnasium's classic_control sources, returning terminated, truncated and the final
observation separately; like gymnax they compute in float32 (gymnasium's CartPole state
is float64), which is the one difference left (README "Differences").

Run (from the repository root; one CPU thread, as the crate):

    python3 benches/frameworks/jax_ppo.py --workload W1 --seed 1
    taskset -c 1 python3 benches/frameworks/jax_ppo.py --workload Pendulum --metrics-csv /tmp/j.csv

It prints the compile time (tracing, lowering and XLA compilation of the whole training)
and the run time of the compiled function separately, then

    RESULT wall_time_s=3.210 sps=155703.2 final_return=500.000 global_step=499712 episodes=1466 compile_s=6.012

where `wall_time_s` is the run alone, `sps` env steps over it, `final_return` the mean
return of the last 100 finished episodes (in the order they ended; episodes that end in
the same vector step in env order, as the crate).
"""

import os

# One thread for XLA's CPU backend: the crate runs on one core, and so does this.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import NamedTuple  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, append_result, workload  # noqa: E402

# ==================================================================== environments
# Each is a pair of pure functions on one environment, vmapped over N:
#   reset(key) -> (state, obs)
#   step(state, action) -> (state, obs, reward, terminated, truncated)
# `step` does not reset; `VecEnv.step` below does, in the same step (the crate's way).


class CartPoleState(NamedTuple):
    s: jax.Array  # [4] x, x_dot, theta, theta_dot
    t: jax.Array  # steps taken in this episode


class CartPole:
    """gymnasium's CartPole-v1 (classic_control/cartpole.py): Euler integration, reward 1
    on every step including the last, terminated past |x| > 2.4 or |theta| > 12 degrees,
    truncated at 500 steps, reset uniform in [-0.05, 0.05]."""

    obs_size, n_actions, continuous, max_steps = 4, 2, False, 500
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masscart + masspole
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * np.pi / 360

    def reset(self, key):
        s = jax.random.uniform(key, (4,), minval=-0.05, maxval=0.05)
        return CartPoleState(s, jnp.int32(0)), s

    def step(self, state, action):
        x, x_dot, theta, theta_dot = state.s
        force = jnp.where(action == 1, self.force_mag, -self.force_mag)
        costheta, sintheta = jnp.cos(theta), jnp.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        s = jnp.stack([x + self.tau * x_dot, x_dot + self.tau * xacc,
                       theta + self.tau * theta_dot, theta_dot + self.tau * thetaacc])
        t = state.t + 1
        terminated = (jnp.abs(s[0]) > 2.4) | (jnp.abs(s[2]) > self.theta_threshold)
        return CartPoleState(s, t), s, jnp.float32(1.0), terminated, t >= self.max_steps


class PendulumState(NamedTuple):
    th: jax.Array
    thdot: jax.Array
    t: jax.Array


class Pendulum:
    """gymnasium's Pendulum-v1 (classic_control/pendulum.py): u clipped to [-2, 2],
    cost = angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2 on the pre-step state,
    thdot' = clip(thdot + (3g/(2l) sin th + 3/(m l^2) u) dt, -8, 8), th' = th + thdot' dt;
    never terminates, truncated at 200 steps; reset th ~ U[-pi, pi], thdot ~ U[-1, 1]."""

    obs_size, n_actions, continuous, max_steps = 3, 1, True, 200
    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
    low, high = -2.0, 2.0

    @staticmethod
    def obs(th, thdot):
        return jnp.stack([jnp.cos(th), jnp.sin(th), thdot])

    def reset(self, key):
        k1, k2 = jax.random.split(key)
        th = jax.random.uniform(k1, (), minval=-np.pi, maxval=np.pi)
        thdot = jax.random.uniform(k2, (), minval=-1.0, maxval=1.0)
        return PendulumState(th, thdot, jnp.int32(0)), self.obs(th, thdot)

    def step(self, state, action):
        th, thdot = state.th, state.thdot
        u = jnp.clip(action[0], -self.max_torque, self.max_torque)
        angle = ((th + np.pi) % (2 * np.pi)) - np.pi
        cost = angle**2 + 0.1 * thdot**2 + 0.001 * u**2
        newthdot = thdot + (3 * self.g / (2 * self.l) * jnp.sin(th) + 3.0 / (self.m * self.l**2) * u) * self.dt
        newthdot = jnp.clip(newthdot, -self.max_speed, self.max_speed)
        newth = th + newthdot * self.dt
        t = state.t + 1
        return PendulumState(newth, newthdot, t), self.obs(newth, newthdot), -cost, jnp.bool_(False), t >= self.max_steps


ENVS = {"CartPole-v1": CartPole, "Pendulum-v1": Pendulum}


class VecEnv:
    """N copies stepped together with same-step autoreset: an env whose episode ended is
    reset in the same step, the returned observation is the new episode's first, and the
    real last observation is returned beside it as `final_obs` (gymnasium's SAME_STEP
    mode, the crate's vector envs)."""

    def __init__(self, env, n):
        self.env, self.n = env, n

    def reset(self, key):
        return jax.vmap(self.env.reset)(jax.random.split(key, self.n))

    def step(self, key, state, action):
        state, final_obs, reward, terminated, truncated = jax.vmap(self.env.step)(state, action)
        done = terminated | truncated
        reset_state, reset_obs = self.reset(key)
        pick = lambda a, b: jnp.where(done.reshape(-1, *([1] * (a.ndim - 1))), a, b)
        state = jax.tree_util.tree_map(pick, reset_state, state)
        return state, pick(reset_obs, final_obs), final_obs, reward, terminated, truncated


# ==================================================================== the agent
# Parameters are a pytree: {"critic": [(W, b), ...], "actor": [(W, b), ...], "log_std": [A]}
# with W of shape [in, out] (torch's nn.Linear weight transposed).


def mlp_init(key, sizes, head_gain):
    """Orthogonal weights (gain sqrt(2), `head_gain` on the last layer) and zero biases."""
    layers = []
    for k, key in enumerate(jax.random.split(key, len(sizes) - 1)):
        gain = head_gain if k == len(sizes) - 2 else np.sqrt(2)
        w = jax.nn.initializers.orthogonal(gain)(key, (sizes[k], sizes[k + 1]), jnp.float32)
        layers.append((w, jnp.zeros(sizes[k + 1], jnp.float32)))
    return layers


def mlp_apply(layers, x, activation):
    """x: [M, in] -> [M, out]; `activation` between the layers, none after the last."""
    act = {"tanh": jnp.tanh, "relu": jax.nn.relu}[activation]
    for k, (w, b) in enumerate(layers):
        x = x @ w + b
        if k < len(layers) - 1:
            x = act(x)
    return x


def agent_init(key, cfg, env):
    k_critic, k_actor = jax.random.split(key)
    params = {
        "critic": mlp_init(k_critic, [env.obs_size, *cfg["hidden_sizes"], 1], 1.0),
        "actor": mlp_init(k_actor, [env.obs_size, *cfg["hidden_sizes"], env.n_actions], 0.01),
    }
    if env.continuous:
        params["log_std"] = jnp.full((env.n_actions,), cfg["log_std_init"], jnp.float32)
    return params


def value(params, obs, cfg):
    """obs: [M, O] -> V [M]"""
    return mlp_apply(params["critic"], obs, cfg["activation"])[:, 0]


def log_prob_entropy(params, obs, actions, cfg, continuous):
    """obs [M, O], actions [M] or [M, A] -> log pi(a|s) [M], H[pi] [M]. Categorical:
    log_softmax(logits)[a], -sum p log p. Normal: summed over the action dimensions."""
    head = mlp_apply(params["actor"], obs, cfg["activation"])
    if continuous:
        log_std = params["log_std"]
        lp = -((actions - head) ** 2) / (2 * jnp.exp(2 * log_std)) - log_std - 0.5 * jnp.log(2 * jnp.pi)
        ent = 0.5 + 0.5 * jnp.log(2 * jnp.pi) + log_std
        return lp.sum(-1), jnp.broadcast_to(ent.sum(), lp.shape[:1])
    logp = jax.nn.log_softmax(head)
    lp = jnp.take_along_axis(logp, actions[:, None].astype(jnp.int32), axis=1)[:, 0]
    return lp, -(jnp.exp(logp) * logp).sum(-1)


def sample_action(key, params, obs, cfg, continuous):
    """obs [N, O] -> action [N] or [N, A] (unclipped), log-prob [N]"""
    head = mlp_apply(params["actor"], obs, cfg["activation"])
    if continuous:
        action = head + jnp.exp(params["log_std"]) * jax.random.normal(key, head.shape)
    else:
        action = jax.random.categorical(key, head)
    lp, _ = log_prob_entropy(params, obs, action, cfg, continuous)
    return action, lp


class Minibatch(NamedTuple):
    obs: jax.Array         # [M, O]
    actions: jax.Array     # [M] or [M, A]
    logprobs: jax.Array    # [M]
    advantages: jax.Array  # [M], not yet normalised
    returns: jax.Array     # [M]
    values: jax.Array      # [M]


def ppo_loss(params, mb, cfg, continuous):
    """The PPO loss of one minibatch (PPO eq. 9 as a loss, CleanRL's names) and its debug
    variables. `parity.py` checks it and its gradient against the crate's fixture."""
    newlogprob, entropy = log_prob_entropy(params, mb.obs, mb.actions, cfg, continuous)
    newvalue = value(params, mb.obs, cfg)
    logratio = newlogprob - mb.logprobs
    ratio = jnp.exp(logratio)  # r_t(theta), PPO eq. 6

    adv = mb.advantages
    if cfg["norm_adv"]:  # per minibatch, unbiased std (torch.std's default)
        adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)

    # Clipped surrogate (PPO eq. 7), as a loss.
    eps = cfg["clip_coef"]
    pg_loss = jnp.maximum(-adv * ratio, -adv * jnp.clip(ratio, 1 - eps, 1 + eps)).mean()

    # Value loss, clipped around the rollout's values or plain.
    v_loss_unclipped = (newvalue - mb.returns) ** 2
    if cfg["clip_vloss"]:
        v_clipped = mb.values + jnp.clip(newvalue - mb.values, -eps, eps)
        v_loss = 0.5 * jnp.maximum(v_loss_unclipped, (v_clipped - mb.returns) ** 2).mean()
    else:
        v_loss = 0.5 * v_loss_unclipped.mean()

    entropy_loss = entropy.mean()
    loss = pg_loss - cfg["ent_coef"] * entropy_loss + v_loss * cfg["vf_coef"]
    logratio, ratio = jax.lax.stop_gradient(logratio), jax.lax.stop_gradient(ratio)
    stats = {"pg_loss": pg_loss, "v_loss": v_loss, "entropy_loss": entropy_loss, "loss": loss,
             "old_approx_kl": (-logratio).mean(), "approx_kl": ((ratio - 1) - logratio).mean(),
             "clipfrac": (jnp.abs(ratio - 1) > eps).astype(jnp.float32).mean()}
    return loss, stats


def make_optimizer(cfg):
    """Global-norm clipping, then Adam (eps 1e-5) whose learning rate is annealed linearly
    per update: lr * (1 - (update - 1) / num_updates), constant within an update."""
    steps_per_update = cfg["update_epochs"] * cfg["n_minibatches"]

    def schedule(count):
        return cfg["learning_rate"] * (1.0 - (count // steps_per_update) / cfg["num_updates"])

    lr = schedule if cfg["anneal_lr"] else cfg["learning_rate"]
    return optax.chain(optax.clip_by_global_norm(cfg["max_grad_norm"]), optax.adam(lr, eps=cfg["adam_eps"]))


# ==================================================================== training


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    logprob: jax.Array
    value: jax.Array
    reward: jax.Array  # with gamma * V(final obs) added at a truncation
    done: jax.Array    # the episode ended at this step (terminated or truncated)


class Episodes(NamedTuple):
    """Running episode returns and the last 100 finished ones (a ring buffer)."""
    ret: jax.Array     # [N] return of each env's episode so far
    last: jax.Array    # [100]
    count: jax.Array   # episodes finished so far

    def add(self, reward, done):
        ret = self.ret + reward
        # Slots for this step's finished episodes, in env order; the rest write nowhere.
        slot = self.count + jnp.cumsum(done) - 1
        idx = jnp.where(done, slot % 100, 100)
        last = self.last.at[idx].set(ret, mode="drop")
        return Episodes(jnp.where(done, 0.0, ret), last, self.count + done.sum())

    def mean(self):
        n = jnp.minimum(self.count, 100)
        return jnp.where(n > 0, self.last.sum() / jnp.maximum(n, 1), jnp.nan)


def make_train(cfg):
    """train(key) -> per-update (global_step, mean-100 return, episodes), all in one jit."""
    env = ENVS[cfg["env_id"]]()
    venv = VecEnv(env, cfg["n_envs"])
    continuous = env.continuous
    N, T, B = cfg["n_envs"], cfg["n_steps"], cfg["batch_size"]
    MB, n_mb = cfg["minibatch_size"], cfg["n_minibatches"]
    gamma, lam = cfg["gamma"], cfg["gae_lambda"]
    tx = make_optimizer(cfg)

    def train(key):
        key, k_init, k_env = jax.random.split(key, 3)
        params = agent_init(k_init, cfg, env)
        opt_state = tx.init(params)
        env_state, obs = venv.reset(k_env)
        episodes = Episodes(jnp.zeros(N), jnp.zeros(100), jnp.int32(0))

        def update_step(carry, update):
            params, opt_state, env_state, obs, episodes, key = carry

            # ---- Rollout: T steps of N envs ----
            def env_step(carry, _):
                env_state, obs, episodes, key = carry
                key, k_act, k_reset = jax.random.split(key, 3)
                action, logprob = sample_action(k_act, params, obs, cfg, continuous)
                v = value(params, obs, cfg)
                env_action = jnp.clip(action, env.low, env.high) if continuous else action
                env_state, next_obs, final_obs, reward, term, trunc = venv.step(k_reset, env_state, env_action)
                episodes = episodes.add(reward, term | trunc)
                if cfg["bootstrap_truncation"]:
                    # r + gamma * V(final obs) where the time limit, not failure, ended it.
                    boot = trunc & ~term
                    final_v = jax.lax.cond(boot.any(), lambda: value(params, final_obs, cfg), lambda: jnp.zeros(N))
                    reward = reward + gamma * jnp.where(boot, final_v, 0.0)
                t = Transition(obs, action, logprob, v, reward, term | trunc)
                return (env_state, next_obs, episodes, key), t

            (env_state, obs, episodes, key), tr = jax.lax.scan(env_step, (env_state, obs, episodes, key), None, T)

            # ---- GAE (Schulman et al. 2016), backwards; done_t: the episode ended at t ----
            last_value = value(params, obs, cfg)

            def gae_step(carry, t):
                next_adv, next_value = carry
                nonterminal = 1.0 - t.done
                delta = t.reward + gamma * next_value * nonterminal - t.value
                adv = delta + gamma * lam * nonterminal * next_adv
                return (adv, t.value), adv

            _, advantages = jax.lax.scan(gae_step, (jnp.zeros(N), last_value), tr, reverse=True)
            batch = Minibatch(tr.obs.reshape(B, -1), tr.action.reshape(B, *tr.action.shape[2:]),
                              tr.logprob.reshape(B), advantages.reshape(B),
                              (advantages + tr.value).reshape(B), tr.value.reshape(B))

            # ---- PPO update: K epochs of shuffled minibatches ----
            def epoch(carry, _):
                params, opt_state, key = carry
                key, k_perm = jax.random.split(key)
                perm = jax.random.permutation(k_perm, B)
                mbs = jax.tree_util.tree_map(lambda x: x[perm].reshape(n_mb, MB, *x.shape[1:]), batch)

                def minibatch(carry, mb):
                    params, opt_state = carry
                    grads, _ = jax.grad(ppo_loss, has_aux=True)(params, mb, cfg, continuous)
                    updates, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch, (params, opt_state), mbs)
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(epoch, (params, opt_state, key), None, cfg["update_epochs"])
            out = ((update + 1) * B, episodes.mean(), episodes.count)
            return (params, opt_state, env_state, obs, episodes, key), out

        carry = (params, opt_state, env_state, obs, episodes, key)
        _, curve = jax.lax.scan(update_step, carry, jnp.arange(cfg["num_updates"]))
        return curve

    return train


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="W1", help="workloads.py's settings (default W1)")
    p.add_argument("--seed", type=int, default=1, help="jax.random.PRNGKey(seed) (default 1)")
    p.add_argument("--total-timesteps", type=int, default=None, help="env steps (default: the workload's)")
    p.add_argument("--metrics-csv", default=None, help="write global_step,episodic_return per update here")
    p.add_argument("--results-csv", default=None,
                   help="append implementation,env_id,seed,final_return,eval_return,steps (`ppo report --against`)")
    return p.parse_args()


def main():
    a = parse_args()
    cfg = workload(a.workload, a.total_timesteps)
    key = jax.random.PRNGKey(a.seed)
    start = time.perf_counter()
    train = jax.jit(make_train(cfg)).lower(key).compile()
    compiled = time.perf_counter()
    steps, returns, count = jax.block_until_ready(train(key))
    done = time.perf_counter()
    run = done - compiled
    steps, returns, count = np.asarray(steps), np.asarray(returns), np.asarray(count)
    if a.metrics_csv:
        with open(a.metrics_csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["global_step", "episodic_return"])
            w.writerows([(int(s), "" if np.isnan(r) else float(r)) for s, r in zip(steps, returns)])
    total = int(steps[-1])
    print(f"workload={a.workload} env_id={cfg['env_id']} seed={a.seed} backend={jax.default_backend()}")
    print(f"compile {compiled - start:.2f} s, run {run:.2f} s")
    print(f"RESULT wall_time_s={run:.3f} sps={total / run:.1f} final_return={float(returns[-1]):.3f} "
          f"global_step={total} episodes={int(count[-1])} compile_s={compiled - start:.3f}")
    if a.results_csv:
        append_result(a.results_csv, "jax-port", cfg["env_id"], a.seed, float(returns[-1]), total)


if __name__ == "__main__":
    main()

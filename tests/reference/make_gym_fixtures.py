"""Record gymnasium classic-control transitions for tests/env_fixtures.rs.

Run from the crate root (Python 3.11, gymnasium 1.x, numpy 2.x):

    python3 tests/reference/make_gym_fixtures.py

For every environment it writes two plain-text files under tests/fixtures/gym/, one
record per line, values separated by spaces, floats as Python's repr (shortest text
that round-trips the float64 exactly; float32 values are widened first):

  <id>.transitions.txt   state[S] action[A] next_state[S] obs[O] reward terminated
      a given state (set through env.unwrapped.state) and one action.
  <id>.episodes.txt      "episode" state[S]      the state right after reset(seed)
                         "step" action[A] state[S] obs[O] reward terminated truncated
      whole episodes, each until terminated or truncated (TimeLimit), under a seeded
      random policy or a simple seeded controller.

Discrete actions are written as integers, terminated/truncated as 0/1. Continuous
actions are float32, as a policy's output would be.

CartPoleContinuous-v1 is not a gymnasium environment; it is recorded with gymnasium's
CartPoleEnv by setting force_mag = 10 * clip(a, -1, 1) and pushing right (action 1),
which is exactly the continuous variant's force.
"""

import math
import os

import gymnasium as gym
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "gym")


def fmt(x):
    return repr(float(x))


def line(*groups):
    out = []
    for g in groups:
        out.extend(g if isinstance(g, (list, tuple)) else [g])
    return " ".join(out)


class Spec:
    def __init__(self, id, gym_id, continuous, sample_state, controller):
        self.id = id
        self.gym_id = gym_id
        self.continuous = continuous
        self.sample_state = sample_state  # rng -> list of floats
        self.controller = controller  # (state, rng) -> action


def action_text(spec, a):
    if spec.continuous:
        return [fmt(v) for v in a]
    return [str(int(a))]


def do_step(spec, env, a):
    """One step of env (wrapped by gym.make) with our action `a`."""
    if spec.id == "CartPoleContinuous-v1":
        env.unwrapped.force_mag = 10.0 * float(np.clip(a[0], -1.0, 1.0))
        return env.step(1)
    return env.step(a)


def state_of(env):
    return [fmt(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64)]


def record(spec, rng):
    env = gym.make(spec.gym_id)
    n_transitions = 60
    with open(os.path.join(OUT, f"{spec.id}.transitions.txt"), "w") as f:
        f.write(f"# {spec.id}: state action next_state obs reward terminated\n")
        for _ in range(n_transitions):
            env.reset(seed=0)
            s = spec.sample_state(rng)
            env.unwrapped.state = np.array(s, dtype=np.float64)
            a = random_action(spec, env, rng, wide=True)
            obs, r, term, trunc, _ = do_step(spec, env, a)
            f.write(
                line(
                    [fmt(v) for v in s],
                    action_text(spec, a),
                    state_of(env),
                    [fmt(v) for v in obs],
                    fmt(r),
                    str(int(term)),
                )
                + "\n"
            )

    with open(os.path.join(OUT, f"{spec.id}.episodes.txt"), "w") as f:
        f.write(f"# {spec.id}: 'episode' state | 'step' action state obs reward terminated truncated\n")
        for k, policy in enumerate(["random", "controller"]):
            if spec.controller is None and policy == "controller":
                continue
            env.reset(seed=1000 + k)
            f.write(line("episode", state_of(env)) + "\n")
            while True:
                if policy == "random":
                    a = random_action(spec, env, rng, wide=False)
                else:
                    a = spec.controller(np.asarray(env.unwrapped.state, dtype=np.float64), rng)
                obs, r, term, trunc, _ = do_step(spec, env, a)
                f.write(
                    line(
                        "step",
                        action_text(spec, a),
                        state_of(env),
                        [fmt(v) for v in obs],
                        fmt(r),
                        str(int(term)),
                        str(int(trunc)),
                    )
                    + "\n"
                )
                if term or trunc:
                    break


def random_action(spec, env, rng, wide):
    if not spec.continuous:
        return int(rng.integers(env.action_space.n))
    if spec.id == "CartPoleContinuous-v1":
        low, high = -1.0, 1.0
    else:
        low, high = float(env.action_space.low[0]), float(env.action_space.high[0])
    if wide:  # out-of-bounds actions check the clipping
        low, high = 1.5 * low, 1.5 * high
    return np.array([rng.uniform(low, high)], dtype=np.float32)


def cartpole_controller(continuous):
    def act(s, rng):
        # push towards the side the pole falls to, with some noise: survives 500 steps
        u = s[2] + 0.5 * s[3] + 0.01 * s[0] + 0.05 * s[1] + 0.02 * rng.standard_normal()
        if continuous:
            return np.array([np.clip(20.0 * u, -1.5, 1.5)], dtype=np.float32)
        return int(u > 0)

    return act


def mountain_car_controller(continuous):
    def act(s, rng):
        # pump energy: push in the direction of motion
        if continuous:
            return np.array([np.clip(np.sign(s[1]) + 0.3 * rng.standard_normal(), -1.2, 1.2)], dtype=np.float32)
        return 2 if s[1] >= 0 else 0

    return act


def acrobot_controller(s, rng):
    # push with the first link's velocity (an energy-pumping heuristic)
    return 2 if s[2] + 0.1 * rng.standard_normal() > 0 else 0


def pendulum_controller(s, rng):
    return np.array([np.clip(-2.0 * np.sign(s[1]) + 0.5 * rng.standard_normal(), -2.5, 2.5)], dtype=np.float32)


def u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def mc_state(rng):
    # a few states exactly at the left wall moving left, and near the goal
    r = rng.uniform()
    if r < 0.15:
        return [-1.2, u(rng, -0.07, 0.0)]
    if r < 0.3:
        return [u(rng, 0.4, 0.6), u(rng, -0.01, 0.07)]
    return [u(rng, -1.2, 0.6), u(rng, -0.07, 0.07)]


SPECS = [
    Spec(
        "CartPole-v1",
        "CartPole-v1",
        False,
        lambda rng: [u(rng, -2.5, 2.5), u(rng, -2, 2), u(rng, -0.25, 0.25), u(rng, -3, 3)],
        cartpole_controller(False),
    ),
    Spec(
        "CartPoleContinuous-v1",
        "CartPole-v1",
        True,
        lambda rng: [u(rng, -2.5, 2.5), u(rng, -2, 2), u(rng, -0.25, 0.25), u(rng, -3, 3)],
        cartpole_controller(True),
    ),
    Spec(
        "Pendulum-v1",
        "Pendulum-v1",
        True,
        lambda rng: [u(rng, -3 * math.pi, 3 * math.pi), u(rng, -8, 8)],
        pendulum_controller,
    ),
    Spec(
        "Acrobot-v1",
        "Acrobot-v1",
        False,
        lambda rng: [u(rng, -math.pi, math.pi), u(rng, -math.pi, math.pi), u(rng, -4 * math.pi, 4 * math.pi), u(rng, -9 * math.pi, 9 * math.pi)],
        acrobot_controller,
    ),
    Spec("MountainCar-v0", "MountainCar-v0", False, mc_state, mountain_car_controller(False)),
    Spec("MountainCarContinuous-v0", "MountainCarContinuous-v0", True, mc_state, mountain_car_controller(True)),
]


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    for spec in SPECS:
        record(spec, rng)
        print("wrote", spec.id)

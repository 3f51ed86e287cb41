#!/usr/bin/env python3
"""Write tests/fixtures/atari/breakout_wrappers.json: SB3's AtariWrapper (NoopReset,
MaxAndSkip, EpisodicLife, FireReset, WarpFrame, ClipReward) on Breakout, with every call
it makes to the raw game recorded, for tests/atari.rs to replay.

Run from the repository root (ale-py, which ships the ROMs; stable-baselines3;
opencv-python-headless):

    python3 tests/reference/make_atari_wrapper_fixture.py

BreakoutNoFrameskip-v4 (ALE, frameskip 1, no sticky actions) is wrapped first in a
recorder, then in AtariWrapper(noop_max=30) with `override_num_noops` set to 3 (SB3's own
switch; the crate's NoopReset has it too), so the replay needs no shared random numbers.
A fixed sequence of agent actions (drawn once from numpy's default_rng(7), FIRE mostly
avoided so that the ball is missed and lives are lost) drives AtariWrapper through
resets, skips, lives lost and games over, until a game is over and a brick was hit.

"raw" lists every call AtariWrapper made to the game, in order: {"op": "reset"} or
{"op": "step", "action": a}, each with the game's "reward", "terminated", "truncated",
"lives" (ale.lives() after the call) and its frame (210x160x3 RGB bytes) as a delta from
the previous frame: "frame" is a list of runs [start, v0, v1, ...] of the bytes that
changed (the first frame's delta is from all zeros). "agent" lists the wrapper's
transitions: {"op": "reset"} or {"op": "step", "action": a}, each with "obs" (84x84
bytes, row-major; stored as a delta from the wrapper's previous obs, the same way),
"reward", "terminated", "truncated".
"""
import json
import os

import ale_py
import gymnasium as gym
import numpy as np
from stable_baselines3.common.atari_wrappers import AtariWrapper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "atari")


def delta(prev, cur):
    """Runs [start, values...] of the bytes of `cur` that differ from `prev`."""
    changed = np.flatnonzero(prev != cur)
    runs = []
    for i in changed:
        if runs and runs[-1][0] + len(runs[-1]) - 1 == i:
            runs[-1].append(int(cur[i]))
        else:
            runs.append([int(i), int(cur[i])])
    return runs


class Recorder(gym.Wrapper):
    def __init__(self, env):
        super().__init__(env)
        self.calls = []
        self.frame = np.zeros(210 * 160 * 3, dtype=np.uint8)

    def record(self, call, obs, reward=0.0, terminated=False, truncated=False):
        flat = np.asarray(obs, dtype=np.uint8).ravel()
        call.update({"reward": float(reward), "terminated": bool(terminated), "truncated": bool(truncated),
                     "lives": int(self.env.unwrapped.ale.lives()), "frame": delta(self.frame, flat)})
        self.frame = flat.copy()
        self.calls.append(call)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.record({"op": "reset"}, obs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.record({"op": "step", "action": int(action)}, obs, reward, terminated, truncated)
        return obs, reward, terminated, truncated, info


def main():
    gym.register_envs(ale_py)
    raw = gym.make("BreakoutNoFrameskip-v4")
    recorder = Recorder(raw)
    env = AtariWrapper(recorder, noop_max=30)
    noop = env
    while not hasattr(noop, "override_num_noops"):
        noop = noop.env
    noop.override_num_noops = 3
    rng = np.random.default_rng(7)
    agent = []
    prev = np.zeros(84 * 84, dtype=np.uint8)

    def record(call, obs, reward=0.0, terminated=False, truncated=False):
        nonlocal prev
        flat = np.asarray(obs, dtype=np.uint8).ravel()
        call.update({"reward": float(reward), "terminated": bool(terminated), "truncated": bool(truncated),
                     "obs": delta(prev, flat)})
        prev = flat.copy()
        agent.append(call)

    obs, _ = env.reset(seed=5)
    record({"op": "reset"}, obs)
    games, scored = 0, 0.0
    # Until a game is over and a brick has been hit (a clipped reward of 1).
    while games < 1 or scored == 0.0:
        a = int(rng.choice([0, 2, 3, 1], p=[0.3, 0.33, 0.33, 0.04]))
        obs, reward, terminated, truncated, _ = env.step(a)
        record({"op": "step", "action": a}, obs, reward, terminated, truncated)
        scored += float(reward)
        if terminated or truncated:
            if recorder.env.unwrapped.ale.game_over():
                games += 1
            obs, _ = env.reset()
            record({"op": "reset"}, obs)
    meanings = raw.unwrapped.get_action_meanings()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "breakout_wrappers.json")
    with open(path, "w") as f:
        json.dump({"about": "SB3's AtariWrapper on BreakoutNoFrameskip-v4, replayable; see make_atari_wrapper_fixture.py",
                   "action_meanings": meanings, "override_num_noops": 3, "raw": recorder.calls, "agent": agent},
                  f, separators=(",", ":"))
    steps = sum(1 for c in agent if c["op"] == "step")
    lost = sum(1 for c in agent if c["op"] == "step" and c["terminated"])
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes): {len(recorder.calls)} game calls, "
          f"{steps} agent steps, {lost} terminations, {games} games over")


if __name__ == "__main__":
    main()

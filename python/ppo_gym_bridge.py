"""The Python side of ppo's gymnasium bridge (src/env/bridge.rs documents the protocol).

`ppo` embeds this file and runs it as `python3 -c <this file>` (or with `--list`, which
prints gymnasium's registered ids for `ppo envs --gym`); it talks
over stdin and stdout in little-endian binary frames and never prints to stdout itself
(anything an environment prints goes to stderr). It runs N environments in this one
process with ppo's vector semantics: env i is seeded seed + i, an episode that ends is
reset in the same step, its last observation is returned as final_obs, and terminated
and truncated are kept apart. With AUTORESET 0 (one environment for `Env`), nothing is
reset automatically.

ID is `gym:ENV_ID` (gymnasium.make(ENV_ID)) or `py:MODULE:FUNCTION` (a function of a
module on sys.path, or a file path MODULE.py, that returns a gymnasium.Env).
"""

import struct
import sys
import traceback

VERSION = 2

# Requests (ppo -> Python) and replies (Python -> ppo); a reply is the request | 0x80.
HELLO, RESET, STEP, GET_STATE, CLOSE, RENDER, MASKS, LIVES, MEANINGS = 1, 2, 3, 4, 5, 6, 7, 8, 9
ERROR = 0xFF


def last_line(exc):
    """The last line of a traceback: `ModuleNotFoundError: No module named 'gymnasium'`."""
    lines = traceback.format_exception_only(type(exc), exc)
    return lines[-1].strip() if lines else repr(exc)


class Channel:
    def __init__(self):
        import os

        self.inp = sys.stdin.buffer
        # The protocol keeps the real stdout for itself; file descriptor 1 becomes stderr,
        # so that nothing an environment prints (from Python, C or a subprocess) can
        # corrupt a frame.
        self.out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)

    def read(self):
        head = self.inp.read(4)
        if len(head) < 4:
            return None  # ppo closed the pipe: exit
        (length,) = struct.unpack("<I", head)
        body = self.inp.read(length)
        if len(body) < length:
            return None
        return body

    def send(self, op, payload=b""):
        self.out.write(struct.pack("<IB", len(payload) + 1, op) + payload)
        self.out.flush()

    def error(self, kind, exc):
        text = (kind + "\n" + last_line(exc) + "\n" + traceback.format_exc()).encode("utf-8", "replace")
        self.send(ERROR, struct.pack("<I", len(text)) + text)


class UnknownEnv(Exception):
    """The id names no environment: gymnasium has no such id, or the py: module or
    function does not exist."""


def make_env(spec):
    if spec.startswith("gym:"):
        import gymnasium
        import os

        env_id = spec[4:]
        # Packages whose environments gymnasium knows only once they register them.
        if env_id.startswith("MinAtar/") and env_id not in gymnasium.registry:
            import minatar.gym

            minatar.gym.register_envs()
        if env_id not in gymnasium.registry and (env_id.startswith("ALE/") or "NoFrameskip" in env_id):
            # ALE's games (ALE/Breakout-v5, BreakoutNoFrameskip-v4, ...), from ale-py.
            import ale_py

            gymnasium.register_envs(ale_py)
        # `ppo render` asks for pixels: environments that draw themselves.
        if os.environ.get("PPO_BRIDGE_RENDER") == "1":
            return channels_first(gymnasium.make(env_id, render_mode="rgb_array"))
        return channels_first(gymnasium.make(env_id))
    if spec.startswith("py:"):
        import importlib
        import importlib.util
        import os

        module_name, _, function = spec[3:].rpartition(":")
        if module_name.endswith(".py") and os.path.exists(module_name):
            loaded = importlib.util.spec_from_file_location("ppo_user_env", module_name)
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)
        else:
            if importlib.util.find_spec(module_name) is None:
                raise UnknownEnv(f"no module named {module_name!r} (nor a file {module_name}.py)")
            module = importlib.import_module(module_name)
        if not hasattr(module, function):
            raise UnknownEnv(f"module {module_name!r} has no function {function!r}")
        # Whatever the function itself raises is a failure to make the environment.
        return getattr(module, function)()
    raise ValueError(f"environment id {spec!r} must start with gym: or py:")


def channels_first(env):
    """With PPO_BRIDGE_CHANNELS_FIRST=1 (the run's policy has a CNN), three-dimensional
    observations (height, width, channels) are transposed to (channels, height, width),
    as SB3's VecTransposeImage does for its CNNs; anything else is left as it is."""
    import os

    import numpy as np
    from gymnasium import spaces
    from gymnasium.wrappers import TransformObservation

    space = env.observation_space
    if os.environ.get("PPO_BRIDGE_CHANNELS_FIRST") != "1" or not isinstance(space, spaces.Box) or len(space.shape) != 3:
        return env
    low, high = np.transpose(space.low, (2, 0, 1)), np.transpose(space.high, (2, 0, 1))
    transposed = spaces.Box(low=low, high=high, dtype=space.dtype)
    return TransformObservation(env, lambda obs: np.transpose(obs, (2, 0, 1)), transposed)


def is_bytes(space):
    """A Box of bytes or booleans (frames, MinAtar's planes): its observations travel as
    one u8 per value instead of an f64."""
    import numpy as np
    from gymnasium import spaces

    return isinstance(space, spaces.Box) and space.dtype in (np.uint8, np.bool_)


def is_image(space):
    """A Box of bytes with two or three dimensions (height, width[, channels]): pixels, as
    SB3's `is_image_space` tells them (CarRacing's, Atari's)."""
    import numpy as np

    return space.dtype == np.uint8 and len(space.shape) in (2, 3)


def encode_space(space, observation=False):
    """Discrete: kind 0, n, start. Box: kind 1, rank, dims, then low and high as f64 (kind
    3 for observations of bytes or booleans, which travel as u8). MultiDiscrete: kind 2,
    D, then the D flattened nvec and the D starts as i64."""
    import os

    import numpy as np
    from gymnasium import spaces

    # A CNN reads them: through the Atari wrappers, or transposed to channels first.
    cnn = os.environ.get("PPO_BRIDGE_CHANNELS_FIRST") == "1" or os.environ.get("PPO_BRIDGE_ATARI") == "1"
    if observation and isinstance(space, spaces.Box) and is_image(space) and not cnn:
        raise TypeError(
            f"the observations are images ({space}): an MLP on pixels flattened into one vector would train "
            "nothing useful; train with a CNN (--cnn nature or minatar), or give a py: environment whose "
            "observations are features (a vector)"
        )
    if isinstance(space, spaces.Discrete):
        return struct.pack("<Bqq", 0, int(space.n), int(space.start))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec, dtype=np.int64).ravel()
        start = np.broadcast_to(np.asarray(getattr(space, "start", 0), dtype=np.int64), space.nvec.shape).ravel()
        return struct.pack("<BI", 2, nvec.size) + nvec.astype("<i8").tobytes() + start.astype("<i8").tobytes()
    if isinstance(space, spaces.Box):
        shape = tuple(int(d) for d in space.shape)
        low = np.asarray(space.low, dtype=np.float64).ravel()
        high = np.asarray(space.high, dtype=np.float64).ravel()
        kind = 3 if observation and is_bytes(space) else 1
        head = struct.pack("<BI", kind, len(shape)) + struct.pack(f"<{len(shape)}I", *shape)
        return head + low.astype("<f8").tobytes() + high.astype("<f8").tobytes()
    kind = "observation" if observation else "action"
    raise TypeError(
        f"unsupported {kind} space {space} ({type(space).__name__}): the bridge supports Box, Discrete and MultiDiscrete"
    )


def flat(obs):
    import numpy as np

    return np.asarray(obs, dtype=np.float64).ravel()


def serve(channel, spec, n, autoreset):
    import numpy as np

    try:
        envs = [make_env(spec) for _ in range(n)]
    except ModuleNotFoundError as exc:
        kind = "missing_gymnasium" if exc.name in ("gymnasium", "numpy") else "make_failed"
        return channel.error(kind, exc)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to ppo
        unknown = ("NameNotFound", "NamespaceNotFound", "VersionNotFound", "DeprecatedEnv", "UnknownEnv")
        return channel.error("unknown_env" if type(exc).__name__ in unknown else "make_failed", exc)
    try:
        obs_space, act_space = envs[0].observation_space, envs[0].action_space
        spaces_bytes = encode_space(obs_space, observation=True) + encode_space(act_space)
    except Exception as exc:  # noqa: BLE001
        return channel.error("unsupported_space", exc)
    env_spec = getattr(envs[0], "spec", None)
    max_steps = getattr(env_spec, "max_episode_steps", None) or -1
    threshold = getattr(env_spec, "reward_threshold", None)
    threshold = float("nan") if threshold is None else float(threshold)
    channel.send(HELLO | 0x80, struct.pack("<Iqd", VERSION, int(max_steps), threshold) + spaces_bytes)

    discrete = act_space.__class__.__name__ == "Discrete"
    multi = act_space.__class__.__name__ == "MultiDiscrete"
    act_dim = 1 if discrete else int(np.prod(act_space.shape))
    obs_dim = int(np.prod(obs_space.shape))
    start = int(getattr(act_space, "start", 0)) if discrete else 0
    if multi:
        multi_start = np.broadcast_to(np.asarray(getattr(act_space, "start", 0), dtype=np.int64), act_space.nvec.shape)
        mask_len = int(np.sum(act_space.nvec))
    else:
        mask_len = int(act_space.n) if discrete else 0
    # Observations of bytes travel as u8, any other as f64 (exact for f32 and f64 ones).
    obs_type = np.uint8 if is_bytes(obs_space) else np.dtype("<f8")
    obs = np.zeros((n, obs_dim), dtype=obs_type)
    final = np.zeros((n, obs_dim), dtype=obs_type)
    rewards = np.zeros(n)
    terminated = np.zeros(n, dtype=np.uint8)
    truncated = np.zeros(n, dtype=np.uint8)
    while True:
        body = channel.read()
        if body is None:
            return
        op = body[0]
        try:
            if op == RESET:
                has_seed, seed = struct.unpack_from("<BQ", body, 1)
                for i, env in enumerate(envs):
                    o, _ = env.reset(seed=(seed + i) % 2**64 if has_seed else None)
                    obs[i] = flat(o)
                channel.send(RESET | 0x80, obs.tobytes())
            elif op == STEP:
                if discrete:
                    actions = np.frombuffer(body, dtype="<i8", count=n, offset=1) + start
                elif multi:
                    flat_actions = np.frombuffer(body, dtype="<i8", count=n * act_dim, offset=1)
                    actions = flat_actions.reshape((n,) + act_space.nvec.shape) + multi_start
                else:
                    # A copy: an environment may change its action in place.
                    actions = np.frombuffer(body, dtype="<f4", count=n * act_dim, offset=1).reshape((n,) + act_space.shape).copy()
                for i, env in enumerate(envs):
                    a = int(actions[i]) if discrete else actions[i]
                    o, r, term, trunc, _ = env.step(a)
                    rewards[i] = float(r)
                    terminated[i], truncated[i] = bool(term), bool(trunc)
                    obs[i] = flat(o)
                    if autoreset and (term or trunc):
                        final[i] = obs[i]
                        o, _ = env.reset()
                        obs[i] = flat(o)
                channel.send(
                    STEP | 0x80,
                    obs.tobytes() + rewards.astype("<f8").tobytes() + terminated.tobytes() + truncated.tobytes() + final.tobytes(),
                )
            elif op == GET_STATE:
                (i,) = struct.unpack_from("<I", body, 1)
                state = flat(envs[i].unwrapped.state)
                channel.send(GET_STATE | 0x80, struct.pack("<I", state.size) + state.astype("<f8").tobytes())
            elif op == RENDER:
                # One rgb_array frame of environment i: height, width, frames per second,
                # then the pixels, rows top to bottom, 3 bytes each.
                (i,) = struct.unpack_from("<I", body, 1)
                frame = envs[i].render()
                if frame is None:
                    raise ValueError("render() returned None: the environment was not made with render_mode='rgb_array'")
                frame = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8))
                if frame.ndim != 3 or frame.shape[2] != 3:
                    raise ValueError(f"render() returned an array of shape {frame.shape}, not height x width x 3")
                fps = float(envs[i].metadata.get("render_fps") or 30)
                channel.send(RENDER | 0x80, struct.pack("<IId", frame.shape[0], frame.shape[1], fps) + frame.tobytes())
            elif op == MASKS:
                # Each environment's action_masks() (SB3 MaskablePPO's method), found
                # through the wrappers: u8 1 and N x L bytes, or u8 0 when it has none.
                masks = []
                for env in envs:
                    try:
                        method = env.get_wrapper_attr("action_masks")
                    except AttributeError:
                        method = getattr(env.unwrapped, "action_masks", None)
                    if method is None or mask_len == 0:
                        masks = None
                        break
                    mask = np.asarray(method(), dtype=bool).ravel()
                    if mask.size != mask_len:
                        raise ValueError(f"action_masks() returned {mask.size} values, the action space needs {mask_len}")
                    masks.append(mask)
                if masks is None:
                    channel.send(MASKS | 0x80, b"\x00")
                else:
                    channel.send(MASKS | 0x80, b"\x01" + np.concatenate(masks).astype(np.uint8).tobytes())
            elif op == LIVES:
                # An Atari game's lives (ALE's lives()), or -1 for any other environment.
                (i,) = struct.unpack_from("<I", body, 1)
                ale = getattr(envs[i].unwrapped, "ale", None)
                channel.send(LIVES | 0x80, struct.pack("<q", int(ale.lives()) if ale is not None else -1))
            elif op == MEANINGS:
                # The actions' names (ALE's get_action_meanings()), or none.
                (i,) = struct.unpack_from("<I", body, 1)
                get = getattr(envs[i].unwrapped, "get_action_meanings", None)
                names = [str(m).encode() for m in get()] if get is not None else []
                channel.send(MEANINGS | 0x80, struct.pack("<I", len(names)) + b"".join(struct.pack("<I", len(m)) + m for m in names))
            elif op == CLOSE:
                for env in envs:
                    env.close()
                channel.send(CLOSE | 0x80)
                return
            else:
                raise ValueError(f"unknown request {op}")
        except Exception as exc:  # noqa: BLE001
            channel.error("env_raised", exc)


def watch_parent():
    """Ends this process when ppo is gone, so that no Python process outlives ppo.

    On Linux, when ppo started this process from its main thread
    (PPO_BRIDGE_END_WITH_PARENT=1), the kernel sends SIGTERM when ppo ends (prctl
    PR_SET_PDEATHSIG), which works even while an environment holds the GIL in C code;
    Python installs no SIGTERM handler, so the process ends at once. Elsewhere, and as a
    second line, a thread exits when the parent's pid changes to a reaper's (it runs only
    when the GIL is free)."""
    import os
    import signal
    import threading
    import time

    parent = os.getppid()
    if sys.platform.startswith("linux") and os.environ.get("PPO_BRIDGE_END_WITH_PARENT") == "1":
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    if sys.argv[1:] == ["--list"]:
        # `ppo envs --gym`: every id gymnasium has registered, one per line.
        import gymnasium

        print("\n".join(sorted(gymnasium.registry)))
        return
    channel = Channel()
    sys.stdout = sys.stderr
    watch_parent()
    body = channel.read()
    if body is None or body[0] != HELLO:
        return
    (version,) = struct.unpack_from("<I", body, 1)
    if version != VERSION:
        channel.error("protocol", RuntimeError(f"ppo speaks bridge protocol {version}, this script {VERSION}"))
        return
    n, autoreset, length = struct.unpack_from("<IBI", body, 5)
    spec = body[14 : 14 + length].decode("utf-8")
    try:
        import numpy  # noqa: F401
    except ModuleNotFoundError as exc:
        channel.error("missing_gymnasium", exc)
        return
    serve(channel, spec, n, autoreset)


if __name__ == "__main__":
    main()

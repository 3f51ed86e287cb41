#!/usr/bin/env python3
"""Write tests/fixtures/atari/warp_frame.json: OpenCV's grey conversion and area resize
of SB3's and CleanRL's WarpFrame on 210x160 RGB frames, for tests/frames.rs.

Run from the repository root (opencv-python-headless, numpy):

    python3 tests/reference/make_frame_fixture.py

The frames are computed by formulas that tests/frames.rs repeats, so only OpenCV's
outputs are stored: for frame k and pixel value index i (row-major, RGB last),
    "noise":  ((i * 2654435761 + k * 40503) mod 2^32) >> 13, mod 256   (every byte value)
    "smooth": (3*row + 5*col + 7*channel + 11*k) mod 256               (gradients)
    "blocks": 40 * ((row // 13 + col // 9 + channel + k) mod 7)       (Atari-like flat areas)
for k = 0, 1. Each case stores "warped" [84*84] (cv2.resize(grey, (84, 84), interpolation=cv2.INTER_AREA)), as in
SB3's WarpFrame.observation and CleanRL's (gymnasium's AtariPreprocessing uses the same
two calls), and the noise cases also "grey" [210*160] (cv2.cvtColor(frame,
cv2.COLOR_RGB2GRAY)).
"""
import json
import os

import cv2
import numpy as np

H, W = 210, 160
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "atari")


def frame(kind, k):
    row, col, ch = np.meshgrid(np.arange(H), np.arange(W), np.arange(3), indexing="ij")
    if kind == "noise":
        i = np.arange(H * W * 3, dtype=np.uint64).reshape(H, W, 3)
        v = ((i * np.uint64(2654435761) + np.uint64(k * 40503)) % np.uint64(2**32)) >> np.uint64(13)
        return (v % np.uint64(256)).astype(np.uint8)
    if kind == "smooth":
        return ((3 * row + 5 * col + 7 * ch + 11 * k) % 256).astype(np.uint8)
    if kind == "blocks":
        return (40 * ((row // 13 + col // 9 + ch + k) % 7)).astype(np.uint8)
    raise ValueError(kind)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for kind in ["noise", "smooth", "blocks"]:
        for k in range(2):
            rgb = frame(kind, k)
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            warped = cv2.resize(grey, (84, 84), interpolation=cv2.INTER_AREA)
            case = {"kind": kind, "k": k, "warped": warped.ravel().tolist()}
            if kind == "noise":
                case["grey"] = grey.ravel().tolist()
            cases.append(case)
    path = os.path.join(OUT, "warp_frame.json")
    with open(path, "w") as f:
        json.dump({"about": "OpenCV " + cv2.__version__ + "'s WarpFrame arithmetic; see make_frame_fixture.py",
                   "cases": cases}, f, separators=(",", ":"))
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()

"""Cross-checks the hand-written file formats in `src/io/` against the Python libraries.

Never run by CI: the Rust tests do not need Python. Run it by hand after changing
`src/io/`:

    python3 tests/reference/check_io.py --write-fixtures   # rewrite committed fixtures
    cargo test --test io_safetensors --test io_tensorboard  # writes target/tmp/io-check/
    python3 tests/reference/check_io.py                     # checks what Rust wrote

Needs: torch, safetensors, tensorboard.

What it checks:
1. `--write-fixtures` writes `tests/fixtures/io/python_written.safetensors` with
   `safetensors.torch.save_file`; `tests/io_safetensors.rs` reads it and checks every value.
2. `target/tmp/io-check/rust_written.safetensors` (written by `tests/io_safetensors.rs`)
   loads with `safetensors.torch.load_file` and holds the tensors the test wrote.
3. The event file in `target/tmp/io-check/tb/` (written by `tests/io_tensorboard.rs`)
   reads back in TensorBoard's `EventAccumulator` with the same tags, steps and values,
   and its text summary loads as the text plugin's, holding the text the test wrote.

A real run's event file is checked by `check_tensorboard.py`.
"""

import argparse
import math
import pathlib
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "io" / "python_written.safetensors"
CHECK_DIR = ROOT / "target" / "tmp" / "io-check"


def python_tensors():
    """The tensors in the committed fixture; tests/io_safetensors.rs repeats these values."""
    return {
        "layer.weight": (torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0),
        "layer.bias": torch.tensor([0.1, -2.5e-8, 3.4e38], dtype=torch.float32),
        "log_std": torch.tensor(-0.5, dtype=torch.float32),  # shape []
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }


def write_fixtures():
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    save_file(python_tensors(), str(FIXTURE), metadata={"written_by": "check_io.py", "step": "7"})
    print(f"wrote {FIXTURE.relative_to(ROOT)} ({FIXTURE.stat().st_size} bytes)")


def check_rust_safetensors():
    path = CHECK_DIR / "rust_written.safetensors"
    tensors = load_file(str(path))
    # tests/io_safetensors.rs::writes_a_file_python_can_check writes exactly these.
    expected = {
        "actor.0.weight": torch.tensor([[1.0, -2.0, 0.1], [4.5, 1e-30, -0.0]]),
        "actor.0.bias": torch.tensor([0.25, -0.75]),
        "log_std": torch.tensor(-0.5),
        "empty": torch.zeros((0, 4)),
    }
    assert list(tensors) and set(tensors) == set(expected), sorted(tensors)
    for name, want in expected.items():
        got = tensors[name]
        assert got.dtype == torch.float32, (name, got.dtype)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert torch.equal(got, want.to(torch.float32)), (name, got, want)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    assert metadata == {"written_by": "ppo", "note": "quote \" and é"}, metadata
    print(f"ok: safetensors.torch.load_file reads {path.relative_to(ROOT)}: "
          f"{len(tensors)} tensors, metadata {metadata}")


def check_rust_tensorboard():
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted((CHECK_DIR / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = EventAccumulator(str(files[0]))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    # tests/io_tensorboard.rs::writes_a_file_python_can_check writes these.
    expected = {
        "charts/episodic_return": [(s, 10.0 * s + 0.5) for s in range(0, 50, 5)],
        "losses/value_loss": [(s, 1.0 / (1 + s)) for s in range(0, 50, 5)],
        "losses/negative_step": [(-3, -1.25)],
    }
    assert sorted(tags) == sorted(expected), tags
    # tests/io_tensorboard.rs::PYTHON_CHECKED_TEXT, through add_text("hyperparameters", ..).
    text_tag = "hyperparameters/text_summary"
    want_text = "|param|value|\n|-|-|\n|env_id|CartPole-v1|\n|note|é ✓|"
    assert acc.Tags()["tensors"] == [text_tag], acc.Tags()["tensors"]
    assert list(acc.PluginTagToContent("text")) == [text_tag], acc.PluginTagToContent("text")
    (text_event,) = acc.Tensors(text_tag)
    got_text = text_event.tensor_proto.string_val[0].decode("utf-8")
    assert got_text == want_text, (got_text, want_text)
    assert text_event.step == 0 and text_event.tensor_proto.dtype == 7  # DT_STRING
    for tag, points in expected.items():
        events = acc.Scalars(tag)
        got = [(e.step, e.value) for e in events]
        assert len(got) == len(points), (tag, got)
        for (step, value), (want_step, want_value) in zip(got, points):
            assert step == want_step, (tag, step, want_step)
            # simple_value is a float32.
            assert value == float(torch.tensor(want_value, dtype=torch.float32)), (tag, value, want_value)
        assert all(math.isfinite(e.wall_time) and e.wall_time > 1.5e9 for e in events)
    # The compat record reader checks both masked CRC-32Cs of every record.
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    assert pywrap_tensorflow.crc32c(b"123456789") == 0xE3069283
    reader = pywrap_tensorflow.PyRecordReader_New(str(files[0]))
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        events.append(event_pb2.Event.FromString(reader.record()))
    assert events[0].file_version == "brain.Event:2", events[0]
    assert len(events) == 2 + sum(len(p) for p in expected.values()), len(events)
    print(f"ok: PyRecordReader_New checks the CRCs of all {len(events)} records; "
          f"first is file_version {events[0].file_version!r}")
    print(f"ok: EventAccumulator reads {files[0].relative_to(ROOT)}: "
          + ", ".join(f"{t} ({len(acc.Scalars(t))} points)" for t in sorted(tags))
          + f"; text {text_tag!r} under the text plugin: {got_text!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-fixtures", action="store_true", help="rewrite the committed fixture files")
    args = parser.parse_args()
    if args.write_fixtures:
        write_fixtures()
        return 0
    check_rust_safetensors()
    check_rust_tensorboard()
    return 0


if __name__ == "__main__":
    sys.exit(main())

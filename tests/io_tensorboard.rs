//! TensorBoard event files: CRC-32C against known vectors, the exact bytes of a record
//! and of a text summary, a round trip through our reader, and what a training run's
//! directory logs (CleanRL's per-episode points, SB3's means, the hyperparameter text).
//! `tests/reference/check_io.py` reads the file `writes_a_file_python_can_check` leaves
//! with TensorBoard's own `EventAccumulator`; `tests/reference/check_tensorboard.py`
//! reads a real run's.

use ppo::algo::{FinishedEpisode, Metrics, PpoConfig, Trainer};
use ppo::io::tensorboard::{
    self, crc32c, masked_crc32c, EventWriter, ScalarEvent, TensorboardError, TextEvent, TEXT_PLUGIN,
};
use ppo::run::{hyperparameter_table, RunDir, HPARAMS_TAG, TB_TAGS};
use std::path::PathBuf;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn crc32c_known_vectors() {
    // The check value of CRC-32C, and vectors from RFC 3720 (iSCSI) appendix B.4.
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let ascending: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c(&ascending), 0x46DD_794E);
    let descending: Vec<u8> = (0..32).rev().collect();
    assert_eq!(crc32c(&descending), 0x113F_DB5C);
    // masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8; value from TensorBoard's
    // `tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`.
    assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
}

#[test]
fn record_bytes_are_exact() {
    let dir = fresh_dir("io-tb-bytes");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_scalar_at("a", 1.5, 3, 2.0).unwrap();
    tb.flush().unwrap();
    let name = tb.path().file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let time_part = name.split('.').nth(3).unwrap();
    assert_eq!(time_part.len(), 10, "{name}");
    assert!(time_part.parse::<u64>().unwrap() > 1_500_000_000);

    let bytes = std::fs::read(tb.path()).unwrap();
    let records = tensorboard::read_records(&bytes).unwrap();
    assert_eq!(records.len(), 2);
    // First record: wall_time (field 1, fixed64) then file_version (field 3, string).
    let first = records[0];
    assert_eq!(first[0], 0x09);
    assert_eq!(&first[9..], b"\x1a\x0dbrain.Event:2");
    // Second: wall_time 2.0, step 3, summary { value { tag "a", simple_value 1.5 } }.
    let mut want = vec![0x09];
    want.extend_from_slice(&2.0f64.to_le_bytes());
    want.extend_from_slice(&[0x10, 3, 0x2a, 10, 0x0a, 8, 0x0a, 1, b'a', 0x15]);
    want.extend_from_slice(&1.5f32.to_le_bytes());
    assert_eq!(records[1], &want[..]);
    // Framing: u64 length, masked CRC of the length, data, masked CRC of the data.
    let second = &bytes[bytes.len() - (want.len() + 16)..];
    assert_eq!(&second[..8], &(want.len() as u64).to_le_bytes());
    assert_eq!(&second[8..12], &masked_crc32c(&second[..8]).to_le_bytes());
    assert_eq!(&second[12..12 + want.len()], &want[..]);
    assert_eq!(&second[12 + want.len()..], &masked_crc32c(&want).to_le_bytes());
}

#[test]
fn scalars_round_trip_and_two_writers_do_not_collide() {
    let dir = fresh_dir("io-tb-roundtrip");
    let mut a = EventWriter::create(&dir).unwrap();
    let mut b = EventWriter::create(&dir).unwrap();
    assert_ne!(a.path(), b.path());
    a.add_scalar("loss", 0.25, 0).unwrap();
    a.add_scalar("loss", f32::NAN, i64::MAX).unwrap();
    a.add_scalar("lr", -1e-30, -5).unwrap();
    b.add_scalar("other", 1.0, 1).unwrap();
    drop(b); // BufWriter flushes on drop.
    a.flush().unwrap();
    let got = tensorboard::read_scalars(a.path()).unwrap();
    let summary: Vec<(&str, i64, u32)> = got.iter().map(|e| (e.tag.as_str(), e.step, e.value.to_bits())).collect();
    assert_eq!(
        summary,
        [("loss", 0, 0.25f32.to_bits()), ("loss", i64::MAX, f32::NAN.to_bits()), ("lr", -5, (-1e-30f32).to_bits())]
    );
    assert!(got.iter().all(|e| e.wall_time > 1.5e9));
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 2);
}

#[test]
fn corrupt_files_are_errors() {
    let dir = fresh_dir("io-tb-corrupt");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_scalar_at("x", 1.0, 1, 1.0).unwrap();
    tb.flush().unwrap();
    let bytes = std::fs::read(tb.path()).unwrap();
    let boundary = tensorboard::read_records(&bytes).unwrap()[0].len() + 16;
    for end in 0..bytes.len() {
        let truncated = &bytes[..end];
        if end == 0 || end == boundary {
            continue; // whole records
        }
        assert!(tensorboard::read_records(truncated).is_err(), "prefix of {end} bytes");
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x10;
        let e = tensorboard::read_records(&flipped).unwrap_err();
        assert!(matches!(e, TensorboardError::Corrupt { .. }));
        assert!(e.to_string().starts_with("corrupt event file: record at byte"), "{e}");
    }
    let e = tensorboard::read_scalars(dir.join("missing")).unwrap_err();
    assert!(matches!(e, TensorboardError::Io(_)));
}

/// Leaves `target/tmp/io-check/tb/events.out.tfevents.*` for `check_io.py`.
#[test]
fn writes_a_file_python_can_check() {
    let dir = fresh_dir("io-check/tb");
    let mut tb = EventWriter::create(&dir).unwrap();
    let mut want = Vec::new();
    for s in (0..50).step_by(5) {
        tb.add_scalar("charts/episodic_return", 10.0 * s as f32 + 0.5, s).unwrap();
        tb.add_scalar("losses/value_loss", 1.0 / (1 + s) as f32, s).unwrap();
        want.push(("charts/episodic_return", s, 10.0 * s as f32 + 0.5));
        want.push(("losses/value_loss", s, 1.0 / (1 + s) as f32));
    }
    tb.add_scalar("losses/negative_step", -1.25, -3).unwrap();
    want.push(("losses/negative_step", -3, -1.25));
    tb.add_text("hyperparameters", PYTHON_CHECKED_TEXT, 0).unwrap();
    tb.flush().unwrap();
    let got: Vec<ScalarEvent> = tensorboard::read_scalars(tb.path()).unwrap();
    let got: Vec<_> = got.iter().map(|e| (e.tag.as_str(), e.step, e.value)).collect();
    assert_eq!(got, want);
    let texts = tensorboard::read_texts(tb.path()).unwrap();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].text, PYTHON_CHECKED_TEXT);
}

/// The text `writes_a_file_python_can_check` writes; `check_io.py` repeats it.
const PYTHON_CHECKED_TEXT: &str = "|param|value|\n|-|-|\n|env_id|CartPole-v1|\n|note|é ✓|";

#[test]
fn text_summary_bytes_are_pytorchs() {
    // `torch.utils.tensorboard.summary.text("hyperparameters", "|param|value|\n|-|-|\n|a|1|")
    //  .SerializeToString()` (PyTorch 2.15, protobuf 7.36): a `Summary` with one `Value`
    // { tag 1, tensor 8 { dtype DT_STRING, shape [1], string_val }, metadata 9
    // { plugin_data { plugin_name "text" } } }.
    let torch: [u8; 79] = [
        10, 77, 10, 28, 104, 121, 112, 101, 114, 112, 97, 114, 97, 109, 101, 116, 101, 114, 115, 47, 116, 101, 120,
        116, 95, 115, 117, 109, 109, 97, 114, 121, 66, 35, 8, 7, 18, 4, 18, 2, 8, 1, 66, 25, 124, 112, 97, 114, 97,
        109, 124, 118, 97, 108, 117, 101, 124, 10, 124, 45, 124, 45, 124, 10, 124, 97, 124, 49, 124, 74, 8, 10, 6, 10,
        4, 116, 101, 120, 116,
    ];
    let dir = fresh_dir("io-tb-text");
    let mut tb = EventWriter::create(&dir).unwrap();
    tb.add_text_at("hyperparameters", "|param|value|\n|-|-|\n|a|1|", 0, 2.0).unwrap();
    tb.add_text_at("notes", "step seven", 7, 3.0).unwrap();
    tb.flush().unwrap();
    let bytes = std::fs::read(tb.path()).unwrap();
    let records = tensorboard::read_records(&bytes).unwrap();
    assert_eq!(records.len(), 3);
    // wall_time 2.0 (field 1), no step (0 is the default), summary (field 5).
    let mut want = vec![0x09];
    want.extend_from_slice(&2.0f64.to_le_bytes());
    want.extend_from_slice(&[0x2a, torch.len() as u8]);
    want.extend_from_slice(&torch);
    assert_eq!(records[1], &want[..]);

    let texts = tensorboard::read_texts(tb.path()).unwrap();
    let text = |tag: &str, step, wall_time, text: &str| TextEvent {
        wall_time,
        step,
        tag: tag.into(),
        plugin_name: TEXT_PLUGIN.into(),
        text: text.into(),
    };
    assert_eq!(
        texts,
        [
            text("hyperparameters/text_summary", 0, 2.0, "|param|value|\n|-|-|\n|a|1|"),
            text("notes/text_summary", 7, 3.0, "step seven")
        ]
    );
    assert!(tensorboard::read_scalars(tb.path()).unwrap().is_empty(), "a text is not a scalar");
}

/// The points of `tag`, as `(step, value)` in file order.
fn points(scalars: &[ScalarEvent], tag: &str) -> Vec<(i64, f32)> {
    scalars.iter().filter(|s| s.tag == tag).map(|s| (s.step, s.value)).collect()
}

/// Trains `config` into a fresh run directory, logging every update; returns the
/// trainer, every update's metrics and the event file's scalars and texts.
fn logged_run(name: &str, config: PpoConfig) -> (Trainer, Vec<Metrics>, Vec<ScalarEvent>, Vec<TextEvent>) {
    let dir = fresh_dir(name);
    let mut trainer = Trainer::new(config).unwrap();
    let mut run = RunDir::create(&dir, &trainer.config).unwrap();
    let mut all = Vec::new();
    while !trainer.is_done() {
        let m = trainer.iterate().unwrap();
        run.log(&m).unwrap();
        all.push(m);
    }
    let scalars = tensorboard::read_scalars(run.event_file()).unwrap();
    let texts = tensorboard::read_texts(run.event_file()).unwrap();
    (trainer, all, scalars, texts)
}

#[test]
fn a_run_logs_each_episode_at_its_step_and_the_mean_of_the_last_100() {
    // CartPole's random-ish early policy ends ~20 episodes per update of 4×128 steps, so
    // 10 updates finish well over 100 and the last-100 window slides.
    let config = PpoConfig {
        total_timesteps: 5120,
        seed: 5,
        eval_interval: 2048,
        eval_episodes: 2,
        anneal_clip: true,
        ..PpoConfig::default()
    };
    let (trainer, metrics, scalars, texts) = logged_run("io-tb-run", config.clone());
    let n = config.n_envs as i64;

    // Per episode: exactly the episodes the trainer reported, at their steps.
    let reported: Vec<FinishedEpisode> = metrics.iter().flat_map(|m| m.finished_episodes.clone()).collect();
    assert_eq!(reported.len() as u64, trainer.episodes, "every episode is reported once");
    assert!(reported.len() > 150, "only {} episodes: the last-100 window never slides", reported.len());
    let returns = points(&scalars, "charts/episodic_return");
    let lengths = points(&scalars, "charts/episodic_length");
    let want_returns: Vec<(i64, f32)> =
        reported.iter().map(|e| (e.global_step as i64, e.episodic_return as f32)).collect();
    let want_lengths: Vec<(i64, f32)> =
        reported.iter().map(|e| (e.global_step as i64, e.episodic_length as f32)).collect();
    assert_eq!(returns, want_returns);
    assert_eq!(lengths, want_lengths);
    // CartPole's reward is 1 per step: an episode's return is its length.
    assert!(returns.iter().zip(&lengths).all(|(r, l)| r == l), "return ≠ length in CartPole");
    // Steps: counted through the vector step (multiples of N), never decreasing, and
    // inside the rollout of the update that reports them.
    assert!(returns.windows(2).all(|w| w[0].0 <= w[1].0), "per-episode steps decrease");
    let mut before = 0;
    for m in &metrics {
        for e in &m.finished_episodes {
            let s = e.global_step as i64;
            assert!(
                s > before && s <= m.global_step as i64 && s % n == 0,
                "episode at {s} in update to {}",
                m.global_step
            );
        }
        before = m.global_step as i64;
    }

    // rollout/ep_rew_mean and ep_len_mean: at each update, the mean of the last 100
    // per-episode points read back from the file up to that update's step.
    let rew_mean = points(&scalars, "rollout/ep_rew_mean");
    let len_mean = points(&scalars, "rollout/ep_len_mean");
    assert_eq!(rew_mean.len(), metrics.len(), "an episode ends in the first update already");
    for ((step, got_r), (step_l, got_l)) in rew_mean.iter().zip(&len_mean) {
        assert_eq!(step, step_l);
        let upto: Vec<&(i64, f32)> = returns.iter().filter(|p| p.0 <= *step).collect();
        let last = &upto[upto.len().saturating_sub(100)..];
        let mean = last.iter().map(|p| p.1 as f64).sum::<f64>() / last.len() as f64;
        assert_eq!(*got_r, mean as f32, "ep_rew_mean at {step}: mean of {} episodes", last.len());
        let upto: Vec<&(i64, f32)> = lengths.iter().filter(|p| p.0 <= *step).collect();
        let last = &upto[upto.len().saturating_sub(100)..];
        let mean = last.iter().map(|p| p.1 as f64).sum::<f64>() / last.len() as f64;
        assert_eq!(*got_l, mean as f32, "ep_len_mean at {step}");
    }

    // Per update: one point each at the update's step; clip ε annealed linearly.
    let steps: Vec<i64> = metrics.iter().map(|m| m.global_step as i64).collect();
    for tag in ["charts/learning_rate", "losses/value_loss", "charts/SPS", "train/grad_norm", "train/clip_range"] {
        let p = points(&scalars, tag);
        assert_eq!(p.iter().map(|p| p.0).collect::<Vec<_>>(), steps, "{tag}");
    }
    let k = metrics.len() as f32;
    let clip: Vec<f32> = points(&scalars, "train/clip_range").iter().map(|p| p.1).collect();
    let want_clip: Vec<f32> = (0..metrics.len()).map(|i| 0.2 * (1.0 - i as f32 / k)).collect();
    for (got, want) in clip.iter().zip(&want_clip) {
        assert!((got - want).abs() < 1e-6, "clip range {clip:?}, want {want_clip:?}");
    }
    let grad: Vec<f32> = points(&scalars, "train/grad_norm").iter().map(|p| p.1).collect();
    assert_eq!(grad, metrics.iter().map(|m| m.grad_norm).collect::<Vec<_>>());
    assert!(grad.iter().all(|g| *g > 0.0));
    assert!(points(&scalars, "train/std").is_empty(), "a Categorical policy has no std");
    // Evaluation at 2048 and 4096 steps and at the end (5120).
    let eval_len = points(&scalars, "eval/mean_ep_length");
    let evals: Vec<(i64, f32)> =
        metrics.iter().filter_map(|m| m.eval.as_ref().map(|e| (m.global_step as i64, e.mean_length as f32))).collect();
    assert_eq!(eval_len, evals);
    assert_eq!(eval_len.iter().map(|p| p.0).collect::<Vec<_>>(), [2048, 4096, 5120]);
    assert_eq!(points(&scalars, "eval/mean_return").len(), 3);
    // Nothing outside TB_TAGS.
    assert!(scalars.iter().all(|s| TB_TAGS.contains(&s.tag.as_str())), "a tag not in TB_TAGS");

    // The hyperparameters: one text at step 0, the table CleanRL writes.
    assert_eq!(texts.len(), 1, "{texts:?}");
    let t = &texts[0];
    assert_eq!((t.tag.as_str(), t.step, t.plugin_name.as_str()), (HPARAMS_TAG, 0, TEXT_PLUGIN));
    assert_eq!(t.text, hyperparameter_table(&config));
    let rows: Vec<&str> = t.text.split('\n').collect();
    assert_eq!(rows[..2], ["|param|value|", "|-|-|"]);
    assert!(rows.contains(&"|seed|5|") && rows.contains(&"|env_id|CartPole-v1|"), "{rows:?}");
    assert!(rows[2..].iter().all(|r| r.starts_with('|') && r.ends_with('|') && r.matches('|').count() == 3));
}

#[test]
fn a_gaussian_run_logs_its_std() {
    for (name, use_sde) in [("io-tb-std", false), ("io-tb-std-sde", true)] {
        let config = PpoConfig {
            env_id: "Pendulum-v1".into(),
            n_envs: 2,
            n_steps: 128,
            total_timesteps: 768,
            log_std_init: -0.5,
            use_sde,
            ..PpoConfig::default()
        };
        let (trainer, metrics, scalars, _) = logged_run(name, config);
        let std = points(&scalars, "train/std");
        assert_eq!(std.len(), metrics.len(), "{name}");
        // After the last update: the mean of exp(log_std) over the parameter, computed here.
        let log_std = trainer.agent.log_std.as_ref().unwrap().value.data();
        let want = log_std.iter().map(|l| l.exp() as f64).sum::<f64>() / log_std.len() as f64;
        let last = std.last().unwrap().1;
        assert!((last as f64 - want).abs() < 1e-5 * want, "{name}: train/std {last}, mean exp(log_std) {want}");
        // It starts near exp(-0.5) and moves as the log-std learns.
        assert!((std[0].1 - (-0.5f32).exp()).abs() < 0.05, "{name}: {std:?}");
        assert!(std.windows(2).any(|w| w[0].1 != w[1].1), "{name}: train/std never changed: {std:?}");
        // Pendulum's episodes are 200 steps: on 2 envs, both first episodes end in the
        // 200th vector step, which CleanRL counts as global step 400.
        let lengths = points(&scalars, "charts/episodic_length");
        assert_eq!(lengths, [(400, 200.0), (400, 200.0)], "{name}");
    }
}

//! The `ppo` binary end to end: tiny training runs into `target/tmp/cli/`, the files they
//! leave, `envs`, `plot`, `help`, and every kind of bad input (exit code 2, one error
//! line, nothing written).

use ppo::algo::{checkpoint, PpoConfig};
use ppo::io::csv::read_csv;
use ppo::io::json::Json;
use ppo::io::tensorboard::{read_scalars, read_texts};
use ppo::run::{hyperparameter_table, HPARAMS_TAG, METRIC_COLUMNS, TB_TAGS};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &[&str] = &["--total-timesteps", "2048", "--n-steps", "128", "--quiet"];

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

fn ppo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ppo")).args(args).output().expect("the ppo binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--run-dir", dir.to_str().unwrap()];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    ppo(&args)
}

fn assert_trained(out: &Output) {
    assert!(out.status.success(), "ppo train failed: {}", text(&out.stderr));
}

#[test]
fn train_writes_the_run_directory() {
    let dir = tmp("train");
    let out = train(&dir, &["--eval-interval", "1024", "--eval-episodes", "2", "--seed", "3"]);
    assert_trained(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("done: 2048 steps in"), "{stdout}");
    assert!(stdout.contains("best evaluation return:"), "{stdout}");
    assert!(stdout.contains(&format!("run directory: {}", dir.display())), "{stdout}");
    assert!(!stdout.contains("step 2048/2048"), "--quiet prints no progress: {stdout}");

    // config.json is the resolved config and reads back to the same PpoConfig.
    let json = Json::parse(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let mut expected = PpoConfig::default();
    for (k, v) in [("total_timesteps", "2048"), ("n_steps", "128"), ("eval_interval", "1024"), ("eval_episodes", "2")] {
        expected.set(k, v).unwrap();
    }
    expected.seed = 3;
    assert_eq!(PpoConfig::from_json(&json).unwrap(), expected);

    // metrics.csv: the exact header, one row per update (2048 / (4·128) = 4), evaluations
    // at 1024 and 2048 steps only.
    let (header, rows) = read_csv(dir.join("metrics.csv")).unwrap();
    assert_eq!(header, METRIC_COLUMNS);
    assert_eq!(rows.len(), 4);
    let steps: Vec<f64> = rows.iter().map(|r| r[0].unwrap()).collect();
    assert_eq!(steps, [512.0, 1024.0, 1536.0, 2048.0]);
    let evals: Vec<bool> = rows.iter().map(|r| r[12].is_some() && r[13].is_some()).collect();
    assert_eq!(evals, [false, true, false, true]);
    assert!(rows.iter().all(|r| r[1..12].iter().all(|c| c.is_some())), "{rows:?}");
    assert_eq!(rows[0][3], Some(0.00025), "learning rate written in its f32 decimal form");

    // The TensorBoard file reads back with every tag: a point per episode, per update,
    // per evaluation; no std for CartPole's Categorical policy; the hyperparameter text.
    let event_file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .expect("an event file");
    let scalars = read_scalars(&event_file).unwrap();
    let episodes = scalars.iter().filter(|s| s.tag == "charts/episodic_return").count();
    assert!(episodes > 4 * 4, "{episodes} episodes in 2048 steps of an untrained CartPole policy");
    for tag in TB_TAGS {
        let n = scalars.iter().filter(|s| s.tag == tag).count();
        let want = match tag {
            "charts/episodic_return" | "charts/episodic_length" => episodes,
            "eval/mean_return" | "eval/mean_ep_length" => 2,
            "train/std" => 0,
            _ => 4,
        };
        assert_eq!(n, want, "{tag}");
    }
    // rollout/ep_rew_mean is metrics.csv's episodic_return.
    let rew: Vec<f32> = scalars.iter().filter(|s| s.tag == "rollout/ep_rew_mean").map(|s| s.value).collect();
    let csv_rew: Vec<f32> = rows.iter().map(|r| r[1].unwrap() as f32).collect();
    assert_eq!(rew, csv_rew);
    let texts = read_texts(&event_file).unwrap();
    assert_eq!(texts.len(), 1);
    assert_eq!((texts[0].tag.as_str(), texts[0].text.as_str()), (HPARAMS_TAG, &hyperparameter_table(&expected)[..]));
    let vl: Vec<(i64, f32)> =
        scalars.iter().filter(|s| s.tag == "losses/value_loss").map(|s| (s.step, s.value)).collect();
    let csv_vl: Vec<(i64, f32)> = rows.iter().map(|r| (r[0].unwrap() as i64, r[4].unwrap() as f32)).collect();
    assert_eq!(vl, csv_vl);

    let svg = std::fs::read_to_string(dir.join("learning_curve.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("CartPole-v1"), "{svg}");
    for f in ["final.safetensors", "best.safetensors"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let eval = ppo(&["eval", "--checkpoint", dir.join("final.safetensors").to_str().unwrap(), "--episodes", "2"]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert!(text(&eval.stdout).contains("±"), "{}", text(&eval.stdout));

    // `ppo render`: one episode as an animated SVG; bad input exits 2 and writes nothing.
    let final_ckpt = dir.join("final.safetensors");
    let svg_path = tmp("episode.svg");
    let render = ppo(&["render", "--checkpoint", final_ckpt.to_str().unwrap(), "--out", svg_path.to_str().unwrap()]);
    assert!(render.status.success(), "{}", text(&render.stderr));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<animate"), "{}", &svg[..svg.len().min(300)]);
    let other = tmp("other.svg");
    let cases: [(&[&str], &str); 3] = [
        (&["render", "--checkpoint", final_ckpt.to_str().unwrap()], "needs --out"),
        (&["render", "--checkpoint", "no/such.safetensors", "--out", other.to_str().unwrap()], "no such file"),
        (
            &[
                "render",
                "--checkpoint",
                final_ckpt.to_str().unwrap(),
                "--env",
                "Pendulum-v1",
                "--out",
                other.to_str().unwrap(),
            ],
            "trained on CartPole-v1",
        ),
    ];
    for (args, want) in cases {
        let out = ppo(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
        assert!(!other.exists(), "{args:?} wrote a file");
    }

    // A second run into the same (now non-empty) directory is refused.
    let again = train(&dir, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists and is not empty"), "{}", text(&again.stderr));

    // `ppo plot`: one run by default into its directory, several with --out.
    std::fs::remove_file(dir.join("learning_curve.svg")).unwrap();
    let plot = ppo(&["plot", dir.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", text(&plot.stderr));
    let svg = std::fs::read_to_string(dir.join("learning_curve.svg")).unwrap();
    assert!(svg.contains("CartPole-v1 eval (deterministic, mean of 2 episodes; seed 3)"), "{svg}");
    let out = tmp("plot2.svg");
    let plot = ppo(&["plot", dir.to_str().unwrap(), dir.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", text(&plot.stderr));
    let svg = std::fs::read_to_string(&out).unwrap();
    // The same run twice: one environment, one panel, named as runs (the seeds repeat).
    assert!(svg.contains("CartPole-v1 train (mean of last 100 episodes; 2 runs: mean, min–max)"), "{svg}");
    assert!(svg.contains("<polygon"), "the min–max band is drawn");
    assert_eq!(svg.matches("class=\"plot-area\"").count(), 1);
}

#[test]
fn default_run_directory_and_plain_progress() {
    let cwd = tmp("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(["--seed", "7", "--total-timesteps", "1024", "--num-steps", "128"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert_trained(&out);
    let stdout = text(&out.stdout);
    // Not a terminal: plain lines, no carriage returns; the last update always printed.
    assert!(!stdout.contains('\r'), "{stdout:?}");
    assert!(stdout.contains("step 1024/1024 (100.0%)"), "{stdout}");
    let runs: Vec<String> =
        std::fs::read_dir(cwd.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].starts_with("CartPole-v1__7__"), "{runs:?}");
}

#[test]
fn envs_and_help() {
    let out = ppo(&["envs"]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    for id in ppo::env::env_ids() {
        assert!(table.contains(id), "{id} in {table}");
    }
    assert!(table.contains("Discrete(2)") && table.contains("Box(-2.0, 2.0, (1,))") && table.contains("475"));
    // Each command has its own help; `help keys` lists every key with its meaning.
    let help = |args: &[&str]| {
        let out = ppo(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let overview = help(&["help"]);
    assert_eq!(overview, help(&["--help"]));
    assert!(overview.contains("ppo help [train|eval|render|plot|report|envs|keys]"), "{overview}");
    let train = help(&["train", "-h"]);
    assert_eq!(train, help(&["help", "train"]));
    assert!(train.contains("--print-config") && train.contains("--seeds") && train.contains("--no-KEY"), "{train}");
    let mut texts = vec![overview, train];
    for command in ["eval", "render", "plot", "report", "envs"] {
        let t = help(&[command, "--help"]);
        assert!(t.starts_with(&format!("ppo {command}:")), "{t}");
        assert!(!texts.contains(&t), "{command} --help repeats another command's help");
        texts.push(t);
    }
    let keys = help(&["help", "keys"]);
    for doc in ppo::algo::config::KEY_DOCS {
        let line =
            keys.lines().find(|l| l.starts_with(&format!("{} ", doc.name))).unwrap_or_else(|| panic!("{}", doc.name));
        assert!(line.contains(doc.meaning), "{line}");
    }
    let lr = keys.lines().find(|l| l.starts_with("learning_rate ")).unwrap();
    assert!(lr.contains("0.00025"), "{lr}");
    assert!(keys.contains("eval_interval") && keys.contains("total env steps"), "{keys}");
    let version = help(&["--version"]);
    assert_eq!(version.trim(), format!("ppo {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn print_config_resolves_every_source_and_batch_size_last() {
    let file = tmp("print_config.json");
    std::fs::write(&file, r#"{"batch_size": 64, "gamma": 0.9}"#).unwrap();
    let print = |extra: &[&str]| {
        let mut args = vec!["train", "--print-config"];
        args.extend_from_slice(extra);
        let out = ppo(&args);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        PpoConfig::from_json(&Json::parse(&text(&out.stdout)).unwrap()).unwrap()
    };
    // Flags in either order, and the file's batch_size with the flags' n_envs and n_steps.
    let a = print(&["--batch-size", "64", "--n-envs", "8", "--n-steps", "32"]);
    let b = print(&["--n-envs", "8", "--n-steps", "32", "--batch-size", "64"]);
    let c = print(&["--config", file.to_str().unwrap(), "--n-envs", "8", "--n-steps", "32", "--no-anneal-lr"]);
    for cfg in [&a, &b, &c] {
        assert_eq!((cfg.n_envs, cfg.n_steps, cfg.n_minibatches), (8, 32, 4));
    }
    assert!(a.anneal_lr && !c.anneal_lr && c.gamma == 0.9);
    // The preset of the environment is part of it, and nothing is written.
    let p = print(&["--env", "Pendulum-v1", "--total-timesteps", "2e4"]);
    assert_eq!((p.env_id.as_str(), p.total_timesteps, p.use_sde), ("Pendulum-v1", 20_000, true));
    let out = ppo(&["train", "--print-config", "--batch-size", "100"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("batch_size 100 (the minibatch size) does not divide n_envs·n_steps = 4·128 = 512")
    );
}

#[test]
fn eval_and_render_take_a_run_directory_and_outputs_get_their_folders() {
    let dir = tmp("eval_dir");
    assert_trained(&train(&dir, &[]));
    let out = ppo(&["eval", "--checkpoint", dir.to_str().unwrap(), "--episodes", "1e0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&dir.join("best.safetensors").display().to_string()), "{}", text(&out.stdout));
    // Without best.safetensors the final one is taken.
    std::fs::remove_file(dir.join("best.safetensors")).unwrap();
    let out = ppo(&["eval", "--checkpoint", dir.to_str().unwrap(), "--episodes", "1"]);
    assert!(text(&out.stdout).contains("final.safetensors"), "{}", text(&out.stdout));
    let svg = tmp("render_out").join("a/b/episode.svg");
    let out = ppo(&["render", "--checkpoint", dir.to_str().unwrap(), "--out", svg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let out = ppo(&["render", "--checkpoint", dir.to_str().unwrap(), "--out", "x.gif"]);
    assert_eq!(out.status.code(), Some(2));
    let empty = tmp("eval_empty_dir");
    std::fs::create_dir_all(&empty).unwrap();
    let out = ppo(&["eval", "--checkpoint", empty.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("without best.safetensors or final.safetensors"), "{}", text(&out.stderr));
}

/// Runs `ppo args` with its standard output closed by the reader before it writes.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ppo"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_training_run_is_saved() {
    for args in [&["envs"][..], &["help", "keys"]] {
        let out = with_closed_stdout(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
    // `ppo train | head -1`: the run stops after its first update, saved and resumable.
    let dir = tmp("closed_pipe");
    let out = with_closed_stdout(&["train", "--run-dir", dir.to_str().unwrap(), "--total-timesteps", "4096"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(
        stderr.contains("stopped by a closed standard output after update 1") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(dir.join("state.safetensors").is_file() && dir.join("final.safetensors").is_file());
    let out = ppo(&["train", "--resume", dir.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn several_seeds_in_turn_or_as_processes_give_the_single_runs() {
    let single = tmp("seeds_single");
    assert_trained(&train(&single, &["--seed", "2"]));
    for jobs in ["1", "2"] {
        let parent = tmp(&format!("seeds_jobs{jobs}"));
        let mut args = vec!["train", "--run-dir", parent.to_str().unwrap(), "--seeds", "1,2", "--jobs", jobs];
        args.extend_from_slice(TINY);
        let out = ppo(&args);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "--jobs {jobs}: {}{stdout}", text(&out.stderr));
        assert!(stdout.contains("over 2 seeds:") && stdout.contains(" ± "), "{stdout}");
        assert!(parent.join("learning_curve.svg").is_file());
        // Seed 2's run is the run of --seed 2 alone, SPS aside.
        assert_eq!(rows_sans_sps(&parent.join("seed_2")), rows_sans_sps(&single), "--jobs {jobs}");
        assert!(parent.join("seed_1/final.safetensors").is_file());
    }
}

/// metrics.csv's rows without the SPS column, as text.
fn rows_sans_sps(dir: &Path) -> Vec<String> {
    let (header, rows) = read_csv(dir.join("metrics.csv")).unwrap();
    let sps = header.iter().position(|h| h == "SPS").unwrap();
    rows.into_iter()
        .map(|mut r| {
            r.remove(sps);
            format!("{r:?}")
        })
        .collect()
}

#[test]
fn a_killed_sweep_resumes_as_one_and_equals_an_uninterrupted_one() {
    let whole = tmp("sweep_whole");
    let mut args = vec!["train", "--run-dir", whole.to_str().unwrap(), "--seeds", "1,2,3", "--checkpoint-updates", "1"];
    args.extend_from_slice(TINY);
    assert_trained(&ppo(&args));
    for jobs in ["1", "2"] {
        let cut = tmp(&format!("sweep_cut{jobs}"));
        let mut args =
            vec!["train", "--run-dir", cut.to_str().unwrap(), "--seeds", "1,2,3", "--checkpoint-updates", "1"];
        args.extend_from_slice(TINY);
        // Killed (as kill -9 would) after seed 1's second update: seeds 2 and 3 never start.
        let out = Command::new(env!("CARGO_BIN_EXE_ppo"))
            .args(&args)
            .env("PPO_TEST_ABORT_AFTER_UPDATE", "2")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(cut.join("seed_1/state.safetensors").is_file() && !cut.join("seed_2").exists());
        // The sweep's directory resumes as one: seed 1 continues, seeds 2 and 3 start.
        let out = ppo(&["train", "--resume", cut.to_str().unwrap(), "--jobs", jobs, "--quiet"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "--jobs {jobs}: {}{stdout}", text(&out.stderr));
        assert!(stdout.contains("over 3 seeds:"), "{stdout}");
        for seed in ["seed_1", "seed_2", "seed_3"] {
            assert_eq!(rows_sans_sps(&cut.join(seed)), rows_sans_sps(&whole.join(seed)), "--jobs {jobs}: {seed}");
        }
        // Resumed again, every seed is finished: nothing runs, nothing changes.
        let before = std::fs::read(cut.join("seed_2/metrics.csv")).unwrap();
        let out = ppo(&["train", "--resume", cut.to_str().unwrap(), "--quiet"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success() && stdout.matches("finished before").count() == 3, "{stdout}");
        assert_eq!(std::fs::read(cut.join("seed_2/metrics.csv")).unwrap(), before);
    }
    // plot, eval and report take the sweep's directory for its runs.
    let out = ppo(&["plot", whole.to_str().unwrap()]);
    assert!(out.status.success() && text(&out.stdout).contains("(3 runs)"), "{}", text(&out.stderr));
    let out = ppo(&["eval", "--checkpoint", whole.to_str().unwrap(), "--episodes", "2"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("seed 3: return") && stdout.contains("mean over 3 runs:"), "{stdout}");
    let out = ppo(&["report", whole.to_str().unwrap(), "--episodes", "1", "--resamples", "1000"]);
    assert!(
        out.status.success() && text(&out.stdout).contains("CartPole-v1  ppo             3"),
        "{}",
        text(&out.stdout)
    );
    // Runs of another config are their own line, labelled by what differs, never averaged
    // in; each line keeps its runs' own length.
    let other = tmp("sweep_other_lr");
    assert_trained(&train(&other, &["--learning-rate", "0.001", "--total-timesteps", "4096"]));
    let chart = other.join("both.svg");
    let out = ppo(&["plot", whole.to_str().unwrap(), other.to_str().unwrap(), "--out", chart.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(&chart).unwrap();
    let a = "CartPole-v1 [total_timesteps 2048, learning_rate 0.00025, checkpoint_updates 1] train";
    let b = "CartPole-v1 [total_timesteps 4096, learning_rate 0.001, checkpoint_updates 0] train";
    assert!(svg.contains(a) && svg.contains(b), "{svg}");
    assert!(svg.contains("3 seeds: mean, min–max") && svg.contains("seed 1)"), "{svg}");
    // --jobs with one run's directory says what --jobs is for.
    let out = ppo(&["train", "--resume", whole.join("seed_1").to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sweep.json"), "{}", text(&out.stderr));
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let bad_json = tmp("bad.json");
    std::fs::write(&bad_json, "{\"lr\": 3e-4,").unwrap();
    let bad_key = tmp("bad_key.json");
    std::fs::write(&bad_key, "{\"gama\": 0.9}").unwrap();
    let yaml = tmp("zoo.yml");
    std::fs::write(&yaml, "n_envs: 8\npolicy: 'MlpPolicy'\n").unwrap();
    let yaml = yaml.to_str().unwrap();
    let dup_key = tmp("dup_key.json");
    std::fs::write(&dup_key, "{\"gamma\": 0.9, \"gamma\": 0.5}").unwrap();
    let dup_key = dup_key.to_str().unwrap();
    let garbage = tmp("garbage.safetensors");
    std::fs::write(&garbage, "not a checkpoint").unwrap();
    let (bad_json, bad_key, garbage) =
        (bad_json.to_str().unwrap(), bad_key.to_str().unwrap(), garbage.to_str().unwrap());
    let cases: &[(&[&str], &str)] = &[
        (&["trian"], "unknown command 'trian' (did you mean 'train'?)"),
        (&["train", "--learning-rat", "1e-3"], "did you mean '--learning-rate'?"),
        (&["train", "--seed"], "--seed is missing its value"),
        (&["train", "--gamma", "2"], "bad value '2' for 'gamma': expected a number in [0, 1]"),
        (&["train", "--n-envs=zero"], "expected a whole number in [1, 2^20]"),
        (&["train", "--n-minibatches", "3"], "not divisible by n_minibatches = 3"),
        (&["train", "--env", "Pendulm-v1"], "unknown environment 'Pendulm-v1' (did you mean 'Pendulum-v1'?)"),
        (&["train", "--config", "target/tmp/cli/missing.json"], "cannot read config file"),
        (&["train", "--config", bad_json], "is not valid JSON"),
        (&["train", "--config", yaml], "RL Zoo's YAML entry `n_envs: 8` is --n-envs 8"),
        (&["train", "--env", "LunarLander-v3"], "(for gymnasium's, --env gym:LunarLander-v3)"),
        (&["enjoy", "--env", "CartPole-v1"], "`ppo eval --checkpoint RUN_DIR`"),
        (&["train", "--config", bad_key], "unknown config key 'gama'"),
        (&["train", "--quiet=1"], "takes no value"),
        (&["train", "--track"], "unknown option '--track'"),
        (&["train", "--seeds", "1,x"], "bad value '1,x' for --seeds"),
        (&["train", "--batch-size", "100"], "does not divide n_envs·n_steps"),
        (&["eval"], "needs --checkpoint"),
        (&["eval", "--checkpoint", "target/tmp/cli/missing.safetensors"], "cannot read checkpoint"),
        (&["eval", "--checkpoint", garbage], "cannot read checkpoint"),
        (&["plot", "target/tmp/cli/no_such_run"], "metrics.csv"),
        // The inputs of issue 17's fuzzing that panicked or aborted.
        (
            &["train", "--num-envs", "32768", "--num-steps", "562949953421312", "--norm-adv", "false"],
            "bad value '562949953421312' for 'n_steps': expected a whole number in [1, 2^24]",
        ),
        (&["train", "--hidden-sizes", "4611686018427387904,4"], "widths in [1, 2^16]"),
        (&["train", "--update-epochs", "1e15"], "bad value '1e15' for 'update_epochs'"),
        (&["train", "--eval-episodes", "1e9"], "bad value '1e9' for 'eval_episodes'"),
        (&["train", "--n-envs", "1024", "--hidden-sizes", "65536,65536"], "raise memory_limit_mib"),
        (&["train", "--seed", "18446744073709551616"], "expected a whole number in [0, 2^64 − 1]"),
        (&["train", "--run-dir", ""], "--run-dir is empty"),
        (&["train", "--config", dup_key], "\"gamma\" a second time"),
        (
            &["eval", "--checkpoint", garbage, "--episodes", "18446744073709551615"],
            "expected a whole number in [1, 10^6]",
        ),
        (&["plot", "target/tmp/cli/no_such_run", "--out", "x.safetensors"], "must name an .svg file"),
    ];
    for (i, (args, expected)) in cases.iter().enumerate() {
        let dir = tmp(&format!("bad_{i}"));
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "train" {
            all.extend(["--run-dir", dir.to_str().unwrap()]);
        }
        let out = ppo(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.lines().count() == 1, "{args:?}: {stderr:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
}

#[test]
fn config_precedence_preset_then_file_then_flags() {
    let file = tmp("precedence.json");
    std::fs::write(&file, r#"{"env_id": "Acrobot-v1", "n_steps": 64, "lr": 0.001, "gamma": 0.95}"#).unwrap();
    let args = ppo::cli::TrainArgs {
        config_file: Some(file.clone()),
        settings: vec![("n-steps".into(), "32".into()), ("--n_minibatches".into(), "8".into())],
        ..Default::default()
    };
    let c = ppo::cli::resolve_config(&args).unwrap();
    // The file's env picks the preset (16 envs, normalisation on) ...
    assert_eq!((c.env_id.as_str(), c.n_envs, c.norm_obs), ("Acrobot-v1", 16, true));
    // ... the file overrides it, and the flags override the file.
    assert_eq!((c.learning_rate, c.gamma, c.n_steps, c.n_minibatches), (0.001, 0.95, 32, 8));
    // --env beats the file's env_id: Pendulum's preset, then the file's keys.
    let c = ppo::cli::resolve_config(&ppo::cli::TrainArgs { env: Some("Pendulum-v1".into()), ..args }).unwrap();
    assert_eq!((c.env_id.as_str(), c.n_envs, c.n_steps, c.update_epochs), ("Pendulum-v1", 4, 32, 10));
}

#[test]
fn a_diverging_run_stops_with_exit_1_and_keeps_its_files() {
    let dir = tmp("nan");
    // Adam's first step moves every weight by about the learning rate: the next
    // minibatch's loss overflows.
    let out = train(&dir, &["--learning-rate", "1e30"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: training stopped: the loss became non-finite in update 1"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(text(&out.stdout).contains("stopped: 512 steps"), "{}", text(&out.stdout));
    assert!(dir.join("metrics.csv").is_file() && dir.join("learning_curve.svg").is_file());
    assert!(stderr.contains("final.safetensors holds the last good parameters"), "{stderr}");
    let ckpt = checkpoint::load(dir.join("final.safetensors")).unwrap();
    assert!(ckpt.agent.params().all(|p| p.value.data().iter().all(|x| x.is_finite())));
}

#[test]
fn a_run_directory_belongs_to_one_run() {
    // A finished run is never overwritten, and a running one is never shared.
    let dir = tmp("owned");
    assert_trained(&train(&dir, &[]));
    let before = std::fs::read(dir.join("final.safetensors")).unwrap();
    let out = train(&dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already exists and is not empty"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join("final.safetensors")).unwrap(), before);

    // A held lock (this test holds it) refuses a second run at once, naming the holder.
    let busy = tmp("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join(".lock"), format!("{}\n", std::process::id())).unwrap();
    let held = std::fs::OpenOptions::new().write(true).open(busy.join(".lock")).unwrap();
    held.try_lock().unwrap();
    let out = train(&busy, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("in use by the run with pid {}", std::process::id())), "{stderr}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1, "nothing but the lock");
    drop(held);

    // Two runs started at once into the same directory: exactly one trains.
    let shared = tmp("shared");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ppo"))
            .args(["train", "--quiet", "--total-timesteps", "2048", "--run-dir", shared.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let codes = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()].map(|o| o.status.code());
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "{codes:?}");
    let (_, rows) = ppo::io::csv::read_csv(shared.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 4, "one run's rows, not interleaved");
    assert!(!shared.join(".lock").exists(), "the lock is released at the end");
}

#[test]
fn default_run_names_are_unique_within_a_second() {
    let base = tmp("unique");
    std::fs::create_dir_all(&base).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ppo"))
            .current_dir(&base)
            .args(["train", "--quiet", "--total-timesteps", "512", "--seed", "5"])
            .output()
            .unwrap()
    };
    let outs = [spawn(), spawn(), spawn()];
    for o in &outs {
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let runs: Vec<_> = std::fs::read_dir(base.join("runs")).unwrap().flatten().collect();
    assert_eq!(runs.len(), 3, "three runs, three directories");
    for r in runs {
        assert!(r.path().join("final.safetensors").exists());
    }
}

#[test]
fn a_seed_above_2_pow_53_round_trips_exactly() {
    let dir = tmp("big_seed");
    assert_trained(&train(&dir, &["--seed", "9007199254740993"]));
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(config.contains("\"seed\": 9007199254740993"), "{config}");
    let ckpt = ppo::algo::checkpoint::load(dir.join("final.safetensors")).unwrap();
    assert_eq!(ckpt.config.seed, 9_007_199_254_740_993);
}

#[test]
fn eval_refuses_a_checkpoint_whose_spaces_do_not_fit_its_environment() {
    use ppo::algo::{checkpoint, ActionKind};
    let dir = tmp("mismatch");
    assert_trained(&train(&dir, &["--env", "Pendulum-v1", "--use-sde", "false", "--n-envs", "4", "--n-steps", "64"]));
    let mut ckpt = checkpoint::load(dir.join("final.safetensors")).unwrap();
    // The same network with its bounds zeroed: actions would all clip to 0.
    let zeroed = tmp("zeroed.safetensors");
    let mut flat = ckpt.clone();
    flat.agent.action = ActionKind::Continuous { dim: 1, low: vec![0.0], high: vec![0.0] };
    checkpoint::save(&zeroed, &flat).unwrap();
    // An env id edited to an environment with other observations.
    let moved = tmp("moved.safetensors");
    ckpt.config.env_id = "Acrobot-v1".into();
    checkpoint::save(&moved, &ckpt).unwrap();
    for (file, expected) in [(&zeroed, "Box(-2.0, 2.0, (1,))"), (&moved, "Acrobot-v1 has observations Box((6,))")] {
        let out = ppo(&["eval", "--checkpoint", file.to_str().unwrap(), "--episodes", "1"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected) && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_bits() {
    // Saved every 2 updates; killed (abort, as kill -9) right after update 5 is logged,
    // so the resume must drop row 5 and compute it again.
    let settings =
        ["--total-timesteps", "4096", "--checkpoint-updates", "2", "--eval-interval", "1024", "--eval-episodes", "2"];
    let whole = tmp("resume_whole");
    assert_trained(&train(&whole, &settings));
    let killed = tmp("resume_killed");
    let mut args = vec!["train", "--run-dir", killed.to_str().unwrap(), "--quiet"];
    args.extend(settings);
    let out =
        Command::new(env!("CARGO_BIN_EXE_ppo")).args(&args).env("PPO_TEST_ABORT_AFTER_UPDATE", "5").output().unwrap();
    assert!(!out.status.success() && out.status.code().is_none(), "the run was meant to abort: {:?}", out.status);
    assert!(killed.join(".lock").exists(), "a killed run leaves its lock");
    assert!(!killed.join("final.safetensors").exists());
    let (_, rows) = read_csv(killed.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 5, "five updates logged before the kill");

    // Resuming a finished run, or with other settings, is refused.
    let out = ppo(&["train", "--resume", whole.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the run is finished"), "{}", text(&out.stderr));
    let out = ppo(&["train", "--resume", killed.to_str().unwrap(), "--seed", "2"]);
    assert_eq!(out.status.code(), Some(2));

    let out = ppo(&["train", "--resume", killed.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let strip_sps = |dir: &Path| {
        let (header, rows) = read_csv(dir.join("metrics.csv")).unwrap();
        let sps = header.iter().position(|h| h == "SPS").unwrap();
        rows.into_iter()
            .map(|mut r| {
                r.remove(sps);
                r.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_sps(&killed), strip_sps(&whole), "metrics.csv differs from the uninterrupted run's");
    for file in ["final.safetensors", "best.safetensors", "state.safetensors", "config.json"] {
        assert!(
            std::fs::read(killed.join(file)).unwrap() == std::fs::read(whole.join(file)).unwrap(),
            "{file} differs"
        );
    }
    assert!(!killed.join(".lock").exists());
}

#[test]
fn ctrl_c_and_sigterm_stop_cleanly_and_save_the_run() {
    let settings = ["--total-timesteps", "3000000", "--quiet"];
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tmp(&format!("signal_{signal}"));
        let child = Command::new(env!("CARGO_BIN_EXE_ppo"))
            .args(["train", "--run-dir", dir.to_str().unwrap()])
            .args(settings)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until training has logged three updates (header + 3 rows), then signal it:
        // it stops after the update under way, or right after the one just logged.
        let csv = dir.join("metrics.csv");
        let started = std::time::Instant::now();
        while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 4 {
            assert!(started.elapsed().as_secs() < 60, "training never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let kill = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("continue with: ppo train --resume"), "{stderr}");
        for file in ["final.safetensors", "state.safetensors", "learning_curve.svg"] {
            assert!(dir.join(file).exists(), "{file} missing after SIG{signal}");
        }
        assert!(!dir.join(".lock").exists());
        let state = ppo::io::safetensors::read(dir.join("state.safetensors")).unwrap();
        let (config, _) = ppo::algo::state::read_config(&state).unwrap();
        assert_eq!(config.total_timesteps, 3_000_000);
        let (_, rows) = read_csv(&csv).unwrap();
        assert!(rows.len() >= 3 && rows.len() < 5859, "{} rows", rows.len());
    }
}

/// gymnasium's own classic-control ids take the native presets, and an id with no preset
/// says so instead of training silently with CartPole's settings (issue 31, item 1).
#[test]
fn gym_ids_take_the_native_presets_and_the_rest_are_told_there_is_none() {
    let config = |env: &str| {
        let out = ppo(&["train", "--env", env, "--print-config"]);
        assert!(out.status.success(), "{env}: {}", text(&out.stderr));
        let json = ppo::io::json::Json::parse(&text(&out.stdout)).unwrap();
        (ppo::algo::PpoConfig::from_json(&json).unwrap(), text(&out.stderr))
    };
    for id in ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0"] {
        let (native, warned) = config(id);
        let (bridged, _) = config(&format!("gym:{id}"));
        assert_eq!(bridged, ppo::algo::PpoConfig { env_id: format!("gym:{id}"), ..native }, "{id}");
        // Standard error holds the updates and steps, and no warning.
        assert!(warned.starts_with("# ") && warned.lines().count() == 1, "{id}: {warned}");
    }
    // RL Zoo's presets run the steps SB3 runs; CleanRL's round down.
    assert!(config("Pendulum-v1").1.contains("# 25 updates of 4 envs × 1024 steps = 102400 steps"));
    assert!(config("CartPole-v1").1.contains("# 976 updates of 4 envs × 128 steps = 499712 steps"));
    let (_, warned) = config("gym:Ant-v5");
    assert!(warned.contains("gym:Ant-v5 has no tuned preset here"), "{warned}");
}

#[test]
fn report_gives_estimates_and_tests_against_a_results_file() {
    let sweep = tmp("report");
    let out = ppo(&[
        "train",
        "--seeds",
        "1,2,3",
        "--run-dir",
        sweep.to_str().unwrap(),
        "--total-timesteps",
        "4096",
        "--n-steps",
        "128",
        "--quiet",
    ]);
    assert_trained(&out);
    let csv = sweep.join("results.csv");
    let report = |extra: &[&str]| {
        let mut args = vec!["report", sweep.to_str().unwrap(), "--episodes", "2", "--resamples", "2000"];
        args.extend_from_slice(extra);
        ppo(&args)
    };
    let out = report(&["--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in ["CartPole-v1  ppo", "final", "eval", "95% CI of IQM"] {
        assert!(stdout.contains(want), "missing '{want}':\n{stdout}");
    }
    // The results file holds the three seeds, in seed order, and reads back as --against:
    // a side against itself differs by nothing.
    let written = std::fs::read_to_string(&csv).unwrap();
    let seeds: Vec<&str> = written.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert_eq!(seeds, ["1", "2", "3"], "{written}");
    let theirs = sweep.join("theirs.csv");
    std::fs::write(&theirs, written.replace("ppo,", "other,")).unwrap();
    let out = report(&["--against", theirs.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("ppo vs other"), "{stdout}");
    let final_row = stdout.lines().find(|l| l.contains("ppo vs other") && l.contains("final")).unwrap();
    assert!(final_row.contains("1.000 (exact)"), "{final_row}");
    // Three seeds against three: 20 splits, so no p is below 2/20.
    assert!(final_row.ends_with("too few seeds to tell (the smallest p is 0.100)"), "{final_row}");
    // The same runs and resampling seed give the same report.
    assert_eq!(text(&report(&["--against", theirs.to_str().unwrap()]).stdout), stdout);

    // A far-off other side is told apart.
    let far: String = (1..=5).map(|i| format!("far,CartPole-v1,{i},{},,\n", 1000 + i)).collect();
    let far_file = sweep.join("far.csv");
    std::fs::write(&far_file, "implementation,env_id,seed,final_return,eval_return,steps\n".to_string() + &far)
        .unwrap();
    let stdout = text(&report(&["--against", far_file.to_str().unwrap(), "--episodes", "0"]).stdout);
    let row = stdout.lines().find(|l| l.contains("ppo vs far")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.contains("means differ") || row.contains("means and spreads differ"), "{row}");

    // Bad results files: exit 2, one line naming the file and what is wrong.
    for (name, body, says) in [
        (
            "nan.csv",
            "implementation,env_id,seed,final_return\nx,CartPole-v1,1,abc\n",
            "line 2: final_return 'abc' is not a number",
        ),
        ("cols.csv", "implementation,env,seed,final_return\nx,CartPole-v1,1,3\n", "env_id is missing"),
        ("empty.csv", "", "empty"),
        ("bad.json", "[{\"implementation\": \"x\", \"env_id\": \"CartPole-v1\"}]", "run 1: seed is missing"),
        (
            "inf.json",
            "{\"runs\": [{\"implementation\": \"x\", \"env_id\": \"E\", \"seed\": 1, \"final_return\": 1e999}]}",
            "finite",
        ),
    ] {
        let path = sweep.join(name);
        std::fs::write(&path, body).unwrap();
        let out = report(&["--against", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
    }
    let out = ppo(&["report", sweep.join("nothing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = ppo(&["report", "--episodes", "x", sweep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--episodes"), "{}", text(&out.stderr));
}

#[test]
fn a_run_can_start_from_another_runs_policy_and_optimizer() {
    let first = tmp("init_first");
    assert_trained(&train(&first, &[]));
    for extra in [vec![], vec!["--keep-optimizer"]] {
        let next = tmp(&format!("init_next{}", extra.len()));
        let mut args = vec!["--init-from", first.to_str().unwrap()];
        args.extend(extra.iter().copied());
        assert_trained(&train(&next, &args));
        let config = Json::parse(&std::fs::read_to_string(next.join("config.json")).unwrap()).unwrap();
        assert_eq!(config.get("init_from").and_then(Json::as_str), first.to_str());
        assert_eq!(config.get("keep_optimizer").and_then(Json::as_bool), Some(!extra.is_empty()));
    }
    // What cannot be: exit 2, one line, nothing written.
    let ckpt = first.join("final.safetensors");
    for (args, says) in [
        (vec!["--keep-optimizer"], "keep_optimizer continues the optimizer of init_from's run"),
        (vec!["--init-from", ckpt.to_str().unwrap(), "--keep-optimizer"], "a checkpoint holds no optimizer"),
        (vec!["--init-from", first.to_str().unwrap(), "--hidden-sizes", "32"], "parameters have the shapes"),
        (vec!["--init-from", "target/tmp/cli/nowhere.safetensors"], "init_from target/tmp/cli/nowhere.safetensors"),
    ] {
        let dir = tmp("init_bad");
        let out = train(&dir, &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
    }
}

#[test]
fn render_names_the_output_each_kind_of_environment_takes() {
    let dir = tmp("render_kinds");
    assert_trained(&train(&dir, &[]));
    let ckpt = dir.join("final.safetensors");
    for (out, says) in [
        ("episode.gif", "CartPole-v1 is drawn as an animated SVG (--out episode.svg)"),
        ("episode.png", "must name an .svg or .gif file (not .png)"),
    ] {
        let path = dir.join(out);
        let result = ppo(&["render", "--checkpoint", ckpt.to_str().unwrap(), "--out", path.to_str().unwrap()]);
        let err = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{out}: {err}");
        assert!(err.contains(says), "{out}: {err}");
        assert!(!path.exists());
    }
    // An existing file that is not a GIF is never overwritten by one.
    let notes = dir.join("notes.gif");
    std::fs::write(&notes, "my notes").unwrap();
    let result = ppo(&["render", "--checkpoint", ckpt.to_str().unwrap(), "--out", notes.to_str().unwrap()]);
    assert!(text(&result.stderr).contains("exists and is not a GIF"), "{}", text(&result.stderr));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes");
}

#[test]
fn capture_video_records_an_episode_every_interval() {
    let dir = tmp("videos");
    assert_trained(&train(&dir, &["--capture-video", "--video-interval", "1000"]));
    // 2048 steps in updates of 512: the updates that cross 1000 and 2000.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.join("videos")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["step_000001024.svg", "step_000002048.svg"]);
    let svg = std::fs::read_to_string(dir.join("videos/step_000002048.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<animate"), "{}", &svg[..200.min(svg.len())]);
}

//! The fast update is the reference update, bit for bit.
//!
//! Each case builds trainers from one seed and config, collects the same rollout, and
//! runs one full update (every epoch and minibatch) from that same state: the reference
//! [`ppo::algo::update::update`] called directly, and the trainer on 1, 2, 3, 4 and 8
//! threads (two: the actor's and the critic's halves, [`ppo::algo::parallel`]; more:
//! each half's large products split over a pool, [`ppo::kernels::pool`]). Every
//! parameter, every Adam moment and step count, and every metric must be equal to the
//! bit. `whole_runs_give_one_threads_metrics_and_weights` does the same over whole
//! short runs, rollouts included.

use ppo::algo::update::{shuffle_epoch, update, UpdateConfig, UpdateWorkspace};
use ppo::algo::{LossConfig, Metrics, PpoConfig, Trainer};
use ppo::math::nn::Activation;

/// One case: the config, and the clip range the update is called with (annealed when
/// it differs from `config.clip_coef`).
struct Case {
    name: &'static str,
    config: PpoConfig,
    clip_coef: f32,
}

fn bits(xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// Every number of the trainer's learnable state, named, as bits.
fn state(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> =
        t.agent.named_params().into_iter().map(|(name, p)| (name, bits(p.value.data()))).collect();
    let adam = &t.optimizer;
    out.push(("adam step".to_string(), vec![adam.step as u32]));
    for (i, (m, v)) in adam.m.iter().zip(&adam.v).enumerate() {
        out.push((format!("adam m[{i}]"), bits(m)));
        out.push((format!("adam v[{i}]"), bits(v)));
    }
    out
}

fn assert_same_state(case: &str, what: &str, a: &Trainer, b: &Trainer) {
    let (sa, sb) = (state(a), state(b));
    assert_eq!(sa.len(), sb.len(), "{case}: {what}: different numbers of tensors");
    for ((name, x), (_, y)) in sa.iter().zip(&sb) {
        if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
            panic!("{case}: {what}: {name}[{i}] differs: {} vs {}", f32::from_bits(x[i]), f32::from_bits(y[i]));
        }
        assert_eq!(x.len(), y.len(), "{case}: {what}: {name} sizes differ");
    }
}

/// The metrics an update determines, as bits.
fn metric_bits(m: &Metrics) -> Vec<(&'static str, u64)> {
    let f = |x: f32| x.to_bits() as u64;
    vec![
        ("value_loss", f(m.value_loss)),
        ("policy_loss", f(m.policy_loss)),
        ("entropy", f(m.entropy)),
        ("old_approx_kl", f(m.old_approx_kl)),
        ("approx_kl", f(m.approx_kl)),
        ("clipfrac", f(m.clipfrac)),
        ("grad_norm", f(m.grad_norm)),
        ("explained_variance", f(m.explained_variance)),
        ("n_minibatch_steps", m.n_minibatch_steps as u64),
        ("early_stopped", m.early_stopped as u64),
    ]
}

/// Runs one case; returns the reference's metrics for case-specific checks.
fn check(case: &Case) -> Metrics {
    let name = case.name;
    let make = |threads| {
        let mut t = Trainer::new(PpoConfig { threads, ..case.config.clone() }).unwrap();
        t.collect_rollout().unwrap();
        t
    };
    let mut reference = make(1);
    let mut trainers: Vec<(usize, Trainer)> = [1, 2, 3, 4, 8].into_iter().map(|t| (t, make(t))).collect();
    for (threads, t) in &trainers {
        assert_same_state(name, &format!("before the update on {threads} thread(s)"), &reference, t);
        assert_eq!(reference.buffer.advantages, t.buffer.advantages, "{name}: the rollouts differ");
    }

    // The reference, called directly with the trainer's parts.
    let c = &case.config;
    let cfg = UpdateConfig::new(c, case.clip_coef);
    let mut b_inds: Vec<usize> = (0..c.batch_size()).collect();
    let r = &mut reference;
    r.optimizer.config.lr = c.learning_rate;
    let mut ws = UpdateWorkspace::default();
    let rng = &mut r.rng;
    let next_order = |b: &mut [usize]| shuffle_epoch(b, rng);
    let stats = update(&mut r.agent, &mut r.optimizer, &r.buffer, &mut b_inds, next_order, &cfg, &mut ws).unwrap();
    let k = stats.steps.max(1) as f32;
    let want = Metrics {
        value_loss: stats.sums.v_loss / k,
        policy_loss: stats.sums.pg_loss / k,
        entropy: stats.sums.entropy / k,
        old_approx_kl: stats.sums.old_approx_kl / k,
        approx_kl: stats.sums.approx_kl / k,
        clipfrac: stats.sums.clipfrac / k,
        grad_norm: stats.grad_norm / k,
        explained_variance: ppo::algo::train::explained_variance(&r.buffer.values, &r.buffer.returns),
        n_minibatch_steps: stats.steps,
        early_stopped: stats.early_stopped,
        ..Metrics::default()
    };
    assert!(stats.steps > 0, "{name}: the update took no step, so it tests nothing");

    for (threads, trainer) in &mut trainers {
        let m = trainer.update(c.learning_rate, case.clip_coef).unwrap();
        let what = format!("{threads} thread(s) against the reference");
        assert_same_state(name, &what, &reference, trainer);
        for ((metric, x), (_, y)) in metric_bits(&want).iter().zip(metric_bits(&m)) {
            assert_eq!(*x, y, "{name}: {what}: metric {metric} differs");
        }
        // The rng is where the next update's shuffles come from: it must agree too.
        assert_eq!(trainer.rng, reference.rng, "{name}: {what}: the rng drew differently");
    }
    want
}

fn cartpole() -> PpoConfig {
    PpoConfig { n_envs: 4, n_steps: 128, total_timesteps: 1 << 20, seed: 11, ..PpoConfig::default() }
}

fn pendulum() -> PpoConfig {
    PpoConfig {
        env_id: "Pendulum-v1".into(),
        n_envs: 2,
        n_steps: 256,
        n_minibatches: 8,
        learning_rate: 1e-3,
        activation: Activation::Relu,
        total_timesteps: 1 << 20,
        seed: 12,
        ..PpoConfig::default()
    }
}

#[test]
fn discrete_actions() {
    let m = check(&Case { name: "CartPole", config: cartpole(), clip_coef: 0.2 });
    assert_eq!(m.n_minibatch_steps, 16);
}

/// Networks wide enough that, past two threads, each half's products split their rows
/// over its pool: discrete actions, and continuous ones with gSDE and normalisation.
#[test]
fn wide_networks_split_over_the_pools() {
    let wide = vec![256, 256];
    let config = PpoConfig { hidden_sizes: wide.clone(), n_envs: 8, n_minibatches: 2, ..cartpole() };
    check(&Case { name: "CartPole 256-256", config, clip_coef: 0.2 });
    let config = PpoConfig {
        hidden_sizes: wide,
        n_minibatches: 2,
        use_sde: true,
        norm_obs: true,
        norm_reward: true,
        ..pendulum()
    };
    check(&Case { name: "Pendulum 256-256 gSDE normalised", config, clip_coef: 0.2 });
}

#[test]
fn continuous_actions() {
    let m = check(&Case { name: "Pendulum", config: pendulum(), clip_coef: 0.2 });
    assert!(m.clipfrac > 0.0, "the clip never bound: {}", m.clipfrac);
}

#[test]
fn gsde() {
    let config = PpoConfig { use_sde: true, sde_sample_freq: 4, ..pendulum() };
    check(&Case { name: "Pendulum gSDE", config, clip_coef: 0.2 });
}

#[test]
fn target_kl_stop_mid_epoch() {
    let config = PpoConfig { target_kl: Some(2e-4), learning_rate: 3e-3, ..cartpole() };
    let m = check(&Case { name: "CartPole target-KL", config: config.clone(), clip_coef: 0.2 });
    assert!(m.early_stopped, "the KL rule did not fire (approx_kl {})", m.approx_kl);
    assert!(
        !m.n_minibatch_steps.is_multiple_of(config.n_minibatches),
        "the stop fell on an epoch boundary ({} steps)",
        m.n_minibatch_steps
    );
}

#[test]
fn no_advantage_normalisation_no_value_clipping_annealed_clip() {
    let config = PpoConfig { norm_adv: false, clip_vloss: false, anneal_clip: true, ..pendulum() };
    check(&Case { name: "Pendulum norm_adv=false", config: config.clone(), clip_coef: 0.2 });
    check(&Case { name: "Pendulum clip 0.07", config, clip_coef: 0.07 });
    let config = PpoConfig { clip_vloss: false, ..cartpole() };
    check(&Case { name: "CartPole clip_vloss=false", config, clip_coef: 0.13 });
}

#[test]
fn gradient_clipping_binds() {
    // A small max_grad_norm, so every step is scaled by the clip coefficient.
    let config = PpoConfig { max_grad_norm: 0.05, ..pendulum() };
    let m = check(&Case { name: "Pendulum max_grad_norm 0.05", config, clip_coef: 0.2 });
    assert!(m.grad_norm > 0.05, "the clip never bound: mean norm {}", m.grad_norm);
}

#[test]
fn a_fixed_value_clip() {
    // clip_coef_vf fixes the value clip's ε apart from the surrogate's (annealed) one.
    let config = PpoConfig { clip_coef_vf: Some(0.5), anneal_clip: true, ..cartpole() };
    check(&Case { name: "CartPole clip_coef_vf 0.5", config, clip_coef: 0.1 });
}

#[test]
fn the_value_clip_uses_clip_coef_vf() {
    use ppo::algo::loss::{loss_and_grad, LossWorkspace, Minibatch};
    let mut t = Trainer::new(cartpole()).unwrap();
    t.collect_rollout().unwrap();
    // Shift the stored values so that the clipped term differs from the unclipped one.
    t.buffer.values.iter_mut().for_each(|v| *v -= 3.0);
    let mut mb = Minibatch::default();
    mb.gather(&t.buffer, &(0..128).collect::<Vec<_>>());
    let v_loss = |clip_vloss: bool, clip_coef_vf: f32| {
        let cfg = LossConfig { clip_coef: 0.2, clip_vloss, clip_coef_vf, ent_coef: 0.0, vf_coef: 0.5, norm_adv: true };
        let mut agent = t.agent.clone();
        loss_and_grad(&mut LossWorkspace::default(), &mut agent, &mb, &cfg).v_loss
    };
    let unclipped = v_loss(false, 0.2);
    assert_eq!(v_loss(true, 1e9), unclipped, "an ε no difference reaches clips nothing");
    let (narrow, wide) = (v_loss(true, 0.2), v_loss(true, 2.0));
    assert!(narrow > wide && wide > unclipped, "ε 0.2: {narrow}, ε 2: {wide}, unclipped: {unclipped}");
}

/// Whole short runs (four rollouts and updates each) on 1, 2, 3, 4 and 8 threads: every
/// iteration's metrics (timing aside) and episodes, and the final state, are one
/// thread's. After the first update the rollouts act with updated networks, and the
/// critic has moved to the worker and back, so this also holds the parallel rollout to
/// the reference over a run.
#[test]
fn whole_runs_give_one_threads_metrics_and_weights() {
    let cases = [
        ("CartPole", cartpole()),
        ("Pendulum normalised", PpoConfig { norm_obs: true, norm_reward: true, ..pendulum() }),
        ("Pendulum gSDE", PpoConfig { use_sde: true, sde_sample_freq: 4, ..pendulum() }),
        ("CartPole target-KL", PpoConfig { target_kl: Some(2e-4), learning_rate: 3e-3, ..cartpole() }),
    ];
    for (name, config) in cases {
        let run = |threads| {
            let mut t = Trainer::new(PpoConfig { threads, ..config.clone() }).unwrap();
            let mut log = Vec::new();
            for _ in 0..4 {
                let m = t.iterate().unwrap();
                let mut row = metric_bits(&m);
                row.push(("global_step", m.global_step));
                row.push(("learning_rate", u64::from(m.learning_rate.to_bits())));
                row.push(("episodic_return", m.episodic_return.unwrap_or(f64::NAN).to_bits()));
                row.push(("episodes", m.episodes));
                for e in &m.finished_episodes {
                    row.push(("an episode's return", e.episodic_return.to_bits()));
                }
                log.push(row);
            }
            (t, log)
        };
        let (reference, want) = run(1);
        assert!(
            want.iter().any(|row| row.iter().any(|(k, _)| *k == "an episode's return")),
            "{name}: no episode ended"
        );
        for threads in [2, 3, 4, 8] {
            let (t, got) = run(threads);
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert_eq!(w, g, "{name}: iteration {i} on {threads} threads");
            }
            assert_same_state(name, &format!("after four iterations on {threads} threads"), &reference, &t);
        }
    }
}

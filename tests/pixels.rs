//! Pixel observations, end to end, on Catch (bsuite's: a ball falls down a 10×5 grid and
//! the paddle on the bottom row must be under it; one `1×10×5` frame per step): a policy
//! with MinAtar's CNN trunk (`cnn = minatar`) learns it, its acting path equals the
//! loss's tape (every first ratio exactly 1, with and without an LSTM after the CNN), and
//! every thread count gives the same bits, and its checkpoint round-trips with PyTorch's `[O, C, K, K]` convolution weights.

use ppo::algo::{checkpoint, evaluate_env, ActOutput, PpoConfig, Trainer};
use ppo::env::{Action, BoxSpace, Env, EnvError, Space, Step, SyncVecEnv, VecEnv};
use ppo::math::cnn::CnnKind;
use rand::rngs::StdRng;
use rand::SeedableRng;

const ROWS: usize = 10;
const COLS: usize = 5;

/// bsuite's Catch: +1 when the ball lands on the paddle, −1 when it does not.
#[derive(Clone, Default)]
struct Catch {
    rng: u64,
    ball: (usize, usize),
    paddle: usize,
}

impl Catch {
    fn draw(&mut self) -> usize {
        // xorshift64*, enough for a test's ball column.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % COLS
    }

    fn observe(&self, obs: &mut [f32]) {
        obs.fill(0.0);
        obs[self.ball.0 * COLS + self.ball.1] = 1.0;
        obs[(ROWS - 1) * COLS + self.paddle] = 1.0;
    }
}

impl Env for Catch {
    fn observation_space(&self) -> Space {
        Space::Box(BoxSpace { low: vec![0.0; ROWS * COLS], high: vec![1.0; ROWS * COLS], shape: vec![1, ROWS, COLS] })
    }
    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(s) = seed {
            self.rng = s.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        }
        self.ball = (0, self.draw());
        self.paddle = COLS / 2;
        self.observe(obs);
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        let Action::Discrete(a) = action else { panic!("Catch takes discrete actions") };
        self.paddle = (self.paddle + a).saturating_sub(1).min(COLS - 1);
        self.ball.0 += 1;
        self.observe(obs);
        let landed = self.ball.0 == ROWS - 1;
        let reward = if !landed {
            0.0
        } else if self.ball.1 == self.paddle {
            1.0
        } else {
            -1.0
        };
        Ok(Step { reward, terminated: landed, truncated: false })
    }
}

fn envs(n: usize) -> Box<dyn VecEnv> {
    Box::new(SyncVecEnv::new((0..n).map(|_| Box::new(Catch::default()) as Box<dyn Env>).collect()).unwrap())
}

fn config(seed: u64) -> PpoConfig {
    PpoConfig {
        env_id: "Catch".into(),
        seed,
        cnn: CnnKind::MinAtar,
        hidden_sizes: vec![],
        n_envs: 8,
        n_steps: 32,
        learning_rate: 1e-3,
        total_timesteps: 40_960,
        ..PpoConfig::default()
    }
}

/// The deterministic policy's mean return over 100 episodes.
fn evaluate(trainer: &mut Trainer) -> f64 {
    let mut env = Catch::default();
    evaluate_env(&mut trainer.agent, &mut env, 100, 99, None, |_| {}).unwrap().mean_return
}

/// The untrained policy, deterministic, catches a quarter of the balls (mean return
/// −0.5); after 40k steps the CNN policy catches at least 95% of them, on seeds 1–3.
#[test]
fn a_cnn_policy_learns_catch() {
    for seed in 1..=3 {
        let mut trainer = Trainer::with_envs(config(seed), envs(8)).unwrap();
        let untrained = evaluate(&mut trainer);
        while !trainer.is_done() {
            trainer.iterate().unwrap();
        }
        let trained = evaluate(&mut trainer);
        println!("seed {seed}: mean return {untrained:.2} untrained, {trained:.2} after 40k steps");
        assert!(trained >= 0.9, "seed {seed}: {trained} after 40k steps");
    }
}

/// With one epoch and one minibatch, every ratio is exactly 1: the acting path's CNN
/// (and LSTM) give the update's tape the same bits.
#[test]
fn the_first_ratio_is_exactly_one_with_a_cnn() {
    for lstm in [0, 8] {
        let c = PpoConfig {
            update_epochs: 1,
            n_minibatches: 1,
            lstm_hidden_size: lstm,
            total_timesteps: 2560,
            ..config(4)
        };
        let mut trainer = Trainer::with_envs(c, envs(8)).unwrap();
        while !trainer.is_done() {
            let m = trainer.iterate().unwrap();
            let kl = (m.old_approx_kl, m.approx_kl, m.clipfrac);
            assert!(
                kl.0.to_bits() == 0 && kl.1.to_bits() == 0 && kl.2 == 0.0,
                "LSTM {lstm}, update {}: {kl:?}",
                m.update
            );
        }
    }
}

/// The convolutions split over any number of threads (`threads`, a pool of persistent
/// threads) give one thread's run bit for bit: every metric and every parameter, with a
/// CNN and with a CNN and an LSTM.
#[test]
fn every_thread_count_gives_the_same_bits() {
    for lstm in [0, 8] {
        let run = |threads: usize| {
            let c = PpoConfig { threads, lstm_hidden_size: lstm, total_timesteps: 2048, ..config(7) };
            let mut trainer = Trainer::with_envs(c, envs(8)).unwrap();
            let mut metrics = Vec::new();
            while !trainer.is_done() {
                let m = trainer.iterate().unwrap();
                let f = [m.value_loss, m.policy_loss, m.entropy, m.approx_kl, m.clipfrac, m.grad_norm];
                metrics.push((m.episodic_return.map(f64::to_bits), f.map(f32::to_bits)));
            }
            let params: Vec<u32> =
                trainer.agent.params().flat_map(|p| p.value.data().iter().map(|v| v.to_bits())).collect();
            (metrics, params)
        };
        let one = run(1);
        assert_eq!(one.0.len(), 8);
        for threads in [2, 3, 4, 8] {
            let many = run(threads);
            assert!(many.0 == one.0, "LSTM {lstm}: the metrics on {threads} threads differ from one thread's");
            assert!(many.1 == one.1, "LSTM {lstm}: the parameters on {threads} threads differ from one thread's");
        }
    }
}

/// A pixel agent's checkpoint: the CNN under CleanRL's `network.*` names with PyTorch's
/// 4-D convolution weights, the observations' shape in the metadata, and the same
/// actions after loading.
#[test]
fn a_cnn_checkpoint_round_trips() {
    let mut trainer = Trainer::with_envs(PpoConfig { total_timesteps: 256, ..config(5) }, envs(8)).unwrap();
    trainer.iterate().unwrap();
    let ckpt = trainer.checkpoint();
    let st = checkpoint::to_safetensors(&ckpt).unwrap();
    let conv = st.get("network.0.weight").expect("the convolution's weight");
    assert_eq!(conv.shape, vec![16, 1, 3, 3]);
    assert_eq!(st.get("network.3.weight").expect("the dense layer").shape, vec![128, 16 * 8 * 3]);
    assert_eq!(st.metadata_value("obs_shape"), Some("[1,10,5]"));
    let mut back = checkpoint::from_safetensors(&st).unwrap();
    let obs: Vec<f32> = (0..3 * ROWS * COLS).map(|i| (i % 7 == 0) as u8 as f32).collect();
    let (mut a, mut b) = (ActOutput::default(), ActOutput::default());
    let mut agent = ckpt.agent.clone();
    agent.act(&obs, 3, false, &mut StdRng::seed_from_u64(1), &mut a);
    back.agent.act(&obs, 3, false, &mut StdRng::seed_from_u64(1), &mut b);
    assert_eq!(a.actions, b.actions);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.log_probs), bits(&b.log_probs));
    assert_eq!(bits(&a.values), bits(&b.values));
}

/// A CNN needs `[C, H, W]` observations: flat ones are refused, naming the shape.
#[test]
fn a_cnn_on_flat_observations_is_refused() {
    let c = PpoConfig { env_id: "CartPole-v1".into(), cnn: CnnKind::MinAtar, ..PpoConfig::default() };
    let e = Trainer::new(c).err().expect("refused").to_string();
    assert!(e.contains("[C, H, W]") && e.contains("[4]"), "{e}");
}

/// With `ortho_init` false the CNN takes PyTorch's default initialisation too: every
/// weight within `±1/√fan_in`, biases not zero.
#[test]
fn ortho_init_false_gives_the_cnn_pytorchs_default_initialisation() {
    let trainer = Trainer::with_envs(PpoConfig { ortho_init: false, ..config(6) }, envs(8)).unwrap();
    let cnn = trainer.agent.encoder.as_ref().unwrap();
    let bound = 1.0 / 9f32.sqrt(); // one channel, 3×3
    let conv = &cnn.convs[0];
    assert!(conv.weight.value.data().iter().chain(conv.bias.value.data()).all(|w| w.abs() <= bound));
    assert!(conv.bias.value.data().iter().any(|&b| b != 0.0), "orthogonal init leaves biases at 0");
}

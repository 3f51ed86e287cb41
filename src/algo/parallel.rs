//! The PPO update on two threads: the fast twin of [`crate::algo::update()`].
//!
//! It replaces the minibatch loop of [`update::update`](super::update::update), which
//! records the whole loss on one tape. The actor and the critic are separate networks
//! (detail 13), so the loss splits exactly into `pg_loss − c₂·entropy_loss` (actor and
//! log-std only) and `c₁·v_loss` (critic only). Here each half is recorded on a tape of
//! its own, and the actor's half (loss, backward, Adam step) runs on a persistent worker
//! thread while this thread runs the critic's. The halves meet once per minibatch: this
//! thread hands the worker the critic's `Σ ‖∇p‖²`, the worker adds its own tensors' onto
//! it ([`squared_grad_norm_from`]: the reference's sum over all parameters, in the same
//! order) and reports that with its loss terms; this thread applies the target-KL rule
//! and tells the worker to step (with the clip factor) or stop. Each
//! half also gathers its next minibatch while the other side decides.
//!
//! Every parameter's gradient comes from one half only, computed by the same ops in the
//! same order as on the reference's single tape, so the results are bit-identical
//! (`tests/update.rs` compares every parameter, Adam moment and metric).
//!
//! The worker also takes the critic during a rollout (`TwoThreads::start_values`):
//! the trainer acts without it and stages each step's observations, and the worker values
//! them as they come, in whatever number of rows at a time (each row's value is its own
//! sums, so the values are the one-thread rollout's bits). With both, training runs
//! about 1.7× as fast as on one thread on CleanRL's CartPole workload
//! (`docs/benchmarks.md`).
//!
//! The worker owns what it works on: each update moves the actor's parts and optimizer
//! (`ActorHalf`) to it and back, and each rollout the critic, so no data is shared
//! beyond the mailboxes and no `unsafe` is needed.

use super::agent::{add_policy_grads, Agent};
use super::buffer::RolloutBuffer;
use super::loss::{
    combine, policy_objective, policy_stats, prepare_advantages, record_clipped_surrogate, record_clipped_value_loss,
    record_policy_loss, record_value_loss, value_objective, LossConfig, LossWorkspace, Minibatch, PolicyStats,
};
use super::update::{shuffle_epoch, NonFiniteLoss, UpdateConfig, UpdateStats};
use crate::kernels::pool::Pool;
use crate::math::autodiff::Tape;
use crate::math::nn::{Mlp, Param, Scratch};
use crate::math::optim::{clip_coefficient, scale_grads, squared_grad_norm_from, Adam, AdamConfig};
use crate::math::rng::Xoshiro256PlusPlus;
use crate::math::sde::Gsde;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One half of a minibatch step: its loss and gradient, then its Adam step.
trait Half {
    /// What the half reports to the decision.
    type Report;
    /// Zeroes the half's gradients, then forward and backward of its part of the loss.
    fn loss_and_grad(&mut self, mb: &Minibatch, cfg: &LossConfig) -> Self::Report;
    /// `start` plus the half's `‖∇p‖²`, tensor by tensor in parameter order.
    fn squared_norm_from(&mut self, start: f32) -> f32;
    /// Scales the gradients by `coef` when it is below 1 (the global clip), then one
    /// Adam step.
    fn step(&mut self, coef: f32);
}

/// The actor's half, owned so that it can move to the worker thread and back: the
/// agent's actor parts, the actor's optimizer and a tape. Between updates the actor
/// parts are empty placeholders and live in the agent.
#[derive(Debug)]
struct ActorHalf {
    actor: Mlp,
    log_std: Option<Param>,
    sde: Option<Gsde>,
    obs_dim: usize,
    optimizer: Adam,
    ws: LossWorkspace,
}

/// What the actor's half reports: its loss terms and the global `Σ ‖∇p‖²` (the
/// critic's sum, which this thread passed it, with the actor's tensors added).
#[derive(Clone, Copy, Debug)]
struct ActorReport {
    stats: PolicyStats,
    squared_norm: f32,
}

impl ActorHalf {
    /// Swaps the actor parts between the agent (and the actor's share of its optimizer,
    /// from parameter `first` on) and this half: once to take them, once more to give
    /// them back.
    fn swap(&mut self, agent: &mut Agent, optimizer: &mut Adam, first: usize) {
        std::mem::swap(&mut self.actor, &mut agent.actor);
        std::mem::swap(&mut self.log_std, &mut agent.log_std);
        std::mem::swap(&mut self.sde, &mut agent.sde);
        swap_moments(&mut self.optimizer, optimizer, first..optimizer.m.len());
        self.obs_dim = agent.obs_dim;
    }

    /// The actor's parameters, in the order of [`Agent::actor_params`].
    fn params(&mut self) -> impl Iterator<Item = &mut Param> {
        self.actor.invalidate_inference_cache();
        self.actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]).chain(self.log_std.as_mut())
    }
}

impl Half for ActorHalf {
    type Report = ActorReport;

    fn loss_and_grad(&mut self, mb: &Minibatch, cfg: &LossConfig) -> ActorReport {
        self.params().for_each(|p| p.zero_grad());
        let LossWorkspace { tape, adv } = &mut self.ws;
        prepare_advantages(adv, mb, cfg.norm_adv);
        tape.clear();
        let obs = tape.input(mb.len(), self.obs_dim, &mb.obs, false);
        let (actor, log_std, sde) = (&mut self.actor, self.log_std.as_ref(), self.sde.as_mut());
        let policy =
            record_policy_loss(tape, actor, log_std, sde, obs, mb, adv, cfg.clip_coef, record_clipped_surrogate);
        let objective = policy_objective(tape, policy, cfg);
        tape.backward(objective);
        add_policy_grads(tape, policy.log_std, &mut self.actor, self.log_std.as_mut());
        ActorReport { stats: policy_stats(tape, &policy, cfg.clip_coef), squared_norm: f32::NAN }
    }

    fn squared_norm_from(&mut self, start: f32) -> f32 {
        squared_grad_norm_from(start, self.params().map(|p| &*p))
    }

    fn step(&mut self, coef: f32) {
        if coef < 1.0 {
            scale_grads(self.params(), coef);
        }
        let (actor, log_std) = (&mut self.actor, self.log_std.as_mut());
        self.optimizer.step_iter(actor.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]).chain(log_std));
    }
}

/// The critic's half: the value network, its optimizer and a tape (on this thread).
#[derive(Debug)]
struct CriticHalf {
    critic: Mlp,
    obs_dim: usize,
    optimizer: Adam,
    tape: Tape,
}

/// What the critic's half reports: `v_loss` (with its ½).
#[derive(Clone, Copy, Debug)]
struct CriticReport {
    v_loss: f32,
}

impl CriticHalf {
    /// Swaps the critic and the critic's share of the optimizer (its first `count`
    /// parameters) with the agent's (see [`ActorHalf::swap`]).
    fn swap(&mut self, agent: &mut Agent, optimizer: &mut Adam, count: usize) {
        std::mem::swap(&mut self.critic, &mut agent.critic);
        swap_moments(&mut self.optimizer, optimizer, 0..count);
        self.obs_dim = agent.obs_dim;
    }

    fn params(&mut self) -> impl Iterator<Item = &mut Param> {
        self.critic.invalidate_inference_cache();
        self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias])
    }
}

impl Half for CriticHalf {
    type Report = CriticReport;

    fn loss_and_grad(&mut self, mb: &Minibatch, cfg: &LossConfig) -> CriticReport {
        self.params().for_each(|p| p.zero_grad());
        let tape = &mut self.tape;
        tape.clear();
        let obs = tape.input(mb.len(), self.obs_dim, &mb.obs, false);
        let v_loss = record_value_loss(tape, &mut self.critic, obs, mb, cfg.value_clip(), record_clipped_value_loss);
        let objective = value_objective(tape, v_loss, cfg);
        tape.backward(objective);
        self.critic.accumulate_grads(tape);
        CriticReport { v_loss: tape.scalar(v_loss) }
    }

    fn squared_norm_from(&mut self, start: f32) -> f32 {
        squared_grad_norm_from(start, self.params().map(|p| &*p))
    }

    fn step(&mut self, coef: f32) {
        if coef < 1.0 {
            scale_grads(self.params(), coef);
        }
        self.optimizer.step_iter(self.critic.layers.iter_mut().flat_map(|l| [&mut l.weight, &mut l.bias]));
    }
}

/// Swaps the moments of `whole`'s parameters `range` with all of `part`'s, and their
/// settings and step counts: the agent's one Adam lends each half its share and takes it
/// back. The moments move without copying; `part` grows to the range's length once.
fn swap_moments(part: &mut Adam, whole: &mut Adam, range: std::ops::Range<usize>) {
    part.m.resize_with(range.len(), Vec::new);
    part.v.resize_with(range.len(), Vec::new);
    for (p, w) in part.m.iter_mut().zip(&mut whole.m[range.clone()]) {
        std::mem::swap(p, w);
    }
    for (p, w) in part.v.iter_mut().zip(&mut whole.v[range]) {
        std::mem::swap(p, w);
    }
    std::mem::swap(&mut part.step, &mut whole.step);
    part.config = whole.config;
}

/// What the critic's thread tells the actor's thread after each minibatch.
#[derive(Clone, Copy, Debug)]
enum Decision {
    /// Clip by this factor (when below 1) and take the Adam step.
    Step(f32),
    /// Stop the update here without stepping (KL early stop, or a non-finite loss).
    Stop,
}

/// The one minibatch loop, run by both threads, each with its own half: minibatch `i`'s
/// loss and gradient, the next minibatch gathered, then `meet` (the other thread's
/// report, the decision) and this half's step.
///
/// Each thread draws every epoch's order itself, from its own copy of `b_inds` and the
/// generator: the same draws, so the same orders, and the trainer's generator ends where
/// the reference's would. The next minibatch is gathered ahead only within an epoch, so
/// that an early stop at an epoch's end has drawn no order the reference would not.
fn run_half<H: Half>(
    half: &mut H,
    buffer: &RolloutBuffer,
    b_inds: &mut [usize],
    rng: &mut Xoshiro256PlusPlus,
    cfg: &UpdateConfig,
    minibatches: &mut [Minibatch; 2],
    mut meet: impl FnMut(&mut H, H::Report) -> Decision,
) {
    let size = cfg.minibatch_size;
    let per_epoch = b_inds.len() / size;
    for _epoch in 0..cfg.update_epochs {
        shuffle_epoch(b_inds, rng);
        if per_epoch > 0 {
            minibatches[0].gather(buffer, &b_inds[..size]);
        }
        for i in 0..per_epoch {
            let report = half.loss_and_grad(&minibatches[0], &cfg.loss);
            if i + 1 < per_epoch {
                minibatches[1].gather(buffer, &b_inds[(i + 1) * size..(i + 2) * size]);
            }
            match meet(half, report) {
                Decision::Step(coef) => half.step(coef),
                Decision::Stop => return,
            }
            minibatches.swap(0, 1);
        }
    }
}

/// The decision on a minibatch step from both halves' reports, as the reference makes
/// it: an error for a non-finite loss (nothing stepped), `Stop` for the target-KL rule,
/// else the global clip's factor.
fn decide(
    actor: ActorReport,
    critic: CriticReport,
    cfg: &UpdateConfig,
    stats: &mut UpdateStats,
) -> Result<Decision, NonFiniteLoss> {
    let step = combine(actor.stats, critic.v_loss, &cfg.loss);
    if !step.loss.is_finite() {
        return Err(NonFiniteLoss { stats: step, minibatch: stats.steps });
    }
    let grad_norm = actor.squared_norm.sqrt();
    if cfg.target_kl.is_some_and(|target| step.approx_kl > 1.5 * target) {
        stats.early_stopped = true;
        return Ok(Decision::Stop);
    }
    stats.add(&step, grad_norm);
    Ok(Decision::Step(clip_coefficient(grad_norm, cfg.max_grad_norm)))
}

/// What moves to the worker for one update: the actor's half, and copies of the rollout,
/// the sample order and the generator (buffers reused from update to update).
#[derive(Debug)]
struct ActorJob {
    half: ActorHalf,
    buffer: RolloutBuffer,
    b_inds: Vec<usize>,
    rng: Xoshiro256PlusPlus,
    cfg: UpdateConfig,
    minibatches: [Minibatch; 2],
}

/// An empty network, in the place of one that has moved to the other thread.
fn placeholder() -> Mlp {
    Mlp::from_layers(Vec::new(), crate::math::nn::Activation::Tanh)
}

/// What the worker thread is given to do.
#[derive(Debug)]
enum Job {
    /// The actor's half of an update.
    Update(Box<ActorJob>),
    /// The critic's values of a rollout's observations, as they are staged.
    Values(Box<ValuesJob>),
}

/// The critic on the worker during a rollout (a network that reads the observations
/// themselves), and the values it has computed, in the order the observations came.
#[derive(Debug)]
struct ValuesJob {
    critic: Mlp,
    scratch: Scratch,
    /// The staged rows this job took and is valuing.
    rows: Vec<f32>,
    values: Vec<f32>,
}

impl ValuesJob {
    fn new() -> ValuesJob {
        ValuesJob { critic: placeholder(), scratch: Scratch::default(), rows: Vec::new(), values: Vec::new() }
    }

    /// Values the observations staged on `queue`, whatever number of rows has come at a
    /// time (each row's value is its own sums: the same bits as in one pass), until the
    /// queue is closed and empty.
    fn run(&mut self, queue: &ObsQueue) {
        self.critic.prepare_inference();
        let width = self.critic.inputs().max(1);
        let mut idle = 0u32;
        loop {
            // Read before taking: every row staged before the close is then taken.
            let closed = queue.closed.load(Ordering::Acquire);
            if queue.pending.load(Ordering::Acquire) > 0 {
                let mut staged = queue.staged.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::swap(&mut *staged, &mut self.rows);
                queue.pending.store(0, Ordering::Release);
            }
            if !self.rows.is_empty() {
                let values = self.critic.forward_inference(&self.rows, self.rows.len() / width, &mut self.scratch);
                self.values.extend_from_slice(values);
                self.rows.clear();
                idle = 0;
            } else if closed {
                return;
            } else {
                idle += 1;
                if idle < 2_000 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Observations on their way from the rollout to the critic on the worker.
#[derive(Debug, Default)]
struct ObsQueue {
    staged: Mutex<Vec<f32>>,
    /// The values staged and not yet taken (checked without the lock).
    pending: std::sync::atomic::AtomicUsize,
    /// Set when the rollout has staged its last rows.
    closed: AtomicBool,
}

/// The mailboxes between the trainer and its worker thread.
#[derive(Debug, Default)]
struct Slots {
    jobs: Slot<Job>,
    done: Slot<Job>,
    critic_norms: Slot<f32>,
    reports: Slot<ActorReport>,
    decisions: Slot<Decision>,
    observations: ObsQueue,
}

/// The update on two threads. The worker is started with the trainer and kept for the
/// whole run (a thread started per update would cost tens of µs, and a new thread is
/// sometimes placed on the busy core for a while).
#[derive(Debug)]
pub(crate) struct TwoThreads {
    slots: Arc<Slots>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// The actor's job, with its scratch, while this thread holds it (between updates).
    job: Option<Box<ActorJob>>,
    /// The rollout's values job, while this thread holds it (between rollouts).
    values_job: Option<Box<ValuesJob>>,
    critic: CriticHalf,
    minibatches: [Minibatch; 2],
}

impl TwoThreads {
    /// Starts the worker thread. With more than two `threads`, each half's products
    /// split their rows over a pool of its share of them (the actor's half one more when
    /// odd; [`crate::kernels::pool`], the same bits).
    pub(crate) fn new(threads: usize) -> TwoThreads {
        let slots = Arc::new(Slots::default());
        let theirs = Arc::clone(&slots);
        let handle = std::thread::spawn(move || {
            // If this thread panics, the trainer stops waiting for it.
            let _close_reports = CloseOnDrop(&theirs.reports);
            let _close_done = CloseOnDrop(&theirs.done);
            while let Some(job) = theirs.jobs.take() {
                match job {
                    Job::Update(mut job) => {
                        let ActorJob { half, buffer, b_inds, rng, cfg, minibatches } = &mut *job;
                        run_half(half, buffer, b_inds, rng, cfg, minibatches, |half, mut report| {
                            // The global norm: the actor's tensors added onto the critic's sum.
                            let critic_sum = theirs.critic_norms.take().unwrap_or(f32::NAN);
                            report.squared_norm = half.squared_norm_from(critic_sum);
                            theirs.reports.put(report);
                            theirs.decisions.take().unwrap_or(Decision::Stop)
                        });
                        theirs.done.put(Job::Update(job));
                    }
                    Job::Values(mut job) => {
                        job.run(&theirs.observations);
                        theirs.done.put(Job::Values(job));
                    }
                }
            }
        });
        let job = ActorJob {
            half: ActorHalf {
                actor: placeholder(),
                log_std: None,
                sde: None,
                obs_dim: 0,
                optimizer: Adam::new(AdamConfig::default(), &[]),
                ws: LossWorkspace::default(),
            },
            buffer: RolloutBuffer::new(0, 0, 0, &crate::algo::ActionKind::Discrete(0)),
            b_inds: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(0),
            cfg: UpdateConfig {
                update_epochs: 0,
                minibatch_size: 1,
                target_kl: None,
                max_grad_norm: 0.0,
                loss: LossConfig {
                    clip_coef: 0.0,
                    clip_vloss: false,
                    clip_coef_vf: 0.0,
                    ent_coef: 0.0,
                    vf_coef: 0.0,
                    norm_adv: false,
                },
            },
            minibatches: Default::default(),
        };
        let mut critic = CriticHalf {
            critic: placeholder(),
            obs_dim: 0,
            optimizer: Adam::new(AdamConfig::default(), &[]),
            tape: Tape::new(),
        };
        let mut job = job;
        if threads > 2 {
            job.half.ws.tape.set_pool(Arc::new(Pool::new(threads.div_ceil(2))));
            critic.tape.set_pool(Arc::new(Pool::new(threads / 2)));
        }
        TwoThreads {
            slots,
            handle: Some(handle),
            job: Some(Box::new(job)),
            values_job: Some(Box::new(ValuesJob::new())),
            critic,
            minibatches: Default::default(),
        }
    }

    /// Moves `critic` to the worker, which values the observations the rollout stages
    /// ([`stage_values`](TwoThreads::stage_values)) while this thread acts, until
    /// [`finish_values`](TwoThreads::finish_values). `rows` is how many will come: the
    /// buffers hold that many from the first rollout on, so no later one allocates.
    pub(crate) fn start_values(&mut self, critic: &mut Mlp, rows: usize) {
        let mut job = self.values_job.take().expect("the values job is home between rollouts");
        std::mem::swap(&mut job.critic, critic);
        let width = job.critic.inputs();
        job.values.clear();
        job.values.reserve(rows);
        job.rows.reserve(rows * width);
        job.critic.reserve_inference(rows, &mut job.scratch);
        let queue = &self.slots.observations;
        let mut staged = queue.staged.lock().unwrap_or_else(|e| e.into_inner());
        staged.clear();
        staged.reserve(rows * width);
        drop(staged);
        queue.pending.store(0, Ordering::Release);
        queue.closed.store(false, Ordering::Release);
        self.slots.jobs.put(Job::Values(job));
    }

    /// Hands `obs` (whole rows) to the critic on the worker.
    pub(crate) fn stage_values(&self, obs: &[f32]) {
        let queue = &self.slots.observations;
        let mut staged = queue.staged.lock().unwrap_or_else(|e| e.into_inner());
        staged.extend_from_slice(obs);
        queue.pending.store(staged.len(), Ordering::Release);
    }

    /// Waits for the worker to value every row staged, gives `critic` back, and returns
    /// the values, one per row in the order staged.
    pub(crate) fn finish_values(&mut self, critic: &mut Mlp) -> &[f32] {
        self.slots.observations.closed.store(true, Ordering::Release);
        let Some(Job::Values(mut job)) = self.slots.done.take() else {
            panic!("the worker thread stopped (it panicked) or returned another job than the values")
        };
        std::mem::swap(&mut job.critic, critic);
        &self.values_job.insert(job).values
    }

    /// The same update as [`update::update`](super::update::update), on two threads.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update(
        &mut self,
        agent: &mut Agent,
        optimizer: &mut Adam,
        buffer: &RolloutBuffer,
        b_inds: &mut [usize],
        rng: &mut Xoshiro256PlusPlus,
        cfg: &UpdateConfig,
    ) -> Result<UpdateStats, NonFiniteLoss> {
        // The optimizer's parameters are the critic's, then the actor's (Agent::params).
        let n_critic = agent.critic_params().count();
        let step = optimizer.step;
        let mut job = self.job.take().expect("the worker's job is home between updates");
        job.half.swap(agent, optimizer, n_critic);
        optimizer.step = step;
        job.buffer.clone_from(buffer);
        job.b_inds.clear();
        job.b_inds.extend_from_slice(b_inds);
        job.rng.clone_from(rng);
        job.cfg = *cfg;
        self.slots.jobs.put(Job::Update(job));
        self.critic.swap(agent, optimizer, n_critic);

        let mut stats = UpdateStats::default();
        let mut error = None;
        let slots = &self.slots;
        run_half(&mut self.critic, buffer, b_inds, rng, cfg, &mut self.minibatches, |half, critic| {
            // clip_grad_norm_'s sum starts with the critic's tensors (CleanRL's order).
            slots.critic_norms.put(half.squared_norm_from(0.0));
            let actor = slots.reports.take().expect("the actor's thread stopped (it panicked)");
            let decision = decide(actor, critic, cfg, &mut stats).unwrap_or_else(|e| {
                error = Some(e);
                Decision::Stop
            });
            slots.decisions.put(decision);
            decision
        });

        self.critic.swap(agent, optimizer, n_critic);
        let critic_steps = optimizer.step;
        let Some(Job::Update(mut job)) = self.slots.done.take() else {
            panic!("the actor's thread stopped (it panicked) or returned another job than the update")
        };
        job.half.swap(agent, optimizer, n_critic);
        assert_eq!(optimizer.step, critic_steps, "the two halves took different numbers of Adam steps");
        self.job = Some(job);
        match error {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

impl Drop for TwoThreads {
    fn drop(&mut self) {
        self.slots.jobs.close();
        self.slots.decisions.close();
        self.slots.critic_norms.close();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A one-value mailbox between the two threads. The waiting side spins (a sleeping
/// thread takes longer to wake than a minibatch half takes), then yields the core in
/// case both threads share one, then, after a millisecond (an idle worker during
/// rollouts and evaluation), sleeps 50 µs at a time.
#[derive(Debug)]
struct Slot<T> {
    value: Mutex<Option<T>>,
    closed: AtomicBool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { value: Mutex::new(None), closed: AtomicBool::new(false) }
    }
}

impl<T> Slot<T> {
    fn put(&self, v: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    }

    /// Waits for a value and takes it; `None` once the slot is closed and empty.
    fn take(&self) -> Option<T> {
        let mut spins = 0u32;
        let mut since: Option<std::time::Instant> = None;
        loop {
            if let Some(v) = self.value.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return Some(v);
            }
            if self.closed.load(Ordering::Acquire) {
                return self.value.lock().unwrap_or_else(|e| e.into_inner()).take();
            }
            spins += 1;
            if spins < 2_000 {
                std::hint::spin_loop();
            } else if since.get_or_insert_with(std::time::Instant::now).elapsed().as_micros() < 1_000 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// Closes a [`Slot`] when dropped.
struct CloseOnDrop<'a, T>(&'a Slot<T>);

impl<T> Drop for CloseOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

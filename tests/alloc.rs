//! Steady-state training allocates nothing of its own, proved with a counting global
//! allocator.
//!
//! One exception is outside our code: `matrixmultiply::sgemm` allocates its packing
//! buffer on every call (`make_packing_buffer` in its `gemm.rs`). The update's matrix
//! products go through it, so the test expects exactly one allocation per such call and
//! nothing else; the rollout uses our own kernels and must allocate nothing at all.

use ppo::ppo::{PpoConfig, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// matrixmultiply calls per minibatch for a 2-hidden-layer actor and critic: each
/// network's 3 layers run 3 forward products, 3 weight gradients, and 2 input gradients
/// (the observation needs none).
const SGEMM_CALLS_PER_MINIBATCH: usize = 2 * (3 + 3 + 2);

#[test]
fn steady_state_training_allocates_only_inside_matrixmultiply() {
    // Evaluation and logging are off; the test is single-threaded (one test in this file).
    let config = PpoConfig { total_timesteps: 1 << 20, ..PpoConfig::default() };
    let mut trainer = Trainer::new(config.clone()).unwrap();
    // Warm up: the first iterations grow every reusable buffer to its size.
    for _ in 0..3 {
        trainer.iterate().unwrap();
    }
    for _ in 0..3 {
        let rollout = allocations_during(|| trainer.collect_rollout().unwrap());
        assert_eq!(rollout, 0, "a rollout of {} steps allocated {rollout} times", config.batch_size());
        let mut steps = 0;
        let update = allocations_during(|| steps = trainer.update(2.5e-4, 0.2).unwrap().n_minibatch_steps);
        assert_eq!(steps, config.n_minibatches * config.update_epochs);
        assert_eq!(
            update,
            steps * SGEMM_CALLS_PER_MINIBATCH,
            "an update of {steps} minibatches allocated {update} times; matrixmultiply accounts for {}",
            steps * SGEMM_CALLS_PER_MINIBATCH
        );
    }
}

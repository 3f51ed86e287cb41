//! A pool of threads that persist for the whole run, and the one way the kernels use
//! it: a job's output split into disjoint parts, each part computed by one task.
//!
//! **Same bits on any number of threads.** A kernel on the pool splits only what it
//! writes (the rows of a product, the samples of a convolution, the output channels of a
//! weight gradient), never a sum: every output value is computed by the same operations
//! in the same order as on one thread, whichever thread computes it. So a run gives the
//! same bits with `threads = 1, 2, 3, …` (the tests compare them), and one thread is the
//! plain reference: [`Pool::new`]`(1)` starts no thread and runs every task in turn on
//! the caller's.
//!
//! **How a job runs.** [`Pool::run`] publishes the job and wakes the workers; the caller
//! and the workers take task numbers from one counter until none is left; the caller
//! returns once every worker has finished with the job. A panic in a task reaches the
//! caller after all the others have finished.
//!
//! **Safety.** The workers live as long as the pool, but a job borrows the caller's
//! data, so [`Pool::run`] hands them a reference whose lifetime it extends by one
//! `unsafe` conversion. That is sound because `run` does not return, nor unwind, before
//! every worker has stopped using the reference (the `SAFETY:` comment says how).
//! This file imports nothing of the crate.
#![allow(unsafe_code)]

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A job as the workers see it: the task to call with each number below `tasks`.
#[derive(Clone, Copy)]
struct Job {
    task: &'static (dyn Fn(usize) + Sync),
    tasks: usize,
}

/// What the caller and the workers share, behind the lock.
struct State {
    /// The current job, while one runs.
    job: Option<Job>,
    /// Counts the jobs published, so that a worker takes each job once.
    generation: u64,
    /// Workers that have not yet finished the current job.
    running: usize,
    /// Whether a task of the current job panicked on a worker.
    panicked: bool,
    /// Set when the pool is dropped: the workers return.
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the workers for a new job (or the shutdown).
    start: Condvar,
    /// Wakes the caller when the last worker has finished the job.
    done: Condvar,
    /// The next task number to take.
    next: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held (tasks run outside it), so a
        // poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes task numbers until none is left, calling `task` on each.
    fn work(&self, task: &(dyn Fn(usize) + Sync), tasks: usize) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= tasks {
                return;
            }
            task(i);
        }
    }
}

/// Threads that persist for the pool's life and run [`Pool::run`]'s tasks.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} threads)", self.threads())
    }
}

impl Default for Pool {
    /// One thread: the caller's, no worker.
    fn default() -> Pool {
        Pool::new(1)
    }
}

impl Pool {
    /// A pool of `threads` threads in all: the caller's and `threads − 1` workers
    /// (none for 0 or 1; at most [`MAX_THREADS`]).
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { job: None, generation: 0, running: 0, panicked: false, shutdown: false }),
            start: Condvar::new(),
            done: Condvar::new(),
            next: AtomicUsize::new(0),
        });
        let workers = (1..threads.clamp(1, MAX_THREADS))
            .map(|w| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("ppo-pool-{w}"))
                    .spawn(move || worker(&shared))
                    .expect("the pool's worker thread could not be started")
            })
            .collect();
        Pool { shared, workers }
    }

    /// The threads that run tasks: the workers and the caller.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `task(i)` for every `i` in `0..tasks`, spread over the pool's threads, and
    /// returns when all have returned. With one thread, or one task, they run in order
    /// on the caller's thread. A panic in any task is raised here, after the others.
    pub fn run(&self, tasks: usize, task: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || tasks <= 1 {
            (0..tasks).for_each(task);
            return;
        }
        // SAFETY: the workers hold this reference only between taking the job below and
        // decrementing `running`; this function returns (or resumes a panic) only after
        // `running` is back to 0 and the job is cleared, so the borrow outlives every use.
        let erased: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(task) };
        {
            let mut state = self.shared.lock();
            self.shared.next.store(0, Ordering::Relaxed);
            state.job = Some(Job { task: erased, tasks });
            state.generation += 1;
            state.running = self.workers.len();
            state.panicked = false;
            self.shared.start.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| self.shared.work(task, tasks)));
        let mut state = self.shared.lock();
        while state.running > 0 {
            state = self.shared.done.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.job = None;
        let theirs = state.panicked;
        drop(state);
        if let Err(payload) = mine {
            resume_unwind(payload);
        }
        assert!(!theirs, "a task of the pool panicked on a worker thread");
    }

    /// Splits `out`, which holds `items` items of equal length, into one even run of
    /// items per thread (at most one per item; [`split_evenly`]) and calls
    /// `f(task, item_range, part)` for each run, on the pool: the form every kernel on the
    /// pool takes, each part written by one task. Allocates nothing.
    pub fn split_items<T: Send>(
        &self,
        out: &mut [T],
        items: usize,
        f: impl Fn(usize, std::ops::Range<usize>, &mut [T]) + Sync,
    ) {
        let tasks = self.threads().min(items).min(MAX_THREADS);
        let each = out.len().checked_div(items).unwrap_or(0);
        assert_eq!(each * items, out.len(), "{} values do not split into {items} items", out.len());
        let mut parts: [Slot<'_, T>; MAX_THREADS] = std::array::from_fn(|_| Mutex::new(None));
        let mut rest = out;
        for (slot, range) in parts.iter_mut().zip(split_evenly(items, tasks)) {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(range.len() * each);
            *slot.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((range, part));
            rest = tail;
        }
        self.run(tasks, &|i| {
            let mut slot = parts[i].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (range, part) = slot.take().expect("each part is taken once");
            f(i, range, part)
        });
    }
}

/// A task's part of [`Pool::split_items`]: its items and their values, until it takes them.
type Slot<'a, T> = Mutex<Option<(std::ops::Range<usize>, &'a mut [T])>>;

/// The most threads a pool runs ([`Pool::new`] starts at most this many).
pub const MAX_THREADS: usize = 64;

/// `total` items in `parts` consecutive runs as even as can be (the first ones one
/// longer): the item ranges of a job's tasks.
pub fn split_evenly(total: usize, parts: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let parts = parts.max(1);
    let (each, extra) = (total / parts, total % parts);
    (0..parts).map(move |i| {
        let start = i * each + i.min(extra);
        start..start + each + usize::from(i < extra)
    })
}

fn worker(shared: &Shared) {
    let mut seen = 0;
    loop {
        let job = {
            let mut state = shared.lock();
            while state.generation == seen && !state.shutdown {
                state = shared.start.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.shutdown {
                return;
            }
            seen = state.generation;
            state.job.expect("a new generation carries a job")
        };
        let result = catch_unwind(AssertUnwindSafe(|| shared.work(job.task, job.tasks)));
        let mut state = shared.lock();
        state.panicked |= result.is_err();
        state.running -= 1;
        if state.running == 0 {
            shared.done.notify_one();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.start.notify_all();
        for w in self.workers.drain(..) {
            // A worker only ends by returning (its tasks' panics are caught).
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task runs exactly once, on any number of threads, job after job.
    #[test]
    fn every_task_runs_once() {
        for threads in [1, 2, 3, 8] {
            let pool = Pool::new(threads);
            assert_eq!(pool.threads(), threads);
            for tasks in [0, 1, 2, 5, 64] {
                let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                pool.run(tasks, &|i| {
                    counts[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1), "{threads} threads, {tasks} tasks");
            }
        }
    }

    /// Parts are even runs of whole items, in place, each written by its own task.
    #[test]
    fn parts_are_disjoint_and_in_place() {
        let lens: Vec<usize> = split_evenly(10, 4).map(|r| r.len()).collect();
        assert_eq!(lens, [3, 3, 2, 2]);
        let pool = Pool::new(4);
        let mut out = vec![0usize; 20];
        pool.split_items(&mut out, 10, |task, items, part| {
            assert_eq!(part.len(), 2 * items.len());
            part.iter_mut().for_each(|v| *v = task + 1)
        });
        assert_eq!(out, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
        // Fewer items than threads: one task per item.
        let mut out = vec![0usize; 2];
        pool.split_items(&mut out, 2, |task, _, part| part[0] = task + 1);
        assert_eq!(out, [1, 2]);
    }

    /// A panic in a task reaches the caller, and the pool still runs the next job.
    #[test]
    fn a_panic_reaches_the_caller() {
        let pool = Pool::new(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.run(8, &|i| assert!(i != 5, "task 5 fails"));
        }));
        assert!(caught.is_err());
        let done = AtomicUsize::new(0);
        pool.run(4, &|_| {
            done.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(done.load(Ordering::Relaxed), 4);
    }
}

//! A small persistent worker pool for the kernels' per-step parallelism.
//!
//! The workers of one call meet at a barrier every time step, so they must really run at the
//! same time on different cores. Threads spawned per call often start on their parent's core
//! and wait there for the scheduler to move them (milliseconds), which turns every barrier into
//! a context switch; persistent workers stay where they are. Workers park on a condition
//! variable between calls. One call uses the pool at a time: a concurrent caller runs its work
//! on its own thread instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// The type-erased work of one call: `work(worker)` for workers `1..threads`.
type Work = dyn Fn(usize) + Sync;

struct Job {
    /// Points at a `&Work` that outlives the call (`run` waits for every worker).
    work: *const Work,
    threads: usize,
}

// SAFETY: the pointee is `Sync` and outlives every use (see `Pool::run`).
unsafe impl Send for Job {}

struct State {
    generation: u64,
    job: Option<Job>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: AtomicUsize,
}

/// The pool: `workers` threads besides the caller's.
pub struct Pool {
    shared: Arc<Shared>,
    workers: usize,
    busy: Mutex<()>,
}

impl Pool {
    fn new(workers: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                job: None,
            }),
            wake: Condvar::new(),
            done: AtomicUsize::new(0),
        });
        for index in 1..=workers {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("burn-rnn-{index}"))
                .spawn(move || worker(shared, index))
                .expect("spawning a burn-rnn kernel thread");
        }
        Self {
            shared,
            workers,
            busy: Mutex::new(()),
        }
    }

    /// The most workers a call can get: the pool's threads plus the caller's.
    pub fn max_threads(&self) -> usize {
        self.workers + 1
    }

    /// Runs `work(i)` for `i` in `0..threads` at the same time, `0` on the caller's thread.
    /// Falls back to running only on the caller's thread (with `threads = 1`) when the pool is
    /// busy with another call; `work` receives the thread count it really got.
    pub fn run(&self, threads: usize, work: &(dyn Fn(usize, usize) + Sync)) {
        let threads = threads.min(self.workers + 1);
        let guard = match threads > 1 {
            true => self.busy.try_lock().ok(),
            false => None,
        };
        let Some(_guard) = guard else {
            work(0, 1);
            return;
        };
        let erased = move |i: usize| work(i, threads);
        let erased: &(dyn Fn(usize) + Sync + '_) = &erased;
        self.shared.done.store(0, Ordering::Release);
        {
            let mut state = self.shared.state.lock().expect("pool state");
            state.generation += 1;
            state.job = Some(Job {
                // SAFETY (lifetime erasure): this function does not return before every worker
                // has finished with the job (the `done` count below).
                work: unsafe {
                    std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Work>(erased)
                },
                threads,
            });
        }
        self.shared.wake.notify_all();
        erased(0);
        let mut spins = 0u32;
        while self.shared.done.load(Ordering::Acquire) < threads - 1 {
            spins += 1;
            match spins < 1 << 10 {
                true => std::hint::spin_loop(),
                false => std::thread::yield_now(),
            }
        }
        self.shared.state.lock().expect("pool state").job = None;
    }
}

fn worker(shared: Arc<Shared>, index: usize) {
    let mut seen = 0u64;
    loop {
        let (work, threads) = {
            let mut state = shared.state.lock().expect("pool state");
            while state.generation == seen || state.job.is_none() {
                state = shared.wake.wait(state).expect("pool state");
            }
            seen = state.generation;
            let job = state.job.as_ref().expect("checked above");
            (job.work, job.threads)
        };
        if index < threads {
            // SAFETY: `Pool::run` keeps the work alive until `done` counts this worker.
            unsafe { (*work)(index) };
            shared.done.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The process-wide pool, sized by [`super::num_threads`] at first use.
pub fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(super::num_threads().saturating_sub(1)))
}

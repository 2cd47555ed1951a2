//! Threads: a call's [`Job`] on the persistent worker pool with a spinning barrier per step,
//! shared raw buffers ([`Ptr`]), the threaded GEMM and the big zeroed buffers.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::gemm::{sgemm, Mat, MatMut};
use crate::pool;
use crate::simd::{Simd, WithSimd};

/// A worker's share of a call: every time step for a range of tiles.
pub(crate) trait Job: Sync {
    /// Runs every step for the units of `tiles`, on path `S`.
    ///
    /// # Safety
    /// `S` must be available; the buffers must have the extents the call checked, and
    /// concurrent workers must own disjoint tile ranges and share `barrier`.
    unsafe fn run<S: Simd>(&self, tiles: std::ops::Range<usize>, barrier: &SpinBarrier);
}

/// [`Job::run`] as a [`WithSimd`] operation, for [`dispatch`](crate::simd::dispatch).
pub(crate) struct RunJob<'a, J: Job> {
    pub(crate) job: &'a J,
    pub(crate) tiles: std::ops::Range<usize>,
    pub(crate) barrier: &'a SpinBarrier,
}

impl<J: Job> WithSimd for RunJob<'_, J> {
    type Output = ();

    #[inline(always)]
    unsafe fn run<S: Simd>(self) {
        self.job.run::<S>(self.tiles, self.barrier)
    }
}

/// A raw `f32` buffer shared by the workers of one call (each writes disjoint ranges).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ptr(*mut f32, usize);

// SAFETY: `Ptr` is only dereferenced inside `parallel`'s scope, on ranges the workers own.
unsafe impl Send for Ptr {}
// SAFETY: as above.
unsafe impl Sync for Ptr {}

impl Ptr {
    pub(crate) fn of(buffer: &mut [f32]) -> Self {
        Self(buffer.as_mut_ptr(), buffer.len())
    }

    pub(crate) fn null() -> Self {
        Self(std::ptr::null_mut(), 0)
    }

    pub(crate) fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// # Safety
    /// No one may write `[at, at + len)` while the slice lives.
    #[inline(always)]
    pub(crate) unsafe fn slice<'a>(self, at: usize, len: usize) -> &'a [f32] {
        assert!(at + len <= self.1, "buffer range out of bounds");
        std::slice::from_raw_parts(self.0.add(at), len)
    }

    /// # Safety
    /// No one else may touch `[at, at + len)` while the slice lives.
    #[inline(always)]
    // Workers write disjoint ranges of one shared buffer through `&self`: that is the point.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut<'a>(self, at: usize, len: usize) -> &'a mut [f32] {
        assert!(at + len <= self.1, "buffer range out of bounds");
        std::slice::from_raw_parts_mut(self.0.add(at), len)
    }
}

/// A barrier for the workers of one call that spins (then yields): steps are microseconds
/// apart, far below what a sleeping barrier wakes up in.
pub(crate) struct SpinBarrier {
    arrived: AtomicUsize,
    threads: usize,
}

impl SpinBarrier {
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            arrived: AtomicUsize::new(0),
            threads,
        }
    }

    /// Waits until every worker has called `wait` as often as this one (`round` counts).
    pub(crate) fn wait(&self, round: &mut usize) {
        if self.threads == 1 {
            return;
        }
        *round += 1;
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let target = *round * self.threads;
        let mut spins = 0u32;
        while self.arrived.load(Ordering::Acquire) < target {
            spins += 1;
            if spins < 1 << 10 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Runs `work(worker, workers, barrier)` on up to `threads` workers at once (the caller's
/// thread is worker 0, the others come from the persistent [`pool`]); `workers` is the count
/// really used (1 when the pool is busy with another call).
pub(crate) fn parallel(threads: usize, work: impl Fn(usize, usize, &SpinBarrier) + Sync) {
    let solo = SpinBarrier::new(1);
    if threads <= 1 {
        work(0, 1, &solo);
        return;
    }
    let pool = pool::pool();
    let barrier = SpinBarrier::new(threads.min(pool.max_threads()));
    pool.run(threads, &|worker, workers| match workers {
        1 => work(0, 1, &solo),
        _ => work(worker, workers, &barrier),
    });
}

/// `c = a b + beta c`, the rows of `c` split across the kernel threads when the product is
/// big enough to pay for it (the input projections and the weight gradients).
pub fn par_sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: MatMut<'_>) {
    const MIN_WORK: usize = 1 << 21;
    let work = a.shape().0 * a.shape().1 * b.shape().1;
    let rows = a.shape().0;
    let threads = match work >= MIN_WORK && rows >= 32 {
        true => num_threads().min(rows / 16).max(1),
        false => 1,
    };
    if threads == 1 {
        return sgemm(a, b, beta, c);
    }
    let blocks: Vec<std::sync::Mutex<Option<(usize, MatMut<'_>)>>> = c
        .split_rows(rows.div_ceil(threads))
        .into_iter()
        .map(|block| std::sync::Mutex::new(Some(block)))
        .collect();
    parallel(threads, |worker, workers, _| {
        for slot in blocks.iter().skip(worker).step_by(workers) {
            let taken = slot.lock().expect("gemm block").take();
            if let Some((start, block)) = taken {
                let n = block.shape().0;
                sgemm(a.rows(start, n), b, beta, block);
            }
        }
    });
}

/// A zeroed buffer of `len` values for a kernel's output; on Linux, buffers of 4 MiB and more
/// ask for transparent huge pages before their first touch.
///
/// The first write to each page of a fresh allocation faults into the kernel; at 4 KiB per
/// fault, the outputs of one long sequence cost thousands of faults per call (measured: about
/// a fifth of a Braun-config forward on a 2-core AMD EPYC machine), and 2 MiB pages cut that 512-fold.
pub fn zeroed(len: usize) -> Vec<f32> {
    let v = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    if len * 4 >= 4 << 20 {
        // SAFETY: the range is this vector's own allocation; MADV_HUGEPAGE changes no contents
        // and its failure (e.g. THP disabled) is harmless.
        unsafe {
            libc::madvise(
                v.as_ptr() as *mut libc::c_void,
                len * 4,
                libc::MADV_HUGEPAGE,
            );
        }
    }
    v
}

/// Part `i` of `0..total` split into `parts` contiguous ranges.
pub(crate) fn split(total: usize, parts: usize, i: usize) -> std::ops::Range<usize> {
    total * i / parts..total * (i + 1) / parts
}

/// Workers for a call whose per-step matmul is `work` multiply-adds over `tiles` tiles: one
/// unless the step is big enough to pay for a barrier per step.
pub(crate) fn threads_for(work: usize, tiles: usize) -> usize {
    const MIN_WORK: usize = 1 << 17;
    match work >= MIN_WORK {
        true => num_threads().min(tiles).max(1),
        false => 1,
    }
}

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads the fused CPU kernels use (0: the default, the
/// `BURN_RNN_NUM_THREADS` environment variable or else the available parallelism).
pub fn set_num_threads(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

/// The number of threads the fused CPU kernels use for big enough steps.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            static DEFAULT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
            *DEFAULT.get_or_init(|| {
                std::env::var("BURN_RNN_NUM_THREADS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            })
        }
        n => n,
    }
}

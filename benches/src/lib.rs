//! What both benchmark binaries (`rnn-bench` and `conv`) share: the CPU's name, the PyTorch
//! child's environment (allocator policy, instruction-set cap) and a heap-counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn_rnn::kernels::{isa, Isa};

/// The glibc tunables that keep freed memory in the process, for the PyTorch child (see
/// `rnn-bench --help`): without them each fresh multi-megabyte output costs a page fault per
/// 4 KiB on both sides.
pub const KEEP_FREED: &str = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647";

/// The environment that caps PyTorch (oneDNN, MKL, ATen) to AVX2.
const AVX2_CAP: [(&str, &str); 3] = [
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    ("ATEN_CPU_CAPABILITY", "avx2"),
];

/// Whether our kernels run AVX2 on a CPU that has AVX-512 (`BURN_RNN_ISA=avx2`): PyTorch is
/// then capped to AVX2 too, which is what a user of an AVX2-only CPU runs.
pub fn torch_capped() -> bool {
    isa() == Isa::Avx2 && Isa::best() != Isa::Avx2
}

/// Sets PyTorch's instruction-set cap on `command` when [`torch_capped`].
pub fn cap_torch(command: &mut Command) {
    if torch_capped() {
        command.envs(AVX2_CAP);
    }
}

/// The line that says how PyTorch's instruction set was chosen.
pub fn torch_isa_note() -> String {
    match torch_capped() {
        true => format!(
            "PyTorch capped to AVX2 like our path ({})",
            AVX2_CAP.map(|(k, v)| format!("{k}={v}")).join(" ")
        ),
        false => "PyTorch on its own choice of instruction set".to_string(),
    }
}

/// The CPU's model name from `/proc/cpuinfo` (`unknown CPU` elsewhere).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// The system allocator, counting the bytes in use and their peak: install it with
/// `#[global_allocator]` to read [`heap_peak_mib`]. Two relaxed atomics per call.
pub struct CountingAlloc;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(bytes: usize) {
    let now = IN_USE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Starts a heap-peak measurement: the peak becomes the bytes in use now, which it returns
/// (with [`CountingAlloc`] installed; 0 without).
pub fn reset_heap_peak() -> usize {
    let now = IN_USE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// How far the heap rose above `start` (a [`reset_heap_peak`] result) since, in MiB.
pub fn heap_peak_mib(start: usize) -> f64 {
    PEAK.load(Ordering::Relaxed).saturating_sub(start) as f64 / (1024.0 * 1024.0)
}

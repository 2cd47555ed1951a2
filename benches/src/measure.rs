//! Timing one config on one backend (ours fused, ours reference, `burn::nn`), and the
//! formatting of a table row that the CPU and GPU tables share.

use std::time::{Duration, Instant};

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_autodiff::Autodiff;
use burn_rnn::{AnyRecurrent, AnyRecurrentConfig, CellKind, ExecutionPath, RnnBackend};

use crate::shape::Shape;

/// Median milliseconds of `f` over at least 3 runs and `budget` seconds, after one warm-up.
pub fn median_ms(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < 200) {
        let t0 = Instant::now();
        f();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Our layer of `s`'s kind and sizes, running on `path`.
fn ours<Bk: RnnBackend>(s: &Shape, path: ExecutionPath, device: &Bk::Device) -> AnyRecurrent<Bk> {
    AnyRecurrentConfig::new(s.kind, s.input, s.hidden)
        .with_proj_size(s.proj)
        .init(device)
        .with_path(path)
}

/// `burn::nn`'s layer of a config's kind.
// One layer exists per timing, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Theirs<Bk: Backend> {
    /// `burn::nn::Rnn`.
    Rnn(burn::nn::Rnn<Bk>),
    /// `burn::nn::Lstm`.
    Lstm(burn::nn::Lstm<Bk>),
    /// `burn::nn::Gru`.
    Gru(burn::nn::Gru<Bk>),
}

impl<Bk: Backend> Theirs<Bk> {
    /// The layer of `s`'s kind and sizes, with biases.
    fn new(s: &Shape, device: &Bk::Device) -> Self {
        match s.kind {
            CellKind::RnnTanh => {
                Theirs::Rnn(burn::nn::RnnConfig::new(s.input, s.hidden, true).init(device))
            }
            CellKind::RnnRelu => unimplemented!("no relu RNN config in the bench"),
            CellKind::Lstm => {
                Theirs::Lstm(burn::nn::LstmConfig::new(s.input, s.hidden, true).init(device))
            }
            CellKind::Gru => {
                Theirs::Gru(burn::nn::GruConfig::new(s.input, s.hidden, true).init(device))
            }
        }
    }

    /// The output sequence `[N, L, H]` of `x: [N, L, H_in]` from a zero state.
    fn forward(&self, x: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
        match self {
            Theirs::Rnn(m) => m.forward(x, None).0,
            Theirs::Lstm(m) => m.forward(x, None).0,
            Theirs::Gru(m) => m.forward(x, None),
        }
    }
}

/// Which implementation a timing is of.
#[derive(Debug, Clone, Copy)]
pub enum Impl {
    /// burn-rnn on [`ExecutionPath::Fused`].
    Fused,
    /// burn-rnn on [`ExecutionPath::Reference`].
    Reference,
    /// `burn::nn`'s layer (which has no LSTM projection).
    BurnNn,
}

impl Impl {
    /// The execution path of ours, `None` for `burn::nn`.
    fn path(self) -> Option<ExecutionPath> {
        match self {
            Impl::Fused => Some(ExecutionPath::Fused),
            Impl::Reference => Some(ExecutionPath::Reference),
            Impl::BurnNn => None,
        }
    }
}

/// Median milliseconds of `finish(layer.forward(x))` for a random `x: [N, L, H_in]` on `Bk`.
fn time_on<Bk: RnnBackend>(
    s: &Shape,
    which: Impl,
    budget: Duration,
    device: &Bk::Device,
    finish: impl Fn(Tensor<Bk, 3>),
) -> f64 {
    let x = Tensor::<Bk, 3>::random([s.batch, s.seq, s.input], Distribution::Default, device);
    match which.path() {
        Some(path) => {
            let m = ours::<Bk>(s, path, device);
            median_ms(budget, || finish(m.forward(x.clone(), None).output))
        }
        None => {
            let m = Theirs::<Bk>::new(s, device);
            median_ms(budget, || finish(m.forward(x.clone())))
        }
    }
}

/// Forward-only milliseconds on `Bk`, the device synced inside the timed region.
pub fn time_forward_on<Bk: RnnBackend>(s: &Shape, which: Impl, budget: Duration) -> f64 {
    let device = Default::default();
    time_on::<Bk>(s, which, budget, &device, |out| {
        drop(out);
        Bk::sync(&device).expect("the device syncs");
    })
}

/// Training-step milliseconds on `Autodiff<Bk>`: forward, `mean(output^2)`, backward, sync.
pub fn time_train_on<Bk: RnnBackend>(s: &Shape, which: Impl, budget: Duration) -> f64 {
    let device = Default::default();
    time_on::<Autodiff<Bk>>(s, which, budget, &device, |out| {
        drop(out.powi_scalar(2).mean().backward());
        Bk::sync(&device).expect("the device syncs");
    })
}

/// The mode column: `training` or `forward`.
pub fn mode(train: bool) -> &'static str {
    if train {
        "training"
    } else {
        "forward"
    }
}

/// One row's milliseconds: ours fused, and the baselines that ran.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Ours on the fused path.
    pub fused: f64,
    /// Ours on the reference path, when the slow baselines ran.
    pub reference: Option<f64>,
    /// `burn::nn`, when the slow baselines ran.
    pub burn_nn: Option<f64>,
    /// PyTorch, when it ran and has this config.
    pub torch: Option<f64>,
    /// PyTorch's time over ours fused (the median of interleaved rounds' ratios, or
    /// `torch / fused` of one run).
    pub vs_torch: Option<f64>,
}

impl Row {
    /// Times ours fused with `time`, and the reference path and `burn::nn` too when
    /// `baselines`; `torch` is PyTorch's time of the same config and mode.
    #[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))] // the GPU table
    pub fn measure(time: impl Fn(Impl) -> f64, baselines: bool, torch: Option<f64>) -> Self {
        let fused = time(Impl::Fused);
        Row {
            fused,
            reference: baselines.then(|| time(Impl::Reference)),
            burn_nn: baselines.then(|| time(Impl::BurnNn)),
            torch,
            vs_torch: torch.map(|t| t / fused),
        }
    }

    /// The time columns: `fused | reference | burn::nn | PyTorch`.
    pub fn times(&self) -> String {
        format!(
            "{} | {} | {} | {}",
            fmt_ms(Some(self.fused)),
            fmt_ms(self.reference),
            fmt_ms(self.burn_nn),
            fmt_ms(self.torch)
        )
    }

    /// The ratio columns, each the other's time over ours fused: `vs reference | vs burn::nn |
    /// vs PyTorch`.
    pub fn ratios(&self) -> String {
        format!(
            "{} | {} | {}",
            fmt_ratio(self.reference, self.fused),
            fmt_ratio(self.burn_nn, self.fused),
            self.vs_torch
                .map_or("-".to_string(), |r| format!("{r:.2}x"))
        )
    }
}

/// Milliseconds with 3 significant digits or so (`-` for none).
fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms >= 100.0 => format!("{ms:.0}"),
        Some(ms) if ms >= 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.2}"),
        None => "-".to_string(),
    }
}

/// `other / ours` as `1.23x` (`-` for no other).
fn fmt_ratio(other: Option<f64>, ours: f64) -> String {
    match other {
        Some(o) => format!("{:.2}x", o / ours),
        None => "-".to_string(),
    }
}

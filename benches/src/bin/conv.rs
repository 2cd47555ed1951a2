//! The convolution benchmark: burn-rnn's `Conv2d`, `BatchNorm2d` and `MaxPool2d` (the rnn-cpu
//! kernels) against `burn::nn`'s on the same ndarray backend and against PyTorch, in interleaved
//! rounds, on one CPU with the same thread count.
//!
//! `cargo run --release -p rnn-bench --bin conv -- --python <python with torch>` prints one
//! Markdown table: per config, forward (inference: no autodiff here, `eval()` and `no_grad` in
//! PyTorch, batch norm on the running statistics) and a training step (forward + backward of
//! `mean(y^2)`, input, weights and biases tracked). Each round times ours, then Burn's, then
//! PyTorch's (a child process running `benches/pytorch_conv.py`); a cell is the median over the
//! rounds, and a ratio the median of the rounds' ratios. When `BURN_RNN_ISA` forces a path below
//! the CPU's best, PyTorch is capped to the same instruction set (oneDNN, MKL and ATen).
//!
//! Configs: `conv`, one 3x3 convolution 32 -> 64 on `[32, 32, 16, 80]`; `crnn`, a CRNN's conv
//! stack (widths 16-32-64-64, each conv 3x3 + BatchNorm + ReLU + max-pool, 2x2 pools then (2, 1)
//! pools) on a batch of 32 lines of 32x160; `crnn_wide`, the same at widths 32-64-128-128;
//! `convlstm`, a ConvLSTM layer 16 -> 32 channels, 3x3, on `[8, 10, 16, 64, 64]`
//! (`[N, L, C, H, W]`), against the PyTorch port's formulation (`burn::nn` has no ConvLSTM).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use burn_rnn::kernels::isa;
use burn_rnn::RnnBackend;
use clap::Parser;
use rnn_bench::{cpu_model, KEEP_FREED};

type Nd = NdArray<f32>;
type Ad = Autodiff<Nd>;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "burn-rnn's Conv2d vs burn::nn's vs PyTorch, side by side")]
struct Args {
    /// Interleaved rounds (ours, burn::nn, PyTorch); each cell is the median over them.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Timed runs per round of ours and PyTorch (after a warm-up); burn::nn runs once a round.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Threads for both sides; default: all cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Python interpreter with torch installed (PyTorch's column is skipped without it).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Configs to run, comma-separated (`conv`, `crnn`, `crnn_wide`, `convlstm`).
    #[arg(long, default_value = "conv,crnn,crnn_wide,convlstm")]
    configs: String,
    /// Skip burn::nn's convolution (seconds per training step).
    #[arg(long)]
    no_burn: bool,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One block of either column: burn-rnn's modules or `burn::nn`'s.
enum Block<B: Backend> {
    /// burn-rnn's `Conv2d`, then `BatchNorm2d` + ReLU + `MaxPool2d` when pooled.
    Ours(
        burn_rnn::conv::Conv2d<B>,
        Option<(burn_rnn::conv::BatchNorm2d<B>, burn_rnn::conv::MaxPool2d)>,
    ),
    /// `burn::nn`'s.
    Burn(burn::nn::conv::Conv2d<B>, Option<(BatchNorm<B>, MaxPool2d)>),
}

impl<B: RnnBackend> Block<B> {
    fn new(ours: bool, channels: [usize; 2], pool: Option<[usize; 2]>, device: &B::Device) -> Self {
        let padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
        let c = channels[1];
        match ours {
            true => Block::Ours(
                burn_rnn::conv::Conv2dConfig::new(channels, [3, 3])
                    .with_padding(padding)
                    .init(device),
                pool.map(|p| {
                    (
                        burn_rnn::conv::BatchNorm2dConfig::new(c).init(device),
                        burn_rnn::conv::MaxPool2dConfig::new(p).init(),
                    )
                }),
            ),
            false => Block::Burn(
                burn::nn::conv::Conv2dConfig::new(channels, [3, 3])
                    .with_padding(padding)
                    .init(device),
                pool.map(|p| {
                    (
                        BatchNormConfig::new(c).init(device),
                        MaxPool2dConfig::new(p).init(),
                    )
                }),
            ),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        use burn::tensor::activation::relu;
        match self {
            Block::Ours(conv, rest) => {
                let x = conv.forward(x);
                match rest {
                    Some((bn, pool)) => pool.forward(relu(bn.forward(x))),
                    None => x,
                }
            }
            Block::Burn(conv, rest) => {
                let x = conv.forward(x);
                match rest {
                    Some((bn, pool)) => pool.forward(relu(bn.forward(x))),
                    None => x,
                }
            }
        }
    }
}

/// A config: a stack of blocks and its input.
struct Model<B: Backend> {
    blocks: Vec<Block<B>>,
    input: [usize; 4],
}

impl<B: RnnBackend> Model<B> {
    fn new(name: &str, ours: bool, device: &B::Device) -> Self {
        let stack = |widths: [usize; 4]| {
            let mut c_in = 1;
            let blocks = widths
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let pool = if i < 2 { [2, 2] } else { [2, 1] };
                    let block = Block::new(ours, [c_in, c], Some(pool), device);
                    c_in = c;
                    block
                })
                .collect();
            Model {
                blocks,
                input: [32, 1, 32, 160],
            }
        };
        match name {
            "conv" => Model {
                blocks: vec![Block::new(ours, [32, 64], None, device)],
                input: [32, 32, 16, 80],
            },
            "crnn" => stack([16, 32, 64, 64]),
            "crnn_wide" => stack([32, 64, 128, 128]),
            other => {
                eprintln!(
                    "error: --configs: unknown config `{other}` (expected conv, crnn, crnn_wide \
                     or convlstm)"
                );
                std::process::exit(2);
            }
        }
    }

    fn forward(&self, mut x: Tensor<B, 4>) -> Tensor<B, 4> {
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }
}

/// Median milliseconds of `reps` runs of `f` after one warm-up.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The `convlstm` config's layer and input: ConvLSTM 16 -> 32 channels, 3x3, on
/// `[8, 10, 16, 64, 64]` (`[N, L, C, H, W]`).
const CONVLSTM_INPUT: [usize; 5] = [8, 10, 16, 64, 64];

/// `(forward_ms, train_ms)` of our ConvLSTM (`burn::nn` has none: NaN for Burn's column).
fn time_convlstm(ours: bool, reps: usize) -> (f64, f64) {
    if !ours {
        return (f64::NAN, f64::NAN);
    }
    let device = Default::default();
    let config = burn_rnn::convrnn::ConvLstmConfig::new(16, 32, 3);
    let layer = config.init::<Nd>(&device);
    let x = Tensor::<Nd, 5>::random(CONVLSTM_INPUT, Distribution::Default, &device);
    let forward = median_ms(reps, || {
        let _ = layer.forward(x.clone(), None).output.into_data();
    });
    let layer = config.init::<Ad>(&device);
    let x = Tensor::<Ad, 5>::random(CONVLSTM_INPUT, Distribution::Default, &device);
    let train = median_ms(reps, || {
        let x = x.clone().detach().require_grad();
        let y = layer.forward(x, None).output;
        drop(y.powi_scalar(2).mean().backward());
    });
    (forward, train)
}

/// `(forward_ms, train_ms)` of one config on our or Burn's convolution.
fn time_rust(name: &str, ours: bool, reps: usize) -> (f64, f64) {
    if name == "convlstm" {
        return time_convlstm(ours, reps);
    }
    let device = Default::default();
    let model = Model::<Nd>::new(name, ours, &device);
    let x = Tensor::<Nd, 4>::random(model.input, Distribution::Default, &device);
    let forward = median_ms(reps, || {
        let _ = model.forward(x.clone()).into_data();
    });
    let model = Model::<Ad>::new(name, ours, &device);
    let x = Tensor::<Ad, 4>::random(model.input, Distribution::Default, &device);
    let train = median_ms(reps, || {
        let x = x.clone().detach().require_grad();
        let grads = model.forward(x).powi_scalar(2).mean().backward();
        drop(grads);
    });
    (forward, train)
}

/// PyTorch's `(forward_ms, train_ms)` per config, or why it could not run.
fn time_torch(args: &Args, threads: usize) -> Result<serde_json::Value, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pytorch_conv.py");
    let mut command = Command::new(&args.python);
    command.env("GLIBC_TUNABLES", KEEP_FREED);
    rnn_bench::cap_torch(&mut command);
    let out = command
        .arg(&script)
        .args(["--threads", &threads.to_string()])
        .args(["--reps", &args.reps.to_string()])
        .args(["--configs", &args.configs])
        .output()
        .map_err(|e| format!("could not run {}: {e}", args.python))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} failed: {}",
            script.display(),
            err.lines().last().unwrap_or("")
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("unreadable torch output: {e}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per config and direction (forward, train): each round's (ours, burn, torch) milliseconds.
type Rounds = Vec<Vec<[[f64; 3]; 2]>>;

fn main() {
    let args = Args::parse();
    #[cfg(target_os = "linux")]
    // SAFETY: mallopt only changes glibc's allocation policy; called before any threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    burn_rnn::kernels::set_num_threads(threads);
    let names: Vec<&str> = args.configs.split(',').map(str::trim).collect();
    println!(
        "CPU: {}; our path: {} ({}); {threads} threads on both sides; {} rounds",
        cpu_model(),
        isa(),
        rnn_bench::torch_isa_note(),
        args.repeat
    );
    let mut rounds: Rounds = vec![Vec::new(); names.len()];
    let mut torch_version = String::from("-");
    for round in 0..args.repeat {
        eprintln!("round {}/{}", round + 1, args.repeat);
        let mut row: Vec<[[f64; 3]; 2]> = vec![[[f64::NAN; 3]; 2]; names.len()];
        for (i, name) in names.iter().enumerate() {
            let (f, t) = time_rust(name, true, args.reps);
            row[i][0][0] = f;
            row[i][1][0] = t;
            if !args.no_burn {
                let (f, t) = time_rust(name, false, 1);
                row[i][0][1] = f;
                row[i][1][1] = t;
            }
        }
        match time_torch(&args, threads) {
            Ok(v) => {
                torch_version = v["torch"].as_str().unwrap_or("?").to_string();
                for (i, name) in names.iter().enumerate() {
                    row[i][0][2] = v["results"][name]["forward_ms"]
                        .as_f64()
                        .unwrap_or(f64::NAN);
                    row[i][1][2] = v["results"][name]["train_ms"].as_f64().unwrap_or(f64::NAN);
                }
            }
            Err(e) => eprintln!("PyTorch skipped: {e}"),
        }
        for (i, r) in row.into_iter().enumerate() {
            rounds[i].push(r);
        }
    }
    print_table(&names, &rounds, &torch_version, args.json.as_deref());
}

fn print_table(names: &[&str], rounds: &Rounds, torch: &str, json: Option<&std::path::Path>) {
    println!();
    println!(
        "| config | pass | ours ms | burn::nn ms | PyTorch {torch} ms | vs burn::nn | vs PyTorch |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut rows = Vec::new();
    for (name, per_round) in names.iter().zip(rounds) {
        for (d, pass) in ["forward", "forward + backward"].iter().enumerate() {
            let col = |c: usize| median(per_round.iter().map(|r| r[d][c]).collect());
            let ratio = |c: usize| median(per_round.iter().map(|r| r[d][c] / r[d][0]).collect());
            // A column that was not run (`--no-burn`, no torch) shows a dash.
            let cell = |v: f64, digits: usize, unit: &str| match v.is_nan() {
                true => "-".to_string(),
                false => format!("{v:.digits$}{unit}"),
            };
            println!(
                "| {name} | {pass} | {} | {} | {} | {} | {} |",
                cell(col(0), 1, ""),
                cell(col(1), 1, ""),
                cell(col(2), 1, ""),
                cell(ratio(1), 1, "x"),
                cell(ratio(2), 2, "x")
            );
            rows.push(serde_json::json!({
                "config": name, "pass": pass, "isa": isa().name(),
                "ours_ms": col(0), "burn_ms": col(1), "torch_ms": col(2),
                "vs_burn": ratio(1), "vs_torch": ratio(2),
            }));
        }
    }
    println!("\nRatios: the other side's time over ours (above 1.00x ours is faster), medians of the rounds' ratios.");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&rows).expect("JSON values serialize");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
    }
}

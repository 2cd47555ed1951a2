//! `char-rnn generate`: sample text from a trained model, one character at a time.

use std::io::Write;
use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use burn_rnn::backend::DefaultBackend as B;

use crate::checkpoint::{read_config, Rec, RunDir};
use crate::data::Vocab;
use crate::error::{input, Error};
use crate::model::{Carry, CharModel};

/// Arguments of `char-rnn generate`.
#[derive(clap::Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The training run's output folder (holding checkpoint/).
    #[arg(long, default_value = "runs/char-rnn")]
    pub out: PathBuf,
    /// Text to start from; every character must be in the model's vocabulary.
    #[arg(long, default_value = "")]
    pub prime: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub len: usize,
    /// Softmax temperature: below 1 is more conservative, above 1 more surprising.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Sample only among the k most likely characters.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Always take the most likely character (argmax), as the seed's loop does.
    #[arg(long)]
    pub greedy: bool,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A trained model with its vocabulary, on the inference backend.
pub struct Generator {
    model: CharModel<B>,
    vocab: Vocab,
}

impl Generator {
    /// Loads the checkpoint of a run folder.
    pub fn load(out: &std::path::Path) -> Result<Self, Error> {
        let dir = RunDir::new(out).checkpoint();
        let config = read_config(&dir)?;
        let vocab = Vocab::load(&dir.join("vocab.json"))?;
        if vocab.len() != config.vocab {
            return Err(input(format!(
                "{}: the vocabulary has {} characters but the model {}",
                dir.display(),
                vocab.len(),
                config.vocab
            )));
        }
        let device = Default::default();
        let model = config
            .init::<B>(&device)
            .load_file(dir.join("model"), &Rec::new(), &device)
            .map_err(|e| input(format!("{}: cannot load the model: {e}", dir.display())))?;
        Ok(Self { model, vocab })
    }

    /// The ids of a prime; an empty prime starts from a newline (or the first character).
    pub fn encode_prime(&self, prime: &str) -> Result<Vec<usize>, Error> {
        if prime.is_empty() {
            return Ok(vec![self
                .vocab
                .encode("\n")
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or(0)]);
        }
        self.vocab.encode(prime).map_err(|unknown| {
            input(format!(
                "the prime has characters the model never saw: {}",
                unknown
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Generates `args.len` characters after the prime, calling `emit` on each as it comes.
    pub fn generate(
        &self,
        args: &GenerateArgs,
        mut emit: impl FnMut(char),
    ) -> Result<String, Error> {
        if args.temperature <= 0.0 && !args.greedy {
            return Err(input(format!(
                "--temperature must be positive, got {} (use --greedy for argmax)",
                args.temperature
            )));
        }
        let prime = self.encode_prime(&args.prime)?;
        let device = Default::default();
        let ids = |v: Vec<i64>| {
            let n = v.len();
            Tensor::<B, 2, Int>::from_data(TensorData::new(v, [1, n]), &device)
        };
        let (mut logits, mut state) = self
            .model
            .forward(ids(prime.iter().map(|&i| i as i64).collect()), None);
        let mut rng = XorShift(args.seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
        let mut text = String::new();
        for _ in 0..args.len {
            let [_, l, v] = logits.dims();
            let last: Vec<f32> = logits
                .slice([0..1, l - 1..l, 0..v])
                .into_data()
                .to_vec()
                .unwrap();
            let next = if args.greedy {
                argmax(&last)
            } else {
                sample(&last, args.temperature, args.top_k, &mut rng)
            };
            let c = self.vocab.char(next);
            emit(c);
            text.push(c);
            let (lg, st): (Tensor<B, 3>, Carry<B>) =
                self.model.forward(ids(vec![next as i64]), Some(state));
            logits = lg;
            state = st;
        }
        Ok(text)
    }
}

/// Runs `generate`, streaming characters to stdout.
pub fn run(args: &GenerateArgs) -> Result<(), Error> {
    let generator = Generator::load(&args.out)?;
    generator.encode_prime(&args.prime)?;
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", args.prime);
    generator.generate(args, |c| {
        let _ = write!(out, "{c}");
        let _ = out.flush();
    })?;
    let _ = writeln!(out);
    Ok(())
}

fn argmax(x: &[f32]) -> usize {
    x.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |best, (i, &v)| if v > best.1 { (i, v) } else { best },
        )
        .0
}

/// Samples from `softmax(logits / temperature)`, restricted to the `top_k` largest.
fn sample(logits: &[f32], temperature: f64, top_k: Option<usize>, rng: &mut XorShift) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order.truncate(top_k.unwrap_or(logits.len()).max(1));
    let max = logits[order[0]] as f64;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - max) / temperature).exp())
        .collect();
    let mut r = rng.next_f64() * weights.iter().sum::<f64>();
    for (k, w) in weights.iter().enumerate() {
        r -= w;
        if r <= 0.0 {
            return order[k];
        }
    }
    *order.last().expect("at least one candidate")
}

/// xorshift64*: small, seeded and reproducible.
struct XorShift(u64);

impl XorShift {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_1_sampling_is_argmax_and_sampling_follows_the_weights() {
        let logits = [0.0f32, 3.0, 1.0];
        let mut rng = XorShift(7);
        assert_eq!(argmax(&logits), 1);
        assert!((0..50).all(|_| sample(&logits, 1.0, Some(1), &mut rng) == 1));
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[sample(&logits, 1.0, None, &mut rng)] += 1;
        }
        // softmax([0, 3, 1]) = [0.042, 0.844, 0.114]
        assert!((2400..2650).contains(&counts[1]), "{counts:?}");
        assert!(counts[0] > 60 && counts[2] > 250, "{counts:?}");
    }
}

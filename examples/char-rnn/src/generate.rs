//! `char-rnn generate`: sample text from a trained model, one character at a time.

use std::io::Write;
use std::path::PathBuf;

use burn::tensor::{Int, Tensor, TensorData};
use burn_rnn::backend::DefaultBackend as B;
use burn_seq2seq::sampling::SamplingConfig;

use crate::checkpoint::{load_model, read_config, RunDir};
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
    /// Always take the most likely character (argmax).
    #[arg(long)]
    pub greedy: bool,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl GenerateArgs {
    /// Range-checks the numeric flags (before anything is read).
    pub fn check(&self) -> Result<(), Error> {
        let positive = self.temperature > 0.0 && self.temperature.is_finite();
        if !(positive || self.greedy) {
            return Err(input(format!(
                "--temperature must be positive, got {} (use --greedy for argmax)",
                self.temperature
            )));
        }
        if self.top_k == Some(0) {
            return Err(input("--top-k must be at least 1, got 0"));
        }
        Ok(())
    }
}

/// A trained model with its vocabulary, on the inference backend.
pub struct Generator {
    model: CharModel<B>,
    vocab: Vocab,
}

impl Generator {
    /// Loads the checkpoint of a run folder.
    pub fn load(out: &std::path::Path) -> Result<Self, Error> {
        let run = RunDir::new(out);
        let dir = run.checkpoint();
        if !dir.join("config.json").exists() {
            if let Some(aside) = run.set_aside() {
                return Err(input(format!(
                    "{} is missing: an interrupted save left the previous checkpoint in {}; \
                     `char-rnn train --resume --out {}` moves it back and continues",
                    dir.display(),
                    aside.display(),
                    out.display()
                )));
            }
            read_config(&dir)?;
        }
        let (_, vocab, model) = load_model::<B>(&dir, &Default::default())?;
        Ok(Self { model, vocab })
    }

    /// The ids of a prime; an empty prime starts from a newline (or the first character).
    pub fn encode_prime(&self, prime: &str) -> Result<Vec<usize>, Error> {
        if prime.is_empty() {
            return Ok(vec![self.vocab.id('\n').unwrap_or(0)]);
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
        args.check()?;
        let prime = self.encode_prime(&args.prime)?;
        let device = Default::default();
        let ids = |v: Vec<i64>| {
            let n = v.len();
            Tensor::<B, 2, Int>::from_data(TensorData::new(v, [1, n]), &device)
        };
        let (mut logits, mut state) = self
            .model
            .forward(ids(prime.iter().map(|&i| i as i64).collect()), None);
        let mut sampler = sampling(args).init(args.seed);
        let mut text = String::new();
        for _ in 0..args.len {
            let [_, l, v] = logits.dims();
            let last: Vec<f32> = logits
                .slice([0..1, l - 1..l, 0..v])
                .into_data()
                .to_vec()
                .unwrap();
            let next = sampler.sample_row(&last);
            let c = self
                .vocab
                .char(next)
                .expect("the model has one logit per character");
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
    args.check()?;
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

/// The sampling settings of the arguments: `--greedy` is temperature 0.
fn sampling(args: &GenerateArgs) -> SamplingConfig {
    SamplingConfig::new()
        .with_temperature(if args.greedy { 0.0 } else { args.temperature })
        .with_top_k(args.top_k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(temperature: f64, top_k: Option<usize>, greedy: bool) -> GenerateArgs {
        GenerateArgs {
            out: PathBuf::new(),
            prime: String::new(),
            len: 1,
            temperature,
            top_k,
            greedy,
            seed: 1,
        }
    }

    #[test]
    fn the_arguments_map_to_sampling_settings() {
        let s = sampling(&args(0.8, Some(5), false));
        assert_eq!((s.temperature, s.top_k, s.top_p), (0.8, Some(5), 1.0));
        assert!(sampling(&args(0.8, None, true)).is_greedy());
        let logits = [0.0f32, 3.0, 1.0];
        let mut greedy = sampling(&args(0.8, None, true)).init(3);
        assert!((0..20).all(|_| greedy.sample_row(&logits) == 1));
        assert!(sampling(&args(0.8, Some(0), false)).validate().is_err());
    }
}

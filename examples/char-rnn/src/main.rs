//! The `char-rnn` command line: `train` then `generate`.

use clap::{Parser, Subcommand};

use char_rnn::error::Error;
use char_rnn::generate::{self, GenerateArgs, Generator};
use char_rnn::train::{self, TrainArgs};

/// Character-level text generation with burn-rnn.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on a corpus (the embedded Liber Primus by default).
    Train(TrainArgs),
    /// Generate text from a trained model.
    Generate(GenerateArgs),
    /// Write the embedded corpus to a file (to train the PyTorch reference on the same text).
    Corpus(CorpusArgs),
}

/// `char-rnn corpus` settings.
#[derive(clap::Args)]
struct CorpusArgs {
    /// The file to write (UTF-8).
    #[arg(long)]
    out: std::path::PathBuf,
}

fn main() {
    rnn_example_common::run(|| match Cli::parse().command {
        Command::Train(args) => run_train(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Corpus(args) => write_corpus(&args),
    });
}

fn write_corpus(args: &CorpusArgs) -> Result<(), Error> {
    let text = char_rnn::data::default_corpus();
    std::fs::write(&args.out, text)
        .map_err(|e| Error::Run(format!("cannot write {}: {e}", args.out.display())))?;
    println!(
        "wrote the embedded corpus ({} characters) to {}",
        text.chars().count(),
        args.out.display()
    );
    Ok(())
}

fn run_train(args: &TrainArgs) -> Result<(), Error> {
    let summary = train::train(args)?;
    let p = &summary.progress;
    println!(
        "trained {} steps ({} epochs) in {:.0} s, {:.1} ms/step; validation {:.4} nats/char; \
         checkpoint, metrics.json and loss.png in {}",
        p.step,
        p.epoch,
        p.seconds,
        1000.0 * p.seconds / p.step.max(1) as f64,
        summary.final_val,
        args.out.display()
    );
    if args.sample > 0 {
        let generator = Generator::load(&args.out)?;
        let gen = GenerateArgs {
            out: args.out.clone(),
            prime: String::new(),
            len: args.sample,
            temperature: 0.8,
            top_k: None,
            greedy: false,
            seed: 1,
        };
        println!("--- sample (temperature 0.8) ---");
        println!("{}", generator.generate(&gen, |_| {})?);
    }
    Ok(())
}

//! The `crnn` command line: `train`, `predict`, `eval` and `render`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use crnn::data::{save_folder, Dataset, HELD_OUT};
use crnn::predict::{EvalArgs, PredictArgs};
use crnn::train::TrainArgs;
use rnn_example_common::{input, Error};

/// Text-line recognition with burn-rnn: a CRNN trained with CTC.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on rendered lines (or on a folder of labelled lines, --data).
    Train(TrainArgs),
    /// Read the text of PNG line images with a trained model.
    Predict(PredictArgs),
    /// Character error rate and line accuracy of a trained model on labelled lines.
    Eval(EvalArgs),
    /// Write rendered lines as a folder of PNGs and labels.tsv: the training batches of the
    /// first --steps steps of a seed, in order, or the held-out lines.
    Render(RenderArgs),
}

/// `crnn render` settings.
#[derive(clap::Args)]
struct RenderArgs {
    /// The folder to write (PNG files and labels.tsv).
    #[arg(long)]
    out: PathBuf,
    /// Write the held-out lines instead of training batches.
    #[arg(long)]
    held_out: bool,
    /// Training steps whose batches are written.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Lines per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Seed of the training lines (as `train --seed`).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Steps over which the augmentation grows to full (as `train --ramp`).
    #[arg(long, default_value_t = 0)]
    ramp: usize,
}

fn main() {
    rnn_example_common::run(|| match Cli::parse().command {
        Command::Train(args) => run_train(&args),
        Command::Predict(args) => crnn::predict::predict(&args),
        Command::Eval(args) => {
            let (cer, accuracy, lines) = crnn::predict::eval(&args)?;
            println!(
                "{lines} lines: CER {:.2}%, lines exact {:.1}%",
                100.0 * cer,
                100.0 * accuracy
            );
            Ok(())
        }
        Command::Render(args) => render(&args),
    });
}

fn run_train(args: &TrainArgs) -> Result<(), Error> {
    let m = crnn::train::train(args)?;
    println!(
        "trained {} steps in {:.0} s ({:.1} ms/step); held-out CER {:.2}%, lines exact {:.1}% \
         ({} lines); checkpoint, metrics.json, loss.png and predictions.png in {}",
        m.steps,
        m.seconds,
        m.ms_per_step,
        100.0 * m.cer,
        100.0 * m.accuracy,
        m.held_out,
        args.out.display()
    );
    Ok(())
}

fn render(args: &RenderArgs) -> Result<(), Error> {
    if args.steps == 0 || args.batch == 0 || args.steps * args.batch > 10_000_000 {
        return Err(input(format!(
            "--steps and --batch must be at least 1 and their product at most 10000000, got {} \
             and {}",
            args.steps, args.batch
        )));
    }
    let data = Dataset::rendered(args.seed, args.ramp);
    let samples = match args.held_out {
        true => data.held_out,
        false => (0..args.steps)
            .flat_map(|step| data.train.batch(step, args.batch))
            .collect(),
    };
    save_folder(&args.out, &samples)?;
    let what = match args.held_out {
        true => format!("the {HELD_OUT} held-out lines"),
        false => format!("{} steps of {} lines", args.steps, args.batch),
    };
    println!("wrote {what} to {}", args.out.display());
    Ok(())
}

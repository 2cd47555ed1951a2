//! The `seq2seq` command line: `train`, `eval` and `translate`.

use clap::{Parser, Subcommand};

use seq2seq::error::Error;
use seq2seq::train::{self, TrainArgs};
use seq2seq::translate::{self, EvalArgs, TranslateArgs};

/// Date normalization with burn-rnn's attention seq2seq.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on generated dates.
    Train(TrainArgs),
    /// Exact-match accuracy of the trained model on the test split.
    Eval(EvalArgs),
    /// Normalize one date, printing the n-best list.
    Translate(TranslateArgs),
}

fn main() {
    rnn_example_common::run(|| match Cli::parse().command {
        Command::Train(args) => run_train(&args),
        Command::Eval(args) => run_eval(&args),
        Command::Translate(args) => run_translate(&args),
    });
}

fn run_train(args: &TrainArgs) -> Result<(), Error> {
    let summary = train::train(args)?;
    let p = &summary.progress;
    let state = train::learner_dir(&args.out);
    println!(
        "trained {} steps in {:.1} s ({:.1} ms/step, {:.2} steps/s); validation exact match \
         {:.2}%; checkpoint, metrics.json, val_accuracy.png and loss.png in {}; Burn's training state and logs in {}",
        p.step,
        p.seconds,
        1000.0 * p.seconds / p.step.max(1) as f64,
        p.step as f64 / p.seconds.max(1e-9),
        summary.final_accuracy,
        args.out.display(),
        state.display()
    );
    Ok(())
}

fn run_eval(args: &EvalArgs) -> Result<(), Error> {
    let report = translate::eval(args)?;
    for (src, want, got) in report.errors.iter().take(args.show) {
        println!("wrong: {src:?} -> {got:?} (expected {want})");
    }
    let right = report.total - report.errors.len();
    println!(
        "test exact match ({}): {right}/{} = {:.2}%",
        if args.beam == 1 {
            "greedy".to_string()
        } else {
            format!("beam {}", args.beam)
        },
        report.total,
        report.accuracy
    );
    Ok(())
}

fn run_translate(args: &TranslateArgs) -> Result<(), Error> {
    let out = translate::translate(args)?;
    if !out.unknown.is_empty() {
        let list: Vec<String> = out.unknown.iter().map(|c| format!("{c:?}")).collect();
        eprintln!(
            "warning: characters never seen in training, read as <unk>: {}",
            list.join(", ")
        );
    }
    for (rank, (text, score, log_prob, finished)) in out.nbest.iter().enumerate() {
        let end = if *finished { "" } else { "  (hit max length)" };
        println!(
            "{}. {text}  score {score:.4}  log-prob {log_prob:.4}{end}",
            rank + 1
        );
    }
    if let Some(path) = &args.attention_png {
        println!("attention heatmap: {}", path.display());
    }
    Ok(())
}

//! The `moving-glyphs` command line.

use clap::{Parser, Subcommand};
use moving_glyphs::train::TrainArgs;

/// Next-frame prediction with burn-rnn's ConvLSTM.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the encoder-forecaster and compare it with copying the last frame.
    Train(TrainArgs),
}

fn main() {
    rnn_example_common::run(|| match Cli::parse().command {
        Command::Train(args) => {
            let m = moving_glyphs::train::train(&args)?;
            println!(
                "trained {} steps in {:.0} s; held-out MSE {:.5} (copying the last frame: {:.5}, \
                 blank frames: {:.5}); checkpoint, metrics.json, loss.png and strip.png in {}",
                m.steps,
                m.seconds,
                m.mse,
                m.baseline_mse,
                m.blank_mse,
                args.out.display()
            );
            Ok(())
        }
    });
}

//! Writes one sample of each chart kind, as the examples draw them, into a folder:
//! `cargo run -p rnn-plot --example samples -- /tmp/charts`.

use rnn_plot::{Chart, Heatmap, Series};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "charts".into()));
    std::fs::create_dir_all(&dir)?;
    // A char-rnn-like loss: noisy training means every 10 steps, validation every 100.
    let mut seed = 7u64;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let loss = |step: f64| 1.35 + 2.9 * (-step / 90.0).exp();
    let train = (1..=40)
        .map(|i| (i as f64 * 10.0, loss(i as f64 * 10.0) + 0.06 * noise()))
        .collect();
    let val = (0..=4)
        .map(|i| (i as f64 * 100.0, loss(i as f64 * 100.0) + 0.08))
        .collect();
    let path = dir.join("loss.png");
    Chart::new("char-rnn loss", "step", "nats/char")
        .with_series(Series::new("train (mean of 10 steps)", train))
        .with_series(Series::new("validation", val))
        .save_png(&path)?;
    println!("{}", path.display());
    // A seq2seq-like validation accuracy, in percent.
    let acc = [
        0.0, 0.5, 6.0, 31.0, 62.5, 84.0, 93.5, 97.0, 98.5, 99.5, 99.8,
    ];
    let acc = acc
        .iter()
        .enumerate()
        .map(|(i, &a)| (i as f64 * 250.0, a))
        .collect();
    let path = dir.join("val_accuracy.png");
    Chart::new("date normalization", "step", "validation exact match %")
        .with_series(Series::new("greedy", acc))
        .with_y_range(0.0, 100.0)
        .save_png(&path)?;
    println!("{}", path.display());
    // An attention map: output characters (rows) over input characters (columns).
    let src: Vec<String> = "march 3rd, 1998"
        .chars()
        .map(|c| if c == ' ' { "_".into() } else { c.to_string() })
        .collect();
    let tgt = "1998-03-03";
    let mut rows: Vec<String> = tgt.chars().map(String::from).collect();
    rows.push("</s>".into());
    let focus = [11, 12, 13, 14, 5, 0, 1, 5, 6, 7, 14];
    let values = focus
        .iter()
        .map(|&f: &usize| {
            let raw: Vec<f32> = (0..src.len())
                .map(|j| (-((j as f32 - f as f32).powi(2)) / 1.5).exp())
                .collect();
            let sum: f32 = raw.iter().sum();
            raw.iter().map(|v| v / sum).collect()
        })
        .collect();
    let path = dir.join("attention.png");
    Heatmap::new(
        "attention: march 3rd, 1998 -> 1998-03-03",
        src,
        rows,
        values,
    )
    .save_png(&path)?;
    println!("{}", path.display());
    Ok(())
}

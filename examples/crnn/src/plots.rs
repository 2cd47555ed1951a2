//! `loss.png` (the training loss and the held-out error curves) and `predictions.png` (held-out
//! lines beside the text the model reads).

use std::path::Path;

use rnn_example_common::Error;
use rnn_plot::{Chart, Series};

use crate::checkpoint::Progress;
use crate::data::Sample;
use crate::render::Fonts;

fn write(path: &Path, w: usize, h: usize, rgb: &[u8]) -> Result<(), Error> {
    rnn_plot::write_png(path, w, h, rgb)
        .map_err(|e| Error::Run(format!("cannot write {}: {e}", path.display())))
}

/// Two charts, one above the other: the CTC loss per character (means over about 100 windows)
/// and the held-out character error rate and line error rate, in percent.
pub fn loss_png(progress: &Progress, path: &Path) -> Result<(), Error> {
    let window = (progress.train_loss.len() / 100).max(1);
    let train: Vec<(f64, f64)> = progress
        .train_loss
        .chunks(window)
        .map(|c| {
            let step = c.last().expect("non-empty chunk").0 as f64;
            (step, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64)
        })
        .collect();
    let (w, h) = (800, 400);
    let loss = Chart::new("crnn training loss", "step", "CTC loss per character")
        .with_series(Series::new(
            format!("train (mean of {window} steps)"),
            train,
        ))
        .with_size(w, h)
        .render();
    let curve = |f: fn(&crate::checkpoint::Eval) -> f64| {
        progress
            .evals
            .iter()
            .map(|e| (e.step as f64, 100.0 * f(e)))
            .collect::<Vec<_>>()
    };
    let errors = Chart::new("held-out error", "step", "percent")
        .with_series(Series::new("character error rate", curve(|e| e.cer)))
        .with_series(Series::new("lines not exact", curve(|e| 1.0 - e.accuracy)))
        .with_size(w, h)
        .render();
    let mut rgb = loss.2;
    rgb.extend_from_slice(&errors.2);
    write(path, loss.0, loss.1 + errors.1, &rgb)
}

/// Each sample's line (as the model reads it) and, right of it, the text read: green when it
/// is the truth, red with the truth after it otherwise.
pub fn predictions_png(samples: &[Sample], texts: &[String], path: &Path) -> Result<(), Error> {
    let fonts = Fonts::new();
    let (pad, text_w) = (6, 360);
    let line_w = samples.iter().map(|s| s.image.width).max().unwrap_or(1);
    let row_h = samples.iter().map(|s| s.image.height).max().unwrap_or(1) + pad;
    let (w, h) = (
        pad + line_w + pad + text_w,
        pad + row_h * samples.len().max(1),
    );
    let mut rgb = vec![255u8; w * h * 3];
    for (i, (s, text)) in samples.iter().zip(texts).enumerate() {
        let top = pad + i * row_h;
        for y in 0..s.image.height {
            for x in 0..s.image.width {
                let v = (s.image.pixels[y * s.image.width + x].clamp(0.0, 1.0) * 255.0) as u8;
                let at = ((top + y) * w + pad + x) * 3;
                rgb[at..at + 3].copy_from_slice(&[v, v, v]);
            }
        }
        let (label, color) = match *text == s.text {
            true => (text.clone(), [0, 130, 0]),
            false => (format!("{text}  (truth {})", s.text), [200, 0, 0]),
        };
        let ink = fonts.coverage(&label, 0, 18.0, 0.0);
        let left = pad + line_w + pad;
        let dy = (s.image.height.saturating_sub(ink.height)) / 2;
        for y in 0..ink.height.min(row_h) {
            for x in 0..ink.width.min(text_w) {
                let a = ink.pixels[y * ink.width + x];
                let at = ((top + dy + y) * w + left + x) * 3;
                for (k, c) in color.iter().enumerate() {
                    let bg = rgb[at + k] as f32;
                    rgb[at + k] = (bg + (*c as f32 - bg) * a).round() as u8;
                }
            }
        }
    }
    write(path, w, h, &rgb)
}

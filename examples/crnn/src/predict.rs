//! Reading lines with a trained model: `crnn predict` on image files and `crnn eval` on a
//! labelled folder or the held-out lines.

use std::path::PathBuf;

use burn_rnn::backend::DefaultBackend as B;
use rnn_example_common::{input, Error};

use crate::checkpoint::{load_model, model_dir};
use crate::data::{self, batch, Dataset, Sample, CLASSES, MAX_WIDTH};
use crate::decode::{beam_search, error_rates, greedy};
use crate::image::Gray;
use crate::model::Crnn;
use crate::render::HEIGHT;

/// How log-probabilities become text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decoder {
    /// Best path.
    Greedy,
    /// CTC prefix beam search with this many prefixes.
    Beam(usize),
}

impl Decoder {
    /// `--beam N`: beam search for `N > 1`, best path otherwise.
    pub fn from_beam(beam: usize) -> Self {
        match beam {
            0 | 1 => Decoder::Greedy,
            n => Decoder::Beam(n),
        }
    }
}

/// Lines per inference batch.
const CHUNK: usize = 64;

/// The text the model reads in each sample (lines of any width; batched in order).
pub fn recognize<Bk: burn_rnn::RnnBackend>(
    model: &Crnn<Bk>,
    samples: &[Sample],
    decoder: Decoder,
) -> Vec<String> {
    let device = Default::default();
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(CHUNK) {
        let b = batch::<Bk>(chunk, &device);
        let (log_probs, lengths) = model.forward(b.images, &b.widths);
        let [t, n, c] = log_probs.dims();
        // [T, N, C] -> [N, T, C] rows per line.
        let values: Vec<f32> = log_probs
            .swap_dims(0, 1)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 data");
        for (i, &len) in lengths.iter().enumerate().take(n) {
            let rows = &values[i * t * c..(i * t + len) * c];
            let classes = match decoder {
                Decoder::Greedy => greedy(rows, CLASSES),
                Decoder::Beam(k) => beam_search(rows, CLASSES, k),
            };
            out.push(data::decode(&classes));
        }
    }
    out
}

/// Arguments of `crnn predict`.
#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// A trained run's folder (as `train --out`) or its checkpoint folder.
    #[arg(long, default_value = "runs/crnn")]
    pub model: PathBuf,
    /// Decode with a CTC prefix beam search of this width (1: best path).
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
    /// PNG images of text lines (gray, RGB or RGBA; any size, scaled to the model's height).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// The trained model of `--model`.
fn load(path: &std::path::Path) -> Result<Crnn<B>, Error> {
    let device = Default::default();
    Ok(load_model::<B>(&model_dir(path)?, &device)?.1)
}

/// `crnn predict`: prints `IMAGE<TAB>text`, one line per image, in the order given. Every
/// image is read before the model runs, so a bad one fails the command before any output.
///
/// # Errors
/// A missing or invalid model folder, an unreadable or empty image (exit 2).
pub fn predict(args: &PredictArgs) -> Result<(), Error> {
    if args.beam == 0 {
        return Err(input("--beam must be at least 1, got 0"));
    }
    let model = load(&args.model)?;
    let samples = args
        .images
        .iter()
        .map(|path| {
            let image = Gray::load_png(path).map_err(input)?;
            Ok(Sample {
                image: image.scaled_to_height(HEIGHT, MAX_WIDTH),
                text: String::new(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let texts = recognize(&model, &samples, Decoder::from_beam(args.beam));
    for (path, text) in args.images.iter().zip(texts) {
        println!("{}\t{text}", path.display());
    }
    Ok(())
}

/// Arguments of `crnn eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// A trained run's folder (as `train --out`) or its checkpoint folder.
    #[arg(long, default_value = "runs/crnn")]
    pub model: PathBuf,
    /// Decode with a CTC prefix beam search of this width (1: best path).
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
    /// A folder of PNG lines and their labels.tsv; the rendered held-out lines when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// `crnn eval`: the character error rate and exact-line accuracy on a labelled folder (all of
/// it) or on the held-out lines.
///
/// # Errors
/// As [`predict`], and a bad folder or label (exit 2).
pub fn eval(args: &EvalArgs) -> Result<(f64, f64, usize), Error> {
    if args.beam == 0 {
        return Err(input("--beam must be at least 1, got 0"));
    }
    let model = load(&args.model)?;
    let samples = match &args.data {
        Some(dir) => data::load_folder(dir)?,
        None => Dataset::rendered(0, 0).held_out,
    };
    if samples.is_empty() {
        return Err(input("--data: the folder's labels.tsv lists no lines"));
    }
    let texts = recognize(&model, &samples, Decoder::from_beam(args.beam));
    let (cer, accuracy) = error_rates(
        texts
            .iter()
            .zip(&samples)
            .map(|(p, s)| (p.as_str(), s.text.as_str())),
    );
    Ok((cer, accuracy, samples.len()))
}

//! Using a trained checkpoint: `eval` (exact match on the test split) and `translate` (the
//! n-best list, and an attention heatmap).

use std::path::{Path, PathBuf};

use burn_rnn::AnyCell;
use burn_seq2seq::{BeamOptions, Hypothesis, Seq2Seq, Seq2SeqCell};
use clap::Args;
use rnn_plot::Heatmap;

use crate::checkpoint::{self, CheckpointMeta};
use crate::data::{Splits, MAX_SOURCE_CHARS};
use crate::error::{input, Error};
use crate::train::{checkpoint_dir, encode_pairs, exact_match, Progress};
use crate::B;

/// `seq2seq eval` settings.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The run folder `train` wrote.
    #[arg(long, default_value = "runs/seq2seq")]
    pub out: PathBuf,
    /// Beam size; 1 decodes greedily.
    #[arg(long, default_value_t = 1)]
    pub beam: usize,
    /// How many wrong answers to print.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
}

/// `seq2seq translate` settings.
#[derive(Args, Debug, Clone)]
pub struct TranslateArgs {
    /// The date to normalize, in any format.
    pub text: String,
    /// The run folder `train` wrote.
    #[arg(long, default_value = "runs/seq2seq")]
    pub out: PathBuf,
    /// Beam size.
    #[arg(long, default_value_t = 5)]
    pub beam: usize,
    /// How many hypotheses to print (at most the beam size).
    #[arg(long, default_value_t = 3)]
    pub nbest: usize,
    /// Length penalty exponent of the beam search.
    #[arg(long, default_value_t = 0.6)]
    pub alpha: f32,
    /// Draw the best hypothesis's attention as a heatmap PNG here.
    #[arg(long)]
    pub attention_png: Option<PathBuf>,
}

/// A trained model (its cell kind is the checkpoint's), with its checkpoint's config and
/// vocabularies.
pub type Loaded = (Seq2Seq<B, AnyCell<B>>, CheckpointMeta);

/// Loads the checkpoint of run folder `out`, whatever its cell kind.
///
/// # Errors
/// No checkpoint there, or a damaged one (the message names the file).
pub fn load(out: &Path) -> Result<Loaded, Error> {
    let dir = checkpoint_dir(out);
    if !dir.join(checkpoint::META_FILE).exists() {
        return Err(input(format!(
            "no checkpoint in {} (run `seq2seq train` first, or pass --out)",
            dir.display()
        )));
    }
    Ok(checkpoint::load(&dir, &Default::default())?)
}

/// The outcome of `eval`.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// Exact matches, in %.
    pub accuracy: f64,
    /// Examples scored.
    pub total: usize,
    /// `(source, expected, got)` of the wrong answers.
    pub errors: Vec<(String, String, String)>,
}

/// The widest beam the commands run.
pub const MAX_BEAM: usize = 256;

fn check_beam(beam: usize) -> Result<(), Error> {
    if !(1..=MAX_BEAM).contains(&beam) {
        return Err(input(format!(
            "--beam must be in 1..={MAX_BEAM}, got {beam}"
        )));
    }
    Ok(())
}

/// Exact match on the test split of the run in `args.out`.
///
/// # Errors
/// No or a damaged checkpoint, or `--beam 0`.
pub fn eval(args: &EvalArgs) -> Result<EvalReport, Error> {
    check_beam(args.beam)?;
    let loaded = load(&args.out)?;
    eval_with(&loaded.0, &loaded.1, args)
}

fn progress_of(meta: &CheckpointMeta) -> Result<Progress, Error> {
    serde_json::from_value(meta.extra.clone()).map_err(|e| {
        input(format!(
            "the checkpoint's {} has no training record under \"extra\": {e}",
            checkpoint::META_FILE
        ))
    })
}

fn eval_with<C: Seq2SeqCell<B>>(
    model: &Seq2Seq<B, C>,
    meta: &CheckpointMeta,
    args: &EvalArgs,
) -> Result<EvalReport, Error> {
    let progress = progress_of(meta)?;
    let test = Splits::new(progress.seed, progress.valid, progress.test).test;
    let (src, tgt) = (&meta.src_vocab, &meta.tgt_vocab);
    if args.beam == 1 {
        let accuracy = exact_match(model, &test, src, tgt);
        let errors = if accuracy < 100.0 {
            wrong_answers(model, &test, meta, 1)
        } else {
            Vec::new()
        };
        return Ok(EvalReport {
            accuracy,
            total: test.len(),
            errors,
        });
    }
    let errors = wrong_answers(model, &test, meta, args.beam);
    Ok(EvalReport {
        accuracy: 100.0 * (test.len() - errors.len()) as f64 / test.len().max(1) as f64,
        total: test.len(),
        errors,
    })
}

/// `(source, expected, got)` for every pair the beam search of width `beam` gets wrong.
fn wrong_answers<C: Seq2SeqCell<B>>(
    model: &Seq2Seq<B, C>,
    pairs: &[(String, String)],
    meta: &CheckpointMeta,
    beam: usize,
) -> Vec<(String, String, String)> {
    let options = BeamOptions {
        beam_size: beam,
        max_len: 16,
        ..BeamOptions::default()
    };
    let mut errors = Vec::new();
    for chunk in pairs.chunks(250) {
        let (ids, targets) = encode_pairs(chunk, &meta.src_vocab, &meta.tgt_vocab);
        let out = model.beam_search(&ids, &options);
        for ((pair, target), hyps) in chunk.iter().zip(&targets).zip(&out) {
            let best = &hyps[0];
            if !(best.finished && best.tokens == *target) {
                let got = meta.tgt_vocab.decode(&best.tokens, "");
                errors.push((pair.0.clone(), pair.1.clone(), got));
            }
        }
    }
    errors
}

/// The result of `translate`.
#[derive(Debug, Clone)]
pub struct Translation {
    /// `(text, score, log-probability, ended with EOS)`, best first.
    pub nbest: Vec<(String, f32, f32, bool)>,
    /// Characters of the input that the model never saw (read as `<unk>`).
    pub unknown: Vec<String>,
}

/// Translates `args.text` with the run's checkpoint; writes the heatmap if asked.
///
/// # Errors
/// Empty or over-long input, bad settings, no or a damaged checkpoint, or an unwritable PNG.
pub fn translate(args: &TranslateArgs) -> Result<Translation, Error> {
    let text = args.text.trim();
    if text.is_empty() {
        return Err(input("nothing to translate: the input is empty"));
    }
    let chars = text.chars().count();
    if chars > MAX_SOURCE_CHARS {
        return Err(input(format!(
            "the input is {chars} characters long; the model reads at most {MAX_SOURCE_CHARS}"
        )));
    }
    check_beam(args.beam)?;
    if args.nbest == 0 {
        return Err(input("--nbest must be at least 1, got 0"));
    }
    if !(args.alpha >= 0.0 && args.alpha.is_finite()) {
        return Err(input(format!(
            "--alpha must be a finite number of at least 0, got {}",
            args.alpha
        )));
    }
    let loaded = load(&args.out)?;
    translate_with(&loaded.0, &loaded.1, text, args)
}

fn translate_with<C: Seq2SeqCell<B>>(
    model: &Seq2Seq<B, C>,
    meta: &CheckpointMeta,
    text: &str,
    args: &TranslateArgs,
) -> Result<Translation, Error> {
    let encoded = meta.src_vocab.encode_chars(text);
    let options = BeamOptions {
        beam_size: args.beam,
        alpha: args.alpha,
        max_len: 16,
        nbest: args.nbest.min(args.beam),
        return_attention: args.attention_png.is_some(),
    };
    let hyps: Vec<Hypothesis> = model
        .beam_search(std::slice::from_ref(&encoded.ids), &options)
        .remove(0);
    if let (Some(path), Some(best)) = (&args.attention_png, hyps.first()) {
        draw_attention(path, text, best, meta)?;
    }
    Ok(Translation {
        nbest: hyps
            .iter()
            .map(|h| {
                let out = meta.tgt_vocab.decode(&h.tokens, "");
                (out, h.score, h.log_prob, h.finished)
            })
            .collect(),
        unknown: encoded.unknown,
    })
}

/// Rows: the output characters (and `</s>`); columns: the input characters (`_` for space).
fn draw_attention(
    path: &Path,
    text: &str,
    best: &Hypothesis,
    meta: &CheckpointMeta,
) -> Result<(), Error> {
    let columns = text
        .chars()
        .map(|c| if c == ' ' { "_".into() } else { c.to_string() })
        .collect();
    let mut rows: Vec<String> = best
        .tokens
        .iter()
        .map(|&t| meta.tgt_vocab.token(t).unwrap_or("?").to_string())
        .collect();
    if best.finished {
        rows.push("</s>".into());
    }
    let values = best.attention.clone().unwrap_or_default();
    let output = meta.tgt_vocab.decode(&best.tokens, "");
    Heatmap::new(
        &format!("attention: {text} -> {output}"),
        columns,
        rows,
        values,
    )
    .save_png(path)
    .map_err(|e| Error::Run(format!("cannot write {}: {e}", path.display())))
}

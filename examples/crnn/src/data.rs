//! The alphabet, the rendered lines (a training stream and a held-out set), a user's folder of
//! labelled PNG lines, and batches of them as tensors.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::image::Gray;
use crate::render::{render, Fonts, Style, HEIGHT};
use rnn_example_common::{input, Error};

/// The characters the model reads, in class order: class 0 is CTC's blank, class `i + 1` is
/// `ALPHABET[i]`.
pub const ALPHABET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Output classes: the blank and the alphabet.
pub const CLASSES: usize = ALPHABET.len() + 1;

/// Characters in a rendered line: 3 to 10.
pub const LINE_CHARS: std::ops::RangeInclusive<usize> = 3..=10;

/// Lines of the held-out set.
pub const HELD_OUT: usize = 1000;

/// The seed of the held-out set (fixed: every run is measured on the same lines).
pub const HELD_OUT_SEED: u64 = 0x005E_ED0F_7E57;

/// The widest line (pixels, after scaling to the model's height) read from a file.
pub const MAX_WIDTH: usize = 2048;

/// `text` as classes (`1..CLASSES`), or the first character outside the alphabet.
pub fn encode(text: &str) -> Result<Vec<u32>, char> {
    text.chars()
        .map(|c| {
            ALPHABET
                .find(c)
                .filter(|_| c.is_ascii())
                .map(|i| i as u32 + 1)
                .ok_or(c)
        })
        .collect()
}

/// Classes (`1..CLASSES`, blanks excluded) as text.
pub fn decode(classes: &[u32]) -> String {
    classes
        .iter()
        .map(|&c| ALPHABET.as_bytes()[c as usize - 1] as char)
        .collect()
}

/// A line image and its text.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The line, `HEIGHT` rows.
    pub image: Gray,
    /// What it says.
    pub text: String,
}

/// A random text of [`LINE_CHARS`] characters of the alphabet.
fn random_text(rng: &mut impl Rng) -> String {
    let n = rng.random_range(LINE_CHARS);
    let chars = ALPHABET.as_bytes();
    (0..n)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

/// Renders `count` lines augmented at `strength` ([`Style::random`]) from `seed`, their texts
/// drawn outside `exclude`.
fn rendered(
    fonts: &Fonts,
    count: usize,
    seed: u64,
    exclude: &HashSet<String>,
    strength: f32,
) -> Vec<Sample> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let text = loop {
                let t = random_text(&mut rng);
                if !exclude.contains(&t) {
                    break t;
                }
            };
            let style = Style::random(&mut rng, fonts.len(), strength);
            Sample {
                image: render(fonts, &text, &style, &mut rng),
                text,
            }
        })
        .collect()
}

/// Where training lines come from.
pub enum Source {
    /// Lines rendered on the fly from the embedded fonts; `held_out` holds the texts of the
    /// held-out set, which training never draws.
    Rendered {
        /// The faces.
        fonts: Fonts,
        /// The held-out texts.
        held_out: HashSet<String>,
        /// The run's seed.
        seed: u64,
        /// Steps over which the augmentation grows from none to full (0: full from the start).
        ramp: usize,
    },
    /// A user's folder, minus its held-out part.
    Folder(Vec<Sample>),
}

impl Source {
    /// The training batch of optimizer step `step`: the same for the same seed and step, so a
    /// resumed run sees what an uninterrupted one would.
    pub fn batch(&self, step: usize, size: usize) -> Vec<Sample> {
        match self {
            Source::Rendered {
                fonts,
                held_out,
                seed,
                ramp,
            } => {
                let strength = match *ramp {
                    0 => 1.0,
                    r => (step as f32 / r as f32).min(1.0),
                };
                let seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step as u64;
                rendered(fonts, size, seed, held_out, strength)
            }
            Source::Folder(samples) => {
                let mut rng = StdRng::seed_from_u64(step as u64);
                (0..size)
                    .map(|_| samples[rng.random_range(0..samples.len())].clone())
                    .collect()
            }
        }
    }
}

/// The data of a run: the training source and the held-out lines.
pub struct Dataset {
    /// Training lines (shared with the thread that draws them).
    pub train: Arc<Source>,
    /// Held-out lines, never trained on.
    pub held_out: Vec<Sample>,
}

impl Dataset {
    /// Rendered lines: the [`HELD_OUT`] lines of [`HELD_OUT_SEED`] (fully augmented), and a
    /// training stream from `seed` that never draws their texts, its augmentation growing
    /// over the first `ramp` steps.
    pub fn rendered(seed: u64, ramp: usize) -> Self {
        let fonts = Fonts::new();
        let held_out = rendered(&fonts, HELD_OUT, HELD_OUT_SEED, &HashSet::new(), 1.0);
        let texts = held_out.iter().map(|s| s.text.clone()).collect();
        Self {
            train: Arc::new(Source::Rendered {
                fonts,
                held_out: texts,
                seed,
                ramp,
            }),
            held_out,
        }
    }

    /// A user's folder ([`load_folder`]): one line in ten (at most [`HELD_OUT`], at least one)
    /// held out, chosen by a fixed seed.
    ///
    /// # Errors
    /// As [`load_folder`]; a folder of fewer than 2 lines.
    pub fn folder(dir: &Path) -> Result<Self, Error> {
        let mut samples = load_folder(dir)?;
        if samples.len() < 2 {
            return Err(input(format!(
                "{}: {} labelled line(s); training needs at least 2 (one is held out)",
                dir.display(),
                samples.len()
            )));
        }
        let mut rng = StdRng::seed_from_u64(HELD_OUT_SEED);
        for i in (1..samples.len()).rev() {
            samples.swap(i, rng.random_range(0..=i));
        }
        let n = (samples.len() / 10).clamp(1, HELD_OUT);
        let held_out = samples.split_off(samples.len() - n);
        Ok(Self {
            train: Arc::new(Source::Folder(samples)),
            held_out,
        })
    }
}

/// Reads a folder of PNG lines: `DIR/labels.tsv` holds one line per image, `file<TAB>text`
/// (file relative to `DIR`); empty lines are skipped. Each image is scaled to the model's
/// height.
///
/// # Errors
/// One-line input errors naming the file and line: no `labels.tsv`, a line without a tab, an
/// empty text, a character outside the alphabet, an image that cannot be read.
pub fn load_folder(dir: &Path) -> Result<Vec<Sample>, Error> {
    let labels = dir.join("labels.tsv");
    let text = rnn_io::atomic::read_regular_text(&labels)
        .map_err(|e| input(format!("cannot read {}: {e}", labels.display())))?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{} line {}", labels.display(), i + 1);
        if line.trim().is_empty() {
            continue;
        }
        let Some((file, label)) = line.split_once('\t') else {
            return Err(input(format!("{}: expected `file<TAB>text`", at())));
        };
        if label.is_empty() {
            return Err(input(format!("{}: the text of {file} is empty", at())));
        }
        if let Err(c) = encode(label) {
            return Err(input(format!(
                "{}: {c:?} in {label:?} is not in the alphabet (0-9, a-z, A-Z)",
                at()
            )));
        }
        let path: PathBuf = dir.join(file);
        let image = Gray::load_png(&path).map_err(|e| input(format!("{}: {e}", at())))?;
        samples.push(Sample {
            image: image.scaled_to_height(HEIGHT, MAX_WIDTH),
            text: label.to_string(),
        });
    }
    Ok(samples)
}

/// Writes samples as a folder [`load_folder`] reads: `0000000.png`, ... and `labels.tsv`.
///
/// # Errors
/// The file that cannot be written.
pub fn save_folder(dir: &Path, samples: &[Sample]) -> Result<(), Error> {
    let fail =
        |p: &Path, e: std::io::Error| Error::Run(format!("cannot write {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut labels = String::new();
    for (i, s) in samples.iter().enumerate() {
        let name = format!("{i:07}.png");
        let path = dir.join(&name);
        s.image.save_png(&path).map_err(|e| fail(&path, e))?;
        labels.push_str(&format!("{name}\t{}\n", s.text));
    }
    rnn_io::atomic::write_file(&dir.join("labels.tsv"), labels.as_bytes())?;
    Ok(())
}

/// A batch on the device.
pub struct Batch<B: Backend> {
    /// Standardized lines, padded on the right to the widest: `[N, 1, HEIGHT, W]`.
    pub images: Tensor<B, 4>,
    /// Each line's width before padding.
    pub widths: Vec<usize>,
    /// Classes of each text, padded with 0: `[N, S]`, `S` the longest text.
    pub targets: Tensor<B, 2, Int>,
    /// Each text's length.
    pub target_lengths: Vec<usize>,
    /// The texts.
    pub texts: Vec<String>,
}

/// `samples` as a [`Batch`] on `device`.
///
/// # Panics
/// If `samples` is empty or a text has a character outside the alphabet (both are checked
/// where samples are made).
pub fn batch<B: Backend>(samples: &[Sample], device: &B::Device) -> Batch<B> {
    let width = samples
        .iter()
        .map(|s| s.image.width)
        .max()
        .expect("a sample");
    let n = samples.len();
    let mut pixels = vec![0.0f32; n * HEIGHT * width];
    for (i, s) in samples.iter().enumerate() {
        let z = s.image.standardized();
        for y in 0..HEIGHT {
            let row = &z[y * s.image.width..(y + 1) * s.image.width];
            let at = (i * HEIGHT + y) * width;
            pixels[at..at + row.len()].copy_from_slice(row);
        }
    }
    let classes: Vec<Vec<u32>> = samples
        .iter()
        .map(|s| encode(&s.text).expect("checked texts"))
        .collect();
    let longest = classes.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut targets = vec![0i64; n * longest];
    for (i, c) in classes.iter().enumerate() {
        for (j, &v) in c.iter().enumerate() {
            targets[i * longest + j] = v as i64;
        }
    }
    Batch {
        images: Tensor::from_data(TensorData::new(pixels, [n, 1, HEIGHT, width]), device),
        widths: samples.iter().map(|s| s.image.width).collect(),
        targets: Tensor::from_data(TensorData::new(targets, [n, longest]), device),
        target_lengths: classes.iter().map(Vec::len).collect(),
        texts: samples.iter().map(|s| s.text.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_other_characters_are_named() {
        assert_eq!(encode("09azAZ").unwrap(), [1, 10, 11, 36, 37, 62]);
        assert_eq!(decode(&encode("Hello42").unwrap()), "Hello42");
        assert_eq!(encode("ab-c"), Err('-'));
        assert_eq!(encode("é"), Err('é'));
        assert_eq!(CLASSES, 63);
    }

    #[test]
    fn training_batches_repeat_by_step_and_never_draw_a_held_out_text() {
        let fonts = Fonts::new();
        let held = rendered(&fonts, 50, 7, &HashSet::new(), 1.0);
        let texts: HashSet<String> = held.iter().map(|s| s.text.clone()).collect();
        let source = Source::Rendered {
            fonts,
            held_out: texts.clone(),
            seed: 3,
            ramp: 0,
        };
        let a = source.batch(5, 40);
        let b = source.batch(5, 40);
        let c = source.batch(6, 40);
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.text == y.text && x.image == y.image));
        assert!(a.iter().zip(&c).any(|(x, y)| x.text != y.text));
        assert!(a
            .iter()
            .all(|s| !texts.contains(&s.text) && LINE_CHARS.contains(&s.text.len())));
    }

    #[test]
    fn a_folder_round_trips_and_bad_labels_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("crnn-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let samples = rendered(&Fonts::new(), 3, 1, &HashSet::new(), 1.0);
        save_folder(&dir, &samples).unwrap();
        let back = load_folder(&dir).unwrap();
        assert_eq!(back.len(), 3);
        assert!(back.iter().zip(&samples).all(|(a, b)| a.text == b.text));
        assert_eq!(back[0].image.height, HEIGHT);

        let labels = dir.join("labels.tsv");
        for (content, expected) in [
            (
                "0000000.png\tab-c\n",
                "line 1: '-' in \"ab-c\" is not in the alphabet",
            ),
            (
                "0000000.png\tabc\n\nnope\n",
                "line 3: expected `file<TAB>text`",
            ),
            ("missing.png\tabc\n", "line 1: "),
            (
                "0000000.png\t\n",
                "line 1: the text of 0000000.png is empty",
            ),
        ] {
            std::fs::write(&labels, content).unwrap();
            let err = load_folder(&dir).expect_err(content).to_string();
            assert!(
                err.contains(expected) && err.contains("labels.tsv"),
                "{err}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let err = load_folder(&dir).err().unwrap().to_string();
        assert!(err.contains("labels.tsv"), "{err}");
    }
}

//! CTC decoding (best path and prefix beam search) and the error rates.

use std::collections::HashMap;

/// CTC's blank class.
pub const BLANK: u32 = 0;

/// Best-path decoding: each column's most likely class, repeats merged, blanks dropped.
///
/// `log_probs` is one line's `[T, C]` log-probabilities, row-major.
pub fn greedy(log_probs: &[f32], classes: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut prev = BLANK;
    for row in log_probs.chunks(classes) {
        let best = argmax(row);
        if best != BLANK && best != prev {
            out.push(best);
        }
        prev = best;
    }
    out
}

fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| match v > bv {
            true => (i, v),
            false => (bi, bv),
        })
        .0 as u32
}

/// `ln(e^a + e^b)`.
fn log_add(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f32::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// CTC prefix beam search (Hannun et al. 2014) keeping `beam` prefixes: the labelling whose
/// alignments have the largest total probability among those the beam reaches. Classes below
/// a probability of 1e-4 in a column are not extended. `beam = 1` is close to, but not always
/// equal to, [`greedy`].
///
/// `log_probs` is one line's `[T, C]` log-probabilities, row-major.
pub fn beam_search(log_probs: &[f32], classes: usize, beam: usize) -> Vec<u32> {
    const NEG: f32 = f32::NEG_INFINITY;
    let floor = 1e-4f32.ln();
    // Each prefix's log-probability of ending in a blank and in its last label.
    let mut beams: Vec<(Vec<u32>, f32, f32)> = vec![(Vec::new(), 0.0, NEG)];
    for row in log_probs.chunks(classes) {
        let mut next: HashMap<Vec<u32>, (f32, f32)> = HashMap::new();
        let candidates: Vec<u32> = (0..classes as u32)
            .filter(|&c| row[c as usize] > floor)
            .collect();
        for (prefix, pb, pnb) in &beams {
            let total = log_add(*pb, *pnb);
            for &c in &candidates {
                let p = row[c as usize];
                if c == BLANK {
                    let e = next.entry(prefix.clone()).or_insert((NEG, NEG));
                    e.0 = log_add(e.0, total + p);
                    continue;
                }
                let mut longer = prefix.clone();
                longer.push(c);
                let repeat = prefix.last() == Some(&c);
                // A repeated label only starts a new one after a blank.
                let from = if repeat { *pb } else { total };
                let e = next.entry(longer).or_insert((NEG, NEG));
                e.1 = log_add(e.1, from + p);
                if repeat {
                    let e = next.entry(prefix.clone()).or_insert((NEG, NEG));
                    e.1 = log_add(e.1, *pnb + p);
                }
            }
        }
        let mut all: Vec<(Vec<u32>, f32, f32)> =
            next.into_iter().map(|(k, (b, nb))| (k, b, nb)).collect();
        all.sort_by(|a, b| log_add(b.1, b.2).total_cmp(&log_add(a.1, a.2)));
        all.truncate(beam.max(1));
        if all.is_empty() {
            break;
        }
        beams = all;
    }
    beams.swap_remove(0).0
}

/// Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != b[j])).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// Character error rate and exact-line accuracy of `(predicted, truth)` pairs: the summed edit
/// distances over the summed truth lengths, and the share of lines read exactly.
pub fn error_rates<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (f64, f64) {
    let (mut errors, mut chars, mut exact, mut lines) = (0, 0, 0, 0);
    for (p, t) in pairs {
        errors += edit_distance(p, t);
        chars += t.chars().count();
        exact += usize::from(p == t);
        lines += 1;
    }
    (
        errors as f64 / chars.max(1) as f64,
        exact as f64 / lines.max(1) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[T, 3]` log-probabilities from probability rows.
    fn logs(rows: &[[f32; 3]]) -> Vec<f32> {
        rows.iter().flatten().map(|p| p.ln()).collect()
    }

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        let lp = logs(&[
            [0.1, 0.8, 0.1],
            [0.1, 0.8, 0.1],
            [0.8, 0.1, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.1, 0.8],
        ]);
        assert_eq!(greedy(&lp, 3), [1, 1, 2]);
    }

    #[test]
    fn beam_search_finds_the_labelling_greedy_misses() {
        // Best path is blank, blank (""), probability 0.36; but "1" has 0.4*0.6 (1, blank) +
        // 0.6*0.4 (blank, 1) + 0.4*0.4 (1, 1) = 0.64.
        let lp = logs(&[[0.6, 0.4, 1e-9], [0.6, 0.4, 1e-9]]);
        assert_eq!(greedy(&lp, 3), Vec::<u32>::new());
        assert_eq!(beam_search(&lp, 3, 4), [1]);
        // A clear signal: both agree.
        let lp = logs(&[[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]]);
        assert_eq!(beam_search(&lp, 3, 4), [1, 1]);
        assert_eq!(greedy(&lp, 3), [1, 1]);
    }

    #[test]
    fn error_rates_count_edits_over_truth_characters() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        let (cer, acc) = error_rates([("abc", "abc"), ("abd", "abcd")]);
        assert!((cer - 1.0 / 7.0).abs() < 1e-12 && acc == 0.5);
    }
}

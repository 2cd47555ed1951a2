//! Date-normalization data, generated in code: real calendar dates written in many human
//! formats, each mapped to ISO 8601 (`1998-03-03`).
//!
//! Dates run from 1950-01-01 to 2049-12-31, so a two-digit year is never ambiguous (`50`-`99`
//! are 19xx, `00`-`49` are 20xx). Slashed numeric dates are American (month first), dotted ones
//! with the year last are European (day first); no format is written both ways.
//!
//! The splits are by calendar date: a date of the test split never appears in training, in any
//! format.

use burn_seq2seq::SplitMix64;
use chrono::{Datelike, Days, NaiveDate};

/// The first date generated.
pub fn first_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1950, 1, 1).expect("a valid date")
}

/// Number of dates generated (1950-01-01 ..= 2049-12-31).
pub fn date_count() -> usize {
    let last = NaiveDate::from_ymd_opt(2049, 12, 31).expect("a valid date");
    (last - first_date()).num_days() as usize + 1
}

/// The `i`-th date from [`first_date`].
pub fn date(i: usize) -> NaiveDate {
    first_date() + Days::new(i as u64)
}

/// Every character a format can write: the source vocabulary.
pub const SOURCE_ALPHABET: &str =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,./-'";

/// Every character of an ISO date: the target vocabulary.
pub const TARGET_ALPHABET: &str = "0123456789-";

/// The longest source the model accepts, in characters (the longest format writes 37).
pub const MAX_SOURCE_CHARS: usize = 64;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `1st`, `2nd`, `3rd`, `4th`, ..., `11th`, `12th`, `13th`, ..., `21st`, ...
fn ordinal(d: u32) -> String {
    let suffix = match (d % 10, d % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{d}{suffix}")
}

/// Number of formats [`render`] knows.
pub const FORMATS: usize = 22;

/// `date` written in format `format` (`0..FORMATS`), before any case change.
pub fn render(date: NaiveDate, format: usize) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let yy = y % 100;
    let month = MONTHS[m as usize - 1];
    let mon = &month[..3];
    let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
    let wkd = &weekday[..3];
    let nth = ordinal(d);
    match format {
        0 => format!("{weekday}, {d} {month} {y}"),
        1 => format!("{m}/{d}/{yy:02}"),
        2 => format!("{month} {nth}, {y}"),
        3 => format!("{y}.{m:02}.{d:02}"),
        4 => format!("{m:02}/{d:02}/{y}"),
        5 => format!("{d} {mon} {y}"),
        6 => format!("{mon} {d}, {y}"),
        7 => format!("{month} {d} {y}"),
        8 => format!("{nth} of {month}, {y}"),
        9 => format!("{wkd}, {d:02} {mon} {y}"),
        10 => format!("{y}{m:02}{d:02}"),
        11 => format!("{y}-{m}-{d}"),
        12 => format!("{d:02}.{m:02}.{y}"),
        13 => format!("{d} {month} {yy:02}"),
        14 => format!("the {nth} of {month} {y}"),
        15 => format!("{weekday} {month} {d}, {y}"),
        16 => format!("{wkd} {d} {mon} '{yy:02}"),
        17 => format!("{y}/{m:02}/{d:02}"),
        18 => format!("{d}-{mon}-{y}"),
        19 => format!("{mon}. {d}, {y}"),
        20 => format!("{d}.{m}.{yy:02}"),
        21 => format!("{weekday} the {nth} of {month}, {y}"),
        _ => panic!("date format {format} does not exist (0..{FORMATS})"),
    }
}

/// `date` as ISO 8601, `YYYY-MM-DD`.
pub fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A random format and case of `date`: as written (70%), lowercase (20%) or uppercase (10%).
pub fn random_example(date: NaiveDate, rng: &mut SplitMix64) -> (String, String) {
    let text = render(date, rng.below(FORMATS));
    let u = rng.next_f64();
    let text = if u < 0.7 {
        text
    } else if u < 0.9 {
        text.to_lowercase()
    } else {
        text.to_uppercase()
    };
    (text, iso(date))
}

/// The dates of each split (indices for [`date`]) and the fixed validation and test examples.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Dates the model trains on (90%); examples are drawn afresh for each batch.
    pub train: Vec<usize>,
    /// `(source, target)` pairs from the validation dates (5%).
    pub valid: Vec<(String, String)>,
    /// `(source, target)` pairs from the test dates (the other 5%).
    pub test: Vec<(String, String)>,
}

impl Splits {
    /// The splits for `seed`, with `valid` and `test` examples.
    pub fn new(seed: u64, valid: usize, test: usize) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut dates: Vec<usize> = (0..date_count()).collect();
        for i in (1..dates.len()).rev() {
            dates.swap(i, rng.below(i + 1));
        }
        let held = dates.len() / 20;
        let test_dates = dates.split_off(dates.len() - held);
        let valid_dates = dates.split_off(dates.len() - held);
        // One example per date, going round the dates again (in other formats) past their count.
        let examples = |list: &[usize], n: usize, rng: &mut SplitMix64| {
            (0..n)
                .map(|k| random_example(date(list[k % list.len()]), rng))
                .collect()
        };
        let valid = examples(&valid_dates, valid, &mut rng);
        let test = examples(&test_dates, test, &mut rng);
        Self {
            train: dates,
            valid,
            test,
        }
    }

    /// Training example number `index` of the stream of seed `seed`: a random training date in
    /// a random format and case, drawn from a generator of its own (seeded by `seed` and
    /// `index`), so that any split of the stream across devices or batches sees the same
    /// examples.
    pub fn train_example(&self, seed: u64, index: u64) -> (String, String) {
        let mut rng = SplitMix64::new(stream_seed(seed, index));
        let i = self.train[rng.below(self.train.len())];
        random_example(date(i), &mut rng)
    }

    /// Training examples `first..first + n` of the stream of seed `seed` ([`Self::train_example`]).
    pub fn train_batch(&self, seed: u64, first: u64, n: usize) -> Vec<(String, String)> {
        (first..first + n as u64)
            .map(|index| self.train_example(seed, index))
            .collect()
    }
}

/// The seed of example `index` of the stream of seed `seed` (one SplitMix64 step of the pair,
/// so neighbouring indices get unrelated generators).
pub fn stream_seed(seed: u64, index: u64) -> u64 {
    SplitMix64::new(seed ^ 0x5eed_0000_0000_0000 ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_formats_write_the_issues_examples() {
        let d = NaiveDate::from_ymd_opt(1998, 3, 3).unwrap();
        let all: Vec<String> = (0..FORMATS).map(|f| render(d, f)).collect();
        for want in [
            "Tuesday, 3 March 1998",
            "3/3/98",
            "March 3rd, 1998",
            "1998.03.03",
        ] {
            assert!(all.iter().any(|s| s == want), "{want} not in {all:?}");
        }
        assert_eq!(iso(d), "1998-03-03");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(31), "31st");
    }

    #[test]
    fn every_written_date_has_one_meaning_and_fits() {
        // No string is written for two different dates, in any format or case.
        let mut seen = std::collections::HashMap::new();
        for i in (0..date_count()).step_by(7) {
            for f in 0..FORMATS {
                let s = render(date(i), f);
                assert!(s.chars().count() <= 37, "{s} is long");
                assert!(s.chars().all(|c| SOURCE_ALPHABET.contains(c)), "{s}");
                for s in [s.clone(), s.to_lowercase(), s.to_uppercase()] {
                    if let Some(&j) = seen.get(&s) {
                        assert_eq!(j, i, "{s:?} is written for two dates");
                    }
                    seen.insert(s, i);
                }
            }
        }
    }

    #[test]
    fn splits_do_not_share_dates() {
        let splits = Splits::new(3, 1000, 2000);
        assert_eq!(splits.valid.len(), 1000);
        assert_eq!(splits.test.len(), 2000);
        let train: HashSet<String> = splits.train.iter().map(|&i| iso(date(i))).collect();
        let valid: HashSet<&String> = splits.valid.iter().map(|p| &p.1).collect();
        for (_, target) in &splits.test {
            assert!(
                !train.contains(target) && !valid.contains(target),
                "{target}"
            );
        }
        for (_, target) in &splits.valid {
            assert!(!train.contains(target), "{target}");
        }
        let again = Splits::new(3, 1000, 2000);
        assert_eq!(again.test, splits.test);
    }

    #[test]
    fn the_training_stream_is_the_same_however_it_is_cut() {
        let splits = Splits::new(3, 10, 10);
        let whole = splits.train_batch(9, 0, 64);
        let halves = [splits.train_batch(9, 0, 32), splits.train_batch(9, 32, 32)].concat();
        assert_eq!(whole, halves);
        assert_ne!(whole, splits.train_batch(10, 0, 64), "the seed is ignored");
        let distinct: HashSet<&String> = whole.iter().map(|p| &p.0).collect();
        assert!(distinct.len() > 60, "{} distinct sources", distinct.len());
        let train: HashSet<String> = splits.train.iter().map(|&i| iso(date(i))).collect();
        assert!(whole.iter().all(|(_, t)| train.contains(t)));
    }
}

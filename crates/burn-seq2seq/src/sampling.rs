//! Drawing tokens from rows of logits: a seeded generator ([`SplitMix64`]) and temperature,
//! top-k and top-p (nucleus) sampling ([`SamplingConfig`] builds a [`Sampler`]).
//!
//! Shapes: `N` rows (a batch), `V` classes (the vocabulary). A row is `[V]` logits, or
//! log-probabilities: any shift of a row gives the same distribution.
//!
//! For one row `l: [V]`, with temperature `T > 0`:
//! ```text
//! p_i  = softmax(l / T)_i
//! K    = the top_k most likely ids (all V without top_k)
//! P    = the smallest prefix of K (most likely first) with Σ_{j∈P} p_j >= top_p * Σ_{j∈K} p_j
//! q_i  = p_i / Σ_{j∈P} p_j  for i in P, else 0
//! ```
//! and the drawn id follows `q`. `T = 0` is greedy: the most likely id (the lowest on ties),
//! with no draw. Ties in the ordering also go to the lower id, so the kept set is unique.
//!
//! ```
//! use burn_seq2seq::sampling::SamplingConfig;
//!
//! let mut sampler = SamplingConfig::new()
//!     .with_temperature(0.8)
//!     .with_top_k(Some(2))
//!     .init(7);
//! let logits = [0.0f32, 3.0, 1.0, -2.0]; // [V]
//! let q = sampler.distribution(&logits);
//! assert_eq!((q[0], q[3]), (0.0, 0.0)); // outside the top 2
//! assert!((q[1] + q[2] - 1.0).abs() < 1e-6);
//! let id = sampler.sample_row(&logits);
//! assert!(id == 1 || id == 2);
//! ```

use burn::config::Config;
use burn::tensor::{backend::Backend, Tensor};

/// A small seeded random generator (SplitMix64, Steele et al. 2014): the same seed gives the
/// same numbers on every backend and platform. Used for sampling, scheduled sampling and the
/// examples' data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }
}

/// A sampling setting out of range, from [`SamplingConfig::validate`].
#[derive(Clone, Debug, PartialEq)]
pub enum SamplingError {
    /// The temperature is negative or not finite.
    Temperature(f64),
    /// `top_k` is `Some(0)`.
    TopK,
    /// `top_p` is outside `(0, 1]`.
    TopP(f64),
}

impl core::fmt::Display for SamplingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SamplingError::Temperature(t) => write!(
                f,
                "sampling: expected a finite temperature >= 0 (0 is greedy), got {t}"
            ),
            SamplingError::TopK => {
                write!(
                    f,
                    "sampling: expected top_k >= 1 (or none to keep all), got 0"
                )
            }
            SamplingError::TopP(p) => write!(f, "sampling: expected top_p in (0, 1], got {p}"),
        }
    }
}

impl std::error::Error for SamplingError {}

/// How a [`Sampler`] reshapes each row's distribution before drawing (see the [module
/// docs](self) for the equations). The defaults sample from the model's own distribution.
#[derive(Config, Debug, PartialEq)]
pub struct SamplingConfig {
    /// Softmax temperature `T >= 0`: below 1 sharpens, above 1 flattens, 0 is greedy (argmax).
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Keep only the `k >= 1` most likely ids; `None` keeps all `V`.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely ids whose probability reaches `p`, in `(0, 1]`
    /// (nucleus sampling, Holtzman et al. 2019); 1 keeps all.
    #[config(default = 1.0)]
    pub top_p: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SamplingConfig {
    /// Checks the settings; the error names the setting and the value.
    pub fn validate(&self) -> Result<(), SamplingError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SamplingError::Temperature(self.temperature));
        }
        if self.top_k == Some(0) {
            return Err(SamplingError::TopK);
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplingError::TopP(self.top_p));
        }
        Ok(())
    }

    /// Whether the temperature is 0: every row gives its most likely id.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// A sampler of these settings, seeded with `seed`.
    ///
    /// # Panics
    /// If [`SamplingConfig::validate`] fails (see [`SamplingConfig::try_init`]).
    pub fn init(&self, seed: u64) -> Sampler {
        self.try_init(seed).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A sampler of these settings, seeded with `seed`, or why the settings are invalid.
    pub fn try_init(&self, seed: u64) -> Result<Sampler, SamplingError> {
        self.validate()?;
        Ok(Sampler {
            config: self.clone(),
            rng: SplitMix64::new(seed),
        })
    }
}

/// Draws ids from rows of logits with a [`SamplingConfig`] and its own [`SplitMix64`]: the
/// same seed, settings and rows give the same ids.
#[derive(Clone, Debug)]
pub struct Sampler {
    config: SamplingConfig,
    rng: SplitMix64,
}

impl Sampler {
    /// The (valid) settings.
    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    /// One id per row of a batch of logits, read back to the host.
    ///
    /// # Shapes
    /// - `logits`: `[N, V]`, `V >= 1`
    /// - returns `N` ids in `0..V`
    ///
    /// # Panics
    /// If `V` is 0, or a row holds a NaN or no finite value.
    pub fn sample<B: Backend>(&mut self, logits: Tensor<B, 2>) -> Vec<usize> {
        let [_, v] = logits.dims();
        assert!(
            v >= 1,
            "sampling: expected logits [N, V] with V >= 1, got V = 0"
        );
        let values: Vec<f32> = logits.into_data().iter::<f32>().collect();
        values.chunks(v).map(|row| self.sample_row(row)).collect()
    }

    /// One id drawn from one row.
    ///
    /// # Shapes
    /// - `logits`: `[V]`, `V >= 1`; returns an id in `0..V`
    ///
    /// # Panics
    /// If the row is empty, or holds a NaN or no finite value.
    pub fn sample_row(&mut self, logits: &[f32]) -> usize {
        let kept = self.kept(logits);
        let total: f64 = kept.iter().map(|&(_, w)| w).sum();
        let mut u = self.rng.next_f64() * total;
        for &(id, w) in &kept {
            if u < w {
                return id;
            }
            u -= w;
        }
        // Rounding left `u` past the end: the last id with any weight.
        kept.iter()
            .rev()
            .find(|&&(_, w)| w > 0.0)
            .map_or(kept[0].0, |&(id, _)| id)
    }

    /// The distribution [`Sampler::sample_row`] draws from: `q` of the [module docs](self),
    /// zero outside the kept ids and summing to 1.
    ///
    /// # Shapes
    /// - `logits`: `[V]`, `V >= 1`; returns `[V]`
    ///
    /// # Panics
    /// If the row is empty, or holds a NaN or no finite value.
    pub fn distribution(&self, logits: &[f32]) -> Vec<f32> {
        let kept = self.kept(logits);
        let total: f64 = kept.iter().map(|&(_, w)| w).sum();
        let mut q = vec![0.0; logits.len()];
        for (id, w) in kept {
            q[id] = (w / total) as f32;
        }
        q
    }

    /// The kept ids with their unnormalized weights, most likely first.
    fn kept(&self, logits: &[f32]) -> Vec<(usize, f64)> {
        assert!(
            !logits.is_empty(),
            "sampling: expected a row of V >= 1 logits, got none"
        );
        if let Some(i) = logits.iter().position(|l| l.is_nan()) {
            panic!("sampling: expected finite logits, got NaN at id {i}");
        }
        let best = argmax(logits);
        let max = logits[best];
        assert!(
            max.is_finite(),
            "sampling: expected at least one finite logit, got a row whose largest is {max}"
        );
        let config = &self.config;
        if config.is_greedy() {
            return vec![(best, 1.0)];
        }
        let mut order: Vec<(usize, f64)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i, ((l as f64 - max as f64) / config.temperature).exp()))
            .collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(k) = config.top_k {
            order.truncate(k);
        }
        if config.top_p < 1.0 {
            let target = config.top_p * order.iter().map(|&(_, w)| w).sum::<f64>();
            let mut cumulative = 0.0;
            let keep = order
                .iter()
                .position(|&(_, w)| {
                    cumulative += w;
                    cumulative >= target
                })
                .map_or(order.len(), |i| i + 1);
            order.truncate(keep);
        }
        order
    }
}

/// The id of the largest value of a row, the lowest on ties (NaN never wins).
///
/// # Shapes
/// - `row`: `[V]`; returns an id in `0..V` (0 for an empty row)
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits whose softmax is `probs`.
    fn logits(probs: &[f64]) -> Vec<f32> {
        probs.iter().map(|p| p.ln() as f32).collect()
    }

    /// How often each id comes in `draws` draws.
    fn frequencies(sampler: &mut Sampler, row: &[f32], draws: usize) -> Vec<f64> {
        let mut counts = vec![0usize; row.len()];
        for _ in 0..draws {
            counts[sampler.sample_row(row)] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn split_mix_64_matches_the_reference_sequence() {
        // SplitMix64 from seed 0 (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut rng = SplitMix64::new(5);
        assert!((0..1000).all(|_| (0.0..1.0).contains(&rng.next_f64())));
        assert!((0..1000).all(|_| rng.below(3) < 3));
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn the_same_seed_draws_the_same_ids() {
        let row = logits(&[0.1, 0.2, 0.3, 0.4]);
        let config = SamplingConfig::new().with_temperature(1.3).with_top_p(0.9);
        let draw = |seed| -> Vec<usize> {
            let mut s = config.init(seed);
            (0..64).map(|_| s.sample_row(&row)).collect()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn top_k_1_is_argmax() {
        let mut rng = SplitMix64::new(11);
        let mut sampler = SamplingConfig::new().with_top_k(Some(1)).init(1);
        for _ in 0..200 {
            let row: Vec<f32> = (0..7)
                .map(|_| (rng.next_f64() * 8.0 - 4.0) as f32)
                .collect();
            assert_eq!(sampler.sample_row(&row), argmax(&row), "{row:?}");
        }
        // Ties go to the lower id.
        assert_eq!(sampler.sample_row(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }

    #[test]
    fn top_p_keeps_the_smallest_set_that_reaches_p() {
        let row = logits(&[0.05, 0.5, 0.15, 0.3]);
        let kept = |p: f64| -> Vec<usize> {
            let q = SamplingConfig::new()
                .with_top_p(p)
                .init(0)
                .distribution(&row);
            (0..4).filter(|&i| q[i] > 0.0).collect()
        };
        assert_eq!(kept(0.3), vec![1]); // 0.5 already reaches 0.3
        assert_eq!(kept(0.5), vec![1]); // exactly reaches it
        assert_eq!(kept(0.6), vec![1, 3]); // 0.5 < 0.6 <= 0.8
        assert_eq!(kept(0.85), vec![1, 2, 3]); // 0.8 < 0.85 <= 0.95
        assert_eq!(kept(1.0), vec![0, 1, 2, 3]);
        // After top-k the nucleus is taken over the renormalized top-k mass: of 0.5 and 0.3,
        // 0.5 / 0.8 = 0.625 < 0.7.
        let q = SamplingConfig::new()
            .with_top_k(Some(2))
            .with_top_p(0.7)
            .init(0)
            .distribution(&row);
        assert_eq!(q.iter().filter(|&&x| x > 0.0).count(), 2);
    }

    #[test]
    fn temperature_towards_0_is_greedy() {
        let row = [0.3f32, 1.0, 0.99, -2.0];
        let mut zero = SamplingConfig::new().with_temperature(0.0).init(5);
        assert!(zero.config().is_greedy());
        assert!((0..100).all(|_| zero.sample_row(&row) == 1));
        assert_eq!(zero.distribution(&row), vec![0.0, 1.0, 0.0, 0.0]);
        let mut cold = SamplingConfig::new().with_temperature(1e-3).init(5);
        assert!((0..1000).all(|_| cold.sample_row(&row) == 1));
        // Sharper as T falls: the best id's probability grows monotonically.
        let best = |t: f64| {
            SamplingConfig::new()
                .with_temperature(t)
                .init(0)
                .distribution(&row)[1]
        };
        assert!(best(2.0) < best(1.0) && best(1.0) < best(0.1) && best(0.1) < best(0.01));
    }

    #[test]
    fn the_kept_set_is_renormalized_and_drawn_in_proportion() {
        // softmax = [0.4, 0.3, 0.2, 0.1]; top-k 3 keeps [0.4, 0.3, 0.2] / 0.9.
        let row = logits(&[0.4, 0.3, 0.2, 0.1]);
        let mut sampler = SamplingConfig::new().with_top_k(Some(3)).init(9);
        let expected = [0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0.0];
        let q = sampler.distribution(&row);
        for (a, b) in q.iter().zip(expected) {
            assert!((*a as f64 - b).abs() < 1e-6, "{q:?} vs {expected:?}");
        }
        let seen = frequencies(&mut sampler, &row, 20_000);
        for (f, e) in seen.iter().zip(expected) {
            // 4 standard deviations of a frequency over 20 000 draws is under 0.015.
            assert!(
                (f - e).abs() < 0.015,
                "frequencies {seen:?} vs {expected:?}"
            );
        }
        assert_eq!(seen[3], 0.0);

        // Temperature 2 over logits [0, ln 4]: softmax([0, ln 2]) = [1/3, 2/3].
        let row = [0.0f32, 4f32.ln()];
        let mut warm = SamplingConfig::new().with_temperature(2.0).init(2);
        let seen = frequencies(&mut warm, &row, 20_000);
        assert!((seen[1] - 2.0 / 3.0).abs() < 0.015, "{seen:?}");
    }

    #[test]
    fn a_batch_samples_each_row_in_order() {
        type B = burn_rnn::backend::DefaultBackend;
        let rows = [0.0f32, 9.0, 0.0, 7.0, 0.0, 0.0];
        let logits = Tensor::<B, 2>::from_data(
            burn::tensor::TensorData::new(rows.to_vec(), [2, 3]),
            &Default::default(),
        );
        let mut sampler = SamplingConfig::new().with_temperature(0.0).init(0);
        assert_eq!(sampler.sample(logits), vec![1, 0]);
    }

    #[test]
    fn bad_settings_and_rows_say_what_is_wrong() {
        let err = SamplingConfig::new()
            .with_temperature(-1.0)
            .validate()
            .unwrap_err();
        assert_eq!(err, SamplingError::Temperature(-1.0));
        assert!(err.to_string().contains("got -1"), "{err}");
        assert!(SamplingConfig::new()
            .with_temperature(f64::NAN)
            .validate()
            .is_err());
        assert_eq!(
            SamplingConfig::new()
                .with_top_k(Some(0))
                .try_init(0)
                .unwrap_err(),
            SamplingError::TopK
        );
        for p in [0.0, 1.5] {
            assert_eq!(
                SamplingConfig::new().with_top_p(p).validate(),
                Err(SamplingError::TopP(p))
            );
        }
        let sampler = SamplingConfig::new().init(0);
        let panics = |row: &'static [f32]| {
            let s = sampler.clone();
            std::panic::catch_unwind(move || s.distribution(row)).is_err()
        };
        assert!(panics(&[]));
        assert!(panics(&[0.0, f32::NAN]));
        assert!(panics(&[f32::NEG_INFINITY, f32::NEG_INFINITY]));
        // -inf marks an id that can never be drawn.
        assert_eq!(
            sampler.distribution(&[f32::NEG_INFINITY, 0.0]),
            vec![0.0, 1.0]
        );
    }
}

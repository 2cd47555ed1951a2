//! Batched decoding: greedy, beam search and sampling.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

use super::batch::{index_tensor, pad_sources};
use super::decoder::{DecoderState, DecoderStepOutput};
use super::encoder::Memory;
use super::model::Seq2Seq;
use crate::sampling::SamplingConfig;
use burn_rnn::Cell;
use burn_rnn::RnnBackend;

/// One decoded sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// The target ids, without BOS and EOS.
    pub tokens: Vec<usize>,
    /// The model's log-probability of the tokens and, if [`Hypothesis::finished`], the EOS.
    pub log_prob: f32,
    /// The ranking score: `log_prob` divided by the length penalty (beam search), else
    /// `log_prob`.
    pub score: f32,
    /// Whether the hypothesis ended with EOS (else it stopped at the maximum length).
    pub finished: bool,
    /// With `return_attention`: one row of attention weights per generated token (EOS
    /// included), each as long as the source.
    pub attention: Option<Vec<Vec<f32>>>,
}

/// Settings of [`Seq2Seq::greedy`].
#[derive(Clone, Debug)]
pub struct GreedyOptions {
    /// The most tokens generated per sequence, EOS included.
    pub max_len: usize,
    /// Whether to return the attention weights.
    pub return_attention: bool,
}

impl Default for GreedyOptions {
    fn default() -> Self {
        Self {
            max_len: 100,
            return_attention: false,
        }
    }
}

/// Settings of [`Seq2Seq::beam_search`].
#[derive(Clone, Debug)]
pub struct BeamOptions {
    /// Hypotheses kept alive per source, `K >= 1`.
    pub beam_size: usize,
    /// Length penalty exponent `α` of GNMT (Wu et al. 2016):
    /// `score = log_prob / ((5 + len) / 6)^α`; 0 ranks by raw log-probability.
    pub alpha: f32,
    /// The most tokens generated per hypothesis, EOS included.
    pub max_len: usize,
    /// How many hypotheses to return per source (at most `beam_size`).
    pub nbest: usize,
    /// Whether to return the attention weights.
    pub return_attention: bool,
}

impl Default for BeamOptions {
    fn default() -> Self {
        Self {
            beam_size: 5,
            alpha: 0.6,
            max_len: 100,
            nbest: 1,
            return_attention: false,
        }
    }
}

/// Settings of [`Seq2Seq::sample`].
#[derive(Clone, Debug)]
pub struct SampleOptions {
    /// How each step's distribution is reshaped: temperature (0 is greedy), top-k, top-p.
    pub sampling: SamplingConfig,
    /// Seed of the sampler: the same seed, model and input give the same output.
    pub seed: u64,
    /// The most tokens generated per sequence, EOS included.
    pub max_len: usize,
    /// Whether to return the attention weights.
    pub return_attention: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            sampling: SamplingConfig::new(),
            seed: 0,
            max_len: 100,
            return_attention: false,
        }
    }
}

/// GNMT's length penalty `((5 + len) / 6)^α`.
fn length_penalty(len: usize, alpha: f32) -> f32 {
    ((5.0 + len as f32) / 6.0).powf(alpha)
}

fn floats<B: burn::tensor::backend::Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// A live beam: its tokens, log-probability and attention rows.
#[derive(Clone)]
struct Beam {
    tokens: Vec<usize>,
    log_prob: f32,
    attention: Vec<Vec<f32>>,
}

impl Beam {
    /// The `N * K` beams of a search's first step: only the first beam of each source starts
    /// alive, so the `K` beams do not duplicate.
    fn starts(n: usize, k: usize) -> Vec<Self> {
        (0..n * k)
            .map(|r| Beam {
                log_prob: if r % k == 0 { 0.0 } else { f32::NEG_INFINITY },
                ..Beam::dead()
            })
            .collect()
    }

    fn dead() -> Self {
        Self {
            tokens: Vec::new(),
            log_prob: f32::NEG_INFINITY,
            attention: Vec::new(),
        }
    }
}

impl<B: RnnBackend, C: Cell<B>> Seq2Seq<B, C> {
    /// Encodes unpadded source id sequences.
    fn encode_sources(&self, src: &[Vec<usize>]) -> (Memory<B>, DecoderState<B, C>) {
        let device = self.encoder.embedding.weight.device();
        let (ids, lengths) = pad_sources::<B>(src, self.pad_id, &device);
        self.encode(ids, &lengths)
    }

    /// One step for `tokens` (`M` ids): the decoder's step with log-probabilities `[M, V]`
    /// in place of its logits.
    fn step_logp(
        &self,
        tokens: &[usize],
        state: DecoderState<B, C>,
        memory: &Memory<B>,
    ) -> DecoderStepOutput<B, C> {
        let device = memory.memory.device();
        let out = self
            .decoder
            .step(index_tensor::<B>(tokens, &device), state, memory);
        DecoderStepOutput {
            logits: log_softmax(out.logits, 1),
            ..out
        }
    }

    /// Greedy decoding of a batch of sources (unpadded id sequences): each step takes the most
    /// likely token, until EOS or `max_len`.
    ///
    /// # Panics
    /// If `src` is empty or holds an empty sequence, or `max_len` is 0.
    pub fn greedy(&self, src: &[Vec<usize>], options: &GreedyOptions) -> Vec<Hypothesis> {
        assert!(options.max_len >= 1, "greedy: expected max_len >= 1, got 0");
        let (memory, mut state) = self.encode_sources(src);
        let n = src.len();
        let mut batch = OneEach::new(n, self.bos_id, options.return_attention);
        for _ in 0..options.max_len {
            let step = self.step_logp(&batch.tokens, state, &memory);
            state = step.state;
            let (best, index) = step.logits.max_dim_with_indices(1);
            let best = floats(best);
            let index: Vec<i64> = index.into_data().iter::<i64>().collect();
            let rows = options.return_attention.then(|| floats(step.attention));
            let s = memory.mask.dims()[1];
            for i in 0..n {
                if batch.done[i] {
                    continue;
                }
                let row = rows.as_ref().map(|r| &r[i * s..i * s + memory.lengths[i]]);
                batch.push(i, index[i] as usize, best[i], row, self.eos_id);
            }
            if batch.all_done() {
                break;
            }
        }
        batch.finish()
    }

    /// Beam search over a batch of sources: for each, up to `nbest` hypotheses sorted by
    /// score (best first). A source stops once `beam_size` hypotheses have ended with EOS;
    /// at `max_len` the live ones are returned as unfinished.
    ///
    /// # Panics
    /// If `src` is empty or holds an empty sequence, or `beam_size`, `nbest` or `max_len`
    /// is 0.
    pub fn beam_search(&self, src: &[Vec<usize>], options: &BeamOptions) -> Vec<Vec<Hypothesis>> {
        options.check();
        let k = options.beam_size;
        let n = src.len();
        let (memory, state) = self.encode_sources(src);
        let repeat: Vec<usize> = (0..n * k).map(|r| r / k).collect();
        let memory = memory.select(&repeat);
        let mut state = state.select(&repeat);
        let s = memory.mask.dims()[1];
        let device = memory.memory.device();

        let mut alive = Beam::starts(n, k);
        let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); n];
        let mut done = vec![false; n];
        let mut input = vec![self.bos_id; n * k];
        for step in 0..options.max_len {
            let DecoderStepOutput {
                logits: logp,
                attention,
                state: next,
            } = self.step_logp(&input, state, &memory);
            let v = logp.dims()[1];
            let scores: Vec<f32> = alive.iter().map(|b| b.log_prob).collect();
            let scores = Tensor::<B, 2>::from_data(TensorData::new(scores, [n * k, 1]), &device);
            let candidates = (2 * k).min(k * v);
            let (values, indices) = (logp + scores)
                .reshape([n, k * v])
                .topk_with_indices(candidates, 1);
            let values = floats(values);
            let indices: Vec<i64> = indices.into_data().iter::<i64>().collect();
            let rows = options.return_attention.then(|| floats(attention));
            let last = step + 1 == options.max_len;

            let cands = StepCandidates {
                values: &values,
                indices: &indices,
                per_source: candidates,
                vocab: v,
                attention: rows.as_deref(),
                attention_width: s,
                lengths: &memory.lengths,
            };
            let mut beams = NextBeams {
                alive: vec![Beam::dead(); n * k],
                parents: (0..n * k).collect(),
                input: &mut input,
            };
            for i in 0..n {
                if done[i] {
                    continue;
                }
                let slots = cands.extend(
                    i,
                    k,
                    &alive,
                    &mut beams,
                    &mut finished[i],
                    self.eos_id,
                    options,
                );
                if finished[i].len() >= k {
                    done[i] = true;
                } else if last {
                    finished[i].extend(
                        beams.alive[i * k..i * k + slots]
                            .iter()
                            .map(|b| hypothesis(b.clone(), false, options)),
                    );
                    done[i] = true;
                }
            }
            let (next_alive, parents) = (beams.alive, beams.parents);
            alive = next_alive;
            if done.iter().all(|&d| d) {
                break;
            }
            state = next.select(&parents);
        }
        finished
            .into_iter()
            .map(|hyps| options.best(hyps))
            .collect()
    }

    /// Samples one target per source from the model's distribution, reshaped by
    /// [`SampleOptions::sampling`] (temperature, top-k, top-p; see [`crate::sampling`]);
    /// reproducible for a given `seed`. [`Hypothesis::log_prob`] is the log-probability under
    /// the unmodified model.
    ///
    /// # Panics
    /// If `src` is empty or holds an empty sequence, the sampling settings are invalid
    /// ([`SamplingConfig::validate`]), or `max_len` is 0.
    pub fn sample(&self, src: &[Vec<usize>], options: &SampleOptions) -> Vec<Hypothesis> {
        let mut sampler = options.sampling.init(options.seed);
        assert!(options.max_len >= 1, "sample: expected max_len >= 1, got 0");
        let (memory, mut state) = self.encode_sources(src);
        let n = src.len();
        let s = memory.mask.dims()[1];
        let mut batch = OneEach::new(n, self.bos_id, options.return_attention);
        for _ in 0..options.max_len {
            let step = self.step_logp(&batch.tokens, state, &memory);
            state = step.state;
            let v = step.logits.dims()[1];
            let logp = floats(step.logits);
            let rows = options.return_attention.then(|| floats(step.attention));
            for i in 0..n {
                if batch.done[i] {
                    continue;
                }
                let logp = &logp[i * v..(i + 1) * v];
                let token = sampler.sample_row(logp);
                let row = rows.as_ref().map(|r| &r[i * s..i * s + memory.lengths[i]]);
                batch.push(i, token, logp[token], row, self.eos_id);
            }
            if batch.all_done() {
                break;
            }
        }
        batch.finish()
    }
}

/// The state of a decoder that picks one token per source and step (greedy, sampling).
struct OneEach {
    hyps: Vec<Hypothesis>,
    done: Vec<bool>,
    /// The next step's input: each source's last token (BOS at first).
    tokens: Vec<usize>,
}

impl OneEach {
    fn new(n: usize, bos: usize, attention: bool) -> Self {
        let empty = || Hypothesis {
            tokens: Vec::new(),
            log_prob: 0.0,
            score: 0.0,
            finished: false,
            attention: attention.then(Vec::new),
        };
        Self {
            hyps: (0..n).map(|_| empty()).collect(),
            done: vec![false; n],
            tokens: vec![bos; n],
        }
    }

    /// Source `i` takes `token` with log-probability `log_prob` (and attention `row`).
    fn push(&mut self, i: usize, token: usize, log_prob: f32, row: Option<&[f32]>, eos: usize) {
        let hyp = &mut self.hyps[i];
        hyp.log_prob += log_prob;
        if let (Some(att), Some(row)) = (&mut hyp.attention, row) {
            att.push(row.to_vec());
        }
        if token == eos {
            self.done[i] = true;
            hyp.finished = true;
        } else {
            hyp.tokens.push(token);
        }
        self.tokens[i] = token;
    }

    fn all_done(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    /// The hypotheses, scored by their log-probability.
    fn finish(self) -> Vec<Hypothesis> {
        self.hyps
            .into_iter()
            .map(|h| Hypothesis {
                score: h.log_prob,
                ..h
            })
            .collect()
    }
}

impl BeamOptions {
    /// Panics on a setting beam search cannot run with.
    fn check(&self) {
        assert!(
            self.beam_size >= 1,
            "beam_search: expected beam_size >= 1, got 0"
        );
        assert!(self.nbest >= 1, "beam_search: expected nbest >= 1, got 0");
        assert!(
            self.max_len >= 1,
            "beam_search: expected max_len >= 1, got 0"
        );
    }

    /// The `nbest` best of a source's hypotheses, best first.
    fn best(&self, mut hyps: Vec<Hypothesis>) -> Vec<Hypothesis> {
        hyps.sort_by(|a, b| b.score.total_cmp(&a.score));
        hyps.truncate(self.nbest);
        hyps
    }
}

/// One beam-search step's best continuations: for each source, `per_source` flat indices
/// into its `K * V` (beam, token) scores, best first.
struct StepCandidates<'a> {
    /// `[N, per_source]`: the running log-probabilities.
    values: &'a [f32],
    /// `[N, per_source]`: `beam * V + token`.
    indices: &'a [i64],
    per_source: usize,
    vocab: usize,
    /// `[N*K, attention_width]`: this step's attention rows, when they are returned.
    attention: Option<&'a [f32]>,
    attention_width: usize,
    /// `[N*K]`: each beam's source length.
    lengths: &'a [usize],
}

/// The beams of the next step, as [`StepCandidates::extend`] fills them.
struct NextBeams<'a> {
    /// `[N*K]`
    alive: Vec<Beam>,
    /// `[N*K]`: the beam each next beam extends (its state row).
    parents: Vec<usize>,
    /// `[N*K]`: the token each next beam feeds the decoder.
    input: &'a mut [usize],
}

impl StepCandidates<'_> {
    /// Extends source `i`'s beams: candidates ending in EOS go to `finished`, the others fill
    /// the source's `k` slots of `next` in order. Returns the slots filled.
    #[allow(clippy::too_many_arguments)]
    fn extend(
        &self,
        i: usize,
        k: usize,
        alive: &[Beam],
        next: &mut NextBeams<'_>,
        finished: &mut Vec<Hypothesis>,
        eos: usize,
        options: &BeamOptions,
    ) -> usize {
        let mut slot = 0;
        for c in 0..self.per_source {
            let value = self.values[i * self.per_source + c];
            if !value.is_finite() || slot == k {
                break;
            }
            let flat = self.indices[i * self.per_source + c] as usize;
            let (parent, token) = (i * k + flat / self.vocab, flat % self.vocab);
            let mut beam = alive[parent].clone();
            beam.log_prob = value;
            if let Some(rows) = self.attention {
                let start = parent * self.attention_width;
                beam.attention
                    .push(rows[start..start + self.lengths[parent]].to_vec());
            }
            if token == eos {
                finished.push(hypothesis(beam, true, options));
            } else {
                beam.tokens.push(token);
                next.alive[i * k + slot] = beam;
                next.parents[i * k + slot] = parent;
                next.input[i * k + slot] = token;
                slot += 1;
            }
        }
        slot
    }
}

fn hypothesis(beam: Beam, finished: bool, options: &BeamOptions) -> Hypothesis {
    let len = beam.tokens.len() + usize::from(finished);
    Hypothesis {
        score: beam.log_prob / length_penalty(len, options.alpha),
        log_prob: beam.log_prob,
        finished,
        attention: options.return_attention.then_some(beam.attention),
        tokens: beam.tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_penalty_is_gnmts() {
        assert_eq!(length_penalty(7, 0.0), 1.0);
        assert!((length_penalty(7, 1.0) - 2.0).abs() < 1e-6);
    }
}

//! The model as burn-train sees it: [`DateModel`] with its [`TrainStep`] and
//! [`InferenceStep`], the batch it takes ([`DateBatch`], made by [`DateBatcher`]) and the output
//! the metrics read ([`DateOutput`]).

use burn::data::dataloader::batcher::Batcher;
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use burn_rnn::RnnBackend;
use burn_seq2seq::{
    sequence_cross_entropy, GreedyOptions, Seq2Seq, Seq2SeqBatch, Seq2SeqCell, Seq2SeqConfig,
    SplitMix64, Vocab,
};
use burn_train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};
use burn_train::{InferenceStep, TrainOutput, TrainStep};

use super::metrics::ExactMatchInput;
use crate::train::encode_pairs;

/// [`Seq2Seq`] with the settings of its training step (burn-train's steps take only the batch).
#[derive(Module, Debug)]
pub struct DateModel<B: Backend, C> {
    /// The encoder-decoder.
    pub seq2seq: Seq2Seq<B, C>,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f64,
    /// Probability of feeding the gold previous token (below 1: scheduled sampling).
    pub teacher_forcing: f64,
    /// What the loss is multiplied by before `backward`: `1 / devices`. burn-train's
    /// multi-device strategy sums the devices' gradients; with this factor the sum is the
    /// gradient of the mean loss over the global batch, as on one device with the whole batch
    /// (every target has the same number of tokens, so the mean of the devices' means is the
    /// global mean).
    pub grad_scale: f64,
}

/// A padded batch and the unpadded ids it came from.
#[derive(Clone, Debug)]
pub struct DateBatch<B: Backend> {
    /// The tensors of the teacher-forced forward.
    pub tensors: Seq2SeqBatch<B>,
    /// Source ids, for greedy decoding.
    pub src: Vec<Vec<usize>>,
    /// Target ids (without BOS/EOS), for exact match.
    pub tgt: Vec<Vec<usize>>,
    /// Seed of the scheduled-sampling coins.
    pub coin_seed: u64,
}

/// What a step hands to the metrics, on the inference backend.
pub struct DateOutput<B: Backend> {
    /// `[1]`: the mean token cross-entropy (label smoothing included), unscaled.
    pub loss: Tensor<B, 1>,
    /// `[N, T, V]` teacher-forced logits.
    pub logits: Tensor<B, 3>,
    /// `[N, T]` gold targets, padded with the pad id.
    pub targets: Tensor<B, 2, Int>,
    /// Greedy exact matches (validation only).
    pub exact: Option<ExactMatchInput>,
}

impl<Bk, C> TrainStep for DateModel<Bk, C>
where
    Bk: AutodiffBackend + RnnBackend,
    C: Seq2SeqCell<Bk> + AutodiffModule<Bk>,
    Self: AutodiffModule<Bk>,
{
    type Input = DateBatch<Bk>;
    type Output = DateOutput<Bk::InnerBackend>;

    fn step(&self, batch: DateBatch<Bk>) -> TrainOutput<Self::Output> {
        let mut coins = SplitMix64::new(batch.coin_seed);
        let out = self
            .seq2seq
            .forward_scheduled(&batch.tensors, self.teacher_forcing, &mut coins);
        let targets = batch.tensors.tgt_out;
        let loss = sequence_cross_entropy(
            out.logits.clone(),
            targets.clone(),
            self.seq2seq.pad_id,
            self.label_smoothing,
        );
        let grads = loss.clone().mul_scalar(self.grad_scale).backward();
        let output = DateOutput {
            loss: loss.inner(),
            logits: out.logits.inner(),
            targets: targets.inner(),
            exact: None,
        };
        TrainOutput::new(self, grads, output)
    }
}

impl<Bk: RnnBackend, C: Seq2SeqCell<Bk>> InferenceStep for DateModel<Bk, C> {
    type Input = DateBatch<Bk>;
    type Output = DateOutput<Bk>;

    fn step(&self, batch: DateBatch<Bk>) -> DateOutput<Bk> {
        let out = self.seq2seq.forward(&batch.tensors);
        let targets = batch.tensors.tgt_out;
        let loss = sequence_cross_entropy(
            out.logits.clone(),
            targets.clone(),
            self.seq2seq.pad_id,
            self.label_smoothing,
        );
        let options = GreedyOptions {
            max_len: 16,
            return_attention: false,
        };
        let right = self
            .seq2seq
            .greedy(&batch.src, &options)
            .iter()
            .zip(&batch.tgt)
            .filter(|(h, t)| h.finished && h.tokens == **t)
            .count();
        DateOutput {
            loss,
            logits: out.logits,
            targets,
            exact: Some(ExactMatchInput {
                right,
                total: batch.src.len(),
            }),
        }
    }
}

/// The tensors stay where they are: the metrics read them back on burn-train's metrics thread.
impl<B: Backend> ItemLazy for DateOutput<B> {
    type ItemSync = Self;

    fn sync(self) -> Self {
        self
    }
}

impl<B: Backend> Adaptor<LossInput<B>> for DateOutput<B> {
    fn adapt(&self) -> LossInput<B> {
        LossInput::new(self.loss.clone())
    }
}

/// Token accuracy: every target position but padding (EOS included), teacher-forced.
impl<B: Backend> Adaptor<AccuracyInput<B>> for DateOutput<B> {
    fn adapt(&self) -> AccuracyInput<B> {
        let [n, t, v] = self.logits.dims();
        AccuracyInput::new(
            self.logits.clone().reshape([n * t, v]),
            self.targets.clone().reshape([n * t]),
        )
    }
}

impl<B: Backend> Adaptor<ExactMatchInput> for DateOutput<B> {
    fn adapt(&self) -> ExactMatchInput {
        self.exact.unwrap_or_default()
    }
}

/// Encodes and pads `(source, target)` pairs into a [`DateBatch`].
#[derive(Clone, Debug)]
pub struct DateBatcher {
    /// The model config (pad, BOS and EOS ids).
    pub config: Seq2SeqConfig,
    /// Source vocabulary.
    pub src_vocab: Vocab,
    /// Target vocabulary.
    pub tgt_vocab: Vocab,
}

impl DateBatcher {
    /// The batch of `pairs` on `device`, with scheduled-sampling seed `coin_seed`.
    pub fn batch_pairs<B: Backend>(
        &self,
        pairs: &[(String, String)],
        coin_seed: u64,
        device: &B::Device,
    ) -> DateBatch<B> {
        let (src, tgt) = encode_pairs(pairs, &self.src_vocab, &self.tgt_vocab);
        DateBatch {
            tensors: Seq2SeqBatch::new(&src, &tgt, &self.config, device),
            src,
            tgt,
            coin_seed,
        }
    }
}

impl<B: Backend> Batcher<B, (String, String), DateBatch<B>> for DateBatcher {
    fn batch(&self, items: Vec<(String, String)>, device: &B::Device) -> DateBatch<B> {
        self.batch_pairs(&items, 0, device)
    }
}

//! Padding id sequences into batches: [`Seq2SeqBatch`] for training, [`pad_sources`] for
//! decoding.

use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use super::config::Seq2SeqConfig;

/// A padded batch of source and target id sequences, ready for
/// [`Seq2Seq::forward`](super::Seq2Seq::forward).
#[derive(Clone, Debug)]
pub struct Seq2SeqBatch<B: Backend> {
    /// Source ids `[N, S]`, padded with `pad_id`.
    pub src: Tensor<B, 2, Int>,
    /// Source lengths, `N` values in `1..=S`.
    pub src_lengths: Vec<usize>,
    /// Decoder inputs `[N, T]`: BOS then the target, padded.
    pub tgt_in: Tensor<B, 2, Int>,
    /// Decoder targets `[N, T]`: the target then EOS, padded with `pad_id`.
    pub tgt_out: Tensor<B, 2, Int>,
}

impl<B: Backend> Seq2SeqBatch<B> {
    /// Pads `src` and `tgt` (pairs, without BOS/EOS) into a batch (`T` = longest target + 1).
    ///
    /// # Panics
    /// If the two lists differ in length, or a source is empty.
    pub fn new(
        src: &[Vec<usize>],
        tgt: &[Vec<usize>],
        config: &Seq2SeqConfig,
        device: &B::Device,
    ) -> Self {
        assert_eq!(
            src.len(),
            tgt.len(),
            "Seq2SeqBatch: expected as many targets as sources, got {} and {}",
            tgt.len(),
            src.len()
        );
        let (src, src_lengths) = pad_sources::<B>(src, config.pad_id, device);
        let t = tgt.iter().map(Vec::len).max().unwrap_or(0) + 1;
        let pad = config.pad_id as i64;
        let mut tgt_in = vec![pad; tgt.len() * t];
        let mut tgt_out = vec![pad; tgt.len() * t];
        for (i, seq) in tgt.iter().enumerate() {
            tgt_in[i * t] = config.bos_id as i64;
            for (j, &id) in seq.iter().enumerate() {
                tgt_in[i * t + j + 1] = id as i64;
                tgt_out[i * t + j] = id as i64;
            }
            tgt_out[i * t + seq.len()] = config.eos_id as i64;
        }
        let ids = |v| Tensor::from_data(TensorData::new(v, [tgt.len(), t]), device);
        Self {
            src,
            src_lengths,
            tgt_in: ids(tgt_in),
            tgt_out: ids(tgt_out),
        }
    }
}

/// Pads source sequences to `[N, S]` ids and their lengths.
///
/// # Panics
/// If there is no sequence or one is empty.
pub fn pad_sources<B: Backend>(
    src: &[Vec<usize>],
    pad_id: usize,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Vec<usize>) {
    assert!(
        !src.is_empty(),
        "seq2seq: expected at least one source sequence, got none"
    );
    if let Some(i) = src.iter().position(Vec::is_empty) {
        panic!("seq2seq: source sequence {i} is empty; every source needs at least one token");
    }
    let s = src.iter().map(Vec::len).max().unwrap_or(1);
    let mut ids = vec![pad_id as i64; src.len() * s];
    for (i, seq) in src.iter().enumerate() {
        for (j, &id) in seq.iter().enumerate() {
            ids[i * s + j] = id as i64;
        }
    }
    let lengths = src.iter().map(Vec::len).collect();
    (
        Tensor::from_data(TensorData::new(ids, [src.len(), s]), device),
        lengths,
    )
}

/// `[M]` int ids on `device`.
pub(crate) fn index_tensor<B: Backend>(indices: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [indices.len()]), device)
}

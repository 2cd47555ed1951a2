//! Cross-entropy over padded target sequences, with label smoothing.

use burn::tensor::activation::log_softmax;
use burn::tensor::{backend::Backend, Int, Tensor};

/// Mean token cross-entropy of `logits` against `targets`, ignoring `pad_id` targets; PyTorch's
/// `F.cross_entropy(logits, targets, ignore_index=pad_id, label_smoothing=ε)`.
///
/// With smoothing `ε` the target distribution is `(1-ε)` on the gold token plus `ε/V` on every
/// token: `loss = (1-ε)·(-log p_gold) + ε·mean_v(-log p_v)`.
///
/// # Shapes
/// - `logits`: `[N, T, V]`
/// - `targets`: `[N, T]` ids
/// - returns `[1]`: the mean over the non-padding targets (0 if there are none)
///
/// # Panics
/// If the shapes disagree or `label_smoothing` is outside `[0, 1)`.
pub fn sequence_cross_entropy<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    pad_id: usize,
    label_smoothing: f64,
) -> Tensor<B, 1> {
    let [n, t, v] = logits.dims();
    assert_eq!(
        targets.dims(),
        [n, t],
        "sequence_cross_entropy: expected targets [N, T] = [{n}, {t}] for logits {:?}, got {:?}",
        [n, t, v],
        targets.dims()
    );
    assert!(
        (0.0..1.0).contains(&label_smoothing),
        "sequence_cross_entropy: expected label_smoothing in [0, 1), got {label_smoothing}"
    );
    let logp = log_softmax(logits, 2);
    let keep = targets.clone().not_equal_elem(pad_id as i64).float();
    let nll = logp
        .clone()
        .gather(2, targets.reshape([n, t, 1]))
        .reshape([n, t])
        .neg();
    let per_token = if label_smoothing > 0.0 {
        let uniform = logp.mean_dim(2).reshape([n, t]).neg();
        nll.mul_scalar(1.0 - label_smoothing) + uniform.mul_scalar(label_smoothing)
    } else {
        nll
    };
    let count = keep.clone().sum().clamp_min(1.0);
    (per_token * keep).sum() / count
}

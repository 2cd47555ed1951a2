//! The seq2seq model: padding and masking, decoding invariants, loss, configs, and a tiny
//! model that learns to reverse sequences. Backend-generic: runs on wgpu with `--features wgpu`.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use burn_rnn::{GruCell, LstmCell, RnnCell};
use burn_seq2seq::sampling::SamplingConfig;
use burn_seq2seq::{
    sequence_cross_entropy, AttentionKind, BeamOptions, BridgeKind, CellKind, ConfigError,
    GreedyOptions, SampleOptions, Seq2Seq, Seq2SeqBatch, Seq2SeqCell, Seq2SeqConfig, SplitMix64,
};

type B = burn_rnn::backend::DefaultBackend;

fn device() -> burn_rnn::backend::DefaultDevice {
    Default::default()
}

const V: usize = 10;

fn config(cell: CellKind) -> Seq2SeqConfig {
    Seq2SeqConfig::new(V, V)
        .with_cell(cell)
        .with_d_embed(6)
        .with_encoder_hidden(5)
        .with_decoder_hidden(10)
}

fn sources() -> Vec<Vec<usize>> {
    vec![vec![4, 5, 6, 7, 8], vec![9, 4], vec![5, 6, 7], vec![8]]
}

fn targets() -> Vec<Vec<usize>> {
    vec![vec![5, 6], vec![7, 8, 9, 4], vec![6], vec![9, 9, 9]]
}

fn floats<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// Teacher-forced logits of each pair alone equal its rows in the padded batch, and padded
/// source positions get zero attention.
fn padding_never_changes_a_result<C: Seq2SeqCell<B>>(config: &Seq2SeqConfig) {
    let model: Seq2Seq<B, C> = config.init(&device());
    let (src, tgt) = (sources(), targets());
    let batch = Seq2SeqBatch::<B>::new(&src, &tgt, config, &device());
    let out = model.forward(&batch);
    let [n, t, v] = out.logits.dims();
    let s = out.attention.dims()[2];
    let attention = floats(out.attention.clone());
    for i in 0..n {
        for step in 0..t {
            let row = &attention[(i * t + step) * s..(i * t + step + 1) * s];
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "attention row sums to {sum}");
            assert!(
                row[src[i].len()..].iter().all(|&w| w == 0.0),
                "attention on padding: {row:?}"
            );
        }
        let alone = Seq2SeqBatch::<B>::new(&src[i..=i], &tgt[i..=i], config, &device());
        let solo = floats(model.forward(&alone).logits);
        let steps = tgt[i].len() + 1;
        let batched = floats(out.logits.clone().slice([i..i + 1, 0..steps, 0..v]));
        let worst = solo
            .iter()
            .zip(&batched)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-4,
            "{:?} sequence {i}: padded differs by {worst}",
            config.cell
        );
    }
    let options = GreedyOptions {
        max_len: 6,
        return_attention: true,
    };
    let together = model.greedy(&src, &options);
    for (i, hyp) in together.iter().enumerate() {
        let alone = &model.greedy(&src[i..=i], &options)[0];
        assert_eq!(hyp.tokens, alone.tokens, "greedy of sequence {i}");
        assert!((hyp.log_prob - alone.log_prob).abs() < 1e-4);
        let rows = hyp.attention.as_ref().expect("attention asked for");
        assert!(rows.iter().all(|r| r.len() == src[i].len()));
    }
}

#[test]
fn padding_never_changes_a_result_for_each_cell_and_attention() {
    for attention in [
        AttentionKind::Dot,
        AttentionKind::General,
        AttentionKind::Additive,
    ] {
        let c = config(CellKind::Lstm).with_attention(attention);
        padding_never_changes_a_result::<LstmCell<B>>(&c);
    }
    padding_never_changes_a_result::<GruCell<B>>(
        &config(CellKind::Gru)
            .with_input_feeding(true)
            .with_encoder_layers(2)
            .with_bridge(BridgeKind::Copy),
    );
    padding_never_changes_a_result::<RnnCell<B>>(
        &config(CellKind::RnnTanh)
            .with_bidirectional(false)
            .with_decoder_layers(2)
            .with_bridge(BridgeKind::Zeros),
    );
}

#[test]
fn beam_of_one_is_greedy_and_beams_are_sorted_and_end_right() {
    let config = config(CellKind::Lstm);
    let model: Seq2Seq<B, LstmCell<B>> = config.init(&device());
    let src = sources();
    let max_len = 5;
    let greedy = model.greedy(
        &src,
        &GreedyOptions {
            max_len,
            return_attention: false,
        },
    );
    let beam1 = model.beam_search(
        &src,
        &BeamOptions {
            beam_size: 1,
            alpha: 0.0,
            max_len,
            nbest: 1,
            return_attention: false,
        },
    );
    for (g, b) in greedy.iter().zip(&beam1) {
        assert_eq!(b.len(), 1);
        assert_eq!(g.tokens, b[0].tokens);
        assert_eq!(g.finished, b[0].finished);
        assert!((g.log_prob - b[0].log_prob).abs() < 1e-4, "{g:?} vs {b:?}");
    }
    let options = BeamOptions {
        beam_size: 4,
        alpha: 0.6,
        max_len,
        nbest: 4,
        return_attention: true,
    };
    let beams = model.beam_search(&src, &options);
    for (i, hyps) in beams.iter().enumerate() {
        assert!(!hyps.is_empty() && hyps.len() <= 4);
        for pair in hyps.windows(2) {
            assert!(pair[0].score >= pair[1].score, "not sorted: {hyps:?}");
        }
        for hyp in hyps {
            assert!(hyp.tokens.iter().all(|&t| t != config.eos_id));
            let generated = hyp.tokens.len() + usize::from(hyp.finished);
            if !hyp.finished {
                assert_eq!(
                    generated, max_len,
                    "an unfinished hypothesis stops at max_len"
                );
            }
            assert!(generated <= max_len);
            let rows = hyp.attention.as_ref().unwrap();
            assert_eq!(rows.len(), generated);
            assert!(rows.iter().all(|r| r.len() == src[i].len()));
        }
        // Each hypothesis's log-probability is the model's own for its tokens (teacher forced).
        for hyp in hyps {
            let batch = Seq2SeqBatch::<B>::new(
                &src[i..=i],
                std::slice::from_ref(&hyp.tokens),
                &config,
                &device(),
            );
            let logp = burn::tensor::activation::log_softmax(model.forward(&batch).logits, 2);
            let logp = floats(logp);
            let mut expected: Vec<usize> = hyp.tokens.clone();
            if hyp.finished {
                expected.push(config.eos_id);
            }
            let total: f32 = expected
                .iter()
                .enumerate()
                .map(|(step, &token)| logp[step * V + token])
                .sum();
            assert!(
                (total - hyp.log_prob).abs() < 1e-3,
                "beam log-prob {} vs teacher-forced {total}",
                hyp.log_prob
            );
            let penalty = ((5.0 + expected.len() as f32) / 6.0).powf(0.6);
            assert!((hyp.score - hyp.log_prob / penalty).abs() < 1e-4);
        }
    }
}

#[test]
fn sampling_is_reproducible_with_a_seed() {
    let model: Seq2Seq<B, GruCell<B>> = config(CellKind::Gru).init(&device());
    let src = sources();
    let options = |seed| SampleOptions {
        sampling: SamplingConfig::new().with_temperature(1.5),
        seed,
        max_len: 8,
        ..SampleOptions::default()
    };
    let a = model.sample(&src, &options(11));
    let b = model.sample(&src, &options(11));
    assert_eq!(a, b);
    let others: Vec<_> = (12..16)
        .map(|seed| model.sample(&src, &options(seed)))
        .collect();
    assert!(
        others.iter().any(|o| *o != a),
        "four other seeds drew the same"
    );
    let greedy = model.greedy(
        &src,
        &GreedyOptions {
            max_len: 8,
            return_attention: false,
        },
    );
    for (what, sampling) in [
        ("top-k 1", SamplingConfig::new().with_top_k(Some(1))),
        ("temperature 0", SamplingConfig::new().with_temperature(0.0)),
    ] {
        let narrow = model.sample(
            &src,
            &SampleOptions {
                sampling,
                max_len: 8,
                ..SampleOptions::default()
            },
        );
        for (s, g) in narrow.iter().zip(&greedy) {
            assert_eq!(s.tokens, g.tokens, "{what} sampling is greedy");
            assert!(
                (s.log_prob - g.log_prob).abs() < 1e-4,
                "{what}: {s:?} vs {g:?}"
            );
        }
    }
}

/// Stepping the decoder through the gold inputs gives the teacher-forced forward's logits and
/// attention, and the attention's context is its weights times the memory.
#[test]
fn decoder_steps_match_the_teacher_forced_forward() {
    let config = config(CellKind::Lstm).with_attention(AttentionKind::Additive);
    let model: Seq2Seq<B, LstmCell<B>> = config.init(&device());
    let batch = Seq2SeqBatch::<B>::new(&sources(), &targets(), &config, &device());
    let forced = model.forward(&batch);
    let [n, t, v] = forced.logits.dims();
    let s = forced.attention.dims()[2];
    let (memory, mut state) = model.encode(batch.src.clone(), &batch.src_lengths);
    for step in 0..t {
        let tokens = batch
            .tgt_in
            .clone()
            .slice([0..n, step..step + 1])
            .reshape([n]);
        let out = model.decoder.step(tokens, state, &memory);
        assert_eq!(out.logits.dims(), [n, v]);
        assert_eq!(out.attention.dims(), [n, s]);
        let pairs = [
            (
                out.logits,
                forced.logits.clone().slice([0..n, step..step + 1, 0..v]),
            ),
            (
                out.attention,
                forced.attention.clone().slice([0..n, step..step + 1, 0..s]),
            ),
        ];
        for (stepped, whole) in pairs {
            let worst = floats(stepped)
                .iter()
                .zip(floats(whole))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "step {step} differs by {worst}");
        }
        state = out.state;
    }

    let query = Tensor::<B, 3>::random(
        [n, 3, config.decoder_hidden],
        burn::tensor::Distribution::Default,
        &device(),
    );
    let attended = model.decoder.attention.forward(
        query,
        memory.keys.clone(),
        memory.memory.clone(),
        memory.mask.clone(),
    );
    assert_eq!(attended.weights.dims(), [n, 3, s]);
    assert_eq!(attended.context.dims(), [n, 3, config.d_memory()]);
    let expected = floats(attended.weights.clone().matmul(memory.memory.clone()));
    let context = floats(attended.context);
    assert!(context
        .iter()
        .zip(&expected)
        .all(|(a, b)| (a - b).abs() < 1e-5));
    let weights = floats(attended.weights);
    for (row, i) in weights.chunks(s).zip((0..n).flat_map(|i| [i; 3])) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{row:?}");
        assert!(
            row[batch.src_lengths[i]..].iter().all(|&w| w == 0.0),
            "{row:?}"
        );
    }
}

#[test]
fn cross_entropy_ignores_padding_and_smooths_like_pytorch() {
    let logits = Tensor::<B, 3>::from_data(
        TensorData::new(
            vec![1.0f32, 2.0, 0.5, 0.0, 0.0, 3.0, 9.0, 9.0, 9.0],
            [1, 3, 3],
        ),
        &device(),
    );
    let targets =
        Tensor::<B, 2, Int>::from_data(TensorData::new(vec![1i64, 2, 0], [1, 3]), &device());
    let lse = |r: [f32; 3]| r.iter().map(|x| x.exp()).sum::<f32>().ln();
    let (r0, r1) = ([1.0f32, 2.0, 0.5], [0.0f32, 0.0, 3.0]);
    let nll = ((lse(r0) - r0[1]) + (lse(r1) - r1[2])) / 2.0;
    let loss = floats(sequence_cross_entropy(
        logits.clone(),
        targets.clone(),
        0,
        0.0,
    ))[0];
    assert!((loss - nll).abs() < 1e-5, "{loss} vs {nll}");
    let uniform = |r: [f32; 3]| r.iter().map(|x| lse(r) - x).sum::<f32>() / 3.0;
    let eps = 0.1;
    let smooth = (1.0 - eps) * nll + eps * (uniform(r0) + uniform(r1)) / 2.0;
    let loss = floats(sequence_cross_entropy(logits, targets, 0, eps as f64))[0];
    assert!((loss - smooth).abs() < 1e-5, "{loss} vs {smooth}");
}

#[test]
fn scheduled_sampling_at_ratio_one_is_teacher_forcing_and_is_seeded() {
    let config = config(CellKind::Lstm).with_input_feeding(true);
    let model: Seq2Seq<B, LstmCell<B>> = config.init(&device());
    let batch = Seq2SeqBatch::<B>::new(&sources(), &targets(), &config, &device());
    let forced = floats(model.forward(&batch).logits);
    let mut rng = SplitMix64::new(1);
    let one = floats(model.forward_scheduled(&batch, 1.0, &mut rng).logits);
    assert_eq!(forced, one);
    let a = floats(
        model
            .forward_scheduled(&batch, 0.5, &mut SplitMix64::new(3))
            .logits,
    );
    let b = floats(
        model
            .forward_scheduled(&batch, 0.5, &mut SplitMix64::new(3))
            .logits,
    );
    assert_eq!(a, b);
    assert_eq!(a.len(), forced.len());
}

#[test]
fn invalid_configs_say_what_is_wrong() {
    let dot = config(CellKind::Lstm)
        .with_attention(AttentionKind::Dot)
        .with_decoder_hidden(12);
    assert!(config(CellKind::Lstm)
        .with_attention(AttentionKind::Dot)
        .validate()
        .is_ok());
    let err = dot.validate().unwrap_err();
    assert_eq!(
        err,
        ConfigError::DotAttentionWidth {
            d_memory: 10,
            decoder_hidden: 12
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("dot attention") && text.contains("10"),
        "{text}"
    );
    let copy = config(CellKind::Lstm)
        .with_bridge(BridgeKind::Copy)
        .with_decoder_hidden(12);
    assert!(copy
        .validate()
        .unwrap_err()
        .to_string()
        .contains("copy bridge"));
    let eos = config(CellKind::Lstm).with_eos_id(V);
    let err = eos.validate().unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::IdOutsideTarget {
                field: "eos_id",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "seq2seq config: eos_id = 10 is outside the target vocabulary (size 10)"
    );
    let err = config(CellKind::Gru)
        .with_d_embed(0)
        .validate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "seq2seq config: d_embed must be at least 1, got 0"
    );
    let err: Box<dyn std::error::Error> = Box::new(
        config(CellKind::Gru)
            .with_dropout(1.0)
            .validate()
            .unwrap_err(),
    );
    assert_eq!(
        err.to_string(),
        "seq2seq config: dropout must be in [0, 1), got 1"
    );
}

/// A tiny model learns to reverse digit strings until greedy decoding is exact on all of them.
#[test]
fn a_tiny_model_learns_to_reverse() {
    type AD = burn_rnn::backend::DefaultAutodiffBackend;
    let config = Seq2SeqConfig::new(V, V)
        .with_cell(CellKind::Gru)
        .with_d_embed(16)
        .with_encoder_hidden(24)
        .with_decoder_hidden(48);
    let mut model: Seq2Seq<AD, GruCell<AD>> = config.init(&device());
    let src: Vec<Vec<usize>> = vec![
        vec![4, 5, 6],
        vec![7, 8, 9, 4],
        vec![5, 5, 9],
        vec![6, 4],
        vec![9, 8, 7, 6, 5],
        vec![8, 4, 6, 7],
    ];
    let tgt: Vec<Vec<usize>> = src
        .iter()
        .map(|s| s.iter().rev().copied().collect())
        .collect();
    let batch = Seq2SeqBatch::<AD>::new(&src, &tgt, &config, &device());
    let mut optim = AdamConfig::new().init();
    let options = GreedyOptions {
        max_len: 8,
        return_attention: false,
    };
    let mut exact_at = None;
    for step in 1..=400 {
        let out = model.forward(&batch);
        let loss = sequence_cross_entropy(out.logits, batch.tgt_out.clone(), 0, 0.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
        if step % 25 == 0 {
            let decoded = model.valid().greedy(&src, &options);
            if decoded
                .iter()
                .zip(&tgt)
                .all(|(h, t)| h.finished && h.tokens == *t)
            {
                exact_at = Some(step);
                break;
            }
        }
    }
    assert!(exact_at.is_some(), "not exact after 400 steps");
}

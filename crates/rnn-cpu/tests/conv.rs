//! The convolution kernels against a naive f64 loop, on every path this CPU runs and on one
//! and two threads: stride, padding, dilation, groups, odd sizes, batch 1, 1x1 and 5x5 kernels,
//! channel counts that are not a multiple of any vector width.

use rnn_cpu::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, conv_lstm_backward,
    conv_lstm_forward, set_isa, set_num_threads, Conv2dShape, ConvLstmShape, Isa,
};

/// A deterministic value in `[-1, 1)` for index `i` of stream `seed`.
fn value(seed: u64, i: usize) -> f32 {
    let mut z =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 31;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 29;
    (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

fn values(seed: u64, len: usize) -> Vec<f32> {
    (0..len).map(|i| value(seed, i)).collect()
}

/// The input position read by output `(oy, ox)` at tap `(ky, kx)`, or `None` in the padding.
fn source(s: &Conv2dShape, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let iy = (oy * s.stride[0] + ky * s.dilation[0]) as isize - s.padding[0] as isize;
    let ix = (ox * s.stride[1] + kx * s.dilation[1]) as isize - s.padding[1] as isize;
    let inside = iy >= 0 && ix >= 0 && (iy as usize) < s.input[0] && (ix as usize) < s.input[1];
    inside.then_some((iy as usize, ix as usize))
}

/// `(y, dx, dw, db)` of `sum(y * dy)` by the definition, in f64.
fn naive(s: &Conv2dShape, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> [Vec<f64>; 4] {
    let [oh, ow] = s.output().unwrap();
    let [h, wd] = s.input;
    let [kh, kw] = s.kernel;
    let (cg_in, cg_out) = (s.channels_in / s.groups, s.channels_out / s.groups);
    let mut y = vec![0.0f64; s.output_len()];
    let mut dx = vec![0.0f64; s.input_len()];
    let mut dw = vec![0.0f64; s.weight_len()];
    let mut db = vec![0.0f64; s.channels_out];
    for n in 0..s.batch {
        for co in 0..s.channels_out {
            let group = co / cg_out;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((n * s.channels_out + co) * oh + oy) * ow + ox;
                    let mut acc = b[co] as f64;
                    let g = dy[yi] as f64;
                    db[co] += g;
                    for ci in 0..cg_in {
                        let c = group * cg_in + ci;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let Some((iy, ix)) = source(s, oy, ox, ky, kx) else {
                                    continue;
                                };
                                let xi = ((n * s.channels_in + c) * h + iy) * wd + ix;
                                let wi = ((co * cg_in + ci) * kh + ky) * kw + kx;
                                acc += x[xi] as f64 * w[wi] as f64;
                                dx[xi] += w[wi] as f64 * g;
                                dw[wi] += x[xi] as f64 * g;
                            }
                        }
                    }
                    y[yi] = acc;
                }
            }
        }
    }
    [y, dx, dw, db]
}

fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 2e-5 * scale,
            "{what}: element {i}: got {g}, expected {w}"
        );
    }
}

/// `(batch, c_in, c_out, [h, w], kernel, stride, padding, dilation, groups)`
type Case = (
    usize,
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
);

const CASES: [Case; 11] = [
    (2, 3, 5, [7, 9], [3, 3], [1, 1], [1, 1], [1, 1], 1),
    (1, 1, 16, [12, 20], [3, 3], [1, 1], [1, 1], [1, 1], 1),
    (3, 4, 6, [9, 11], [3, 3], [2, 2], [1, 1], [1, 1], 1),
    (2, 5, 7, [10, 13], [3, 2], [1, 2], [2, 0], [2, 1], 1),
    (1, 6, 9, [8, 8], [1, 1], [1, 1], [0, 0], [1, 1], 1),
    (2, 3, 4, [11, 9], [5, 5], [1, 1], [2, 2], [1, 1], 1),
    (2, 4, 6, [6, 7], [3, 3], [1, 1], [1, 1], [1, 1], 2),
    (1, 6, 6, [9, 5], [3, 3], [2, 1], [1, 1], [1, 2], 3),
    // More than one pixel tile, K over one inner chunk, channels over one row block.
    (2, 33, 19, [9, 17], [3, 3], [1, 1], [1, 1], [1, 1], 1),
    (1, 2, 3, [3, 4], [3, 4], [1, 1], [0, 0], [1, 1], 1),
    // 585 output positions: the weight gradient's chunks of 512 start inside an image.
    (3, 3, 5, [15, 13], [3, 3], [1, 1], [1, 1], [1, 1], 1),
];

fn check(case: &Case, seed: u64, what: &str) {
    let &(batch, channels_in, channels_out, input, kernel, stride, padding, dilation, groups) =
        case;
    let s = Conv2dShape {
        batch,
        channels_in,
        channels_out,
        input,
        kernel,
        stride,
        padding,
        dilation,
        groups,
    };
    let x = values(seed, s.input_len());
    let w = values(seed + 1, s.weight_len());
    let b = values(seed + 2, channels_out);
    let dy = values(seed + 3, s.output_len());
    let [y_want, dx_want, dw_want, db_want] = naive(&s, &x, &w, &b, &dy);
    // Outputs start as garbage: every one is written whole.
    let mut y = vec![f32::NAN; s.output_len()];
    conv2d_forward(&s, &x, &w, Some(&b), &mut y);
    assert_close(&format!("{what}: y"), &y, &y_want);
    let mut dx = vec![f32::NAN; s.input_len()];
    conv2d_backward_input(&s, &w, &dy, &mut dx);
    assert_close(&format!("{what}: dx"), &dx, &dx_want);
    let (mut dw, mut db) = (vec![f32::NAN; s.weight_len()], vec![f32::NAN; channels_out]);
    conv2d_backward_weight(&s, &x, &dy, &mut dw, Some(&mut db));
    assert_close(&format!("{what}: dw"), &dw, &dw_want);
    assert_close(&format!("{what}: db"), &db, &db_want);
    // Without a bias, the forward adds none.
    conv2d_forward(&s, &x, &w, None, &mut y);
    let unbiased: Vec<f64> = y_want
        .iter()
        .enumerate()
        .map(|(i, v)| v - b[(i / s.output().map_or(1, |[h, w]| h * w)) % channels_out] as f64)
        .collect();
    assert_close(&format!("{what}: y without bias"), &y, &unbiased);
}

#[test]
fn every_path_matches_the_naive_convolution() {
    for isa in Isa::available_paths() {
        set_isa(Some(isa)).expect("an available path");
        for threads in [1, 2] {
            set_num_threads(threads);
            for (i, case) in CASES.iter().enumerate() {
                check(
                    case,
                    10 * i as u64,
                    &format!("{isa}, {threads} threads, case {i} {case:?}"),
                );
            }
        }
    }
    set_isa(None).unwrap();
    set_num_threads(0);
}

#[test]
#[should_panic(expected = "conv2d: expected channels divisible by groups = 2, got 3 in and 4 out")]
fn groups_must_divide_the_channels() {
    let s = Conv2dShape {
        batch: 1,
        channels_in: 3,
        channels_out: 4,
        input: [5, 5],
        kernel: [3, 3],
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        groups: 2,
    };
    s.check();
}

#[test]
fn a_kernel_bigger_than_the_padded_input_has_no_output() {
    let s = Conv2dShape {
        batch: 1,
        channels_in: 1,
        channels_out: 1,
        input: [2, 2],
        kernel: [3, 3],
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        groups: 1,
    };
    assert_eq!(s.output(), None);
    assert_eq!(
        Conv2dShape {
            padding: [1, 1],
            ..s
        }
        .output(),
        Some([2, 2])
    );
}

#[test]
fn batch_norm_matches_its_definition_forward_and_backward() {
    use rnn_cpu::{batch_norm2d_backward, batch_norm2d_forward};
    for (shape, threads) in [([2, 3, 5, 7], 1), ([4, 5, 33, 17], 2), ([1, 1, 1, 19], 2)] {
        set_num_threads(threads);
        let [n, c, h, w] = shape;
        let len = n * c * h * w;
        let (x, dy) = (values(1, len), values(2, len));
        let (gamma, beta) = (values(3, c), values(4, c));
        let eps = 1e-5;
        let (mut y, mut mean, mut invstd) = (vec![f32::NAN; len], vec![0.0; c], vec![0.0; c]);
        batch_norm2d_forward(
            shape,
            &x,
            &gamma,
            &beta,
            eps,
            &mut y,
            &mut mean,
            &mut invstd,
        );
        let (mut dx, mut dg, mut db) = (vec![f32::NAN; len], vec![f32::NAN; c], vec![f32::NAN; c]);
        batch_norm2d_backward(
            shape,
            &x,
            &gamma,
            &mean,
            &invstd,
            &dy,
            Some(&mut dx),
            &mut dg,
            &mut db,
        );
        let m = (n * h * w) as f64;
        let index = |i: usize, ch: usize, p: usize| (i * c + ch) * h * w + p;
        let (mut y_want, mut dx_want) = (vec![0.0f64; len], vec![0.0f64; len]);
        let (mut dg_want, mut db_want) = (vec![0.0f64; c], vec![0.0f64; c]);
        for ch in 0..c {
            let all: Vec<usize> = (0..n)
                .flat_map(|i| (0..h * w).map(move |p| index(i, ch, p)))
                .collect();
            let mu = all.iter().map(|&i| x[i] as f64).sum::<f64>() / m;
            let var = all.iter().map(|&i| (x[i] as f64 - mu).powi(2)).sum::<f64>() / m;
            let inv = 1.0 / (var + eps).sqrt();
            let xhat = |i: usize| (x[i] as f64 - mu) * inv;
            let g = gamma[ch] as f64;
            db_want[ch] = all.iter().map(|&i| dy[i] as f64).sum();
            dg_want[ch] = all.iter().map(|&i| dy[i] as f64 * xhat(i)).sum();
            for &i in &all {
                y_want[i] = xhat(i) * g + beta[ch] as f64;
                dx_want[i] = g * inv * (dy[i] as f64 - db_want[ch] / m - xhat(i) * dg_want[ch] / m);
            }
        }
        let what = format!("batch norm {shape:?}");
        assert_close(&format!("{what}: y"), &y, &y_want);
        assert_close(&format!("{what}: dx"), &dx, &dx_want);
        assert_close(&format!("{what}: dgamma"), &dg, &dg_want);
        assert_close(&format!("{what}: dbeta"), &db, &db_want);
        // Fixed statistics: one affine map per channel, here from gamma and beta.
        let mut y_fixed = vec![f32::NAN; len];
        rnn_cpu::batch_norm2d_inference(shape, &x, &gamma, &beta, &mut y_fixed);
        let want: Vec<f64> = (0..len)
            .map(|i| {
                let ch = i / (h * w) % c;
                x[i] as f64 * gamma[ch] as f64 + beta[ch] as f64
            })
            .collect();
        assert_close(&format!("{what}: inference"), &y_fixed, &want);
    }
    set_num_threads(0);
}

#[test]
fn max_pool_matches_its_definition_forward_and_backward() {
    use rnn_cpu::{max_pool2d_backward, max_pool2d_forward, Pool2dShape};
    let cases = [
        ([2, 3, 8, 10], [2, 2], [2, 2], [0, 0], [1, 1]),
        ([2, 3, 9, 11], [2, 1], [2, 1], [0, 0], [1, 1]),
        ([1, 2, 9, 8], [3, 3], [2, 1], [1, 1], [1, 1]),
        ([1, 2, 10, 9], [2, 3], [1, 2], [1, 1], [2, 1]),
        ([4, 8, 32, 40], [2, 2], [2, 2], [0, 0], [1, 1]),
        ([2, 3, 10, 11], [3, 3], [3, 3], [0, 0], [1, 1]),
        ([2, 3, 9, 17], [2, 4], [2, 4], [0, 0], [1, 1]),
        ([2, 3, 9, 13], [3, 3], [2, 2], [0, 0], [1, 1]),
    ];
    // Each case on distinct values and on few levels after a ReLU (many ties: the first
    // maximum in row-major window order takes the gradient).
    let cases = cases.into_iter().flat_map(|c| [(c, false), (c, true)]);
    let cases = Isa::available_paths()
        .into_iter()
        .flat_map(|isa| cases.clone().map(move |c| (isa, c)));
    for (isa, ((input, kernel, stride, padding, dilation), ties)) in cases {
        set_isa(Some(isa)).expect("an available path");
        let s = Pool2dShape {
            input,
            kernel,
            stride,
            padding,
            dilation,
        };
        let [n, c, h, w] = input;
        let [oh, ow] = s.output();
        let mut x = values(5, n * c * h * w);
        if ties {
            x.iter_mut().for_each(|v| *v = (*v * 2.0).round().max(0.0));
        }
        let dy = values(6, n * c * oh * ow);
        let mut y = vec![f32::NAN; dy.len()];
        max_pool2d_forward(&s, &x, &mut y);
        let mut dx = vec![f32::NAN; x.len()];
        max_pool2d_backward(&s, &x, &dy, &mut dx);
        let (mut y_want, mut dx_want) = (vec![f64::NEG_INFINITY; y.len()], vec![0.0f64; x.len()]);
        for p in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best: Option<usize> = None;
                    for ky in 0..kernel[0] {
                        for kx in 0..kernel[1] {
                            let iy =
                                (oy * stride[0] + ky * dilation[0]) as isize - padding[0] as isize;
                            let ix =
                                (ox * stride[1] + kx * dilation[1]) as isize - padding[1] as isize;
                            if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                                continue;
                            }
                            let i = p * h * w + iy as usize * w + ix as usize;
                            if best.is_none_or(|b| x[i] > x[b]) {
                                best = Some(i);
                            }
                        }
                    }
                    let o = (p * oh + oy) * ow + ox;
                    let b = best.expect("every window covers the input");
                    y_want[o] = x[b] as f64;
                    dx_want[b] += dy[o] as f64;
                }
            }
        }
        assert_close(
            &format!("{isa} max pool {s:?} (ties {ties}): y"),
            &y,
            &y_want,
        );
        assert_close(
            &format!("{isa} max pool {s:?} (ties {ties}): dx"),
            &dx,
            &dx_want,
        );
    }
    set_isa(None).unwrap();
}

#[test]
fn max_pool_propagates_nan_to_the_first_one() {
    use rnn_cpu::{max_pool2d_backward, max_pool2d_forward, Pool2dShape};
    let cases = [([2, 2], [2, 2]), ([3, 3], [2, 2]), ([2, 1], [2, 1])];
    let cases = Isa::available_paths()
        .into_iter()
        .flat_map(|isa| cases.map(move |c| (isa, c)));
    for (isa, (kernel, stride)) in cases {
        set_isa(Some(isa)).expect("an available path");
        let s = Pool2dShape {
            input: [1, 1, 4, 6],
            kernel,
            stride,
            padding: [0, 0],
            dilation: [1, 1],
        };
        let mut x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        // In the first window's row-major order position 1 comes before position 6 (row 1);
        // a window one column wide holds position 6 but not 1.
        x[1] = f32::NAN;
        x[6] = f32::NAN;
        let [oh, ow] = s.output();
        let mut y = vec![0.0; oh * ow];
        max_pool2d_forward(&s, &x, &mut y);
        assert!(
            y[0].is_nan(),
            "{isa} {s:?}: a window with a NaN gives NaN, got {}",
            y[0]
        );
        let mut dx = vec![f32::NAN; 24];
        max_pool2d_backward(&s, &x, &vec![1.0; oh * ow], &mut dx);
        let first = if kernel[1] == 1 { 6 } else { 1 };
        assert_eq!(
            dx[first], 1.0,
            "{isa} {s:?}: the first NaN takes the gradient: {dx:?}"
        );
        if kernel[1] > 1 {
            assert_eq!(
                dx[6], 0.0,
                "{isa} {s:?}: only the first NaN of a window: {dx:?}"
            );
        }
    }
    set_isa(None).unwrap();
}

/// The ConvLSTM gate math against its formula in f64: every path, one and two threads, maps
/// whose size is no multiple of a vector (tails), one big enough to split over the workers
/// inside a map, and the backward without `dh` or without `dc`.
#[test]
fn conv_lstm_gates_match_their_formula_forward_and_backward() {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let shapes = [(1, 1, 1), (2, 3, 7), (3, 5, 19), (2, 4, 4200)];
    for isa in Isa::available_paths() {
        set_isa(Some(isa)).expect("an available path");
        for threads in [1, 2] {
            set_num_threads(threads);
            for (k, &(batch, channels, plane)) in shapes.iter().enumerate() {
                let s = ConvLstmShape {
                    batch,
                    channels,
                    plane,
                };
                let what = format!("{isa}, {threads} threads, {s:?}");
                let len = s.state_len();
                let map = channels * plane;
                // Pre-activations up to +-12: the saturated ends of sigmoid and tanh too.
                let gates: Vec<f32> = values(100 + k as u64, s.gates_len())
                    .iter()
                    .map(|v| 12.0 * v)
                    .collect();
                let c_prev = values(200 + k as u64, len);
                let (dh, dc) = (values(300 + k as u64, len), values(400 + k as u64, len));
                let (mut h, mut c) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                let mut saved = vec![f32::NAN; s.saved_len()];
                conv_lstm_forward(&s, &gates, &c_prev, &mut h, &mut c, Some(&mut saved));
                let (mut h2, mut c2) = (vec![0.0; len], vec![0.0; len]);
                conv_lstm_forward(&s, &gates, &c_prev, &mut h2, &mut c2, None);

                let grads = |dh_on: bool, dc_on: bool| {
                    let mut d_gates = vec![f32::NAN; s.gates_len()];
                    let mut dc_prev = vec![f32::NAN; len];
                    conv_lstm_backward(
                        &s,
                        &saved,
                        &c_prev,
                        dh_on.then_some(&dh[..]),
                        dc_on.then_some(&dc[..]),
                        &mut d_gates,
                        &mut dc_prev,
                    );
                    (d_gates, dc_prev)
                };
                for (dh_on, dc_on) in [(true, true), (true, false), (false, true)] {
                    let (d_gates, dc_prev) = grads(dh_on, dc_on);
                    let mut want = [
                        vec![0.0f64; len],
                        vec![0.0f64; len],
                        vec![0.0f64; 5 * len],
                        vec![0.0f64; 4 * len],
                        vec![0.0f64; len],
                    ];
                    for n in 0..batch {
                        for u in 0..map {
                            let pre = |g: usize| gates[(4 * n + g) * map + u] as f64;
                            let (i, f, o, g) =
                                (sig(pre(0)), sig(pre(1)), sig(pre(2)), pre(3).tanh());
                            let at = n * map + u;
                            let cn = f * c_prev[at] as f64 + i * g;
                            let tc = cn.tanh();
                            want[0][at] = o * tc;
                            want[1][at] = cn;
                            for (j, v) in [i, f, o, g, tc].into_iter().enumerate() {
                                want[2][(5 * n + j) * map + u] = v;
                            }
                            let dht = if dh_on { dh[at] as f64 } else { 0.0 };
                            let dcn = if dc_on { dc[at] as f64 } else { 0.0 };
                            let dct = dht * o * (1.0 - tc * tc) + dcn;
                            let d = [
                                dct * g * i * (1.0 - i),
                                dct * c_prev[at] as f64 * f * (1.0 - f),
                                dht * tc * o * (1.0 - o),
                                dct * i * (1.0 - g * g),
                            ];
                            for (j, v) in d.into_iter().enumerate() {
                                want[3][(4 * n + j) * map + u] = v;
                            }
                            want[4][at] = dct * f;
                        }
                    }
                    assert_close(&format!("{what}: h"), &h, &want[0]);
                    assert_close(&format!("{what}: c"), &c, &want[1]);
                    // (Not bit for bit: the other tests of this binary switch the path too.)
                    assert_close(&format!("{what}: h, not saving"), &h2, &want[0]);
                    assert_close(&format!("{what}: c, not saving"), &c2, &want[1]);
                    assert_close(&format!("{what}: saved"), &saved, &want[2]);
                    let on = format!("{what}, dh {dh_on}, dc {dc_on}");
                    assert_close(&format!("{on}: d_gates"), &d_gates, &want[3]);
                    assert_close(&format!("{on}: dc_prev"), &dc_prev, &want[4]);
                }
            }
        }
    }
    set_isa(None).unwrap();
    set_num_threads(0);
}

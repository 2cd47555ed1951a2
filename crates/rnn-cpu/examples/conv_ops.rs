//! Times each convolution kernel alone on the convolutions of the benchmark's configs, for
//! profiling: forward, input gradient, weight (and bias) gradient, batch norm and max pooling,
//! with the GFLOP/s of each product.
//!
//! `cargo run --release -p rnn-cpu --example conv_ops` (`BURN_RNN_ISA` and
//! `BURN_RNN_NUM_THREADS` as for the kernels).

use std::time::Instant;

use rnn_cpu::{
    batch_norm2d_backward, batch_norm2d_forward, conv2d_backward_input, conv2d_backward_weight,
    conv2d_forward, max_pool2d_backward, max_pool2d_forward, par_sgemm, Conv2dShape, Mat, MatMut,
    Pool2dShape,
};

/// Median milliseconds of 7 runs of `f` after one warm-up.
fn ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[3]
}

fn conv(batch: usize, c_in: usize, c_out: usize, input: [usize; 2]) {
    let s = Conv2dShape {
        batch,
        channels_in: c_in,
        channels_out: c_out,
        input,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    let x: Vec<f32> = (0..s.input_len()).map(|i| (i % 7) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..s.weight_len()).map(|i| (i % 5) as f32 * 0.1).collect();
    let b = vec![0.1f32; c_out];
    let dy: Vec<f32> = (0..s.output_len()).map(|i| (i % 3) as f32 * 0.1).collect();
    let (mut y, mut dx) = (vec![0.0; s.output_len()], vec![0.0; s.input_len()]);
    let (mut dw, mut db) = (vec![0.0; s.weight_len()], vec![0.0; c_out]);
    let gflop = 2.0 * (s.output_len() * s.weight_len() / c_out) as f64 / 1e9;
    let f = ms(|| conv2d_forward(&s, &x, &w, Some(&b), &mut y));
    let i = ms(|| conv2d_backward_input(&s, &w, &dy, &mut dx));
    let g = ms(|| conv2d_backward_weight(&s, &x, &dy, &mut dw, Some(&mut db)));
    println!(
        "conv {batch}x{c_in}x{}x{} -> {c_out}: forward {f:.2} ms ({:.0} GFLOP/s), input grad {i:.2} ms ({:.0}), weight grad {g:.2} ms ({:.0})",
        input[0],
        input[1],
        gflop / f * 1e3,
        gflop / i * 1e3,
        gflop / g * 1e3
    );
}

/// The column matrix `[C_in * 9, H * W]` of one image for a 3x3 convolution with padding 1
/// and stride 1: row `(ci, ky, kx)` is the channel shifted by `(ky - 1, kx - 1)`, zero outside.
fn im2col(x: &[f32], [h, w]: [usize; 2], cols: &mut [f32]) {
    for (r, row) in cols.chunks_exact_mut(h * w).enumerate() {
        let (ci, ky, kx) = (r / 9, r % 9 / 3, r % 3);
        let plane = &x[ci * h * w..][..h * w];
        for oy in 0..h {
            let out = &mut row[oy * w..][..w];
            let Some(iy) = (oy + ky).checked_sub(1).filter(|&iy| iy < h) else {
                out.fill(0.0);
                continue;
            };
            for (ox, o) in out.iter_mut().enumerate() {
                *o = (ox + kx)
                    .checked_sub(1)
                    .filter(|&ix| ix < w)
                    .map_or(0.0, |ix| plane[iy * w + ix]);
            }
        }
    }
}

/// col2im of [`im2col`]: each column row added back into its shifted channel.
fn col2im(cols: &[f32], c_in: usize, [h, w]: [usize; 2], dx: &mut [f32]) {
    dx[..c_in * h * w].fill(0.0);
    for (r, row) in cols.chunks_exact(h * w).enumerate() {
        let (ci, ky, kx) = (r / 9, r % 9 / 3, r % 3);
        let plane = &mut dx[ci * h * w..][..h * w];
        for oy in 0..h {
            let Some(iy) = (oy + ky).checked_sub(1).filter(|&iy| iy < h) else {
                continue;
            };
            for ox in 0..w {
                if let Some(ix) = (ox + kx).checked_sub(1).filter(|&ix| ix < w) {
                    plane[iy * w + ix] += row[oy * w + ox];
                }
            }
        }
    }
}

/// The same three products as im2col + GEMM (`par_sgemm`, matrixmultiply split over the
/// threads) with one image's column buffer `[C_in * 9, H * W]`, for comparison with the
/// implicit GEMM above.
fn conv_im2col(batch: usize, c_in: usize, c_out: usize, input: [usize; 2]) {
    let (p, k) = (input[0] * input[1], c_in * 9);
    let x: Vec<f32> = (0..batch * c_in * p)
        .map(|i| (i % 7) as f32 * 0.1)
        .collect();
    let w: Vec<f32> = (0..c_out * k).map(|i| (i % 5) as f32 * 0.1).collect();
    let dy: Vec<f32> = (0..batch * c_out * p)
        .map(|i| (i % 3) as f32 * 0.1)
        .collect();
    let (mut y, mut dx) = (vec![0.0; dy.len()], vec![0.0; x.len()]);
    let (mut dw, mut cols) = (vec![0.0; w.len()], vec![0.0; k * p]);
    let gflop = 2.0 * (batch * c_out * p * k) as f64 / 1e9;
    let f = ms(|| {
        for n in 0..batch {
            im2col(&x[n * c_in * p..], input, &mut cols);
            let out = MatMut::new(&mut y[n * c_out * p..][..c_out * p], c_out, p);
            par_sgemm(Mat::new(&w, c_out, k), Mat::new(&cols, k, p), 0.0, out);
        }
    });
    let i = ms(|| {
        for n in 0..batch {
            let grads = Mat::new(&dy[n * c_out * p..][..c_out * p], c_out, p);
            par_sgemm(
                Mat::new(&w, c_out, k).t(),
                grads,
                0.0,
                MatMut::new(&mut cols, k, p),
            );
            col2im(&cols, c_in, input, &mut dx[n * c_in * p..]);
        }
    });
    let g = ms(|| {
        for n in 0..batch {
            im2col(&x[n * c_in * p..], input, &mut cols);
            let grads = Mat::new(&dy[n * c_out * p..][..c_out * p], c_out, p);
            let beta = if n == 0 { 0.0 } else { 1.0 };
            par_sgemm(
                grads,
                Mat::new(&cols, k, p).t(),
                beta,
                MatMut::new(&mut dw, c_out, k),
            );
        }
    });
    println!(
        "  im2col + GEMM:             forward {f:.2} ms ({:.0} GFLOP/s), input grad {i:.2} ms ({:.0}), weight grad {g:.2} ms ({:.0})",
        gflop / f * 1e3,
        gflop / i * 1e3,
        gflop / g * 1e3
    );
}

fn norm_and_pool(shape: [usize; 4], kernel: [usize; 2]) {
    let len: usize = shape.iter().product();
    let c = shape[1];
    // After a ReLU, as in a CRNN: half zeros (ties), half distinct values.
    let x: Vec<f32> = (0..len)
        .map(|i| (((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 101) as f32 * 0.01)
        .map(|v| (v - 0.5).max(0.0))
        .collect();
    let (gamma, beta) = (vec![1.0f32; c], vec![0.0f32; c]);
    let (mut y, mut mean, mut inv) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
    let (mut dx, mut dg, mut db) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
    let f =
        ms(|| batch_norm2d_forward(shape, &x, &gamma, &beta, 1e-5, &mut y, &mut mean, &mut inv));
    let b = ms(|| {
        batch_norm2d_backward(
            shape,
            &x,
            &gamma,
            &mean,
            &inv,
            &x,
            Some(&mut dx),
            &mut dg,
            &mut db,
        )
    });
    let p = Pool2dShape {
        input: shape,
        kernel,
        stride: kernel,
        padding: [0, 0],
        dilation: [1, 1],
    };
    let [oh, ow] = p.output();
    let mut out = vec![0.0; shape[0] * c * oh * ow];
    let pf = ms(|| max_pool2d_forward(&p, &x, &mut out));
    let pb = ms(|| max_pool2d_backward(&p, &x, &out, &mut dx));
    println!(
        "{shape:?}: batch norm forward {f:.2} ms, backward {b:.2} ms; max pool {kernel:?} forward {pf:.2} ms, backward {pb:.2} ms"
    );
}

fn main() {
    println!(
        "path {}, {} threads",
        rnn_cpu::isa(),
        rnn_cpu::num_threads()
    );
    conv(32, 32, 64, [16, 80]);
    conv_im2col(32, 32, 64, [16, 80]);
    // The CRNN stack's convolutions and the tensors after them.
    for (c_in, c_out, input) in [
        (1, 16, [32, 160]),
        (16, 32, [16, 80]),
        (32, 64, [8, 40]),
        (64, 64, [4, 40]),
    ] {
        conv(32, c_in, c_out, input);
        conv_im2col(32, c_in, c_out, input);
    }
    norm_and_pool([32, 16, 32, 160], [2, 2]);
    norm_and_pool([32, 32, 16, 80], [2, 2]);
    norm_and_pool([32, 64, 8, 40], [2, 1]);
}

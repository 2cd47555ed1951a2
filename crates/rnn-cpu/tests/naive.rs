//! The kernels against a naive loop in `f64`, on every path this CPU can run: outputs, final
//! states and every gradient, for the four cells, both directions, with and without lengths,
//! batch 1 and odd sizes, `H` not a multiple of any vector width, one and two threads.

use std::sync::Mutex;

use rnn_cpu::{
    backward, forward, set_isa, set_num_threads, BackwardInputs, BackwardOutputs, CellKind, Dims,
    ForwardInputs, Isa, IsaError, Saved, Spec,
};

/// The path and thread count are process-wide: tests that set them take turns.
static GLOBAL: Mutex<()> = Mutex::new(());

const CELLS: [CellKind; 4] = CellKind::ALL;

/// Deterministic values in `[-scale, scale)`.
fn values(len: usize, seed: u64, scale: f64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0) as f32 * scale as f32
        })
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One problem: sizes, spec and all inputs.
struct Case {
    cell: CellKind,
    dims: Dims,
    lengths: Option<Vec<usize>>,
    reverse: bool,
    gates_x: Vec<f32>,
    weight_hh: Vec<f32>,
    bias_hh: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    grad_packed: Vec<f32>,
}

impl Case {
    fn new(
        cell: CellKind,
        dims: Dims,
        lengths: Option<Vec<usize>>,
        reverse: bool,
        seed: u64,
    ) -> Self {
        let Dims { seq, batch, hidden } = dims;
        let gh = cell.gates() * hidden;
        let nh = batch * hidden;
        let w_scale = 1.5 / (hidden as f64).sqrt();
        Self {
            cell,
            dims,
            lengths,
            reverse,
            gates_x: values(seq * batch * gh, seed, 1.0),
            weight_hh: values(gh * hidden, seed + 1, w_scale),
            bias_hh: values(gh, seed + 2, 0.3),
            h0: values(nh, seed + 3, 0.5),
            c0: match cell.has_cell() {
                true => values(nh, seed + 4, 0.5),
                false => Vec::new(),
            },
            grad_packed: values((seq + 2) * nh, seed + 5, 1.0),
        }
    }

    fn spec(&self) -> Spec {
        Spec {
            kind: self.cell,
            lengths: self.lengths.as_deref().map(Into::into),
            reverse: self.reverse,
        }
    }

    /// The kernels: `packed` and the five gradients.
    fn fused(&self) -> (Vec<f32>, [Vec<f32>; 5]) {
        let Dims { seq, batch, hidden } = self.dims;
        let (gh, nh) = (self.cell.gates() * hidden, batch * hidden);
        let inputs = ForwardInputs {
            gates_x: &self.gates_x,
            weight_hh: &self.weight_hh,
            bias_hh: &self.bias_hh,
            h0: &self.h0,
            c0: &self.c0,
        };
        let mut inference = vec![f32::NAN; (seq + 2) * nh];
        forward(&self.spec(), self.dims, inputs, &mut inference, None);
        let mut packed = vec![f32::NAN; (seq + 2) * nh];
        let mut acts = vec![f32::NAN; seq * batch * self.cell.saved_width() * hidden];
        let mut h_prev = vec![f32::NAN; seq * nh];
        let cells = if self.cell.has_cell() { seq * nh } else { 0 };
        let mut c_prev = vec![f32::NAN; cells];
        let saved = Saved {
            acts: &mut acts,
            h_prev: &mut h_prev,
            c_prev: &mut c_prev,
        };
        forward(&self.spec(), self.dims, inputs, &mut packed, Some(saved));
        assert_eq!(inference, packed, "inference and training forwards differ");
        let mut grads = [
            vec![f32::NAN; seq * batch * gh],
            vec![f32::NAN; gh * hidden],
            vec![f32::NAN; gh],
            vec![f32::NAN; nh],
            vec![f32::NAN; nh],
        ];
        let [dgx, dw, db, dh0, dc0] = &mut grads;
        backward(
            &self.spec(),
            self.dims,
            BackwardInputs {
                weight_hh: &self.weight_hh,
                acts: &acts,
                h_prev: &h_prev,
                c_prev: &c_prev,
                grad_packed: &self.grad_packed,
            },
            BackwardOutputs {
                gates_x: dgx,
                weight_hh: dw,
                bias_hh: db,
                h0: dh0,
                c0: dc0,
            },
        );
        (packed, grads)
    }

    /// The naive loop in `f64`: `packed` and the five gradients.
    fn naive(&self) -> (Vec<f64>, [Vec<f64>; 5]) {
        let Dims {
            seq,
            batch,
            hidden: h,
        } = self.dims;
        let g = self.cell.gates();
        let gh = g * h;
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
        let (gx, w, b) = (f(&self.gates_x), f(&self.weight_hh), f(&self.bias_hh));
        let spec = self.spec();
        let lstm = self.cell == CellKind::Lstm;
        let mut packed = vec![0.0f64; (seq + 2) * batch * h];
        // Per (t, n): the state before, the hidden pre-activations and the gates.
        let mut hs = vec![vec![0.0f64; h]; seq * batch];
        let mut cs = vec![vec![0.0f64; h]; seq * batch];
        let mut phs = vec![vec![0.0f64; gh]; seq * batch];
        let mut gates = vec![vec![0.0f64; gh + h]; seq * batch];
        for n in 0..batch {
            let mut hn = f(&self.h0[n * h..(n + 1) * h]);
            let mut cn = match lstm {
                true => f(&self.c0[n * h..(n + 1) * h]),
                false => vec![0.0; h],
            };
            for s in 0..seq {
                let t = spec.time(s, seq);
                if !spec.active(t, n) {
                    continue;
                }
                let at = t * batch + n;
                let x = &gx[at * gh..(at + 1) * gh];
                let ph: Vec<f64> = (0..gh)
                    .map(|j| (0..h).map(|k| hn[k] * w[j * h + k]).sum::<f64>() + b[j])
                    .collect();
                let mut act = vec![0.0f64; gh + h];
                let mut h_new = vec![0.0f64; h];
                for u in 0..h {
                    match self.cell {
                        CellKind::RnnTanh => h_new[u] = (x[u] + ph[u]).tanh(),
                        CellKind::RnnRelu => h_new[u] = (x[u] + ph[u]).max(0.0),
                        CellKind::Lstm => {
                            let i = sigmoid(x[u] + ph[u]);
                            let fg = sigmoid(x[h + u] + ph[h + u]);
                            let gg = (x[2 * h + u] + ph[2 * h + u]).tanh();
                            let o = sigmoid(x[3 * h + u] + ph[3 * h + u]);
                            let c_new = fg * cn[u] + i * gg;
                            act[u] = i;
                            act[h + u] = fg;
                            act[2 * h + u] = gg;
                            act[3 * h + u] = o;
                            act[4 * h + u] = c_new.tanh();
                            h_new[u] = o * c_new.tanh();
                        }
                        CellKind::Gru => {
                            let r = sigmoid(x[u] + ph[u]);
                            let z = sigmoid(x[h + u] + ph[h + u]);
                            let nn = (x[2 * h + u] + r * ph[2 * h + u]).tanh();
                            act[u] = r;
                            act[h + u] = z;
                            act[2 * h + u] = nn;
                            h_new[u] = (1.0 - z) * nn + z * hn[u];
                        }
                    }
                }
                hs[at] = hn.clone();
                cs[at] = cn.clone();
                phs[at] = ph;
                if lstm {
                    cn = (0..h)
                        .map(|u| act[h + u] * cn[u] + act[u] * act[2 * h + u])
                        .collect();
                }
                gates[at] = act;
                packed[at * h..(at + 1) * h].copy_from_slice(&h_new);
                hn = h_new;
            }
            packed[(seq * batch + n) * h..][..h].copy_from_slice(&hn);
            if lstm {
                packed[((seq + 1) * batch + n) * h..][..h].copy_from_slice(&cn);
            }
        }
        // Backpropagation through time.
        let gp = f(&self.grad_packed);
        let mut dgx = vec![0.0f64; seq * batch * gh];
        let mut dw = vec![0.0f64; gh * h];
        let mut db = vec![0.0f64; gh];
        let mut dh0 = vec![0.0f64; batch * h];
        let mut dc0 = vec![0.0f64; batch * h];
        for n in 0..batch {
            let mut dh = gp[(seq * batch + n) * h..][..h].to_vec();
            let mut dc = match lstm {
                true => gp[((seq + 1) * batch + n) * h..][..h].to_vec(),
                false => vec![0.0; h],
            };
            for s in (0..seq).rev() {
                let t = spec.time(s, seq);
                if !spec.active(t, n) {
                    continue;
                }
                let at = t * batch + n;
                let (hp, cp, ph, a) = (&hs[at], &cs[at], &phs[at], &gates[at]);
                let out = &packed[at * h..(at + 1) * h];
                let mut dx = vec![0.0f64; gh];
                let mut dph = vec![0.0f64; gh];
                let mut dh_prev = vec![0.0f64; h];
                let mut dc_prev = vec![0.0f64; h];
                for u in 0..h {
                    let dht = gp[at * h + u] + dh[u];
                    match self.cell {
                        CellKind::RnnTanh => dx[u] = dht * (1.0 - out[u] * out[u]),
                        CellKind::RnnRelu => dx[u] = dht * (out[u] > 0.0) as u8 as f64,
                        CellKind::Lstm => {
                            let (i, fg, gg, o, tc) =
                                (a[u], a[h + u], a[2 * h + u], a[3 * h + u], a[4 * h + u]);
                            let dct = dc[u] + dht * o * (1.0 - tc * tc);
                            dx[u] = dct * gg * i * (1.0 - i);
                            dx[h + u] = dct * cp[u] * fg * (1.0 - fg);
                            dx[2 * h + u] = dct * i * (1.0 - gg * gg);
                            dx[3 * h + u] = dht * tc * o * (1.0 - o);
                            dc_prev[u] = dct * fg;
                        }
                        CellKind::Gru => {
                            let (r, z, nn) = (a[u], a[h + u], a[2 * h + u]);
                            let dpn = dht * (1.0 - z) * (1.0 - nn * nn);
                            dx[u] = dpn * ph[2 * h + u] * r * (1.0 - r);
                            dx[h + u] = dht * (hp[u] - nn) * z * (1.0 - z);
                            dx[2 * h + u] = dpn;
                            dh_prev[u] = dht * z;
                        }
                    }
                }
                for j in 0..gh {
                    dph[j] = match self.cell == CellKind::Gru && j >= 2 * h {
                        true => dx[j] * a[j - 2 * h],
                        false => dx[j],
                    };
                }
                for j in 0..gh {
                    db[j] += dph[j];
                    for k in 0..h {
                        dw[j * h + k] += dph[j] * hp[k];
                        dh_prev[k] += dph[j] * w[j * h + k];
                    }
                }
                dgx[at * gh..(at + 1) * gh].copy_from_slice(&dx);
                dh = dh_prev;
                if lstm {
                    dc = dc_prev;
                }
            }
            dh0[n * h..(n + 1) * h].copy_from_slice(&dh);
            if lstm {
                dc0[n * h..(n + 1) * h].copy_from_slice(&dc);
            }
        }
        (packed, [dgx, dw, db, dh0, dc0])
    }
}

/// Largest `|got - want| / (1 + |want|)`.
fn worst(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| match g.is_finite() {
            true => (g as f64 - w).abs() / (1.0 + w.abs()),
            false => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

fn check(case: &Case, what: &str) {
    let (packed, grads) = case.fused();
    let (want_packed, want_grads) = case.naive();
    let tol = 2e-5;
    let e = worst(&packed, &want_packed);
    assert!(e < tol, "{what}: packed outputs off by {e:e}");
    let names = ["d gates_x", "d weight_hh", "d bias_hh", "d h0", "d c0"];
    for ((got, want), name) in grads.iter().zip(&want_grads).zip(names) {
        let e = worst(got, want);
        assert!(e < tol, "{what}: {name} off by {e:e}");
    }
}

/// Every cell, direction and lengths setting on a few shapes, on `isa` with `threads`.
fn sweep(isa: Isa, threads: usize) {
    let shapes = [
        // batch 1; H below every vector width
        Dims {
            seq: 4,
            batch: 1,
            hidden: 3,
        },
        // odd sizes: H past one 16-unit tile, batch past one row block
        Dims {
            seq: 5,
            batch: 9,
            hidden: 37,
        },
        // more than one RNN tile (64 units), a partial row block
        Dims {
            seq: 3,
            batch: 7,
            hidden: 70,
        },
        // big enough per step to run on two threads
        Dims {
            seq: 3,
            batch: 8,
            hidden: 130,
        },
        // an inner dimension past one chunk of the tile product (256), forward too
        Dims {
            seq: 2,
            batch: 7,
            hidden: 300,
        },
    ];
    let mut seed = 1;
    for dims in shapes {
        for cell in CELLS {
            for reverse in [false, true] {
                let lengths = (dims.batch > 1).then(|| {
                    (0..dims.batch)
                        .map(|n| [dims.seq, 1, 0, dims.seq - 1][n % 4])
                        .collect()
                });
                for lengths in [None, lengths] {
                    let what = format!(
                        "{isa} x{threads} {cell:?} {dims:?} reverse {reverse} lengths {lengths:?}"
                    );
                    seed += 10;
                    check(&Case::new(cell, dims, lengths, reverse, seed), &what);
                }
            }
        }
    }
}

#[test]
fn every_path_matches_the_naive_loop() {
    let _guard = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let paths = Isa::available_paths();
    assert!(paths.contains(&Isa::Scalar));
    // Every AArch64 CPU has NEON: its path must be among those tested.
    #[cfg(target_arch = "aarch64")]
    assert!(paths.contains(&Isa::Neon));
    for isa in paths {
        set_isa(Some(isa)).expect("an available path");
        assert_eq!(rnn_cpu::isa(), isa);
        for threads in [1, 2] {
            set_num_threads(threads);
            sweep(isa, threads);
        }
    }
    set_isa(None).unwrap();
    set_num_threads(0);
}

#[test]
fn path_names_parse_and_unavailable_paths_are_refused() {
    let _guard = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    for isa in Isa::ALL {
        assert_eq!(isa.name().parse::<Isa>(), Ok(isa));
        assert_eq!(isa.to_string().to_uppercase().parse::<Isa>(), Ok(isa));
    }
    assert_eq!(
        "sse9".parse::<Isa>(),
        Err(IsaError::Unknown("sse9".to_string()))
    );
    let before = rnn_cpu::isa();
    for isa in Isa::ALL.into_iter().filter(|isa| !isa.available()) {
        assert_eq!(set_isa(Some(isa)), Err(IsaError::Unavailable(isa)));
        assert_eq!(rnn_cpu::isa(), before, "a refused path changed the choice");
    }
    // Some architecture's paths are always missing here.
    assert!(Isa::ALL.iter().any(|isa| !isa.available()));
    assert!(Isa::best().available());
}

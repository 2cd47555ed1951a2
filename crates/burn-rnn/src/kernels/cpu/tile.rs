//! The recurrent matmul as register tiles over pre-packed weights.
//!
//! The hidden weights are packed ONCE per sequence into panels so that each tile of the
//! product `A B` is `MR` rows by `V` vectors of 16 columns, read as one contiguous stream per
//! `k`. The forward packing interleaves the gates: one tile holds every gate's columns for the
//! same 16 hidden units (LSTM `i, f, g, o`; GRU `r, z, n`), so the gate math of those units runs
//! right after the tile is computed, while it is in L1, and a thread that owns a range of units
//! owns the matching slice of `W_hh` (it stays in that core's L2 for the whole sequence).
//!
//! The tile kernel is AVX-512 (`MR x V` accumulators in registers, one broadcast of `A` and
//! `V` loads of `B` per `k`) with a portable fallback for other CPUs.

/// Columns per vector.
pub const LANES: usize = 16;

/// Weights packed into tiles: `tiles x [k][V * 16]`, zero-padded past the last unit.
#[derive(Debug, Clone)]
pub struct Packed {
    data: Vec<f32>,
    /// The inner dimension `k`.
    pub k: usize,
    /// Vectors of 16 columns per tile.
    pub vectors: usize,
    /// Number of tiles.
    pub tiles: usize,
    /// Hidden units per tile (`16 * unit blocks`).
    pub units_per_tile: usize,
}

impl Packed {
    /// The forward packing of `W_hh^T` (`w`: `[G*H, H]`, PyTorch's layout): tile `t` holds, for
    /// each gate `g`, the columns `g*H + u` of its units `u`. RNN tiles hold 64 units (4
    /// vectors), LSTM and GRU tiles 16 units of every gate (4 and 3 vectors).
    pub fn forward(w: &[f32], gates: usize, hidden: usize) -> Self {
        let k = hidden;
        let blocks_per_tile = if gates == 1 { 4 } else { 1 };
        let vectors = gates * blocks_per_tile;
        let units_per_tile = blocks_per_tile * LANES;
        let tiles = hidden.div_ceil(units_per_tile);
        let mut data = vec![0.0f32; tiles * k * vectors * LANES];
        for t in 0..tiles {
            for g in 0..gates {
                for b in 0..blocks_per_tile {
                    let v = g * blocks_per_tile + b;
                    for c in 0..LANES {
                        let unit = t * units_per_tile + b * LANES + c;
                        if unit >= hidden {
                            continue;
                        }
                        let row = &w[(g * hidden + unit) * k..(g * hidden + unit + 1) * k];
                        for (p, &x) in row.iter().enumerate() {
                            data[((t * k + p) * vectors + v) * LANES + c] = x;
                        }
                    }
                }
            }
        }
        Self {
            data,
            k,
            vectors,
            tiles,
            units_per_tile,
        }
    }

    /// The backward packing of `W_hh` itself (`w`: `[G*H, H]`, so `k = G*H` and the columns
    /// are hidden units): tiles of 64 units (4 vectors).
    pub fn backward(w: &[f32], gates: usize, hidden: usize) -> Self {
        let k = gates * hidden;
        let vectors = 4;
        let units_per_tile = vectors * LANES;
        let tiles = hidden.div_ceil(units_per_tile);
        let mut data = vec![0.0f32; tiles * k * vectors * LANES];
        for t in 0..tiles {
            for p in 0..k {
                for j in 0..units_per_tile {
                    let unit = t * units_per_tile + j;
                    if unit < hidden {
                        data[(t * k + p) * units_per_tile + j] = w[p * hidden + unit];
                    }
                }
            }
        }
        Self {
            data,
            k,
            vectors,
            tiles,
            units_per_tile,
        }
    }

    /// The panel of tile `t`: `[k][V * 16]`.
    pub fn tile(&self, t: usize) -> &[f32] {
        let len = self.k * self.vectors * LANES;
        &self.data[t * len..(t + 1) * len]
    }

    /// Rows per tile the kernel uses for this many vectors (fills the 32 vector registers).
    pub fn rows_per_tile(&self) -> usize {
        match self.vectors {
            4 => 6,
            3 => 8,
            _ => 4,
        }
    }
}

/// Packs the rows of `a` (`rows x k`, rows `lda` apart) in blocks of `block` rows, each
/// block `[k][rows in block]`, so a tile reads its `A` values as one contiguous stream. Block
/// `b` starts at `b * block * k`.
pub fn pack_rows(a: &[f32], rows: usize, k: usize, lda: usize, block: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(rows * k, 0.0);
    for r0 in (0..rows).step_by(block) {
        let n = block.min(rows - r0);
        let dst = &mut out[r0 * k..(r0 + n) * k];
        for i in 0..n {
            let src = &a[(r0 + i) * lda..(r0 + i) * lda + k];
            for (p, &x) in src.iter().enumerate() {
                dst[p * n + i] = x;
            }
        }
    }
}

/// `out[i][j] = sum_p a[p][i] * panel[p][j]` for the `rows` rows of one [`pack_rows`] block
/// (`a`: `[k][rows]`, `rows` at most [`Packed::rows_per_tile`]) and the `V * 16` columns of
/// one packed tile.
///
/// # Panics
/// If the slices are shorter than the shapes say.
pub fn tile_product(
    rows: usize,
    a: &[f32],
    packed: &Packed,
    t: usize,
    out: &mut [f32],
    simd: bool,
) {
    let (k, v) = (packed.k, packed.vectors);
    let panel = packed.tile(t);
    assert!(rows <= packed.rows_per_tile() && rows > 0);
    assert!(a.len() >= rows * k, "tile_product: A too short");
    assert!(out.len() >= rows * v * LANES, "tile_product: out too short");
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: the caller passes `simd` only where AVX-512F was detected; the asserts
        // above bound every read and write the kernels make.
        unsafe {
            macro_rules! go {
                ($($mr:literal)*; $v:literal) => {
                    match rows {
                        $($mr => avx512::tile::<$mr, $v>(k, a.as_ptr(), panel.as_ptr(), out.as_mut_ptr()),)*
                        _ => unreachable!(),
                    }
                };
            }
            match v {
                4 => go!(1 2 3 4 5 6; 4),
                3 => go!(1 2 3 4 5 6 7 8; 3),
                _ => unreachable!("tiles have 3 or 4 vectors"),
            }
        }
        return;
    }
    let _ = simd;
    portable(rows, k, v, a, panel, out);
}

/// The tile product in plain Rust (any CPU).
fn portable(rows: usize, k: usize, v: usize, a: &[f32], panel: &[f32], out: &mut [f32]) {
    let width = v * LANES;
    for i in 0..rows {
        let acc = &mut out[i * width..(i + 1) * width];
        acc.fill(0.0);
        for p in 0..k {
            let x = a[p * rows + i];
            let b = &panel[p * width..(p + 1) * width];
            for (o, &w) in acc.iter_mut().zip(b) {
                *o += x * w;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::LANES;

    /// `MR x V` accumulators; per `k`: `V` loads of the panel, `MR` broadcasts, `MR * V` FMAs.
    ///
    /// # Safety
    /// AVX-512F must be available; `a` must hold `[k][MR]` values, `b` a `[k][V * 16]`
    /// panel, `out` `MR * V * 16` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tile<const MR: usize, const V: usize>(
        k: usize,
        a: *const f32,
        b: *const f32,
        out: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; MR];
        for p in 0..k {
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(b.add((p * V + v) * LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(p * MR + i));
                for (v, s) in row.iter_mut().enumerate() {
                    *s = _mm512_fmadd_ps(x, bv[v], *s);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, s) in row.iter().enumerate() {
                _mm512_storeu_ps(out.add((i * V + v) * LANES), *s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], w: &[f32], m: usize, k: usize, n: usize, transpose_w: bool) -> Vec<f32> {
        // transpose_w: w is [n, k] and the product is a w^T; else w is [k, n].
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let wv = if transpose_w {
                        w[j * k + p]
                    } else {
                        w[p * n + j]
                    };
                    s += a[i * k + p] as f64 * wv as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32
                    / (1 << 24) as f32
                    - 0.5
            })
            .collect()
    }

    /// Every tile of both packings, both kernels, units not a multiple of 16, all row counts.
    #[test]
    fn tiles_equal_a_naive_product() {
        let simd_options = [
            false,
            cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx512f"),
        ];
        for &(gates, hidden) in &[(1usize, 70usize), (4, 37), (3, 20)] {
            let gh = gates * hidden;
            let w = values(gh * hidden, 7);
            let rows_total = 9;
            // Forward: a [rows, H] times W^T [H, G*H].
            let a = values(rows_total * hidden, 3);
            let want = naive(&a, &w, rows_total, hidden, gh, true);
            let packed = Packed::forward(&w, gates, hidden);
            for &simd in &simd_options {
                let mr = packed.rows_per_tile();
                let width = packed.vectors * LANES;
                let mut out = vec![0.0f32; mr * width];
                let mut a_packed = Vec::new();
                pack_rows(&a, rows_total, hidden, hidden, mr, &mut a_packed);
                for t in 0..packed.tiles {
                    for r0 in (0..rows_total).step_by(mr) {
                        let rows = mr.min(rows_total - r0);
                        tile_product(rows, &a_packed[r0 * hidden..], &packed, t, &mut out, simd);
                        let blocks = packed.units_per_tile / LANES;
                        for i in 0..rows {
                            for v in 0..packed.vectors {
                                let (g, b) = (v / blocks, v % blocks);
                                for c in 0..LANES {
                                    let unit = t * packed.units_per_tile + b * LANES + c;
                                    if unit < hidden {
                                        let got = out[i * width + v * LANES + c];
                                        let exp = want[(r0 + i) * gh + g * hidden + unit];
                                        assert!(
                                            (got - exp).abs() < 1e-4,
                                            "forward {gates} {hidden} {simd}: {got} vs {exp}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Backward: a [rows, G*H] times W [G*H, H].
            let a = values(rows_total * gh, 5);
            let want = naive(&a, &w, rows_total, gh, hidden, false);
            let packed = Packed::backward(&w, gates, hidden);
            for &simd in &simd_options {
                let mr = packed.rows_per_tile();
                let width = packed.vectors * LANES;
                let mut out = vec![0.0f32; mr * width];
                let mut a_packed = Vec::new();
                pack_rows(&a, rows_total, gh, gh, mr, &mut a_packed);
                for t in 0..packed.tiles {
                    for r0 in (0..rows_total).step_by(mr) {
                        let rows = mr.min(rows_total - r0);
                        tile_product(rows, &a_packed[r0 * gh..], &packed, t, &mut out, simd);
                        for i in 0..rows {
                            for j in 0..width {
                                let unit = t * width + j;
                                if unit < hidden {
                                    let got = out[i * width + j];
                                    let exp = want[(r0 + i) * hidden + unit];
                                    assert!(
                                        (got - exp).abs() < 1e-4,
                                        "backward {gates} {hidden} {simd}: {got} vs {exp}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

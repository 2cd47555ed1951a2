//! The recurrent product as register tiles over pre-packed weights.
//!
//! The hidden weights are packed ONCE per sequence into panels so that each tile of the
//! product `A B` is `MR` rows by `V` vectors of 16 columns, read as one contiguous stream per
//! `k`. The forward packing interleaves the gates: one tile holds every gate's columns for the
//! same 16 hidden units (LSTM `i, f, g, o`; GRU `r, z, n`), so the gate math of those units runs
//! right after the tile is computed, while it is in L1, and a thread that owns a range of units
//! owns the matching slice of `W_hh` (it stays in that core's L2 for the whole sequence).
//!
//! The tile kernel is [`Simd::tile`]: `MR` rows by a chunk of vectors in registers, one
//! broadcast of `A` and one load of `B` per vector and `k`; `MR` and the chunk are each
//! instruction set's (see [`crate::simd`]). The packing is the same on every path.

use crate::simd::Simd;

/// Columns per packed vector (the packing's unit; a path's own vectors may be narrower).
pub(crate) const LANES: usize = 16;

/// Weights packed into tiles: `tiles x [k][V * 16]`, zero-padded past the last unit.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
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
    pub(crate) fn forward(w: &[f32], gates: usize, hidden: usize) -> Self {
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
    pub(crate) fn backward(w: &[f32], gates: usize, hidden: usize) -> Self {
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
    pub(crate) fn tile(&self, t: usize) -> &[f32] {
        let len = self.k * self.vectors * LANES;
        &self.data[t * len..(t + 1) * len]
    }

    /// Rows per tile the kernel of path `S` uses for these tiles.
    pub(crate) fn rows_per_tile<S: Simd>(&self) -> usize {
        S::rows_per_tile(self.vectors)
    }
}

/// Packs the rows of `a` (`rows x k`, rows `lda` apart) in blocks of `block` rows, each
/// block `[k][rows in block]`, so a tile reads its `A` values as one contiguous stream. Block
/// `b` starts at `b * block * k`.
pub(crate) fn pack_rows(
    a: &[f32],
    rows: usize,
    k: usize,
    lda: usize,
    block: usize,
    out: &mut Vec<f32>,
) {
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
/// one packed tile, on path `S`.
///
/// # Safety
/// `S` must be available on this CPU.
///
/// # Panics
/// If the slices are shorter than the shapes say.
#[inline(always)]
pub(crate) unsafe fn tile_product<S: Simd>(
    rows: usize,
    a: &[f32],
    packed: &Packed,
    t: usize,
    out: &mut [f32],
) {
    let (k, width) = (packed.k, packed.vectors * LANES);
    let panel = packed.tile(t);
    assert!(rows <= packed.rows_per_tile::<S>() && rows > 0);
    assert!(a.len() >= rows * k, "tile_product: A too short");
    assert!(out.len() >= rows * width, "tile_product: out too short");
    // The asserts above bound every read and write of the kernel.
    S::tile(rows, k, a.as_ptr(), panel.as_ptr(), width, out.as_mut_ptr());
}

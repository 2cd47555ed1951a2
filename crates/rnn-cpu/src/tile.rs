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
use crate::threads::{parallel, split, Ptr};

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
    pub(crate) fn forward(w: &[f32], gates: usize, hidden: usize, threads: usize) -> Self {
        let k = hidden;
        let blocks_per_tile = if gates == 1 { 4 } else { 1 };
        let vectors = gates * blocks_per_tile;
        let units_per_tile = blocks_per_tile * LANES;
        let tiles = hidden.div_ceil(units_per_tile);
        Self::filled(k, vectors, tiles, units_per_tile, threads, |t, tile| {
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
                            tile[(p * vectors + v) * LANES + c] = x;
                        }
                    }
                }
            }
        })
    }

    /// Zeroed tiles, each filled by `fill(t, tile)`, the tiles split over `threads` workers
    /// as the kernels' jobs split them (so a worker packs the tiles it will read).
    fn filled(
        k: usize,
        vectors: usize,
        tiles: usize,
        units_per_tile: usize,
        threads: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) -> Self {
        let len = k * vectors * LANES;
        let mut data = vec![0.0f32; tiles * len];
        let ptr = Ptr::of(&mut data);
        parallel(threads, |tid, workers, _| {
            for t in split(tiles, workers, tid) {
                // SAFETY: tile `t` is `[t * len, (t + 1) * len)` of `data`, and each worker
                // fills its own tiles.
                fill(t, unsafe { ptr.slice_mut(t * len, len) });
            }
        });
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
    pub(crate) fn backward(w: &[f32], gates: usize, hidden: usize, threads: usize) -> Self {
        let k = gates * hidden;
        let vectors = 4;
        let units_per_tile = vectors * LANES;
        let tiles = hidden.div_ceil(units_per_tile);
        Self::filled(k, vectors, tiles, units_per_tile, threads, |t, tile| {
            let units = t * units_per_tile..((t + 1) * units_per_tile).min(hidden);
            for p in 0..k {
                let src = &w[p * hidden + units.start..p * hidden + units.end];
                tile[p * units_per_tile..][..src.len()].copy_from_slice(src);
            }
        })
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

/// The `k` values of the panel one pass over the row blocks reads: 256 x 64 columns is 64 KiB,
/// which stays in L2 while every row block of the batch reads it, so each step streams its
/// weights from L3 (or DRAM) once rather than once per row block.
const K_CHUNK: usize = 256;

/// `out[n][j] = sum_p a[n * lda + p] * panel[p][j]` for the `rows` rows of `a` (`k` values
/// each, `lda` apart) and the `V * 16` columns of packed tile `t`, on path `S`: `out` is
/// `[rows][V * 16]`. Row blocks are [`Packed::rows_per_tile`] rows; the inner dimension runs
/// in chunks of [`K_CHUNK`], every row block per chunk.
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
    lda: usize,
    packed: &Packed,
    t: usize,
    out: &mut [f32],
) {
    let (k, width) = (packed.k, packed.vectors * LANES);
    let mr = packed.rows_per_tile::<S>();
    let panel = packed.tile(t);
    assert!(
        lda >= k && a.len() >= (rows - 1) * lda + k,
        "tile_product: A too short"
    );
    assert!(out.len() >= rows * width, "tile_product: out too short");
    // The asserts above bound every read and write of the kernels.
    for k0 in (0..k).step_by(K_CHUNK) {
        let kc = K_CHUNK.min(k - k0);
        for r0 in (0..rows).step_by(mr) {
            let n = mr.min(rows - r0);
            S::tile(
                n,
                kc,
                a.as_ptr().add(r0 * lda + k0),
                lda,
                panel.as_ptr().add(k0 * width),
                width,
                out.as_mut_ptr().add(r0 * width),
                k0 > 0,
            );
        }
    }
}

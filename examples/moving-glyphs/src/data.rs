//! Sequences of 64x64 frames in which two glyphs move in straight lines and bounce off the
//! edges (a Moving-MNIST-like task drawn from an embedded font).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Frame side, pixels.
pub const SIDE: usize = 64;
/// Frames the model sees.
pub const INPUT_FRAMES: usize = 10;
/// Frames it predicts after them.
pub const OUTPUT_FRAMES: usize = 10;
/// Glyphs per sequence.
pub const GLYPHS: usize = 2;
/// The characters the glyphs are drawn from.
pub const CHARACTERS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// DejaVu Sans Bold, subset to the alphanumerics (the crnn example's copy; licence in
/// `examples/crnn/fonts/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../../crnn/fonts/DejaVuSans-Bold.ttf");

/// A glyph's ink coverage: `side x side`, `0` paper, `1` ink.
struct Sprite {
    side: usize,
    ink: Vec<f32>,
}

/// `ch` drawn at 30 px, centred in a 28x28 square (clipped to it).
fn sprite(font: &FontRef<'_>, ch: char) -> Sprite {
    let side = 28;
    let scale = PxScale::from(30.0);
    let scaled = font.as_scaled(scale);
    let glyph = scaled.glyph_id(ch).with_scale(scale);
    let mut ink = vec![0.0; side * side];
    if let Some(outline) = font.outline_glyph(glyph) {
        let b = outline.px_bounds();
        let (w, h) = (b.width(), b.height());
        let (dx, dy) = (
            ((side as f32 - w) / 2.0).round() as i64,
            ((side as f32 - h) / 2.0).round() as i64,
        );
        outline.draw(|x, y, c| {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if (0..side as i64).contains(&px) && (0..side as i64).contains(&py) {
                ink[py as usize * side + px as usize] = c;
            }
        });
    }
    Sprite { side, ink }
}

/// One sequence: `INPUT_FRAMES + OUTPUT_FRAMES` frames of `SIDE x SIDE`, row-major, in
/// `[0, 1]`; the same for the same seed.
pub fn sequence(seed: u64) -> Vec<f32> {
    let font = FontRef::try_from_slice(FONT).expect("the embedded font is a valid TTF");
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = INPUT_FRAMES + OUTPUT_FRAMES;
    let mut out = vec![0.0f32; frames * SIDE * SIDE];
    let chars = CHARACTERS.as_bytes();
    for _ in 0..GLYPHS {
        let s = sprite(&font, chars[rng.random_range(0..chars.len())] as char);
        let room = (SIDE - s.side) as f32;
        let (mut x, mut y) = (rng.random_range(0.0..room), rng.random_range(0.0..room));
        let angle = rng.random_range(0.0..std::f32::consts::TAU);
        let speed = rng.random_range(1.5..3.0f32);
        let (mut vx, mut vy) = (speed * angle.cos(), speed * angle.sin());
        for f in 0..frames {
            let (ox, oy) = (x.round() as usize, y.round() as usize);
            let frame = &mut out[f * SIDE * SIDE..(f + 1) * SIDE * SIDE];
            for r in 0..s.side {
                for c in 0..s.side {
                    let p = &mut frame[(oy + r) * SIDE + ox + c];
                    *p = p.max(s.ink[r * s.side + c]);
                }
            }
            x += vx;
            y += vy;
            if !(0.0..=room).contains(&x) {
                vx = -vx;
                x = x.clamp(0.0, room);
            }
            if !(0.0..=room).contains(&y) {
                vy = -vy;
                y = y.clamp(0.0, room);
            }
        }
    }
    out
}

/// A batch of the sequences of `seeds`: input frames `[N, INPUT_FRAMES, 1, SIDE, SIDE]` and the
/// frames to predict `[N, OUTPUT_FRAMES, 1, SIDE, SIDE]`.
pub fn batch<B: Backend>(seeds: &[u64], device: &B::Device) -> (Tensor<B, 5>, Tensor<B, 5>) {
    let n = seeds.len();
    let frame = SIDE * SIDE;
    let (mut input, mut target) = (Vec::new(), Vec::new());
    for &seed in seeds {
        let s = sequence(seed);
        input.extend_from_slice(&s[..INPUT_FRAMES * frame]);
        target.extend_from_slice(&s[INPUT_FRAMES * frame..]);
    }
    (
        Tensor::from_data(
            TensorData::new(input, [n, INPUT_FRAMES, 1, SIDE, SIDE]),
            device,
        ),
        Tensor::from_data(
            TensorData::new(target, [n, OUTPUT_FRAMES, 1, SIDE, SIDE]),
            device,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_move_stay_inside_and_repeat_by_seed() {
        let a = sequence(3);
        assert_eq!(a, sequence(3));
        assert_ne!(a, sequence(4));
        let frame = SIDE * SIDE;
        assert_eq!(a.len(), (INPUT_FRAMES + OUTPUT_FRAMES) * frame);
        assert!(a.iter().all(|p| (0.0..=1.0).contains(p)));
        // Every frame has ink, and the glyphs move: consecutive frames differ.
        for f in 0..INPUT_FRAMES + OUTPUT_FRAMES {
            let ink: f32 = a[f * frame..(f + 1) * frame].iter().sum();
            assert!(ink > 20.0, "frame {f}: {ink}");
        }
        assert_ne!(a[..frame], a[frame..2 * frame]);
    }
}

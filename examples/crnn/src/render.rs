//! Text lines drawn from the embedded fonts, with the augmentation of training: size, position,
//! horizontal stretch, rotation, shear, blur, noise, contrast and polarity.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use rand::Rng;

use crate::image::Gray;

/// Height of every line the model reads, pixels.
pub const HEIGHT: usize = 32;
/// Width of the rendered training and held-out lines, pixels.
pub const WIDTH: usize = 128;

/// The embedded faces (DejaVu 2.37, subset to the alphabet; licence in
/// `fonts/LICENSE-DejaVu.txt`): `(name, TTF bytes)`.
pub const FACES: [(&str, &[u8]); 4] = [
    (
        "DejaVu Sans",
        include_bytes!("../fonts/DejaVuSans.ttf").as_slice(),
    ),
    (
        "DejaVu Sans Bold",
        include_bytes!("../fonts/DejaVuSans-Bold.ttf").as_slice(),
    ),
    (
        "DejaVu Serif",
        include_bytes!("../fonts/DejaVuSerif.ttf").as_slice(),
    ),
    (
        "DejaVu Sans Mono",
        include_bytes!("../fonts/DejaVuSansMono.ttf").as_slice(),
    ),
];

/// The parsed embedded faces.
pub struct Fonts {
    faces: Vec<FontRef<'static>>,
}

impl Default for Fonts {
    fn default() -> Self {
        Self::new()
    }
}

impl Fonts {
    /// Parses the embedded faces.
    pub fn new() -> Self {
        let faces = FACES
            .iter()
            .map(|(name, bytes)| {
                FontRef::try_from_slice(bytes)
                    .unwrap_or_else(|e| panic!("the embedded {name} is a valid TTF: {e}"))
            })
            .collect();
        Self { faces }
    }

    /// How many faces there are.
    pub fn len(&self) -> usize {
        self.faces.len()
    }

    /// Whether there is no face (never: four are embedded).
    pub fn is_empty(&self) -> bool {
        self.faces.is_empty()
    }

    /// The ink coverage of `text` in face `face` at `size` pixels per em, tightly around the
    /// line box: height `ascent - descent` (rounded up), width the advances plus kerning and
    /// `spacing` pixels between characters. `0` is paper, `1` is ink.
    pub fn coverage(&self, text: &str, face: usize, size: f32, spacing: f32) -> Gray {
        let font = &self.faces[face];
        let scale = PxScale::from(size);
        let scaled = font.as_scaled(scale);
        let mut glyphs = Vec::new();
        let mut x = 1.0f32;
        let mut prev = None;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                x += scaled.kern(p, id) + spacing;
            }
            glyphs.push(id.with_scale_and_position(scale, ab_glyph::point(x, scaled.ascent())));
            x += scaled.h_advance(id);
            prev = Some(id);
        }
        let width = (x + 1.0).ceil().max(1.0) as usize;
        let height = (scaled.ascent() - scaled.descent()).ceil().max(1.0) as usize;
        let mut out = Gray::filled(width, height, 0.0);
        for glyph in glyphs {
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            outline.draw(|gx, gy, c| {
                let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if (0..width as i64).contains(&px) && (0..height as i64).contains(&py) {
                    let p = &mut out.pixels[py as usize * width + px as usize];
                    *p = p.max(c);
                }
            });
        }
        out
    }
}

/// The random settings of one rendered line.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Face index into [`FACES`].
    pub face: usize,
    /// Font size, pixels per em.
    pub size: f32,
    /// Extra pixels between characters (may be negative).
    pub spacing: f32,
    /// Horizontal stretch of the line (1 keeps the font's widths).
    pub stretch: f32,
    /// Rotation, radians.
    pub rotation: f32,
    /// Horizontal shear (x moves by `shear * y` about the centre).
    pub shear: f32,
    /// Horizontal and vertical position of the text in the room the line leaves, `[0, 1]`.
    pub place: [f32; 2],
    /// Paper and ink gray levels (`0` black, `1` white): dark-on-light or light-on-dark.
    pub levels: [f32; 2],
    /// Standard deviation of the Gaussian blur, pixels (0: none).
    pub blur: f32,
    /// Standard deviation of the pixel noise.
    pub noise: f32,
}

impl Style {
    /// The augmentation of training at `strength` (`0` none, `1` full): sizes 18-26 px and
    /// every face always; at full strength spacing -0.5 to 1.5 px, stretch 0.9-1.1, rotation up
    /// to 2 degrees, shear up to 0.3, blur in half the lines (sigma 0.3-1.1), noise up to 0.08,
    /// paper down to 0.55 and ink up to 0.3 below it, one line in three light on dark. Every
    /// setting scales with `strength` (the blur's and the polarity's odds too); the same random
    /// numbers are drawn at every strength.
    pub fn random(rng: &mut impl Rng, faces: usize, strength: f32) -> Self {
        let s = strength.clamp(0.0, 1.0);
        let paper = 1.0 - s * rng.random_range(0.0..0.45f32);
        let ink = s * rng.random_range(0.0..(paper - 0.3));
        let levels = match rng.random_bool(f64::from(s) / 3.0) {
            true => [1.0 - paper, 1.0 - ink],
            false => [paper, ink],
        };
        let face = rng.random_range(0..faces);
        let size = rng.random_range(18.0..=26.0);
        let place = [rng.random(), rng.random()];
        let blurred = rng.random_bool(f64::from(s) / 2.0);
        let sigma = rng.random_range(0.3..1.1);
        Self {
            face,
            size,
            spacing: s * rng.random_range(-0.5..1.5),
            stretch: 1.0 + s * rng.random_range(-0.1..0.1),
            rotation: s * rng.random_range(-2.0..2.0f32).to_radians(),
            shear: s * rng.random_range(-0.3..0.3),
            place,
            levels,
            blur: if blurred { sigma } else { 0.0 },
            noise: s * rng.random_range(0.0..0.08),
        }
    }

    /// No augmentation: DejaVu Sans at 22 px, centred, black on white.
    pub fn plain() -> Self {
        Self {
            face: 0,
            size: 22.0,
            spacing: 0.0,
            stretch: 1.0,
            rotation: 0.0,
            shear: 0.0,
            place: [0.5, 0.5],
            levels: [1.0, 0.0],
            blur: 0.0,
            noise: 0.0,
        }
    }
}

/// Draws `text` in `style` on a `WIDTH x HEIGHT` line. The line is shrunk horizontally where it
/// would not fit; `rng` draws the noise.
pub fn render(fonts: &Fonts, text: &str, style: &Style, rng: &mut impl Rng) -> Gray {
    let cover = fonts.coverage(text, style.face, style.size, style.spacing);
    let (w, h) = (cover.width as f32, cover.height as f32);
    let (out_w, out_h) = (WIDTH as f32, HEIGHT as f32);
    // Horizontal scale: the stretch, shrunk so that the sheared and rotated box fits.
    let slant = (style.shear.abs() + style.rotation.abs()) * h;
    let sx = style.stretch.min((out_w - 2.0 - slant) / w).max(0.05);
    let sy = (out_h / h).min(1.0);
    let room = [
        (out_w - w * sx - slant).max(0.0),
        (out_h - h * sy - style.rotation.abs() * w * sx).max(0.0),
    ];
    let centre_out = [
        room[0] * style.place[0] + (out_w - room[0]) / 2.0,
        room[1] * style.place[1] + (out_h - room[1]) / 2.0,
    ];
    // Forward map: out = centre_out + R * Shear * S * (p - centre_in); sampled through its
    // inverse at every output pixel.
    let (sin, cos) = style.rotation.sin_cos();
    let m = [
        [cos * sx, (cos * style.shear - sin) * sy],
        [sin * sx, (sin * style.shear + cos) * sy],
    ];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let inv = [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ];
    let mut ink = Gray::filled(WIDTH, HEIGHT, 0.0);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let dx = x as f32 + 0.5 - centre_out[0];
            let dy = y as f32 + 0.5 - centre_out[1];
            let px = inv[0][0] * dx + inv[0][1] * dy + w / 2.0;
            let py = inv[1][0] * dx + inv[1][1] * dy + h / 2.0;
            ink.pixels[y * WIDTH + x] = cover.sample(px, py);
        }
    }
    if style.blur > 0.0 {
        ink = ink.blurred(style.blur);
    }
    let [paper, fg] = style.levels;
    for p in &mut ink.pixels {
        let noise = match style.noise > 0.0 {
            true => style.noise * normal(rng),
            false => 0.0,
        };
        *p = (paper + (fg - paper) * *p + noise).clamp(0.0, 1.0);
    }
    ink
}

/// A standard normal number (Box-Muller).
fn normal(rng: &mut impl Rng) -> f32 {
    let u: f32 = rng.random_range(f32::EPSILON..1.0);
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Columns holding ink (darker than mid-gray on a white line).
    fn inked_columns(img: &Gray) -> Vec<usize> {
        (0..img.width)
            .filter(|&x| (0..img.height).any(|y| img.pixels[y * img.width + x] < 0.5))
            .collect()
    }

    #[test]
    fn a_plain_line_is_centred_black_on_white_and_longer_text_is_wider() {
        let fonts = Fonts::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let short = render(&fonts, "ab", &Style::plain(), &mut rng);
        let long = render(&fonts, "abcdef", &Style::plain(), &mut rng);
        assert_eq!((short.width, short.height), (WIDTH, HEIGHT));
        let (s, l) = (inked_columns(&short), inked_columns(&long));
        assert!(!s.is_empty() && l.len() > 2 * s.len(), "{s:?} {l:?}");
        // Centred within a couple of pixels.
        let mid = (l[0] + l[l.len() - 1]) as f32 / 2.0;
        assert!((mid - WIDTH as f32 / 2.0).abs() < 3.0, "{mid}");
        // Paper stays white away from the text.
        assert_eq!(long.pixels[0], 1.0);
    }

    #[test]
    fn a_long_line_is_shrunk_to_fit_and_every_style_stays_in_range() {
        let fonts = Fonts::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let style = Style {
            size: 26.0,
            face: 3,
            ..Style::plain()
        };
        let img = render(&fonts, "WWWWWWWWWW", &style, &mut rng);
        let cols = inked_columns(&img);
        assert!(cols[0] > 0 && *cols.last().unwrap() < WIDTH - 1, "{cols:?}");
        for _ in 0..50 {
            let style = Style::random(&mut rng, fonts.len(), 1.0);
            let img = render(&fonts, "Mq7xZ0ab", &style, &mut rng);
            assert!(img.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
            let (lo, hi) = img
                .pixels
                .iter()
                .fold((1f32, 0f32), |(lo, hi), &p| (lo.min(p), hi.max(p)));
            assert!(hi - lo > 0.2, "{style:?}: the text is visible ({lo}..{hi})");
        }
    }
}

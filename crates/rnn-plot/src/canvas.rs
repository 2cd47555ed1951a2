//! The drawing surface: plotters' bitmap backend over an RGB8 buffer, with text drawn from the
//! embedded font, and the atomic PNG writer.
//!
//! Text goes through ab_glyph here rather than through plotters' own `ab_glyph` feature, which
//! places each glyph at its advance without its left side bearing (so "validation" reads
//! "vali dation") and centres text on a box of `size / 1.24`. Here glyphs sit at their pen
//! position, kerned, and a line's box is the font's ascent to descent.

use ab_glyph::{point, Font, FontRef, Glyph, PxScale, ScaleFont};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};
use std::io;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 subset to Latin, Greek, punctuation and arrows (47 KB); licence and the
/// subsetting command in `fonts/LICENSE-DejaVu.txt`. Characters outside it draw as a box.
const FONT_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_TTF).expect("the embedded DejaVu Sans parses"))
}

/// One line of text laid out at a pixel size: glyphs positioned from the top left of its box.
struct Line {
    glyphs: Vec<Glyph>,
    width: f32,
    height: f32,
}

fn layout(text: &str, size: f32) -> Line {
    let scaled = font().as_scaled(PxScale::from(size));
    let (mut x, mut prev, mut glyphs) = (0.0, None, Vec::new());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(size, point(x, scaled.ascent())));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    Line {
        glyphs,
        width: x,
        height: scaled.ascent() - scaled.descent(),
    }
}

/// The box of `text` drawn at `size` pixels: `(width, height)`, rounded up.
pub(crate) fn text_size(text: &str, size: f64) -> (u32, u32) {
    let line = layout(text, size as f32);
    (line.width.ceil() as u32, line.height.ceil() as u32)
}

/// plotters' [`BitMapBackend`] with [`DrawingBackend::draw_text`] and
/// [`DrawingBackend::estimate_text_size`] replaced (every text in the embedded font, whatever
/// family the style names).
pub(crate) struct Canvas<'a>(BitMapBackend<'a>);

impl<'a> Canvas<'a> {
    /// A canvas over `rgb`, `[height, width, 3]` row-major.
    pub(crate) fn new(rgb: &'a mut [u8], (width, height): (usize, usize)) -> Self {
        Self(BitMapBackend::with_buffer(
            rgb,
            (width as u32, height as u32),
        ))
    }
}

type Res<'a> = Result<(), DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>>;

impl<'a> DrawingBackend for Canvas<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Res<'a> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Res<'a> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Res<'a> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        s: &S,
    ) -> Res<'a> {
        self.0.draw_line(from, to, s)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Res<'a> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Res<'a> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Res<'a> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Res<'a> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Res<'a> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Res<'a> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let line = layout(text, style.size() as f32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -line.width / 2.0,
            HPos::Right => -line.width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -line.height / 2.0,
            VPos::Bottom => -line.height,
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let rotation = style.transform();
        let mut coverage = Vec::new();
        for glyph in line.glyphs {
            let Some(outline) = font().outline_glyph(glyph) else {
                continue; // a space
            };
            let min = outline.px_bounds().min;
            let (x0, y0) = (min.x as i32 + dx, min.y as i32 + dy);
            coverage.clear();
            outline.draw(|x, y, c| coverage.push((x as i32 + x0, y as i32 + y0, c)));
            for &(x, y, c) in &coverage {
                let (x, y) = rotation.transform(x, y);
                let alpha = color.alpha * f64::from(c.min(1.0));
                if alpha > 0.0 {
                    let rgb = color.rgb;
                    self.0
                        .draw_pixel((pos.0 + x, pos.1 + y), BackendColor { alpha, rgb })?;
                }
            }
        }
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok(text_size(text, style.size()))
    }
}

/// Writes RGB8 pixels `[h, w, 3]` as a PNG file through a temporary file and a rename.
pub fn write_png(path: &Path, w: usize, h: usize, rgb: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("png.tmp");
    {
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut enc = png::Encoder::new(file, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(io::Error::other)?;
        writer.write_image_data(rgb).map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::Pos;

    /// The columns (x) that have any non-white pixel.
    fn inked_columns(px: &[u8], w: usize) -> Vec<usize> {
        let mut cols: Vec<usize> = px
            .chunks(3)
            .enumerate()
            .filter(|(_, c)| c != &[255, 255, 255])
            .map(|(i, _)| i % w)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    #[test]
    fn text_is_inked_inside_its_measured_box() {
        let (w, h) = (200, 40);
        let mut px = vec![255u8; w * h * 3];
        let (tw, th) = text_size("validation", 20.0);
        assert!(
            (60..140).contains(&tw) && (18..28).contains(&th),
            "{tw}x{th}"
        );
        {
            let root = Canvas::new(&mut px, (w, h)).into_drawing_area();
            let style = ("sans-serif", 20).into_font().color(&BLACK);
            root.draw(&Text::new(
                "validation",
                (50, 5),
                style.pos(Pos::new(HPos::Left, VPos::Top)),
            ))
            .unwrap();
        }
        let cols = inked_columns(&px, w);
        let (first, last) = (cols[0], *cols.last().unwrap());
        assert!(
            first >= 50 && last < 50 + tw as usize + 1,
            "ink in {first}..={last}"
        );
    }

    #[test]
    fn a_glyph_starts_at_its_side_bearing() {
        // plotters' own ab_glyph text drops the bearing, drawing "l" from x = 50.
        let (w, h) = (100, 40);
        let mut px = vec![255u8; w * h * 3];
        {
            let root = Canvas::new(&mut px, (w, h)).into_drawing_area();
            let style = ("sans-serif", 40).into_font().color(&BLACK);
            let anchor = style.pos(Pos::new(HPos::Left, VPos::Top));
            root.draw(&Text::new("l", (50, 0), anchor)).unwrap();
        }
        let scaled = font().as_scaled(PxScale::from(40.0));
        let bearing = scaled.h_side_bearing(scaled.glyph_id('l'));
        assert!(bearing > 2.0, "DejaVu's l has a bearing, got {bearing}");
        assert_eq!(inked_columns(&px, w)[0], 50 + bearing.floor() as usize);
    }

    #[test]
    fn rotated_text_reads_upward_and_stays_in_its_box() {
        let (w, h) = (40, 200);
        let mut px = vec![255u8; w * h * 3];
        {
            let root = Canvas::new(&mut px, (w, h)).into_drawing_area();
            let style = ("sans-serif", 16)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&BLACK);
            root.draw(&Text::new(
                "loss",
                (20, 100),
                style.pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .unwrap();
        }
        let inked: Vec<(usize, usize)> = px
            .chunks(3)
            .enumerate()
            .filter(|(_, c)| c != &[255, 255, 255])
            .map(|(i, _)| (i % w, i / w))
            .collect();
        let (tw, th) = text_size("loss", 16.0);
        for &(x, y) in &inked {
            assert!(x.abs_diff(20) <= th as usize / 2 + 1, "x {x}");
            assert!(y.abs_diff(100) <= tw as usize / 2 + 1, "y {y}");
        }
        assert!(inked.len() > 40);
    }

    #[test]
    fn write_png_round_trips_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("rnn-plot-canvas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("two.png");
        let rgb = [1, 2, 3, 4, 5, 6];
        write_png(&path, 2, 1, &rgb).unwrap();
        assert_eq!(crate::tests::decode(&path), (2, 1, rgb.to_vec()));
        assert!(!path.with_extension("png.tmp").exists());
    }
}

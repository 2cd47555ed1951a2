//! Tiny PNG line charts and heatmaps for the examples: loss curves, predictions and attention
//! maps. Text is drawn with an 8x8 bitmap font, so no system fonts are needed; charts have axes,
//! tick labels, a title and a legend.
//!
//! ```no_run
//! use rnn_plot::{Chart, Series};
//! let chart = Chart::new("loss", "step", "nats/char")
//!     .with_series(Series::new("train", vec![(0.0, 4.2), (100.0, 2.1)]))
//!     .with_series(Series::new("validation", vec![(0.0, 4.1), (100.0, 2.3)]));
//! chart.save_png("loss.png").unwrap();
//! ```

use font8x8::UnicodeFonts;
use std::io;
use std::path::Path;

const PALETTE: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

/// One named line: `(x, y)` points drawn in order.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A named line through `points`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// A line chart of one or more [`Series`].
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    width: usize,
    height: usize,
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3], thick: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thick {
                for oy in 0..thick {
                    self.set(x + ox, y + oy, c);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        self.set(x + k as i64 * 8 + col, y + row as i64, c);
                    }
                }
            }
        }
    }

    /// Text rotated a quarter turn counter-clockwise, reading bottom to top, ending at `y`.
    fn text_up(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        self.set(x + row as i64, y - k as i64 * 8 - col, c);
                    }
                }
            }
        }
    }
}

/// A readable tick label.
fn label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Chart {
    /// An empty 800x500 chart.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            width: 800,
            height: 500,
        }
    }

    /// Adds a line.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Renders to RGB8 pixels, `[height, width, 3]` row-major.
    pub fn render(&self) -> (usize, usize, Vec<u8>) {
        let (w, h) = (self.width, self.height);
        let mut cv = Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        };
        let (left, right, top, bottom) = (90i64, 20i64, 40i64, 50i64);
        let (pw, ph) = (w as i64 - left - right, h as i64 - top - bottom);
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-12 {
            x1 = x0 + 1.0;
        }
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        (y0, y1) = (y0 - pad, y1 + pad);
        let to_px = |x: f64, y: f64| {
            (
                left + ((x - x0) / (x1 - x0) * pw as f64).round() as i64,
                top + ph - ((y - y0) / (y1 - y0) * ph as f64).round() as i64,
            )
        };
        let black = [0, 0, 0];
        let grey = [225, 225, 225];
        for i in 0..=5 {
            let fx = x0 + (x1 - x0) * i as f64 / 5.0;
            let fy = y0 + (y1 - y0) * i as f64 / 5.0;
            let (px, _) = to_px(fx, y0);
            let (_, py) = to_px(x0, fy);
            cv.line((px, top), (px, top + ph), grey, 1);
            cv.line((left, py), (left + pw, py), grey, 1);
            let lx = label(fx);
            cv.text(px - 4 * lx.len() as i64, top + ph + 8, &lx, black);
            let ly = label(fy);
            cv.text(left - 8 - 8 * ly.len() as i64, py - 4, &ly, black);
        }
        cv.line((left, top + ph), (left + pw, top + ph), black, 1);
        cv.line((left, top), (left, top + ph), black, 1);
        cv.text(
            w as i64 / 2 - 4 * self.title.len() as i64,
            14,
            &self.title,
            black,
        );
        let xl = &self.x_label;
        cv.text(
            left + pw / 2 - 4 * xl.len() as i64,
            h as i64 - 20,
            xl,
            black,
        );
        let yl = &self.y_label;
        cv.text_up(12, top + ph / 2 + 4 * yl.len() as i64, yl, black);
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let mut prev: Option<(i64, i64)> = None;
            for &(x, y) in &s.points {
                if !(x.is_finite() && y.is_finite()) {
                    prev = None;
                    continue;
                }
                let p = to_px(x, y);
                match prev {
                    Some(q) => cv.line(q, p, color, 2),
                    None => cv.line(p, p, color, 2),
                }
                prev = Some(p);
            }
            let ly = top + 10 + 14 * k as i64;
            let lx = left + pw - 10 - 8 * s.name.len() as i64 - 26;
            cv.line((lx, ly + 3), (lx + 18, ly + 3), color, 3);
            cv.text(lx + 24, ly, &s.name, black);
        }
        (w, h, cv.px)
    }

    /// Writes the chart as a PNG file, atomically (temporary file, then rename).
    pub fn save_png(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (w, h, px) = self.render();
        write_png(path.as_ref(), w, h, &px)
    }
}

/// A heatmap of a matrix with one text label per row and per column, such as an attention
/// matrix (rows: output tokens, columns: input tokens). Values are drawn from white (the
/// smallest, or 0 if all are non-negative) to dark blue (the largest).
///
/// ```no_run
/// use rnn_plot::Heatmap;
/// let map = Heatmap::new(
///     "attention",
///     vec!["a".into(), "b".into()],
///     vec!["x".into(), "y".into()],
///     vec![vec![0.9, 0.1], vec![0.2, 0.8]],
/// );
/// map.save_png("attention.png").unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Heatmap {
    title: String,
    columns: Vec<String>,
    rows: Vec<String>,
    values: Vec<Vec<f32>>,
}

/// Pixels per heatmap cell.
const CELL: usize = 18;

impl Heatmap {
    /// A heatmap of `values` (`rows.len()` rows of `columns.len()` values).
    ///
    /// # Panics
    /// If `values` is not `rows.len() x columns.len()`.
    pub fn new(
        title: &str,
        columns: Vec<String>,
        rows: Vec<String>,
        values: Vec<Vec<f32>>,
    ) -> Self {
        assert_eq!(
            values.len(),
            rows.len(),
            "Heatmap: expected {} rows of values, got {}",
            rows.len(),
            values.len()
        );
        for (i, row) in values.iter().enumerate() {
            assert_eq!(
                row.len(),
                columns.len(),
                "Heatmap: expected {} values in row {i}, got {}",
                columns.len(),
                row.len()
            );
        }
        Self {
            title: title.to_string(),
            columns,
            rows,
            values,
        }
    }

    /// Draws the heatmap: `(width, height, RGB8 pixels)`.
    pub fn render(&self) -> (usize, usize, Vec<u8>) {
        let label_w = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(1)
            * 8
            + 12;
        let label_h = self
            .columns
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(1)
            * 8
            + 12;
        let grid_w = self.columns.len() * CELL;
        let grid_h = self.rows.len() * CELL;
        let w = (label_w + grid_w + 20).max(self.title.chars().count() * 8 + 20);
        let h = 30 + label_h + grid_h + 10;
        let mut cv = Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        };
        let black = [0, 0, 0];
        cv.text(10, 10, &self.title, black);
        let (x0, y0) = (label_w as i64, (30 + label_h) as i64);
        let all = self.values.iter().flatten().copied();
        let max = all.clone().fold(f32::NEG_INFINITY, f32::max);
        let min = all.fold(f32::INFINITY, f32::min).min(0.0);
        let span = if max > min { max - min } else { 1.0 };
        for (i, row) in self.values.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let t = ((v - min) / span).clamp(0.0, 1.0);
                let mix = |from: f32, to: f32| (from + (to - from) * t).round() as u8;
                let c = [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)];
                for dy in 1..CELL as i64 {
                    for dx in 1..CELL as i64 {
                        cv.set(x0 + (j * CELL) as i64 + dx, y0 + (i * CELL) as i64 + dy, c);
                    }
                }
            }
        }
        for (j, label) in self.columns.iter().enumerate() {
            let x = x0 + (j * CELL) as i64 + 5;
            if label.chars().count() == 1 {
                cv.text(x, y0 - 12, label, black);
            } else {
                cv.text_up(x, y0 - 4, label, black);
            }
        }
        for (i, label) in self.rows.iter().enumerate() {
            let x = x0 - 6 - label.chars().count() as i64 * 8;
            cv.text(x, y0 + (i * CELL) as i64 + 6, label, black);
        }
        (w, h, cv.px)
    }

    /// Writes the heatmap as a PNG file, atomically (temporary file, then rename).
    pub fn save_png(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (w, h, px) = self.render();
        write_png(path.as_ref(), w, h, &px)
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

    #[test]
    fn a_chart_draws_its_lines_in_their_colors() {
        let chart = Chart::new("t", "x", "y").with_series(Series::new(
            "a",
            (0..50).map(|i| (i as f64, i as f64)).collect(),
        ));
        let (w, h, px) = chart.render();
        assert_eq!(px.len(), w * h * 3);
        let blue = px.chunks(3).filter(|c| c == &PALETTE[0]).count();
        assert!(
            blue > 500,
            "the line and its legend are drawn, got {blue} pixels"
        );
    }

    #[test]
    fn a_heatmap_is_darkest_at_its_largest_value() {
        let map = Heatmap::new(
            "t",
            vec!["a".into(), "b".into()],
            vec!["x".into(), "yy".into()],
            vec![vec![0.0, 1.0], vec![0.5, 0.0]],
        );
        let (w, _, px) = map.render();
        let label_w = 2 * 8 + 12;
        let y0 = 30 + 8 + 12;
        let at = |i: usize, j: usize| {
            let (x, y) = (label_w + j * CELL + CELL / 2, y0 + i * CELL + CELL / 2);
            let k = (y * w + x) * 3;
            [px[k], px[k + 1], px[k + 2]]
        };
        assert_eq!(at(0, 0), [255, 255, 255]);
        assert_eq!(at(0, 1), [8, 48, 107]);
        let mid = at(1, 0);
        assert!(mid[0] < 255 && mid[0] > 8, "half value drawn as {mid:?}");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(label(1234.0), "1234");
        assert_eq!(label(1.5), "1.50");
        assert_eq!(label(0.25), "0.250");
        assert_eq!(label(1e-6), "1.0e-6");
    }
}

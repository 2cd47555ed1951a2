//! Heatmaps: [`Heatmap`], such as attention weights.

use crate::canvas::{text_size, write_png, Canvas};
use crate::style;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::io;
use std::path::Path;

/// The heatmap's largest value: white (the smallest) to this dark blue.
pub(crate) const DARK_BLUE: [u8; 3] = [8, 48, 107];

/// A heatmap of a matrix with one text label per row and per column, such as an attention
/// matrix (rows: output tokens, columns: input tokens). Values are drawn from white (the
/// smallest, or 0 if all are non-negative) to dark blue (the largest), with a color bar;
/// non-finite values are grey.
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
const CELL: i32 = 22;
/// Space around the heatmap's parts.
const PAD: i32 = 12;
/// The color bar's width.
const BAR: i32 = 14;
/// Label font sizes: title, row and column labels, color bar.
const TITLE_SIZE: f64 = 17.0;
const LABEL_SIZE: f64 = 14.0;
const BAR_SIZE: f64 = 12.0;

/// Where a heatmap's parts go, in pixels.
struct HeatmapLayout {
    width: i32,
    height: i32,
    /// The grid's top left corner.
    grid: (i32, i32),
    /// Whether column labels are rotated a quarter turn (any longer than one character).
    rotated: bool,
}

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

    /// The color scale: `(min, max)` of the finite values, `min` at most 0.
    fn scale(&self) -> (f32, f32) {
        let finite = self
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let max = finite.clone().fold(f32::NEG_INFINITY, f32::max);
        let min = finite.fold(f32::INFINITY, f32::min).min(0.0);
        if max > min {
            (min, max)
        } else {
            (min, min + 1.0)
        }
    }

    fn color(v: f32, (min, max): (f32, f32)) -> RGBColor {
        if !v.is_finite() {
            return RGBColor(190, 190, 190);
        }
        let t = ((v - min) / (max - min)).clamp(0.0, 1.0);
        let mix = |to: u8| (255.0 + (to as f32 - 255.0) * t).round() as u8;
        RGBColor(mix(DARK_BLUE[0]), mix(DARK_BLUE[1]), mix(DARK_BLUE[2]))
    }

    fn layout(&self) -> HeatmapLayout {
        let size = text_size;
        let widest = |labels: &[String]| {
            labels
                .iter()
                .map(|l| size(l, LABEL_SIZE).0 as i32)
                .max()
                .unwrap_or(0)
        };
        let rotated = self.columns.iter().any(|c| c.chars().count() > 1);
        let col_h = if rotated {
            widest(&self.columns)
        } else {
            LABEL_SIZE as i32
        };
        let row_w = widest(&self.rows);
        let (title_w, title_h) = size(&self.title, TITLE_SIZE);
        let (min, max) = self.scale();
        let bar_w = [min, max]
            .iter()
            .map(|&v| size(&format!("{v:.2}"), BAR_SIZE).0 as i32)
            .max()
            .unwrap_or(0);
        let grid = (PAD + row_w + 8, PAD + title_h as i32 + PAD + col_h + 8);
        let grid_w = self.columns.len() as i32 * CELL;
        let grid_h = self.rows.len() as i32 * CELL;
        let width = (grid.0 + grid_w + PAD + BAR + 6 + bar_w + PAD).max(title_w as i32 + 2 * PAD);
        let height = grid.1 + grid_h.max(3 * CELL) + PAD;
        HeatmapLayout {
            width,
            height,
            grid,
            rotated,
        }
    }

    /// Draws the heatmap: `(width, height, RGB8 pixels)`.
    pub fn render(&self) -> (usize, usize, Vec<u8>) {
        let layout = self.layout();
        let (w, h) = (layout.width as usize, layout.height as usize);
        let mut px = vec![255u8; w * h * 3];
        self.draw(&layout, &mut px)
            .expect("drawing into memory with the embedded font does not fail");
        (w, h, px)
    }

    fn draw(
        &self,
        layout: &HeatmapLayout,
        px: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        let size = (layout.width as usize, layout.height as usize);
        let root = Canvas::new(px, size).into_drawing_area();
        root.fill(&WHITE)?;
        let (gx, gy) = layout.grid;
        root.draw(&Text::new(
            self.title.as_str(),
            (PAD, PAD),
            style(TITLE_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        let scale = self.scale();
        for (i, row) in self.values.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let (x, y) = (gx + j as i32 * CELL, gy + i as i32 * CELL);
                root.draw(&Rectangle::new(
                    [(x + 1, y + 1), (x + CELL - 1, y + CELL - 1)],
                    Self::color(v, scale).filled(),
                ))?;
            }
        }
        let label = style(LABEL_SIZE);
        for (j, text) in self.columns.iter().enumerate() {
            let x = gx + j as i32 * CELL + CELL / 2;
            let style = if layout.rotated {
                label
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Left, VPos::Center))
            } else {
                label.pos(Pos::new(HPos::Center, VPos::Bottom))
            };
            root.draw(&Text::new(text.as_str(), (x, gy - 6), style))?;
        }
        for (i, text) in self.rows.iter().enumerate() {
            let y = gy + i as i32 * CELL + CELL / 2;
            let style = label.pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(text.as_str(), (gx - 6, y), style))?;
        }
        // The color bar, as tall as the grid (at least 3 cells), largest value on top.
        let bx = gx + self.columns.len() as i32 * CELL + PAD;
        let bar_h = (self.rows.len() as i32 * CELL).max(3 * CELL);
        for k in 0..bar_h {
            let t = 1.0 - k as f32 / (bar_h - 1).max(1) as f32;
            let v = scale.0 + (scale.1 - scale.0) * t;
            root.draw(&PathElement::new(
                vec![(bx, gy + k), (bx + BAR, gy + k)],
                Self::color(v, scale),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx, gy), (bx + BAR, gy + bar_h)],
            RGBColor(150, 150, 150),
        ))?;
        let small = style(BAR_SIZE);
        for (v, y, vpos) in [
            (scale.1, gy, VPos::Top),
            (scale.0, gy + bar_h, VPos::Bottom),
        ] {
            let style = small.pos(Pos::new(HPos::Left, vpos));
            root.draw(&Text::new(format!("{v:.2}"), (bx + BAR + 6, y), style))?;
        }
        root.present()?;
        Ok(())
    }

    /// Writes the heatmap as a PNG file, atomically (temporary file, then rename).
    pub fn save_png(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (w, h, px) = self.render();
        write_png(path.as_ref(), w, h, &px)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{count, decode, scratch};

    #[test]
    fn a_heatmap_is_written_and_darkest_at_its_largest_value() {
        let map = Heatmap::new(
            "t",
            vec!["a".into(), "b".into()],
            vec!["x".into(), "yy".into()],
            vec![vec![0.0, 1.0], vec![0.5, 0.0]],
        );
        let path = scratch("heatmap").join("attention.png");
        map.save_png(&path).unwrap();
        let (w, h, px) = decode(&path);
        let layout = map.layout();
        assert_eq!((w, h), (layout.width as usize, layout.height as usize));
        let at = |i: i32, j: i32| {
            let (x, y) = (
                layout.grid.0 + j * CELL + CELL / 2,
                layout.grid.1 + i * CELL + CELL / 2,
            );
            let k = (y as usize * w + x as usize) * 3;
            [px[k], px[k + 1], px[k + 2]]
        };
        assert_eq!(at(0, 0), [255, 255, 255]);
        assert_eq!(at(0, 1), DARK_BLUE);
        let mid = at(1, 0);
        assert!(mid[0] < 255 && mid[0] > 8, "half value drawn as {mid:?}");
        assert!(!layout.rotated, "one-character column labels stay upright");
    }

    #[test]
    fn long_column_labels_are_rotated_and_fit() {
        let columns: Vec<String> = ["March", "3rd", ",", "1998"].map(String::from).to_vec();
        let rows: Vec<String> = ["1998", "-", "03", "</s>"].map(String::from).to_vec();
        let values = (0..4)
            .map(|i| (0..4).map(|j| (i == j) as u8 as f32).collect())
            .collect();
        let map = Heatmap::new(
            "attention: March 3rd, 1998 -> 1998-03",
            columns,
            rows,
            values,
        );
        let layout = map.layout();
        assert!(layout.rotated);
        let (w, h, px) = map.render();
        assert!(w >= 4 * CELL as usize && h >= 4 * CELL as usize);
        assert!(count(&px, RGBColor(DARK_BLUE[0], DARK_BLUE[1], DARK_BLUE[2])) > 4 * 300);
    }

    #[test]
    #[should_panic(expected = "expected 2 values in row 1, got 1")]
    fn a_ragged_heatmap_is_refused() {
        Heatmap::new(
            "t",
            vec!["a".into(), "b".into()],
            vec!["x".into(), "y".into()],
            vec![vec![0.0, 1.0], vec![0.5]],
        );
    }
}

//! PNG line charts and heatmaps for the examples: loss curves, predictions and attention maps.
//!
//! Drawn with [`plotters`] into a memory buffer and written as PNG files atomically. Text comes
//! from an embedded DejaVu Sans (a 47 KB subset; licence in `fonts/LICENSE-DejaVu.txt`), so no
//! system fonts are needed. A [`Chart`] has a title, axis labels, round tick values, a light
//! grid and a legend in the corner its lines leave emptiest; a [`Heatmap`] has row and column
//! labels and a color bar.
//!
//! ```no_run
//! use rnn_plot::{Chart, Series};
//! let chart = Chart::new("loss", "step", "nats/char")
//!     .with_series(Series::new("train", vec![(0.0, 4.2), (100.0, 2.1)]))
//!     .with_series(Series::new("validation", vec![(0.0, 4.1), (100.0, 2.3)]));
//! chart.save_png("loss.png").unwrap();
//! ```

mod canvas;
mod chart;
mod heatmap;

pub use canvas::write_png;
pub use chart::{Chart, Series};
pub use heatmap::Heatmap;

use plotters::style::{IntoFont, TextStyle, BLACK};

/// Black text at `size` pixels. The family name is only a label: the canvas draws every text
/// in the embedded font.
fn style(size: f64) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

#[cfg(test)]
mod tests {
    use plotters::style::RGBColor;
    use std::path::{Path, PathBuf};

    /// A folder under the system temp dir for one test's files.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rnn-plot-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Reads a PNG back: `(width, height, RGB8 pixels)`.
    pub(crate) fn decode(path: &Path) -> (usize, usize, Vec<u8>) {
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let mut reader = png::Decoder::new(file).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    /// How many pixels are exactly `color`.
    pub(crate) fn count(px: &[u8], color: RGBColor) -> usize {
        px.chunks(3)
            .filter(|c| c == &[color.0, color.1, color.2])
            .count()
    }
}

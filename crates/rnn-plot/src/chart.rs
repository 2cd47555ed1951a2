//! Line charts: [`Chart`] of [`Series`].

use crate::canvas::{text_size, write_png, Canvas};
use crate::style;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::io;
use std::path::Path;

/// The line colors, in order (matplotlib's "tab10").
pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
/// Drawn points get a marker when a series has at most this many.
const MAX_MARKED: usize = 25;
/// The most tick labels per axis.
const TICKS: usize = 8;
/// Space around the chart, and below and left of the plotting area for ticks and axis labels.
const MARGIN: f64 = 16.0;
const X_LABEL_AREA: f64 = 52.0;
const Y_LABEL_AREA: f64 = 76.0;
/// The legend's font size.
const LEGEND_SIZE: f64 = 14.0;

/// One named line: `(x, y)` points drawn in order. A non-finite point breaks the line.
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

    /// The runs of finite points between non-finite ones.
    fn segments(&self) -> impl Iterator<Item = &[(f64, f64)]> {
        self.points
            .split(|p| !(p.0.is_finite() && p.1.is_finite()))
            .filter(|s| !s.is_empty())
    }
}

/// A line chart of one or more [`Series`].
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    y_range: Option<(f64, f64)>,
    width: usize,
    height: usize,
}

impl Chart {
    /// An empty 800x500 chart.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
            width: 800,
            height: 500,
        }
    }

    /// Adds a line.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Fixes the y axis to `lo..hi` (such as `0..100` for a percentage) instead of the data's
    /// range plus 5% on each side.
    ///
    /// # Panics
    /// If `lo` and `hi` are not finite with `lo < hi`.
    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        assert!(
            lo.is_finite() && hi.is_finite() && lo < hi,
            "Chart::with_y_range: expected finite lo < hi, got {lo} and {hi}"
        );
        self.y_range = Some((lo, hi));
        self
    }

    /// Sets the image size in pixels (800x500 by default).
    ///
    /// # Panics
    /// If the size is under 200x150, too small for the axes and labels.
    pub fn with_size(mut self, width: usize, height: usize) -> Self {
        assert!(
            width >= 200 && height >= 150,
            "Chart::with_size: expected at least 200x150, got {width}x{height}"
        );
        (self.width, self.height) = (width, height);
        self
    }

    /// The x and y ranges: the data's (x exactly, y with 5% padding), or `0..1` without data.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for s in &self.series {
            for &(x, y) in s.segments().flatten() {
                (x0, x1) = (x0.min(x), x1.max(x));
                (y0, y1) = (y0.min(y), y1.max(y));
            }
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 - x0 < 1e-12 * x0.abs().max(1.0) {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        }
        if let Some(range) = self.y_range {
            return ((x0, x1), range);
        }
        if y1 - y0 < 1e-12 * y0.abs().max(1.0) {
            (y0, y1) = (y0 - 0.5, y1 + 0.5);
        }
        let pad = (y1 - y0) * 0.05;
        ((x0, x1), (y0 - pad, y1 + pad))
    }

    /// The legend's size in pixels, roughly as plotters lays it out (margins included).
    fn legend_size(&self) -> (f64, f64) {
        let names = self.series.iter().filter(|s| s.segments().next().is_some());
        let (mut w, mut n) = (0u32, 0);
        for s in names {
            w = w.max(text_size(&s.name, LEGEND_SIZE).0);
            n += 1;
        }
        (f64::from(w) + 70.0, 20.0 * n as f64 + 30.0)
    }

    /// The plotting area's size in pixels, roughly (without title, tick labels, margins).
    fn plot_size(&self) -> (f64, f64) {
        let w = self.width as f64 - 2.0 * MARGIN - Y_LABEL_AREA;
        let h = self.height as f64 - 2.0 * MARGIN - X_LABEL_AREA - 30.0;
        (w.max(1.0), h.max(1.0))
    }

    /// For each corner (upper right, upper left, lower right, lower left), how many points of
    /// the lines (their points and 8 points along each segment) fall where the legend would go.
    fn corner_hits(&self, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> [usize; 4] {
        let (lw, lh) = self.legend_size();
        let (pw, ph) = self.plot_size();
        let (bw, bh) = ((lw / pw).min(1.0), (lh / ph).min(1.0));
        let mut hits = [0usize; 4];
        for s in &self.series {
            for seg in s.segments() {
                let next = seg.iter().skip(1).chain(seg.last());
                for (&(ax, ay), &(bx, by)) in seg.iter().zip(next) {
                    for k in 0..8 {
                        let t = k as f64 / 8.0;
                        let u = (ax + (bx - ax) * t - x0) / (x1 - x0);
                        let v = (ay + (by - ay) * t - y0) / (y1 - y0);
                        let (right, left) = (u > 1.0 - bw, u < bw);
                        let (upper, lower) = (v > 1.0 - bh, v < bh);
                        hits[0] += (upper && right) as usize;
                        hits[1] += (upper && left) as usize;
                        hits[2] += (lower && right) as usize;
                        hits[3] += (lower && left) as usize;
                    }
                }
            }
        }
        hits
    }

    /// The axes' ranges and the legend's corner: the corner the lines leave emptiest, or, when
    /// all four are crowded and the y range is not fixed, the upper right with the y range
    /// raised to make room for it above the lines.
    fn plan(&self) -> ((f64, f64), (f64, f64), SeriesLabelPosition) {
        let (x, (y0, mut y1)) = self.ranges();
        let hits = self.corner_hits(x, (y0, y1));
        let mut best = (0..4).min_by_key(|&i| hits[i]).unwrap_or(0);
        if hits[best] > 0 && self.y_range.is_none() {
            let f = (self.legend_size().1 / self.plot_size().1).min(0.5);
            y1 += (y1 - y0) * f / (1.0 - f);
            best = 0;
        }
        let corner = [
            SeriesLabelPosition::UpperRight,
            SeriesLabelPosition::UpperLeft,
            SeriesLabelPosition::LowerRight,
            SeriesLabelPosition::LowerLeft,
        ];
        (x, (y0, y1), corner[best].clone())
    }

    /// Renders to RGB8 pixels, `(width, height, pixels)` with the pixels `[height, width, 3]`
    /// row-major.
    pub fn render(&self) -> (usize, usize, Vec<u8>) {
        let (w, h) = (self.width, self.height);
        let mut px = vec![255u8; w * h * 3];
        self.draw(&mut px)
            .expect("drawing into memory with the embedded font does not fail");
        (w, h, px)
    }

    fn draw(&self, px: &mut [u8]) -> Result<(), Box<dyn std::error::Error + '_>> {
        let ((x0, x1), (y0, y1), corner) = self.plan();
        let x_fmt = tick_formatter(x0, x1, TICKS);
        let y_fmt = tick_formatter(y0, y1, TICKS);
        let root = Canvas::new(px, (self.width, self.height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, style(22.0))
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(TICKS)
            .y_labels(TICKS)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(style(14.0))
            .axis_desc_style(style(16.0))
            .bold_line_style(RGBColor(222, 222, 222))
            .light_line_style(RGBColor(242, 242, 242))
            .max_light_lines(4)
            .axis_style(RGBColor(90, 90, 90))
            .draw()?;
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let line = color.stroke_width(2);
            let marked = s.segments().map(<[_]>::len).sum::<usize>() <= MAX_MARKED;
            let mut labelled = false;
            for seg in s.segments() {
                let drawn = chart.draw_series(LineSeries::new(seg.iter().copied(), line))?;
                if !labelled {
                    drawn.label(s.name.as_str()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                    });
                    labelled = true;
                }
                if marked {
                    chart.draw_series(seg.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
                }
            }
        }
        if self.series.iter().any(|s| s.segments().next().is_some()) {
            chart
                .configure_series_labels()
                .position(corner)
                .margin(12)
                .legend_area_size(30)
                .label_font(style(LEGEND_SIZE))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .draw()?;
        }
        root.present()?;
        Ok(())
    }

    /// Writes the chart as a PNG file, atomically (temporary file, then rename).
    pub fn save_png(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let (w, h, px) = self.render();
        write_png(path.as_ref(), w, h, &px)
    }
}

/// Tick labels for plotters' round ticks on `lo..hi` (`n` at most): every label with the same
/// number of decimals, as few as the ticks need (`0`, `50`, `100`; `0.5`, `1.0`, `1.5`), and
/// scientific notation for very large or very small magnitudes.
fn tick_formatter(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    let ticks = RangedCoordf64::from(lo..hi).key_points(n);
    let magnitude = lo.abs().max(hi.abs());
    let scientific = !(1e-4..1e6).contains(&magnitude) && magnitude != 0.0;
    let decimals = ticks
        .iter()
        .map(|&t| (0..=6).find(|&d| round_trips(t, d)).unwrap_or(6))
        .max()
        .unwrap_or(0);
    move |&v: &f64| {
        let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
        if scientific {
            format!("{v:.1e}")
        } else {
            format!("{v:.decimals$}")
        }
    }
}

/// Whether `v` printed with `d` decimals reads back as `v` (to a part in 1e9 of the value).
fn round_trips(v: f64, d: usize) -> bool {
    let back: f64 = format!("{v:.d$}").parse().unwrap_or(f64::NAN);
    (back - v).abs() <= 1e-9 * v.abs().max(1e-300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{count, decode, scratch};

    fn loss_chart() -> Chart {
        let curve = |a: f64, b: f64| {
            (0..=40)
                .map(|i| (i as f64 * 10.0, a + b / (1.0 + i as f64)))
                .collect()
        };
        Chart::new("loss", "step", "nats/char")
            .with_series(Series::new("train", curve(1.2, 3.0)))
            .with_series(Series::new("validation", curve(1.4, 2.8)))
    }

    #[test]
    fn a_chart_is_written_as_a_png_of_its_size_with_both_lines() {
        let path = scratch("chart").join("loss.png");
        loss_chart().save_png(&path).unwrap();
        let (w, h, px) = decode(&path);
        assert_eq!((w, h), (800, 500));
        assert_eq!(px.len(), w * h * 3);
        let white = count(&px, WHITE);
        assert!(
            white < w * h * 95 / 100,
            "mostly blank: {white} white pixels of {}",
            w * h
        );
        for color in &PALETTE[..2] {
            let n = count(&px, *color);
            assert!(
                n > 500,
                "each line and its legend are drawn, got {n} pixels of {color:?}"
            );
        }
        assert_eq!(count(&px, PALETTE[2]), 0, "no third series");
        assert!(!path.with_extension("png.tmp").exists());
    }

    #[test]
    fn a_chart_with_a_size_and_a_y_range_draws_at_that_size() {
        let chart = Chart::new("accuracy", "step", "exact match %")
            .with_series(Series::new(
                "greedy",
                vec![(0.0, 3.0), (100.0, 60.0), (200.0, 99.0)],
            ))
            .with_y_range(0.0, 100.0)
            .with_size(640, 400);
        assert_eq!(chart.ranges().1, (0.0, 100.0));
        let (w, h, px) = chart.render();
        assert_eq!((w, h, px.len()), (640, 400, 640 * 400 * 3));
        assert!(count(&px, PALETTE[0]) > 300);
    }

    #[test]
    fn empty_flat_and_broken_series_still_draw() {
        for chart in [
            Chart::new("empty", "x", "y"),
            Chart::new("flat", "x", "y").with_series(Series::new("one point", vec![(3.0, 2.0)])),
            Chart::new("gap", "x", "y").with_series(Series::new(
                "with a NaN",
                vec![
                    (0.0, 1.0),
                    (1.0, f64::NAN),
                    (2.0, 3.0),
                    (3.0, f64::INFINITY),
                ],
            )),
        ] {
            let (w, h, px) = chart.render();
            assert_eq!(px.len(), w * h * 3);
            assert!(count(&px, WHITE) < w * h, "{} is blank", chart.title);
        }
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner_or_above_the_lines() {
        let rising = Chart::new("t", "x", "y").with_series(Series::new(
            "a",
            (0..10).map(|i| (i as f64, i as f64)).collect(),
        ));
        assert!(matches!(
            rising.plan().2,
            SeriesLabelPosition::UpperLeft | SeriesLabelPosition::LowerRight
        ));
        assert_eq!(rising.plan().1, rising.ranges().1, "no room needed");
        assert!(matches!(
            loss_chart().plan().2,
            SeriesLabelPosition::UpperRight
        ));
        let wave: Vec<_> = (0..200)
            .map(|t| (t as f64, (t as f64 / 3.0).sin()))
            .collect();
        let sine = Chart::new("t", "x", "y").with_series(Series::new("sine", wave));
        let (_, (y0, y1), corner) = sine.plan();
        assert!(matches!(corner, SeriesLabelPosition::UpperRight));
        assert!(y0 < -1.0 && y1 > 1.3, "room above the wave: {y0}..{y1}");
    }

    #[test]
    fn tick_labels_share_their_decimals() {
        let f = tick_formatter(0.0, 400.0, 8);
        assert_eq!(
            (f(&0.0), f(&100.0), f(&350.0)),
            ("0".into(), "100".into(), "350".into())
        );
        let f = tick_formatter(1.0, 3.0, 8);
        assert_eq!((f(&1.5), f(&2.0)), ("1.5".into(), "2.0".into()));
        let f = tick_formatter(0.0, 1e-6, 8);
        assert_eq!(f(&5e-7), "5.0e-7");
        assert_eq!(tick_formatter(-1.0, 1.0, 8)(&-0.0), "0.0");
    }
}

//! Gray images: PNG files read in any color type and written, scaled, blurred and sampled.

use std::path::Path;

/// A gray image, row-major, `0` black and `1` white (or, for a coverage map, `0` paper and `1`
/// ink).
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height * width` values.
    pub pixels: Vec<f32>,
}

/// The largest side of a PNG that is read (larger images are refused, not allocated).
pub const MAX_SIDE: u32 = 1 << 14;

impl Gray {
    /// A `width x height` image of one `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Self {
            width,
            height,
            pixels: vec![value; width * height],
        }
    }

    /// The value at `(x, y)` in pixel coordinates (pixel centres at `i + 0.5`), bilinear, `0`
    /// outside the image.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let at = |x: f32, y: f32| -> f32 {
            if x < 0.0 || y < 0.0 || x >= self.width as f32 || y >= self.height as f32 {
                return 0.0;
            }
            self.pixels[y as usize * self.width + x as usize]
        };
        let top = at(x0, y0) * (1.0 - ax) + at(x0 + 1.0, y0) * ax;
        let bottom = at(x0, y0 + 1.0) * (1.0 - ax) + at(x0 + 1.0, y0 + 1.0) * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// Gaussian blur of standard deviation `sigma` pixels (separable, edges clamped).
    pub fn blurred(&self, sigma: f32) -> Self {
        let radius = (2.5 * sigma).ceil().max(1.0) as isize;
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
        let (w, h) = (self.width as isize, self.height as isize);
        let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
            let mut out = vec![0.0; src.len()];
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0;
                    for (k, weight) in kernel.iter().enumerate() {
                        let d = k as isize - radius;
                        let (sx, sy) = match horizontal {
                            true => ((x + d).clamp(0, w - 1), y),
                            false => (x, (y + d).clamp(0, h - 1)),
                        };
                        acc += weight * src[(sy * w + sx) as usize];
                    }
                    out[(y * w + x) as usize] = acc;
                }
            }
            out
        };
        let horizontal = pass(&self.pixels, true);
        Self {
            pixels: pass(&horizontal, false),
            ..*self
        }
    }

    /// Scaled to `height` rows, the width in proportion (at least 1 column, at most
    /// `max_width`), by averaging the source pixels under each target pixel (area
    /// resampling; bilinear when enlarging).
    pub fn scaled_to_height(&self, height: usize, max_width: usize) -> Self {
        let factor = height as f32 / self.height as f32;
        let width = ((self.width as f32 * factor).round() as usize).clamp(1, max_width);
        self.resized(width, height)
    }

    /// Resized to `width x height`.
    pub fn resized(&self, width: usize, height: usize) -> Self {
        let (fx, fy) = (
            self.width as f32 / width as f32,
            self.height as f32 / height as f32,
        );
        let mut out = Self::filled(width, height, 0.0);
        // Supersample each target pixel on a grid fine enough to cover the source pixels
        // under it (one sample when enlarging: bilinear).
        let (nx, ny) = (fx.ceil().max(1.0) as usize, fy.ceil().max(1.0) as usize);
        let edge = |v: f32, n: usize| v.clamp(0.5, n as f32 - 0.5);
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0.0;
                for j in 0..ny {
                    for i in 0..nx {
                        let sx = (x as f32 + (i as f32 + 0.5) / nx as f32) * fx;
                        let sy = (y as f32 + (j as f32 + 0.5) / ny as f32) * fy;
                        acc += self.sample(edge(sx, self.width), edge(sy, self.height));
                    }
                }
                out.pixels[y * width + x] = acc / (nx * ny) as f32;
            }
        }
        out
    }

    /// The pixels standardized to mean 0 and standard deviation 1 (what the model reads: the
    /// same for dark-on-light of any contrast).
    pub fn standardized(&self) -> Vec<f32> {
        let n = self.pixels.len().max(1) as f32;
        let mean = self.pixels.iter().sum::<f32>() / n;
        let var = self.pixels.iter().map(|p| (p - mean).powi(2)).sum::<f32>() / n;
        let scale = 1.0 / (var.sqrt() + 1e-3);
        self.pixels.iter().map(|p| (p - mean) * scale).collect()
    }

    /// 8-bit gray values.
    pub fn to_u8(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect()
    }

    /// Reads a PNG of any color type and bit depth (palette, gray, gray+alpha, RGB, RGBA; 1 to
    /// 16 bits), converted to luminance with any alpha composited on white.
    ///
    /// # Errors
    /// A message naming `path`: it cannot be read, is not a PNG, is empty, or is larger than
    /// [`MAX_SIDE`] on a side.
    pub fn load_png(path: &Path) -> Result<Self, String> {
        let name = path.display();
        let bytes = rnn_io::atomic::read_regular(path).map_err(|e| format!("{name}: {e}"))?;
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("{name}: not a readable PNG ({e})"))?;
        let (w, h) = (reader.info().width, reader.info().height);
        if w == 0 || h == 0 {
            return Err(format!("{name}: the image is empty ({w}x{h})"));
        }
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(format!(
                "{name}: {w}x{h} is larger than {MAX_SIDE} pixels on a side"
            ));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| format!("{name}: the image is too large"))?;
        let mut buf = vec![0; size];
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| format!("{name}: not a readable PNG ({e})"))?;
        let channels = info.color_type.samples();
        let (w, h) = (info.width as usize, info.height as usize);
        let luma = |px: &[u8]| -> f32 {
            let v = |i: usize| px[i] as f32 / 255.0;
            let (gray, alpha) = match channels {
                1 => (v(0), 1.0),
                2 => (v(0), v(1)),
                3 => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), 1.0),
                _ => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), v(3)),
            };
            gray * alpha + (1.0 - alpha)
        };
        let row = info.line_size;
        let pixels = (0..h)
            .flat_map(|y| {
                let line = &buf[y * row..y * row + w * channels];
                line.chunks(channels).map(luma).collect::<Vec<_>>()
            })
            .collect();
        Ok(Self {
            width: w,
            height: h,
            pixels,
        })
    }

    /// Writes an 8-bit gray PNG.
    ///
    /// # Errors
    /// The I/O or encoding error.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut enc = png::Encoder::new(file, self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&self.to_u8())
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("crnn-image-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: &Path, w: u32, h: u32, color: png::ColorType, data: &[u8]) {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = png::Encoder::new(file, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(data).unwrap();
    }

    #[test]
    fn gray_rgb_and_rgba_pngs_read_as_the_same_luminance() {
        let dir = scratch("colors");
        // Two pixels: black, white.
        write(
            &dir.join("g.png"),
            2,
            1,
            png::ColorType::Grayscale,
            &[0, 255],
        );
        let rgb = [0, 0, 0, 255, 255, 255];
        write(&dir.join("rgb.png"), 2, 1, png::ColorType::Rgb, &rgb);
        // Black opaque, then black fully transparent (white once composited).
        let rgba = [0, 0, 0, 255, 0, 0, 0, 0];
        write(&dir.join("rgba.png"), 2, 1, png::ColorType::Rgba, &rgba);
        for name in ["g.png", "rgb.png", "rgba.png"] {
            let img = Gray::load_png(&dir.join(name)).unwrap();
            assert_eq!((img.width, img.height), (2, 1), "{name}");
            assert!(
                img.pixels[0] < 1e-6 && (img.pixels[1] - 1.0).abs() < 1e-6,
                "{name}"
            );
        }
        let back = dir.join("back.png");
        Gray::load_png(&dir.join("g.png"))
            .unwrap()
            .save_png(&back)
            .unwrap();
        assert_eq!(Gray::load_png(&back).unwrap().pixels, [0.0, 1.0]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_errors_naming_them() {
        let dir = scratch("bad");
        let text = dir.join("text.png");
        std::fs::write(&text, b"not a png").unwrap();
        let missing = dir.join("missing.png");
        for path in [&text, &missing] {
            let err = Gray::load_png(path).unwrap_err();
            assert!(err.contains(&*path.to_string_lossy()), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn scaling_keeps_the_aspect_and_the_mean() {
        let mut img = Gray::filled(200, 64, 1.0);
        for x in 0..100 {
            for y in 0..64 {
                img.pixels[y * 200 + x] = 0.0;
            }
        }
        let small = img.scaled_to_height(32, 1000);
        assert_eq!((small.width, small.height), (100, 32));
        let mean = small.pixels.iter().sum::<f32>() / small.pixels.len() as f32;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_eq!(img.scaled_to_height(32, 40).width, 40);
        let z = Gray::filled(3, 3, 0.2).standardized();
        assert!(z.iter().all(|v| v.abs() < 1e-3), "{z:?}");
    }
}

//! `gradc run --plot`: the loss curve (training and validation), and for a model with two
//! parameters the optimizer's path over filled loss contours, as the lecture notes draw them.
//!
//! SVG or PNG by the file's extension. Text is set in DejaVu Sans, shipped in `assets/` (its
//! licence is beside it) so that plotting needs no system fonts.

use gradc_graph::print::format_short;
use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use std::path::Path;
use std::sync::Once;

/// The picture formats, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// The format a file name asks for; anything but `.svg` and `.png` is an error, found
    /// before a run starts.
    pub fn of(file: &Path) -> Result<PlotFormat, PlotError> {
        let extension = file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(PlotError::Extension(file.display().to_string())),
        }
    }
}

/// What to draw.
pub struct Plot<'a> {
    /// `(step, loss)` on the training data.
    pub history: &'a [(usize, f64)],
    /// `(step, loss)` on the validation rows, with `--validate`.
    pub validation: Option<&'a [(usize, f64)]>,
    /// For a model with two parameters.
    pub path: Option<Path2<'a>>,
}

/// The optimizer's path through a two-parameter model.
pub struct Path2<'a> {
    pub names: [String; 2],
    pub points: &'a [[f64; 2]],
    /// The loss at a point (non-finite values are left blank).
    pub loss: &'a dyn Fn(f64, f64) -> f64,
    /// The data rows one evaluation of `loss` passes over (0 without data): the contour grid
    /// is coarser for large data, so that drawing never costs more than a few hundred million
    /// row evaluations.
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot plot to {0}: the file name must end in .svg or .png")]
    Extension(String),
    #[error("cannot draw the plot: {0}")]
    Draw(String),
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails on a malformed font, which the test suite would catch.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The picture's size in pixels.
fn size(plot: &Plot) -> (u32, u32) {
    if plot.path.is_some() {
        (1200, 500)
    } else {
        (800, 500)
    }
}

/// Draws the plot as the bytes of an SVG or PNG file.
pub fn render(format: PlotFormat, plot: &Plot) -> Result<Vec<u8>, PlotError> {
    register_font();
    let size = size(plot);
    match format {
        PlotFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                draw_on(&root, plot).map_err(PlotError::Draw)?;
                root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
            }
            Ok(text.into_bytes())
        }
        PlotFormat::Png => {
            let (width, height) = size;
            let mut pixels = vec![0u8; (width * height * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                draw_on(&root, plot).map_err(PlotError::Draw)?;
                root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
            }
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(&pixels, width, height, image::ColorType::Rgb8)
                .map_err(|e| PlotError::Draw(e.to_string()))?;
            Ok(png)
        }
    }
}

fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, plot: &Plot) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match &plot.path {
        Some(path) => {
            let (left, right) = root.split_horizontally(600);
            loss_curve(&left, plot)?;
            contours(&right, path)
        }
        None => loss_curve(root, plot),
    }
}

/// The loss against the step; a log scale when the finite positive losses span more than two
/// decades.
fn loss_curve<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &Plot,
) -> Result<(), String> {
    let all = plot
        .history
        .iter()
        .chain(plot.validation.unwrap_or(&[]))
        .filter(|(_, l)| l.is_finite());
    let (mut low, mut high, mut last) = (f64::INFINITY, f64::NEG_INFINITY, 1usize);
    for (step, loss) in all {
        low = low.min(*loss);
        high = high.max(*loss);
        last = last.max(*step);
    }
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    let log_scale = low > 0.0 && high / low > 100.0;
    let series = |points: &[(usize, f64)]| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|(_, l)| l.is_finite() && (!log_scale || *l > 0.0))
            .map(|(s, l)| (*s as f64, *l))
            .collect()
    };
    let train = series(plot.history);
    let validation = plot.validation.map(series);
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let pad = ((high - low) * 0.05).max(1e-12);
    let (y_low, y_high) = if log_scale {
        (low * 0.8, high * 1.25)
    } else {
        (low - pad, high + pad)
    };
    let y_label = |v: &f64| {
        if log_scale {
            format!("{v:.0e}")
        } else {
            axis_label(*v, y_high - y_low)
        }
    };
    // Wide enough for the longest label (large or negative losses), at about 9 pixels a
    // character of the 15-pixel font.
    let label_chars = [y_low, y_high, (y_low + y_high) / 2.0, low, high]
        .iter()
        .map(|v| y_label(v).chars().count())
        .max()
        .unwrap_or(6);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption("loss", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size((label_chars * 9 + 20) as u32);
    let x_range = 0f64..(last as f64).max(1.0);
    // Steps are whole numbers.
    let x_label = |v: &f64| format!("{}", v.round() as i64);
    if log_scale {
        let mut chart = builder
            .build_cartesian_2d(x_range, (y_low..y_high).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .draw()
            .map_err(e)?;
        curves(&mut chart, train, validation)?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(x_range, y_low..y_high)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .draw()
            .map_err(e)?;
        curves(&mut chart, train, validation)?;
    }
    Ok(())
}

/// A tick label on an axis spanning `range`: a tick that rounding left a hair off zero
/// (`-5.55e-17`) reads `0`.
fn axis_label(value: f64, range: f64) -> String {
    if value.abs() < 1e-9 * range.abs() {
        "0".to_string()
    } else {
        format_short(value)
    }
}

/// The training (and validation) curves with their legend, on either y scale.
fn curves<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    train: Vec<(f64, f64)>,
    validation: Option<Vec<(f64, f64)>>,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    chart
        .draw_series(LineSeries::new(train, &BLUE))
        .map_err(e)?
        .label("training")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    if let Some(v) = validation {
        chart
            .draw_series(LineSeries::new(v, &RED))
            .map_err(e)?
            .label("validation")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(e)
}

/// Filled contours of the loss (bands of equal area) with the optimizer's path on top.
///
/// The loss is evaluated on a grid of at most 160 × 160 points (fewer when every evaluation
/// passes over many data rows) and interpolated bilinearly onto a 400 × 400 grid of cells for
/// drawing, so that the bands' edges are smooth; runs of cells of one band in a grid row are
/// drawn as one rectangle.
fn contours<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, path: &Path2) -> Result<(), String> {
    const BANDS: f64 = 14.0;
    const DRAWN: usize = 400;
    // About 2·10⁸ row evaluations at most.
    const ROW_BUDGET: f64 = 2e8;
    let samples = (ROW_BUDGET / path.rows.max(1) as f64)
        .sqrt()
        .clamp(24.0, 160.0) as usize;
    let finite: Vec<[f64; 2]> = path
        .points
        .iter()
        .copied()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    let bound = |i: usize| {
        let (lo, hi) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p[i]), b.max(p[i]))
            });
        if !lo.is_finite() {
            return (-1.0, 1.0);
        }
        let pad = ((hi - lo) * 0.25).max(0.5);
        (lo - pad, hi + pad)
    };
    let (x0, x1) = bound(0);
    let (y0, y1) = bound(1);
    // Samples at the grid's corners: sample (i, j) is at x0 + i·(x1 − x0)/(samples − 1).
    let at = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (samples - 1) as f64;
    let mut values = vec![f64::NAN; samples * samples];
    for j in 0..samples {
        for i in 0..samples {
            values[j * samples + i] = (path.loss)(at(x0, x1, i), at(y0, y1, j));
        }
    }
    // Bands of equal area: a value's band is its rank among the grid's values, so the picture
    // shows structure near the minimum and far from it alike.
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let band_of = |v: f64| {
        let rank = sorted.partition_point(|s| *s < v) as f64 / sorted.len().max(1) as f64;
        (rank * BANDS).floor() / BANDS
    };
    // Bilinear interpolation between the four samples around a drawn cell's centre; NaN where
    // any of them is not finite.
    let interpolated = |u: f64, v: f64| {
        let (fu, fv) = (u * (samples - 1) as f64, v * (samples - 1) as f64);
        let (i, j) = (
            (fu.floor() as usize).min(samples - 2),
            (fv.floor() as usize).min(samples - 2),
        );
        let (a, b) = (fu - i as f64, fv - j as f64);
        let value = |i: usize, j: usize| values[j * samples + i];
        (1.0 - a) * (1.0 - b) * value(i, j)
            + a * (1.0 - b) * value(i + 1, j)
            + (1.0 - a) * b * value(i, j + 1)
            + a * b * value(i + 1, j + 1)
    };
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption("path on the loss contours", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(path.names[0].as_str())
        .y_desc(path.names[1].as_str())
        .x_label_formatter(&|v| axis_label(*v, x1 - x0))
        .y_label_formatter(&|v| axis_label(*v, y1 - y0))
        .draw()
        .map_err(e)?;
    let (dx, dy) = ((x1 - x0) / DRAWN as f64, (y1 - y0) / DRAWN as f64);
    let mut cells = Vec::new();
    for j in 0..DRAWN {
        let v = (j as f64 + 0.5) / DRAWN as f64;
        let mut run: Option<(usize, f64)> = None;
        for i in 0..=DRAWN {
            let band = (i < DRAWN)
                .then(|| interpolated((i as f64 + 0.5) / DRAWN as f64, v))
                .filter(|value| value.is_finite())
                .map(band_of);
            match (run, band) {
                (Some((_, current)), Some(b)) if b == current => {}
                _ => {
                    if let Some((first, current)) = run {
                        let color = ViridisRGB::get_color(current.clamp(0.0, 1.0));
                        let (xa, xb) = (x0 + first as f64 * dx, x0 + i as f64 * dx);
                        let y = y0 + j as f64 * dy;
                        cells.push(Rectangle::new([(xa, y), (xb, y + dy)], color.filled()));
                    }
                    run = band.map(|b| (i, b));
                }
            }
        }
    }
    chart.draw_series(cells).map_err(e)?;
    let points: Vec<(f64, f64)> = finite.iter().map(|p| (p[0], p[1])).collect();
    chart
        .draw_series(LineSeries::new(points.clone(), RED.stroke_width(2)))
        .map_err(e)?;
    chart
        .draw_series(
            points
                .iter()
                .step_by(points.len().div_ceil(40).max(1))
                .map(|p| Circle::new(*p, 3, RED.filled())),
        )
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> Vec<(usize, f64)> {
        (0..50)
            .map(|k| (k, 100.0 * 0.8f64.powi(k as i32)))
            .collect()
    }

    #[test]
    fn svg_and_png_are_rendered() {
        let h = history();
        let v: Vec<(usize, f64)> = h.iter().map(|(s, l)| (*s, l * 1.1)).collect();
        let points: Vec<[f64; 2]> = (0..20).map(|k| [1.0 / (k + 1) as f64, 0.5]).collect();
        let loss = |x: f64, y: f64| x * x + 10.0 * y * y;
        let plot = Plot {
            history: &h,
            validation: Some(&v),
            path: Some(Path2 {
                names: ["x".into(), "y".into()],
                points: &points,
                loss: &loss,
                rows: 0,
            }),
        };
        let svg = String::from_utf8(render(PlotFormat::Svg, &plot).unwrap()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert!(svg.contains("validation") && svg.contains("training"));
        let png = render(PlotFormat::Png, &plot).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 10_000, "{} bytes", png.len());
    }

    #[test]
    fn step_labels_are_whole_numbers_and_large_losses_fit() {
        let h: Vec<(usize, f64)> = (0..=1000).map(|k| (k, -1e9 - k as f64 * 1e6)).collect();
        let plot = Plot {
            history: &h,
            validation: None,
            path: None,
        };
        let svg = String::from_utf8(render(PlotFormat::Svg, &plot).unwrap()).unwrap();
        let labels = texts(&svg);
        assert!(labels.contains(&"500"), "{labels:?}");
        assert!(!labels.iter().any(|l| l.ends_with(".0")), "{labels:?}");
        // The loss labels are short numbers (8 significant digits at most).
        let losses: Vec<&&str> = labels.iter().filter(|l| l.ends_with("e+09")).collect();
        assert!(losses.len() >= 3, "{labels:?}");
        assert!(losses.iter().all(|l| l.len() <= 14), "{losses:?}");
    }

    /// The texts of an SVG file's `<text>` elements.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')
                    .and_then(|(_, rest)| rest.split_once("</text>"))
            })
            .map(|(inner, _)| inner.trim())
            .collect()
    }

    #[test]
    fn an_unknown_extension_is_an_error() {
        let error = PlotFormat::of(Path::new("loss.jpg")).unwrap_err();
        assert!(error.to_string().contains(".svg or .png"), "{error}");
        assert_eq!(PlotFormat::of(Path::new("a.PNG")).unwrap(), PlotFormat::Png);
    }
}

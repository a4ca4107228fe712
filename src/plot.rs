//! `gradc run --plot`: the loss curve (training and validation), and for a model with two
//! parameters the optimizer's path over filled loss contours, as the lecture notes draw them.
//!
//! SVG or PNG by the file's extension. Text is set in DejaVu Sans, shipped in `assets/` (its
//! licence is beside it) so that plotting needs no system fonts.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use std::path::Path;
use std::sync::Once;

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
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot plot to {0}: the file name must end in .svg or .png")]
    Extension(String),
    #[error("cannot plot to {path}: {message}")]
    Draw { path: String, message: String },
}

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails on a malformed font, which the test suite would catch.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws the plot into `file` (`.svg` or `.png`).
pub fn draw(file: &Path, plot: &Plot) -> Result<(), PlotError> {
    register_font();
    let name = file.display().to_string();
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let size = if plot.path.is_some() {
        (1200, 500)
    } else {
        (800, 500)
    };
    let failed = |e: String| PlotError::Draw {
        path: name.clone(),
        message: e,
    };
    match extension.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(file, size).into_drawing_area();
            draw_on(&root, plot).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(file, size).into_drawing_area();
            draw_on(&root, plot).map_err(failed)?;
            root.present().map_err(|e| failed(e.to_string()))
        }
        _ => Err(PlotError::Extension(name)),
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
    let mut builder = ChartBuilder::on(area);
    builder
        .caption("loss", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let x_range = 0f64..(last as f64).max(1.0);
    if log_scale {
        let mut chart = builder
            .build_cartesian_2d(x_range, (low * 0.8..high * 1.25).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(e)?;
        curves(&mut chart, train, validation)?;
    } else {
        let pad = ((high - low) * 0.05).max(1e-12);
        let mut chart = builder
            .build_cartesian_2d(x_range, (low - pad)..(high + pad))
            .map_err(e)?;
        chart.configure_mesh().x_desc("step").draw().map_err(e)?;
        curves(&mut chart, train, validation)?;
    }
    Ok(())
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

/// Filled contours of the loss (bands of equal log-loss) with the optimizer's path on top.
fn contours<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, path: &Path2) -> Result<(), String> {
    const GRID: usize = 120;
    const BANDS: f64 = 14.0;
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
    let dx = (x1 - x0) / GRID as f64;
    let dy = (y1 - y0) / GRID as f64;
    let mut values = vec![f64::NAN; GRID * GRID];
    for j in 0..GRID {
        for i in 0..GRID {
            let x = x0 + (i as f64 + 0.5) * dx;
            let y = y0 + (j as f64 + 0.5) * dy;
            values[j * GRID + i] = (path.loss)(x, y);
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
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption("path on the loss contours", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(path.names[0].as_str())
        .y_desc(path.names[1].as_str())
        .draw()
        .map_err(e)?;
    chart
        .draw_series((0..GRID * GRID).filter_map(|k| {
            let v = values[k];
            if !v.is_finite() {
                return None;
            }
            let color = ViridisRGB::get_color(band_of(v).clamp(0.0, 1.0));
            let (i, j) = (k % GRID, k / GRID);
            let x = x0 + i as f64 * dx;
            let y = y0 + j as f64 * dy;
            Some(Rectangle::new([(x, y), (x + dx, y + dy)], color.filled()))
        }))
        .map_err(e)?;
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
    fn svg_and_png_are_written() {
        let dir = std::env::temp_dir().join(format!("gradc-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h = history();
        let v: Vec<(usize, f64)> = h.iter().map(|(s, l)| (*s, l * 1.1)).collect();
        let points: Vec<[f64; 2]> = (0..20).map(|k| [1.0 / (k + 1) as f64, 0.5]).collect();
        let loss = |x: f64, y: f64| x * x + 10.0 * y * y;
        for name in ["loss.svg", "loss.png"] {
            let file = dir.join(name);
            let plot = Plot {
                history: &h,
                validation: Some(&v),
                path: Some(Path2 {
                    names: ["x".into(), "y".into()],
                    points: &points,
                    loss: &loss,
                }),
            };
            draw(&file, &plot).unwrap();
            let bytes = std::fs::read(&file).unwrap();
            assert!(bytes.len() > 1000, "{name}: {} bytes", bytes.len());
        }
        let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
        assert!(svg.contains("validation") && svg.contains("training"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unknown_extension_is_an_error() {
        let h = history();
        let plot = Plot {
            history: &h,
            validation: None,
            path: None,
        };
        let error = draw(Path::new("loss.jpg"), &plot).unwrap_err();
        assert!(error.to_string().contains(".svg or .png"), "{error}");
    }
}

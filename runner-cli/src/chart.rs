//! The SVG chart of `runner bench --chart`: every program's time per mode on a logarithmic axis,
//! one column of points per mode with its median marked, since people would rather look than read.

use std::path::Path;

use plotters::prelude::*;

/// Writes the chart of `series` (mode name, per-program seconds) to `path`.
pub fn write(path: &Path, series: &[(String, Vec<f64>)]) -> Result<(), String> {
    let all = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| *v > 0.0);
    let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return Err("no program times to chart".into());
    }
    let (lo, hi) = (lo / 2.0, hi * 2.0);
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = series.len();
    let mut chart = ChartBuilder::on(&root)
        .caption("time per program, by mode (log scale)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                series[i as usize].0.clone()
            } else {
                String::new()
            }
        })
        .y_desc("seconds")
        .y_label_formatter(&|y| crate::text::human_time(*y))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = match name.as_str() {
            "subprocess" => RGBColor(200, 60, 60),
            "fork" => RGBColor(50, 100, 200),
            "warm" => RGBColor(30, 150, 70),
            _ => RGBColor(120, 120, 120),
        };
        let count = values.len().max(1) as f64;
        // Spread the points across the column in rank order, so density shows.
        chart
            .draw_series(values.iter().enumerate().filter(|(_, v)| **v > 0.0).map(|(k, v)| {
                let x = i as f64 - 0.3 + 0.6 * (k as f64 + 0.5) / count;
                Circle::new((x, *v), 2, color.filled())
            }))
            .map_err(|e| e.to_string())?;
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
        sorted.sort_by(f64::total_cmp);
        if let Some(m) = sorted.get(sorted.len() / 2) {
            chart
                .draw_series(LineSeries::new(
                    [(i as f64 - 0.4, *m), (i as f64 + 0.4, *m)],
                    BLACK.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

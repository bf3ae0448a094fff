//! D2S Figure 2: R@1 against FLOPs per variant (2a) and per-query top-10 overlap with the
//! dense backbone (2b), as SVG.

use std::{fmt::Write as _, path::Path};

use anyhow::Context;

use super::*;
use crate::pipelines::d2s::DenseNumbers;
/// Variant colours of the figures (exp=0, exp=1, exp=c, exp=c+w, others).
fn variant_colour(v: &str) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match v {
        "exp=0" => RGBColor(0x1b, 0x9e, 0x77),
        "exp=1" => RGBColor(0xd9, 0x5f, 0x02),
        "exp=c" => RGBColor(0x75, 0x70, 0xb3),
        "exp=c+w" => RGBColor(0xe7, 0x29, 0x8a),
        _ => RGBColor(0x66, 0x66, 0x66),
    }
}

/// The overlap histograms from the per-query file `pq`.
pub fn write_fig2(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
    dense: &BTreeMap<String, DenseNumbers>,
    pq: &PerQueryFile,
) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = format!(
        "# Figure 2 (D2S): efficiency against effectiveness, and agreement with dense\n\n\
         Made by `mmlsr reproduce fig2` from `{}`. Per data folder: `fig2a-<folder>.svg` (test \
         R@1 against FLOPs, log scale, one point per η and variant; the dashed line is the \
         dense backbone) and `fig2b-<folder>.svg` (share of test captions by how many of the \
         dense top-10 images the sparse top-10 shares; η = {:e}).\n\n\
         | data | exp | η | R@1 | FLOPs | mean top-10 overlap with dense |\n|---|---|---|---:|---:|---:|\n",
        config_path.display(),
        exp.grid.eta[0]
    );
    let mut csv = String::from("dataset,variant,eta,r1,flops,overlap_mean");
    for i in 0..=10 {
        let _ = write!(csv, ",share_overlap_{i}");
    }
    csv.push('\n');
    let mut json_cells = Vec::new();
    let io = |e: &dyn std::fmt::Display| anyhow::anyhow!("drawing: {e}");
    for name in &exp.grid.datasets {
        let cells: Vec<&GridCell> = records.iter().filter(|r| &r.dataset == name).collect();
        // Histograms and table rows, from each cell's per-query overlap with the dense run.
        let mut hist_of: Vec<(String, f64, [f64; 11])> = Vec::new();
        for r in &cells {
            let (_, ov) = pq.values(&Slot::d2s(&r.dataset, &r.variant, r.eta), OVERLAP)?;
            let mut hist = [0.0f64; 11];
            for o in &ov {
                anyhow::ensure!(
                    (0.0..=1.0).contains(o),
                    "{}: {OVERLAP} of {name} {} η={:e} is {o}, expected a share in [0, 1]",
                    pq.path().display(),
                    r.variant,
                    r.eta
                );
                hist[(o * 10.0).round() as usize] += 1.0;
            }
            let n = ov.len().max(1) as f64;
            hist.iter_mut().for_each(|h| *h /= n);
            let mean = ov.iter().sum::<f64>() / n * 10.0;
            let (r1, flops) = (r.metrics.sparse.r1, r.metrics.sparse.flops);
            let _ = writeln!(
                md,
                "| {name} | {} | {:e} | {r1:.2} | {flops:.2} | {mean:.2} |",
                r.variant, r.eta
            );
            let _ = write!(csv, "{name},{},{:e},{r1},{flops},{mean}", r.variant, r.eta);
            for h in hist {
                let _ = write!(csv, ",{h}");
            }
            csv.push('\n');
            json_cells.push(serde_json::json!({
                "dataset": name, "variant": r.variant, "eta": r.eta, "r1": r1, "flops": flops,
                "overlap_mean": mean, "overlap_histogram": hist,
            }));
            if r.eta == exp.grid.eta[0] {
                hist_of.push((r.variant.clone(), mean, hist));
            }
        }
        // 2a: R@1 against FLOPs.
        let pts: Vec<(String, f64, f64)> = cells
            .iter()
            .map(|r| {
                let s = &r.metrics.sparse;
                (r.variant.clone(), s.flops.max(1e-3), s.r1)
            })
            .filter(|p| p.1.is_finite() && p.2.is_finite())
            .collect();
        let dense_r1 = dense.get(name).map(|d| d.r1);
        let (xmin, xmax) = pts
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let (xmin, xmax) = if pts.is_empty() {
            (0.1, 1000.0)
        } else {
            (xmin / 2.0, xmax * 2.0)
        };
        let ymax = pts
            .iter()
            .map(|p| p.2)
            .chain(dense_r1)
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let path = out.join(format!("fig2a-{name}.svg"));
        {
            let root = SVGBackend::new(&path, (720, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| io(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(format!("{name}: R@1 against FLOPs"), ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..ymax)
                .map_err(|e| io(&e))?;
            chart
                .configure_mesh()
                .x_desc("FLOPs (D2S eq. 1, log scale)")
                .y_desc("test R@1 (%)")
                .draw()
                .map_err(|e| io(&e))?;
            if let Some(d) = dense_r1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(xmin, d), (xmax, d)],
                        6,
                        4,
                        BLACK.stroke_width(1),
                    ))
                    .map_err(|e| io(&e))?
                    .label(format!("dense ({d:.1})"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
            }
            for v in &exp.grid.variants {
                let c = variant_colour(v);
                let mine: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|p| &p.0 == v)
                    .map(|p| (p.1, p.2))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                chart
                    .draw_series(
                        mine.iter()
                            .map(|&(x, y)| Circle::new((x, y), 5, c.filled())),
                    )
                    .map_err(|e| io(&e))?
                    .label(v.clone())
                    .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| io(&e))?;
            root.present().map_err(|e| io(&e))?;
        }
        // 2b: overlap histograms, one line per variant.
        let path = out.join(format!("fig2b-{name}.svg"));
        {
            let root = SVGBackend::new(&path, (720, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| io(&e))?;
            let ymax = hist_of
                .iter()
                .flat_map(|h| h.2.iter().copied())
                .fold(0.0f64, f64::max)
                .max(0.01)
                * 1.1;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("{name}: top-10 overlap with dense"),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0f64..10f64, 0f64..ymax)
                .map_err(|e| io(&e))?;
            chart
                .configure_mesh()
                .x_desc("images shared with the dense top-10")
                .y_desc("share of test captions")
                .draw()
                .map_err(|e| io(&e))?;
            for (v, mean, hist) in &hist_of {
                let c = variant_colour(v);
                chart
                    .draw_series(LineSeries::new(
                        hist.iter().enumerate().map(|(i, &h)| (i as f64, h)),
                        c.stroke_width(2),
                    ))
                    .map_err(|e| io(&e))?
                    .label(format!("{v} (mean {mean:.1})"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| io(&e))?;
            root.present().map_err(|e| io(&e))?;
        }
    }
    let json = serde_json::json!({ "cells": json_cells });
    write_outputs(exp, config_path, records, "fig2", &md, &csv, &json)
}

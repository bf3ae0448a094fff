//! The scaling plot of the peer tables: ms/query against collection size for every system, as
//! SVG (plotters), from the JSON files `scripts/peers/run_peers.py` writes.
//!
//! ```sh
//! cargo run --release -p mmlsr-experiments --example peers_plot -- \
//!     results/peers/scaling-f3.svg results/peers/zipf-f3-123k.json results/peers/zipf-f3-1m.json
//! ```
//!
//! Per file and system it takes up to three points: the fastest rank-safe setting (solid line)
//! and the fastest setting that is not rank-safe with recall@10 ≥ 0.95 (long dashes) and
//! ≥ 0.99 (short dashes); one run each, one query per call on one thread. Rows without a
//! latency (the runner's `(load only)` memory floor) are left out. Tables of the same
//! collection size are merged (e.g. a rank-safe run and an approximate run of one collection):
//! each point is the fastest over all of them.

use std::collections::BTreeMap;

use plotters::prelude::*;

/// (system, class) → documents → fastest ms/query.
type Series = BTreeMap<(String, &'static str), BTreeMap<u64, f64>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: peers_plot OUT.svg TABLE.json [TABLE.json …]".into());
    }
    let mut series: Series = BTreeMap::new();
    for path in &args[1..] {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
        let docs = v["machine"]["documents"]
            .as_u64()
            .ok_or_else(|| format!("{path}: machine.documents is not a document count"))?;
        let rows = v["rows"]
            .as_array()
            .ok_or_else(|| format!("{path}: no rows"))?;
        for r in rows {
            let system = r["system"].as_str().unwrap_or("?").to_string();
            let Some(ms) = r["ms_per_query"].as_f64() else {
                continue;
            };
            let recall = r["recall@10"].as_f64().unwrap_or(0.0);
            let classes: &[&'static str] = if r["rank_safe"].as_bool() == Some(true) {
                &["rank-safe"]
            } else if recall >= 0.99 {
                &["approx ≥ 0.95", "approx ≥ 0.99"]
            } else if recall >= 0.95 {
                &["approx ≥ 0.95"]
            } else {
                &[]
            };
            for &class in classes {
                let e = series
                    .entry((system.clone(), class))
                    .or_default()
                    .entry(docs)
                    .or_insert(f64::INFINITY);
                *e = e.min(ms);
            }
        }
    }
    let series: BTreeMap<(String, &'static str), Vec<(f64, f64)>> = series
        .into_iter()
        .map(|(key, pts)| {
            let pts = pts.into_iter().map(|(d, ms)| (d as f64, ms));
            (key, pts.collect())
        })
        .collect();
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, 0f64, f64::MAX, 0f64);
    for pts in series.values() {
        for &(x, y) in pts {
            (xmin, xmax, ymin, ymax) = (xmin.min(x), xmax.max(x), ymin.min(y), ymax.max(y));
        }
    }
    if series.is_empty() {
        return Err("no rows to plot".into());
    }
    let root = SVGBackend::new(&args[0], (760, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("ms/query against collection size", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(
            (xmin / 1.5..xmax * 1.5).log_scale(),
            (ymin / 1.5..ymax * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("documents (log)")
        .y_desc("ms/query, one thread (log)")
        .draw()?;
    let colour = |system: &str| match system {
        "mmlsr" => RGBColor(0x75, 0x70, 0xb3),
        "seismic" => RGBColor(0xd9, 0x5f, 0x02),
        "bmp" => RGBColor(0x1b, 0x9e, 0x77),
        "pisa" => RGBColor(0xe7, 0x29, 0x8a),
        _ => RGBColor(0x66, 0x66, 0x66),
    };
    for ((system, class), pts) in &series {
        let c = colour(system);
        let label = format!("{system}, {class}");
        if *class == "rank-safe" {
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
        } else {
            let (dash, gap) = if *class == "approx ≥ 0.99" {
                (2, 3)
            } else {
                (6, 4)
            };
            chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().copied(),
                    dash,
                    gap,
                    c.stroke_width(2),
                ))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(1))
                });
        }
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    for ((system, class), pts) in &series {
        let cells: Vec<String> = pts
            .iter()
            .map(|(d, ms)| format!("{d:.0} docs {ms:.3} ms"))
            .collect();
        println!("{system:8} {class:14} {}", cells.join(", "));
    }
    Ok(())
}

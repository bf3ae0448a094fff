//! Evaluate a TREC run against TREC qrels: the mean of each measure, as `mmlsr evaluate`
//! prints it (R@1, R@5, R@10, MRR@10, nDCG@10 unless measures are given).
//!
//! ```text
//! cargo run -p mmlsr-metrics --example evaluate_trec -- run.trec qrels.txt R@1,MRR@10
//! ```

use mmlsr_metrics::{Measure, Run, evaluate, read_qrels};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [run, qrels, rest @ ..] = args.as_slice() else {
        return Err("usage: evaluate_trec RUN QRELS [MEASURES]".into());
    };
    let measures: Vec<Measure> = rest
        .first()
        .map_or("R@1,R@5,R@10,MRR@10,nDCG@10", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let run = Run::read_trec(run.as_ref())?;
    let qrels = read_qrels(qrels.as_ref())?;
    let evaluation = evaluate(&run, &qrels, &measures);
    println!("{} queries evaluated", evaluation.queries.len());
    for (m, v) in measures.iter().zip(evaluation.aggregate()) {
        println!("{m:>10} {v:.4}");
    }
    Ok(())
}

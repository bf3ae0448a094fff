//! Effectiveness measures, computed exactly as trec_eval (and so ir_measures through
//! pytrec_eval) computes them.
//!
//! Conventions, all trec_eval's:
//! * a document is relevant when its grade is ≥ 1; unjudged documents are not relevant;
//! * documents are ranked by score descending, ties by document id descending (string order);
//! * [`evaluate`] evaluates a query when it is both in the run and in the qrels; aggregates are
//!   means over those queries (queries without results are counted in
//!   [`Evaluation::queries_without_results`], not averaged in as zeros);
//! * [`evaluate_complete`] is `trec_eval -c`: every judged query is evaluated, those without
//!   results scoring 0 on every measure.
//!
//! With one relevant image per caption (text→image), `R@k` equals `Success@k`; with five
//! relevant captions per image (image→text) they differ, and both are reported by name.

use std::fmt;

use mmlsr_core::Qrels;

use crate::{Error, Result, Run};

/// An effectiveness measure at a cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// `R@k`: relevant documents in the top k / all relevant documents (trec_eval `recall_k`).
    Recall(usize),
    /// `Success@k`: 1 if any relevant document is in the top k (trec_eval `success_k`).
    Success(usize),
    /// `RR@k`: reciprocal rank of the first relevant document if within k, else 0 (MRR@k
    /// once averaged).
    RR(usize),
    /// `nDCG@k`: DCG with gain = grade and discount `log2(rank + 1)`, over the ideal DCG of
    /// the judged documents (trec_eval `ndcg_cut_k`).
    NDCG(usize),
    /// `P@k`: relevant documents in the top k / k (trec_eval `P_k`).
    P(usize),
}

impl Measure {
    /// The cutoff.
    pub fn cutoff(self) -> usize {
        match self {
            Measure::Recall(k)
            | Measure::Success(k)
            | Measure::RR(k)
            | Measure::NDCG(k)
            | Measure::P(k) => k,
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::Recall(k) => write!(f, "R@{k}"),
            Measure::Success(k) => write!(f, "Success@{k}"),
            Measure::RR(k) => write!(f, "RR@{k}"),
            Measure::NDCG(k) => write!(f, "nDCG@{k}"),
            Measure::P(k) => write!(f, "P@{k}"),
        }
    }
}

impl std::str::FromStr for Measure {
    type Err = Error;

    /// Parse `R@10`, `Success@1`, `RR@10` (also `MRR@10`), `nDCG@10`, `P@5`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::UnknownMeasure(s.to_string());
        let (name, k) = s.split_once('@').ok_or_else(bad)?;
        let k: usize = k.parse().map_err(|_| bad())?;
        if k == 0 {
            return Err(bad());
        }
        Ok(match name {
            "R" | "Recall" => Measure::Recall(k),
            "Success" => Measure::Success(k),
            "RR" | "MRR" => Measure::RR(k),
            "nDCG" | "NDCG" => Measure::NDCG(k),
            "P" => Measure::P(k),
            _ => return Err(bad()),
        })
    }
}

/// Per-query values of several measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The measures, in column order.
    pub measures: Vec<Measure>,
    /// Evaluated queries, in run order.
    pub queries: Vec<String>,
    /// `queries.len() × measures.len()`, row-major.
    pub values: Vec<f64>,
    /// Judged queries that have no results in the run (left out by [`evaluate`], evaluated
    /// as zeros by [`evaluate_complete`]).
    pub queries_without_results: usize,
}

impl Evaluation {
    /// Per-query values of measure `m` (column), in query order.
    pub fn column(&self, m: usize) -> Vec<f64> {
        self.values
            .chunks_exact(self.measures.len().max(1))
            .map(|row| row[m])
            .collect()
    }

    /// Per-query values of `measure`, if it was computed.
    pub fn per_query(&self, measure: Measure) -> Option<Vec<f64>> {
        self.measures
            .iter()
            .position(|&m| m == measure)
            .map(|m| self.column(m))
    }

    /// Mean of each measure over the evaluated queries (0 when there are none).
    pub fn aggregate(&self) -> Vec<f64> {
        (0..self.measures.len())
            .map(|m| {
                let col = self.column(m);
                if col.is_empty() {
                    0.0
                } else {
                    col.iter().sum::<f64>() / col.len() as f64
                }
            })
            .collect()
    }

    /// Mean of one measure.
    pub fn mean(&self, measure: Measure) -> Option<f64> {
        let m = self.measures.iter().position(|&x| x == measure)?;
        Some(self.aggregate()[m])
    }
}

/// Evaluate `run` against `qrels` on `measures`.
pub fn evaluate(run: &Run, qrels: &Qrels, measures: &[Measure]) -> Evaluation {
    let depth = measures.iter().map(|m| m.cutoff()).max().unwrap_or(0);
    let mut queries = Vec::new();
    let mut values = Vec::with_capacity(run.len() * measures.len());
    let mut judged: Vec<(u32, i32)> = Vec::new();
    let mut ideal: Vec<i32> = Vec::new();
    let mut grades: Vec<i32> = Vec::with_capacity(depth);
    for (q, list) in run.queries.iter().zip(&run.lists) {
        let Some(docs) = qrels.get(q) else { continue };
        judged.clear();
        ideal.clear();
        let mut num_rel = 0usize;
        for (doc, &grade) in docs {
            if grade >= 1 {
                num_rel += 1;
            }
            if grade > 0 {
                ideal.push(grade);
                if let Some(id) = run.docs.get(doc) {
                    judged.push((id, grade));
                }
            }
        }
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        grades.clear();
        grades.extend(
            list.iter()
                .take(depth)
                .map(|&(d, _)| judged.iter().find(|j| j.0 == d).map_or(0, |j| j.1)),
        );
        for &m in measures {
            let k = m.cutoff();
            let top = &grades[..k.min(grades.len())];
            let rel_ret = top.iter().filter(|&&g| g >= 1).count();
            let v = match m {
                Measure::Recall(_) => {
                    if num_rel == 0 {
                        0.0
                    } else {
                        rel_ret as f64 / num_rel as f64
                    }
                }
                Measure::Success(_) => (rel_ret > 0) as u8 as f64,
                Measure::RR(_) => top
                    .iter()
                    .position(|&g| g >= 1)
                    .map_or(0.0, |i| 1.0 / (i + 1) as f64),
                Measure::P(_) => rel_ret as f64 / k as f64,
                Measure::NDCG(_) => {
                    let dcg: f64 = top
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| **g > 0)
                        .map(|(i, &g)| g as f64 / ((i + 2) as f64).log2())
                        .sum();
                    let idcg: f64 = ideal
                        .iter()
                        .take(k)
                        .enumerate()
                        .map(|(i, &g)| g as f64 / ((i + 2) as f64).log2())
                        .sum();
                    if idcg > 0.0 { dcg / idcg } else { 0.0 }
                }
            };
            values.push(v);
        }
        queries.push(q.clone());
    }
    let queries_without_results = qrels
        .iter()
        .filter(|(q, _)| !run.query_index.contains_key(*q))
        .count();
    Evaluation {
        measures: measures.to_vec(),
        queries,
        values,
        queries_without_results,
    }
}

/// Evaluate `run` against `qrels` over every judged query, as `trec_eval -c` does: queries
/// of `run` in run order (those it shares with `qrels`), then the judged queries the run has
/// no results for, in query-id order, with 0 for every measure (the value of an empty
/// ranking).
pub fn evaluate_complete(run: &Run, qrels: &Qrels, measures: &[Measure]) -> Evaluation {
    let mut e = evaluate(run, qrels, measures);
    for (q, _) in qrels.iter() {
        if !run.query_index.contains_key(q) {
            e.queries.push(q.to_string());
            e.values.extend(std::iter::repeat_n(0.0, measures.len()));
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunBuilder;

    #[test]
    fn hand_computed_values() {
        let mut q = Qrels::new();
        q.insert("q1", "a", 1);
        q.insert("q1", "c", 2);
        q.insert("q1", "z", 0);
        q.insert("q2", "b", 1);
        q.insert("q3", "a", 1);
        let mut b = RunBuilder::new();
        for (d, s) in [("a", 3.0), ("b", 2.0), ("c", 1.0), ("z", 4.0)] {
            b.push("q1", d, s).unwrap();
        }
        b.push("q2", "a", 1.0).unwrap();
        let run = b.build().unwrap();
        let ms: Vec<Measure> = ["R@2", "Success@1", "RR@10", "nDCG@3", "P@2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let e = evaluate(&run, &q, &ms);
        assert_eq!(e.queries, ["q1", "q2"]);
        assert_eq!(e.queries_without_results, 1);
        // q1 ranking: z(0) a(1) b(-) c(2); c (rank 4) is beyond nDCG@3's cutoff.
        let dcg = 1.0 / 3f64.log2();
        let idcg = 2.0 + 1.0 / 3f64.log2();
        let want_q1 = [0.5, 0.0, 0.5, dcg / idcg, 0.5];
        for (got, want) in e.values[..5].iter().zip(want_q1) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(&e.values[5..], &[0.0; 5]);
        assert_eq!(e.per_query(Measure::RR(10)).unwrap(), vec![0.5, 0.0]);
        assert!("X@1".parse::<Measure>().is_err() && "R@0".parse::<Measure>().is_err());
        assert_eq!(Measure::NDCG(10).to_string(), "nDCG@10");
    }
}

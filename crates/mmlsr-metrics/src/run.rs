//! Runs: for each query, a ranked list of (document, score), ordered as trec_eval orders
//! them: score descending, ties by document id descending in string order.

use std::cmp::Ordering;

use hashbrown::HashMap;
use mmlsr_core::{Hit, Score};

use crate::{Error, Result};

/// Document ids interned to `u32`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// trec_eval's order: higher score first; equal scores by document id descending (string).
fn trec_order(docs: &Interner, a: &(u32, f64), b: &(u32, f64)) -> Ordering {
    b.1.partial_cmp(&a.1)
        .unwrap_or(Ordering::Equal)
        .then_with(|| docs.name(b.0).cmp(docs.name(a.0)))
}

/// Depths up to which [`Run::extend_from_score_matrix`] keeps a sorted short list instead of
/// partially sorting every document.
const SMALL_DEPTH: usize = 64;

/// A retrieval run: queries in insertion order, each with its documents in trec_eval order.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub(crate) docs: Interner,
    pub(crate) queries: Vec<String>,
    pub(crate) query_index: HashMap<String, usize>,
    pub(crate) lists: Vec<Vec<(u32, f64)>>,
}

/// Collects `(query, document, score)` triples; [`RunBuilder::build`] sorts each list.
#[derive(Debug, Default)]
pub struct RunBuilder {
    run: Run,
}

impl RunBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one scored document. A document listed twice for a query, or a NaN score, is an
    /// error.
    pub fn push(&mut self, query: &str, doc: &str, score: f64) -> Result<()> {
        if score.is_nan() {
            return Err(Error::NanScore {
                query: query.into(),
                doc: doc.into(),
            });
        }
        let run = &mut self.run;
        let q = match run.query_index.get(query) {
            Some(&q) => q,
            None => {
                run.queries.push(query.to_string());
                run.lists.push(Vec::new());
                run.query_index
                    .insert(query.to_string(), run.lists.len() - 1);
                run.lists.len() - 1
            }
        };
        let d = run.docs.intern(doc);
        run.lists[q].push((d, score));
        Ok(())
    }

    /// Sort every list in trec_eval order, rejecting duplicate documents.
    pub fn build(mut self) -> Result<Run> {
        let run = &mut self.run;
        for (q, list) in run.lists.iter_mut().enumerate() {
            list.sort_unstable_by(|a, b| trec_order(&run.docs, a, b));
            let mut seen: Vec<u32> = list.iter().map(|e| e.0).collect();
            seen.sort_unstable();
            if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::DuplicateDocument {
                    query: run.queries[q].clone(),
                    doc: run.docs.name(w[0]).to_string(),
                });
            }
        }
        Ok(self.run)
    }
}

impl Run {
    /// The top `k` documents of each query from a dense score matrix (`queries × docs`,
    /// row-major), in trec_eval order. NaN scores rank last.
    ///
    /// # Panics
    /// If `scores.len() != query_ids.len() * doc_ids.len()`.
    pub fn from_score_matrix<Q: AsRef<str>, D: AsRef<str>>(
        query_ids: &[Q],
        doc_ids: &[D],
        scores: &[f32],
        k: usize,
    ) -> Self {
        let mut run = Run::default();
        run.extend_from_score_matrix(query_ids, doc_ids, scores, k);
        run
    }

    /// Append the top `k` documents of more queries from their score matrix (`queries × docs`,
    /// row-major) over the same `doc_ids`: a large matrix scored in blocks of queries gives the
    /// same run as [`Run::from_score_matrix`] on the whole. Query ids must be new to the run.
    ///
    /// # Panics
    /// If `scores.len() != query_ids.len() * doc_ids.len()`.
    pub fn extend_from_score_matrix<Q: AsRef<str>, D: AsRef<str>>(
        &mut self,
        query_ids: &[Q],
        doc_ids: &[D],
        scores: &[f32],
        k: usize,
    ) {
        use rayon::prelude::*;
        let n_docs = doc_ids.len();
        assert_eq!(scores.len(), query_ids.len() * n_docs, "score matrix shape");
        // Interning is idempotent; doc index i of this matrix maps to its interned id.
        let ids: Vec<u32> = doc_ids
            .iter()
            .map(|d| self.docs.intern(d.as_ref()))
            .collect();
        // trec_order's tie-break as an integer per column: rank among the columns by document
        // id, descending (string order), so rows can be ranked in parallel without names.
        let mut by_name: Vec<usize> = (0..n_docs).collect();
        by_name.sort_unstable_by(|&a, &b| self.docs.name(ids[b]).cmp(self.docs.name(ids[a])));
        let mut tie = vec![0u32; n_docs];
        for (rank, &c) in by_name.iter().enumerate() {
            tie[c] = rank as u32;
        }
        let k = k.min(n_docs);
        let top_k = |row: &[f32]| -> Vec<(u32, f64)> {
            let cmp = |a: &(u32, f64), b: &(u32, f64)| {
                b.1.partial_cmp(&a.1)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| tie[a.0 as usize].cmp(&tie[b.0 as usize]))
            };
            let scored = row.iter().enumerate().map(|(c, &s)| {
                (
                    c as u32,
                    if s.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        s as f64
                    },
                )
            });
            let mut order: Vec<(u32, f64)>;
            if k <= SMALL_DEPTH {
                // A short list kept sorted: most documents lose one comparison with its last.
                order = Vec::with_capacity(k + 1);
                for e in scored {
                    if order.len() == k && order.last().is_none_or(|w| cmp(&e, w).is_ge()) {
                        continue;
                    }
                    let at = order.partition_point(|x| cmp(x, &e).is_lt());
                    order.insert(at, e);
                    order.truncate(k);
                }
            } else {
                order = scored.collect();
                if k < order.len() {
                    order.select_nth_unstable_by(k - 1, cmp);
                }
                order.truncate(k);
                order.sort_unstable_by(cmp);
            }
            order
                .into_iter()
                .map(|(c, s)| (ids[c as usize], s))
                .collect()
        };
        let lists: Vec<Vec<(u32, f64)>> = if n_docs == 0 {
            vec![Vec::new(); query_ids.len()]
        } else {
            scores.par_chunks_exact(n_docs).map(top_k).collect()
        };
        for (q, list) in query_ids.iter().zip(lists) {
            self.push_sorted(q.as_ref(), list);
        }
    }

    /// A run from per-query result lists of any index ([`Hit::doc`] indexes `doc_ids`), their
    /// scores read as `f64` ([`Score::to_f64`]). Lists are re-sorted in trec_eval order.
    pub fn from_ranked_lists<Q: AsRef<str>, D: AsRef<str>, S: Score>(
        query_ids: &[Q],
        doc_ids: &[D],
        lists: &[Vec<Hit<S>>],
    ) -> Result<Self> {
        if query_ids.len() != lists.len() {
            return Err(Error::Mismatch(format!(
                "{} query ids for {} ranked lists",
                query_ids.len(),
                lists.len()
            )));
        }
        let mut b = RunBuilder::new();
        for (q, list) in query_ids.iter().zip(lists) {
            for hit in list {
                let d = hit.doc;
                let doc = doc_ids.get(d as usize).ok_or_else(|| {
                    Error::Mismatch(format!(
                        "query {}: document index {d} is beyond the {} document ids",
                        q.as_ref(),
                        doc_ids.len()
                    ))
                })?;
                b.push(q.as_ref(), doc.as_ref(), hit.score.to_f64())?;
            }
        }
        b.build()
    }

    fn push_sorted(&mut self, query: &str, list: Vec<(u32, f64)>) {
        self.query_index
            .insert(query.to_string(), self.queries.len());
        self.queries.push(query.to_string());
        self.lists.push(list);
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// True when no query has results.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Query ids in insertion order.
    pub fn query_ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.queries.iter().map(String::as_str)
    }

    /// The ranking of a query: `(document id, score)` in trec_eval order.
    pub fn ranking(&self, query: &str) -> Option<impl ExactSizeIterator<Item = (&str, f64)> + '_> {
        let q = *self.query_index.get(query)?;
        Some(self.lists[q].iter().map(|&(d, s)| (self.docs.name(d), s)))
    }

    /// Read a TREC run file (`query Q0 doc rank score tag`; rank and tag are ignored, as
    /// trec_eval ignores them).
    pub fn read_trec(path: &std::path::Path) -> Result<Self> {
        let mut b = RunBuilder::new();
        crate::trec::for_each_row(
            path,
            &["query", "Q0", "doc", "rank", "score", "tag"],
            |_, f| {
                let score: f64 = f[4]
                    .parse()
                    .map_err(|_| format!("score {:?} is not a number", f[4]))?;
                b.push(f[0], f[2], score).map_err(|e| e.to_string())
            },
        )?;
        b.build()
    }

    /// Write a TREC run file atomically, ranks from 1, scores in round-trip precision.
    pub fn write_trec(&self, path: &std::path::Path, tag: &str) -> Result<()> {
        crate::trec::write_atomically(path, |w| {
            for (q, list) in self.queries.iter().zip(&self.lists) {
                for (rank, &(d, s)) in list.iter().enumerate() {
                    writeln!(w, "{q} Q0 {} {} {s} {tag}", self.docs.name(d), rank + 1)?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trec_tie_break_and_top_k_selection() {
        // Docs "9", "10", "100" tie; string order descending puts "9" first, then "100", "10".
        let scores = [1.0, 1.0, 1.0, 2.0, 0.5f32];
        let docs = ["10", "100", "9", "x", "a"];
        let run = Run::from_score_matrix(&["q"], &docs, &scores, 3);
        let got: Vec<_> = run.ranking("q").unwrap().map(|(d, _)| d).collect();
        assert_eq!(got, ["x", "9", "100"]);
        let mut b = RunBuilder::new();
        for (d, s) in docs.iter().zip(scores) {
            b.push("q", d, s as f64).unwrap();
        }
        let built = b.build().unwrap();
        let full: Vec<_> = built.ranking("q").unwrap().map(|(d, _)| d).collect();
        assert_eq!(full, ["x", "9", "100", "10", "a"]);
    }

    #[test]
    fn duplicates_and_nan_are_rejected() {
        let mut b = RunBuilder::new();
        b.push("q", "d", 1.0).unwrap();
        b.push("q", "d", 2.0).unwrap();
        assert!(matches!(b.build(), Err(Error::DuplicateDocument { .. })));
        assert!(RunBuilder::new().push("q", "d", f64::NAN).is_err());
    }

    #[test]
    fn trec_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.trec");
        let run =
            Run::from_score_matrix(&["a", "b"], &["x", "y"], &[0.1, 0.3000001, 1e-8, -2.5], 2);
        run.write_trec(&p, "test").unwrap();
        let back = Run::read_trec(&p).unwrap();
        for q in ["a", "b"] {
            assert_eq!(
                run.ranking(q).unwrap().collect::<Vec<_>>(),
                back.ranking(q).unwrap().collect::<Vec<_>>()
            );
        }
        std::fs::write(&p, "a Q0 x 1 oops t\n").unwrap();
        let msg = Run::read_trec(&p).unwrap_err().to_string();
        assert!(msg.contains("run.trec:1") && msg.contains("oops"), "{msg}");
    }
}

#[cfg(test)]
mod block_tests {
    use super::*;

    #[test]
    fn a_matrix_scored_in_blocks_gives_the_same_run() {
        // Ties included: equal scores are ordered by document id descending.
        let docs = ["d1", "d10", "d2", "d3"];
        let queries = ["q1", "q2", "q3"];
        let scores = [
            0.5f32,
            0.5,
            0.1,
            0.9, //
            0.0,
            0.0,
            0.0,
            0.0, //
            0.3,
            f32::NAN,
            0.7,
            0.3,
        ];
        let whole = Run::from_score_matrix(&queries, &docs, &scores, 3);
        let mut blocks = Run::from_score_matrix(&queries[..1], &docs, &scores[..4], 3);
        blocks.extend_from_score_matrix(&queries[1..], &docs, &scores[4..], 3);
        assert_eq!(blocks.len(), 3);
        for q in queries {
            let a: Vec<_> = whole.ranking(q).unwrap().collect();
            let b: Vec<_> = blocks.ranking(q).unwrap().collect();
            assert_eq!(a, b, "{q}");
        }
        let q1: Vec<&str> = whole.ranking("q1").unwrap().map(|(d, _)| d).collect();
        assert_eq!(q1, ["d3", "d10", "d1"]);
    }
}

#[cfg(test)]
mod selection_tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Top-k selection (the short sorted list for small depths, partial sorting for large
    /// ones) against a full sort with trec_eval's string comparison ([`RunBuilder::build`]),
    /// on scores with many ties, NaN and ±0, and document ids whose string order differs from
    /// their column order.
    #[test]
    fn top_k_equals_the_truncated_full_sort() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..60 {
            let n_docs = rng.random_range(0..130usize);
            let n_q = rng.random_range(1..5usize);
            let docs: Vec<String> = (0..n_docs)
                .map(|i| format!("d{}", (i * 7919 + case) % 1000))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .rev()
                .collect();
            let n_docs = docs.len();
            let queries: Vec<String> = (0..n_q).map(|q| format!("q{q}")).collect();
            let scores: Vec<f32> = (0..n_q * n_docs)
                .map(|_| match rng.random_range(0..12) {
                    0 => f32::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    v => (v % 5) as f32 * 0.25,
                })
                .collect();
            for k in [0, 1, 3, 10, 64, 65, 100, n_docs, n_docs + 3] {
                let run = Run::from_score_matrix(&queries, &docs, &scores, k);
                for (q, row) in queries.iter().zip(scores.chunks_exact(n_docs.max(1))) {
                    let mut b = RunBuilder::new();
                    for (d, &s) in docs.iter().zip(row) {
                        let s = if s.is_nan() {
                            f64::NEG_INFINITY
                        } else {
                            s as f64
                        };
                        b.push(q, d, s).unwrap();
                    }
                    let full = b.build().unwrap();
                    let want: Vec<_> = full.ranking(q).unwrap().take(k).collect();
                    let got: Vec<_> = run.ranking(q).map_or(vec![], |r| r.collect());
                    assert_eq!(got, want, "case {case}, k {k}, {q}");
                }
            }
        }
    }
}

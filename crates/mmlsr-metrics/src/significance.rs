//! Paired two-tailed t-tests over per-query values and Bonferroni correction, as used to mark
//! significant differences (`†`) in the D2S and joint papers' tables.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::{Error, Evaluation, Measure, Result};

/// Result of a paired two-tailed t-test of `a − b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// Number of pairs.
    pub n: usize,
    /// Mean of `a − b`.
    pub mean_diff: f64,
    /// The t statistic (±∞ when every difference is the same non-zero value).
    pub t: f64,
    /// Degrees of freedom, `n − 1`.
    pub df: f64,
    /// Two-tailed p-value (never NaN: 1 when the runs are identical, 0 when the differences
    /// are constant and non-zero).
    pub p_value: f64,
}

/// Paired two-tailed t-test on aligned values (what `scipy.stats.ttest_rel(a, b)` computes).
///
/// Degenerate inputs get a defined result: identical values (every difference 0) give
/// `t = 0, p = 1`; a constant non-zero difference gives `t = ±∞, p = 0` (scipy gives the same
/// p there, and NaN for identical inputs). Fewer than two pairs, unequal lengths or NaN values
/// are errors.
pub fn paired_t_test_values(a: &[f64], b: &[f64]) -> Result<TTest> {
    let n = crate::correlation::check_pairs("paired t-test", a, b)?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let df = (n - 1) as f64;
    let (t, p_value) = if var == 0.0 {
        if mean == 0.0 {
            (0.0, 1.0)
        } else {
            (mean.signum() * f64::INFINITY, 0.0)
        }
    } else {
        let t = mean / (var / n as f64).sqrt();
        let dist = StudentsT::new(0.0, 1.0, df).expect("df ≥ 1 is a valid Student's t");
        (t, (2.0 * dist.sf(t.abs())).min(1.0))
    };
    Ok(TTest {
        n,
        mean_diff: mean,
        t,
        df,
        p_value,
    })
}

/// The per-query values of `measure` in two evaluations over the same queries, matched by
/// id and returned in `a`'s query order. Different query sets are an error naming a query
/// found in only one.
pub fn paired_values(
    a: &Evaluation,
    b: &Evaluation,
    measure: Measure,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let col = |e: &Evaluation| {
        e.per_query(measure).ok_or_else(|| {
            Error::Mismatch(format!(
                "measure {measure} was not computed in both evaluations"
            ))
        })
    };
    let (va, vb) = (col(a)?, col(b)?);
    let index: std::collections::HashMap<&str, usize> = b
        .queries
        .iter()
        .enumerate()
        .map(|(i, q)| (q.as_str(), i))
        .collect();
    if a.queries.len() != b.queries.len() {
        return Err(Error::Mismatch(format!(
            "the runs were evaluated on different query sets ({} vs {} queries)",
            a.queries.len(),
            b.queries.len()
        )));
    }
    let mut aligned = Vec::with_capacity(va.len());
    for q in &a.queries {
        let i = index.get(q.as_str()).ok_or_else(|| {
            Error::Mismatch(format!(
                "query {q} was evaluated in one run but not the other"
            ))
        })?;
        aligned.push(vb[*i]);
    }
    Ok((va, aligned))
}

/// Paired t-test of one measure between two evaluations over the same queries (matched by
/// id, see [`paired_values`]).
pub fn paired_t_test(a: &Evaluation, b: &Evaluation, measure: Measure) -> Result<TTest> {
    let (va, vb) = paired_values(a, b, measure)?;
    paired_t_test_values(&va, &vb)
}

/// Bonferroni-corrected p-value for one of `m` comparisons: `min(1, p·m)`.
pub fn bonferroni(p: f64, m: usize) -> f64 {
    (p * m.max(1) as f64).min(1.0)
}

/// `"†"` when the difference is significant at level `alpha` after Bonferroni correction over
/// `m` comparisons (the papers' mark), otherwise `""`.
pub fn significance_mark(p: f64, m: usize, alpha: f64) -> &'static str {
    if bonferroni(p, m) < alpha { "†" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_and_degenerate_cases() {
        // d = [1, 2, 3, 4]: mean 2.5, sd 1.2910, t = 3.8730, df 3, p = 0.030466.
        let a = [2.0, 4.0, 6.0, 8.0];
        let b = [1.0, 2.0, 3.0, 4.0];
        let t = paired_t_test_values(&a, &b).unwrap();
        assert!((t.t - 3.872983346207417).abs() < 1e-12);
        assert!(
            (t.p_value - 0.030466291662170977).abs() < 1e-9,
            "{}",
            t.p_value
        );
        let same = paired_t_test_values(&a, &a).unwrap();
        assert_eq!((same.t, same.p_value), (0.0, 1.0));
        let shifted: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let c = paired_t_test_values(&shifted, &a).unwrap();
        assert_eq!(c.p_value, 0.0);
        assert!(c.t.is_infinite() && c.t > 0.0);
        assert!(paired_t_test_values(&[1.0], &[2.0]).is_err());
        assert!(paired_t_test_values(&[1.0, 2.0], &[2.0]).is_err());
        assert!(paired_t_test_values(&[1.0, f64::NAN], &[2.0, 1.0]).is_err());
        assert_eq!(bonferroni(0.02, 3), 0.06);
        assert_eq!(bonferroni(0.5, 3), 1.0);
        assert_eq!(significance_mark(0.01, 4, 0.05), "†");
        assert_eq!(significance_mark(0.02, 4, 0.05), "");
    }

    #[test]
    fn evaluations_on_different_queries_are_refused() {
        let e = |queries: &[&str]| Evaluation {
            measures: vec![Measure::Recall(1)],
            queries: queries.iter().map(|q| q.to_string()).collect(),
            values: (0..queries.len()).map(|i| i as f64).collect(),
            queries_without_results: 0,
        };
        let msg = paired_t_test(&e(&["a", "b"]), &e(&["a", "c"]), Measure::Recall(1))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("query a") || msg.contains("query b"), "{msg}");
        assert!(paired_t_test(&e(&["a", "b"]), &e(&["a"]), Measure::Recall(1)).is_err());
        assert!(paired_t_test(&e(&["a", "b"]), &e(&["a", "b"]), Measure::RR(10)).is_err());
        // Same queries in another order are aligned by id: identical values, p = 1.
        let mut swapped = e(&["b", "a"]);
        swapped.values = vec![1.0, 0.0];
        assert_eq!(
            paired_t_test(&e(&["a", "b"]), &swapped, Measure::Recall(1))
                .unwrap()
                .p_value,
            1.0
        );
    }
}

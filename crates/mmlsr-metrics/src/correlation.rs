//! Faithfulness statistics: Pearson correlation of per-query values (D2S Table 5), Kendall's
//! τ-b between two scorings of the same items, and top-k overlap of two runs (D2S Figure 2b).

use crate::{Error, Result, Run};

/// Check that `x` and `y` are paired samples: equal lengths, at least two pairs, no NaN.
/// Returns the number of pairs.
pub(crate) fn check_pairs(what: &str, x: &[f64], y: &[f64]) -> Result<usize> {
    if x.len() != y.len() {
        return Err(Error::Mismatch(format!(
            "{what} needs equal lengths, got {} and {}",
            x.len(),
            y.len()
        )));
    }
    let n = x.len();
    if n < 2 || x.iter().chain(y).any(|v| v.is_nan()) {
        return Err(Error::Undefined(format!(
            "{what} needs at least 2 pairs without NaN, got {n}"
        )));
    }
    Ok(n)
}

/// Pearson's r between paired values. Unequal lengths, fewer than two pairs, NaN, or zero
/// variance on either side (r undefined) are errors.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    let n = check_pairs("pearson", x, y)?;
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(Error::Undefined(
            "pearson: one side has zero variance".into(),
        ));
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Kendall's τ-b between two scorings of the same items (ties handled as in
/// `scipy.stats.kendalltau`'s default). O(n²): meant for per-query lists and tables, not
/// millions of items. Undefined (error) when either side is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<f64> {
    let n = check_pairs("kendall", x, y)?;
    let (mut concordant, mut discordant, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = (x[i] - x[j]).partial_cmp(&0.0).expect("no NaN");
            let dy = (y[i] - y[j]).partial_cmp(&0.0).expect("no NaN");
            use std::cmp::Ordering::Equal;
            match (dx, dy) {
                (Equal, Equal) => {}
                (Equal, _) => tie_x += 1,
                (_, Equal) => tie_y += 1,
                (a, b) if a == b => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n0 = (concordant + discordant) as f64;
    let denom = ((n0 + tie_x as f64) * (n0 + tie_y as f64)).sqrt();
    if denom == 0.0 {
        return Err(Error::Undefined("kendall: one side is constant".into()));
    }
    Ok((concordant - discordant) as f64 / denom)
}

/// For each query in both runs, the fraction of the top `k` documents the two runs share,
/// `|top_k(a) ∩ top_k(b)| / k` (D2S Figure 2b). Returns `(query, overlap)` in `a`'s order.
pub fn topk_overlap(a: &Run, b: &Run, k: usize) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for q in a.query_ids() {
        let (Some(ra), Some(rb)) = (a.ranking(q), b.ranking(q)) else {
            continue;
        };
        let ta: Vec<&str> = ra.take(k).map(|(d, _)| d).collect();
        let shared = rb.take(k).filter(|(d, _)| ta.contains(d)).count();
        out.push((q.to_string(), shared as f64 / k.max(1) as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_and_kendall_known_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 5.0];
        assert!((pearson(&x, &y).unwrap() - 0.8).abs() < 1e-12);
        assert!((kendall_tau_b(&x, &y).unwrap() - 0.6).abs() < 1e-12);
        assert!(pearson(&x, &[1.0; 5]).is_err());
        // With ties: scipy.stats.kendalltau([1,1,2,3], [1,2,2,3]) = 0.8.
        let t = kendall_tau_b(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!((t - 0.8).abs() < 1e-12, "{t}");
    }

    #[test]
    fn overlap_counts_shared_documents() {
        let a = Run::from_score_matrix(&["q"], &["a", "b", "c", "d"], &[4.0, 3.0, 2.0, 1.0], 4);
        let b = Run::from_score_matrix(&["q"], &["a", "b", "c", "d"], &[1.0, 3.0, 4.0, 2.0], 4);
        assert_eq!(topk_overlap(&a, &b, 2), vec![("q".to_string(), 0.5)]);
        assert_eq!(topk_overlap(&a, &b, 4)[0].1, 1.0);
    }
}

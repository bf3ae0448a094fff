//! FLOPs, Exact@k and Semantic@k against brute-force float64 computations written
//! independently here from the definitions (D2S eqs. 1–3).

use mmlsr_core::{CsrMatrix, TermSets};
use mmlsr_metrics::{exact_at_k, flops, semantic_at_k, sparsity_stats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_dense(rng: &mut ChaCha8Rng, rows: usize, cols: usize, density: f64) -> Vec<Vec<f64>> {
    (0..rows)
        .map(|_| {
            (0..cols)
                .map(|_| {
                    if rng.random::<f64>() < density {
                        rng.random_range(0..8) as f64 * 0.25
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

fn to_csr(dense: &[Vec<f64>], cols: usize) -> CsrMatrix {
    let mut m = CsrMatrix::empty(cols);
    for row in dense {
        // Keep explicit zeros for some entries: they must not count as active.
        let (idx, val): (Vec<u32>, Vec<f32>) = row
            .iter()
            .enumerate()
            .filter(|(t, v)| **v != 0.0 || t % 5 == 0)
            .map(|(t, v)| (t as u32, *v as f32))
            .unzip();
        m.push_row(&idx, &val).unwrap();
    }
    m
}

#[test]
fn flops_equals_the_mean_pairwise_count_of_shared_active_terms() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let cols = 60;
    let q = random_dense(&mut rng, 40, cols, 0.1);
    let d = random_dense(&mut rng, 70, cols, 0.3);
    // Definition: expected number of multiplications of a query–document dot product.
    let mut pairs = 0.0f64;
    for qr in &q {
        for dr in &d {
            pairs += (0..cols).filter(|&t| qr[t] != 0.0 && dr[t] != 0.0).count() as f64;
        }
    }
    let want = pairs / (q.len() * d.len()) as f64;
    let got = flops(&to_csr(&q, cols), &to_csr(&d, cols)).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    let s = sparsity_stats(&to_csr(&d, cols));
    let mean = d
        .iter()
        .map(|r| r.iter().filter(|v| **v != 0.0).count())
        .sum::<usize>() as f64
        / d.len() as f64;
    assert!((s.mean_active - mean).abs() < 1e-12);
    assert!(flops(&to_csr(&q, cols), &CsrMatrix::empty(cols + 1)).is_err());
}

#[test]
fn exact_and_semantic_at_k_match_brute_force() {
    // 50 columns: Semantic@k tabulates every pair's cosine; 2,100: it computes them per caption.
    for cols in [50, 2_100] {
        exact_and_semantic_at_k_case(cols);
    }
}

fn exact_and_semantic_at_k_case(cols: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (dim, k) = (8, 5);
    let vecs = random_dense(&mut rng, 30, cols, 0.25);
    let mut terms = TermSets::new(cols);
    let own: Vec<Vec<u32>> = (0..vecs.len())
        .map(|_| {
            (0..rng.random_range(0..6))
                .map(|_| rng.random_range(0..cols as u32))
                .collect()
        })
        .collect();
    for o in &own {
        terms.push_unsorted(o.iter().copied()).unwrap();
    }
    let wv: Vec<f32> = (0..cols * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let cos = |a: usize, b: usize| {
        let (x, y) = (&wv[a * dim..][..dim], &wv[b * dim..][..dim]);
        let dot: f64 = x.iter().zip(y).map(|(p, q)| *p as f64 * *q as f64).sum();
        let n = |v: &[f32]| v.iter().map(|p| (*p as f64).powi(2)).sum::<f64>().sqrt();
        dot / (n(x) * n(y))
    };
    let (mut exact, mut semantic) = (0.0, 0.0);
    for (r, row) in vecs.iter().enumerate() {
        // Top k by weight, ties by smaller term id: a full sort of (−weight, id).
        let mut active: Vec<(usize, f64)> = row
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| *v != 0.0)
            .collect();
        active.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
        let top: Vec<usize> = active.iter().take(k).map(|(t, _)| *t).collect();
        if top.is_empty() {
            continue;
        }
        exact += top
            .iter()
            .filter(|t| own[r].contains(&(**t as u32)))
            .count() as f64
            / top.len() as f64;
        if !own[r].is_empty() {
            semantic += top
                .iter()
                .map(|&t| {
                    own[r]
                        .iter()
                        .map(|&c| cos(t, c as usize))
                        .fold(f64::MIN, f64::max)
                })
                .sum::<f64>()
                / top.len() as f64;
        }
    }
    let n = vecs.len() as f64;
    let m = to_csr(&vecs, cols);
    assert!((exact_at_k(&m, &terms, k).unwrap() - exact / n).abs() < 1e-12);
    assert!((semantic_at_k(&m, &terms, &wv, dim, k).unwrap() - semantic / n).abs() < 1e-9);
    assert!(semantic_at_k(&m, &terms, &wv[1..], dim, k).is_err());
}

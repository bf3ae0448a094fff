//! The little dense linear algebra the generator needs: blocked matrix products (through
//! `matrixmultiply`) and ridge regression solved by Cholesky in float64.

use rayon::prelude::*;

/// `c = a · bᵀ` for row-major `a` (`m × k`) and `b` (`n × k`); `c` is `m × n`, row-major.
/// Rows of `a` are processed in parallel blocks.
pub fn matmul_bt(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), n * k);
    assert_eq!(c.len(), m * n);
    const BLOCK: usize = 256;
    c.par_chunks_mut(BLOCK * n.max(1))
        .zip(a.par_chunks(BLOCK * k.max(1)))
        .for_each(|(c, a)| {
            let rows = a.len() / k.max(1);
            // SAFETY: the slices hold exactly rows×k, n×k and rows×n elements (checked above
            // for the whole matrices; blocks split on row boundaries), and the strides
            // describe row-major a, transposed row-major b and row-major c.
            unsafe {
                matrixmultiply::sgemm(
                    rows,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    1,
                    k as isize,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        });
}

/// `AᵀB` (`p × q`) of row-major float64 matrices `a` (`n × p`) and `b` (`n × q`).
fn at_b(a: &[f64], b: &[f64], n: usize, p: usize, q: usize) -> Vec<f64> {
    assert!(a.len() == n * p && b.len() == n * q);
    let mut c = vec![0.0; p * q];
    // SAFETY: a is n×p row-major, read as its transpose (p×n) with strides (1, p); b is n×q
    // row-major; c is p×q row-major; the lengths are checked above.
    unsafe {
        matrixmultiply::dgemm(
            p,
            n,
            q,
            1.0,
            a.as_ptr(),
            1,
            p as isize,
            b.as_ptr(),
            q as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            q as isize,
            1,
        );
    }
    c
}

/// In-place Cholesky factorisation `A = L Lᵀ` of a symmetric positive definite `p × p`
/// matrix (lower triangle of the result holds `L`). Returns `None` if `A` is not positive
/// definite.
fn cholesky(a: &mut [f64], p: usize) -> Option<()> {
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
    Some(())
}

/// Solve `L Lᵀ W = B` for `W` (`p × q`, row-major), given the factor in `l`'s lower triangle.
fn cholesky_solve(l: &[f64], p: usize, b: &mut [f64], q: usize) {
    // Forward: L Y = B.
    for i in 0..p {
        for k in 0..i {
            let lik = l[i * p + k];
            for c in 0..q {
                b[i * q + c] -= lik * b[k * q + c];
            }
        }
        let d = l[i * p + i];
        for c in 0..q {
            b[i * q + c] /= d;
        }
    }
    // Backward: Lᵀ W = Y.
    for i in (0..p).rev() {
        for k in i + 1..p {
            let lki = l[k * p + i];
            for c in 0..q {
                b[i * q + c] -= lki * b[k * q + c];
            }
        }
        let d = l[i * p + i];
        for c in 0..q {
            b[i * q + c] /= d;
        }
    }
}

/// Ridge regression with intercept: minimise `‖(X − 1μₓᵀ)W − (Y − 1μᵧᵀ)‖² + λ‖W‖²` with
/// `λ = alpha · trace(XcᵀXc) / p`. `x` is `n × p`, `y` is `n × q`, both row-major.
/// Returns `(W` as `q × p` row-major — PyTorch's `Linear.weight` layout — `, bias)` so that
/// `ŷ = W x + bias`.
///
/// # Panics
/// If the shapes disagree or `n == 0`.
pub fn ridge(
    x: &[f32],
    y: &[f32],
    n: usize,
    p: usize,
    q: usize,
    alpha: f64,
) -> (Vec<f32>, Vec<f32>) {
    assert!(n > 0 && x.len() == n * p && y.len() == n * q);
    let mean = |m: &[f32], d: usize| -> Vec<f64> {
        let mut mu = vec![0.0f64; d];
        for row in m.chunks_exact(d) {
            for (a, &v) in mu.iter_mut().zip(row) {
                *a += v as f64;
            }
        }
        mu.iter_mut().for_each(|a| *a /= n as f64);
        mu
    };
    let (mx, my) = (mean(x, p), mean(y, q));
    let xc: Vec<f64> = x
        .chunks_exact(p)
        .flat_map(|r| r.iter().zip(&mx).map(|(&v, m)| v as f64 - m))
        .collect();
    let yc: Vec<f64> = y
        .chunks_exact(q)
        .flat_map(|r| r.iter().zip(&my).map(|(&v, m)| v as f64 - m))
        .collect();
    let mut g = at_b(&xc, &xc, n, p, p);
    let lambda = alpha * (0..p).map(|i| g[i * p + i]).sum::<f64>() / p as f64;
    for i in 0..p {
        g[i * p + i] += lambda.max(1e-12);
    }
    let mut xty = at_b(&xc, &yc, n, p, q);
    cholesky(&mut g, p).expect("XᵀX + λI with λ > 0 is positive definite");
    cholesky_solve(&g, p, &mut xty, q);
    // xty now holds W (p × q); transpose to q × p and compute the bias.
    let mut weight = vec![0.0f32; q * p];
    let mut bias = vec![0.0f32; q];
    for o in 0..q {
        let mut b = my[o];
        for i in 0..p {
            let w = xty[i * q + o];
            weight[o * p + i] = w as f32;
            b -= mx[i] * w;
        }
        bias[o] = b as f32;
    }
    (weight, bias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{fill_normal, stream};

    #[test]
    fn matmul_matches_naive_float64() {
        let (m, k, n) = (300, 17, 9);
        let mut rng = stream(1, "mm", 0);
        let mut a = vec![0.0; m * k];
        let mut b = vec![0.0; n * k];
        fill_normal(&mut rng, &mut a, 1.0);
        fill_normal(&mut rng, &mut b, 1.0);
        let mut c = vec![0.0; m * n];
        matmul_bt(&a, m, k, &b, n, &mut c);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k)
                    .map(|t| a[i * k + t] as f64 * b[j * k + t] as f64)
                    .sum();
                assert!((c[i * n + j] as f64 - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn ridge_satisfies_its_normal_equations_and_recovers_a_linear_map() {
        let (n, p, q) = (2000, 12, 3);
        let mut rng = stream(2, "ridge", 0);
        let mut x = vec![0.0; n * p];
        let mut w_true = vec![0.0; q * p];
        let mut noise = vec![0.0; n * q];
        fill_normal(&mut rng, &mut x, 1.0);
        fill_normal(&mut rng, &mut w_true, 1.0);
        fill_normal(&mut rng, &mut noise, 0.01);
        let mut y = vec![0.0; n * q];
        for r in 0..n {
            for o in 0..q {
                y[r * q + o] = 0.5 * o as f32
                    + noise[r * q + o]
                    + (0..p)
                        .map(|i| w_true[o * p + i] * x[r * p + i])
                        .sum::<f32>();
            }
        }
        let alpha = 0.05;
        let (w, b) = ridge(&x, &y, n, p, q, alpha);
        // First-order optimality, in float64: Xcᵀ(Xc W − Yc) + λ W = 0.
        let mean = |m: &[f32], d: usize, j: usize| {
            (0..n).map(|r| m[r * d + j] as f64).sum::<f64>() / n as f64
        };
        let mx: Vec<f64> = (0..p).map(|j| mean(&x, p, j)).collect();
        let my: Vec<f64> = (0..q).map(|j| mean(&y, q, j)).collect();
        let trace: f64 = (0..p)
            .map(|j| {
                (0..n)
                    .map(|r| (x[r * p + j] as f64 - mx[j]).powi(2))
                    .sum::<f64>()
            })
            .sum();
        let lambda = alpha * trace / p as f64;
        for o in 0..q {
            for i in 0..p {
                let mut grad = lambda * w[o * p + i] as f64;
                for r in 0..n {
                    let pred: f64 = (0..p)
                        .map(|j| (x[r * p + j] as f64 - mx[j]) * w[o * p + j] as f64)
                        .sum();
                    grad += (x[r * p + i] as f64 - mx[i]) * (pred - (y[r * q + o] as f64 - my[o]));
                }
                assert!(grad.abs() < 1e-2 * lambda, "gradient {grad} at ({o}, {i})");
            }
        }
        // With small alpha the map is close to the true one, shrunk by about 1/(1+alpha).
        let (w_small, b_small) = ridge(&x, &y, n, p, q, 1e-6);
        for (a, t) in w_small.iter().zip(&w_true) {
            assert!((a - t).abs() < 0.01, "{a} vs {t}");
        }
        for (o, bo) in b_small.iter().enumerate() {
            assert!((bo - 0.5 * o as f32).abs() < 0.01);
        }
        assert!(b.len() == q);
    }
}

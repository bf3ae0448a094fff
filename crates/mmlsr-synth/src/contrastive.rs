//! Contrastive "pretraining" of the two towers' last layers (768 → 256), as CLIP, BLIP and
//! ALBEF train their projections: symmetric InfoNCE over in-batch pairs (Radford et al.,
//! 2021, eq. in Fig. 3; BLIP's image-text contrastive loss), with Adam.
//!
//! For a batch of `B` image–caption pairs with features `x_i`, `x_t` (`B × F`), the
//! embeddings are `e = normalize(W x + b)` and the scores `S = E_t E_iᵀ / τ` (rows: captions,
//! columns: images). The loss is `½ [CE(S, I) + CE(Sᵀ, I)]`, averaged over the batch, so
//! `∂L/∂S = ½ [(softmax_rows(S) − I) + (softmax_cols(S) − I)] / B`. The gradient flows to the
//! embeddings as `∂L/∂E_t = (∂L/∂S) E_i / τ`, `∂L/∂E_i = (∂L/∂S)ᵀ E_t / τ`, through the
//! normalisation as `∂L/∂u = (∂L/∂e − e ⟨e, ∂L/∂e⟩) / ‖u‖`, and to the layer as
//! `∂L/∂W = (∂L/∂U)ᵀ X`, `∂L/∂b = Σ_rows ∂L/∂U`. A unit test checks it against central
//! finite differences.

use mmlsr_store::Linear;
use rand::seq::SliceRandom;

use crate::rng::stream;

/// Settings of the contrastive pretraining.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContrastiveConfig {
    /// Passes over the pretraining images.
    pub epochs: usize,
    /// Image–caption pairs per batch (one random caption of each image).
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// Fixed temperature τ of the scores.
    pub temperature: f32,
}

impl Default for ContrastiveConfig {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch: 512,
            lr: 1e-3,
            temperature: 0.05,
        }
    }
}

/// `c = α·op(a)·op(b) + β·c` through `matrixmultiply` with explicit row/column strides.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    debug_assert!(m == 0 || k == 0 || a.len() > (m - 1) * rsa + (k - 1) * csa);
    debug_assert!(k == 0 || n == 0 || b.len() > (k - 1) * rsb + (n - 1) * csb);
    assert_eq!(c.len(), m * n);
    // SAFETY: the strides address only elements inside `a` and `b` (checked above in debug
    // builds; every caller passes whole row-major matrices), and `c` is m × n row-major.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// One tower's embeddings of a batch: `u = X Wᵀ + b`, `e = u / ‖u‖`, and the norms.
fn embed(layer: &Linear, x: &[f32], rows: usize) -> (Vec<f32>, Vec<f32>) {
    let (f, d) = (layer.in_dim, layer.out_dim);
    let mut e = vec![0.0; rows * d];
    gemm(rows, f, d, x, (f, 1), &layer.weight, (1, f), 0.0, &mut e);
    let mut norms = Vec::with_capacity(rows);
    for row in e.chunks_exact_mut(d) {
        row.iter_mut().zip(&layer.bias).for_each(|(u, b)| *u += b);
        let n = row.iter().map(|u| u * u).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|u| *u /= n);
        norms.push(n);
    }
    (e, norms)
}

/// Loss and gradients of one tower's layer.
struct Grads {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// Back-propagate `de` (`rows × d`) through the normalisation and the layer.
fn layer_grads(layer: &Linear, x: &[f32], e: &[f32], norms: &[f32], mut de: Vec<f32>) -> Grads {
    let (f, d) = (layer.in_dim, layer.out_dim);
    let rows = norms.len();
    let mut bias = vec![0.0; d];
    for ((g, e), n) in de.chunks_exact_mut(d).zip(e.chunks_exact(d)).zip(norms) {
        let dot: f32 = g.iter().zip(e).map(|(g, e)| g * e).sum();
        for ((g, e), b) in g.iter_mut().zip(e).zip(bias.iter_mut()) {
            *g = (*g - e * dot) / n;
            *b += *g;
        }
    }
    // ∂W = ∂Uᵀ X : (d × rows)(rows × f).
    let mut weight = vec![0.0; d * f];
    gemm(d, rows, f, &de, (1, d), x, (f, 1), 0.0, &mut weight);
    Grads { weight, bias }
}

/// Symmetric InfoNCE loss of a batch and the gradients of both layers.
fn loss_and_grads(
    text: &Linear,
    vision: &Linear,
    xt: &[f32],
    xi: &[f32],
    rows: usize,
    tau: f32,
) -> (f64, Grads, Grads) {
    let d = text.out_dim;
    let (et, nt) = embed(text, xt, rows);
    let (ei, ni) = embed(vision, xi, rows);
    let mut s = vec![0.0; rows * rows];
    gemm(rows, d, rows, &et, (d, 1), &ei, (1, d), 0.0, &mut s);
    s.iter_mut().for_each(|x| *x /= tau);
    // Row and column softmaxes.
    let mut g = vec![0.0f32; rows * rows];
    let mut loss = 0.0f64;
    for r in 0..rows {
        let row = &s[r * rows..][..rows];
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = row.iter().map(|&x| ((x - m) as f64).exp()).sum();
        loss += z.ln() + m as f64 - row[r] as f64;
        for c in 0..rows {
            g[r * rows + c] += (((row[c] - m) as f64).exp() / z) as f32;
        }
    }
    for c in 0..rows {
        let m = (0..rows)
            .map(|r| s[r * rows + c])
            .fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = (0..rows)
            .map(|r| ((s[r * rows + c] - m) as f64).exp())
            .sum();
        loss += z.ln() + m as f64 - s[c * rows + c] as f64;
        for r in 0..rows {
            g[r * rows + c] += (((s[r * rows + c] - m) as f64).exp() / z) as f32;
        }
    }
    let scale = 0.5 / rows as f32;
    for r in 0..rows {
        g[r * rows + r] -= 2.0;
    }
    g.iter_mut().for_each(|x| *x *= scale / tau);
    // ∂E_t = G E_i, ∂E_i = Gᵀ E_t (τ folded into G).
    let mut det = vec![0.0; rows * d];
    gemm(rows, rows, d, &g, (rows, 1), &ei, (d, 1), 0.0, &mut det);
    let mut dei = vec![0.0; rows * d];
    gemm(rows, rows, d, &g, (1, rows), &et, (d, 1), 0.0, &mut dei);
    let (gt, gi) = rayon::join(
        || layer_grads(text, xt, &et, &nt, det),
        || layer_grads(vision, xi, &ei, &ni, dei),
    );
    (0.5 * loss / rows as f64, gt, gi)
}

/// Adam state of one layer.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f32, t: i32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        let (c1, c2) = (1.0 - B1.powi(t), 1.0 - B2.powi(t));
        for ((p, g), (m, v)) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

/// What contrastive pretraining did.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastiveReport {
    /// Mean batch loss of each epoch.
    pub epoch_loss: Vec<f64>,
}

/// Train `text` and `vision` (in place) with symmetric InfoNCE on pretraining pairs:
/// `image_features` (`images × F`) and `caption_features` (`captions_per_image · images × F`,
/// image by image). Each epoch visits the images in a fresh order (seeded) and pairs each with
/// one of its captions drawn at random.
pub fn pretrain(
    text: &mut Linear,
    vision: &mut Linear,
    image_features: &[f32],
    caption_features: &[f32],
    captions_per_image: usize,
    config: &ContrastiveConfig,
    seed: u64,
) -> ContrastiveReport {
    use rand::Rng;
    let f = vision.in_dim;
    let images = image_features.len() / f;
    let mut opt = [
        Adam::new(text.weight.len()),
        Adam::new(text.bias.len()),
        Adam::new(vision.weight.len()),
        Adam::new(vision.bias.len()),
    ];
    let mut order: Vec<usize> = (0..images).collect();
    let mut t = 0;
    let mut epoch_loss = Vec::with_capacity(config.epochs);
    let steps_per_epoch = images / config.batch.max(1);
    let total = (steps_per_epoch * config.epochs).max(1) as f32;
    for epoch in 0..config.epochs {
        let mut rng = stream(seed, "contrastive", epoch as u64);
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for batch in order.chunks_exact(config.batch).take(steps_per_epoch) {
            let rows = batch.len();
            let mut xi = Vec::with_capacity(rows * f);
            let mut xt = Vec::with_capacity(rows * f);
            for &i in batch {
                xi.extend_from_slice(&image_features[i * f..][..f]);
                let c = i * captions_per_image + rng.random_range(0..captions_per_image);
                xt.extend_from_slice(&caption_features[c * f..][..f]);
            }
            let (loss, gt, gi) = loss_and_grads(text, vision, &xt, &xi, rows, config.temperature);
            sum += loss;
            t += 1;
            // Linear decay of the learning rate to 10 % over the run.
            let lr = config.lr * (1.0 - 0.9 * (t - 1) as f32 / total);
            let [ow, ob, vw, vb] = &mut opt;
            ow.step(&mut text.weight, &gt.weight, lr, t);
            ob.step(&mut text.bias, &gt.bias, lr, t);
            vw.step(&mut vision.weight, &gi.weight, lr, t);
            vb.step(&mut vision.bias, &gi.bias, lr, t);
        }
        epoch_loss.push(sum / steps_per_epoch.max(1) as f64);
    }
    ContrastiveReport { epoch_loss }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fill_normal;

    fn layer(seed: u64, f: usize, d: usize) -> Linear {
        let mut weight = vec![0.0; d * f];
        let mut bias = vec![0.0; d];
        fill_normal(&mut stream(seed, "w", 0), &mut weight, 0.5);
        fill_normal(&mut stream(seed, "b", 0), &mut bias, 0.2);
        Linear {
            in_dim: f,
            out_dim: d,
            weight,
            bias,
        }
    }

    /// The analytic gradient equals central finite differences of the loss (computed in f64
    /// from the f32 forward pass, step 1e-2 on a small, well-conditioned problem).
    #[test]
    fn gradients_match_finite_differences() {
        let (f, d, rows, tau) = (6, 4, 5, 0.5);
        let text = layer(1, f, d);
        let vision = layer(2, f, d);
        let mut xt = vec![0.0; rows * f];
        let mut xi = vec![0.0; rows * f];
        fill_normal(&mut stream(3, "x", 0), &mut xt, 1.0);
        fill_normal(&mut stream(3, "x", 1), &mut xi, 1.0);
        let (_, gt, gi) = loss_and_grads(&text, &vision, &xt, &xi, rows, tau);
        let h = 1e-2;
        // Central difference of the loss when `nudge` moves one parameter by ±h.
        let numeric = |nudge: &dyn Fn(&mut Linear, &mut Linear, f32)| {
            let at = |d: f32| {
                let (mut t, mut v) = (text.clone(), vision.clone());
                nudge(&mut t, &mut v, d);
                loss_and_grads(&t, &v, &xt, &xi, rows, tau).0
            };
            (at(h) - at(-h)) / (2.0 * h as f64)
        };
        let check = |what: String, numeric: f64, analytic: f32| {
            assert!(
                (numeric - analytic as f64).abs() < 2e-3 + 2e-2 * numeric.abs(),
                "{what}: numeric {numeric}, analytic {analytic}"
            );
        };
        fn pick<'a>(which: usize, t: &'a mut Linear, v: &'a mut Linear) -> &'a mut Linear {
            if which == 0 { t } else { v }
        }
        for (which, analytic) in [(0, &gt), (1, &gi)] {
            for (k, &g) in analytic.weight.iter().enumerate().step_by(3) {
                let n = numeric(&|t, v, d| pick(which, t, v).weight[k] += d);
                check(format!("tower {which} weight {k}"), n, g);
            }
            for (k, &g) in analytic.bias.iter().enumerate() {
                let n = numeric(&|t, v, d| pick(which, t, v).bias[k] += d);
                check(format!("tower {which} bias {k}"), n, g);
            }
        }
    }

    /// On pairs that share a hidden code, pretraining lowers the loss and aligns the pairs.
    #[test]
    fn pretraining_aligns_pairs() {
        let (f, d, images) = (16, 8, 256);
        let mut code = vec![0.0; images * f];
        fill_normal(&mut stream(9, "code", 0), &mut code, 1.0);
        let mut caps = Vec::with_capacity(images * 2 * f);
        for (i, row) in code.chunks_exact(f).enumerate() {
            for k in 0..2 {
                let mut noise = vec![0.0; f];
                fill_normal(&mut stream(9, "noise", (2 * i + k) as u64), &mut noise, 0.3);
                caps.extend(row.iter().zip(&noise).map(|(c, n)| c + n));
            }
        }
        let (mut text, mut vision) = (layer(4, f, d), layer(5, f, d));
        let config = ContrastiveConfig {
            epochs: 30,
            batch: 64,
            lr: 1e-2,
            temperature: 0.1,
        };
        let report = pretrain(&mut text, &mut vision, &code, &caps, 2, &config, 1);
        let (first, last) = (report.epoch_loss[0], *report.epoch_loss.last().unwrap());
        assert!(last < 0.5 * first, "loss {first} → {last}");
    }
}

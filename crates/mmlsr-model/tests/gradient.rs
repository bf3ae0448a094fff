//! Gradient check: the D2S loss and the gradients of every head parameter equal an independent
//! PyTorch float64 re-computation.
//!
//! Fixture: `tests/data/d2s_grad.json`, regenerated with
//! `python3 scripts/d2s_grad_fixture.py` (needs torch).

use mmlsr_model::{
    HostTensor, LossConfig, RegWeights, Regulariser, SparseHeadConfig,
    burn::tensor::{Tensor, TensorData},
    d2s_loss,
};
use serde_json::Value;

use crate::common::{B, check, floats, host, transpose};

/// The head of a fixture case, from its PyTorch-layout parameters.
fn fixture_head(
    c: &Value,
    device: &mmlsr_model::burn::tensor::Device<B>,
) -> mmlsr_model::SparseHead<B> {
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    let tensors = c["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, p)| {
            let shape = p["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            HostTensor::new(k.clone(), shape, floats(&p["data"]))
        })
        .collect();
    SparseHeadConfig::new(u("d_input"), u("vocab"))
        .with_d_hidden(u("d_hidden"))
        .from_host::<B>(tensors, device)
        .unwrap()
}

/// The loss settings and regulariser weights of a fixture case.
fn fixture_loss(c: &Value) -> (LossConfig, RegWeights) {
    let config = LossConfig {
        temperature: c["temperature"].as_f64().unwrap(),
        q_reg: 0.0,
        d_reg: 0.0,
        regulariser: match c["regulariser"].as_str().unwrap() {
            "l1" => Regulariser::L1,
            _ => Regulariser::Flops,
        },
    };
    let weights = RegWeights {
        text: c["q_weight"].as_f64().unwrap(),
        image: c["d_weight"].as_f64().unwrap(),
    };
    (config, weights)
}

/// A JSON array of numbers as `f64`.
fn floats64(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn gradient_matches_pytorch_float64() {
    let path = crate::common::fixture("d2s_grad.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Default::default();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let u = |k: &str| c[k].as_u64().unwrap() as usize;
        let (b, d, h, v) = (u("batch"), u("d_input"), u("d_hidden"), u("vocab"));
        // The pre-activations stay away from relu's kink, so the gradient is well defined.
        assert!(c["min_abs_preactivation"].as_f64().unwrap() > 1e-3);
        let head = fixture_head(c, &device);
        let t2 = |k: &str, cols: usize| {
            Tensor::<B, 2>::from_data(TensorData::new(floats(&c[k]), [b, cols]), &device)
        };
        let (z_t, z_i, mask) = (t2("dense_text", d), t2("dense_image", d), t2("mask", v));
        let (config, weights) = fixture_loss(c);
        let s_t = head.forward(z_t.clone()) * mask;
        let s_i = head.forward(z_i.clone());
        let parts = d2s_loss(s_t, s_i, z_t, z_i, &config, weights);
        let loss = &c["loss"];
        for (part, t) in [
            ("total", parts.total.clone()),
            ("distill", parts.distill.clone()),
            ("reg_text", parts.reg_text.clone()),
            ("reg_image", parts.reg_image.clone()),
        ] {
            let got = host(t.inner());
            check(
                &format!("{name}: loss {part}"),
                &got,
                &[loss[part].as_f64().unwrap()],
                1e-4,
                1e-6,
            );
        }
        let grads = parts.total.backward();
        let g = &c["grads"];
        let want = |k: &str| -> Vec<f64> { floats64(&g[k]) };
        // Linear weights are stored [in, out] in Burn and [out, in] in PyTorch.
        let t = transpose;
        let gw1 = host(head.proj.weight.val().grad(&grads).unwrap());
        let gb1 = host(head.proj.bias.as_ref().unwrap().val().grad(&grads).unwrap());
        let gg = host(head.norm.gamma.val().grad(&grads).unwrap());
        let gbeta = host(head.norm.beta.as_ref().unwrap().val().grad(&grads).unwrap());
        let gwv = host(head.vocab.weight.val().grad(&grads).unwrap());
        let gbv = host(
            head.vocab
                .bias
                .as_ref()
                .unwrap()
                .val()
                .grad(&grads)
                .unwrap(),
        );
        let scale = |x: &[f64]| x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (k, got, want) in [
            ("proj.weight", t(gw1, d, h), want("proj.weight")),
            ("proj.bias", gb1, want("proj.bias")),
            (
                "vocab_layer_norm.weight",
                gg,
                want("vocab_layer_norm.weight"),
            ),
            (
                "vocab_layer_norm.bias",
                gbeta,
                want("vocab_layer_norm.bias"),
            ),
            (
                "vocab_projector.weight",
                t(gwv, h, v),
                want("vocab_projector.weight"),
            ),
            ("vocab_projector.bias", gbv, want("vocab_projector.bias")),
        ] {
            // f32 against f64: relative 1e-3, absolute 1e-4 of the tensor's largest entry.
            let atol = 1e-4 * scale(&want).max(1e-6);
            check(&format!("{name}: grad {k}"), &got, &want, 1e-3, atol);
        }
    }
}

/// The head's six gradients, flattened in a fixed order.
fn head_grads(
    head: &mmlsr_model::SparseHead<B>,
    grads: &<B as mmlsr_model::burn::tensor::backend::AutodiffBackend>::Gradients,
) -> Vec<(&'static str, Vec<f64>)> {
    vec![
        (
            "proj.weight",
            host(head.proj.weight.val().grad(grads).unwrap()),
        ),
        (
            "proj.bias",
            host(head.proj.bias.as_ref().unwrap().val().grad(grads).unwrap()),
        ),
        (
            "norm.gamma",
            host(head.norm.gamma.val().grad(grads).unwrap()),
        ),
        (
            "norm.beta",
            host(head.norm.beta.as_ref().unwrap().val().grad(grads).unwrap()),
        ),
        (
            "vocab.weight",
            host(head.vocab.weight.val().grad(grads).unwrap()),
        ),
        (
            "vocab.bias",
            host(head.vocab.bias.as_ref().unwrap().val().grad(grads).unwrap()),
        ),
    ]
}

/// The sparse-aware loss (caption tower on some columns, `d2s_loss_on_columns`) on the PyTorch
/// fixture, with its columns given in reverse order (a selection, not a slice), equals the
/// float64 reference.
#[test]
fn column_loss_matches_pytorch_float64() {
    use mmlsr_model::{burn::tensor::Int, d2s_loss_on_columns};
    let path = crate::common::fixture("d2s_grad.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Default::default();
    for c in fixture["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let u = |k: &str| c[k].as_u64().unwrap() as usize;
        let (b, d, h, v) = (u("batch"), u("d_input"), u("d_hidden"), u("vocab"));
        let head = fixture_head(c, &device);
        let cols: Vec<i64> = (0..v as i64).rev().collect();
        let mask_full = floats(&c["mask"]);
        let mask: Vec<f32> = (0..b)
            .flat_map(|r| cols.iter().map(move |&k| (r, k)))
            .map(|(r, k)| mask_full[r * v + k as usize])
            .collect();
        let t2 =
            |k: &str| Tensor::<B, 2>::from_data(TensorData::new(floats(&c[k]), [b, d]), &device);
        let (z_t, z_i) = (t2("dense_text"), t2("dense_image"));
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(cols.clone(), [v]), &device);
        let s_t = head.forward_columns(z_t.clone(), idx.clone())
            * Tensor::<B, 2>::from_data(TensorData::new(mask, [b, v]), &device);
        let s_i = head.forward(z_i.clone());
        let (config, weights) = fixture_loss(c);
        let parts = d2s_loss_on_columns(
            s_t,
            s_i.clone().select(1, idx),
            s_i,
            z_t,
            z_i,
            &config,
            weights,
        );
        let want_total = c["loss"]["total"].as_f64().unwrap();
        check(
            &format!("{name}: column loss"),
            &host(parts.total.clone().inner()),
            &[want_total],
            1e-4,
            1e-6,
        );
        let grads = parts.total.backward();
        let g = &c["grads"];
        let want = |k: &str| -> Vec<f64> { floats64(&g[k]) };
        let got = head_grads(&head, &grads);
        let scale = |x: &[f64]| x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for ((k, got), (pk, shape)) in got.into_iter().zip([
            ("proj.weight", Some((d, h))),
            ("proj.bias", None),
            ("vocab_layer_norm.weight", None),
            ("vocab_layer_norm.bias", None),
            ("vocab_projector.weight", Some((h, v))),
            ("vocab_projector.bias", None),
        ]) {
            let got = match shape {
                Some((r, cc)) => transpose(got, r, cc),
                None => got,
            };
            let w = want(pk);
            check(
                &format!("{name}: column grad {k}"),
                &got,
                &w,
                1e-3,
                1e-4 * scale(&w).max(1e-6),
            );
        }
    }
}

/// A small deterministic generator for the tests below (no extra dependency).
fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// `train_step` with `text_columns` (the sparse-aware step) equals the unoptimised step —
/// every caption vector computed over all |V| columns and multiplied by the dense mask — in
/// its loss parts, its gradients, and the parameters after three AdamW updates, when each
/// caption is restricted to its own terms (the exp=0 case), with either regulariser.
#[test]
fn sparse_aware_step_equals_the_unoptimised_step() {
    use mmlsr_model::{
        HeadOptimizer, OptimConfig, StepInput, burn::tensor::Int, d2s_loss_on_columns, train_step,
    };
    let device = Default::default();
    let (n, d, h, v) = (12usize, 8usize, 16usize, 60usize);
    let mut seed = 7u64;
    // Own terms: 2–4 per caption among the first 40 columns, so 20 columns stay unused.
    let own: Vec<Vec<u32>> = (0..n)
        .map(|r| {
            let mut t: Vec<u32> = (0..2 + r % 3)
                .map(|i| ((r * 13 + i * 7) % 40) as u32)
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        })
        .collect();
    let mut columns: Vec<u32> = own.iter().flatten().copied().collect();
    columns.sort_unstable();
    columns.dedup();
    assert!(columns.len() < v / 2 + 10 && columns.len() > 5);
    let mut full_mask = vec![0.0f32; n * v];
    let mut narrow_mask = vec![0.0f32; n * columns.len()];
    for (r, terms) in own.iter().enumerate() {
        for &t in terms {
            full_mask[r * v + t as usize] = 1.0;
            narrow_mask[r * columns.len() + columns.binary_search(&t).unwrap()] = 1.0;
        }
    }
    for regulariser in [Regulariser::L1, Regulariser::Flops] {
        let text: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
        let image: Vec<f32> = (0..n * d).map(|_| lcg(&mut seed)).collect();
        let wv: Vec<f32> = (0..v * h).map(|_| lcg(&mut seed) * 0.5).collect();
        let new_head = || {
            SparseHeadConfig::new(d, v)
                .with_d_hidden(h)
                .init::<B>(Some(&wv), 3, &device)
                .unwrap()
        };
        let loss = LossConfig {
            temperature: 0.05,
            q_reg: 0.0,
            d_reg: 0.0,
            regulariser,
        };
        let weights = RegWeights {
            text: 0.3,
            image: 0.2,
        };
        let t2 = |x: &[f32], cols: usize| {
            Tensor::<B, 2>::from_data(TensorData::new(x.to_vec(), [n, cols]), &device)
        };

        // Loss parts and gradients of one pass.
        let head = new_head();
        let s_t = head.forward(t2(&text, d)) * t2(&full_mask, v);
        let s_i = head.forward(t2(&image, d));
        let full = d2s_loss(s_t, s_i, t2(&text, d), t2(&image, d), &loss, weights);
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                columns.iter().map(|&c| i64::from(c)).collect::<Vec<_>>(),
                [columns.len()],
            ),
            &device,
        );
        let s_t = head.forward_columns(t2(&text, d), idx.clone()) * t2(&narrow_mask, columns.len());
        let s_i = head.forward(t2(&image, d));
        let narrow = d2s_loss_on_columns(
            s_t,
            s_i.clone().select(1, idx),
            s_i,
            t2(&text, d),
            t2(&image, d),
            &loss,
            weights,
        );
        for (part, a, b) in [
            ("total", &full.total, &narrow.total),
            ("distill", &full.distill, &narrow.distill),
            ("reg_text", &full.reg_text, &narrow.reg_text),
            ("reg_image", &full.reg_image, &narrow.reg_image),
        ] {
            let (a, b) = (host(a.clone().inner()), host(b.clone().inner()));
            check(&format!("{regulariser:?} {part}"), &b, &a, 1e-5, 1e-7);
        }
        assert!(host(full.reg_text.clone().inner())[0] > 0.0);
        let g_full = head_grads(&head, &full.total.backward());
        let g_narrow = head_grads(&head, &narrow.total.backward());
        for ((k, a), (_, b)) in g_full.iter().zip(&g_narrow) {
            let atol = 1e-6 * a.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-9);
            check(&format!("{regulariser:?} grad {k}"), b, a, 1e-4, atol);
        }
        // The unused columns get gradient from the image side only, in both.
        let unused = (0..v as u32)
            .find(|c| columns.binary_search(c).is_err())
            .unwrap();
        assert!(g_full[5].1[unused as usize] != 0.0);

        // Three full training steps (AdamW, both parameter groups).
        let run = |sparse: bool| {
            let mut head = new_head();
            let mut optim = HeadOptimizer::<B>::new(OptimConfig::default());
            let mut losses = Vec::new();
            for _ in 0..3 {
                let (next, out) = train_step(
                    head,
                    &mut optim,
                    StepInput {
                        dense_text: t2(&text, d),
                        dense_image: t2(&image, d),
                        mask: Some(if sparse {
                            t2(&narrow_mask, columns.len())
                        } else {
                            t2(&full_mask, v)
                        }),
                        text_columns: sparse.then(|| columns.clone()),
                    },
                    &loss,
                    weights,
                    1.0,
                );
                head = next;
                losses.push(host(out.parts.total.inner())[0]);
            }
            (head.to_host(), losses)
        };
        let (params_full, losses_full) = run(false);
        let (params_sparse, losses_sparse) = run(true);
        check(
            &format!("{regulariser:?} step losses"),
            &losses_sparse,
            &losses_full,
            1e-5,
            1e-7,
        );
        for (a, b) in params_full.iter().zip(&params_sparse) {
            let to64 = |t: &HostTensor| t.data.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
            check(
                &format!("{regulariser:?} after 3 steps: {}", a.name),
                &to64(b),
                &to64(a),
                1e-4,
                1e-6,
            );
        }
    }
}

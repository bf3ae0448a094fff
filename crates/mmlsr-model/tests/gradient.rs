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
        let head = SparseHeadConfig::new(d, v)
            .with_d_hidden(h)
            .from_host::<B>(tensors, &device)
            .unwrap();
        let t2 = |k: &str, cols: usize| {
            Tensor::<B, 2>::from_data(TensorData::new(floats(&c[k]), [b, cols]), &device)
        };
        let (z_t, z_i, mask) = (t2("dense_text", d), t2("dense_image", d), t2("mask", v));
        let config = LossConfig {
            temperature: c["temperature"].as_f64().unwrap(),
            q_reg: 0.0,
            d_reg: 0.0,
            regulariser: match c["regulariser"].as_str().unwrap() {
                "l1" => Regulariser::L1,
                _ => Regulariser::Flops,
            },
        };
        let s_t = head.forward(z_t.clone()) * mask;
        let s_i = head.forward(z_i.clone());
        let parts = d2s_loss(
            s_t,
            s_i,
            z_t,
            z_i,
            &config,
            RegWeights {
                text: c["q_weight"].as_f64().unwrap(),
                image: c["d_weight"].as_f64().unwrap(),
            },
        );
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
        let want = |k: &str| -> Vec<f64> {
            g[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
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

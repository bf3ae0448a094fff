//! Gradient check of the joint sparse–dense loss: the loss parts and the gradients of both
//! projections, every head parameter and τ equal an independent PyTorch float64
//! re-computation, for the released switches, a detached teacher, the transposed text→image
//! teacher, the paper's constant factors and the no-self-distillation ablation.
//!
//! Fixture: `tests/data/joint_grad.json`, regenerated with
//! `python3 scripts/joint_grad_fixture.py` (needs torch).

use mmlsr_model::{
    HostTensor, JointLossConfig, JointLossForm, JointModel, RegWeights, SparseHeadConfig,
    TextToImageTeacher,
    burn::tensor::{Tensor, TensorData},
    joint_loss,
};
use mmlsr_store::{Linear, Projections};
use serde_json::Value;

use crate::common::{B, check, floats, host, transpose};

#[test]
fn joint_gradient_matches_pytorch_float64() {
    let path = crate::common::fixture("joint_grad.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let device = Default::default();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let u = |k: &str| c[k].as_u64().unwrap() as usize;
        let f = |k: &str| c[k].as_f64().unwrap();
        let (b, df, d, h, v) = (
            u("batch"),
            u("d_feature"),
            u("d_embed"),
            u("d_hidden"),
            u("vocab"),
        );
        assert!(
            f("min_abs_preactivation") > 1e-3,
            "{name}: too close to relu's kink"
        );
        let p = &c["params"];
        let data = |k: &str| floats(&p[k]["data"]);
        let linear = |k: &str| Linear {
            in_dim: df,
            out_dim: d,
            weight: data(&format!("{k}.weight")),
            bias: data(&format!("{k}.bias")),
        };
        let projections = Projections {
            text: linear("text_proj"),
            vision: linear("vision_proj"),
        };
        let head_tensors = [
            ("proj.weight", vec![h, d]),
            ("proj.bias", vec![h]),
            ("vocab_layer_norm.weight", vec![h]),
            ("vocab_layer_norm.bias", vec![h]),
            ("vocab_projector.weight", vec![v, h]),
        ]
        .into_iter()
        .map(|(k, s)| HostTensor::new(k, s, data(k)))
        .collect();
        let head = SparseHeadConfig::new(d, v)
            .with_d_hidden(h)
            .with_layer_norm_epsilon(1e-5)
            .with_vocab_bias(false)
            .from_host::<B>(head_tensors, &device)
            .unwrap();
        let tau = data("tau")[0] as f64;
        let model = JointModel::<B>::new(&projections, head, tau, &device).unwrap();
        let config = JointLossConfig {
            w1: f("w1"),
            w2: f("w2"),
            lambda1: f("lambda1"),
            lambda2: f("lambda2"),
            q_reg: f("q_weight"),
            d_reg: f("d_weight"),
            self_distillation: c["self_distillation"].as_bool().unwrap(),
            detach_teacher: c["detach_teacher"].as_bool().unwrap(),
            t2i_teacher: match c["t2i_teacher"].as_str().unwrap() {
                "untransposed" => TextToImageTeacher::Untransposed,
                _ => TextToImageTeacher::Transposed,
            },
            form: match c["form"].as_str().unwrap() {
                "released" => JointLossForm::Released,
                _ => JointLossForm::Paper,
            },
        };
        let feats =
            |k: &str| Tensor::<B, 2>::from_data(TensorData::new(floats(&c[k]), [b, df]), &device);
        let t = model.encode_text(feats("text_features"));
        let i = model.encode_image(feats("image_features"));
        let parts = joint_loss(
            &t,
            &i,
            model.tau.val(),
            &config,
            RegWeights {
                text: config.q_reg,
                image: config.d_reg,
            },
        );
        let loss = &c["loss"];
        for (part, x) in [
            ("total", parts.total.clone()),
            ("contrastive", parts.contrastive.clone()),
            ("distill", parts.distill.clone()),
            ("reg_text", parts.reg_text.clone()),
            ("reg_image", parts.reg_image.clone()),
        ] {
            check(
                &format!("{name}: loss {part}"),
                &host(x.inner()),
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
        let g2 = |t: Tensor<B, 2>| host(t.grad(&grads).unwrap());
        let g1 = |t: Tensor<B, 1>| host(t.grad(&grads).unwrap());
        let m = &model;
        // Burn stores Linear weights [in, out]; PyTorch [out, in].
        let got = [
            (
                "text_proj.weight",
                transpose(g2(m.text_proj.weight.val()), df, d),
            ),
            (
                "text_proj.bias",
                g1(m.text_proj.bias.as_ref().unwrap().val()),
            ),
            (
                "vision_proj.weight",
                transpose(g2(m.vision_proj.weight.val()), df, d),
            ),
            (
                "vision_proj.bias",
                g1(m.vision_proj.bias.as_ref().unwrap().val()),
            ),
            ("proj.weight", transpose(g2(m.head.proj.weight.val()), d, h)),
            ("proj.bias", g1(m.head.proj.bias.as_ref().unwrap().val())),
            ("vocab_layer_norm.weight", g1(m.head.norm.gamma.val())),
            (
                "vocab_layer_norm.bias",
                g1(m.head.norm.beta.as_ref().unwrap().val()),
            ),
            (
                "vocab_projector.weight",
                transpose(g2(m.head.vocab.weight.val()), h, v),
            ),
            ("tau", g1(m.tau.val())),
        ];
        assert!(
            m.head.vocab.bias.is_none(),
            "weight-tied projector has no bias"
        );
        let scale = |x: &[f64]| x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (k, got) in got {
            let want = want(k);
            // f32 against f64: relative 1e-3, absolute 1e-4 of the tensor's largest entry.
            let atol = 1e-4 * scale(&want).max(1e-6);
            check(&format!("{name}: grad {k}"), &got, &want, 1e-3, atol);
        }
    }
}

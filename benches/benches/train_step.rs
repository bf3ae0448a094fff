//! One D2S training step at the released batch size (512 aligned caption–image pairs,
//! 256-d inputs, 768 hidden, |V| outputs): both towers through the shared head, the dense
//! teacher, soft cross-entropy both ways, L1, backward, and the two AdamW updates.
//! Measured for the synthetic vocabulary (571 terms) and BERT's (30,522), unrestricted and
//! with every caption restricted to its own terms (full-width and sparse-aware steps).
//!
//! `train_step` is timed as a library caller sees it, without `FlushDenormals`, and (the
//! `_flush_denormals` rows) as the trainer runs it, with the guard held.
//!
//! The joint sparse–dense step (`joint_batch256_V…`: batch 256, 768-d pre-projection features
//! through `text_proj`/`vision_proj` to 256-d, the shared head, the released blip-coco loss,
//! one AdamW group with clipping) is timed with the guard held, as the trainer runs it; in
//! PyTorch: `python3 scripts/bench_joint_step.py`.
//!
//! `cargo bench -p mmlsr-benches --bench train_step`; the same step in PyTorch:
//! `python3 scripts/bench_d2s_step.py` (prints steps/s for the same shapes). With `--features
//! tch` the unrestricted step is also timed on Burn's LibTorch backend (`tch_` rows).

use criterion::{Criterion, criterion_group, criterion_main};
use mmlsr_benches::unit_rows;
use mmlsr_model::{
    FlushDenormals, HeadOptimizer, JointModel, JointOptimizer, JointTrainConfig, LossConfig,
    OptimConfig, RegWeights, SparseHead, SparseHeadConfig, StepInput,
    burn::{
        backend::{Autodiff, Flex},
        tensor::{Tensor, TensorData, backend::AutodiffBackend},
    },
    d2s_loss, joint_train_step, train_step,
};
use rand::{Rng, SeedableRng};

type B = Autodiff<Flex>;

/// One `train_step` at the released loss settings (η = 1e-3 both sides), replacing `head` by
/// the updated one; returns the loss, read so that the step has certainly run.
fn step<B: AutodiffBackend>(
    head: &mut Option<SparseHead<B>>,
    optim: &mut HeadOptimizer<B>,
    input: StepInput<B>,
) -> TensorData {
    let eta = RegWeights {
        text: 1e-3,
        image: 1e-3,
    };
    let (next, out) = train_step(
        head.take().expect("head"),
        optim,
        input,
        &LossConfig::default(),
        eta,
        1.0,
    );
    *head = Some(next);
    out.parts.total.into_data()
}

/// [`step`] on a batch whose captions may use every column (no mask).
fn unrestricted_step<B: AutodiffBackend>(
    head: &mut Option<SparseHead<B>>,
    optim: &mut HeadOptimizer<B>,
    zt: &Tensor<B, 2>,
    zi: &Tensor<B, 2>,
) -> TensorData {
    step(
        head,
        optim,
        StepInput {
            dense_text: zt.clone(),
            dense_image: zi.clone(),
            mask: None,
            text_columns: None,
        },
    )
}

fn bench(c: &mut Criterion) {
    let (batch, d, h) = (512usize, 256usize, 768usize);
    let device = Default::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let text = unit_rows(batch, d, &mut rng);
    let image = unit_rows(batch, d, &mut rng);
    let mut group = c.benchmark_group("d2s_train_step");
    group.sample_size(10);
    for vocab in [571usize, 30_522] {
        let mut head = Some(
            SparseHeadConfig::new(d, vocab)
                .with_d_hidden(h)
                .init::<B>(None, 7, &device)
                .expect("valid head"),
        );
        let mut optim = HeadOptimizer::<B>::new(OptimConfig::default());
        let loss = LossConfig::default();
        let eta = RegWeights {
            text: 1e-3,
            image: 1e-3,
        };
        let zt = Tensor::<B, 2>::from_data(TensorData::new(text.clone(), [batch, d]), &device);
        let zi = Tensor::<B, 2>::from_data(TensorData::new(image.clone(), [batch, d]), &device);
        if vocab > 10_000 {
            group.measurement_time(std::time::Duration::from_secs(40));
        }
        for flush in [false, true] {
            let name = if flush {
                format!("batch512_V{vocab}_flush_denormals")
            } else {
                format!("batch512_V{vocab}")
            };
            // The trainer's setting: subnormals count as zero while the guard lives.
            let _guard = flush.then(FlushDenormals::new);
            group.bench_function(name, |b| {
                b.iter(|| unrestricted_step(&mut head, &mut optim, &zt, &zi))
            });
        }
        // A batch whose captions are restricted to their own terms (exp=0, and the restricted
        // batches of exp=c): ~10 Zipf-distributed terms per caption. The unoptimised step
        // computes every caption over all |V| columns and multiplies by the mask; the
        // sparse-aware one computes the caption side on the batch's union of terms.
        let own = mmlsr_synth::ZipfTerms::new(vocab).sample(&mut rng, batch, 10);
        let mut columns: Vec<u32> = own.rows().flat_map(|r| r.indices.iter().copied()).collect();
        columns.sort_unstable();
        columns.dedup();
        let mut full_mask = vec![0.0f32; batch * vocab];
        let mut narrow_mask = vec![0.0f32; batch * columns.len()];
        for (r, row) in own.rows().enumerate() {
            for &t in row.indices {
                full_mask[r * vocab + t as usize] = 1.0;
                narrow_mask[r * columns.len() + columns.binary_search(&t).unwrap()] = 1.0;
            }
        }
        eprintln!(
            "|V| = {vocab}: a batch of {batch} captions with 10 own terms each uses {} columns",
            columns.len()
        );
        for sparse in [false, true] {
            let name = if sparse {
                format!("batch512_V{vocab}_own_terms_sparse_aware")
            } else {
                format!("batch512_V{vocab}_own_terms_full_width")
            };
            group.bench_function(name, |b| {
                b.iter(|| {
                    let mask = if sparse {
                        TensorData::new(narrow_mask.clone(), [batch, columns.len()])
                    } else {
                        TensorData::new(full_mask.clone(), [batch, vocab])
                    };
                    step(
                        &mut head,
                        &mut optim,
                        StepInput {
                            dense_text: zt.clone(),
                            dense_image: zi.clone(),
                            mask: Some(Tensor::from_data(mask, &device)),
                            text_columns: sparse.then(|| columns.clone()),
                        },
                    )
                })
            });
        }
        // The same forward and backward pass without the optimiser update, to show where
        // the time goes.
        let h = head.as_ref().expect("head");
        group.bench_function(format!("batch512_V{vocab}_forward_backward"), |b| {
            b.iter(|| {
                let st = h.forward(zt.clone());
                let si = h.forward(zi.clone());
                let parts = d2s_loss(st, si, zt.clone(), zi.clone(), &loss, eta);
                let grads = parts.total.backward();
                h.vocab
                    .weight
                    .val()
                    .grad(&grads)
                    .expect("gradient")
                    .into_data()
            })
        });
    }
    joint_rows(&mut group, &mut rng);
    #[cfg(feature = "tch")]
    tch_rows(&mut group, &text, &image);
    group.finish();
}

/// The joint step ([`joint_train_step`]) at batch 256 with the trainer's settings
/// (`JointTrainConfig::default()`: released blip-coco loss, AdamW 5e-5, clipping at 1.0).
fn joint_rows(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rng: &mut impl Rng,
) {
    let (batch, d_feature, d_embed, h) = (256usize, 768usize, 256usize, 768usize);
    let device = Default::default();
    let config = JointTrainConfig::default();
    let x_t = rows(batch, d_feature, rng);
    let x_i = rows(batch, d_feature, rng);
    let linear = |rng: &mut dyn rand::RngCore| mmlsr_store::Linear {
        in_dim: d_feature,
        out_dim: d_embed,
        weight: (0..d_embed * d_feature)
            .map(|_| rng.random_range(-0.04f32..0.04))
            .collect(),
        bias: vec![0.0; d_embed],
    };
    let projections = mmlsr_store::Projections {
        text: linear(rng),
        vision: linear(rng),
    };
    let _guard = FlushDenormals::new();
    for vocab in [571usize, 30_522] {
        let head = SparseHeadConfig::new(d_embed, vocab)
            .with_d_hidden(h)
            .with_layer_norm_epsilon(config.layer_norm_epsilon)
            .with_vocab_bias(false)
            .init::<B>(None, 7, &device)
            .expect("valid head");
        let mut model = Some(JointModel::new(&projections, head, 0.07, &device).expect("model"));
        let mut optim = JointOptimizer::<B>::new(&config);
        let xt =
            Tensor::<B, 2>::from_data(TensorData::new(x_t.clone(), [batch, d_feature]), &device);
        let xi =
            Tensor::<B, 2>::from_data(TensorData::new(x_i.clone(), [batch, d_feature]), &device);
        let weights = RegWeights {
            text: config.loss.q_reg,
            image: config.loss.d_reg,
        };
        group.bench_function(format!("joint_batch256_V{vocab}_flush_denormals"), |b| {
            b.iter(|| {
                let (next, out) = joint_train_step(
                    model.take().expect("model"),
                    &mut optim,
                    xt.clone(),
                    xi.clone(),
                    &config.loss,
                    weights,
                    1.0,
                );
                model = Some(next);
                out.parts.total.into_data()
            })
        });
    }
}

/// `n × d` values in [-1, 1) (pre-projection features: not normalised).
fn rows(n: usize, d: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The unrestricted step on Burn's LibTorch backend (CPU), same shapes and start.
#[cfg(feature = "tch")]
fn tch_rows(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    text: &[f32],
    image: &[f32],
) {
    use mmlsr_model::burn::backend::{LibTorch, libtorch::LibTorchDevice};
    type T = Autodiff<LibTorch>;
    // Before libtorch's first operation: its OpenMP threads, created then, inherit the
    // flush-to-zero bits of this thread (as PyTorch's after `torch.set_flush_denormal(True)`).
    let _guard = FlushDenormals::new();
    let (batch, d, h) = (512usize, 256usize, 768usize);
    let device = LibTorchDevice::Cpu;
    for vocab in [571usize, 30_522] {
        let mut head = Some(
            SparseHeadConfig::new(d, vocab)
                .with_d_hidden(h)
                .init::<T>(None, 7, &device)
                .expect("valid head"),
        );
        let mut optim = HeadOptimizer::<T>::new(OptimConfig::default());
        let zt = Tensor::<T, 2>::from_data(TensorData::new(text.to_vec(), [batch, d]), &device);
        let zi = Tensor::<T, 2>::from_data(TensorData::new(image.to_vec(), [batch, d]), &device);
        group.bench_function(format!("tch_batch512_V{vocab}_flush_denormals"), |b| {
            b.iter(|| unrestricted_step(&mut head, &mut optim, &zt, &zi))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

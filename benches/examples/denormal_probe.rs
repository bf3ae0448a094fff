//! How much subnormal floats cost a D2S step: four unrestricted steps at batch 512 and
//! |V| = 30,522 from the same start, without and with `FlushDenormals` (which the trainer
//! holds). `cargo run --release -p mmlsr-benches --example denormal_probe [-- flush]`.
use mmlsr_benches::unit_rows;
use mmlsr_model::{
    HeadOptimizer, LossConfig, OptimConfig, RegWeights, SparseHeadConfig, StepInput,
    burn::{
        backend::{Autodiff, Flex},
        tensor::{Tensor, TensorData},
    },
    train_step,
};
use rand::SeedableRng;
type B = Autodiff<Flex>;

fn main() {
    let flush = std::env::args().nth(1).as_deref() == Some("flush");
    let _guard = flush.then(mmlsr_model::FlushDenormals::new);
    let (batch, d, h, vocab) = (512usize, 256usize, 768usize, 30_522usize);
    let device = Default::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let (text, image) = (unit_rows(batch, d, &mut rng), unit_rows(batch, d, &mut rng));
    let mut head = SparseHeadConfig::new(d, vocab)
        .with_d_hidden(h)
        .init::<B>(None, 7, &device)
        .unwrap();
    let mut optim = HeadOptimizer::<B>::new(OptimConfig::default());
    for i in 0..4 {
        let t = std::time::Instant::now();
        let (next, out) = train_step(
            head,
            &mut optim,
            StepInput {
                dense_text: Tensor::from_data(TensorData::new(text.clone(), [batch, d]), &device),
                dense_image: Tensor::from_data(TensorData::new(image.clone(), [batch, d]), &device),
                mask: None,
                text_columns: None,
            },
            &LossConfig::default(),
            RegWeights {
                text: 1e-3,
                image: 1e-3,
            },
            1.0,
        );
        head = next;
        let loss: f32 = out.parts.total.into_data().iter::<f32>().next().unwrap();
        println!(
            "flush={flush} step {i}: {:.3} s, loss {loss}",
            t.elapsed().as_secs_f64()
        );
    }
}

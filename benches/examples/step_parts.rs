//! Where a D2S step's time goes: forward (both towers and the loss), backward, and the two
//! AdamW updates, timed separately at batch 512 (`-- VOCAB`, default 593, the embedded
//! default's vocabulary). `cargo run --release -p mmlsr-benches --example step_parts`.
use mmlsr_benches::unit_rows;
use mmlsr_model::{
    LossConfig, RegWeights, SparseHeadConfig,
    burn::{
        backend::{Autodiff, Flex},
        module::AutodiffModule,
        optim::{AdamWConfig, GradientsParams, Optimizer},
        tensor::{Tensor, TensorData},
    },
    d2s_loss,
};
use rand::SeedableRng;
type B = Autodiff<Flex>;

fn main() {
    let vocab: usize = std::env::args()
        .nth(1)
        .map_or(593, |v| v.parse().expect("VOCAB is a number"));
    let _guard = mmlsr_model::FlushDenormals::new();
    let (batch, d, h) = (512usize, 256usize, 768usize);
    let device = Default::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let (text, image) = (unit_rows(batch, d, &mut rng), unit_rows(batch, d, &mut rng));
    let mut head = SparseHeadConfig::new(d, vocab)
        .with_d_hidden(h)
        .init::<B>(None, 7, &device)
        .unwrap();
    let mut optim = AdamWConfig::new().init::<B, _>();
    let (mut fwd, mut bwd, mut upd, mut inf) = (vec![], vec![], vec![], vec![]);
    for _ in 0..15 {
        let t = std::time::Instant::now();
        let dt = Tensor::<B, 2>::from_data(TensorData::new(text.clone(), [batch, d]), &device);
        let di = Tensor::<B, 2>::from_data(TensorData::new(image.clone(), [batch, d]), &device);
        let st = head.forward(dt.clone());
        let si = head.forward(di.clone());
        let parts = d2s_loss(
            st,
            si,
            dt,
            di,
            &LossConfig::default(),
            RegWeights {
                text: 1e-3,
                image: 1e-3,
            },
        );
        let _ = parts.total.clone().into_data();
        fwd.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        let grads = parts.total.backward();
        let g = GradientsParams::from_grads(grads, &head);
        bwd.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        head = optim.step(1e-4, head, g);
        let _ = head.vocab.weight.val().slice([0..1, 0..1]).into_data();
        upd.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        let inner = head.valid();
        let x = Tensor::from_data(TensorData::new(text.clone(), [batch, d]), &device);
        let _ = inner.forward(x).into_data();
        inf.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 1e3
    };
    println!(
        "|V| {vocab}: forward+loss {:.1} ms, backward {:.1} ms, AdamW {:.1} ms; inference of one tower {:.1} ms",
        median(&mut fwd),
        median(&mut bwd),
        median(&mut upd),
        median(&mut inf)
    );
}

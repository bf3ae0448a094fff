//! Evaluating a text→image run the size of MSCOCO's 5k test set: 25,000 caption queries,
//! top-1000 of 5,000 images each, one relevant image per query.
//!
//! `cargo bench -p mmlsr-benches --bench evaluate`

use criterion::{Criterion, criterion_group, criterion_main};
use mmlsr_core::{Hit, Qrels};
use mmlsr_metrics::{Measure, Run, evaluate};
use rand::{Rng, SeedableRng, seq::index::sample};

fn bench(c: &mut Criterion) {
    let (queries, images, depth) = (25_000usize, 5_000usize, 1_000usize);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let query_ids: Vec<String> = (0..queries).map(|q| q.to_string()).collect();
    let image_ids: Vec<String> = (0..images).map(|i| i.to_string()).collect();
    let mut qrels = Qrels::new();
    let lists: Vec<Vec<Hit>> = (0..queries)
        .map(|q| {
            qrels.insert(query_ids[q].clone(), image_ids[q / 5].clone(), 1);
            sample(&mut rng, images, depth)
                .into_iter()
                .map(|d| Hit::new(d as u32, rng.random_range(0..100) as f32))
                .collect()
        })
        .collect();
    let run = Run::from_ranked_lists(&query_ids, &image_ids, &lists).expect("valid lists");
    let measures: Vec<Measure> = ["R@1", "R@5", "R@10", "R@1000", "RR@10", "nDCG@10"]
        .iter()
        .map(|m| m.parse().expect("measure"))
        .collect();
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(10);
    group.bench_function("25k_queries_top1000_of_5k", |b| {
        b.iter(|| evaluate(&run, &qrels, &measures))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The index's inner loops on a collection the size of MSCOCO (123,287 images) with generated
//! vectors at FLOPs ≈ 12 (BERT's 30,522 terms): posting traversal + accumulation (exhaustive,
//! reported per posting through criterion's element throughput), top-k selection (the same
//! scan at k = 10 and k = 1,000: the difference is the selection), the pruned algorithms and
//! the approximate mode, exhaustive scoring over `u16` impacts, and decoding the file format's
//! bit-packed document ids (per posting). The Table-6 layout with more settings is `mmlsr bench`.
//!
//! `cargo bench -p mmlsr-benches --bench index_search`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmlsr_index::{
    Algorithm, ApproxConfig, ApproxIndex, ApproxParams, ApproxScratch, IndexConfig, InvertedIndex,
    QueryWeights, Scratch,
};
use rand::SeedableRng;

fn bench(c: &mut Criterion) {
    let zipf = mmlsr_synth::ZipfTerms::new(30_522);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let len = zipf.terms_for_flops(12.0);
    let docs = zipf.sample(&mut rng, 123_287, len);
    let queries = zipf.sample(&mut rng, 100, len);
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).expect("index");
    let index16 = InvertedIndex::<u16>::build(&docs, IndexConfig::default()).expect("index");
    let qw16: Vec<QueryWeights> = queries
        .rows()
        .map(|q| index16.quantize_query(q).expect("query"))
        .collect();
    let approx = ApproxIndex::build(&docs, ApproxConfig::default()).expect("approximate index");
    let qw: Vec<QueryWeights> = queries
        .rows()
        .map(|q| QueryWeights::new(q, index.vocab_size()).expect("query"))
        .collect();
    let mut s = Scratch::default();
    let postings: u64 = qw
        .iter()
        .map(|q| {
            index.search(q, 10, Algorithm::Exhaustive, &mut s);
            s.postings_scored
        })
        .sum();
    let mut group = c.benchmark_group("index_123k_flops12_100_queries");
    group.sample_size(10);
    group.throughput(Throughput::Elements(postings));
    for (name, alg, k) in [
        ("exhaustive_k10", Algorithm::Exhaustive, 10),
        ("exhaustive_k1000", Algorithm::Exhaustive, 1000),
        ("maxscore_k10", Algorithm::MaxScore, 10),
        ("blockmax_k10", Algorithm::BlockMax, 10),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for q in &qw {
                    std::hint::black_box(index.search(q, k, alg, &mut s));
                }
            })
        });
    }
    group.bench_function("exhaustive_u16_k10", |b| {
        b.iter(|| {
            for q in &qw16 {
                std::hint::black_box(index16.search(q, 10, Algorithm::Exhaustive, &mut s));
            }
        })
    });
    let mut a = ApproxScratch::default();
    group.bench_function("approximate_k10", |b| {
        b.iter(|| {
            for q in queries.rows() {
                std::hint::black_box(
                    approx
                        .search(q, 10, ApproxParams::default(), &mut a)
                        .expect("query"),
                );
            }
        })
    });
    group.finish();

    // Posting decoding: the on-disk document ids (gaps bit-packed in blocks of 128).
    let mut term_start = vec![0u64];
    let mut all_docs = Vec::new();
    for t in 0..index.vocab_size() as u32 {
        all_docs.extend_from_slice(index.postings(t).0);
        term_start.push(all_docs.len() as u64);
    }
    let packed = mmlsr_index::codec::encode_doc_ids(&term_start, &all_docs);
    eprintln!(
        "packed document ids: {:.2} bytes per posting (plain: 4)",
        packed.len() as f64 / all_docs.len() as f64
    );
    let mut group = c.benchmark_group("index_123k_flops12_decode");
    group.sample_size(10);
    group.throughput(Throughput::Elements(all_docs.len() as u64));
    group.bench_function("decode_doc_ids", |b| {
        b.iter(|| {
            std::hint::black_box(
                mmlsr_index::codec::decode_doc_ids(&term_start, &packed).expect("decodes"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

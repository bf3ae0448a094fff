//! Loading Parquet embedding tables: throughput of `EmbeddingTable::read_parquet` for the
//! schema variants the lsr42 files may use (list<float32>, list<float64>, fixed-size list).
//!
//! `cargo bench -p mmlsr-benches --bench store_load`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmlsr_benches::random_table;
use mmlsr_store::{EmbLayout, EmbeddingTable, FloatType, WriteOptions};

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (rows, dim) = (20_000, 256);
    let table = random_table(rows, dim, 7);
    let mut group = c.benchmark_group("read_parquet_20000x256");
    group.throughput(Throughput::Bytes((rows * dim * 4) as u64));
    group.sample_size(10);
    for (name, layout, float) in [
        ("list_f32", EmbLayout::List, FloatType::F32),
        ("list_f64", EmbLayout::List, FloatType::F64),
        ("fixed_f32", EmbLayout::FixedSizeList, FloatType::F32),
    ] {
        let path = dir.path().join(format!("{name}.parquet"));
        let opts = WriteOptions {
            layout,
            float,
            ..WriteOptions::default()
        };
        table.write_parquet(&path, opts).expect("write");
        group.bench_function(name, |b| {
            b.iter(|| EmbeddingTable::read_parquet(&path, Some(dim)).expect("read"))
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);

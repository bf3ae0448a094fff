//! Integration tests for mmlsr-store: one binary, one module per concern.

mod bert_vocab;
mod dataset;
mod embeddings;
mod sparse;

/// Write an arbitrary record batch to Parquet (to build inputs the store's writer never
/// produces: other id types, bad columns, ragged rows, nulls).
pub fn write_batch(path: &std::path::Path, batch: arrow_array::RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

//! Export to search engines that serve sparse vectors at scale, in their ingest formats:
//!
//! - OpenSearch ≥ 3.3 (`sparse_vector` field, neural sparse ANN search with SEISMIC): the
//!   index-creation body (`index.sparse: true`, the field's `seismic` method), a `_bulk` body
//!   (`create` action, then the document: `{"image_id": id, FIELD: {"<term id>": weight}}`) and
//!   an `_msearch` body of `neural_sparse` queries with `query_tokens`. Token keys are the
//!   vocabulary's term ids as strings, as the `sparse_vector` field requires.
//! - Qdrant (sparse vectors, exact dot-product search): the collection-creation body
//!   (`sparse_vectors: {FIELD: {}}`), one point per line (`{"id": row, "vector": {FIELD:
//!   {"indices", "values"}}, "payload": {"image_id": id}}`, ids are row numbers since Qdrant
//!   ids are integers or UUIDs), and one query per line (`{"query_id", "indices", "values"}`).
//!
//! Request shapes: docs.opensearch.org, "Neural sparse ANN search" and "Sparse vector" (3.3);
//! api.qdrant.tech, "Create collection", "Upsert points", "Query points".

use std::{io::Write, path::Path};

use mmlsr_core::{CsrMatrix, SparseRow};
use serde_json::{Value, json};

use crate::{Error, Result};

/// Names shared by an export's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineNames {
    /// The OpenSearch index or the Qdrant collection.
    pub index: String,
    /// The sparse vector field (OpenSearch) or named sparse vector (Qdrant).
    pub field: String,
}

impl Default for EngineNames {
    fn default() -> Self {
        Self {
            index: "mmlsr-images".into(),
            field: "sparse".into(),
        }
    }
}

fn atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    mmlsr_core::atomic::write_with(path, fill).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn check_ids(what: &str, ids: &[String], m: &CsrMatrix) -> Result<()> {
    if ids.len() != m.n_rows() {
        return Err(Error::Config(format!(
            "{} {what} ids for {} vectors",
            ids.len(),
            m.n_rows()
        )));
    }
    Ok(())
}

/// OpenSearch's `sparse_vector` takes positive weights only: the first other one is an error
/// naming its row.
fn check_positive(what: &str, ids: &[String], m: &CsrMatrix) -> Result<()> {
    for (r, row) in m.rows().enumerate() {
        if let Some((&t, &w)) = row.indices.iter().zip(row.values).find(|(_, w)| **w <= 0.0) {
            return Err(Error::Config(format!(
                "{what} {} (row {r}): term {t} has weight {w}; OpenSearch's sparse_vector takes \
                 positive weights only",
                ids[r]
            )));
        }
    }
    Ok(())
}

/// A weight as the shortest decimal that reads back as the same `f32` (a JSON number holds an
/// `f64`, whose own shortest form of an `f32` has up to 17 digits).
fn weight(w: f32) -> Value {
    w.to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

/// `{"<term id>": weight, ...}` of one row.
fn token_map(row: SparseRow<'_>) -> serde_json::Map<String, Value> {
    row.indices
        .iter()
        .zip(row.values)
        .map(|(t, &w)| (t.to_string(), weight(w)))
        .collect()
}

fn weights(values: &[f32]) -> Value {
    Value::Array(values.iter().map(|&w| weight(w)).collect())
}

/// The largest weight of a matrix, rounded up to two decimals (at least 0.01).
fn ceiling(m: &CsrMatrix) -> f64 {
    let max = m
        .rows()
        .flat_map(|r| r.values.iter().copied())
        .fold(0f32, f32::max) as f64;
    ((max * 100.0).ceil() / 100.0).max(0.01)
}

/// The body of `PUT /<index>` for OpenSearch ≥ 3.3: `index.sparse: true` and a `sparse_vector`
/// field with the `seismic` method, its quantisation ceilings at the documents' and queries'
/// largest weights (OpenSearch's defaults, 3 and 16, would clip larger weights), and an
/// `image_id` keyword field.
pub fn opensearch_index_body(names: &EngineNames, docs: &CsrMatrix, queries: &CsrMatrix) -> Value {
    json!({
        "settings": { "index": { "sparse": true } },
        "mappings": {
            "properties": {
                "image_id": { "type": "keyword" },
                names.field.clone(): {
                    "type": "sparse_vector",
                    "method": {
                        "name": "seismic",
                        "parameters": {
                            "quantization_ceiling_ingest": ceiling(docs),
                            "quantization_ceiling_search": ceiling(queries),
                        }
                    }
                }
            }
        }
    })
}

/// The `POST _bulk` body (NDJSON): per image a `create` action with `_id` = its id, then the
/// document `{"image_id": id, FIELD: {"<term id>": weight}}`.
pub fn write_opensearch_bulk(
    path: &Path,
    names: &EngineNames,
    ids: &[String],
    docs: &CsrMatrix,
) -> Result<()> {
    check_ids("image", ids, docs)?;
    check_positive("image", ids, docs)?;
    atomic(path, |w| {
        for (id, row) in ids.iter().zip(docs.rows()) {
            let action = json!({ "create": { "_index": names.index, "_id": id } });
            let doc = json!({ "image_id": id, names.field.clone(): token_map(row) });
            writeln!(w, "{action}")?;
            writeln!(w, "{doc}")?;
        }
        Ok(())
    })
}

/// The `POST _msearch` body (NDJSON): per caption a header `{"index": INDEX}` and a search of
/// the top `k` images by `neural_sparse` with the caption's `query_tokens` (responses come
/// back in this order: line `2i` is caption `i` of `query_ids`).
pub fn write_opensearch_msearch(
    path: &Path,
    names: &EngineNames,
    query_ids: &[String],
    queries: &CsrMatrix,
    k: usize,
) -> Result<()> {
    check_ids("query", query_ids, queries)?;
    check_positive("query", query_ids, queries)?;
    atomic(path, |w| {
        for row in queries.rows() {
            let header = json!({ "index": names.index });
            let body = json!({
                "size": k,
                "_source": ["image_id"],
                "query": { "neural_sparse": { names.field.clone(): {
                    "query_tokens": token_map(row),
                    "method_parameters": { "k": k },
                } } }
            });
            writeln!(w, "{header}")?;
            writeln!(w, "{body}")?;
        }
        Ok(())
    })
}

/// The body of `PUT /collections/<collection>` for Qdrant: one named sparse vector, no dense
/// vectors.
pub fn qdrant_collection_body(names: &EngineNames) -> Value {
    json!({ "sparse_vectors": { names.field.clone(): {} } })
}

fn sparse_json(row: SparseRow<'_>) -> Value {
    json!({ "indices": row.indices, "values": weights(row.values) })
}

/// Qdrant points, one per line: `{"id": row, "vector": {FIELD: {"indices", "values"}},
/// "payload": {"image_id": id}}` (batch lines into `{"points": [...]}` for `PUT
/// /collections/<collection>/points`).
pub fn write_qdrant_points(
    path: &Path,
    names: &EngineNames,
    ids: &[String],
    docs: &CsrMatrix,
) -> Result<()> {
    check_ids("image", ids, docs)?;
    atomic(path, |w| {
        for (r, (id, row)) in ids.iter().zip(docs.rows()).enumerate() {
            let point = json!({
                "id": r,
                "vector": { names.field.clone(): sparse_json(row) },
                "payload": { "image_id": id },
            });
            writeln!(w, "{point}")?;
        }
        Ok(())
    })
}

/// Qdrant queries, one per line: `{"query_id": id, "indices", "values"}` (the `query` of
/// `POST /collections/<collection>/points/query` with `"using": FIELD`).
pub fn write_qdrant_queries(path: &Path, query_ids: &[String], queries: &CsrMatrix) -> Result<()> {
    check_ids("query", query_ids, queries)?;
    atomic(path, |w| {
        for (id, row) in query_ids.iter().zip(queries.rows()) {
            let q =
                json!({ "query_id": id, "indices": row.indices, "values": weights(row.values) });
            writeln!(w, "{q}")?;
        }
        Ok(())
    })
}

//! The OpenSearch and Qdrant exports against the request shapes their documentation gives
//! (docs.opensearch.org 3.3, "Neural sparse ANN search"; api.qdrant.tech, "Upsert points"):
//! every line parses, actions alternate with documents, term ids are the keys, and the weights
//! read back equal the vectors'.

use mmlsr_core::CsrMatrix;
use mmlsr_index::engines::{
    EngineNames, opensearch_index_body, qdrant_collection_body, write_opensearch_bulk,
    write_opensearch_msearch, write_qdrant_points, write_qdrant_queries,
};
use serde_json::Value;

fn matrix(rows: &[&[(u32, f32)]], cols: usize) -> CsrMatrix {
    let mut m = CsrMatrix::empty(cols);
    for r in rows {
        let (i, v): (Vec<u32>, Vec<f32>) = r.iter().copied().unzip();
        m.push_row(&i, &v).unwrap();
    }
    m
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn opensearch_bulk_msearch_and_mapping_have_the_documented_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let docs = matrix(&[&[(3, 0.5), (17, 4.25)], &[], &[(0, 1e-3)]], 20);
    let queries = matrix(&[&[(17, 2.0), (19, 0.125)]], 20);
    let ids: Vec<String> = ["img-a", "img \"b\"", "c"].map(String::from).to_vec();
    let names = EngineNames::default();
    let bulk = dir.path().join("bulk.ndjson");
    write_opensearch_bulk(&bulk, &names, &ids, &docs).unwrap();
    let l = lines(&bulk);
    assert_eq!(l.len(), 6);
    for (r, pair) in l.chunks(2).enumerate() {
        assert_eq!(pair[0]["create"]["_index"], "mmlsr-images");
        assert_eq!(pair[0]["create"]["_id"], ids[r].as_str());
        assert_eq!(pair[1]["image_id"], ids[r].as_str());
        let map = pair[1]["sparse"].as_object().unwrap();
        let row = docs.row(r);
        assert_eq!(map.len(), row.nnz());
        for (t, w) in row.indices.iter().zip(row.values) {
            assert_eq!(map[&t.to_string()].as_f64().unwrap() as f32, *w);
        }
    }
    let msearch = dir.path().join("queries.ndjson");
    let qids = vec!["q1".to_string()];
    write_opensearch_msearch(&msearch, &names, &qids, &queries, 10).unwrap();
    let l = lines(&msearch);
    assert_eq!(l[0]["index"], "mmlsr-images");
    let ns = &l[1]["query"]["neural_sparse"]["sparse"];
    assert_eq!(ns["query_tokens"]["17"], 2.0);
    assert_eq!(ns["query_tokens"]["19"], 0.125);
    assert_eq!(ns["method_parameters"]["k"], 10);
    assert_eq!(l[1]["size"], 10);
    let body = opensearch_index_body(&names, &docs, &queries);
    assert_eq!(body["settings"]["index"]["sparse"], true);
    let field = &body["mappings"]["properties"]["sparse"];
    assert_eq!(field["type"], "sparse_vector");
    assert_eq!(field["method"]["name"], "seismic");
    // Ceilings at the largest weights, so that nothing is clipped on ingest or search.
    assert_eq!(
        field["method"]["parameters"]["quantization_ceiling_ingest"],
        4.25
    );
    assert_eq!(
        field["method"]["parameters"]["quantization_ceiling_search"],
        2.0
    );
    assert_eq!(
        body["mappings"]["properties"]["image_id"]["type"],
        "keyword"
    );
    // A weight OpenSearch would reject is an error naming the image; so is a wrong id count.
    let bad = matrix(&[&[(1, 1.0)], &[(2, -0.5)]], 20);
    let two: Vec<String> = ["x", "y"].map(String::from).to_vec();
    let e = write_opensearch_bulk(&bulk, &names, &two, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("image y (row 1)") && e.contains("-0.5"), "{e}");
    assert!(write_opensearch_bulk(&bulk, &names, &two, &docs).is_err());
}

#[test]
fn qdrant_points_and_queries_have_the_documented_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let docs = matrix(&[&[(3, 0.5), (17, 4.25)], &[(0, 1e-3)]], 20);
    let ids: Vec<String> = ["a", "b"].map(String::from).to_vec();
    let names = EngineNames {
        index: "coll".into(),
        field: "text".into(),
    };
    let points = dir.path().join("points.jsonl");
    write_qdrant_points(&points, &names, &ids, &docs).unwrap();
    let l = lines(&points);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["id"], 0);
    assert_eq!(l[1]["payload"]["image_id"], "b");
    assert_eq!(
        l[0]["vector"]["text"]["indices"],
        serde_json::json!([3, 17])
    );
    assert_eq!(
        l[0]["vector"]["text"]["values"],
        serde_json::json!([0.5, 4.25])
    );
    let queries = dir.path().join("queries.jsonl");
    write_qdrant_queries(&queries, &["q".to_string()], &docs.clone()).unwrap_err();
    write_qdrant_queries(&queries, &ids, &docs).unwrap();
    assert_eq!(lines(&queries)[1]["query_id"], "b");
    assert_eq!(
        qdrant_collection_body(&names),
        serde_json::json!({ "sparse_vectors": { "text": {} } })
    );
}

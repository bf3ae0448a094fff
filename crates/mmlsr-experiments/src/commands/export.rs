//! `mmlsr export`: an `mmlsr encode` folder in the ingest formats of other engines.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mmlsr_index::{
    IndexConfig, InvertedIndex,
    engines::{self, EngineNames},
    write_jsonl,
};
use mmlsr_store::{SparseTable, Vocabulary};

/// Export the image and caption vectors of an `mmlsr encode` folder for another engine
/// (docs/scale-out.md has the commands that serve them):
///
/// - `opensearch` (≥ 3.3, `sparse_vector` with SEISMIC): `index.json` (the `PUT /INDEX` body),
///   `bulk.ndjson` (the `POST _bulk` body) and `msearch.ndjson` (the captions as `POST
///   _msearch` `neural_sparse` queries, top `--k`; `query_ids.txt` names them in order);
/// - `qdrant`: `collection.json` (the `PUT /collections/INDEX` body), `points.jsonl` (one point
///   per image, id = row, payload `image_id`) and `queries.jsonl`;
/// - `jsonl`: `docs.jsonl` for Seismic / Anserini (`{"id", "vector": {token: weight}}`);
/// - `ciff`: `index.ciff` (u8 impacts) for PISA, BMP and Anserini.
///
/// OpenSearch and Qdrant key terms by vocabulary id; `jsonl` and `ciff` name them by token and
/// need `--data` for the vocabulary. Every file is written atomically.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder written by `mmlsr encode` (`img_sparse.parquet`, `text_sparse.parquet`).
    pub encoded: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Target engine or format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// OpenSearch index / Qdrant collection name.
    #[arg(long, default_value = "mmlsr-images")]
    pub index: String,
    /// Sparse vector field (OpenSearch) or named sparse vector (Qdrant).
    #[arg(long, default_value = "sparse")]
    pub field: String,
    /// Images per caption in the OpenSearch queries.
    #[arg(long, default_value_t = 10, value_parser = crate::values::positive)]
    pub k: usize,
    /// The data folder (its vocabulary names the terms of `jsonl` and `ciff`).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// What `mmlsr export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// OpenSearch ≥ 3.3: index body, `_bulk` and `_msearch` NDJSON.
    Opensearch,
    /// Qdrant: collection body, points and queries as JSON lines.
    Qdrant,
    /// Seismic / Anserini JSON lines.
    Jsonl,
    /// Common Index File Format.
    Ciff,
}

fn ids(table: &SparseTable) -> Vec<String> {
    (0..table.matrix.n_rows())
        .map(|r| table.ids.id(r).to_string())
        .collect()
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    crate::integrity::verify(&args.encoded, "encoded vectors")?;
    let read = |name: &str, vocab: Option<usize>| {
        let path = args.encoded.join(name);
        SparseTable::read_parquet(&path, vocab)
            .with_context(|| format!("reading {}", path.display()))
    };
    let docs = read("img_sparse.parquet", None)?;
    let vocab_size = docs.matrix.n_cols();
    let queries = read("text_sparse.parquet", Some(vocab_size))?;
    let (doc_ids, query_ids) = (ids(&docs), ids(&queries));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = |f: &str| args.out.join(f);
    let names = EngineNames {
        index: args.index.clone(),
        field: args.field.clone(),
    };
    let json = |v: &serde_json::Value| -> anyhow::Result<Vec<u8>> {
        let mut b = serde_json::to_vec_pretty(v)?;
        b.push(b'\n');
        Ok(b)
    };
    let written: Vec<&str> = match args.format {
        ExportFormat::Opensearch => {
            let body = engines::opensearch_index_body(&names, &docs.matrix, &queries.matrix);
            mmlsr_store::atomic_write_bytes(&out("index.json"), &json(&body)?)?;
            engines::write_opensearch_bulk(&out("bulk.ndjson"), &names, &doc_ids, &docs.matrix)?;
            engines::write_opensearch_msearch(
                &out("msearch.ndjson"),
                &names,
                &query_ids,
                &queries.matrix,
                args.k,
            )?;
            let mut text = query_ids.join("\n");
            text.push('\n');
            mmlsr_store::atomic_write_bytes(&out("query_ids.txt"), text.as_bytes())?;
            vec![
                "index.json",
                "bulk.ndjson",
                "msearch.ndjson",
                "query_ids.txt",
            ]
        }
        ExportFormat::Qdrant => {
            let body = engines::qdrant_collection_body(&names);
            mmlsr_store::atomic_write_bytes(&out("collection.json"), &json(&body)?)?;
            engines::write_qdrant_points(&out("points.jsonl"), &names, &doc_ids, &docs.matrix)?;
            engines::write_qdrant_queries(&out("queries.jsonl"), &query_ids, &queries.matrix)?;
            vec!["collection.json", "points.jsonl", "queries.jsonl"]
        }
        ExportFormat::Jsonl | ExportFormat::Ciff => {
            let data = args.data.as_ref().with_context(
                || "--format jsonl and ciff need --data (the vocabulary names the terms)",
            )?;
            let vocab = Vocabulary::from_dir(data)?;
            anyhow::ensure!(
                vocab.len() == vocab_size,
                "{}: vocabulary of {} terms, the vectors have {vocab_size}",
                data.display(),
                vocab.len(),
            );
            let tokens = vocab.tokens()?;
            if args.format == ExportFormat::Jsonl {
                write_jsonl(&out("docs.jsonl"), &doc_ids, &docs.matrix, &tokens)?;
                vec!["docs.jsonl"]
            } else {
                let index = InvertedIndex::<u8>::build(&docs.matrix, IndexConfig::default())?;
                index.write_ciff(
                    &out("index.ciff"),
                    &doc_ids,
                    &tokens,
                    &format!("mmlsr export of {}", args.encoded.display()),
                )?;
                vec!["index.ciff"]
            }
        }
    };
    println!(
        "exported {} images and {} captions (|V| = {vocab_size}) → {}: {}",
        doc_ids.len(),
        query_ids.len(),
        args.out.display(),
        written.join(", ")
    );
    Ok(())
}

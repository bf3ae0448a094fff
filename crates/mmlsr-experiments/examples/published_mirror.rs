//! Write the four synthetic data folders as the real data is published, for the real-data
//! rehearsal (`scripts/rehearse_real_data.sh`): a static mirror of the Hugging Face hub that
//! `python3 -m http.server` can serve to `mmlsr fetch` (HF_ENDPOINT), plus holi-lab's
//! pre-projection files and the dense models' projections as a download would leave them.
//!
//! ```text
//! cargo run --release -p mmlsr-experiments --example published_mirror -- SYNTH_DIR MIRROR_DIR
//! ```
//!
//! SYNTH_DIR holds `synth-{coco,flickr}-{strong,weak}` (`mmlsr synth`). MIRROR_DIR gets
//! * `api/datasets/lsr42/<name>/tree/main` (the listing JSON: size, git blob SHA-1, LFS
//!   SHA-256) and `datasets/lsr42/<name>/resolve/main/{dataset_meta.json, img_embs.parquet,
//!   text_embs.parquet}` for `mscoco-blip-dense` (from synth-coco-strong), `mscoco-albef-dense`
//!   (synth-coco-weak), `flickr30k-blip-dense`, `flickr30k-albef-dense`: utf8 `id`,
//!   float64 `list<double>` `emb` (256-d), Karpathy metadata with integer ids, `sentids`,
//!   `filepath`/`cocoid` for MSCOCO and the `restval` split;
//! * `api/models/bert-base-uncased/tree/main` and `bert-base-uncased/resolve/main/{vocab.txt,
//!   config.json, model.safetensors}` (the synthetic vocabulary's word vectors under BERT's
//!   tensor name `bert.embeddings.word_embeddings.weight`, next to another tensor);
//! * `holi-lab/<name>/{img,text}_embs_before_proj_<backbone>.parquet` (768-d, float64);
//! * `projections/<name>.safetensors`: the dense model's `text_proj`/`vision_proj`, which the
//!   rehearsal wraps in a BLIP-style .pth for `scripts/export_projections.py`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mmlsr_store::{EmbeddingTable, FloatType, WordVectors, WriteOptions};
use sha1::Digest as _;

const FOLDERS: [(&str, &str, &str, &str); 4] = [
    ("synth-coco-strong", "mscoco-blip-dense", "mscoco", "blip"),
    ("synth-coco-weak", "mscoco-albef-dense", "mscoco", "albef"),
    (
        "synth-flickr-strong",
        "flickr30k-blip-dense",
        "flickr30k",
        "blip",
    ),
    (
        "synth-flickr-weak",
        "flickr30k-albef-dense",
        "flickr30k",
        "albef",
    ),
];

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [synth, mirror] = args.as_slice() else {
        anyhow::bail!("usage: published_mirror SYNTH_DIR MIRROR_DIR");
    };
    let published = WriteOptions {
        float: FloatType::F64,
        ..WriteOptions::default()
    };
    for (src, name, dataset, backbone) in FOLDERS {
        let src = synth.join(src);
        let repo = format!("lsr42/{name}");
        let resolve = mirror.join("datasets").join(&repo).join("resolve/main");
        std::fs::create_dir_all(&resolve)?;
        let mut files = Vec::new();
        std::fs::write(
            resolve.join("dataset_meta.json"),
            karpathy_meta(&src, dataset)?,
        )?;
        files.push(("dataset_meta.json", false));
        for table in ["img_embs.parquet", "text_embs.parquet"] {
            EmbeddingTable::read_parquet(&src.join(table), None)?
                .write_parquet(&resolve.join(table), published)?;
            files.push((table, true));
        }
        write_listing(mirror, &format!("api/datasets/{repo}"), &resolve, &files)?;

        let holi = mirror.join("holi-lab").join(name);
        std::fs::create_dir_all(&holi)?;
        for side in ["img", "text"] {
            EmbeddingTable::read_parquet(
                &src.join(format!("{side}_embs_before_proj.parquet")),
                None,
            )?
            .write_parquet(
                &holi.join(format!("{side}_embs_before_proj_{backbone}.parquet")),
                published,
            )?;
        }
        let proj = mirror.join("projections");
        std::fs::create_dir_all(&proj)?;
        std::fs::copy(
            src.join("projections.safetensors"),
            proj.join(format!("{name}.safetensors")),
        )?;
    }

    // bert-base-uncased: the (shared) synthetic vocabulary and word vectors.
    let src = synth.join(FOLDERS[0].0);
    let resolve = mirror.join("bert-base-uncased/resolve/main");
    std::fs::create_dir_all(&resolve)?;
    std::fs::copy(src.join("vocab.txt"), resolve.join("vocab.txt"))?;
    std::fs::write(resolve.join("config.json"), b"{\"model_type\": \"bert\"}\n")?;
    let wv = WordVectors::read(&src.join("word_vectors.safetensors"))?;
    mmlsr_store::write_tensors_f32(
        &resolve.join("model.safetensors"),
        &[
            (
                "bert.embeddings.word_embeddings.weight",
                &[wv.vocab_size, wv.dim],
                &wv.data,
            ),
            (
                "bert.embeddings.LayerNorm.weight",
                &[wv.dim],
                &vec![1.0; wv.dim],
            ),
        ],
    )?;
    write_listing(
        mirror,
        "api/models/bert-base-uncased",
        &resolve,
        &[
            ("vocab.txt", false),
            ("config.json", false),
            ("model.safetensors", true),
        ],
    )?;
    println!("{}", mirror.display());
    Ok(())
}

/// The synthetic metadata with the fields Karpathy's `dataset_{coco,flickr30k}.json` also has
/// (`sentids`, each sentence's `imgid`; `filepath` and `cocoid` for MSCOCO).
fn karpathy_meta(src: &Path, dataset: &str) -> anyhow::Result<Vec<u8>> {
    let path = src.join("dataset_meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| path.display().to_string())?;
    meta["dataset"] = serde_json::json!(if dataset == "mscoco" {
        "coco"
    } else {
        "flickr30k"
    });
    for img in meta["images"].as_array_mut().context("images")? {
        let imgid = img["imgid"].clone();
        let sentids: Vec<serde_json::Value> = img["sentences"]
            .as_array()
            .context("sentences")?
            .iter()
            .map(|s| s["sentid"].clone())
            .collect();
        for s in img["sentences"].as_array_mut().context("sentences")? {
            s["imgid"] = imgid.clone();
        }
        img["sentids"] = serde_json::Value::Array(sentids);
        if dataset == "mscoco" {
            let split = img["split"].as_str().unwrap_or("train");
            img["filepath"] = serde_json::json!(if split == "train" {
                "train2014"
            } else {
                "val2014"
            });
            img["cocoid"] = imgid;
        }
    }
    Ok(serde_json::to_vec(&meta)?)
}

/// `<mirror>/<api>/tree/main`: the hub's listing of `dir`'s `files` (name, stored with LFS).
fn write_listing(
    mirror: &Path,
    api: &str,
    dir: &Path,
    files: &[(&str, bool)],
) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for &(name, lfs) in files {
        let bytes = std::fs::read(dir.join(name))?;
        let mut blob = sha1::Sha1::new();
        blob.update(format!("blob {}\0", bytes.len()).as_bytes());
        blob.update(&bytes);
        let oid = hex(&blob.finalize());
        entries.push(if lfs {
            serde_json::json!({
                "type": "file", "oid": oid, "size": 134, "path": name,
                "lfs": {"oid": hex(&sha2::Sha256::digest(&bytes)), "size": bytes.len(), "pointerSize": 134}
            })
        } else {
            serde_json::json!({"type": "file", "oid": oid, "size": bytes.len(), "path": name})
        });
    }
    let tree = mirror.join(api).join("tree");
    std::fs::create_dir_all(&tree)?;
    std::fs::write(tree.join("main"), serde_json::to_vec_pretty(&entries)?)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

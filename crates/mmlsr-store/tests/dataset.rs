use mmlsr_store::{
    Dataset, DatasetFiles, DatasetMeta, EmbeddingTable, Error, IdIndex, MetaImage, MetaSentence,
    RestvalPolicy, Split, WriteOptions,
};

fn meta() -> DatasetMeta {
    let img = |id: u32, split, caps: &[u32]| MetaImage {
        imgid: id.to_string(),
        split,
        filename: format!("{id}.jpg"),
        sentences: caps
            .iter()
            .map(|&c| MetaSentence {
                sentid: c.to_string(),
                raw: format!("caption {c}"),
                tokens: vec!["caption".into(), c.to_string()],
            })
            .collect(),
    };
    DatasetMeta {
        images: vec![
            img(0, Split::Test, &[0, 1]),
            img(1, Split::Train, &[2, 3]),
            img(2, Split::Restval, &[4]),
            img(3, Split::Test, &[5]),
        ],
        dataset: Some("toy".into()),
    }
}

fn table(ids: &[&str], dim: usize) -> EmbeddingTable {
    let data = (0..ids.len() * dim).map(|v| v as f32).collect();
    EmbeddingTable::new(IdIndex::from_ids(ids).unwrap(), dim, data).unwrap()
}

fn write_folder(dir: &std::path::Path, images: &[&str], texts: &[&str], text_dim: usize) {
    meta().write_json(&dir.join("dataset_meta.json")).unwrap();
    table(images, 4)
        .write_parquet(&dir.join("img_embs.parquet"), WriteOptions::default())
        .unwrap();
    table(texts, text_dim)
        .write_parquet(&dir.join("text_embs.parquet"), WriteOptions::default())
        .unwrap();
}

#[test]
fn opens_a_valid_folder_and_maps_splits_to_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Table order differs from metadata order on purpose.
    write_folder(
        dir.path(),
        &["3", "2", "1", "0"],
        &["5", "4", "3", "2", "1", "0"],
        4,
    );
    let ds = Dataset::open(dir.path()).unwrap();
    assert_eq!(ds.dim(), 4);
    let test = ds.split(Split::Test, RestvalPolicy::MergeIntoTrain);
    assert_eq!(test.image_rows, vec![3, 0]);
    assert_eq!(test.caption_rows, vec![5, 4, 0]);
    assert_eq!(test.caption_image, vec![0, 0, 1]);
    assert_eq!(
        ds.split(Split::Train, RestvalPolicy::MergeIntoTrain)
            .image_rows,
        vec![2, 1]
    );
    assert_eq!(
        ds.split(Split::Train, RestvalPolicy::Drop).image_rows,
        vec![2]
    );
    // The caption row of sentid 1 really is the embedding stored under id "1".
    assert_eq!(
        ds.texts().row(test.caption_rows[1]),
        ds.texts().get("1").unwrap()
    );
}

#[test]
fn metadata_id_without_embedding_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(
        dir.path(),
        &["0", "1", "2", "3"],
        &["0", "1", "2", "3", "5"],
        4,
    );
    let err = Dataset::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::MissingEmbedding { role: "caption", id, .. } if id == "4"),
        "{msg}"
    );
    assert!(
        msg.contains("text_embs.parquet") && msg.contains("dataset_meta.json"),
        "{msg}"
    );
}

#[test]
fn dimension_disagreement_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(
        dir.path(),
        &["0", "1", "2", "3"],
        &["0", "1", "2", "3", "4", "5"],
        3,
    );
    let msg = Dataset::open(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains("dimension mismatch") && msg.contains("expected 4, found 3"),
        "{msg}"
    );
}

#[test]
fn missing_folder_and_missing_metadata_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let msg = Dataset::open(&dir.path().join("absent"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("absent") && msg.contains("not found"), "{msg}");
    let msg = Dataset::open(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("no dataset_meta.json"), "{msg}");
    write_folder(
        dir.path(),
        &["0", "1", "2", "3"],
        &["0", "1", "2", "3", "4", "5"],
        4,
    );
    let msg = Dataset::open_with(dir.path(), DatasetFiles::BEFORE_PROJ)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("img_embs_before_proj.parquet"), "{msg}");
}

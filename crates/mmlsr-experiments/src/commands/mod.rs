//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod encode;
pub mod evaluate;
pub mod explain;
pub mod index;
pub mod inspect;
pub mod joint;
pub mod reproduce;
pub mod search;
pub mod synth;
pub mod train;

/// Brute-force dense text→image metrics of a split (every caption against every image).
pub fn dense_text_to_image(
    ds: &mmlsr_store::Dataset,
    split: &mmlsr_store::SplitView,
) -> mmlsr_synth::DenseEval {
    let gather = |table: &mmlsr_store::EmbeddingTable, rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| table.row(r).iter().copied())
            .collect()
    };
    let ids: Vec<&str> = split
        .image_rows
        .iter()
        .map(|&r| ds.images.ids().id(r))
        .collect();
    mmlsr_synth::text_to_image(
        &gather(&ds.images, &split.image_rows),
        &ids,
        &gather(&ds.texts, &split.caption_rows),
        &split.caption_image,
        ds.dim(),
    )
}

/// Every caption's raw text by `sentid`.
pub fn captions_by_id(ds: &mmlsr_store::Dataset) -> std::collections::HashMap<&str, &str> {
    ds.meta
        .images
        .iter()
        .flat_map(|i| {
            i.sentences
                .iter()
                .map(|s| (s.sentid.as_str(), s.raw.as_str()))
        })
        .collect()
}

//! `mmlsr explain`: the top-weighted terms of a caption's or an image's sparse vector
//! (D2S Table 4).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use mmlsr_expansion::Variant;
use mmlsr_model::{
    BackendKind, EncodeOptions,
    host::{Card, SparseEncoder},
};
use mmlsr_store::{Dataset, Vocabulary};

/// Print the top-k terms (with weights) of the sparse vectors of captions and images, next to
/// the caption text, marking terms that occur in the caption (`*`) and expansion terms.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A model directory (`model/` inside a training output).
    pub model: PathBuf,
    /// The data folder the ids belong to.
    pub data: PathBuf,
    /// Caption ids (`sentid`); each caption's image is explained too.
    #[arg(long = "caption", num_args = 1..)]
    pub captions: Vec<String>,
    /// Image ids (`imgid`).
    #[arg(long = "image", num_args = 1..)]
    pub images: Vec<String>,
    /// Terms per vector.
    #[arg(long, default_value_t = 10, value_parser = crate::values::positive)]
    pub k: usize,
    /// Burn backend.
    #[arg(long, default_value = "flex")]
    pub backend: BackendKind,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    if args.captions.is_empty() && args.images.is_empty() {
        bail!("name at least one --caption or --image id");
    }
    let ds = Dataset::open(&args.data)
        .with_context(|| format!("opening data folder {}", args.data.display()))?;
    let vocab = Vocabulary::from_dir(&args.data)?;
    // caption id → (text, image id)
    let mut caption_of = std::collections::HashMap::new();
    for img in &ds.meta().images {
        for s in &img.sentences {
            caption_of.insert(s.sentid.clone(), (s.raw.clone(), img.imgid.clone()));
        }
    }
    let mut items: Vec<(String, bool)> = Vec::new(); // (id, is_caption)
    for c in &args.captions {
        let (_, img) = caption_of
            .get(c)
            .with_context(|| format!("caption id {c} is not in {}", args.data.display()))?;
        items.push((c.clone(), true));
        items.push((img.clone(), false));
    }
    for i in &args.images {
        items.push((i.clone(), false));
    }
    let rows = {
        let model = SparseEncoder::open(&args.model, args.backend)?;
        let Card::D2s(card) = model.card() else {
            bail!(
                "{} is a joint model; explain reads D2S heads (encode a joint model with \
                 `mmlsr encode`)",
                args.model.display()
            );
        };
        if card.output.vocab_size != vocab.len() {
            bail!(
                "the model was trained over {} vocabulary entries, {} has {}",
                card.output.vocab_size,
                args.data.display(),
                vocab.len()
            );
        }
        let mut out = Vec::new();
        for (id, is_caption) in &items {
            let (table, what) = if *is_caption {
                (ds.texts(), "caption")
            } else {
                (ds.images(), "image")
            };
            let dense = table.get(id).with_context(|| {
                format!("{what} id {id} has no embedding in {}", args.data.display())
            })?;
            let own = if *is_caption {
                vocab.term_ids(&caption_of[id].0)?
            } else {
                Vec::new()
            };
            let restrict =
                (*is_caption && card.variant == Variant::None).then(|| vec![own.as_slice()]);
            let options = EncodeOptions {
                top_k: Some(args.k),
                ..Default::default()
            };
            let m = if *is_caption {
                model.encode_texts(dense, restrict.as_deref(), &options)?
            } else {
                model.encode_images(dense, &options)?
            };
            let row = m.row(0);
            let mut terms: Vec<(u32, f32)> = row
                .indices
                .iter()
                .copied()
                .zip(row.values.iter().copied())
                .collect();
            terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            out.push((id.clone(), *is_caption, own, terms));
        }
        out
    };
    for (id, is_caption, own, terms) in rows {
        if is_caption {
            let (text, img) = &caption_of[&id];
            println!("caption {id} (image {img}): {text}");
        } else {
            println!("image {id}");
        }
        let shown: Vec<String> = terms
            .iter()
            .map(|(t, w)| {
                let mark = if own.binary_search(t).is_ok() {
                    "*"
                } else {
                    ""
                };
                format!(
                    "{}{mark} {w:.2}",
                    vocab.token(*t).unwrap_or_else(|| format!("#{t}"))
                )
            })
            .collect();
        println!("  {}", shown.join(", "));
    }
    if !args.captions.is_empty() {
        println!("(* = the term occurs in the caption; others are expansion terms)");
    }
    Ok(())
}

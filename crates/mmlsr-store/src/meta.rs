//! Karpathy-format dataset metadata (`dataset_meta.json`), as published by Karpathy for
//! MSCOCO / Flickr30k and reused by lsr42 and holi-lab.
//!
//! ```text
//! { "images": [ { "imgid": 0, "split": "test", "filename": "…jpg",
//!                 "sentences": [ { "sentid": 0, "raw": "A dog …", "tokens": ["a", "dog", …] }, … ] },
//!               … ] }
//! ```
//!
//! Text ids are `sentid`, image ids are `imgid`, both handled as strings (integers in the JSON
//! are accepted and written back as integers).
//!
//! **`restval`.** Karpathy's MSCOCO split moves 30,504 images of the original validation set
//! into `restval`; BLIP and ALBEF fine-tune on `train ∪ restval` (113,287 images), and so does
//! mmlsr by default ([`RestvalPolicy::MergeIntoTrain`]). The joint method's released code reads
//! only train/val/test and so drops them; [`RestvalPolicy::Drop`] reproduces that.
//! `restval` images are never evaluated on.

use std::{fs::File, io::BufReader, path::Path};

use mmlsr_core::Qrels;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result, atomic};

/// A Karpathy split name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training images.
    Train,
    /// Validation images.
    Val,
    /// Test images.
    Test,
    /// MSCOCO's "rest of val": extra training images (see [`RestvalPolicy`]).
    Restval,
}

impl Split {
    /// The name used in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
            Split::Restval => "restval",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            "restval" => Ok(Split::Restval),
            _ => Err(format!(
                "unknown split {s:?}, expected train, val, test or restval"
            )),
        }
    }
}

/// What `restval` images are used for (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestvalPolicy {
    /// Train on them (Karpathy / BLIP / ALBEF convention; 113,287 MSCOCO training images).
    #[default]
    MergeIntoTrain,
    /// Ignore them (holi-lab's released code: 82,783 MSCOCO training images).
    Drop,
}

/// One caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaSentence {
    /// Caption id (the `id` of its row in `text_embs.parquet`).
    #[serde(deserialize_with = "de_id", serialize_with = "ser_id")]
    pub sentid: String,
    /// The caption as written.
    pub raw: String,
    /// Lower-cased word tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
}

/// One image with its captions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaImage {
    /// Image id (the `id` of its row in `img_embs.parquet`).
    #[serde(deserialize_with = "de_id", serialize_with = "ser_id")]
    pub imgid: String,
    /// Which split it belongs to.
    pub split: Split,
    /// Image file name.
    #[serde(default)]
    pub filename: String,
    /// Its captions (five for MSCOCO and Flickr30k).
    pub sentences: Vec<MetaSentence>,
}

/// The whole `dataset_meta.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// Every image, in file order.
    pub images: Vec<MetaImage>,
    /// Data set name (`coco`, `flickr30k`, …), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// An `imgid` or `sentid`: a non-negative integer or a non-empty string. Anything else is an
/// error that says what was found and what was expected (serde_json adds line and column),
/// rather than an untagged enum's "did not match any variant".
fn de_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    struct IdVisitor;
    impl serde::de::Visitor<'_> for IdVisitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an id: a non-negative integer or a non-empty string")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<String, E> {
            u64::try_from(v)
                .map(|v| v.to_string())
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<String, E> {
            if v.is_empty() {
                return Err(E::invalid_value(serde::de::Unexpected::Str(v), &self));
            }
            Ok(v.to_string())
        }
    }
    d.deserialize_any(IdVisitor)
}

fn ser_id<S: Serializer>(id: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    match id.parse::<u64>() {
        Ok(i) if i.to_string() == id => s.serialize_u64(i),
        _ => s.serialize_str(id),
    }
}

impl DatasetMeta {
    /// Read and check a `dataset_meta.json` (ids unique across images and across captions).
    pub fn read_json(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta: DatasetMeta =
            serde_json::from_reader(BufReader::new(file)).map_err(|source| Error::Json {
                path: path.to_path_buf(),
                source,
            })?;
        meta.check_unique_ids(path)?;
        Ok(meta)
    }

    /// Write atomically (compact JSON).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        atomic::atomic_write(path, |w| {
            serde_json::to_writer(&mut *w, self).map_err(std::io::Error::other)
        })
    }

    fn check_unique_ids(&self, path: &Path) -> Result<()> {
        let mut images = std::collections::HashSet::new();
        let mut captions = std::collections::HashSet::new();
        for img in &self.images {
            if !images.insert(img.imgid.as_str()) {
                return Err(Error::invalid(
                    path,
                    format!("imgid {} appears twice", img.imgid),
                ));
            }
            for s in &img.sentences {
                if !captions.insert(s.sentid.as_str()) {
                    return Err(Error::invalid(
                        path,
                        format!(
                            "sentid {} appears twice (second time under imgid {})",
                            s.sentid, img.imgid
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Images of `split`. Under [`RestvalPolicy::MergeIntoTrain`], asking for `Train` also
    /// yields `restval` images; asking for `Restval` always yields them.
    pub fn images_in(
        &self,
        split: Split,
        restval: RestvalPolicy,
    ) -> impl Iterator<Item = &MetaImage> + '_ {
        self.images.iter().filter(move |img| {
            img.split == split
                || (split == Split::Train
                    && img.split == Split::Restval
                    && restval == RestvalPolicy::MergeIntoTrain)
        })
    }

    /// Number of images per split, in the order train, val, test, restval.
    pub fn split_counts(&self) -> [(Split, usize); 4] {
        let count = |s| self.images.iter().filter(|i| i.split == s).count();
        [Split::Train, Split::Val, Split::Test, Split::Restval].map(|s| (s, count(s)))
    }

    /// Training pairs `(sentid, imgid)`: every caption of every training image.
    pub fn training_pairs(&self, restval: RestvalPolicy) -> Vec<(&str, &str)> {
        self.images_in(Split::Train, restval)
            .flat_map(|img| {
                img.sentences
                    .iter()
                    .map(move |s| (s.sentid.as_str(), img.imgid.as_str()))
            })
            .collect()
    }

    /// Text→image qrels of a split: each caption's one relevant image (grade 1).
    pub fn qrels_text_to_image(&self, split: Split) -> Qrels {
        let mut q = Qrels::new();
        for img in self.images_in(split, RestvalPolicy::Drop) {
            for s in &img.sentences {
                q.insert(s.sentid.clone(), img.imgid.clone(), 1);
            }
        }
        q
    }

    /// Image→text qrels of a split: each image's captions (grade 1).
    pub fn qrels_image_to_text(&self, split: Split) -> Qrels {
        let mut q = Qrels::new();
        for img in self.images_in(split, RestvalPolicy::Drop) {
            for s in &img.sentences {
                q.insert(img.imgid.clone(), s.sentid.clone(), 1);
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"images": [
        {"imgid": 0, "split": "test", "filename": "a.jpg", "cocoid": 9,
         "sentences": [{"sentid": 0, "raw": "A dog.", "tokens": ["a", "dog"], "imgid": 0},
                       {"sentid": 1, "raw": "A pup.", "tokens": ["a", "pup"]}]},
        {"imgid": "x1", "split": "restval", "filename": "b.jpg",
         "sentences": [{"sentid": "s2", "raw": "A cat.", "tokens": ["a", "cat"]}]},
        {"imgid": 2, "split": "train", "filename": "c.jpg",
         "sentences": [{"sentid": 3, "raw": "A car.", "tokens": ["a", "car"]}]}
    ], "dataset": "coco"}"#;

    fn sample() -> DatasetMeta {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, SAMPLE).unwrap();
        DatasetMeta::read_json(&p).unwrap()
    }

    #[test]
    fn parses_mixed_ids_and_restval_policy() {
        let m = sample();
        assert_eq!(m.images[1].imgid, "x1");
        assert_eq!(m.images[0].sentences[1].sentid, "1");
        assert_eq!(
            m.training_pairs(RestvalPolicy::MergeIntoTrain),
            vec![("s2", "x1"), ("3", "2")]
        );
        assert_eq!(m.training_pairs(RestvalPolicy::Drop), vec![("3", "2")]);
        let t2i = m.qrels_text_to_image(Split::Test);
        assert_eq!(t2i.n_queries(), 2);
        assert_eq!(t2i.get("1").unwrap().get("0"), Some(&1));
        let i2t = m.qrels_image_to_text(Split::Test);
        assert_eq!(i2t.get("0").unwrap().len(), 2);
        assert_eq!(m.split_counts()[3], (Split::Restval, 1));
    }

    #[test]
    fn json_round_trip_keeps_integer_ids() {
        let m = sample();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        m.write_json(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(r#""imgid":0"#) && text.contains(r#""imgid":"x1""#));
        assert_eq!(DatasetMeta::read_json(&p).unwrap(), m);
    }

    #[test]
    fn bad_metadata_names_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(
            &p,
            r#"{"images": [{"imgid": 0, "split": "holdout", "sentences": []}]}"#,
        )
        .unwrap();
        let msg = DatasetMeta::read_json(&p).unwrap_err().to_string();
        assert!(msg.contains("bad.json") && msg.contains("holdout"), "{msg}");
        std::fs::write(&p, r#"{"images": [{"imgid": 0, "split": "test", "sentences": [{"sentid": 1, "raw": "a"}]},
                                          {"imgid": 1, "split": "test", "sentences": [{"sentid": 1, "raw": "b"}]}]}"#).unwrap();
        let msg = DatasetMeta::read_json(&p).unwrap_err().to_string();
        assert!(msg.contains("sentid 1 appears twice"), "{msg}");
        std::fs::write(&p, r#"{"images": [{"imgid": 0, "split": "test""#).unwrap();
        assert!(matches!(
            DatasetMeta::read_json(&p),
            Err(Error::Json { .. })
        ));
        // Ids that are neither a non-negative integer nor a non-empty string are named, with
        // what was found, instead of "data did not match any variant of untagged enum".
        for (bad, found) in [
            ("1.5", "floating point `1.5`"),
            ("-3", "integer `-3`"),
            ("null", "null"),
            ("\"\"", "string \"\""),
            ("[7]", "sequence"),
        ] {
            std::fs::write(
                &p,
                format!(r#"{{"images": [{{"imgid": {bad}, "split": "test", "sentences": []}}]}}"#),
            )
            .unwrap();
            let msg = DatasetMeta::read_json(&p).unwrap_err().to_string();
            assert!(
                msg.contains("bad.json")
                    && msg.contains(found)
                    && msg.contains("expected an id: a non-negative integer or a non-empty string")
                    && msg.contains("line 1 column"),
                "{bad}: {msg}"
            );
        }
    }
}

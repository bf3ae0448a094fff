//! Small safetensors helpers: the dense model's last projection layers and the static word
//! vectors, stored as named `f32` (or `f64`) tensors.

use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{Error, Result, atomic};

/// Write named `f32` tensors to a safetensors file atomically.
pub fn write_tensors_f32(path: &Path, tensors: &[(&str, &[usize], &[f32])]) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, data)| data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, shape, _), b) in tensors.iter().zip(&bytes) {
        let view =
            TensorView::new(Dtype::F32, shape.to_vec(), b).map_err(|e| Error::Safetensors {
                path: path.to_path_buf(),
                message: format!("tensor {name}: {e}"),
            })?;
        views.push((name.to_string(), view));
    }
    let out = safetensors::serialize(views, None).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    atomic::atomic_write_bytes(path, &out)
}

/// A safetensors file read into memory.
struct TensorFile<'p> {
    path: &'p Path,
    bytes: Vec<u8>,
}

impl<'p> TensorFile<'p> {
    fn open(path: &'p Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let me = Self { path, bytes };
        me.parsed()?;
        Ok(me)
    }

    fn parsed(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| Error::Safetensors {
            path: self.path.to_path_buf(),
            message: format!("not a valid safetensors file: {e}"),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.parsed().is_ok_and(|st| st.tensor(name).is_ok())
    }

    /// Tensor `name` as `f32`, checking the shape against `expected` where an entry is `Some`.
    fn get(&self, name: &str, expected: &[Option<usize>]) -> Result<(Vec<usize>, Vec<f32>)> {
        let st = self.parsed()?;
        let err = |message: String| Error::Safetensors {
            path: self.path.to_path_buf(),
            message,
        };
        let view = st.tensor(name).map_err(|_| {
            let mut names = st.names();
            names.sort();
            err(format!(
                "no tensor named {name:?} (found: {})",
                names.join(", ")
            ))
        })?;
        let shape = view.shape().to_vec();
        let shape_ok = shape.len() == expected.len()
            && shape
                .iter()
                .zip(expected)
                .all(|(s, e)| e.is_none_or(|e| e == *s));
        if !shape_ok {
            let want: Vec<String> = expected
                .iter()
                .map(|e| e.map_or("?".to_string(), |v| v.to_string()))
                .collect();
            return Err(err(format!(
                "tensor {name} has shape {shape:?}, expected [{}]",
                want.join(", ")
            )));
        }
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(err(format!(
                    "tensor {name} has dtype {other:?}, expected F32 or F64"
                )));
            }
        };
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(err(format!("tensor {name}: element {i} is not finite")));
        }
        Ok((shape, data))
    }
}

/// Read one tensor as `f32` (F32 or F64 on disk), with its shape.
pub fn read_tensor_f32(path: &Path, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let file = TensorFile::open(path)?;
    let rank = file
        .parsed()?
        .tensor(name)
        .map(|v| v.shape().len())
        .unwrap_or(0);
    file.get(name, &vec![None; rank])
}

/// A linear layer `y = W·x + b` in PyTorch's layout: `weight` is `out_dim × in_dim`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Input dimension.
    pub in_dim: usize,
    /// Output dimension.
    pub out_dim: usize,
    /// `out_dim × in_dim`, row-major.
    pub weight: Vec<f32>,
    /// `out_dim` biases.
    pub bias: Vec<f32>,
}

impl Linear {
    /// `y = W·x + b` for one input row.
    ///
    /// # Panics
    /// If `x.len() != in_dim` or `y.len() != out_dim`.
    pub fn apply(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), self.in_dim);
        assert_eq!(y.len(), self.out_dim);
        for (o, yo) in y.iter_mut().enumerate() {
            let w = &self.weight[o * self.in_dim..(o + 1) * self.in_dim];
            *yo = self.bias[o] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
        }
    }

    fn read(file: &TensorFile<'_>, prefix: &str) -> Result<Self> {
        let (shape, weight) = file.get(&format!("{prefix}.weight"), &[None, None])?;
        let (out_dim, in_dim) = (shape[0], shape[1]);
        let bias = if file.has(&format!("{prefix}.bias")) {
            file.get(&format!("{prefix}.bias"), &[Some(out_dim)])?.1
        } else {
            vec![0.0; out_dim]
        };
        Ok(Self {
            in_dim,
            out_dim,
            weight,
            bias,
        })
    }
}

/// The last dense layer of each tower (BLIP/ALBEF `text_proj` and `vision_proj`, 768→256),
/// stored under those names (`text_proj.weight`, `text_proj.bias`, …) so that a state dict
/// filtered to those keys and saved with safetensors reads unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Projections {
    /// `text_proj`.
    pub text: Linear,
    /// `vision_proj`.
    pub vision: Linear,
}

impl Projections {
    /// Read `text_proj.*` and `vision_proj.*` (a missing bias reads as zeros).
    pub fn read(path: &Path) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let text = Linear::read(&file, "text_proj")?;
        let vision = Linear::read(&file, "vision_proj")?;
        if (text.in_dim, text.out_dim) != (vision.in_dim, vision.out_dim) {
            return Err(Error::Safetensors {
                path: path.to_path_buf(),
                message: format!(
                    "text_proj is {}→{} but vision_proj is {}→{}; expected the same shape",
                    text.in_dim, text.out_dim, vision.in_dim, vision.out_dim
                ),
            });
        }
        Ok(Self { text, vision })
    }

    /// Write atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let (t, v) = (&self.text, &self.vision);
        write_tensors_f32(
            path,
            &[
                ("text_proj.weight", &[t.out_dim, t.in_dim], &t.weight),
                ("text_proj.bias", &[t.out_dim], &t.bias),
                ("vision_proj.weight", &[v.out_dim, v.in_dim], &v.weight),
                ("vision_proj.bias", &[v.out_dim], &v.bias),
            ],
        )
    }
}

/// A static vector per vocabulary entry, `vocab_size × dim`, row-major (for Semantic@k and
/// for initialising the sparse head's vocabulary projector).
#[derive(Debug, Clone, PartialEq)]
pub struct WordVectors {
    /// Number of vocabulary entries.
    pub vocab_size: usize,
    /// Vector dimension.
    pub dim: usize,
    /// `vocab_size × dim`, row-major.
    pub data: Vec<f32>,
}

impl WordVectors {
    /// Tensor names accepted on reading, in order: mmlsr's own, then BERT's.
    pub const NAMES: [&str; 3] = [
        "word_vectors",
        "embeddings.word_embeddings.weight",
        "bert.embeddings.word_embeddings.weight",
    ];

    /// Read the first tensor named in [`WordVectors::NAMES`].
    pub fn read(path: &Path) -> Result<Self> {
        let file = TensorFile::open(path)?;
        let name = Self::NAMES
            .iter()
            .find(|n| file.has(n))
            .copied()
            .unwrap_or(Self::NAMES[0]);
        let (shape, data) = file.get(name, &[None, None])?;
        Ok(Self {
            vocab_size: shape[0],
            dim: shape[1],
            data,
        })
    }

    /// Write atomically under the name `word_vectors`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_tensors_f32(
            path,
            &[("word_vectors", &[self.vocab_size, self.dim], &self.data)],
        )
    }

    /// The vector of entry `k`.
    pub fn row(&self, k: usize) -> &[f32] {
        &self.data[k * self.dim..(k + 1) * self.dim]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_round_trip_and_apply() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("proj.safetensors");
        let lin = |s: f32| Linear {
            in_dim: 3,
            out_dim: 2,
            weight: vec![1.0 * s, 0.0, 2.0, 0.0, 1.0, -1.0],
            bias: vec![0.5, 0.0],
        };
        let proj = Projections {
            text: lin(1.0),
            vision: lin(2.0),
        };
        proj.write(&p).unwrap();
        let back = Projections::read(&p).unwrap();
        assert_eq!(back, proj);
        let mut y = [0.0; 2];
        back.text.apply(&[1.0, 2.0, 3.0], &mut y);
        assert_eq!(y, [7.5, -1.0]);
    }

    #[test]
    fn wrong_shapes_and_names_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        write_tensors_f32(
            &p,
            &[
                ("text_proj.weight", &[2, 3], &[0.0; 6]),
                ("vision_proj.weight", &[2, 4], &[0.0; 8]),
            ],
        )
        .unwrap();
        let msg = Projections::read(&p).unwrap_err().to_string();
        assert!(
            msg.contains("bad.safetensors") && msg.contains("vision_proj is 4→2"),
            "{msg}"
        );
        let msg = WordVectors::read(&p).unwrap_err().to_string();
        assert!(msg.contains("no tensor named \"word_vectors\""), "{msg}");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(
            Projections::read(&p)
                .unwrap_err()
                .to_string()
                .contains("not a valid safetensors")
        );
    }

    #[test]
    fn word_vectors_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wv.safetensors");
        let wv = WordVectors {
            vocab_size: 3,
            dim: 2,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        wv.write(&p).unwrap();
        let back = WordVectors::read(&p).unwrap();
        assert_eq!(back, wv);
        assert_eq!(back.row(1), &[3.0, 4.0]);
        assert_eq!(read_tensor_f32(&p, "word_vectors").unwrap().0, vec![3, 2]);
    }
}

//! The simulated world and dual encoders.
//!
//! * **World**: a latent vector per concept (`LATENT_DIM`-d, unit norm) built around its
//!   category's centroid, so that concepts of one category are close; each surface form is a
//!   small perturbation of its concept, so synonyms are close but not identical.
//! * **Meaning**: a scene and a caption are lists of [`Part`]s; their latent is the weighted
//!   sum of the parts' vectors, where a bound pair (an attribute and its object, an action
//!   and its agent or patient) contributes the binding of the two vectors rather than the
//!   vectors themselves. So the text embedding is a function of the caption's words *and*
//!   how its syntax binds them, and the image embedding of everything the scene shows.
//! * **Backbone**: each tower perceives concepts (image) or forms (text) through its own
//!   distortion of the latent vectors, adds image clutter or a little caption noise, then maps
//!   the latent to 768-d pre-projection features through a fixed random nonlinear map
//!   `tanh(A·z + b)` plus feature noise. The "pretrained" 768→256 projections are trained
//!   contrastively (see `contrastive.rs`). `strong` and `weak` differ in distortion and noise.

use crate::{
    lexicon::Lexicon,
    rng::{fill_normal, normalize, stream},
    scene::{Caption, Part, Scene},
};

/// Dimension of the latent meaning space.
pub const LATENT_DIM: usize = 64;
/// Dimension of the pre-projection features (BLIP/ALBEF's 768).
pub const FEATURE_DIM: usize = 768;
/// Dimension of the projected dense embeddings (BLIP/ALBEF's 256).
pub const EMBED_DIM: usize = 256;

/// Latent vectors of concepts and surface forms.
#[derive(Debug, Clone)]
pub struct World {
    concepts: Vec<f32>,
    forms: Vec<f32>,
}

impl World {
    /// Build the world of `lex` from `seed`.
    pub fn new(lex: &Lexicon, seed: u64) -> Self {
        let d = LATENT_DIM;
        let mut centroids = vec![0.0; lex.categories.len() * d];
        for (c, v) in centroids.chunks_exact_mut(d).enumerate() {
            fill_normal(&mut stream(seed, "category", c as u64), v, 1.0);
            normalize(v);
        }
        let mut concepts = vec![0.0; lex.concepts.len() * d];
        for (i, v) in concepts.chunks_exact_mut(d).enumerate() {
            fill_normal(&mut stream(seed, "concept", i as u64), v, 1.0);
            normalize(v);
            let cat = &centroids[lex.concepts[i].category * d..][..d];
            v.iter_mut()
                .zip(cat)
                .for_each(|(x, c)| *x = 0.8 * *x + 0.6 * c);
            normalize(v);
        }
        let mut forms = vec![0.0; lex.forms.len() * d];
        for (f, v) in forms.chunks_exact_mut(d).enumerate() {
            fill_normal(
                &mut stream(seed, "form", f as u64),
                v,
                0.35 / (d as f32).sqrt(),
            );
            let c = &concepts[lex.form_concept[f] * d..][..d];
            v.iter_mut().zip(c).for_each(|(x, c)| *x += c);
            normalize(v);
        }
        Self { concepts, forms }
    }

    /// Latent of a surface form.
    pub fn form(&self, f: usize) -> &[f32] {
        &self.forms[f * LATENT_DIM..][..LATENT_DIM]
    }
}

/// How a data set's images and captions carry noise that no encoder can remove.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeaningNoise {
    /// Expected norm of the image clutter vector (a concept vector has norm 1).
    pub clutter: f32,
    /// Expected norm of the caption noise vector.
    pub caption: f32,
}

impl Default for MeaningNoise {
    fn default() -> Self {
        Self {
            clutter: 0.6,
            caption: 0.3,
        }
    }
}

/// Bind two unit vectors: `√d · a ⊙ b`, with `a` rotated by one coordinate when the second
/// item is the action's patient (so agent and patient bindings differ). For random unit
/// vectors the result has norm ≈ 1 and is nearly orthogonal to both `a` and `b` (the
/// multiply-add-permute binding of vector-symbolic architectures): a sum of bindings keeps
/// "red car, blue truck" apart from "blue car, red truck".
fn bind_into(out: &mut [f32], a: &[f32], b: &[f32], patient: bool, weight: f32) {
    let d = out.len();
    let s = weight * (d as f32).sqrt();
    for i in 0..d {
        let ai = if patient { a[(i + 1) % d] } else { a[i] };
        out[i] += s * ai * b[i];
    }
}

/// The latent of a meaning: the weighted sum of its parts over the vectors of `table`
/// (`LATENT_DIM` per id), bindings through [`bind_into`].
fn meaning_latent(table: &[f32], parts: &[Part], out: &mut [f32]) {
    let d = LATENT_DIM;
    out.fill(0.0);
    for p in parts {
        let a = &table[p.a * d..][..d];
        match p.b {
            None => out.iter_mut().zip(a).for_each(|(o, x)| *o += p.weight * x),
            Some(b) => bind_into(out, a, &table[b * d..][..d], p.patient, p.weight),
        }
    }
}

/// The scene's true latent (no clutter, undistorted concepts): the warm-start target of the
/// projections.
pub fn scene_latent(world: &World, scene: &Scene, out: &mut [f32]) {
    meaning_latent(&world.concepts, &scene.parts(), out);
}

/// Which simulated backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackboneKind {
    /// Stands in for BLIP.
    Strong,
    /// Stands in for ALBEF.
    Weak,
}

impl BackboneKind {
    /// Folder suffix.
    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::Strong => "strong",
            BackboneKind::Weak => "weak",
        }
    }

    /// Encoder quality of this backbone.
    /// Calibrated so that dense text→image R@1 on synth-coco's test split is about 57
    /// (`strong`) and about 51 (`weak`) at the default seed (see the crate tests).
    pub fn profile(self) -> BackboneProfile {
        match self {
            BackboneKind::Strong => BackboneProfile {
                image_distortion: 0.15,
                text_distortion: 0.10,
                feature_noise: 0.05,
            },
            BackboneKind::Weak => BackboneProfile {
                image_distortion: 0.40,
                text_distortion: 0.20,
                feature_noise: 0.14,
            },
        }
    }
}

/// Encoder quality knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackboneProfile {
    /// Relative std of the image tower's distortion of each concept vector.
    pub image_distortion: f32,
    /// Relative std of the text tower's distortion of each form vector.
    pub text_distortion: f32,
    /// Std of the noise added to each 768-d feature.
    pub feature_noise: f32,
}

/// One tower's fixed map from latent to features.
#[derive(Debug, Clone)]
struct Tower {
    /// `FEATURE_DIM × LATENT_DIM`, row-major.
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Tower {
    fn new(seed: u64, tag: &str) -> Self {
        let mut a = vec![0.0; FEATURE_DIM * LATENT_DIM];
        let mut b = vec![0.0; FEATURE_DIM];
        // A latent has norm ≈ 3; scale so pre-activations have std ≈ 1.
        fill_normal(&mut stream(seed, tag, 0), &mut a, 0.35);
        fill_normal(&mut stream(seed, tag, 1), &mut b, 0.3);
        Self { a, b }
    }
}

/// A simulated dual encoder: perception tables and the two towers.
#[derive(Debug, Clone)]
pub struct Backbone {
    /// Which one.
    pub kind: BackboneKind,
    profile: BackboneProfile,
    seed: u64,
    image_concepts: Vec<f32>,
    text_forms: Vec<f32>,
    image_tower: Tower,
    text_tower: Tower,
}

fn distort(table: &[f32], std: f32, seed: u64, tag: &str) -> Vec<f32> {
    let d = LATENT_DIM;
    let mut out = table.to_vec();
    let mut noise = vec![0.0; d];
    for (i, v) in out.chunks_exact_mut(d).enumerate() {
        fill_normal(
            &mut stream(seed, tag, i as u64),
            &mut noise,
            std / (d as f32).sqrt(),
        );
        v.iter_mut().zip(&noise).for_each(|(x, n)| *x += n);
        normalize(v);
    }
    out
}

impl Backbone {
    /// Build backbone `kind` over `world` (deterministic from `seed`).
    pub fn new(kind: BackboneKind, world: &World, seed: u64) -> Self {
        let p = kind.profile();
        let tag = |t: &str| format!("{}-{t}", kind.name());
        Self {
            kind,
            profile: p,
            seed,
            image_concepts: distort(
                &world.concepts,
                p.image_distortion,
                seed,
                &tag("img-perception"),
            ),
            text_forms: distort(
                &world.forms,
                p.text_distortion,
                seed,
                &tag("txt-perception"),
            ),
            image_tower: Tower::new(seed, &tag("img-tower")),
            text_tower: Tower::new(seed, &tag("txt-tower")),
        }
    }

    /// The image tower's perceived latent of a scene: everything it shows, through the
    /// tower's distorted concept vectors, plus clutter.
    pub fn image_latent(&self, scene: &Scene, clutter: &[f32], out: &mut [f32]) {
        meaning_latent(&self.image_concepts, &scene.parts(), out);
        out.iter_mut().zip(clutter).for_each(|(o, c)| *o += c);
    }

    /// The text tower's perceived latent of a caption: a function of its words and their
    /// bindings (through the tower's distorted form vectors), plus a little noise.
    pub fn caption_latent(&self, caption: &Caption, noise: &[f32], out: &mut [f32]) {
        meaning_latent(&self.text_forms, &caption.parts, out);
        out.iter_mut().zip(noise).for_each(|(o, c)| *o += c);
    }

    /// Features of a block of latents (`rows × LATENT_DIM`) into `out` (`rows × FEATURE_DIM`):
    /// `tanh(A z + b) + noise`, the noise drawn from the stream of `(modality, first_row)`.
    pub fn features(&self, image: bool, latents: &[f32], first_row: u64, out: &mut [f32]) {
        let tower = if image {
            &self.image_tower
        } else {
            &self.text_tower
        };
        let rows = latents.len() / LATENT_DIM;
        crate::linalg::matmul_bt(latents, rows, LATENT_DIM, &tower.a, FEATURE_DIM, out);
        let tag = format!(
            "{}-{}-feature-noise",
            self.kind.name(),
            if image { "img" } else { "txt" }
        );
        use rayon::prelude::*;
        out.par_chunks_mut(FEATURE_DIM)
            .enumerate()
            .for_each(|(r, row)| {
                let mut rng = stream(self.seed, &tag, first_row + r as u64);
                let mut noise = [0.0f32; FEATURE_DIM];
                fill_normal(&mut rng, &mut noise, self.profile.feature_noise);
                for ((x, b), n) in row.iter_mut().zip(&tower.b).zip(&noise) {
                    *x = (*x + b).tanh() + n;
                }
            });
    }
}

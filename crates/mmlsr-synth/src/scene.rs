//! Scenes (what an image shows) and captions (what an annotator says about it).
//!
//! Real caption collections share their objects: a handful of concepts ("man", "woman",
//! "dog") cover most images, and what tells two images apart is how attributes bind to
//! objects and who does what to whom, which a bag of words cannot encode. Scenes follow that:
//!
//! * a **topic** decides the object categories; concepts inside a category are Zipfian
//!   (`P(rank r) ∝ (r + 1)^-1.1`), so the same objects recur across thousands of images;
//! * 2–6 **objects** (the first is the main one), each with 0–2 **attributes** drawn from a
//!   small Zipfian set (colours first), bound to that object;
//! * an **action** done by the main object, often to a **patient** (the second object:
//!   "a dog chasing a cat" is not "a cat chasing a dog");
//! * a **place**.
//!
//! Each of five **annotators** mentions a few salient things (the main object nearly always,
//! others by salience, an attribute now and then) with their own word choices (synonyms
//! drawn per caption) and sentence templates. A caption's meaning is a list of [`Part`]s over
//! surface forms, with the bindings its syntax expresses; a scene's meaning is the same over
//! concepts, for everything it shows.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::lexicon::{FILLER_PHRASES, Lexicon, OBJECT_CATEGORIES};

/// One component of a meaning: a single item, or two items bound together.
///
/// Ids are concept ids in a scene's meaning and surface-form ids in a caption's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    /// The item (or the binding's first item: an attribute or an action).
    pub a: usize,
    /// The item `a` is bound to (an object), if any.
    pub b: Option<usize>,
    /// The binding marks the object as the action's patient (not its agent).
    pub patient: bool,
    /// Weight in the meaning.
    pub weight: f32,
}

impl Part {
    fn unit(a: usize, weight: f32) -> Self {
        Self {
            a,
            b: None,
            patient: false,
            weight,
        }
    }

    fn bound(a: usize, b: usize, patient: bool, weight: f32) -> Self {
        Self {
            a,
            b: Some(b),
            patient,
            weight,
        }
    }
}

/// Weights of a meaning's parts, shared by scenes and captions so that a caption that names
/// something says it with the weight the image shows it with.
pub mod weights {
    /// An attribute alone (relative to its object).
    pub const ATTRIBUTE: f32 = 0.45;
    /// An attribute bound to its object.
    pub const ATTRIBUTE_BINDING: f32 = 0.75;
    /// The action alone.
    pub const ACTION: f32 = 0.5;
    /// The action bound to its agent, and to its patient.
    pub const ROLE_BINDING: f32 = 0.75;
    /// The place.
    pub const PLACE: f32 = 0.7;
}

/// One object of a scene.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// Concept id.
    pub concept: usize,
    /// Attribute concepts bound to it (0–2).
    pub attributes: Vec<usize>,
    /// Visual salience in (0, 1]: the main object is 1.
    pub salience: f32,
}

/// What an image shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Topic index.
    pub topic: usize,
    /// 2–7 distinct objects, main object first.
    pub objects: Vec<SceneObject>,
    /// Action concept (done by the main object).
    pub action: usize,
    /// The action's patient: index of an object (≥ 1), if the action has one.
    pub patient: Option<usize>,
    /// Place concept.
    pub place: usize,
}

impl Scene {
    /// Everything the scene shows, over concept ids: objects by salience with their bound
    /// attributes, the action bound to its agent and patient, the place.
    pub fn parts(&self) -> Vec<Part> {
        use weights::*;
        let mut parts = Vec::new();
        for o in &self.objects {
            parts.push(Part::unit(o.concept, o.salience));
            for &a in &o.attributes {
                parts.push(Part::unit(a, ATTRIBUTE * o.salience));
                parts.push(Part::bound(
                    a,
                    o.concept,
                    false,
                    ATTRIBUTE_BINDING * o.salience,
                ));
            }
        }
        parts.push(Part::unit(self.action, ACTION));
        parts.push(Part::bound(
            self.action,
            self.objects[0].concept,
            false,
            ROLE_BINDING,
        ));
        if let Some(p) = self.patient {
            parts.push(Part::bound(
                self.action,
                self.objects[p].concept,
                true,
                ROLE_BINDING * self.objects[p].salience,
            ));
        }
        parts.push(Part::unit(self.place, PLACE));
        parts
    }
}

/// A caption: its words and its meaning over surface forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// Lower-case word tokens (punctuation excluded), as Karpathy's `tokens`.
    pub tokens: Vec<&'static str>,
    /// The sentence as written (capitalised, with punctuation).
    pub raw: String,
    /// What the caption says, over form ids, with the bindings its syntax expresses.
    pub parts: Vec<Part>,
}

/// Draw an index with probability proportional to `weights`.
fn weighted(rng: &mut ChaCha8Rng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut x = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if x < w {
            return i;
        }
        x -= w;
        last = i;
    }
    last
}

/// Zipf draw over `n` ranks: `P(r) ∝ 1 / (r + 1)^s`.
fn zipf(rng: &mut ChaCha8Rng, n: usize, s: f64) -> usize {
    weighted(rng, (0..n).map(move |r| 1.0 / ((r + 1) as f64).powf(s)))
}

/// Zipf exponent of concepts inside a category (real captions: a few objects dominate).
const CONCEPT_ZIPF: f64 = 1.5;
/// Zipf exponent of attributes.
const ATTRIBUTE_ZIPF: f64 = 1.4;
/// Zipf exponent of a concept's surface forms (annotators' word choices).
const SYNONYM_ZIPF: f64 = 0.3;
/// Chance that an annotator names a given attribute of an object they mention.
const ATTRIBUTE_MENTION: f64 = 0.35;
/// Chance, per unit of salience, that an annotator mentions a secondary object.
const SECONDARY_MENTION: f64 = 0.55;
/// Zipf exponent of actions.
const ACTION_ZIPF: f64 = 1.4;

/// Scene sampler over a lexicon.
#[derive(Debug, Clone)]
pub struct SceneSampler<'l> {
    lex: &'l Lexicon,
    attributes: usize,
    actions: usize,
    object_categories: Vec<usize>,
}

/// A phrase of a caption: its words and the parts it contributes.
struct Np {
    words: Vec<&'static str>,
    noun: usize,
}

impl<'l> SceneSampler<'l> {
    /// A sampler over `lex`.
    ///
    /// # Panics
    /// If the lexicon lacks the `attributes`, `actions` or an object category (never for
    /// [`Lexicon::builtin`]).
    pub fn new(lex: &'l Lexicon) -> Self {
        Self {
            lex,
            attributes: lex.category("attributes").expect("category"),
            actions: lex.category("actions").expect("category"),
            object_categories: OBJECT_CATEGORIES
                .iter()
                .map(|c| lex.category(c).expect("category"))
                .collect(),
        }
    }

    /// Draw a scene.
    pub fn scene(&self, rng: &mut ChaCha8Rng) -> Scene {
        let lex = self.lex;
        let topic = zipf(rng, lex.topics.len(), 0.5);
        let t = &lex.topics[topic];
        let n_objects = 2 + zipf(rng, 6, 0.3);
        let mut objects: Vec<SceneObject> = Vec::with_capacity(n_objects);
        while objects.len() < n_objects {
            let cat = t.objects[weighted(rng, t.objects.iter().map(|(_, w)| *w))].0;
            debug_assert!(self.object_categories.contains(&cat));
            let concepts = &lex.categories[cat].concepts;
            let concept = concepts[zipf(rng, concepts.len(), CONCEPT_ZIPF)];
            if objects.iter().any(|o| o.concept == concept) {
                continue;
            }
            let attrs = &lex.categories[self.attributes].concepts;
            let n_attr = match rng.random::<f64>() {
                x if x < 0.2 => 0,
                x if x < 0.7 => 1,
                _ => 2,
            };
            let mut attributes = Vec::with_capacity(n_attr);
            while attributes.len() < n_attr {
                let a = attrs[zipf(rng, attrs.len(), ATTRIBUTE_ZIPF)];
                if !attributes.contains(&a) {
                    attributes.push(a);
                }
            }
            let salience = if objects.is_empty() {
                1.0
            } else {
                rng.random_range(0.3..0.9)
            };
            objects.push(SceneObject {
                concept,
                attributes,
                salience,
            });
        }
        let actions = &lex.categories[self.actions].concepts;
        let action = actions[zipf(rng, actions.len(), ACTION_ZIPF)];
        let patient = (rng.random::<f64>() < 0.6).then_some(1);
        let place = t.places[zipf(rng, t.places.len(), 1.2)];
        Scene {
            topic,
            objects,
            action,
            patient,
            place,
        }
    }

    /// A surface form of `concept`: the first form is the most frequent.
    fn form(&self, rng: &mut ChaCha8Rng, concept: usize) -> usize {
        let forms = &self.lex.concepts[concept].forms;
        forms[zipf(rng, forms.len(), SYNONYM_ZIPF)]
    }

    /// A noun phrase for `o`: determiner, the attributes this annotator mentions, the noun;
    /// pushes the phrase's parts (the noun, each attribute alone and bound to the noun).
    fn noun_phrase(
        &self,
        rng: &mut ChaCha8Rng,
        o: &SceneObject,
        weight: f32,
        parts: &mut Vec<Part>,
    ) -> Np {
        use weights::*;
        let lex = self.lex;
        let noun = self.form(rng, o.concept);
        let mut attrs: Vec<usize> = Vec::with_capacity(o.attributes.len());
        for &a in &o.attributes {
            if rng.random::<f64>() < ATTRIBUTE_MENTION {
                attrs.push(self.form(rng, a));
            }
        }
        let first = lex.forms[attrs.first().copied().unwrap_or(noun)];
        let det = match rng.random_range(0..10) {
            0..=6 if first.starts_with(['a', 'e', 'i', 'o', 'u']) => "an",
            0..=6 => "a",
            7 | 8 => "the",
            _ => "one",
        };
        let mut words = vec![det];
        parts.push(Part::unit(noun, weight));
        for &a in &attrs {
            words.push(lex.forms[a]);
            parts.push(Part::unit(a, ATTRIBUTE * weight));
            parts.push(Part::bound(a, noun, false, ATTRIBUTE_BINDING * weight));
        }
        words.push(lex.forms[noun]);
        Np { words, noun }
    }

    /// Draw one caption of `scene` (one annotator's description).
    pub fn caption(&self, rng: &mut ChaCha8Rng, scene: &Scene) -> Caption {
        use weights::*;
        let lex = self.lex;
        let mut parts = Vec::new();
        // What this annotator mentions: the main object nearly always, the patient often,
        // other objects by salience; at most three objects.
        let main = &scene.objects[0];
        let mention_main = rng.random::<f64>() < 0.95;
        let mention_action = mention_main && rng.random::<f64>() < 0.8;
        let patient = scene
            .patient
            .filter(|_| mention_action && rng.random::<f64>() < 0.75);
        let others: Vec<usize> = (1..scene.objects.len())
            .filter(|&i| Some(i) != patient)
            .filter(|&i| rng.random::<f64>() < SECONDARY_MENTION * scene.objects[i].salience as f64)
            .take(if patient.is_some() { 1 } else { 2 })
            .collect();
        let subject_obj = if mention_main {
            main
        } else {
            &scene.objects[others.first().copied().unwrap_or(1)]
        };
        let subject = self.noun_phrase(rng, subject_obj, subject_obj.salience, &mut parts);
        let patient_np = patient.map(|p| {
            let o = &scene.objects[p];
            self.noun_phrase(rng, o, o.salience, &mut parts)
        });
        let other_nps: Vec<Np> = others
            .iter()
            .filter(|&&i| !std::ptr::eq(&scene.objects[i], subject_obj))
            .map(|&i| {
                let o = &scene.objects[i];
                self.noun_phrase(rng, o, o.salience, &mut parts)
            })
            .collect();
        let action = mention_action.then(|| {
            let f = self.form(rng, scene.action);
            parts.push(Part::unit(f, ACTION));
            parts.push(Part::bound(f, subject.noun, false, ROLE_BINDING));
            if let Some(p) = &patient_np {
                let w = ROLE_BINDING * scene.objects[scene.patient.unwrap_or(1)].salience;
                parts.push(Part::bound(f, p.noun, true, w));
            }
            lex.forms[f]
        });
        let place = (rng.random::<f64>() < 0.6).then(|| {
            let f = self.form(rng, scene.place);
            parts.push(Part::unit(f, PLACE));
            let prep =
                ["in", "on", "at", "near", "by", "inside", "outside"][rng.random_range(0..7)];
            vec![prep, "the", lex.forms[f]]
        });

        // Sentence: subject [with/and others] [is] action [patient] [place].
        let plural = !other_nps.is_empty() && action.is_some() && rng.random::<f64>() < 0.4;
        let mut np_words: Vec<&'static str> = subject.words.clone();
        for np in &other_nps {
            if plural {
                np_words.push("and");
            } else {
                match rng.random_range(0..4) {
                    0 => np_words.push("with"),
                    1 => np_words.extend(["next", "to"]),
                    2 => np_words.push("near"),
                    _ => np_words.push("beside"),
                }
            }
            np_words.extend(np.words.iter().copied());
        }
        let verb = if plural { "are" } else { "is" };
        let mut predicate: Vec<&'static str> = Vec::new();
        if let Some(a) = action {
            predicate.push(a);
            if let Some(p) = &patient_np {
                predicate.extend(p.words.iter().copied());
            }
        }
        let mut words: Vec<&'static str> = Vec::new();
        let mut comma_after = None;
        match rng.random_range(0..6) {
            // "a photo of a dog chasing a cat in the park"
            0 => {
                let prefix: &[&str] = match rng.random_range(0..4) {
                    0 => &["a", "photo", "of"],
                    1 => &["a", "picture", "of"],
                    2 => &["an", "image", "of"],
                    _ => &["a", "close", "up", "of"],
                };
                words.extend(prefix);
                words.extend(&np_words);
                words.extend(&predicate);
                words.extend(place.iter().flatten());
            }
            // "in the park, a dog is chasing a cat"
            1 if place.is_some() && !predicate.is_empty() => {
                words.extend(place.iter().flatten());
                comma_after = Some(words.len());
                words.extend(&np_words);
                words.push(verb);
                words.extend(&predicate);
            }
            // "there is a dog chasing a cat in the park"
            2 if !plural => {
                words.extend(["there", "is"]);
                words.extend(&np_words);
                words.extend(&predicate);
                words.extend(place.iter().flatten());
            }
            // "a dog chasing a cat in the park"
            3 => {
                words.extend(&np_words);
                words.extend(&predicate);
                words.extend(place.iter().flatten());
            }
            // "a dog is chasing a cat in the park" / "a dog in the park"
            _ => {
                words.extend(&np_words);
                if !predicate.is_empty() {
                    words.push(verb);
                    words.extend(&predicate);
                }
                words.extend(place.iter().flatten());
            }
        }
        // The annotator's own filler: one phrase usually, sometimes two.
        let fillers = match rng.random::<f64>() {
            x if x < 0.25 => 0,
            x if x < 0.8 => 1,
            _ => 2,
        };
        for _ in 0..fillers {
            words.extend(FILLER_PHRASES[rng.random_range(0..FILLER_PHRASES.len())]);
        }
        let mut raw = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                raw.push(' ');
            }
            if i == 0 {
                let mut c = w.chars();
                raw.extend(c.next().map(|c| c.to_ascii_uppercase()));
                raw.push_str(c.as_str());
            } else {
                raw.push_str(w);
            }
            if comma_after == Some(i + 1) {
                raw.push(',');
            }
        }
        raw.push('.');
        Caption {
            tokens: words,
            raw,
            parts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn scenes_and_captions_are_well_formed() {
        let lex = Lexicon::builtin();
        let s = SceneSampler::new(&lex);
        let mut synonyms_differ = 0;
        let mut patients = 0;
        for i in 0..300 {
            let mut rng = stream(7, "test", i);
            let scene = s.scene(&mut rng);
            assert!((2..=7).contains(&scene.objects.len()));
            assert_eq!(scene.objects[0].salience, 1.0);
            assert!(scene.objects.iter().all(|o| o.attributes.len() <= 2));
            let caps: Vec<_> = (0..5).map(|_| s.caption(&mut rng, &scene)).collect();
            for c in &caps {
                assert!(c.raw.ends_with('.') && c.raw.chars().next().unwrap().is_uppercase());
                assert!(!c.parts.is_empty());
                // Every part names words of the caption, and every word is in the lexicon.
                for p in &c.parts {
                    assert!(c.tokens.contains(&lex.forms[p.a]));
                    if let Some(b) = p.b {
                        assert!(c.tokens.contains(&lex.forms[b]));
                    }
                    patients += p.patient as usize;
                }
                assert!(
                    c.tokens
                        .iter()
                        .all(|t| lex.caption_words().any(|w| w == *t)),
                    "{:?}",
                    c.tokens
                );
            }
            // Does some concept appear under two different forms across the five captions?
            let mut seen = std::collections::HashMap::new();
            for c in &caps {
                for p in c.parts.iter().filter(|p| p.b.is_none()) {
                    seen.entry(lex.form_concept[p.a])
                        .or_insert_with(std::collections::HashSet::new)
                        .insert(p.a);
                }
            }
            synonyms_differ += seen.values().any(|forms| forms.len() > 1) as usize;
        }
        assert!(
            synonyms_differ > 60,
            "captions vary their wording ({synonyms_differ}/300)"
        );
        assert!(
            patients > 200,
            "captions say who does what to whom ({patients})"
        );
    }

    #[test]
    fn a_scene_binds_attributes_to_their_objects() {
        let lex = Lexicon::builtin();
        let s = SceneSampler::new(&lex);
        let scene = s.scene(&mut stream(3, "bind", 0));
        for part in scene.parts().iter().filter(|p| p.b.is_some()) {
            let b = part.b.unwrap();
            if part.a == scene.action {
                if part.patient {
                    assert_eq!(Some(b), scene.patient.map(|p| scene.objects[p].concept));
                } else {
                    assert_eq!(b, scene.objects[0].concept);
                }
            } else {
                assert!(
                    scene
                        .objects
                        .iter()
                        .any(|o| o.concept == b && o.attributes.contains(&part.a))
                );
            }
        }
    }
}

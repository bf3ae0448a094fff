//! Scenes (what an image shows) and captions (what a person says about it).
//!
//! A scene has a topic, 2–6 objects (the first is the main one), an attribute for some
//! objects, an action and a place. Each of its five captions mentions a random subset of the
//! scene with random surface forms and a random template, so captions of one image differ in
//! wording and a query's synonym is often absent from the image's other captions.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::lexicon::{Lexicon, OBJECT_CATEGORIES};

/// One object of a scene.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneObject {
    /// Concept id.
    pub concept: usize,
    /// Attribute concept, if any.
    pub attribute: Option<usize>,
    /// Visual salience in (0, 1]: the main object is 1.
    pub salience: f32,
}

/// What an image shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Topic index.
    pub topic: usize,
    /// 2–6 distinct objects, main object first.
    pub objects: Vec<SceneObject>,
    /// Action concept (done by the main object).
    pub action: usize,
    /// Place concept.
    pub place: usize,
}

/// A caption: its words and the surface forms it mentions with their weights in the caption's
/// meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// Lower-case word tokens (punctuation excluded), as Karpathy's `tokens`.
    pub tokens: Vec<&'static str>,
    /// The sentence as written (capitalised, with punctuation).
    pub raw: String,
    /// `(form id, weight)` of every content word mentioned.
    pub mentions: Vec<(usize, f32)>,
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

/// Scene sampler over a lexicon.
#[derive(Debug, Clone)]
pub struct SceneSampler<'l> {
    lex: &'l Lexicon,
    attributes: usize,
    actions: usize,
    object_categories: Vec<usize>,
}

impl<'l> SceneSampler<'l> {
    /// A sampler over `lex`.
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
        let topic = rng.random_range(0..lex.topics.len());
        let t = &lex.topics[topic];
        let n_objects = rng.random_range(2..=6);
        let mut objects: Vec<SceneObject> = Vec::with_capacity(n_objects);
        while objects.len() < n_objects {
            let cat = t.objects[weighted(rng, t.objects.iter().map(|(_, w)| *w))].0;
            debug_assert!(self.object_categories.contains(&cat));
            let concepts = &lex.categories[cat].concepts;
            let concept = concepts[zipf(rng, concepts.len(), 0.6)];
            if objects.iter().any(|o| o.concept == concept) {
                continue;
            }
            let attribute = (rng.random::<f64>() < 0.5).then(|| {
                let attrs = &lex.categories[self.attributes].concepts;
                attrs[zipf(rng, attrs.len(), 0.8)]
            });
            let salience = if objects.is_empty() {
                1.0
            } else {
                rng.random_range(0.35..0.85)
            };
            objects.push(SceneObject {
                concept,
                attribute,
                salience,
            });
        }
        let actions = &lex.categories[self.actions].concepts;
        let action = actions[zipf(rng, actions.len(), 0.8)];
        let place = t.places[zipf(rng, t.places.len(), 0.7)];
        Scene {
            topic,
            objects,
            action,
            place,
        }
    }

    /// A surface form of `concept`: the first form is the most frequent.
    fn form(&self, rng: &mut ChaCha8Rng, concept: usize) -> usize {
        let forms = &self.lex.concepts[concept].forms;
        forms[zipf(rng, forms.len(), 1.2)]
    }

    /// Draw one caption of `scene`.
    pub fn caption(&self, rng: &mut ChaCha8Rng, scene: &Scene) -> Caption {
        let lex = self.lex;
        let mut mentions = Vec::new();
        // Which objects are mentioned: the main one usually, the others by salience.
        let mut chosen: Vec<&SceneObject> = scene
            .objects
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                let p = if *i == 0 {
                    0.92
                } else {
                    0.7 * o.salience as f64
                };
                rng.random::<f64>() < p
            })
            .map(|(_, o)| o)
            .take(4)
            .collect();
        if chosen.is_empty() {
            chosen.push(&scene.objects[rng.random_range(0..scene.objects.len())]);
        }
        let mut phrases: Vec<Vec<&'static str>> = Vec::new();
        for (k, o) in chosen.iter().enumerate() {
            let mut words = Vec::new();
            let noun = self.form(rng, o.concept);
            let attr = o
                .attribute
                .filter(|_| rng.random::<f64>() < 0.6)
                .map(|a| self.form(rng, a));
            let first = lex.forms[attr.unwrap_or(noun)];
            let det = match rng.random_range(0..10) {
                0..=6 if first.starts_with(['a', 'e', 'i', 'o', 'u']) => "an",
                0..=6 => "a",
                7 | 8 => "the",
                _ => "one",
            };
            words.push(det);
            if let Some(a) = attr {
                words.push(lex.forms[a]);
                mentions.push((a, 0.6));
            }
            words.push(lex.forms[noun]);
            mentions.push((noun, if k == 0 { 1.0 } else { 0.8 }));
            phrases.push(words);
        }
        let action = (rng.random::<f64>() < 0.75).then(|| {
            let f = self.form(rng, scene.action);
            mentions.push((f, 0.8));
            lex.forms[f]
        });
        let place = (rng.random::<f64>() < 0.7).then(|| {
            let f = self.form(rng, scene.place);
            mentions.push((f, 0.9));
            let prep =
                ["in", "on", "at", "near", "by", "inside", "outside"][rng.random_range(0..7)];
            vec![prep, "the", lex.forms[f]]
        });

        // Subject: the phrases joined by a connector.
        let plural = phrases.len() > 1 && rng.random::<f64>() < 0.5;
        let mut subject: Vec<&'static str> = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            if i > 0 {
                if plural {
                    subject.push("and");
                } else {
                    match rng.random_range(0..4) {
                        0 => subject.push("with"),
                        1 => subject.extend(["next", "to"]),
                        2 => subject.push("near"),
                        _ => subject.push("beside"),
                    }
                }
            }
            subject.extend(p.iter().copied());
        }
        let verb = if plural { "are" } else { "is" };
        let mut words: Vec<&'static str> = Vec::new();
        let mut comma_after = None;
        match (rng.random_range(0..5), action) {
            // "a photo of a dog running in the park"
            (0, _) => {
                let prefix: &[&str] = match rng.random_range(0..4) {
                    0 => &["a", "photo", "of"],
                    1 => &["a", "picture", "of"],
                    2 => &["an", "image", "of"],
                    _ => &["a", "close", "up", "of"],
                };
                words.extend(prefix);
                words.extend(&subject);
                words.extend(action);
                words.extend(place.iter().flatten());
            }
            // "in the park, a dog is running"
            (1, Some(a)) if place.is_some() => {
                words.extend(place.iter().flatten());
                comma_after = Some(words.len());
                words.extend(&subject);
                words.extend([verb, a]);
            }
            // "there is a dog running in the park"
            (2, _) if !plural => {
                words.extend(["there", "is"]);
                words.extend(&subject);
                words.extend(action);
                words.extend(place.iter().flatten());
            }
            // "a dog is running in the park" / "a dog in the park"
            _ => {
                words.extend(&subject);
                if let Some(a) = action {
                    words.extend([verb, a]);
                }
                words.extend(place.iter().flatten());
            }
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
            mentions,
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
        for i in 0..300 {
            let mut rng = stream(7, "test", i);
            let scene = s.scene(&mut rng);
            assert!((2..=6).contains(&scene.objects.len()));
            assert_eq!(scene.objects[0].salience, 1.0);
            let caps: Vec<_> = (0..5).map(|_| s.caption(&mut rng, &scene)).collect();
            for c in &caps {
                assert!(c.raw.ends_with('.') && c.raw.chars().next().unwrap().is_uppercase());
                assert!(!c.mentions.is_empty());
                // Every mention is a word of the caption, and every word is in the lexicon.
                for (f, _) in &c.mentions {
                    assert!(c.tokens.contains(&lex.forms[*f]));
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
                for (f, _) in &c.mentions {
                    seen.entry(lex.form_concept[*f])
                        .or_insert_with(std::collections::HashSet::new)
                        .insert(*f);
                }
            }
            synonyms_differ += seen.values().any(|forms| forms.len() > 1) as usize;
        }
        assert!(
            synonyms_differ > 60,
            "captions vary their wording ({synonyms_differ}/300)"
        );
    }
}

//! The built-in English lexicon (`lexicon.txt`): concepts in categories, each with 1–4
//! surface forms that are whole words of the BERT uncased vocabulary, plus function words and
//! scene topics.

/// A concept and its surface forms, most frequent first.
#[derive(Debug, Clone)]
pub struct Concept {
    /// Index into [`Lexicon::categories`].
    pub category: usize,
    /// Rank inside its category (0 = most frequent; frequencies fall as `1 / (rank + 1)`).
    pub rank: usize,
    /// Global ids of its surface forms in [`Lexicon::forms`].
    pub forms: Vec<usize>,
}

/// A category of concepts.
#[derive(Debug, Clone)]
pub struct Category {
    /// Name (`animals`, `vehicles`, …).
    pub name: &'static str,
    /// Its concepts, by falling frequency.
    pub concepts: Vec<usize>,
}

/// A kind of scene: which object categories it shows (with weights) and where it happens.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Name.
    pub name: &'static str,
    /// `(category, weight)` for the objects.
    pub objects: Vec<(usize, f64)>,
    /// Place concepts, most typical first.
    pub places: Vec<usize>,
}

/// The parsed lexicon.
#[derive(Debug, Clone)]
pub struct Lexicon {
    /// Categories in file order.
    pub categories: Vec<Category>,
    /// All concepts.
    pub concepts: Vec<Concept>,
    /// All surface forms (unique words).
    pub forms: Vec<&'static str>,
    /// For each form, its concept.
    pub form_concept: Vec<usize>,
    /// Scene topics.
    pub topics: Vec<Topic>,
}

const LEXICON: &str = include_str!("lexicon.txt");

/// Words the caption templates use besides the lexicon, by falling frequency (Zipf-like).
pub const FUNCTION_WORDS: &[&str] = &[
    "a",
    "the",
    "is",
    "and",
    "of",
    "with",
    "on",
    "in",
    "an",
    "are",
    "there",
    "near",
    "next",
    "to",
    "at",
    "by",
    "photo",
    "while",
    "this",
    "one",
    "some",
    "picture",
    "beside",
    "image",
    "close",
    "up",
    "view",
    "two",
    "its",
    "inside",
    "outside",
    "front",
    "behind",
    "shot",
    "background",
    "during",
    "day",
    "night",
    "together",
    "outdoors",
    "same",
    "time",
    "distance",
    "left",
    "right",
    "from",
    "above",
    "middle",
    "side",
    "edge",
    "others",
    "around",
    "cloudy",
    "top",
    "nearby",
    "seen",
];

/// Phrases annotators add that say little about what tells the image apart ("in the
/// background", "during the day"): real captions are full of them, and they make a caption's
/// words differ from its siblings'. Every word is in [`FUNCTION_WORDS`].
pub const FILLER_PHRASES: &[&[&str]] = &[
    &["in", "the", "background"],
    &["during", "the", "day"],
    &["at", "night"],
    &["together"],
    &["outdoors"],
    &["at", "the", "same", "time"],
    &["in", "the", "distance"],
    &["on", "the", "left"],
    &["on", "the", "right"],
    &["seen", "from", "above"],
    &["in", "the", "middle"],
    &["on", "the", "side"],
    &["at", "the", "edge"],
    &["with", "others", "around"],
    &["on", "a", "cloudy", "day"],
    &["in", "front"],
    &["on", "top"],
    &["nearby"],
    &["seen", "from", "the", "side"],
];

/// Category names that hold objects a scene can contain.
pub const OBJECT_CATEGORIES: &[&str] = &[
    "animals",
    "vehicles",
    "people",
    "food",
    "furniture",
    "sports",
    "clothing",
    "objects",
    "nature",
];

/// A topic as written below: name, `(object category, weight)` pairs, place words.
type TopicSpec = (
    &'static str,
    &'static [(&'static str, f64)],
    &'static [&'static str],
);

/// The scene topics.
const TOPICS: &[TopicSpec] = &[
    (
        "street",
        &[
            ("vehicles", 3.0),
            ("people", 3.0),
            ("clothing", 1.0),
            ("objects", 0.7),
            ("animals", 0.5),
        ],
        &[
            "street", "city", "sidewalk", "highway", "bridge", "alley", "village", "station",
        ],
    ),
    (
        "home",
        &[
            ("furniture", 3.0),
            ("objects", 2.5),
            ("people", 1.5),
            ("food", 1.0),
            ("animals", 0.8),
        ],
        &[
            "kitchen",
            "bedroom",
            "house",
            "bathroom",
            "office",
            "classroom",
            "library",
            "hotel",
        ],
    ),
    (
        "park",
        &[
            ("people", 2.5),
            ("animals", 1.5),
            ("sports", 1.5),
            ("nature", 1.5),
            ("clothing", 0.7),
        ],
        &[
            "park",
            "field",
            "garden",
            "playground",
            "backyard",
            "zoo",
            "track",
        ],
    ),
    (
        "water",
        &[
            ("people", 2.0),
            ("vehicles", 1.2),
            ("nature", 2.0),
            ("sports", 1.0),
            ("animals", 0.8),
        ],
        &[
            "beach", "ocean", "lake", "river", "harbor", "pool", "island",
        ],
    ),
    (
        "farm",
        &[
            ("animals", 3.5),
            ("people", 1.0),
            ("vehicles", 0.8),
            ("nature", 1.5),
            ("food", 0.5),
        ],
        &["farm", "field", "barn", "village", "mountain", "garden"],
    ),
    (
        "sports",
        &[
            ("sports", 3.0),
            ("people", 3.0),
            ("clothing", 1.5),
            ("objects", 0.5),
        ],
        &["stadium", "court", "field", "gym", "track", "park", "pool"],
    ),
    (
        "meal",
        &[
            ("food", 3.5),
            ("objects", 2.0),
            ("people", 1.5),
            ("furniture", 1.0),
        ],
        &["restaurant", "kitchen", "market", "bar", "house", "store"],
    ),
    (
        "wild",
        &[("animals", 3.5), ("nature", 2.5), ("people", 0.3)],
        &[
            "forest", "jungle", "desert", "mountain", "river", "zoo", "island",
        ],
    ),
    (
        "travel",
        &[
            ("vehicles", 2.0),
            ("people", 2.0),
            ("objects", 1.5),
            ("clothing", 1.0),
        ],
        &[
            "airport", "station", "subway", "hotel", "street", "museum", "city", "hospital",
        ],
    ),
    (
        "shop",
        &[
            ("objects", 2.5),
            ("food", 1.5),
            ("clothing", 2.0),
            ("people", 1.5),
        ],
        &[
            "store", "market", "school", "church", "museum", "street", "office",
        ],
    ),
];

impl Lexicon {
    /// Parse the built-in lexicon.
    ///
    /// # Panics
    /// Never for the shipped `lexicon.txt` (a unit test parses it); the file is compiled in.
    pub fn builtin() -> Self {
        let mut lex = Lexicon {
            categories: Vec::new(),
            concepts: Vec::new(),
            forms: Vec::new(),
            form_concept: Vec::new(),
            topics: Vec::new(),
        };
        for line in LEXICON.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('@') {
                lex.categories.push(Category {
                    name: name.trim(),
                    concepts: Vec::new(),
                });
                continue;
            }
            let category = lex.categories.len() - 1;
            let id = lex.concepts.len();
            let rank = lex.categories[category].concepts.len();
            let forms = line
                .split_whitespace()
                .map(|w| {
                    lex.forms.push(w);
                    lex.form_concept.push(id);
                    lex.forms.len() - 1
                })
                .collect();
            lex.categories[category].concepts.push(id);
            lex.concepts.push(Concept {
                category,
                rank,
                forms,
            });
        }
        for (name, objects, places) in TOPICS {
            let objects = objects
                .iter()
                .map(|(c, w)| (lex.category(c).expect("topic category exists"), *w))
                .collect();
            let places = places
                .iter()
                .map(|p| lex.concept_of(p).expect("topic place exists"))
                .collect();
            lex.topics.push(Topic {
                name,
                objects,
                places,
            });
        }
        lex
    }

    /// Index of a category by name.
    pub fn category(&self, name: &str) -> Option<usize> {
        self.categories.iter().position(|c| c.name == name)
    }

    /// The concept a word is a surface form of.
    pub fn concept_of(&self, word: &str) -> Option<usize> {
        self.forms
            .iter()
            .position(|&f| f == word)
            .map(|f| self.form_concept[f])
    }

    /// Every word the captions can contain: function words, then all surface forms.
    pub fn caption_words(&self) -> impl Iterator<Item = &'static str> + '_ {
        FUNCTION_WORDS
            .iter()
            .copied()
            .chain(self.forms.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_has_the_promised_shape() {
        let lex = Lexicon::builtin();
        assert!(lex.concepts.len() >= 300, "{} concepts", lex.concepts.len());
        assert!(lex.categories.len() >= 8);
        for name in [
            "animals",
            "vehicles",
            "people",
            "food",
            "furniture",
            "sports",
            "places",
            "attributes",
            "actions",
        ] {
            assert!(lex.category(name).is_some(), "{name}");
        }
        for c in &lex.concepts {
            assert!((1..=4).contains(&c.forms.len()));
        }
        let mut words: Vec<_> = lex.caption_words().collect();
        let n = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(
            words.len(),
            n,
            "a word belongs to one concept (or is a function word)"
        );
        assert!(
            words
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        );
        assert_eq!(lex.concept_of("puppy"), lex.concept_of("dog"));
        assert_eq!(lex.topics.len(), TOPICS.len());
        for phrase in FILLER_PHRASES {
            assert!(
                phrase.iter().all(|w| FUNCTION_WORDS.contains(w)),
                "{phrase:?}"
            );
        }
    }
}

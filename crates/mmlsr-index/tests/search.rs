//! Every exact algorithm returns exactly the brute-force top-k (ids and scores, ties by
//! document id) on random and adversarial collections.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{
    Algorithm, DocOrder, Error, Impact, IndexConfig, InvertedIndex, QueryCut, QueryWeights,
    Scratch, brute_force_top_k, exact_top_k_f64,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows over `v` terms; term `t` appears with probability `p(t)`; weights drawn from a small
/// grid when `ties` (many equal scores), otherwise continuous.
fn random_rows(
    rng: &mut ChaCha8Rng,
    rows: usize,
    v: usize,
    p: &dyn Fn(usize) -> f64,
    ties: bool,
) -> CsrMatrix {
    let mut m = CsrMatrix::empty(v);
    for _ in 0..rows {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v {
            if rng.random_bool(p(t)) {
                i.push(t as u32);
                w.push(if ties {
                    rng.random_range(1..4) as f32 * 0.5
                } else {
                    rng.random_range(0.0f32..3.0)
                });
            }
        }
        m.push_row(&i, &w).unwrap();
    }
    m
}

/// Every algorithm, one query at a time and in batches (`search_many`, `search_batch`), against
/// the brute force.
fn check_all<I: Impact>(index: &InvertedIndex<I>, queries: &CsrMatrix, ks: &[usize], what: &str) {
    let mut scratch = Scratch::default();
    let all: Vec<QueryWeights> = queries
        .rows()
        .map(|q| index.quantize_query(q).unwrap())
        .collect();
    for &k in ks {
        let want: Vec<_> = all.iter().map(|q| brute_force_top_k(index, q, k)).collect();
        for alg in [
            Algorithm::Exhaustive,
            Algorithm::MaxScore,
            Algorithm::BlockMax,
        ] {
            for (qi, q) in all.iter().enumerate() {
                let got = index.search(q, k, alg, &mut scratch);
                assert_eq!(got, want[qi], "{what}: query {qi}, k {k}, {alg:?}");
            }
            let many = index.search_many(&all, k, alg, &mut scratch);
            assert_eq!(many, want, "{what}: search_many, k {k}, {alg:?}");
            let batch = index.search_batch(&all, k, alg);
            assert_eq!(batch, want, "{what}: search_batch, k {k}, {alg:?}");
        }
    }
}

/// The default configuration with blocks of `block_size` documents.
fn blocks_of(block_size: usize) -> IndexConfig {
    IndexConfig {
        block_size,
        ..IndexConfig::default()
    }
}

/// The document orders every exactness test runs under.
const ORDERS: [DocOrder; 3] = [
    DocOrder::Given,
    DocOrder::HeaviestTerms { terms: 1 },
    DocOrder::HeaviestTerms { terms: 3 },
];

#[test]
fn random_collections_match_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (round, (n_docs, v, ties, block)) in [
        (300, 40, false, 64),
        (500, 60, true, 8),
        (200, 25, true, 1),
        (1000, 120, false, 16),
    ]
    .into_iter()
    .enumerate()
    {
        // Skewed document frequencies, as in learned sparse vectors.
        let docs = random_rows(&mut rng, n_docs, v, &|t| 0.6 / (1.0 + t as f64 * 0.3), ties);
        let queries = random_rows(&mut rng, 30, v, &|_| 0.15, ties);
        // Reordered documents must give the same hits (ids as given, ties by given id).
        for doc_order in ORDERS {
            let config = IndexConfig {
                block_size: block,
                doc_order,
            };
            let index = InvertedIndex::<u8>::build(&docs, config).unwrap();
            assert_eq!(index.doc_order().is_some(), doc_order != DocOrder::Given);
            let ks = [1, 3, 10, 100, 5000];
            check_all(
                &index,
                &queries,
                &ks,
                &format!("round {round}, u8, {doc_order:?}"),
            );
            let index = InvertedIndex::<u16>::build(&docs, config).unwrap();
            check_all(
                &index,
                &queries,
                &ks,
                &format!("round {round}, u16, {doc_order:?}"),
            );
        }
    }
}

/// Dense rows of impacts for no term, the frequent ones, or every term, never change a result;
/// with `u16` impacts the rows' filter rescores a few documents per query, and a query whose
/// top k it cannot vouch for (fewer matches than k) is answered from its postings.
#[test]
fn impact_rows_change_speed_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    // Dense vectors over a small vocabulary (as trained heads make them), with ties, and
    // queries from dense to a single rare term.
    let v = 80;
    for ties in [false, true] {
        let docs = random_rows(&mut rng, 700, v, &|t| 0.5 / (1.0 + t as f64 * 0.05), ties);
        let mut queries = random_rows(&mut rng, 40, v, &|_| 0.4, ties);
        queries.push_row(&[v as u32 - 1], &[1.0]).unwrap();
        queries.push_row(&[0, v as u32 - 1], &[1e-3, 2.0]).unwrap();
        for doc_order in [DocOrder::Given, DocOrder::HeaviestTerms { terms: 2 }] {
            let config = IndexConfig {
                block_size: 16,
                doc_order,
            };
            let mut u8_index = InvertedIndex::<u8>::build(&docs, config).unwrap();
            let mut u16_index = InvertedIndex::<u16>::build(&docs, config).unwrap();
            let ks = [1, 10, 100, 1000];
            for fraction in [f64::INFINITY, 0.5, 1.0 / 8.0, 0.0] {
                u8_index.set_impact_rows(fraction);
                u16_index.set_impact_rows(fraction);
                let what = format!("ties {ties}, {doc_order:?}, rows for ≥ {fraction}");
                check_all(&u8_index, &queries, &ks, &format!("u8, {what}"));
                check_all(&u16_index, &queries, &ks, &format!("u16, {what}"));
            }
            assert_eq!(u16_index.n_impact_rows(), v);
            // Dense queries: the filter rescored a few candidates, not the collection.
            let mut s = Scratch::default();
            let mut rescored = Vec::new();
            for q in queries.rows().take(40) {
                let q = u16_index.quantize_query(q).unwrap();
                u16_index.search(&q, 10, Algorithm::Exhaustive, &mut s);
                rescored.push(s.rescored);
            }
            rescored.sort_unstable();
            let median = rescored[rescored.len() / 2];
            assert!(
                (10..=100).contains(&median),
                "{doc_order:?}, ties {ties}: documents rescored per query {rescored:?}"
            );
        }
    }
}

/// Query-term pruning: exact when it keeps every term, exact scores and most of the top k when
/// it keeps half, more of it with more candidates; one by one, `search_cut_many` and
/// `search_cut_batch` agree; bad cuts are refused.
/// Over several chunks of documents, the `u16` filter both rescores its candidates and, for a
/// deep k over many query terms, hands queries to their postings (estimated from the first
/// chunk, or on too many candidates); results stay the brute force's either way.
#[test]
fn the_u16_filter_falls_back_where_rescoring_would_cost_more() {
    let mut rng = ChaCha8Rng::seed_from_u64(37);
    let v = 2000;
    // 2,000 rows of 2 MiB / 2,000 = 1,024 documents a chunk: 3 chunks.
    let docs = random_rows(&mut rng, 3000, v, &|t| 0.02 + 0.1 / (1.0 + t as f64), false);
    let queries = random_rows(&mut rng, 12, v, &|_| 0.1, false);
    let mut index = InvertedIndex::<u16>::build(&docs, IndexConfig::default()).unwrap();
    index.set_impact_rows(0.0);
    assert!(index.n_impact_rows() > 1900);
    let qs: Vec<QueryWeights> = queries
        .rows()
        .map(|q| index.quantize_query(q).unwrap())
        .collect();
    let mut s = Scratch::default();
    let mut paths = std::collections::BTreeMap::new();
    for k in [1, 10, 1000, 2500] {
        let want: Vec<_> = qs.iter().map(|q| brute_force_top_k(&index, q, k)).collect();
        for (qi, q) in qs.iter().enumerate() {
            let got = index.search(q, k, Algorithm::Exhaustive, &mut s);
            assert_eq!(got, want[qi], "k {k}, query {qi}");
            *paths.entry((k, s.fell_back)).or_insert(0) += 1;
        }
        assert_eq!(
            index.search_many(&qs, k, Algorithm::Exhaustive, &mut s),
            want
        );
        assert_eq!(index.search_batch(&qs, k, Algorithm::Exhaustive), want);
    }
    // Shallow k: the filter answers; deep k: the postings do.
    assert_eq!(paths.get(&(10, false)), Some(&qs.len()), "{paths:?}");
    assert_eq!(paths.get(&(2500, true)), Some(&qs.len()), "{paths:?}");
}

#[test]
fn query_cuts_rank_their_candidates_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let v = 60;
    let docs = random_rows(&mut rng, 800, v, &|t| 0.5 / (1.0 + t as f64 * 0.05), false);
    let queries = random_rows(&mut rng, 40, v, &|_| 0.5, false);
    let k = 10;
    let u8_index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let reordered = InvertedIndex::<u16>::build(
        &docs,
        IndexConfig {
            doc_order: DocOrder::HeaviestTerms { terms: 2 },
            ..IndexConfig::default()
        },
    )
    .unwrap();
    fn run<I: Impact>(index: &InvertedIndex<I>, queries: &CsrMatrix, k: usize) {
        let qs: Vec<QueryWeights> = queries
            .rows()
            .map(|q| index.quantize_query(q).unwrap())
            .collect();
        let want: Vec<_> = qs.iter().map(|q| brute_force_top_k(index, q, k)).collect();
        let mut s = Scratch::default();
        // Every term: exact for `u8` impacts with k candidates; `u16` ones pick candidates by
        // their high byte, so they need a few more.
        let all = QueryCut {
            terms: usize::MAX,
            candidates: if I::BITS == 8 { k } else { 5 * k },
        };
        for (q, w) in qs.iter().zip(&want) {
            assert_eq!(&index.search_cut(q, k, all, &mut s).unwrap(), w);
        }
        let mut recalls = Vec::new();
        for candidates in [k, 3 * k, 10 * k] {
            let cut = QueryCut {
                terms: 10,
                candidates,
            };
            let one: Vec<_> = qs
                .iter()
                .map(|q| index.search_cut(q, k, cut, &mut s).unwrap())
                .collect();
            assert_eq!(index.search_cut_many(&qs, k, cut, &mut s).unwrap(), one);
            assert_eq!(index.search_cut_batch(&qs, k, cut).unwrap(), one);
            let mut found = 0;
            for ((q, got), w) in qs.iter().zip(&one).zip(&want) {
                assert!(q.terms().len() > 10, "the cut must drop terms");
                // Every hit carries its exact score under the whole query.
                let exact = brute_force_top_k(index, q, index.n_docs());
                for h in got {
                    let e = exact.iter().find(|e| e.doc == h.doc).unwrap();
                    assert_eq!(h.score.raw, e.score.raw);
                }
                found += got.iter().filter(|h| w.contains(h)).count();
            }
            recalls.push(found as f64 / (qs.len() * k) as f64);
        }
        assert!(recalls.windows(2).all(|r| r[0] <= r[1]), "{recalls:?}");
        assert!(recalls[0] < 1.0 && recalls[2] > 0.8, "{recalls:?}");
        let mut bad = |terms, candidates| {
            index
                .search_cut(&qs[0], k, QueryCut { terms, candidates }, &mut s)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(0, k).contains("at least 1 term"));
        assert!(bad(5, k - 1).contains("at least k = 10 candidates"));
    }
    run(&u8_index, &queries, k);
    run(&reordered, &queries, k);
    // `heaviest` keeps the heaviest weights, ties by term id, in term order.
    let q = QueryWeights::new(
        mmlsr_core::SparseRow {
            indices: &[1, 4, 7, 9],
            values: &[1.0, 3.0, 3.0, 2.0],
        },
        v,
    )
    .unwrap();
    assert_eq!(q.heaviest(2).terms(), &[4, 7]);
    assert_eq!(q.heaviest(3).terms(), &[4, 7, 9]);
    assert_eq!(q.heaviest(9), q);
}

#[test]
fn adversarial_inputs_match_brute_force() {
    let v = 10;
    let mut docs = CsrMatrix::empty(v);
    // Empty documents, a term in every document, duplicated documents (exact ties).
    for d in 0..50u32 {
        match d % 5 {
            0 => docs.push_row(&[], &[]).unwrap(),
            1 => docs.push_row(&[0], &[1.0]).unwrap(),
            2 => docs.push_row(&[0, 3], &[1.0, 2.0]).unwrap(),
            3 => docs.push_row(&[0, 3], &[1.0, 2.0]).unwrap(),
            _ => docs.push_row(&[0, 9], &[0.5, 3.0]).unwrap(),
        }
    }
    let mut queries = CsrMatrix::empty(v);
    queries.push_row(&[], &[]).unwrap(); // empty query
    queries.push_row(&[5], &[1.0]).unwrap(); // a term no document has
    queries.push_row(&[0], &[1.0]).unwrap(); // a term in (almost) every document
    queries.push_row(&[0, 3, 9], &[1.0, 1.0, 1.0]).unwrap();
    queries.push_row(&[3, 9], &[2.0, 1.0 / 3.0 * 4.0]).unwrap(); // ties across different docs
    for doc_order in ORDERS {
        let config = IndexConfig {
            block_size: 4,
            doc_order,
        };
        let index = InvertedIndex::<u8>::build(&docs, config).unwrap();
        let index16 = InvertedIndex::<u16>::build(&docs, config).unwrap();
        let ks = [0, 1, 7, 49, 50, 1000];
        check_all(
            &index,
            &queries,
            &ks,
            &format!("adversarial, {doc_order:?}"),
        );
        check_all(
            &index16,
            &queries,
            &ks,
            &format!("adversarial u16, {doc_order:?}"),
        );
    }
    // An empty collection.
    let empty = InvertedIndex::<u16>::build(&CsrMatrix::empty(v), IndexConfig::default()).unwrap();
    check_all(&empty, &queries, &[1, 10], "empty collection u16");
    let empty = InvertedIndex::<u8>::build(&CsrMatrix::empty(v), IndexConfig::default()).unwrap();
    check_all(&empty, &queries, &[1, 10], "empty collection");
    let q = QueryWeights::new(queries.row(2), v).unwrap();
    assert!(
        empty
            .search(&q, 10, Algorithm::MaxScore, &mut Scratch::default())
            .is_empty()
    );
}

#[test]
fn maxscore_skips_work_and_bad_queries_are_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let v = 200;
    let docs = random_rows(&mut rng, 5000, v, &|t| 0.5 / (1.0 + t as f64 * 0.1), false);
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let queries = random_rows(&mut rng, 20, v, &|_| 0.1, false);
    let (mut ex, mut ms) = (0u64, 0u64);
    let mut s = Scratch::default();
    for q in queries.rows() {
        let q = QueryWeights::new(q, v).unwrap();
        index.search(&q, 10, Algorithm::Exhaustive, &mut s);
        ex += s.postings_scored;
        index.search(&q, 10, Algorithm::MaxScore, &mut s);
        ms += s.postings_scored;
    }
    assert!(
        ms * 4 < ex * 3,
        "MaxScore scored {ms} postings, exhaustive {ex}"
    );

    let mut bad = CsrMatrix::empty(v + 5);
    bad.push_row(&[v as u32 + 1], &[1.0]).unwrap();
    assert!(matches!(
        QueryWeights::new(bad.row(0), v),
        Err(Error::Query(_))
    ));
    let mut neg = CsrMatrix::empty(v);
    neg.push_row(&[1], &[-1.0]).unwrap();
    assert!(matches!(
        InvertedIndex::<u8>::build(&neg, IndexConfig::default()),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        InvertedIndex::<u16>::build(&neg, IndexConfig::default()),
        Err(Error::Config(_))
    ));
}

#[test]
fn long_queries_with_maximal_weights_do_not_overflow() {
    let v = 3000;
    let all: Vec<u32> = (0..v as u32).collect();
    let mut docs = CsrMatrix::empty(v);
    docs.push_row(&all, &vec![7.0; v]).unwrap();
    docs.push_row(&all[..10], &[7.0; 10]).unwrap();
    let mut q = CsrMatrix::empty(v);
    q.push_row(&all, &vec![1.0; v]).unwrap();
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    check_all(&index, &q, &[1, 2], "long query");
    let qw = QueryWeights::new(q.row(0), v).unwrap();
    let hits = index.search(&qw, 1, Algorithm::Exhaustive, &mut Scratch::default());
    // Every term matches at full weight: the float score is the exact dot product.
    assert!(
        (hits[0].score.value - 7.0 * v as f32).abs() < 1e-2 * 7.0 * v as f32,
        "{hits:?}"
    );
    // u16: 65,535 × 65,535 per term, 3,000 terms: beyond u32, within the u64 accumulator.
    let index = InvertedIndex::<u16>::build(&docs, IndexConfig::default()).unwrap();
    check_all(&index, &q, &[1, 2], "long query u16");
    let qw = index.quantize_query(q.row(0)).unwrap();
    assert_eq!(qw.weights().iter().max(), Some(&65_535));
    let hits = index.search(&qw, 1, Algorithm::Exhaustive, &mut Scratch::default());
    assert_eq!(hits[0].score.raw, 65_535u64 * 65_535 * v as u64);
    assert!((hits[0].score.value - 7.0 * v as f32).abs() < 1e-4 * 7.0 * v as f32);
}

/// Against the unquantised f64 reference: `u16` impacts reproduce the exact top-10 where `u8`
/// loses some, and their scores are within 1e-3 (relative) of the exact ones.
#[test]
fn u16_impacts_are_closer_to_the_exact_scores_than_u8() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let v = 150;
    let docs = random_rows(&mut rng, 3000, v, &|t| 0.4 / (1.0 + t as f64 * 0.05), false);
    let queries = random_rows(&mut rng, 60, v, &|_| 0.2, false);
    let i8 = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let i16 = InvertedIndex::<u16>::build(&docs, IndexConfig::default()).unwrap();
    let mut s = Scratch::default();
    let (mut same8, mut same16, mut worst16) = (0, 0, 0.0f64);
    for q in queries.rows() {
        let want = exact_top_k_f64(&docs, q, 10);
        let ids: Vec<u32> = want.iter().map(|w| w.doc).collect();
        let got8: Vec<u32> = i8
            .search(
                &i8.quantize_query(q).unwrap(),
                10,
                Algorithm::Exhaustive,
                &mut s,
            )
            .iter()
            .map(|h| h.doc)
            .collect();
        let hits16 = i16.search(
            &i16.quantize_query(q).unwrap(),
            10,
            Algorithm::Exhaustive,
            &mut s,
        );
        let got16: Vec<u32> = hits16.iter().map(|h| h.doc).collect();
        same8 += (got8 == ids) as usize;
        same16 += (got16 == ids) as usize;
        for (h, exact) in hits16.iter().zip(&want) {
            worst16 = worst16.max((h.score.value as f64 - exact.score).abs() / exact.score);
        }
    }
    assert!(
        same16 >= 57 && same16 > same8,
        "exact top-10 lists: u16 {same16}/60, u8 {same8}/60"
    );
    assert!(worst16 < 1e-3, "u16 relative score error {worst16}");
}

/// A collection of `n` background documents of `len` random terms with small weights, plus
/// `planted` documents (spread over the collection) with large weights on the query's terms
/// `0..q_len`; and that query.
fn planted(
    rng: &mut ChaCha8Rng,
    n: usize,
    v: usize,
    len: usize,
    planted: usize,
    q_len: usize,
) -> (CsrMatrix, CsrMatrix) {
    let mut docs = CsrMatrix::empty(v);
    for d in 0..n {
        let mut terms: Vec<u32> = if d % (n / planted) == 0 {
            (0..q_len as u32).collect()
        } else {
            Vec::new()
        };
        while terms.len() < len {
            let t = rng.random_range(0..v as u32);
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        terms.sort_unstable();
        let w: Vec<f32> = terms
            .iter()
            .map(|&t| {
                if d % (n / planted) == 0 && (t as usize) < q_len {
                    rng.random_range(4.0f32..5.0)
                } else {
                    rng.random_range(0.01f32..0.2)
                }
            })
            .collect();
        docs.push_row(&terms, &w).unwrap();
    }
    let mut q = CsrMatrix::empty(v);
    let terms: Vec<u32> = (0..q_len as u32).collect();
    q.push_row(&terms, &vec![1.0; q_len]).unwrap();
    (docs, q)
}

/// Block-max pruning's two regimes, both exact: on a query whose block bounds single out a
/// few blocks it scores those (through the forward index when documents are short, from the
/// postings when they are long) without falling back; on flat bounds it hands the query to
/// exhaustive scoring.
#[test]
fn block_max_prunes_selective_queries_and_falls_back_on_flat_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut s = Scratch::default();
    // (documents, vocabulary, document length, planted, query length): short documents and a
    // long query favour forward scoring; long documents and a short query, the postings.
    for (n, v, len, n_planted, q_len) in [(4000, 300, 4, 10, 20), (4000, 300, 120, 10, 2)] {
        let (docs, queries) = planted(&mut rng, n, v, len, n_planted, q_len);
        let index = InvertedIndex::<u8>::build(&docs, blocks_of(8)).unwrap();
        let q = index.quantize_query(queries.row(0)).unwrap();
        let got = index.search(&q, 10, Algorithm::BlockMax, &mut s);
        assert!(!s.fell_back, "documents of {len} terms: fell back");
        let n_blocks = n.div_ceil(8) as u64;
        assert!(
            s.blocks_scored * 10 < n_blocks,
            "documents of {len} terms: scored {} of {n_blocks} blocks",
            s.blocks_scored
        );
        assert!(s.bounds_read > 0);
        assert_eq!(
            got,
            brute_force_top_k(&index, &q, 10),
            "documents of {len} terms"
        );
        assert!(got.iter().all(|h| h.doc as usize % (n / n_planted) == 0));
        check_all(
            &index,
            &queries,
            &[1, 10, 11, 100],
            &format!("planted, length {len}"),
        );
    }
    // Flat bounds: every document draws from the same few terms.
    let docs = random_rows(&mut rng, 3000, 20, &|_| 0.5, false);
    let queries = random_rows(&mut rng, 5, 20, &|_| 0.8, false);
    let index = InvertedIndex::<u8>::build(&docs, blocks_of(8)).unwrap();
    let q = index.quantize_query(queries.row(0)).unwrap();
    let got = index.search(&q, 10, Algorithm::BlockMax, &mut s);
    assert!(s.fell_back);
    assert_eq!(got, brute_force_top_k(&index, &q, 10));
    check_all(&index, &queries, &[1, 10, 100], "flat");
}

/// Document reordering's point: documents of one heavy "topic" term are spread over every
/// fourth block in the given order (topic = id mod 64, blocks of 16) and gathered into a few
/// blocks when sorted by their heaviest term, so block-max pruning scores far fewer blocks —
/// with the same hits.
#[test]
fn reordering_gathers_a_topic_into_few_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (n, topics, v) = (4096u32, 64u32, 300u32);
    let mut docs = CsrMatrix::empty(v as usize);
    for d in 0..n {
        let mut terms = vec![d % topics];
        while terms.len() < 4 {
            let t = rng.random_range(topics..v);
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        terms.sort_unstable();
        let w: Vec<f32> = terms
            .iter()
            .map(|&t| {
                if t < topics {
                    rng.random_range(4.0f32..5.0)
                } else {
                    rng.random_range(0.01f32..0.2)
                }
            })
            .collect();
        docs.push_row(&terms, &w).unwrap();
    }
    let mut queries = CsrMatrix::empty(v as usize);
    for topic in [5u32, 17, 40] {
        queries
            .push_row(&[topic, 100, 200], &[1.0, 0.5, 0.5])
            .unwrap();
    }
    let mut blocks = Vec::new();
    for doc_order in [DocOrder::Given, DocOrder::HeaviestTerms { terms: 1 }] {
        let config = IndexConfig {
            block_size: 16,
            doc_order,
        };
        let index = InvertedIndex::<u8>::build(&docs, config).unwrap();
        let mut s = Scratch::default();
        let mut scored = 0;
        for q in queries.rows() {
            let q = index.quantize_query(q).unwrap();
            let got = index.search(&q, 10, Algorithm::BlockMax, &mut s);
            assert!(!s.fell_back, "{doc_order:?}");
            assert_eq!(got, brute_force_top_k(&index, &q, 10), "{doc_order:?}");
            scored += s.blocks_scored;
        }
        blocks.push(scored);
    }
    // A topic's 64 documents fill 4 blocks once gathered.
    assert!(blocks[1] <= 3 * 5, "reordered: {} blocks scored", blocks[1]);
    assert!(
        blocks[1] * 3 < blocks[0],
        "blocks scored: given order {}, reordered {}",
        blocks[0],
        blocks[1]
    );
}

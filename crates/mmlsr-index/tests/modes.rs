//! Query modes: `no-exp` equals searching with the restricted query, `hybrid` equals
//! brute-force float rescoring of the `no-exp` candidates.

use mmlsr_core::{CsrMatrix, SparseRow};
use mmlsr_index::{Algorithm, IndexConfig, InvertedIndex, QueryMode, QueryWeights, Scratch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn modes_match_their_definitions() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let v = 50;
    let mut docs = CsrMatrix::empty(v);
    for _ in 0..600 {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v as u32 {
            if rng.random_bool(0.15) {
                i.push(t);
                w.push(rng.random_range(0.01f32..2.0));
            }
        }
        docs.push_row(&i, &w).unwrap();
    }
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let mut s = Scratch::default();
    for _ in 0..20 {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v as u32 {
            if rng.random_bool(0.3) {
                i.push(t);
                w.push(rng.random_range(0.01f32..2.0));
            }
        }
        let own: Vec<u32> = i.iter().copied().filter(|t| t % 3 == 0).collect();
        let q = SparseRow {
            indices: &i,
            values: &w,
        };
        let (ri, rw): (Vec<u32>, Vec<f32>) = i
            .iter()
            .zip(&w)
            .filter(|(t, _)| own.contains(t))
            .map(|(&t, &x)| (t, x))
            .unzip();
        let restricted = QueryWeights::new(
            SparseRow {
                indices: &ri,
                values: &rw,
            },
            v,
        )
        .unwrap();
        let full = QueryWeights::new(q, v).unwrap();
        for alg in [
            Algorithm::Exhaustive,
            Algorithm::MaxScore,
            Algorithm::BlockMax,
        ] {
            let exp = index
                .search_mode(q, &own, QueryMode::Exp, 10, alg, &mut s)
                .unwrap();
            let want: Vec<u32> = index
                .search(&full, 10, alg, &mut s)
                .iter()
                .map(|h| h.doc)
                .collect();
            assert_eq!(exp.iter().map(|r| r.doc).collect::<Vec<_>>(), want);
            let noexp = index
                .search_mode(q, &own, QueryMode::NoExp, 10, alg, &mut s)
                .unwrap();
            let want: Vec<u32> = index
                .search(&restricted, 10, alg, &mut s)
                .iter()
                .map(|h| h.doc)
                .collect();
            assert_eq!(noexp.iter().map(|r| r.doc).collect::<Vec<_>>(), want);
            // Hybrid: the restricted query's top 50, re-ranked by exact float dot products.
            let hybrid = index
                .search_mode(
                    q,
                    &own,
                    QueryMode::Hybrid { candidates: 50 },
                    10,
                    alg,
                    &mut s,
                )
                .unwrap();
            let mut cands: Vec<(u32, f32)> = index
                .search(&restricted, 50, alg, &mut s)
                .iter()
                .map(|h| (h.doc, q.dot(&docs.row(h.doc as usize))))
                .collect();
            cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            cands.truncate(10);
            let got: Vec<(u32, f32)> = hybrid.iter().map(|r| (r.doc, r.score)).collect();
            assert_eq!(got, cands);
        }
    }
    let q = SparseRow {
        indices: &[1],
        values: &[1.0],
    };
    assert!(
        index
            .search_mode(
                q,
                &[1],
                QueryMode::Hybrid { candidates: 5 },
                10,
                Algorithm::MaxScore,
                &mut s
            )
            .is_err()
    );
}

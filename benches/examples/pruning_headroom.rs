//! How much work can safe pruning save on these vectors? For every query the final top-10
//! threshold θ is computed first (an oracle no real algorithm has), then the share of the
//! postings exhaustive scoring reads that
//!
//! - block-max pruning must still score: postings in blocks of `b` consecutive document ids
//!   whose bound `Σ_t q_t · max_{d ∈ block} w_{t,d}` reaches θ (documents in collection
//!   order, and sorted by their two heaviest terms, a cheap stand-in for the document
//!   reordering that block-max pruning is usually paired with);
//! - MaxScore must still traverse: postings of its essential lists (query terms ordered by
//!   `q_t · max_d w_{t,d}`; the longest prefix whose bounds sum below θ is non-essential).
//!
//! Both are lower bounds on what those algorithms read, with unquantised weights. Near 100 %,
//! no implementation of them beats exhaustive scoring, which reads every posting once at
//! about 0.6 ns. The last column is the price of block-max's bounds at b = 8: the (term,
//! block) maxima it reads per query, as a share of the postings.
//!
//! `cargo run --release -p mmlsr-benches --example pruning_headroom [-- ENCODED_DIR ...]`
//! (folders written by `mmlsr encode`; without any, only the generated Zipf collections).

use mmlsr_core::CsrMatrix;
use rand::SeedableRng;

const QUERIES: usize = 50;
const K: usize = 10;
const BLOCKS: [usize; 3] = [8, 16, 64];

/// Per-term postings `(doc, weight)`.
fn invert(docs: &CsrMatrix) -> Vec<Vec<(u32, f32)>> {
    let mut lists = vec![Vec::new(); docs.n_cols()];
    for (d, r) in docs.rows().enumerate() {
        for (&t, &w) in r.indices.iter().zip(r.values) {
            lists[t as usize].push((d as u32, w));
        }
    }
    lists
}

/// Share of exhaustive postings in blocks of `bs` documents that block-max must score.
fn block_share(
    lists: &[Vec<(u32, f32)>],
    n: usize,
    q: (&[u32], &[f32]),
    theta: f32,
    bs: usize,
) -> (f64, f64, f64) {
    let nb = n.div_ceil(bs);
    let (mut ub, mut per_block) = (vec![0f32; nb], vec![0usize; nb]);
    let (mut total, mut maxima) = (0usize, 0usize);
    for (&t, &qw) in q.0.iter().zip(q.1) {
        let mut i = 0;
        let l = &lists[t as usize];
        total += l.len();
        while i < l.len() {
            let b = l[i].0 as usize / bs;
            let mut m = 0f32;
            while i < l.len() && l[i].0 as usize / bs == b {
                m = m.max(l[i].1);
                per_block[b] += 1;
                i += 1;
            }
            ub[b] += qw * m;
            maxima += 1;
        }
    }
    let kept: usize = ub
        .iter()
        .zip(&per_block)
        .filter(|(u, _)| **u >= theta)
        .map(|(_, p)| p)
        .sum();
    (kept as f64, total as f64, maxima as f64)
}

fn headroom(name: &str, docs: &CsrMatrix, queries: &CsrMatrix) -> String {
    let n = docs.n_rows();
    let lists = invert(docs);
    // The same documents sorted by their two heaviest terms.
    let mut keys: Vec<(u32, u32, usize)> = docs
        .rows()
        .enumerate()
        .map(|(r, row)| {
            let mut v: Vec<(f32, u32)> = row
                .values
                .iter()
                .copied()
                .zip(row.indices.iter().copied())
                .collect();
            v.sort_by(|a, b| b.0.total_cmp(&a.0));
            (
                v.first().map_or(u32::MAX, |x| x.1),
                v.get(1).map_or(u32::MAX, |x| x.1),
                r,
            )
        })
        .collect();
    keys.sort_unstable();
    let mut sorted = CsrMatrix::empty(docs.n_cols());
    for &(_, _, r) in &keys {
        let row = docs.row(r);
        sorted
            .push_row(row.indices, row.values)
            .expect("a valid row");
    }
    let sorted_lists = invert(&sorted);
    let term_max: Vec<f32> = lists
        .iter()
        .map(|l| l.iter().map(|x| x.1).fold(0.0, f32::max))
        .collect();
    let (mut blocks, mut blocks_sorted, mut essential, mut total, mut qlen, mut maxima8) =
        (vec![0f64; BLOCKS.len()], 0f64, 0f64, 0f64, 0f64, 0f64);
    let mut acc = vec![0f32; n];
    for q in queries.rows() {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for (&t, &qw) in q.indices.iter().zip(q.values) {
            for &(d, w) in &lists[t as usize] {
                acc[d as usize] += qw * w;
            }
        }
        let mut s = acc.clone();
        s.sort_unstable_by(|a, b| b.total_cmp(a));
        let theta = s.get(K - 1).copied().unwrap_or(0.0).max(f32::MIN_POSITIVE);
        let qq = (q.indices, q.values);
        let mut tot = 0.0;
        for (i, &bs) in BLOCKS.iter().enumerate() {
            let (kept, t, maxima) = block_share(&lists, n, qq, theta, bs);
            blocks[i] += kept;
            tot = t;
            if bs == 8 {
                maxima8 += maxima;
            }
        }
        blocks_sorted += block_share(&sorted_lists, n, qq, theta, 16).0;
        let mut bounds: Vec<(f32, usize)> = q
            .indices
            .iter()
            .zip(q.values)
            .map(|(&t, &qw)| (qw * term_max[t as usize], lists[t as usize].len()))
            .collect();
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut cum = 0.0;
        for (b, len) in bounds {
            cum += b;
            if cum >= theta {
                essential += len as f64;
            }
        }
        total += tot;
        qlen += q.indices.len() as f64;
    }
    let pct = |x: f64| format!("{:.1} %", 100.0 * x / total.max(1.0));
    format!(
        "| {name} | {n} | {:.0} | {} | {} | {} |",
        qlen / queries.n_rows().max(1) as f64,
        blocks
            .iter()
            .map(|&b| pct(b))
            .chain([pct(blocks_sorted)])
            .collect::<Vec<_>>()
            .join(" | "),
        pct(essential),
        pct(maxima8)
    )
}

fn main() {
    println!(
        "| collection | documents | query terms | block-max, b 8 | b 16 | b 64 | b 16, sorted documents | MaxScore essential | block maxima read, b 8 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let zipf = mmlsr_synth::ZipfTerms::new(30_522);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    for flops in [3.0, 12.0, 80.0] {
        let len = zipf.terms_for_flops(flops);
        let docs = zipf.sample(&mut rng, 123_287, len);
        let queries = zipf.sample(&mut rng, QUERIES, len);
        println!(
            "{}",
            headroom(&format!("Zipf, FLOPs target {flops}"), &docs, &queries)
        );
    }
    for dir in std::env::args().skip(1) {
        let dir = std::path::Path::new(&dir);
        let read = |f: &str| {
            mmlsr_store::SparseTable::read_parquet(&dir.join(f), None)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
        };
        let (docs, texts) = (read("img_sparse.parquet"), read("text_sparse.parquet"));
        let step = (texts.matrix.n_rows() / QUERIES).max(1);
        let mut queries = CsrMatrix::empty(texts.matrix.n_cols());
        for r in (0..texts.matrix.n_rows()).step_by(step).take(QUERIES) {
            let row = texts.matrix.row(r);
            queries
                .push_row(row.indices, row.values)
                .expect("a valid row");
        }
        let name = dir
            .file_name()
            .map_or("encoded".into(), |f| f.to_string_lossy().into_owned());
        println!("{}", headroom(&name, &docs.matrix, &queries));
    }
}

//! `mmlsr._mmlsr`: the Python extension behind the `mmlsr` package (PyO3). The Python layer
//! (`python/mmlsr/__init__.py`) converts arguments to the dtypes taken here; every error of the
//! Rust crates reaches Python as `ValueError` (bad input) or `OSError` (a file), with the
//! crates' own message.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use mmlsr_core::{CsrMatrix, Qrels, SparseRow, SparseVec};
use mmlsr_index::{
    Algorithm, ApproxConfig, ApproxIndex as RsApproxIndex, ApproxParams, ApproxScratch,
    ExactIndex as RsExactIndex, ExactScratch, ForwardWeights, Impact, IndexConfig, InvertedIndex,
    Pruning, QueryCut, QueryMode, Scratch, impact_bits,
};
use mmlsr_metrics::{Measure, Run, RunBuilder};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::{
    exceptions::{PyOSError, PyValueError},
    prelude::*,
    types::PyDict,
};

/// The index file inside an index folder (as `mmlsr index` writes it).
const INDEX_FILE: &str = "index.mmlsr";
/// One image id per line, row order.
const IDS_FILE: &str = "doc_ids.txt";

fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Store and index errors: a missing or unreadable file is an `OSError`, the rest `ValueError`.
fn store_err(e: mmlsr_store::Error) -> PyErr {
    match e {
        mmlsr_store::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => value_err(other),
    }
}

fn index_err(e: mmlsr_index::Error) -> PyErr {
    match e {
        mmlsr_index::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => value_err(other),
    }
}

/// A CSR matrix from numpy arrays (validated by `CsrMatrix::new`).
fn csr(
    indptr: &PyReadonlyArray1<'_, i64>,
    indices: &PyReadonlyArray1<'_, i64>,
    values: &PyReadonlyArray1<'_, f32>,
    vocab_size: usize,
) -> PyResult<CsrMatrix> {
    let indptr: Vec<usize> = indptr
        .as_slice()?
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            usize::try_from(p).map_err(|_| value_err(format!("indptr[{i}] = {p} is negative")))
        })
        .collect::<PyResult<_>>()?;
    let indices = term_ids(indices.as_slice()?, vocab_size, "indices")?;
    CsrMatrix::new(vocab_size, indptr, indices, values.as_slice()?.to_vec()).map_err(value_err)
}

fn term_ids(raw: &[i64], vocab_size: usize, what: &str) -> PyResult<Vec<u32>> {
    raw.iter()
        .enumerate()
        .map(|(i, &t)| {
            if t < 0 || t as u64 >= vocab_size as u64 {
                Err(value_err(format!(
                    "{what}[{i}] = {t}: expected a term id in 0..{vocab_size}"
                )))
            } else {
                Ok(t as u32)
            }
        })
        .collect()
}

/// One query from numpy arrays, checked as a CSR row.
fn query(
    indices: &PyReadonlyArray1<'_, i64>,
    values: &PyReadonlyArray1<'_, f32>,
    vocab_size: usize,
) -> PyResult<(Vec<u32>, Vec<f32>)> {
    let idx = term_ids(indices.as_slice()?, vocab_size, "indices")?;
    let v = SparseVec::new(idx, values.as_slice()?.to_vec()).map_err(value_err)?;
    Ok((v.indices().to_vec(), v.values().to_vec()))
}

fn algorithm(name: &str) -> PyResult<Algorithm> {
    match name {
        "exhaustive" => Ok(Algorithm::Exhaustive),
        "maxscore" => Ok(Algorithm::MaxScore),
        "blockmax" | "block-max" => Ok(Algorithm::BlockMax),
        other => Err(value_err(format!(
            "algorithm {other:?}: expected \"exhaustive\", \"maxscore\" or \"blockmax\""
        ))),
    }
}

/// A rayon pool of `threads` threads (all cores when `None`).
fn pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(value_err("threads must be at least 1"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(value_err)
}

/// `search` on every row of `queries` on a pool of `threads` threads (all cores when `None`),
/// one scratch of type `S` per worker, without the GIL; results in row order.
fn search_rows<S, F>(
    py: Python<'_>,
    threads: Option<usize>,
    queries: &CsrMatrix,
    search: F,
) -> PyResult<Vec<Vec<(u32, f32)>>>
where
    S: Default + Send,
    F: Fn(&mut S, SparseRow<'_>) -> PyResult<Vec<(u32, f32)>> + Sync,
{
    use rayon::prelude::*;
    if threads == Some(1) {
        // No pool to build: a one-query call costs only its search.
        return py.detach(|| {
            let mut s = S::default();
            (0..queries.n_rows())
                .map(|r| search(&mut s, queries.row(r)))
                .collect()
        });
    }
    let pool = pool(threads)?;
    py.detach(|| {
        pool.install(|| {
            (0..queries.n_rows())
                .into_par_iter()
                .map_init(S::default, |s, r| search(s, queries.row(r)))
                .collect()
        })
    })
}

/// `(doc ids [n, k] int64, -1 where a query has fewer than k results; scores [n, k] float32,
/// NaN there)`.
type Batch<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);

fn to_batch<'py>(py: Python<'py>, results: Vec<Vec<(u32, f32)>>, k: usize) -> PyResult<Batch<'py>> {
    let n = results.len();
    let mut docs = vec![-1i64; n * k];
    let mut scores = vec![f32::NAN; n * k];
    for (q, hits) in results.iter().enumerate() {
        for (j, &(d, s)) in hits.iter().take(k).enumerate() {
            docs[q * k + j] = i64::from(d);
            scores[q * k + j] = s;
        }
    }
    let docs = numpy::ndarray::Array2::from_shape_vec((n, k), docs).map_err(value_err)?;
    let scores = numpy::ndarray::Array2::from_shape_vec((n, k), scores).map_err(value_err)?;
    Ok((docs.into_pyarray(py), scores.into_pyarray(py)))
}

type Single<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<f32>>);

fn to_single(py: Python<'_>, hits: Vec<(u32, f32)>) -> Single<'_> {
    let (d, s): (Vec<u32>, Vec<f32>) = hits.into_iter().unzip();
    (d.into_pyarray(py), s.into_pyarray(py))
}

enum AnyIndex {
    U8(InvertedIndex<u8>),
    U16(InvertedIndex<u16>),
}

macro_rules! with_index {
    ($self:expr, $i:ident => $body:expr) => {
        match &$self.index {
            AnyIndex::U8($i) => $body,
            AnyIndex::U16($i) => $body,
        }
    };
}

fn build_any(
    docs: &CsrMatrix,
    impacts: &str,
    block_size: usize,
    doc_order: &str,
) -> PyResult<AnyIndex> {
    let config = IndexConfig {
        block_size,
        doc_order: doc_order.parse().map_err(index_err)?,
    };
    Ok(match impacts {
        "u8" => AnyIndex::U8(InvertedIndex::<u8>::build(docs, config).map_err(index_err)?),
        "u16" => AnyIndex::U16(InvertedIndex::<u16>::build(docs, config).map_err(index_err)?),
        other => {
            return Err(value_err(format!(
                "impacts {other:?}: expected \"u8\" or \"u16\""
            )));
        }
    })
}

fn hits_of<I: Impact>(
    index: &InvertedIndex<I>,
    idx: &[u32],
    val: &[f32],
    k: usize,
    algo: Algorithm,
    scratch: &mut Scratch,
) -> PyResult<Vec<(u32, f32)>> {
    let q = index
        .quantize_query(SparseRow {
            indices: idx,
            values: val,
        })
        .map_err(index_err)?;
    Ok(index
        .search(&q, k, algo, scratch)
        .into_iter()
        .map(|h| (h.doc, h.score.value))
        .collect())
}

/// How [`batch_hits`] answers: an exact algorithm, or query-term pruning.
#[derive(Clone, Copy)]
enum BatchMode {
    Exact(Algorithm),
    Cut(QueryCut),
}

/// Every row of `queries` through the index's batch search (groups of queries share each pass
/// over its dense rows of impacts) on `threads` threads (all cores when `None`), without the
/// GIL; results in row order.
fn batch_hits<I: Impact>(
    py: Python<'_>,
    index: &InvertedIndex<I>,
    queries: &CsrMatrix,
    k: usize,
    mode: BatchMode,
    threads: Option<usize>,
) -> PyResult<Vec<Vec<(u32, f32)>>> {
    let quantised = (0..queries.n_rows())
        .map(|r| {
            index
                .quantize_query(queries.row(r))
                .map_err(|e| value_err(format!("query row {r}: {e}")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let pairs = |hits: Vec<Vec<mmlsr_index::IndexHit>>| -> Vec<Vec<(u32, f32)>> {
        hits.into_iter()
            .map(|h| h.into_iter().map(|x| (x.doc, x.score.value)).collect())
            .collect()
    };
    let run = |one_thread: bool| -> mmlsr_index::Result<Vec<Vec<mmlsr_index::IndexHit>>> {
        let mut s = Scratch::default();
        match (mode, one_thread) {
            (BatchMode::Exact(a), true) => Ok(index.search_many(&quantised, k, a, &mut s)),
            (BatchMode::Exact(a), false) => Ok(index.search_batch(&quantised, k, a)),
            (BatchMode::Cut(c), true) => index.search_cut_many(&quantised, k, c, &mut s),
            (BatchMode::Cut(c), false) => index.search_cut_batch(&quantised, k, c),
        }
    };
    if threads == Some(1) {
        // No pool to build: a one-query call costs only its search.
        return py.detach(|| run(true)).map(pairs).map_err(index_err);
    }
    let pool = pool(threads)?;
    py.detach(|| pool.install(|| run(false)))
        .map(pairs)
        .map_err(index_err)
}

/// The quantised inverted index (`u8` or `u16` impacts) with its exact algorithms.
#[pyclass(module = "mmlsr._mmlsr", frozen)]
struct Index {
    index: AnyIndex,
    ids: Option<Vec<String>>,
}

#[pymethods]
impl Index {
    #[staticmethod]
    #[pyo3(signature = (indptr, indices, values, vocab_size, impacts, block_size, doc_order))]
    #[allow(clippy::too_many_arguments)] // the Python wrapper's keyword arguments
    fn build(
        py: Python<'_>,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray1<'_, f32>,
        vocab_size: usize,
        impacts: &str,
        block_size: usize,
        doc_order: &str,
    ) -> PyResult<Self> {
        let docs = csr(&indptr, &indices, &values, vocab_size)?;
        let index = py.detach(|| build_any(&docs, impacts, block_size, doc_order))?;
        Ok(Self { index, ids: None })
    }

    /// The image vectors of an `mmlsr encode` folder's Parquet file (ids kept).
    #[staticmethod]
    fn from_parquet(
        py: Python<'_>,
        path: PathBuf,
        impacts: &str,
        block_size: usize,
        doc_order: &str,
    ) -> PyResult<Self> {
        let table = mmlsr_store::SparseTable::read_parquet(&path, None).map_err(store_err)?;
        let index = py.detach(|| build_any(&table.matrix, impacts, block_size, doc_order))?;
        let ids = (0..table.matrix.n_rows())
            .map(|r| table.ids.id(r).to_string())
            .collect();
        Ok(Self {
            index,
            ids: Some(ids),
        })
    }

    /// An index folder (`index.mmlsr` + `doc_ids.txt`, as `mmlsr index` and `save` write it)
    /// or an `index.mmlsr` file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let (file, dir) = if path.is_dir() {
            (path.join(INDEX_FILE), Some(path.clone()))
        } else {
            (path.clone(), None)
        };
        let index = match impact_bits(&file).map_err(index_err)? {
            16 => AnyIndex::U16(InvertedIndex::<u16>::read(&file).map_err(index_err)?),
            _ => AnyIndex::U8(InvertedIndex::<u8>::read(&file).map_err(index_err)?),
        };
        let n_docs = match &index {
            AnyIndex::U8(i) => i.n_docs(),
            AnyIndex::U16(i) => i.n_docs(),
        };
        let ids = match dir.map(|d| d.join(IDS_FILE)).filter(|p| p.is_file()) {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| PyOSError::new_err(format!("{}: {e}", p.display())))?;
                let ids: Vec<String> = text.lines().map(str::to_string).collect();
                if ids.len() != n_docs {
                    return Err(value_err(format!(
                        "{}: {} ids for the {n_docs} documents of {}",
                        p.display(),
                        ids.len(),
                        file.display()
                    )));
                }
                Some(ids)
            }
            None => None,
        };
        Ok(Self { index, ids })
    }

    /// Write the folder `mmlsr index` writes: `index.mmlsr` (atomically) and `doc_ids.txt`
    /// (the ids, or row numbers).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        std::fs::create_dir_all(&path)
            .map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        with_index!(self, i => i.write(&path.join(INDEX_FILE))).map_err(index_err)?;
        let n = self.n_docs();
        let mut text = match &self.ids {
            Some(ids) => ids.join("\n"),
            None => (0..n).map(|r| r.to_string()).collect::<Vec<_>>().join("\n"),
        };
        text.push('\n');
        mmlsr_store::atomic_write_bytes(&path.join(IDS_FILE), text.as_bytes()).map_err(store_err)
    }

    #[getter]
    fn n_docs(&self) -> usize {
        with_index!(self, i => i.n_docs())
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        with_index!(self, i => i.vocab_size())
    }

    #[getter]
    fn n_postings(&self) -> usize {
        with_index!(self, i => i.n_postings())
    }

    #[getter]
    fn impacts(&self) -> &'static str {
        match self.index {
            AnyIndex::U8(_) => "u8",
            AnyIndex::U16(_) => "u16",
        }
    }

    #[getter]
    fn ids(&self) -> Option<Vec<String>> {
        self.ids.clone()
    }

    fn search<'py>(
        &self,
        py: Python<'py>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        k: usize,
        algorithm: &str,
    ) -> PyResult<Single<'py>> {
        let algo = self::algorithm(algorithm)?;
        let (idx, val) = query(&indices, &values, self.vocab_size())?;
        let hits =
            with_index!(self, i => hits_of(i, &idx, &val, k, algo, &mut Scratch::default()))?;
        Ok(to_single(py, hits))
    }

    #[pyo3(signature = (indptr, indices, values, k, algorithm, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_batch<'py>(
        &self,
        py: Python<'py>,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        k: usize,
        algorithm: &str,
        threads: Option<usize>,
    ) -> PyResult<Batch<'py>> {
        let algo = self::algorithm(algorithm)?;
        let queries = csr(&indptr, &indices, &values, self.vocab_size())?;
        let results = with_index!(self, i => batch_hits(py, i, &queries, k, BatchMode::Exact(algo), threads))?;
        to_batch(py, results, k)
    }

    /// Query-term pruning (approximate): every document scored with each query's `terms`
    /// heaviest terms, the best `candidates` ranked by their exact score.
    #[pyo3(signature = (indptr, indices, values, k, terms, candidates, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_cut_batch<'py>(
        &self,
        py: Python<'py>,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        k: usize,
        terms: usize,
        candidates: usize,
        threads: Option<usize>,
    ) -> PyResult<Batch<'py>> {
        let queries = csr(&indptr, &indices, &values, self.vocab_size())?;
        let mode = BatchMode::Cut(QueryCut { terms, candidates });
        let results = with_index!(self, i => batch_hits(py, i, &queries, k, mode, threads))?;
        to_batch(py, results, k)
    }

    /// D2S §5.3 query modes: `exp` (every term), `no-exp` (only `own_terms`, the caption's
    /// tokens), `hybrid` (own terms, then `candidates` rescored with the whole query).
    #[pyo3(signature = (indices, values, own_terms, mode, k, candidates, algorithm))]
    #[allow(clippy::too_many_arguments)]
    fn search_mode<'py>(
        &self,
        py: Python<'py>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        own_terms: PyReadonlyArray1<'py, i64>,
        mode: &str,
        k: usize,
        candidates: usize,
        algorithm: &str,
    ) -> PyResult<Single<'py>> {
        let algo = self::algorithm(algorithm)?;
        let vocab = self.vocab_size();
        let (idx, val) = query(&indices, &values, vocab)?;
        let mut own = term_ids(own_terms.as_slice()?, vocab, "own_terms")?;
        own.sort_unstable();
        own.dedup();
        let mode = match mode {
            "exp" => QueryMode::Exp,
            "no-exp" => QueryMode::NoExp,
            "hybrid" => QueryMode::Hybrid { candidates },
            other => {
                return Err(value_err(format!(
                    "mode {other:?}: expected \"exp\", \"no-exp\" or \"hybrid\""
                )));
            }
        };
        let row = SparseRow {
            indices: &idx,
            values: &val,
        };
        let hits = with_index!(self, i => i.search_mode(row, &own, mode, k, algo, &mut Scratch::default()))
            .map_err(index_err)?;
        Ok(to_single(
            py,
            hits.into_iter().map(|h| (h.doc, h.score)).collect(),
        ))
    }
}

/// The Seismic-style approximate index.
#[pyclass(module = "mmlsr._mmlsr", frozen)]
struct ApproxIndex {
    index: RsApproxIndex,
}

#[pymethods]
impl ApproxIndex {
    #[staticmethod]
    #[pyo3(signature = (indptr, indices, values, vocab_size, postings_per_term, pruning, max_fraction, block_size, summary_energy, max_summary_terms, sketch_terms, seed, forward_weights))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray1<'_, f32>,
        vocab_size: usize,
        postings_per_term: usize,
        pruning: &str,
        max_fraction: f32,
        block_size: usize,
        summary_energy: f32,
        max_summary_terms: usize,
        sketch_terms: usize,
        seed: u64,
        forward_weights: &str,
    ) -> PyResult<Self> {
        let docs = csr(&indptr, &indices, &values, vocab_size)?;
        let forward_weights = match forward_weights {
            "half" => ForwardWeights::Half,
            "full" => ForwardWeights::Full,
            other => {
                return Err(value_err(format!(
                    "forward_weights {other:?}: expected \"half\" or \"full\""
                )));
            }
        };
        let pruning = match pruning {
            "per-term" => Pruning::PerTerm,
            "global" => Pruning::Global { max_fraction },
            other => {
                return Err(value_err(format!(
                    "pruning {other:?}: expected \"per-term\" or \"global\""
                )));
            }
        };
        let config = ApproxConfig {
            postings_per_term,
            pruning,
            block_size,
            summary_energy,
            max_summary_terms,
            sketch_terms,
            seed,
            forward_weights,
        };
        let index = py
            .detach(|| RsApproxIndex::build(&docs, config))
            .map_err(index_err)?;
        Ok(Self { index })
    }

    #[getter]
    fn n_docs(&self) -> usize {
        self.index.n_docs()
    }

    #[getter]
    fn n_postings(&self) -> usize {
        self.index.n_postings()
    }

    #[pyo3(signature = (indptr, indices, values, vocab_size, k, query_cut, heap_factor, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_batch<'py>(
        &self,
        py: Python<'py>,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        vocab_size: usize,
        k: usize,
        query_cut: usize,
        heap_factor: f32,
        threads: Option<usize>,
    ) -> PyResult<Batch<'py>> {
        let queries = csr(&indptr, &indices, &values, vocab_size)?;
        let params = ApproxParams {
            query_cut,
            heap_factor,
        };
        let results = search_rows(py, threads, &queries, |s: &mut ApproxScratch, row| {
            self.index
                .search(row, k, params, s)
                .map(|hits| hits.into_iter().map(|h| (h.doc, h.score)).collect())
                .map_err(index_err)
        })?;
        to_batch(py, results, k)
    }
}

/// The unquantised exact index: `f32` weights, `f64` sums, exhaustive term-at-a-time scoring
/// (the rank-safe reference the quantised index is measured against).
#[pyclass(module = "mmlsr._mmlsr", frozen)]
struct ExactIndex {
    index: RsExactIndex,
}

#[pymethods]
impl ExactIndex {
    #[staticmethod]
    fn build(
        py: Python<'_>,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray1<'_, f32>,
        vocab_size: usize,
    ) -> PyResult<Self> {
        let docs = csr(&indptr, &indices, &values, vocab_size)?;
        let index = py
            .detach(|| RsExactIndex::build(&docs))
            .map_err(index_err)?;
        Ok(Self { index })
    }

    #[getter]
    fn n_docs(&self) -> usize {
        self.index.n_docs()
    }

    #[getter]
    fn n_postings(&self) -> usize {
        self.index.n_postings()
    }

    /// Scores come back rounded to `f32`.
    #[pyo3(signature = (indptr, indices, values, vocab_size, k, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_batch<'py>(
        &self,
        py: Python<'py>,
        indptr: PyReadonlyArray1<'py, i64>,
        indices: PyReadonlyArray1<'py, i64>,
        values: PyReadonlyArray1<'py, f32>,
        vocab_size: usize,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Batch<'py>> {
        let queries = csr(&indptr, &indices, &values, vocab_size)?;
        let results = search_rows(py, threads, &queries, |s: &mut ExactScratch, row| {
            self.index
                .search(row, k, s)
                .map(|hits| hits.into_iter().map(|h| (h.doc, h.score as f32)).collect())
                .map_err(index_err)
        })?;
        to_batch(py, results, k)
    }
}

// ---- metrics ----

fn measures(names: &[String]) -> PyResult<Vec<Measure>> {
    names
        .iter()
        .map(|n| n.parse::<Measure>().map_err(value_err))
        .collect()
}

fn run_of(run: BTreeMap<String, BTreeMap<String, f64>>) -> PyResult<Run> {
    let mut b = RunBuilder::new();
    for (q, docs) in &run {
        for (d, &s) in docs {
            b.push(q, d, s).map_err(value_err)?;
        }
    }
    b.build().map_err(value_err)
}

fn qrels_of(qrels: BTreeMap<String, BTreeMap<String, i32>>) -> Qrels {
    let mut out = Qrels::new();
    for (q, docs) in qrels {
        for (d, rel) in docs {
            out.insert(q.clone(), d, rel);
        }
    }
    out
}

/// `{measure: mean}` and, with `per_query`, `{measure: {query: value}}`, of `run` against
/// `qrels` (judged queries without results are left out, as ir_measures does).
#[pyfunction]
fn evaluate<'py>(
    py: Python<'py>,
    run: BTreeMap<String, BTreeMap<String, f64>>,
    qrels: BTreeMap<String, BTreeMap<String, i32>>,
    measure_names: Vec<String>,
    per_query: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let ms = measures(&measure_names)?;
    let run = run_of(run)?;
    let qrels = qrels_of(qrels);
    let e = mmlsr_metrics::evaluate(&run, &qrels, &ms);
    let out = PyDict::new(py);
    let means = e.aggregate();
    for (m, name) in measure_names.iter().enumerate() {
        if per_query {
            let d = PyDict::new(py);
            for (q, v) in e.queries.iter().zip(e.column(m)) {
                d.set_item(q, v)?;
            }
            out.set_item(name, d)?;
        } else {
            out.set_item(name, means[m])?;
        }
    }
    Ok(out)
}

/// A TREC run file as `{query: {doc: score}}`.
#[pyfunction]
fn read_run(path: PathBuf) -> PyResult<BTreeMap<String, BTreeMap<String, f64>>> {
    let run = Run::read_trec(&path).map_err(value_err)?;
    Ok(run
        .query_ids()
        .map(|q| {
            let docs = run
                .ranking(q)
                .into_iter()
                .flatten()
                .map(|(d, s)| (d.to_string(), s))
                .collect();
            (q.to_string(), docs)
        })
        .collect())
}

/// A TREC qrels file as `{query: {doc: relevance}}`.
#[pyfunction]
fn read_qrels(path: PathBuf) -> PyResult<BTreeMap<String, BTreeMap<String, i32>>> {
    let q = mmlsr_metrics::read_qrels(&path).map_err(value_err)?;
    Ok(q.iter()
        .map(|(q, docs)| (q.to_string(), docs.clone()))
        .collect())
}

/// Paired two-tailed t-test of two per-query value lists (same queries, same order):
/// `(n, mean_diff, t, df, p_value)`.
#[pyfunction]
fn paired_t_test(a: Vec<f64>, b: Vec<f64>) -> PyResult<(usize, f64, f64, f64, f64)> {
    let t = mmlsr_metrics::paired_t_test_values(&a, &b).map_err(value_err)?;
    Ok((t.n, t.mean_diff, t.t, t.df, t.p_value))
}

/// Bonferroni: `min(1, p · m)`.
#[pyfunction]
fn bonferroni(p: f64, m: usize) -> f64 {
    mmlsr_metrics::bonferroni(p, m)
}

/// FLOPs (D2S eq. 1) of query and document CSR matrices over one vocabulary.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn flops(
    q_indptr: PyReadonlyArray1<'_, i64>,
    q_indices: PyReadonlyArray1<'_, i64>,
    q_values: PyReadonlyArray1<'_, f32>,
    d_indptr: PyReadonlyArray1<'_, i64>,
    d_indices: PyReadonlyArray1<'_, i64>,
    d_values: PyReadonlyArray1<'_, f32>,
    vocab_size: usize,
) -> PyResult<f64> {
    let q = csr(&q_indptr, &q_indices, &q_values, vocab_size)?;
    let d = csr(&d_indptr, &d_indices, &d_values, vocab_size)?;
    mmlsr_metrics::flops(&q, &d).map_err(value_err)
}

// ---- store ----

fn table_dict<'py>(
    py: Python<'py>,
    t: &mmlsr_store::EmbeddingTable,
) -> PyResult<(Vec<String>, Bound<'py, PyArray2<f32>>)> {
    let ids = (0..t.len()).map(|r| t.ids().id(r).to_string()).collect();
    let m = numpy::ndarray::Array2::from_shape_vec((t.len(), t.dim()), t.data().to_vec())
        .map_err(value_err)?;
    Ok((ids, m.into_pyarray(py)))
}

/// A data folder (lsr42 layout, or as its mmlsr.toml says) as numpy arrays and ids.
#[pyfunction]
#[pyo3(signature = (path, before_proj=false, restval="train"))]
fn read_folder<'py>(
    py: Python<'py>,
    path: PathBuf,
    before_proj: bool,
    restval: &str,
) -> PyResult<Bound<'py, PyDict>> {
    use mmlsr_store::{Dataset, DatasetFiles, RestvalPolicy, Split};
    let policy = match restval {
        "train" => RestvalPolicy::MergeIntoTrain,
        "drop" => RestvalPolicy::Drop,
        other => {
            return Err(value_err(format!(
                "restval {other:?}: expected \"train\" or \"drop\""
            )));
        }
    };
    let files = if before_proj {
        DatasetFiles::BEFORE_PROJ
    } else {
        DatasetFiles::PROJECTED
    };
    let ds = py
        .detach(|| Dataset::open_with(Path::new(&path), files))
        .map_err(store_err)?;
    let out = PyDict::new(py);
    let (image_ids, images) = table_dict(py, ds.images())?;
    let (text_ids, texts) = table_dict(py, ds.texts())?;
    out.set_item("image_ids", image_ids)?;
    out.set_item("images", images)?;
    out.set_item("text_ids", text_ids)?;
    out.set_item("texts", texts)?;
    let splits = PyDict::new(py);
    let qrels = PyDict::new(py);
    for (name, split) in [
        ("train", Split::Train),
        ("val", Split::Val),
        ("test", Split::Test),
    ] {
        let view = ds.split(split, policy);
        let s = PyDict::new(py);
        s.set_item("image_rows", view.image_rows.clone().into_pyarray(py))?;
        s.set_item("caption_rows", view.caption_rows.clone().into_pyarray(py))?;
        s.set_item("caption_image", view.caption_image.clone().into_pyarray(py))?;
        splits.set_item(name, s)?;
        let q: BTreeMap<String, BTreeMap<String, i32>> = ds
            .qrels(&view)
            .iter()
            .map(|(q, d)| (q.to_string(), d.clone()))
            .collect();
        qrels.set_item(name, q)?;
    }
    out.set_item("splits", splits)?;
    out.set_item("qrels", qrels)?;
    Ok(out)
}

/// `(ids, indptr, indices, values, vocab_size)`.
type SparseArrays<'py> = (
    Vec<String>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f32>>,
    usize,
);

/// The sparse vectors of an `mmlsr encode` Parquet file: `(ids, indptr, indices, values,
/// vocab_size)`.
#[pyfunction]
fn read_sparse<'py>(py: Python<'py>, path: PathBuf) -> PyResult<SparseArrays<'py>> {
    let t = mmlsr_store::SparseTable::read_parquet(&path, None).map_err(store_err)?;
    let (indptr, indices, values) = t.matrix.raw();
    let ids = (0..t.matrix.n_rows())
        .map(|r| t.ids.id(r).to_string())
        .collect();
    Ok((
        ids,
        indptr
            .iter()
            .map(|&p| p as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
        indices
            .iter()
            .map(|&i| i64::from(i))
            .collect::<Vec<_>>()
            .into_pyarray(py),
        values.to_vec().into_pyarray(py),
        t.matrix.n_cols(),
    ))
}

#[pymodule]
fn _mmlsr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Index>()?;
    m.add_class::<ApproxIndex>()?;
    m.add_class::<ExactIndex>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(read_run, m)?)?;
    m.add_function(wrap_pyfunction!(read_qrels, m)?)?;
    m.add_function(wrap_pyfunction!(paired_t_test, m)?)?;
    m.add_function(wrap_pyfunction!(bonferroni, m)?)?;
    m.add_function(wrap_pyfunction!(flops, m)?)?;
    m.add_function(wrap_pyfunction!(read_folder, m)?)?;
    m.add_function(wrap_pyfunction!(read_sparse, m)?)?;
    m.add("DEFAULT_BLOCK_SIZE", IndexConfig::default().block_size)?;
    m.add(
        "DEFAULT_DOC_ORDER",
        IndexConfig::default().doc_order.to_string(),
    )?;
    let approx = ApproxConfig::default();
    m.add("APPROX_POSTINGS_PER_TERM", approx.postings_per_term)?;
    m.add("APPROX_BLOCK_SIZE", approx.block_size)?;
    m.add("APPROX_SUMMARY_ENERGY", approx.summary_energy)?;
    m.add("APPROX_MAX_SUMMARY_TERMS", approx.max_summary_terms)?;
    m.add("APPROX_SKETCH_TERMS", approx.sketch_terms)?;
    let params = ApproxParams::default();
    m.add("APPROX_QUERY_CUT", params.query_cut)?;
    m.add("APPROX_HEAP_FACTOR", params.heap_factor)?;
    Ok(())
}

//! Per-query results as data: every evaluated run of `mmlsr reproduce` (and of `mmlsr
//! evaluate --out`) in long form, one row per query and measure, in one Parquet file per table
//! (`results/<table>/per_query.parquet`). The tables' means, significance tests, correlations
//! and Figure 2's overlap histograms are computed from this file with polars; pandas or polars
//! users read the same file directly.
//!
//! Columns (in this order):
//!
//! | column | type | holds |
//! |---|---|---|
//! | `run` | utf8 | what produced the ranking: `dense` (the backbone), `d2s`, a joint row's name, or an evaluated run file |
//! | `dataset` | utf8 | the data folder (or qrels file) |
//! | `variant` | utf8 | the expansion variant of a D2S cell (`exp=c`), a joint row's retrieval mode (`dense`/`sparse`/`fused`), `dense` for the backbone, empty for `mmlsr evaluate` |
//! | `eta` | f64, null | η of a D2S cell; null elsewhere |
//! | `query_id` | utf8 | the caption id, in the order the run was evaluated |
//! | `measure` | utf8 | `R@1`, `R@5`, `R@10`, `MRR@10`, …, and `Overlap@10` (the share of the dense backbone's top 10 that the run's top 10 holds, D2S cells) |
//! | `value` | f64 | the query's value, a fraction (not %) |
//!
//! A *slot* is one (`run`, `dataset`, `variant`, `eta`): a slot's rows are replaced together,
//! with the whole file written atomically (write, then rename), so an interrupted run keeps
//! every slot already written.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mmlsr_metrics::{Evaluation, Measure};
use polars::prelude::*;

use crate::evaluation::measure_name;

/// The file's name inside a results folder.
pub const FILE: &str = "per_query.parquet";

/// The columns, in order.
pub const COLUMNS: [&str; 7] = [
    "run", "dataset", "variant", "eta", "query_id", "measure", "value",
];

/// The measure name of the top-10 overlap with the dense backbone (Figure 2b).
pub const OVERLAP: &str = "Overlap@10";

/// What a block of rows belongs to (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub run: String,
    pub dataset: String,
    pub variant: String,
    pub eta: Option<f64>,
}

impl Slot {
    /// A D2S grid cell.
    pub fn d2s(dataset: &str, variant: &str, eta: f64) -> Self {
        Self {
            run: "d2s".into(),
            dataset: dataset.into(),
            variant: variant.into(),
            eta: Some(eta),
        }
    }

    /// The dense backbone of a data folder.
    pub fn dense(dataset: &str) -> Self {
        Self {
            run: "dense".into(),
            dataset: dataset.into(),
            variant: "dense".into(),
            eta: None,
        }
    }

    /// The predicate selecting this slot's rows.
    fn predicate(&self) -> Expr {
        let eta = match self.eta {
            Some(e) => col("eta").eq(lit(e)),
            None => col("eta").is_null(),
        };
        col("run")
            .eq(lit(self.run.as_str()))
            .and(col("dataset").eq(lit(self.dataset.as_str())))
            .and(col("variant").eq(lit(self.variant.as_str())))
            .and(eta)
    }

    /// `d2s synth-coco-strong exp=c η=1e-3`, for messages.
    fn describe(&self) -> String {
        let mut s = format!("{} {} {}", self.run, self.dataset, self.variant);
        if let Some(e) = self.eta {
            s.push_str(&format!(" η={e:e}"));
        }
        s
    }
}

/// Rows of one slot, built column by column.
#[derive(Debug, Default)]
pub struct Rows {
    query_id: Vec<String>,
    measure: Vec<String>,
    value: Vec<f64>,
}

impl Rows {
    /// Every query × measure of an evaluation, query by query in its order.
    pub fn of_evaluation(e: &Evaluation) -> Self {
        let mut rows = Self::default();
        let names: Vec<String> = e.measures.iter().map(|&m| measure_name(m)).collect();
        let width = e.measures.len().max(1);
        for (q, values) in e.queries.iter().zip(e.values.chunks_exact(width)) {
            for (name, &v) in names.iter().zip(values) {
                rows.push(q, name, v);
            }
        }
        rows
    }

    /// One more row.
    pub fn push(&mut self, query_id: &str, measure: &str, value: f64) {
        self.query_id.push(query_id.to_string());
        self.measure.push(measure.to_string());
        self.value.push(value);
    }

    fn frame(self, slot: &Slot) -> PolarsResult<DataFrame> {
        let n = self.value.len();
        df!(
            "run" => vec![slot.run.as_str(); n],
            "dataset" => vec![slot.dataset.as_str(); n],
            "variant" => vec![slot.variant.as_str(); n],
            "eta" => vec![slot.eta; n],
            "query_id" => self.query_id,
            "measure" => self.measure,
            "value" => self.value,
        )
    }
}

/// A table's per-query file, held in memory.
pub struct PerQueryFile {
    path: PathBuf,
    df: DataFrame,
}

/// The error of a polars call, naming the file.
fn polars_err(path: &Path) -> impl Fn(PolarsError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{}: {e}", path.display())
}

impl PerQueryFile {
    /// The file at `path`, or an empty one when there is none yet. A file without the
    /// columns above (or with another type in one) is refused, naming the column.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let df = if path.is_file() {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let df = ParquetReader::new(file).finish().map_err(|e| {
                anyhow::anyhow!("{}: not a readable Parquet file: {e}", path.display())
            })?;
            check_schema(path, &df)?;
            df
        } else {
            Rows::default()
                .frame(&Slot::dense(""))
                .map_err(polars_err(path))?
        };
        Ok(Self {
            path: path.to_path_buf(),
            df,
        })
    }

    /// `DIR/per_query.parquet` when `path` is a folder, else `path`.
    pub fn open_in(path: &Path) -> anyhow::Result<Self> {
        if path.is_dir() {
            let file = path.join(FILE);
            anyhow::ensure!(
                file.is_file(),
                "{}: no {FILE} here (it is written by `mmlsr reproduce` and `mmlsr evaluate \
                 --out`)",
                path.display()
            );
            Self::open(&file)
        } else {
            anyhow::ensure!(path.is_file(), "{}: no such file", path.display());
            Self::open(path)
        }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All rows.
    pub fn frame(&self) -> &DataFrame {
        &self.df
    }

    /// The rows of one slot, in file order.
    fn slot_rows(&self, slot: &Slot) -> anyhow::Result<DataFrame> {
        self.df
            .clone()
            .lazy()
            .filter(slot.predicate())
            .collect()
            .map_err(polars_err(&self.path))
    }

    /// Set the rows of `slot` to `rows` and write the file (atomically) if that changed it.
    /// Returns whether it did.
    pub fn replace(&mut self, slot: &Slot, rows: Rows) -> anyhow::Result<bool> {
        let new = rows.frame(slot).map_err(polars_err(&self.path))?;
        if self.slot_rows(slot)?.equals_missing(&new) {
            return Ok(false);
        }
        let kept = self
            .df
            .clone()
            .lazy()
            .filter(slot.predicate().not())
            .collect()
            .map_err(polars_err(&self.path))?;
        let mut df = kept.vstack(&new).map_err(polars_err(&self.path))?;
        df.rechunk_mut();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)
            .map_err(polars_err(&self.path))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        mmlsr_store::atomic_write_bytes(&self.path, &bytes)?;
        self.df = df;
        Ok(true)
    }

    /// Per-query values of `measure` in a slot: (query ids, values) in the order the run was
    /// evaluated. A slot or measure the file lacks is an error naming both.
    pub fn values(&self, slot: &Slot, measure: &str) -> anyhow::Result<(Vec<String>, Vec<f64>)> {
        let df = self.measure_rows(slot, measure)?;
        let ids = strings(&self.path, &df, "query_id")?;
        let values = floats(&self.path, &df, "value")?;
        Ok((ids, values))
    }

    /// `query_id` and `value` of `measure` in a slot, in file order; none is an error naming
    /// both.
    fn measure_rows(&self, slot: &Slot, measure: &str) -> anyhow::Result<DataFrame> {
        let df = self
            .df
            .clone()
            .lazy()
            .filter(slot.predicate().and(col("measure").eq(lit(measure))))
            .select([col("query_id"), col("value")])
            .collect()
            .map_err(polars_err(&self.path))?;
        if df.height() == 0 {
            bail!(
                "{}: no {measure} values for {}",
                self.path.display(),
                slot.describe()
            );
        }
        Ok(df)
    }

    /// The mean of `measure` over a slot's queries, summed in evaluation order (so it equals
    /// [`Evaluation::mean`] of the evaluation the rows came from, bit for bit).
    pub fn mean(&self, slot: &Slot, measure: Measure) -> anyhow::Result<f64> {
        let (_, v) = self.values(slot, &measure_name(measure))?;
        Ok(v.iter().sum::<f64>() / v.len() as f64)
    }

    /// Per-query values of `measure` in slots `a` and `b`, joined on the query id (a polars
    /// left join keeping `a`'s order): what a paired test or a correlation takes. Different
    /// query sets are an error naming a query found in only one.
    pub fn paired(
        &self,
        a: &Slot,
        b: &Slot,
        measure: &str,
    ) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
        let side = |s: &Slot, name: &str| -> anyhow::Result<(LazyFrame, usize)> {
            let df = self.measure_rows(s, measure)?;
            let n = df.height();
            let renamed = df
                .lazy()
                .select([col("query_id"), col("value").alias(name)]);
            Ok((renamed, n))
        };
        let ((la, _), (lb, n_b)) = (side(a, "a")?, side(b, "b")?);
        let args = JoinArgs {
            maintain_order: MaintainOrderJoin::Left,
            ..JoinArgs::new(JoinType::Left)
        };
        let joined = la
            .join(lb, [col("query_id")], [col("query_id")], args)
            .collect()
            .map_err(polars_err(&self.path))?;
        let ids = strings(&self.path, &joined, "query_id")?;
        let va = floats(&self.path, &joined, "a")?;
        let column = joined
            .column("b")
            .and_then(|c| c.f64().cloned())
            .map_err(polars_err(&self.path))?;
        let mut vb = Vec::with_capacity(ids.len());
        for (q, v) in ids.iter().zip(column.iter()) {
            match v {
                Some(v) => vb.push(v),
                None => bail!(
                    "{}: query {q} has {measure} in {} but not in {}",
                    self.path.display(),
                    a.describe(),
                    b.describe()
                ),
            }
        }
        if n_b != ids.len() {
            bail!(
                "{}: {} and {} hold different queries ({} vs {n_b})",
                self.path.display(),
                a.describe(),
                b.describe(),
                ids.len()
            );
        }
        Ok((va, vb))
    }
}

/// The file must have [`COLUMNS`] with their types.
fn check_schema(path: &Path, df: &DataFrame) -> anyhow::Result<()> {
    for name in COLUMNS {
        let Ok(c) = df.column(name) else {
            bail!(
                "{}: no column {name:?} (a per-query file has columns {})",
                path.display(),
                COLUMNS.join(", ")
            );
        };
        let want = match name {
            "eta" | "value" => DataType::Float64,
            _ => DataType::String,
        };
        if c.dtype() != &want {
            bail!(
                "{}: column {name:?} is {}, expected {want}",
                path.display(),
                c.dtype()
            );
        }
        if name != "eta" && c.null_count() > 0 {
            bail!(
                "{}: column {name:?} has {} empty values",
                path.display(),
                c.null_count()
            );
        }
    }
    Ok(())
}

fn strings(path: &Path, df: &DataFrame, name: &str) -> anyhow::Result<Vec<String>> {
    let c = df
        .column(name)
        .and_then(|c| c.str().cloned())
        .map_err(polars_err(path))?;
    Ok(c.iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect())
}

fn floats(path: &Path, df: &DataFrame, name: &str) -> anyhow::Result<Vec<f64>> {
    let c = df
        .column(name)
        .and_then(|c| c.f64().cloned())
        .map_err(polars_err(path))?;
    Ok(c.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation() -> Evaluation {
        let mut b = mmlsr_metrics::RunBuilder::new();
        for (q, d, s) in [
            ("q1", "a", 3.0),
            ("q1", "b", 2.0),
            ("q2", "b", 3.0),
            ("q2", "c", 1.0),
            ("q3", "c", 2.0),
            ("q3", "a", 1.0),
        ] {
            b.push(q, d, s).unwrap();
        }
        let mut qrels = mmlsr_core::Qrels::new();
        for (q, d) in [("q1", "b"), ("q2", "b"), ("q3", "a")] {
            qrels.insert(q, d, 1);
        }
        mmlsr_metrics::evaluate(
            &b.build().unwrap(),
            &qrels,
            &crate::evaluation::TEST_MEASURES,
        )
    }

    #[test]
    fn slots_are_replaced_whole_and_read_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t").join(FILE);
        let mut f = PerQueryFile::open(&path).unwrap();
        assert_eq!(f.frame().height(), 0);
        let e = evaluation();
        let cell = Slot::d2s("data", "exp=c", 1e-3);
        assert!(f.replace(&cell, Rows::of_evaluation(&e)).unwrap());
        // The same rows again: nothing to write.
        assert!(!f.replace(&cell, Rows::of_evaluation(&e)).unwrap());
        let dense = Slot::dense("data");
        let mut rows = Rows::default();
        for q in ["q3", "q1", "q2"] {
            rows.push(q, "R@1", if q == "q2" { 1.0 } else { 0.0 });
        }
        assert!(f.replace(&dense, rows).unwrap());

        // Read back from disk: 3 queries × 4 measures + 3 rows.
        let g = PerQueryFile::open(&path).unwrap();
        assert_eq!(g.frame().height(), 15);
        let (ids, r1) = g.values(&cell, "R@1").unwrap();
        assert_eq!(ids, ["q1", "q2", "q3"]);
        assert_eq!(r1, e.per_query(Measure::Recall(1)).unwrap());
        assert_eq!(
            g.mean(&cell, Measure::RR(10)).unwrap(),
            e.mean(Measure::RR(10)).unwrap()
        );
        // Paired by query id in the first slot's order.
        let (a, b) = g.paired(&cell, &dense, "R@1").unwrap();
        assert_eq!(a, r1);
        assert_eq!(b, [0.0, 1.0, 0.0]);

        // Replacing a slot drops its old rows, keeps the others.
        let mut rows = Rows::default();
        rows.push("q1", "R@1", 1.0);
        let mut g = g;
        g.replace(&cell, rows).unwrap();
        let h = PerQueryFile::open(&path).unwrap();
        assert_eq!(h.frame().height(), 4);
        assert_eq!(h.values(&dense, "R@1").unwrap().1, [0.0, 0.0, 1.0]);
        let msg = h.paired(&dense, &cell, "R@1").unwrap_err().to_string();
        assert!(
            msg.contains("query q3 has R@1 in dense data dense but not in d2s data"),
            "{msg}"
        );
        let msg = h.values(&cell, "MRR@10").unwrap_err().to_string();
        assert!(
            msg.contains("no MRR@10 values for d2s data exp=c η=1e-3"),
            "{msg}"
        );
        assert!(!path.with_extension("parquet.tmp").exists());
    }

    #[test]
    fn foreign_files_are_refused_naming_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE);
        std::fs::write(&path, b"not parquet").unwrap();
        let msg = PerQueryFile::open(&path).err().unwrap().to_string();
        assert!(msg.contains("not a readable Parquet file"), "{msg}");
        let mut df = df!("run" => ["x"], "dataset" => ["d"]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let msg = PerQueryFile::open(&path).err().unwrap().to_string();
        assert!(msg.contains("no column \"variant\""), "{msg}");
        let msg = PerQueryFile::open_in(tmp.path().join("nothing").as_path())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("no such file"), "{msg}");
    }
}

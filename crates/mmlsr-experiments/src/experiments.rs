//! The experiment files under `experiments/`: what a table trains (data folders, the grid or
//! the joint rows, shared settings) and where its cells and results go.

use std::path::PathBuf;

use mmlsr_model::{BackendKind, RetrievalMode as Mode, TrainConfig};
use mmlsr_store::RestvalPolicy;
use serde::{Deserialize, Serialize};

/// An experiment file (`experiments/table2.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// What the file reproduces (free text).
    #[serde(default)]
    pub description: String,
    /// Folder holding the data folders.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Folder for trained cells.
    pub runs: PathBuf,
    /// Folder for the table.
    pub results: PathBuf,
    /// Burn backend.
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// The grid.
    pub grid: Grid,
    /// `TrainConfig` keys shared by every cell (the grid sets the variant and η).
    #[serde(default)]
    pub train: TrainConfig,
}

pub fn default_data() -> PathBuf {
    PathBuf::from("data")
}

/// Cells: every data folder × η × variant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Data folder names under `data` (e.g. `synth-coco-strong`).
    pub datasets: Vec<String>,
    /// Regulariser weights η (captions and images alike).
    pub eta: Vec<f64>,
    /// Expansion variants (`exp=0`, `exp=1`, `exp=c`, `exp=c+w`).
    pub variants: Vec<String>,
}

/// Where a grid cell trains.
pub fn cell_dir(exp: &Experiment, dataset: &str, variant: &str, eta: f64) -> PathBuf {
    exp.runs.join(dataset).join(format!("{variant}_eta{eta:e}"))
}

/// `experiments/joint.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JointExperiment {
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_data")]
    pub data: PathBuf,
    pub runs: PathBuf,
    pub results: PathBuf,
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// Data folders (every row is trained on each).
    pub datasets: Vec<String>,
    /// `JointTrainConfig` keys shared by every joint row.
    #[serde(default)]
    pub joint: toml::Table,
    /// `JointTrainConfig` keys for one data folder, merged over `[joint]` before a row's
    /// `set` (the released code's per-configuration w1, w2, λ1, λ2, q_reg, d_reg, lr), e.g.
    /// `[per_dataset."mscoco-blip-dense"]`.
    #[serde(default)]
    pub per_dataset: std::collections::BTreeMap<String, toml::Table>,
    /// `TrainConfig` of the D2S row (trained on the same images: restval as `joint`).
    #[serde(default)]
    pub d2s: TrainConfig,
    /// The joint rows: a name and `JointTrainConfig` keys merged over `[joint]`.
    pub rows: Vec<JointRow>,
}

/// One joint row of the table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JointRow {
    /// Folder name of its cells and its label in the table.
    pub name: String,
    /// What the row is (free text, printed under the table).
    #[serde(default)]
    pub description: String,
    /// Only these data folders (default: all).
    #[serde(default)]
    pub datasets: Option<Vec<String>>,
    /// Keys merged over `[joint]`.
    #[serde(default)]
    pub set: toml::Table,
    /// Modes shown in the table (default: dense, sparse, fused; a frozen-projection row's
    /// dense mode is the frozen backbone, a dense-only row's sparse mode is untrained).
    #[serde(default = "all_modes")]
    pub modes: Vec<Mode>,
}

pub fn all_modes() -> Vec<Mode> {
    Mode::ALL.to_vec()
}

/// Merge `over` into `base` recursively (tables merge, everything else replaces).
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

pub fn restval_label(p: RestvalPolicy) -> &'static str {
    match p {
        RestvalPolicy::MergeIntoTrain => "restval-train",
        RestvalPolicy::Drop => "restval-drop",
    }
}

/// `experiments/table6.toml`: the latency table on a collection of MSCOCO's size, with the
/// trained heads whose vectors it times.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyExperiment {
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_data")]
    pub data: PathBuf,
    pub runs: PathBuf,
    pub results: PathBuf,
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// The data folder (under `data`) the heads train on: a `synth-*` name is generated at the
    /// small scale when missing.
    pub train_on: String,
    /// The folder (under `data`) whose every image and caption the heads encode, and whose
    /// dense vectors feed the dense rows.
    pub collection: String,
    /// The `mmlsr synth --scale` that makes `collection` when it is missing (`small`, `full`;
    /// the same seed and generator as `train_on`, so the two share a vocabulary).
    pub collection_scale: String,
    /// `mmlsr bench` settings (flag names with `_`), over its defaults.
    #[serde(default)]
    pub bench: crate::latency::BenchPlan,
    /// `TrainConfig` keys shared by every head.
    #[serde(default)]
    pub train: TrainConfig,
    /// The trained heads; each becomes one collection of the table.
    pub heads: Vec<LatencyHead>,
}

/// One trained head of the latency table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyHead {
    /// Its folder name and its label in the table.
    pub name: String,
    /// Regulariser weight η (captions and images alike).
    pub eta: f64,
    /// `TrainConfig` keys merged over `[train]`, e.g.
    /// `set = { expansion = { variant = "exp=c", draw = "per_caption" } }`.
    #[serde(default)]
    pub set: toml::Table,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str) -> String {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments"));
        std::fs::read_to_string(root.join(path)).unwrap()
    }

    /// The real-data files keep the papers' settings (the rehearsal runs them with fewer
    /// epochs; every file's schema is checked in `latency_table`'s test).
    #[test]
    fn real_experiment_files_keep_the_papers_settings() {
        let real: Experiment = toml::from_str(&read("real/table2.toml")).unwrap();
        assert_eq!(
            (
                real.train.epochs,
                real.train.patience,
                real.train.batch_size
            ),
            (200, Some(20), 512)
        );
        assert_eq!(real.grid.datasets.len(), 4);
        let joint: JointExperiment = toml::from_str(&read("real/joint.toml")).unwrap();
        assert_eq!(joint.per_dataset.len(), 4);
        assert!(joint.per_dataset.keys().all(|k| joint.datasets.contains(k)));
    }
}

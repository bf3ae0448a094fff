//! The one epoch loop that D2S ([`crate::train`]) and the joint method
//! ([`crate::train_joint`]) share: shuffling, the learning-rate and regulariser schedules,
//! validation after each epoch, best-epoch selection with patience, resumable checkpoints and
//! the final model directory. A method plugs in through [`Method`]: how to start or resume
//! its weights, one optimiser step, validation, and how to save them.
//!
//! Output directory:
//! ```text
//! out/
//!   config.json             the method's configuration (a resumed run must match it)
//!   train_log.csv           one row per step; val_r1 filled on the last step of each epoch
//!   epochs/epoch-0007/      the latest complete epoch and the best one (older ones removed):
//!     …                     the method's model directory and optimiser state
//!     state.json            step, best epoch, patience counter, the log so far
//!     MANIFEST.sha256       SHA-256 of every file above, verified before a resume
//!   model/                  the best epoch's model directory, written at the end (with its
//!                           own MANIFEST.sha256, verified whenever it is loaded)
//! ```
//! Every file is written atomically and an epoch directory is renamed into place only once
//! complete, so an interrupted run resumes from its last complete epoch. The shuffle of epoch
//! `e` is a function of the seed and `e` alone, and so is every draw a method makes, so a
//! resumed run reaches the same weights as an uninterrupted one.

use std::{
    ops::ControlFlow,
    path::{Path, PathBuf},
    time::Instant,
};

use mmlsr_store::atomic_write_bytes;
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Error, Result, lr_factor, ramped_weight};

/// Numbers of one optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Global step (1-based, after this step).
    pub step: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Total loss.
    pub loss: f64,
    /// Distillation part.
    pub distill: f64,
    /// Weighted caption regulariser.
    pub reg_text: f64,
    /// Weighted image regulariser.
    pub reg_image: f64,
    /// Mean active (non-zero) terms per caption vector, after masking.
    pub active_text: f64,
    /// Mean active terms per image vector.
    pub active_image: f64,
    /// In-batch FLOPs (D2S eq. 1 over the batch's captions and images).
    pub flops: f64,
    /// Learning-rate multiplier.
    pub lr_scale: f64,
    /// Validation R@1 (×100), on the last step of an epoch that was validated.
    pub val_r1: Option<f64>,
}

/// Summary of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Steps done so far.
    pub step: usize,
    /// Mean total loss over the epoch.
    pub mean_loss: f64,
    /// Validation R@1 (×100).
    pub val_r1: Option<f64>,
    /// Best epoch so far.
    pub best_epoch: usize,
    /// Seconds spent in this epoch (training and validation).
    pub seconds: f64,
}

/// The shape of a run, given to [`TrainObserver::on_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainPlan {
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Steps of the whole run (all epochs).
    pub total_steps: usize,
    /// Steps already done (resumed runs).
    pub start_step: usize,
    /// Epochs already done.
    pub start_epoch: usize,
    /// Maximum epochs.
    pub epochs: usize,
}

/// Receives progress; the runner draws progress bars from it. Returning
/// `ControlFlow::Break` from [`TrainObserver::on_epoch`] stops after that epoch's checkpoint
/// (as an interruption would).
pub trait TrainObserver {
    /// Before the first step.
    fn on_start(&mut self, _plan: &TrainPlan) {}
    /// After every step.
    fn on_step(&mut self, _stats: &StepStats) {}
    /// After every epoch's checkpoint is written.
    fn on_epoch(&mut self, _stats: &EpochStats) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainObserver for Silent {}

/// The outcome of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Epochs completed (over all sessions of a resumed run).
    pub epochs_done: usize,
    /// Steps completed.
    pub steps_done: usize,
    /// The kept epoch.
    pub best_epoch: usize,
    /// Its validation R@1 (×100).
    pub best_val_r1: Option<f64>,
    /// Early stopping ended the run.
    pub stopped_early: bool,
    /// The observer stopped the run before its end (resume it to finish).
    pub interrupted: bool,
    /// The final model directory (`out/model`), written when the run finished.
    pub model_dir: Option<PathBuf>,
    /// Seconds spent in this session.
    pub seconds: f64,
}

/// Where a run writes and whether it continues one found there.
#[derive(Debug, Clone, Copy)]
pub struct RunDir<'a> {
    /// The output directory.
    pub out: &'a Path,
    /// Continue from the last complete epoch in `out`. The configuration must be the same,
    /// except that `epochs` may be raised (the learning-rate and regulariser schedules then
    /// span the new total from the resumed step on, so the result differs from a fresh run of
    /// that many epochs). Without it, `out` must not hold a run already.
    pub resume: bool,
    /// Replace a run found in `out`: its checkpoints, model, configuration and log are
    /// removed before training starts.
    pub force: bool,
}

impl<'a> RunDir<'a> {
    /// A fresh run into `out`.
    pub fn fresh(out: &'a Path) -> Self {
        Self {
            out,
            resume: false,
            force: false,
        }
    }

    /// A run into `out` that continues one found there.
    pub fn resume(out: &'a Path) -> Self {
        Self {
            out,
            resume: true,
            force: false,
        }
    }
}

/// The settings the epoch loop itself reads, common to every method's configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoopSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub patience: Option<usize>,
    pub validate: bool,
    /// Fraction of all steps spent warming the learning rate up.
    pub warmup_fraction: f64,
    /// Fraction of all steps over which the regulariser weights ramp up.
    pub reg_ramp_fraction: f64,
}

impl LoopSettings {
    /// Range checks every trainer shares: epochs, batch size, the two ramp fractions,
    /// patience.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size < 2 {
            return bad(format!(
                "batch_size must be at least 2 (in-batch negatives), found {}",
                self.batch_size
            ));
        }
        for (n, f) in [
            ("reg_ramp_fraction", self.reg_ramp_fraction),
            ("optim.warmup_fraction", self.warmup_fraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return bad(format!("{n} must be in [0, 1], found {f}"));
            }
        }
        if self.patience == Some(0) {
            return bad("patience must be at least 1 epoch".into());
        }
        Ok(())
    }
}

/// One batch as the loop hands it to [`Method::step`].
pub(crate) struct Batch<'a> {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Batch number within the epoch (0-based).
    pub index: usize,
    /// Global step before this one (0-based).
    pub step: usize,
    /// Indices into the training pairs.
    pub pairs: &'a [u32],
    /// Learning-rate multiplier of this step (warm-up, then linear decay).
    pub lr_scale: f64,
    /// Steps over which the regulariser weights ramp up.
    ramp_steps: usize,
}

impl Batch<'_> {
    /// `weight` ramped quadratically to this step ([`ramped_weight`]).
    pub fn ramped(&self, weight: f64) -> f64 {
        ramped_weight(weight, self.step, self.ramp_steps)
    }
}

/// One row of `train_log.csv`.
pub(crate) trait LogRow: Clone + Serialize + DeserializeOwned {
    /// The CSV header line (without a newline).
    const HEADER: &'static str;
    /// The CSV fields of this row (without a newline).
    fn csv(&self) -> String;
    /// The total loss.
    fn loss(&self) -> f64;
    /// Record the validation R@1 of the epoch this row ends.
    fn set_val_r1(&mut self, val_r1: Option<f64>);
    /// The row as the observer sees it.
    fn progress(&self) -> StepStats;
}

/// A training method the epoch loop can run.
pub(crate) trait Method {
    /// The configuration saved as `config.json`; a resumed run must match it.
    type Config: PartialEq + Serialize + DeserializeOwned;
    /// Model and optimiser.
    type Weights;
    /// One row of the training log.
    type Row: LogRow;
    /// What `config.json` holds, for errors ("train config").
    const CONFIG_KIND: &'static str;

    /// The configuration.
    fn config(&self) -> &Self::Config;
    /// What the loop needs of it.
    fn settings(&self) -> LoopSettings;
    /// Number of training pairs.
    fn n_pairs(&self) -> usize;
    /// Fresh weights and optimiser state.
    fn init(&self) -> Result<Self::Weights>;
    /// Weights and optimiser state of a complete epoch directory.
    fn load(&self, epoch_dir: &Path) -> Result<Self::Weights>;
    /// One optimiser step; an error (e.g. [`Error::Diverged`]) ends the run.
    fn step(&self, weights: Self::Weights, batch: &Batch<'_>)
    -> Result<(Self::Weights, Self::Row)>;
    /// Validation R@1 (×100).
    fn validate(&self, weights: &Self::Weights) -> Result<f64>;
    /// Write the weights' model directory and optimiser state into `dir`.
    fn save(
        &self,
        weights: &Self::Weights,
        dir: &Path,
        epoch: usize,
        val_r1: Option<f64>,
    ) -> Result<()>;
    /// Write the model directory of the epoch saved in `epoch_dir` into `model_dir`.
    fn export(&self, epoch_dir: &Path, model_dir: &Path) -> Result<()>;
}

/// Resumable state of a run, saved with each epoch as `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "R: Serialize", deserialize = "R: DeserializeOwned"))]
struct RunState<R> {
    epoch: usize,
    step: usize,
    best_epoch: usize,
    best_val_r1: Option<f64>,
    epochs_since_best: usize,
    stopped_early: bool,
    log: Vec<R>,
}

impl<R> RunState<R> {
    fn new() -> Self {
        Self {
            epoch: 0,
            step: 0,
            best_epoch: 0,
            best_val_r1: None,
            epochs_since_best: 0,
            stopped_early: false,
            log: Vec::new(),
        }
    }

    /// Model selection after an epoch: keep it when validation improved (or without
    /// validation), otherwise count towards `patience`.
    fn select(&mut self, val_r1: Option<f64>, patience: Option<usize>) {
        let improved = match (val_r1, self.best_val_r1) {
            (Some(v), Some(best)) => v > best,
            _ => true,
        };
        if improved {
            self.best_epoch = self.epoch;
            self.best_val_r1 = val_r1;
            self.epochs_since_best = 0;
        } else {
            self.epochs_since_best += 1;
            if patience.is_some_and(|p| self.epochs_since_best >= p) {
                self.stopped_early = true;
            }
        }
    }
}

const STATE: &str = "state.json";
const LOG: &str = "train_log.csv";
const CONFIG: &str = "config.json";

/// Run `method` into `run.out` (see the module documentation for the layout).
pub(crate) fn run<M: Method>(
    method: &M,
    run: RunDir<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    let t0 = Instant::now();
    // Subnormal softmax gradients cost Intel cores 2.5–3× on large vocabularies.
    let _flush = crate::denormals::FlushDenormals::new();
    let out = run.out;
    let s = method.settings();
    if run.force {
        remove_run(out)?;
    }
    std::fs::create_dir_all(out.join("epochs")).map_err(|e| Error::io(out, e))?;
    let config_path = out.join(CONFIG);
    let (mut weights, mut state) = match (latest_epoch_dir(out)?, run.resume) {
        (Some(dir), true) => {
            let bytes = std::fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
            let saved: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::checkpoint(&config_path, format!("not a {}: {e}", M::CONFIG_KIND))
            })?;
            serde_json::from_value::<M::Config>(saved.clone()).map_err(|e| {
                Error::checkpoint(&config_path, format!("not a {}: {e}", M::CONFIG_KIND))
            })?;
            let now = serde_json::to_value(method.config()).expect("configs serialise");
            let mut differences = Vec::new();
            config_differences(&saved, &now, "", &mut differences);
            let raised_epochs = differences.len() == 1
                && differences[0].0 == "epochs"
                && now["epochs"].as_u64() >= saved["epochs"].as_u64();
            if raised_epochs {
                let json = serde_json::to_vec_pretty(method.config()).expect("configs serialise");
                atomic_write_bytes(&config_path, &json)?;
            } else if !differences.is_empty() {
                let listed: Vec<String> = differences
                    .iter()
                    .map(|(k, was, is)| format!("{k}: {was} in the run, {is} now"))
                    .collect();
                return Err(Error::checkpoint(
                    &config_path,
                    format!(
                        "the run in this directory used other settings ({}); resume with the \
                         same settings (epochs may be raised), or train into a new directory",
                        listed.join("; ")
                    ),
                ));
            }
            let weights = method.load(&dir)?;
            let path = dir.join(STATE);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let state: RunState<M::Row> = serde_json::from_slice(&bytes)
                .map_err(|e| Error::checkpoint(&path, format!("not a run state: {e}")))?;
            (weights, state)
        }
        (Some(dir), false) => {
            return Err(Error::checkpoint(
                dir,
                "a training run already exists here; pass resume to continue it, force to \
                 replace it, or choose another output directory",
            ));
        }
        (None, _) => {
            if let Some(found) = finished_run_entry(out) {
                return Err(Error::checkpoint(
                    &found,
                    "the results of a run are here but no epoch checkpoint to resume from; \
                     pass force to replace the run, or choose another output directory",
                ));
            }
            let json = serde_json::to_vec_pretty(method.config()).expect("configs serialise");
            atomic_write_bytes(&config_path, &json)?;
            (method.init()?, RunState::new())
        }
    };

    let n_pairs = method.n_pairs();
    let steps_per_epoch = n_pairs.div_ceil(s.batch_size);
    let total_steps = steps_per_epoch * s.epochs;
    let warmup = (s.warmup_fraction * total_steps as f64) as usize;
    let ramp_steps = (s.reg_ramp_fraction * total_steps as f64) as usize;
    observer.on_start(&TrainPlan {
        steps_per_epoch,
        total_steps,
        start_step: state.step,
        start_epoch: state.epoch,
        epochs: s.epochs,
    });

    let mut interrupted = false;
    while state.epoch < s.epochs && !state.stopped_early {
        let epoch_start = Instant::now();
        let epoch = state.epoch; // 0-based inside the loop
        let mut order: Vec<u32> = (0..n_pairs as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        rng.set_stream(epoch as u64 + 1);
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for (index, pairs) in order.chunks(s.batch_size).enumerate() {
            let batch = Batch {
                epoch,
                index,
                step: state.step,
                pairs,
                lr_scale: lr_factor(state.step, total_steps, warmup),
                ramp_steps,
            };
            let (w, row) = method.step(weights, &batch)?;
            weights = w;
            state.step += 1;
            loss_sum += row.loss();
            observer.on_step(&row.progress());
            state.log.push(row);
        }
        state.epoch += 1;

        let val_r1 = if s.validate {
            Some(method.validate(&weights)?)
        } else {
            None
        };
        if let Some(last) = state.log.last_mut() {
            last.set_val_r1(val_r1);
        }
        state.select(val_r1, s.patience);
        write_epoch(method, out, &state, &weights, val_r1)?;
        write_log(out, &state.log)?;
        let ctl = observer.on_epoch(&EpochStats {
            epoch: state.epoch,
            step: state.step,
            mean_loss: loss_sum / steps_per_epoch.max(1) as f64,
            val_r1,
            best_epoch: state.best_epoch,
            seconds: epoch_start.elapsed().as_secs_f64(),
        });
        if ctl.is_break() && state.epoch < s.epochs && !state.stopped_early {
            interrupted = true;
            break;
        }
    }

    let model_dir = if interrupted {
        None
    } else {
        let model = out.join("model");
        let tmp = out.join(".model.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        method.export(&epoch_dir(out, state.best_epoch), &tmp)?;
        let _ = std::fs::remove_dir_all(&model);
        std::fs::rename(&tmp, &model).map_err(|e| Error::io(&model, e))?;
        Some(model)
    };
    Ok(TrainReport {
        epochs_done: state.epoch,
        steps_done: state.step,
        best_epoch: state.best_epoch,
        best_val_r1: state.best_val_r1,
        stopped_early: state.stopped_early,
        interrupted,
        model_dir,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn epoch_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("epochs").join(format!("epoch-{epoch:04}"))
}

/// The epoch of a complete epoch directory's name (`epoch-0007` → 7; temporaries → None).
fn epoch_number(name: &std::ffi::OsStr) -> Option<usize> {
    name.to_str()?.strip_prefix("epoch-")?.parse().ok()
}

/// The first result of an earlier run in `out` that a fresh start would overwrite: its
/// `model/` or a training log with rows. (A configuration alone, from a run stopped before
/// its first epoch finished, is simply rewritten.)
fn finished_run_entry(out: &Path) -> Option<PathBuf> {
    let model = out.join("model");
    if model.exists() {
        return Some(model);
    }
    let log = out.join(LOG);
    std::fs::read_to_string(&log)
        .is_ok_and(|t| t.lines().count() > 1)
        .then_some(log)
}

/// Remove what a run wrote into `out` (checkpoints, model, configuration, log); other files
/// are left alone.
fn remove_run(out: &Path) -> Result<()> {
    for dir in ["epochs", "model"] {
        let p = out.join(dir);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    for file in [CONFIG, LOG] {
        let p = out.join(file);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// The settings in which two serialised configurations differ, as (dotted key, saved, now).
fn config_differences(
    saved: &serde_json::Value,
    now: &serde_json::Value,
    prefix: &str,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    match (saved, now) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                let null = Value::Null;
                config_differences(
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    &key,
                    out,
                );
            }
        }
        (a, b) if a != b => out.push((prefix.to_string(), a.to_string(), b.to_string())),
        _ => {}
    }
}

/// The most recent complete epoch directory in `out`, if any.
fn latest_epoch_dir(out: &Path) -> Result<Option<PathBuf>> {
    let dir = out.join("epochs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut best: Option<(usize, PathBuf)> = None;
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let Some(n) = epoch_number(&e.file_name()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, e.path()));
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// Write the epoch's checkpoint into a temporary directory, rename it into place, then remove
/// epoch directories that are neither this one nor the best.
fn write_epoch<M: Method>(
    method: &M,
    out: &Path,
    state: &RunState<M::Row>,
    weights: &M::Weights,
    val_r1: Option<f64>,
) -> Result<()> {
    let final_dir = epoch_dir(out, state.epoch);
    let tmp = out
        .join("epochs")
        .join(format!(".epoch-{:04}.tmp", state.epoch));
    let _ = std::fs::remove_dir_all(&tmp);
    method.save(weights, &tmp, state.epoch, val_r1)?;
    let json = serde_json::to_vec(state).expect("states serialise");
    atomic_write_bytes(&tmp.join(STATE), &json)?;
    // Weights, optimiser state and run state: a resumed run verifies them all.
    mmlsr_core::write_manifest(&tmp)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    remove_other_epochs(out, &[state.epoch, state.best_epoch]);
    Ok(())
}

/// Remove complete epoch directories other than `keep`.
fn remove_other_epochs(out: &Path, keep: &[usize]) {
    if let Ok(entries) = std::fs::read_dir(out.join("epochs")) {
        for e in entries.flatten() {
            if let Some(n) = epoch_number(&e.file_name())
                && !keep.contains(&n)
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The training log as CSV.
fn write_log<R: LogRow>(out: &Path, log: &[R]) -> Result<()> {
    let mut s = String::with_capacity(64 * (log.len() + 1));
    s.push_str(R::HEADER);
    s.push('\n');
    for r in log {
        s.push_str(&r.csv());
        s.push('\n');
    }
    atomic_write_bytes(&out.join(LOG), s.as_bytes())?;
    Ok(())
}

/// `Some(v)` as its shortest round-trip decimal, `None` as an empty CSV field.
pub(crate) fn csv_option(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

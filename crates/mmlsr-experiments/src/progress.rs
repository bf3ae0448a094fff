//! Progress of long work on the terminal: a training run's bar (steps, loss, active terms,
//! ETA) and a line per epoch.

use std::ops::ControlFlow;

use indicatif::{ProgressBar, ProgressStyle};
use mmlsr_model::{EpochStats, StepStats, TrainObserver, TrainPlan};

/// Progress bar with loss, active terms and ETA.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }

    /// Remove the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl TrainObserver for Progress {
    fn on_start(&mut self, plan: &TrainPlan) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(plan.total_steps as u64).with_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}, ETA {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_position(plan.start_step as u64);
        bar.set_prefix(format!("epoch {}", plan.start_epoch + 1));
        self.bar = Some(bar);
    }

    fn on_step(&mut self, s: &StepStats) {
        if let Some(b) = &self.bar {
            b.set_prefix(format!("epoch {}", s.epoch));
            b.set_message(format!(
                "loss {:.4} (kd {:.4})  terms q {:.1} d {:.1}  flops {:.2}",
                s.loss, s.distill, s.active_text, s.active_image, s.flops
            ));
            b.inc(1);
        }
    }

    fn on_epoch(&mut self, e: &EpochStats) -> ControlFlow<()> {
        let line = format!(
            "epoch {:>3}: mean loss {:.4}  val R@1 {}  best epoch {}  ({:.1} s)",
            e.epoch,
            e.mean_loss,
            e.val_r1.map_or("-".into(), |v| format!("{v:.2}")),
            e.best_epoch,
            e.seconds
        );
        match &self.bar {
            Some(b) => b.println(line),
            None if !self.quiet => println!("{line}"),
            None => {}
        }
        ControlFlow::Continue(())
    }
}

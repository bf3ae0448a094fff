//! `mmlsr bench`: the latency table (D2S Table 6); the work is [`crate::latency`]'s.

pub use crate::latency::BenchPlan as BenchArgs;

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::latency::run(args)
}

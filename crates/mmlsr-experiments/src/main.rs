//! `mmlsr`: the command line of the mmlsr workspace.

mod cells;
mod commands;
mod evaluation;
mod experiments;
mod hub;
mod integrity;
mod latency;
mod per_query;
mod pipelines;
mod progress;
mod tables;
mod values;

use clap::{Parser, Subcommand};

/// Multimodal learned sparse retrieval: train sparse heads on dense vision-language vectors,
/// index them, search, evaluate, and reproduce the D2S and joint sparse–dense papers.
#[derive(Debug, Parser)]
#[command(name = "mmlsr", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Fetch(commands::fetch::FetchArgs),
    Synth(commands::synth::SynthArgs),
    SynthSparse(commands::synth_sparse::SynthSparseArgs),
    Inspect(commands::inspect::InspectArgs),
    Train(commands::train::TrainArgs),
    Encode(commands::encode::EncodeArgs),
    Index(commands::index::IndexArgs),
    Search(commands::search::SearchArgs),
    Export(commands::export::ExportArgs),
    Evaluate(commands::evaluate::EvaluateArgs),
    Report(commands::report::ReportArgs),
    Compare(commands::compare::CompareArgs),
    Explain(commands::explain::ExplainArgs),
    Reproduce(commands::reproduce::ReproduceArgs),
    Bench(commands::bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fetch(args) => commands::fetch::run(args),
        Command::Synth(args) => commands::synth::run(args),
        Command::SynthSparse(args) => commands::synth_sparse::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Encode(args) => commands::encode::run(args),
        Command::Index(args) => commands::index::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Reproduce(args) => commands::reproduce::run(args),
        Command::Bench(args) => commands::bench::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, leaving out a cause whose text its parent already ends
            // with (library errors print their source inside their own message).
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.ends_with(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `mmlsr … | head` closes stdout early; std's `println!` then panics with EPIPE. For a
/// command-line tool that is a normal end: exit 0 without a message. (Commands write their
/// `--out` files before printing, so nothing is lost.)
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

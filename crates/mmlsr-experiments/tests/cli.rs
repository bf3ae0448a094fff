//! The `mmlsr` binary end to end: flags, output, and error messages.

use std::process::Command;

fn mmlsr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmlsr"))
}

#[test]
fn synth_then_inspect_agree_on_dense_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let out = mmlsr()
        .args([
            "synth",
            "--datasets",
            "flickr",
            "--backbones",
            "strong",
            "--quiet",
            "--seed",
            "3",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("synth-flickr-strong"))
        .expect(&stdout);
    let r1: f64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    let folder = dir.path().join("synth-flickr-strong");
    for f in [
        "README.md",
        "dataset_meta.json",
        "img_embs.parquet",
        "text_embs.parquet",
        "img_embs_before_proj.parquet",
        "text_embs_before_proj.parquet",
        "projections.safetensors",
        "word_vectors.safetensors",
        "vocab.txt",
        "tokenizer.json",
    ] {
        assert!(folder.join(f).is_file(), "{f} missing");
    }
    let out = mmlsr().arg("inspect").arg(&folder).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("R@1 {r1:.2}")),
        "inspect R@1 differs from synth's {r1}: {stdout}"
    );
    assert!(
        stdout.contains("pre-projection features: 768-d"),
        "{stdout}"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_a_failing_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = mmlsr()
        .arg("inspect")
        .arg(dir.path().join("nowhere"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("nowhere") && stderr.contains("not found"),
        "{stderr}"
    );

    let out = mmlsr().arg("inspect").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no dataset_meta.json"),
        "{stderr}"
    );

    let out = mmlsr()
        .args(["synth", "--vocab", "/no/such/vocab.txt", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("/no/such/vocab.txt"),
        "{stderr}"
    );

    let out = mmlsr().args(["synth", "--scale", "huge"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: small, full"));
}

/// The tiny synth-flickr-strong folder, generated into `dir/data`.
fn tiny_flickr(dir: &std::path::Path) -> std::path::PathBuf {
    run_ok(
        mmlsr()
            .args([
                "synth",
                "--scale",
                "tiny",
                "--quiet",
                "--datasets",
                "flickr",
            ])
            .args(["--backbones", "strong", "--out"])
            .arg(dir.join("data")),
    );
    dir.join("data/synth-flickr-strong")
}

/// [`tiny_flickr`], an exp=c head trained on it for `epochs` (batch 256) into `dir/run`, and its
/// test split encoded into `dir/enc`. Returns the data folder.
fn tiny_encoded(dir: &std::path::Path, epochs: usize) -> std::path::PathBuf {
    let data = tiny_flickr(dir);
    run_ok(
        mmlsr()
            .arg("train")
            .arg(&data)
            .arg("--out")
            .arg(dir.join("run"))
            .args(["--variant", "exp=c", "--batch-size", "256", "--quiet"])
            .args(["--epochs", &epochs.to_string()]),
    );
    run_ok(
        mmlsr()
            .arg("encode")
            .arg(dir.join("run/model"))
            .arg(&data)
            .arg("--out")
            .arg(dir.join("enc")),
    );
    data
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn train_encode_and_explain_on_a_tiny_folder() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        mmlsr()
            .args([
                "synth",
                "--scale",
                "tiny",
                "--datasets",
                "flickr",
                "--backbones",
                "strong",
                "--quiet",
                "--out",
            ])
            .arg(dir.path()),
    );
    let data = dir.path().join("synth-flickr-strong");
    let out = dir.path().join("run");
    let config = dir.path().join("d2s.toml");
    std::fs::write(
        &config,
        "epochs = 2\nbatch_size = 100\n[loss]\nq_reg = 1e-4\n",
    )
    .unwrap();
    let stdout = run_ok(
        mmlsr()
            .arg("train")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(&config)
            .args(["--variant", "exp=c", "--quiet"]),
    );
    assert!(stdout.contains("sparse"), "{stdout}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("test_metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["variant"], "exp=c");
    assert_eq!(metrics["q_reg"], 1e-4);
    assert_eq!(metrics["d_reg"], 1e-3);
    let r1 = metrics["sparse"]["r1"].as_f64().unwrap();
    assert!(r1 > 5.0, "tiny sparse R@1 {r1} is at chance (0.5)");
    // The run file holds 10 images for each of the 1,000 test captions.
    let run = std::fs::read_to_string(out.join("test_run.trec")).unwrap();
    assert_eq!(run.lines().count(), 1000 * 10);

    let enc = dir.path().join("enc");
    run_ok(
        mmlsr()
            .arg("encode")
            .arg(out.join("model"))
            .arg(&data)
            .arg("--out")
            .arg(&enc)
            .args(["--top-k", "5"]),
    );
    let texts =
        mmlsr_store::SparseTable::read_parquet(&enc.join("text_sparse.parquet"), None).unwrap();
    assert_eq!(texts.matrix.n_rows(), 1000);
    assert!(texts.matrix.rows().all(|r| r.indices.len() <= 5));

    let caption = texts.ids.id(0).to_string();
    let stdout = run_ok(
        mmlsr()
            .arg("explain")
            .arg(out.join("model"))
            .arg(&data)
            .args(["--caption", &caption, "--k", "4"]),
    );
    assert!(stdout.contains(&format!("caption {caption}")), "{stdout}");

    // Starting again in the same directory without --resume is refused with a reason.
    let again = mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Unknown configuration keys are errors.
    std::fs::write(&config, "epochz = 2\n").unwrap();
    let bad = mmlsr()
        .arg("train")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run2"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("epochz") && err.contains("d2s.toml"), "{err}");
}

/// `mmlsr reproduce table2` on a tiny grid: the table's numbers are the cells' test metrics,
/// a second invocation recomputes nothing, a changed configuration is refused, and an unknown
/// key names the key and the file.
#[test]
fn reproduce_table2_is_resumable_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(
        mmlsr()
            .args([
                "synth",
                "--scale",
                "tiny",
                "--quiet",
                "--datasets",
                "flickr",
                "--out",
            ])
            .arg(&data),
    );
    let config = dir.path().join("t2.toml");
    let write_config = |epochs: usize, extra: &str| {
        std::fs::write(
            &config,
            format!(
                "runs = \"{}\"\nresults = \"{}\"\n{extra}\n[grid]\ndatasets = [\"synth-flickr-strong\", \"synth-flickr-weak\"]\n\
                 eta = [1e-3]\nvariants = [\"exp=0\", \"exp=c\"]\n[train]\nepochs = {epochs}\nbatch_size = 256\n",
                dir.path().join("runs").display(),
                dir.path().join("results").display()
            ),
        )
        .unwrap();
    };
    write_config(2, "");
    let reproduce = || {
        let mut c = mmlsr();
        c.args(["reproduce", "table2", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data);
        c
    };
    let first = reproduce().output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let results = dir.path().join("results");
    let md = std::fs::read_to_string(results.join("table2.md")).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("table2.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("manifest.json")).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(manifest["cells"].as_array().unwrap().len(), 4);
    for c in cells {
        // Each cell's metrics are the ones its training run wrote.
        let run = dir
            .path()
            .join("runs")
            .join(c["dataset"].as_str().unwrap())
            .join(format!("{}_eta1e-3", c["variant"].as_str().unwrap()));
        let own: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("test_metrics.json")).unwrap()).unwrap();
        assert_eq!(c["metrics"], own);
        // …and the Markdown row shows them.
        let r1 = format!("{:.2}", own["sparse"]["r1"].as_f64().unwrap());
        let flops = format!("{:.2}", own["sparse"]["flops"].as_f64().unwrap());
        let backbone = if c["dataset"].as_str().unwrap().ends_with("strong") {
            "strong"
        } else {
            "weak"
        };
        let row = md
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "| {backbone} | 1e-3 | {} |",
                    c["variant"].as_str().unwrap()
                ))
            })
            .expect(&md);
        assert!(
            row.contains(&r1) && row.contains(&flops),
            "{row} lacks {r1} / {flops}"
        );
    }
    for c in manifest["cells"].as_array().unwrap() {
        assert_eq!(c["config_hash"].as_str().unwrap().len(), 8);
        assert_eq!(c["data_checksum"].as_str().unwrap().len(), 8);
    }
    // Second invocation: every cell kept, the same table.
    let second = reproduce().output().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert_eq!(err.matches("done before, kept").count(), 4, "{err}");
    assert!(!err.contains("training"), "{err}");
    assert_eq!(
        std::fs::read_to_string(results.join("table2.md")).unwrap(),
        md
    );
    // Tables 1, 3 and 5 reuse the trained cells (nothing retrained) and agree with them.
    for t in ["table1", "table3", "table5"] {
        let out = mmlsr()
            .args(["reproduce", t, "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{t}: {err}");
        assert!(!err.contains("training"), "{t}: {err}");
    }
    let t1: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("table1.json")).unwrap()).unwrap();
    assert_eq!(t1["comparisons"], 16);
    for c in t1["cells"].as_array().unwrap() {
        let (p, pb) = (
            c["p"].as_f64().unwrap(),
            c["p_bonferroni"].as_f64().unwrap(),
        );
        assert!((0.0..=1.0).contains(&p) && (pb - (p * 16.0).min(1.0)).abs() < 1e-12);
        if c["measure"] == "R@1" {
            let cell = cells
                .iter()
                .find(|x| x["dataset"] == c["dataset"] && x["variant"] == c["variant"])
                .unwrap();
            let want = cell["metrics"]["sparse"]["r1"].as_f64().unwrap();
            assert!((c["mean"].as_f64().unwrap() - want).abs() < 1e-9);
        }
    }
    let t3 = std::fs::read_to_string(results.join("table3.md")).unwrap();
    for c in cells {
        let exact = format!("{:.2}", c["metrics"]["sparse"]["exact20"].as_f64().unwrap());
        let sem = c["metrics"]["semantic20"]
            .as_f64()
            .expect("tiny folders have word vectors");
        assert!((0.0..=100.0).contains(&sem));
        assert!(t3.contains(&exact), "{t3} lacks {exact}");
    }
    let t5: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("table5.json")).unwrap()).unwrap();
    assert_eq!(t5["cells"].as_array().unwrap().len(), 12);
    for c in t5["cells"].as_array().unwrap() {
        if let Some(r) = c["pearson"].as_f64() {
            assert!((-1.0..=1.0).contains(&r));
        }
    }
    // Figure 2: two SVGs per data folder, from the same cells.
    let out = mmlsr()
        .args(["reproduce", "fig2", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for folder in ["synth-flickr-strong", "synth-flickr-weak"] {
        for f in ["fig2a", "fig2b"] {
            let svg = std::fs::read_to_string(results.join(format!("{f}-{folder}.svg"))).unwrap();
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            assert!(svg.contains("exp=c"), "{f}-{folder}: no legend entry");
        }
    }
    let fig: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("fig2.json")).unwrap()).unwrap();
    for c in fig["cells"].as_array().unwrap() {
        let h: Vec<f64> = c["overlap_histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(h.len(), 11);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let mean: f64 = h.iter().enumerate().map(|(i, x)| i as f64 * x).sum();
        assert!((mean - c["overlap_mean"].as_f64().unwrap()).abs() < 1e-9);
    }
    // Per-query values: one Parquet file beside the tables, whose means are the cells' own
    // test metrics, and which `mmlsr report` groups with polars.
    let pq = results.join("per_query.parquet");
    let frame = {
        use polars::prelude::SerReader;
        polars::prelude::ParquetReader::new(std::fs::File::open(&pq).unwrap())
            .finish()
            .unwrap()
    };
    let names: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "run", "dataset", "variant", "eta", "query_id", "measure", "value"
        ]
    );
    let report = |args: &[&str]| {
        let mut c = mmlsr();
        c.arg("report").arg(&results).args(args);
        run_ok(&mut c)
    };
    let csv = report(&[
        "--group-by",
        "run,dataset,variant,eta",
        "--measure",
        "r1,R@5,mrr10,overlap10",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "run,dataset,variant,eta,queries,R@1,R@5,MRR@10,Overlap@10"
    );
    // Two dense rows, four cells.
    assert_eq!(lines.len(), 7, "{csv}");
    for c in cells {
        let own = &c["metrics"]["sparse"];
        let line = lines
            .iter()
            .find(|l| {
                l.starts_with(&format!(
                    "d2s,{},{},1e-3,",
                    c["dataset"].as_str().unwrap(),
                    c["variant"].as_str().unwrap()
                ))
            })
            .expect(&csv);
        let f: Vec<&str> = line.split(',').collect();
        for (k, key) in [(5, "r1"), (6, "r5"), (7, "mrr10")] {
            let got = f[k].parse::<f64>().unwrap() * 100.0;
            assert!(
                (got - own[key].as_f64().unwrap()).abs() < 1e-9,
                "{line}: {key}"
            );
        }
        let overlap = f[8].parse::<f64>().unwrap();
        assert!((0.0..=1.0).contains(&overlap), "{line}");
        // The queries: every test caption (5 per test image).
        assert_eq!(f[4].parse::<usize>().unwrap() % 5, 0, "{line}");
    }
    // The report's default layout and the example.
    let md = report(&["--group-by", "dataset,variant", "--measure", "r1"]);
    assert!(
        md.starts_with("| dataset | variant | queries | R@1 |"),
        "{md}"
    );
    assert!(md.contains("| synth-flickr-weak | dense |"), "{md}");
    // Bad requests name what is wrong.
    for (args, want) in [
        (
            &["--measure", "r3"][..],
            "no measure \"R@3\" here; it holds R@1, R@5, R@10, MRR@10",
        ),
        (
            &["--group-by", "colour"][..],
            "--group-by colour: no such column",
        ),
        (
            &["--where", "eta"][..],
            "--where eta: expected COLUMN=VALUE",
        ),
        (&["--where", "eta=high"][..], "η must be a number"),
    ] {
        let out = mmlsr()
            .arg("report")
            .arg(&results)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
    }
    let out = mmlsr().arg("report").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no per_query.parquet here"),
        "{err}"
    );
    // Filtering keeps one data folder.
    let one = report(&[
        "--where",
        "dataset=synth-flickr-weak",
        "--where",
        "eta=1e-3",
        "--format",
        "csv",
    ]);
    assert_eq!(one.lines().count(), 3, "{one}");

    // A changed configuration is refused, not silently mixed in.
    write_config(3, "");
    let third = reproduce().output().unwrap();
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(!third.status.success());
    assert!(err.contains("another configuration"), "{err}");
    // An unknown key names itself and the file.
    write_config(2, "colour = \"blue\"");
    let fourth = reproduce().output().unwrap();
    let err = String::from_utf8_lossy(&fourth.stderr);
    assert!(!fourth.status.success());
    assert!(err.contains("colour") && err.contains("t2.toml"), "{err}");
    // A data folder without dataset_meta.json is named.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("synth-flickr-strong")).unwrap();
    write_config(2, "");
    let fifth = mmlsr()
        .args(["reproduce", "table2", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&broken)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&fifth.stderr);
    assert!(!fifth.status.success());
    assert!(err.contains("dataset_meta.json"), "{err}");
}

/// Every retrieval command in sequence on a tiny folder: train → encode → index (with JSONL
/// and CIFF exports) → search (three modes) → evaluate → compare. `evaluate` on the trainer's
/// own run equals its exhaustive test metrics exactly; on the index's run it agrees up to the
/// index's 8-bit impacts.
#[test]
fn train_encode_index_search_evaluate_compare() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    let data = tiny_encoded(dir.path(), 2);
    let out = run_ok(
        mmlsr()
            .arg("index")
            .arg(p("enc"))
            .arg("--out")
            .arg(p("idx"))
            .args(["--jsonl", "--ciff", "--data"])
            .arg(&data),
    );
    assert!(out.contains("indexed"), "{out}");
    for f in ["index.mmlsr", "doc_ids.txt", "docs.jsonl", "index.ciff"] {
        assert!(p("idx").join(f).is_file(), "{f} missing");
    }
    for mode in ["exp", "no-exp", "hybrid"] {
        run_ok(
            mmlsr()
                .arg("search")
                .arg(p("idx"))
                .arg(p("enc"))
                .arg("--out")
                .arg(p(&format!("{mode}.trec")))
                .args([
                    "--k",
                    "100",
                    "--mode",
                    mode,
                    "--algorithm",
                    "block-max",
                    "--data",
                ])
                .arg(&data),
        );
    }
    // On trained vectors the three exact algorithms write the same run, byte for byte.
    let exp_run = std::fs::read(p("exp.trec")).unwrap();
    for alg in ["exhaustive", "maxscore"] {
        run_ok(
            mmlsr()
                .arg("search")
                .arg(p("idx"))
                .arg(p("enc"))
                .arg("--out")
                .arg(p(&format!("{alg}.trec")))
                .args(["--k", "100", "--algorithm", alg]),
        );
        assert!(
            std::fs::read(p(&format!("{alg}.trec"))).unwrap() == exp_run,
            "{alg} differs from block-max"
        );
    }
    // Reordered documents (`--doc-order`) change the layout, not the run; a bad order is
    // refused by name.
    let out = run_ok(
        mmlsr()
            .arg("index")
            .arg(p("enc"))
            .arg("--out")
            .arg(p("idx-reordered"))
            .args(["--doc-order", "heaviest-terms:2", "--block-size", "4"]),
    );
    assert!(out.contains("heaviest-terms:2 order"), "{out}");
    for alg in ["block-max", "maxscore", "exhaustive"] {
        let run = p(&format!("reordered-{alg}.trec"));
        run_ok(
            mmlsr()
                .arg("search")
                .arg(p("idx-reordered"))
                .arg(p("enc"))
                .arg("--out")
                .arg(&run)
                .args(["--k", "100", "--algorithm", alg]),
        );
        assert!(
            std::fs::read(&run).unwrap() == exp_run,
            "{alg} over reordered documents differs from the given order's run"
        );
    }
    let err = mmlsr()
        .arg("index")
        .arg(p("enc"))
        .arg("--out")
        .arg(p("idx-bad"))
        .args(["--doc-order", "heaviest"])
        .output()
        .unwrap();
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("heaviest-terms:N"), "{stderr}");
    let metrics = |run: &str| -> serde_json::Value {
        run_ok(
            mmlsr()
                .arg("evaluate")
                .arg(p(run))
                .arg("--data")
                .arg(&data)
                .arg("--out")
                .arg(p(&format!("{run}.eval"))),
        );
        serde_json::from_slice(&std::fs::read(p(&format!("{run}.eval.json"))).unwrap()).unwrap()
    };
    let own: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("run/test_metrics.json")).unwrap()).unwrap();
    // A run's R@1/5/10 and MRR@10 against the trainer's own test metrics.
    let agrees = |run: &serde_json::Value, tol: f64, what: &str| {
        assert_eq!(run["queries"], own["sparse"]["queries"], "{what}");
        for (m, k) in [
            ("R@1", "r1"),
            ("R@5", "r5"),
            ("R@10", "r10"),
            ("MRR@10", "mrr10"),
        ] {
            let want = own["sparse"][k].as_f64().unwrap();
            let got = run["measures"][m].as_f64().unwrap();
            assert!(
                (got - want).abs() < tol,
                "{m}: {what} {got} vs trainer {want}"
            );
        }
    };
    agrees(&metrics("run/test_run.trec"), 1e-9, "trainer run");
    agrees(&metrics("exp.trec"), 1.5, "index run");
    // `--out P` also wrote the per-query values; `--per-query F` gathers runs in one file,
    // which `report --group-by run` sets side by side with evaluate's own numbers.
    let gathered = p("runs.parquet");
    for run in ["run/test_run.trec", "exp.trec"] {
        assert!(p(&format!("{run}.eval.per_query.parquet")).is_file());
        run_ok(
            mmlsr()
                .arg("evaluate")
                .arg(p(run))
                .arg("--data")
                .arg(&data)
                .arg("--per-query")
                .arg(&gathered),
        );
    }
    let side_by_side =
        run_ok(
            mmlsr()
                .arg("report")
                .arg(&gathered)
                .args(["--group-by", "run", "--format", "csv"]),
        );
    let lines: Vec<&str> = side_by_side.lines().collect();
    assert_eq!(lines.len(), 3, "{side_by_side}");
    assert_eq!(lines[0], "run,queries,R@1,R@5,R@10,MRR@10,nDCG@10");
    for (line, run) in lines[1..].iter().zip(["run/test_run.trec", "exp.trec"]) {
        let own = metrics(run);
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], p(run).display().to_string());
        assert_eq!(f[1], own["queries"].to_string());
        for (k, m) in ["R@1", "R@5", "R@10", "MRR@10", "nDCG@10"]
            .iter()
            .enumerate()
        {
            let got = f[k + 2].parse::<f64>().unwrap() * 100.0;
            assert!(
                (got - own["measures"][m].as_f64().unwrap()).abs() < 1e-9,
                "{line}: {m}"
            );
        }
    }
    // A u16 index: its run follows the unquantised scores far more closely than u8 allows.
    let out = run_ok(
        mmlsr()
            .arg("index")
            .arg(p("enc"))
            .arg("--out")
            .arg(p("idx16"))
            .args(["--impacts", "u16"]),
    );
    assert!(out.contains("u16 impacts"), "{out}");
    run_ok(
        mmlsr()
            .arg("search")
            .arg(p("idx16"))
            .arg(p("enc"))
            .arg("--out")
            .arg(p("exp16.trec"))
            .args(["--k", "100"]),
    );
    let wide = metrics("exp16.trec");
    for (m, k) in [("R@1", "r1"), ("MRR@10", "mrr10")] {
        let want = own["sparse"][k].as_f64().unwrap();
        let got = wide["measures"][m].as_f64().unwrap();
        assert!(
            (got - want).abs() < 0.3,
            "{m}: u16 index run {got} vs exhaustive {want}"
        );
    }
    // The unquantised mode ranks by the trainer's own dot products (in f64, the trainer in
    // f32: only near-ties may differ).
    let out = run_ok(
        mmlsr()
            .arg("search")
            .arg(p("idx"))
            .arg(p("enc"))
            .arg("--out")
            .arg(p("exact.trec"))
            .args(["--k", "100", "--exact"]),
    );
    assert!(out.contains("captions searched"), "{out}");
    agrees(&metrics("exact.trec"), 0.05, "unquantised run");
    for (flags, says) in [
        (
            ["--exact", "--algorithm", "maxscore"],
            "cannot be used with",
        ),
        (
            ["--exact", "--mode", "hybrid"],
            "--exact ranks with exp or no-exp",
        ),
    ] {
        let out = mmlsr()
            .arg("search")
            .arg(p("idx"))
            .arg(p("enc"))
            .arg("--out")
            .arg(p("bad.trec"))
            .args(flags)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
    let no_exp = metrics("no-exp.trec");
    assert!(no_exp["measures"]["R@1"].as_f64().unwrap() > 0.0);
    let out = run_ok(
        mmlsr()
            .arg("compare")
            .arg(p("exp.trec"))
            .arg(p("no-exp.trec"))
            .arg(p("hybrid.trec"))
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(p("cmp")),
    );
    assert!(
        out.contains("(baseline)") && out.contains("6 comparisons"),
        "{out}"
    );
    let cmp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("cmp.json")).unwrap()).unwrap();
    let rows = cmp["runs"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let r1 = &rows[1]["measures"]["R@1"];
    assert!(
        (r1["mean"].as_f64().unwrap() - no_exp["measures"]["R@1"].as_f64().unwrap()).abs() < 1e-9
    );
    let (pv, pb) = (
        r1["p"].as_f64().unwrap(),
        r1["p_bonferroni"].as_f64().unwrap(),
    );
    assert!((pb - (pv * 6.0).min(1.0)).abs() < 1e-12);
    // Bad input: a missing index folder, a run with no judged query.
    let out = mmlsr()
        .arg("search")
        .arg(p("nowhere"))
        .arg(p("enc"))
        .arg("--out")
        .arg(p("x.trec"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    std::fs::write(p("alien.trec"), "q-unknown Q0 d1 1 1.0 x\n").unwrap();
    let out = mmlsr()
        .arg("evaluate")
        .arg(p("alien.trec"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("none of its 1 queries is judged"));
}

/// `mmlsr reproduce joint` on a tiny folder: the table shows each cell's own test metrics, the
/// frozen-backbone row (pre-projection features through the folder's projections) agrees with
/// the dense numbers from the projected embeddings, a second invocation trains nothing, and
/// bad settings are named.
#[test]
fn reproduce_joint_is_resumable_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(
        mmlsr()
            .args([
                "synth",
                "--scale",
                "tiny",
                "--quiet",
                "--datasets",
                "flickr",
                "--backbones",
                "strong",
                "--out",
            ])
            .arg(&data),
    );
    let config = dir.path().join("joint.toml");
    let write_config = |joint_extra: &str| {
        std::fs::write(
            &config,
            format!(
                "runs = \"{}\"\nresults = \"{}\"\ndatasets = [\"synth-flickr-strong\"]\n\
                 [joint]\nepochs = 2\nbatch_size = 128\n{joint_extra}\n\
                 [joint.optim]\nlr = 1e-3\n\
                 [d2s]\nepochs = 2\nbatch_size = 256\nexpansion = {{ variant = \"exp=1\" }}\n\
                 [[rows]]\nname = \"joint\"\n\
                 [[rows]]\nname = \"joint-frozen\"\nset = {{ freeze_projections = true }}\nmodes = [\"sparse\"]\n",
                dir.path().join("runs").display(),
                dir.path().join("results").display()
            ),
        )
        .unwrap();
    };
    write_config("");
    let reproduce = || {
        let mut c = mmlsr();
        c.args(["reproduce", "joint", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data);
        c
    };
    let first = reproduce().output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let results = dir.path().join("results");
    let runs = dir.path().join("runs").join("synth-flickr-strong");
    let md = std::fs::read_to_string(results.join("joint.md")).unwrap();
    let metrics = |cell: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(runs.join(cell).join("test_metrics.json")).unwrap())
            .unwrap()
    };
    let row = |model: &str, mode: &str| -> String {
        md.lines()
            .find(|l| l.starts_with(&format!("| synth-flickr-strong | {model} | {mode} |")))
            .unwrap_or_else(|| panic!("no {model} {mode} row in\n{md}"))
            .to_string()
    };
    let joint = metrics("joint");
    for mode in ["dense", "sparse", "fused"] {
        let r = row("joint", mode);
        let r1 = format!("{:.2}", joint[mode]["r1"].as_f64().unwrap());
        assert!(r.contains(&r1), "{r} lacks {r1}");
    }
    assert!(row("joint", "sparse").contains(&format!(
        "{:.2}",
        joint["sparse"]["flops"].as_f64().unwrap()
    )));
    row("joint-frozen", "sparse");
    assert!(!md.contains("| joint-frozen | dense |"), "{md}");
    // The frozen backbone through the pre-projection path ≈ the dense numbers the D2S cell
    // computed from img_embs/text_embs (equal up to f32 rounding of near-ties).
    let frozen = metrics("frozen");
    let d2s = metrics("d2s");
    let (a, b) = (
        frozen["r1"].as_f64().unwrap(),
        d2s["dense"]["r1"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 0.5, "frozen {a} vs dense {b}");
    row("frozen backbone", "dense");
    let d2s_r1 = format!("{:.2}", d2s["sparse"]["r1"].as_f64().unwrap());
    assert!(row("D2S exp=1 η=1e-3", "sparse").contains(&d2s_r1));
    // p-values of the tested rows (4 of them × 4 measures) lie in [0, 1].
    let csv = std::fs::read_to_string(results.join("joint.csv")).unwrap();
    let ps: Vec<f64> = csv
        .lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .skip(8)
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<f64>>()
        })
        .collect();
    assert_eq!(ps.len(), 4 * 4, "{csv}");
    assert!(ps.iter().all(|p| (0.0..=1.0).contains(p)), "{csv}");

    // The joint model serves from the index: encode (pre-projection features through its
    // projections) → index (u16) → search → evaluate gives its own sparse test numbers.
    let folder = data.join("synth-flickr-strong");
    let w = dir.path().join("serve");
    run_ok(
        mmlsr()
            .arg("encode")
            .arg(runs.join("joint").join("model"))
            .arg(&folder)
            .arg("--out")
            .arg(w.join("enc")),
    );
    run_ok(
        mmlsr()
            .arg("index")
            .arg(w.join("enc"))
            .arg("--out")
            .arg(w.join("idx"))
            .args(["--impacts", "u16"]),
    );
    run_ok(
        mmlsr()
            .arg("search")
            .arg(w.join("idx"))
            .arg(w.join("enc"))
            .arg("--out")
            .arg(w.join("run.trec"))
            .args(["--k", "10"]),
    );
    run_ok(
        mmlsr()
            .arg("evaluate")
            .arg(w.join("run.trec"))
            .arg("--data")
            .arg(&folder)
            .arg("--out")
            .arg(w.join("eval")),
    );
    let served: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.join("eval.json")).unwrap()).unwrap();
    for (m, k) in [("R@1", "r1"), ("MRR@10", "mrr10")] {
        let got = served["measures"][m].as_f64().unwrap();
        let want = joint["sparse"][k].as_f64().unwrap();
        assert!(
            (got - want).abs() < 0.3,
            "{m}: served {got} vs trained {want}"
        );
    }

    // Second invocation: nothing trains, the same table.
    let second = reproduce().output().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert_eq!(err.matches("done before, kept").count(), 3, "{err}");
    assert!(!err.contains("training"), "{err}");
    assert_eq!(
        std::fs::read_to_string(results.join("joint.md")).unwrap(),
        md
    );

    // A changed configuration is refused; an unknown key is named with the file.
    write_config("tau = 0.1");
    let out = reproduce().output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("another configuration"),
        "{err}"
    );
    write_config("taux = 0.1");
    let out = reproduce().output().unwrap();
    let err = format!("{:#}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("taux") && err.contains("joint.toml"), "{err}");

    // D2S-only flags are refused for the joint method.
    let out = mmlsr()
        .args(["train", "--method", "joint", "--eta", "1e-3", "--out"])
        .arg(dir.path().join("x"))
        .arg(data.join("synth-flickr-strong"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--eta applies to D2S only"),
        "{err}"
    );
}

/// `reproduce table6` trains its heads, encodes the collection with each, and times them; a
/// rerun keeps both, a corrupted encoding is redone, and a collection with another
/// vocabulary is refused.
#[test]
fn reproduce_table6_trains_encodes_and_times_resumably() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for out in [data.clone(), data.join("big")] {
        run_ok(
            mmlsr()
                .args([
                    "synth",
                    "--scale",
                    "tiny",
                    "--quiet",
                    "--datasets",
                    "flickr",
                ])
                .args(["--backbones", "strong", "--out"])
                .arg(&out),
        );
    }
    let config = dir.path().join("t6.toml");
    let write_config = |collection: &str| {
        std::fs::write(
            &config,
            format!(
                "data = \"{}\"\nruns = \"{}\"\nresults = \"{}\"\ntrain_on = \"synth-flickr-strong\"\n\
                 collection = \"{collection}\"\ncollection_scale = \"tiny\"\n\
                 [bench]\ndocs = 500\nqueries = 10\nflops = [3.0]\nks = [10]\n\
                 [train]\nepochs = 1\nbatch_size = 256\n\
                 [[heads]]\nname = \"sparsest\"\neta = 1e-3\nset = {{ expansion = {{ variant = \"exp=0\" }} }}\n",
                data.display(),
                dir.path().join("runs").display(),
                dir.path().join("results").display()
            ),
        )
        .unwrap();
    };
    write_config("big/synth-flickr-strong");
    let reproduce = || {
        let out = mmlsr()
            .args(["reproduce", "table6", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.success(), stderr)
    };
    let (ok, stderr) = reproduce();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("[1/1] head sparsest: training"), "{stderr}");
    assert!(
        stderr.contains("encoding every image and caption"),
        "{stderr}"
    );
    let results = dir.path().join("results");
    let md = std::fs::read_to_string(results.join("table6.md")).unwrap();
    let cell: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("runs/synth-flickr-strong/sparsest/cell.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The head's collection, the dense baselines and the generated collection are all timed.
    for row in [
        "| sparsest (synth-flickr-strong) | sparse exp · exhaustive | ",
        "| dense vectors (synth-flickr-strong) | dense flat",
        "| Zipf, FLOPs target 3 | sparse exp · exhaustive | ",
    ] {
        assert!(md.contains(row), "no row {row:?} in\n{md}");
    }
    // The note under the table is the head's own record.
    let r1 = format!(
        "R@1 {:.2}",
        cell["metrics"]["sparse"]["r1"].as_f64().unwrap()
    );
    assert!(
        md.contains("`sparsest`: a D2S head trained on synth-flickr-strong (exp=0, η = 1e-3")
            && md.contains(&r1),
        "{md}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["cells"][0]["config_hash"], cell["config_hash"]);
    // Every image of the collection was encoded.
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("big/synth-flickr-strong/dataset_meta.json")).unwrap(),
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("table6.json")).unwrap()).unwrap();
    assert!(json["rows"].as_array().unwrap().len() > 10);
    let encoded = dir.path().join("runs/encoded/sparsest");
    let summary = run_ok(
        mmlsr()
            .args(["index"])
            .arg(&encoded)
            .arg("--out")
            .arg(dir.path().join("idx")),
    );
    let images = meta["images"].as_array().unwrap().len();
    assert!(
        summary.contains(&format!("indexed {images} images")),
        "{images} images; {summary}"
    );

    // A rerun keeps the head and its encoding.
    let (ok, stderr) = reproduce();
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("head sparsest: trained before, kept"),
        "{stderr}"
    );
    assert!(stderr.contains("encoded before, kept"), "{stderr}");

    // A corrupted encoding does not verify, so it is made again.
    let img = encoded.join("img_sparse.parquet");
    let mut bytes = std::fs::read(&img).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&img, bytes).unwrap();
    let (ok, stderr) = reproduce();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("trained before, kept"), "{stderr}");
    assert!(
        stderr.contains("encoding every image and caption"),
        "{stderr}"
    );

    // A collection numbering terms differently is refused before anything is encoded.
    let other = data.join("other/synth-flickr-strong");
    std::fs::create_dir_all(&other).unwrap();
    for f in std::fs::read_dir(data.join("big/synth-flickr-strong")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), other.join(f.file_name())).unwrap();
    }
    let vocab = other.join("vocab.txt");
    let mut v = std::fs::read_to_string(&vocab).unwrap();
    v.push_str("zzzextra\n");
    std::fs::write(&vocab, v).unwrap();
    std::fs::remove_file(other.join("tokenizer.json")).ok();
    write_config("other/synth-flickr-strong");
    let (ok, stderr) = reproduce();
    assert!(!ok);
    assert!(stderr.contains("have different vocabularies"), "{stderr}");
}

/// `mmlsr export` for OpenSearch, Qdrant, Seismic and CIFF readers, and the Qdrant export
/// served by Qdrant itself (its local mode, `scripts/check_qdrant_export.py`; needs `pip
/// install qdrant-client`, skipped with a message outside CI) giving the top 10 of mmlsr's
/// exact search.
#[test]
fn export_serves_the_same_top_10_from_qdrant() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    let data = tiny_encoded(dir.path(), 1);
    for (format, files) in [
        (
            "opensearch",
            &[
                "index.json",
                "bulk.ndjson",
                "msearch.ndjson",
                "query_ids.txt",
            ][..],
        ),
        (
            "qdrant",
            &["collection.json", "points.jsonl", "queries.jsonl"][..],
        ),
        ("jsonl", &["docs.jsonl"][..]),
        ("ciff", &["index.ciff"][..]),
    ] {
        let out = run_ok(
            mmlsr()
                .arg("export")
                .arg(p("enc"))
                .arg("--out")
                .arg(p(format))
                .args(["--format", format, "--data"])
                .arg(&data),
        );
        assert!(
            out.contains("exported 200 images and 1000 captions"),
            "{out}"
        );
        for f in files {
            assert!(p(format).join(f).is_file(), "{format}: {f} missing");
        }
    }
    // The OpenSearch bulk body: one create action and one document per image.
    let bulk = std::fs::read_to_string(p("opensearch/bulk.ndjson")).unwrap();
    assert_eq!(bulk.lines().count(), 400);
    // jsonl and ciff name terms by token, so they need the vocabulary.
    let out = mmlsr()
        .arg("export")
        .arg(p("enc"))
        .arg("--out")
        .arg(p("x"))
        .args(["--format", "ciff"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --data"));

    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let has_qdrant = Command::new(&python)
        .args(["-c", "import qdrant_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_qdrant {
        assert!(
            std::env::var_os("CI").is_none(),
            "QDRANT CHECK NOT RUN: qdrant-client is missing in CI (.ci/run must install it)"
        );
        eprintln!(
            "\n*** WARNING: Qdrant export check SKIPPED: `qdrant_client` not found (pip install qdrant-client) ***\n"
        );
        return;
    }
    run_ok(
        mmlsr()
            .arg("index")
            .arg(p("enc"))
            .arg("--out")
            .arg(p("idx")),
    );
    run_ok(
        mmlsr()
            .arg("search")
            .arg(p("idx"))
            .arg(p("enc"))
            .arg("--out")
            .arg(p("exact.trec"))
            .args(["--k", "10", "--exact"]),
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/check_qdrant_export.py");
    let out = run_ok(
        Command::new(&python)
            .arg(script)
            .arg(p("qdrant"))
            .arg(p("exact.trec"))
            .args(["--max-queries", "300"]),
    );
    let agreement: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(agreement["queries"], 300, "{out}");
    // The same top 10 in the same order; scores differ only by the weights' decimal form in
    // JSON (shortest round-trip for f32, read by Python as f64): ~1e-7 relative.
    assert_eq!(agreement["same_top_k_set"], 1.0, "{out}");
    assert_eq!(agreement["same_ranking"], 1.0, "{out}");
    assert!(
        agreement["max_score_difference"].as_f64().unwrap() < 1e-4,
        "{out}"
    );
}

/// `d_hidden` follows the folder's word vectors (here 48-wide instead of BERT's 768) unless the
/// configuration sets it, in which case a mismatch is refused as before.
#[test]
fn d_hidden_defaults_to_the_word_vectors_width() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    let data = tiny_flickr(dir.path());
    let wv_path = data.join(mmlsr_store::files::WORD_VECTORS);
    let wv = mmlsr_store::WordVectors::read(&wv_path).unwrap();
    let narrow = mmlsr_store::WordVectors {
        vocab_size: wv.vocab_size,
        dim: 48,
        data: wv
            .data
            .chunks_exact(wv.dim)
            .flat_map(|r| r[..48].to_vec())
            .collect(),
    };
    narrow.write(&wv_path).unwrap();
    mmlsr_core::write_manifest(&data).unwrap();
    let train = |out: &str, config: Option<&std::path::Path>| {
        let mut c = mmlsr();
        c.arg("train").arg(&data).arg("--out").arg(p(out));
        c.args(["--epochs", "1", "--batch-size", "256", "--quiet"]);
        if let Some(config) = config {
            c.arg("--config").arg(config);
        }
        c.output().unwrap()
    };
    let out = train("run", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("d_hidden = 48"));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("run/config.json")).unwrap()).unwrap();
    assert_eq!(config["d_hidden"], 48, "{config}");
    std::fs::write(p("wide.toml"), "d_hidden = 768\n").unwrap();
    let out = train("wide", Some(&p("wide.toml")));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected 768, found 48"), "{err}");

    // `reproduce` follows the folder's word vectors too, unless [train] sets d_hidden.
    let reproduce = |name: &str, train: &str| {
        std::fs::write(
            p(&format!("{name}.toml")),
            format!(
                "data = {:?}\nruns = {:?}\nresults = {:?}\n[grid]\ndatasets = \
                 [\"synth-flickr-strong\"]\neta = [1e-3]\nvariants = [\"exp=c\"]\n[train]\n\
                 epochs = 1\nbatch_size = 256\n{train}",
                p("data").display().to_string(),
                p(&format!("runs-{name}")).display().to_string(),
                p(&format!("results-{name}")).display().to_string(),
            ),
        )
        .unwrap();
        mmlsr()
            .args(["reproduce", "table2", "--config"])
            .arg(p(&format!("{name}.toml")))
            .output()
            .unwrap()
    };
    let out = reproduce("default", "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("synth-flickr-strong: d_hidden = 48"), "{err}");
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p(
            "runs-default/synth-flickr-strong/exp=c_eta1e-3/config.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["d_hidden"], 48, "{config}");
    let out = reproduce("set", "d_hidden = 768\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected 768, found 48"), "{err}");
}

/// `mmlsr synth-sparse` writes a collection in `mmlsr encode`'s layout at the FLOPs asked
/// for (measured independently here from document frequencies), the same files for the same
/// seed, which `mmlsr index` and `mmlsr search` take as they are.
#[test]
fn synth_sparse_writes_an_encoded_folder_at_the_flops_asked() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let card = run_ok(
            mmlsr()
                .args(["synth-sparse", "--docs", "3000", "--queries", "200"])
                .args(["--flops", "3", "--seed", seed, "--out"])
                .arg(&out),
        );
        (out, card)
    };
    let (a, card) = generate("a", "5");
    assert!(
        card.contains("| documents (`img_sparse.parquet`) | 3000 |"),
        "{card}"
    );
    assert!(card.contains("| terms per vector | 24 |"), "{card}");
    for f in [
        "img_sparse.parquet",
        "text_sparse.parquet",
        "README.md",
        "MANIFEST.sha256",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let (b, _) = generate("b", "5");
    let (c, _) = generate("c", "6");
    let bytes = |d: &std::path::Path| std::fs::read(d.join("img_sparse.parquet")).unwrap();
    assert_eq!(bytes(&a), bytes(&b));
    assert_ne!(bytes(&a), bytes(&c));
    // FLOPs of the files, from their document frequencies.
    let read = |f: &str| mmlsr_store::SparseTable::read_parquet(&a.join(f), Some(30_522)).unwrap();
    let (docs, queries) = (read("img_sparse.parquet"), read("text_sparse.parquet"));
    let df = |m: &mmlsr_core::CsrMatrix| {
        let mut d = vec![0f64; 30_522];
        m.raw().1.iter().for_each(|&t| d[t as usize] += 1.0);
        d
    };
    let (dq, dd) = (df(&queries.matrix), df(&docs.matrix));
    let flops = dq.iter().zip(&dd).map(|(x, y)| x * y).sum::<f64>() / (200.0 * 3000.0);
    assert!((flops / 3.0 - 1.0).abs() < 0.2, "FLOPs {flops}");
    assert!(
        card.contains(&format!("| FLOPs measured (D2S eq. 1) | {flops:.3} |")),
        "{card}"
    );
    assert_eq!(docs.ids.id(2999), "d2999");
    // Indexed and searched like any encoded folder.
    run_ok(
        mmlsr()
            .arg("index")
            .arg(&a)
            .arg("--out")
            .arg(dir.path().join("idx")),
    );
    run_ok(
        mmlsr()
            .arg("search")
            .arg(dir.path().join("idx"))
            .arg(&a)
            .arg("--out")
            .arg(dir.path().join("run.trec")),
    );
    let run = std::fs::read_to_string(dir.path().join("run.trec")).unwrap();
    assert!(
        run.lines().next().unwrap().starts_with("q0 Q0 d"),
        "{run:.200}"
    );
    // Bad settings are refused with the flag named.
    let out = mmlsr()
        .args(["synth-sparse", "--flops", "0", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--flops 0: expected a positive number"),
        "{err}"
    );
}

//! `mmlsr fetch` against a local server on 127.0.0.1 that serves a small fake repository in the
//! Hugging Face hub's URL layout (no network): the listing API
//! (`/api/{datasets,models}/<repo>/tree/main`), `resolve` URLs, LFS files redirected to another
//! host name (as the hub redirects to its CDN), range requests. The repositories hold a tiny
//! synthetic folder under lsr42's and bert-base-uncased's file names.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
};

use sha1::Digest as _;

fn mmlsr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmlsr"))
}

/// One request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    /// The query string, if any.
    query: String,
    host: String,
    range: Option<String>,
    auth: Option<String>,
}

#[derive(Default)]
struct State {
    /// URL path → listing entries (served two per page, as the hub pages long listings).
    listings: HashMap<String, Vec<serde_json::Value>>,
    /// URL path → Location (LFS files).
    redirects: HashMap<String, String>,
    /// URL path → content.
    blobs: HashMap<String, Vec<u8>>,
    /// Send only this many bytes of this path once, then close the connection.
    cut_once: Option<(String, usize)>,
    seen: Vec<Seen>,
}

struct FakeHub {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl FakeHub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &s));
            }
        });
        Self { port, state }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Publish `files` (name, content, stored with LFS) as repository `repo`.
    fn publish(&self, kind: &str, repo: &str, files: &[(&str, Vec<u8>, bool)]) {
        let mut st = self.state.lock().unwrap();
        let mut entries = Vec::new();
        for (name, bytes, lfs) in files {
            let resolve = if kind == "datasets" {
                format!("/datasets/{repo}/resolve/main/{name}")
            } else {
                format!("/{repo}/resolve/main/{name}")
            };
            let blob_oid = hex(&sha1::Sha1::digest(
                [format!("blob {}\0", bytes.len()).as_bytes(), bytes].concat(),
            ));
            if *lfs {
                let sha = hex(&sha2::Sha256::digest(bytes));
                // As the hub: a redirect to another host (its CDN); "localhost" is another
                // host name than the endpoint's 127.0.0.1.
                let cdn = format!("/cdn/{sha}");
                st.redirects
                    .insert(resolve, format!("http://localhost:{}{cdn}", self.port));
                st.blobs.insert(cdn, bytes.clone());
                entries.push(serde_json::json!({
                    "type": "file", "oid": blob_oid, "size": 134, "path": name,
                    "lfs": {"oid": sha, "size": bytes.len(), "pointerSize": 134}
                }));
            } else {
                st.blobs.insert(resolve, bytes.clone());
                entries.push(serde_json::json!({
                    "type": "file", "oid": blob_oid, "size": bytes.len(), "path": name
                }));
            }
        }
        entries
            .push(serde_json::json!({"type": "directory", "oid": "0", "size": 0, "path": "docs"}));
        st.listings
            .insert(format!("/api/{kind}/{repo}/tree/main"), entries);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap().to_string();
    let (mut range, mut auth, mut host) = (None, None, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        let v = v.trim().to_string();
        match k.to_ascii_lowercase().as_str() {
            "range" => range = Some(v),
            "authorization" => auth = Some(v),
            "host" => host = v,
            _ => {}
        }
    }
    let mut st = state.lock().unwrap();
    st.seen.push(Seen {
        path: path.clone(),
        query: target
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default(),
        host,
        range: range.clone(),
        auth,
    });
    let mut out = stream;
    let reply = |out: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = out.write_all(body);
    };
    if let Some(entries) = st.listings.get(&path) {
        // Page 1 holds two entries and links to page 2 with the rest.
        let second = target.contains("cursor=2");
        let page: Vec<_> = if second {
            entries[2.min(entries.len())..].to_vec()
        } else {
            entries.iter().take(2).cloned().collect()
        };
        let link = if !second && entries.len() > 2 {
            format!("Link: <{path}?recursive=true&cursor=2>; rel=\"next\"\r\n")
        } else {
            String::new()
        };
        let json = serde_json::to_string(&page).unwrap();
        reply(
            &mut out,
            "200 OK",
            &format!("Content-Type: application/json\r\n{link}"),
            json.as_bytes(),
        );
    } else if let Some(loc) = st.redirects.get(&path) {
        let loc = loc.clone();
        reply(&mut out, "302 Found", &format!("Location: {loc}\r\n"), b"");
    } else if let Some(bytes) = st.blobs.get(&path).cloned() {
        let from = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|r| r.parse::<usize>().ok())
            .filter(|&f| f < bytes.len());
        let (status, headers, body) = match from {
            Some(f) => (
                "206 Partial Content",
                format!(
                    "Content-Range: bytes {f}-{}/{}\r\n",
                    bytes.len() - 1,
                    bytes.len()
                ),
                bytes[f..].to_vec(),
            ),
            None => ("200 OK", String::new(), bytes),
        };
        let cut = match &st.cut_once {
            Some((p, n)) if *p == path => Some(*n),
            _ => None,
        };
        if let Some(n) = cut {
            st.cut_once = None;
            drop(st);
            // Promise the whole body, send part of it, close: an interrupted transfer.
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                body.len()
            );
            let _ = out.write_all(&body[..n]);
            let _ = out.flush();
            return;
        }
        reply(&mut out, status, &headers, &body);
    } else {
        reply(
            &mut out,
            "404 Not Found",
            "",
            b"{\"error\":\"Repository not found\"}",
        );
    }
}

/// A tiny synthetic MSCOCO-like folder (with restval), and a hub serving it as
/// `lsr42/mscoco-blip-dense` and its vocabulary and word vectors as `bert-base-uncased`
/// (model.safetensors under BERT's tensor name).
fn hub_with_data(tmp: &Path) -> (FakeHub, PathBuf) {
    let out = mmlsr()
        .args(["synth", "--scale", "tiny", "--quiet", "--datasets", "coco"])
        .args(["--backbones", "strong", "--out"])
        .arg(tmp.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let src = tmp.join("data/synth-coco-strong");
    let read = |n: &str| std::fs::read(src.join(n)).unwrap();
    let wv = mmlsr_store::WordVectors::read(&src.join("word_vectors.safetensors")).unwrap();
    let weights = tmp.join("model.safetensors");
    mmlsr_store::write_tensors_f32(
        &weights,
        &[
            (
                "bert.embeddings.word_embeddings.weight",
                &[wv.vocab_size, wv.dim],
                &wv.data,
            ),
            ("bert.pooler.dense.bias", &[wv.dim], &vec![0.5; wv.dim]),
        ],
    )
    .unwrap();
    let hub = FakeHub::start();
    hub.publish(
        "datasets",
        "lsr42/mscoco-blip-dense",
        &[
            ("dataset_meta.json", read("dataset_meta.json"), false),
            ("img_embs.parquet", read("img_embs.parquet"), true),
            ("text_embs.parquet", read("text_embs.parquet"), true),
            ("README.md", b"# card\n".to_vec(), false),
        ],
    );
    hub.publish(
        "models",
        "bert-base-uncased",
        &[
            ("vocab.txt", read("vocab.txt"), false),
            ("config.json", b"{}".to_vec(), false),
            ("model.safetensors", std::fs::read(&weights).unwrap(), true),
        ],
    );
    (hub, src)
}

fn fetch(hub: &FakeHub, repo: &str, out: &Path) -> std::process::Output {
    mmlsr()
        .args(["fetch", repo, "--quiet", "--out"])
        .arg(out)
        .env("HF_ENDPOINT", hub.endpoint())
        .env("HF_TOKEN", "hf_secret")
        .env_remove("HF_HOME")
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn fetch_lays_out_a_folder_that_inspect_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, src) = hub_with_data(tmp.path());
    let real = tmp.path().join("real");
    let log = ok(&fetch(&hub, "lsr42/mscoco-blip-dense", &real));
    assert!(log.contains("3 file(s)"), "{log}");
    ok(&fetch(&hub, "bert-base-uncased", &real));

    let coco = real.join("mscoco-blip-dense");
    for f in ["dataset_meta.json", "img_embs.parquet", "text_embs.parquet"] {
        assert_eq!(
            std::fs::read(coco.join(f)).unwrap(),
            std::fs::read(src.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(
        !coco.join("README.md").exists(),
        "only the data files are fetched"
    );
    let layout = mmlsr_store::FolderLayout::read(&coco).unwrap();
    assert_eq!(
        (layout.dataset(), layout.backbone()),
        (Some("mscoco"), Some("blip"))
    );
    assert_eq!(
        layout.img_embs_before_proj(),
        coco.join("img_embs_before_proj_blip.parquet")
    );
    // The vocabulary and BERT's word embeddings, taken out of model.safetensors.
    let bert = real.join("bert-base-uncased");
    assert_eq!(
        std::fs::read(bert.join("vocab.txt")).unwrap(),
        std::fs::read(src.join("vocab.txt")).unwrap()
    );
    let wv = mmlsr_store::WordVectors::read(&bert.join("word_vectors.safetensors")).unwrap();
    let want = mmlsr_store::WordVectors::read(&src.join("word_vectors.safetensors")).unwrap();
    assert_eq!(wv, want);
    assert!(
        !bert.join("model.safetensors").exists(),
        "removed after extraction"
    );
    assert!(
        std::fs::read_dir(&bert)
            .unwrap()
            .all(|e| { !e.unwrap().file_name().to_string_lossy().ends_with(".part") })
    );

    // inspect reads the folder through its mmlsr.toml (vocabulary from ../bert-base-uncased).
    let out = mmlsr().arg("inspect").arg(&coco).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("data set mscoco, backbone blip"),
        "{stdout}"
    );
    assert!(
        stdout.contains("restval"),
        "Karpathy's restval split: {stdout}"
    );
    assert!(stdout.contains("word vectors:"), "{stdout}");

    // The listing was read across its two pages.
    let seen = hub.seen();
    assert!(
        seen.iter().any(
            |s| s.path == "/api/datasets/lsr42/mscoco-blip-dense/tree/main"
                && s.query.contains("cursor=2")
        ),
        "{seen:?}"
    );
    // The token went to the endpoint's host only, never to the CDN host of a redirect.
    assert!(
        seen.iter().any(|s| s.host.starts_with("localhost")),
        "{seen:?}"
    );
    for s in &seen {
        if s.host.starts_with("localhost") {
            assert_eq!(s.auth, None, "{s:?}");
        } else {
            assert_eq!(s.auth.as_deref(), Some("Bearer hf_secret"), "{s:?}");
        }
    }
    // Run again: every file is checked in place, nothing is downloaded.
    let before = hub.seen().len();
    let log = ok(&fetch(&hub, "lsr42/mscoco-blip-dense", &real));
    assert_eq!(log.matches("already there, checked").count(), 3, "{log}");
    assert!(
        hub.seen()[before..]
            .iter()
            .all(|s| s.path.starts_with("/api/"))
    );
}

#[test]
fn an_interrupted_download_resumes_and_a_bad_hash_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, src) = hub_with_data(tmp.path());
    let real = tmp.path().join("real");
    let img = std::fs::read(src.join("img_embs.parquet")).unwrap();
    let cdn = format!("/cdn/{}", hex(&sha2::Sha256::digest(&img)));
    hub.state.lock().unwrap().cut_once = Some((cdn.clone(), 1000));

    let out = fetch(&hub, "lsr42/mscoco-blip-dense", &real);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        msg.contains("stopped after 1000 of") && msg.contains("run the same command again"),
        "{msg}"
    );
    let part = real.join("mscoco-blip-dense/.img_embs.parquet.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 1000);
    assert!(!real.join("mscoco-blip-dense/img_embs.parquet").exists());

    let log = ok(&fetch(&hub, "lsr42/mscoco-blip-dense", &real));
    assert!(log.contains("resumed at byte 1000, checked"), "{log}");
    assert!(
        hub.seen()
            .iter()
            .any(|s| s.path == cdn && s.range.as_deref() == Some("bytes=1000-")),
        "a range request continued the partial file"
    );
    assert_eq!(
        std::fs::read(real.join("mscoco-blip-dense/img_embs.parquet")).unwrap(),
        img
    );
    assert!(!part.exists());

    // A file whose content does not hash to what the listing says is refused and removed.
    hub.publish(
        "datasets",
        "lsr42/flickr30k-albef-dense",
        &[
            ("dataset_meta.json", b"{}".to_vec(), false),
            ("img_embs.parquet", img.clone(), true),
            ("text_embs.parquet", b"PAR1".to_vec(), true),
        ],
    );
    {
        let mut st = hub.state.lock().unwrap();
        let key = format!("/cdn/{}", hex(&sha2::Sha256::digest(b"PAR1")));
        st.blobs.insert(key, b"PAR2".to_vec());
    }
    let out = fetch(&hub, "lsr42/flickr30k-albef-dense", &real);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        msg.contains("text_embs.parquet failed its check and was removed")
            && msg.contains("sha256 is")
            && msg.contains("expected"),
        "{msg}"
    );
    let dir = real.join("flickr30k-albef-dense");
    assert!(!dir.join("text_embs.parquet").exists());
    assert!(!dir.join(".text_embs.parquet.part").exists());

    // A repository the hub does not have.
    let out = fetch(&hub, "lsr42/nope-blip-dense", &real);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        msg.contains("HTTP 404") && msg.contains("lsr42/nope-blip-dense"),
        "{msg}"
    );
}

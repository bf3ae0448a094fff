//! A Hugging Face hub client for `mmlsr fetch`: list a repository's files
//! (`GET {endpoint}/api/{models|datasets}/{repo}/tree/{revision}?recursive=true`) and download
//! them (`GET {endpoint}/[datasets/]{repo}/resolve/{revision}/{path}`), resumably (an HTTP
//! range request continues a `.part` file), checked against the size and hash the listing
//! gives (SHA-256 for LFS files, the git blob SHA-1 for the others), and renamed into place
//! only once checked.

use std::{
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use sha1::Digest as _;

/// The public hub, used when neither `--endpoint` nor `HF_ENDPOINT` names another.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Models and data sets live under different URL prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    fn api_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }
}

/// What a file's content must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// An LFS file: SHA-256 of the content (hex).
    Sha256(String),
    /// A plain git file: SHA-1 of `blob <len>\0<content>` (hex).
    GitBlob(String),
}

/// One file of a repository listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    pub path: String,
    pub size: u64,
    pub expected: Expected,
}

#[derive(Debug, Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    lfs: Option<LfsEntry>,
}

#[derive(Debug, Deserialize)]
struct LfsEntry {
    oid: String,
    size: u64,
}

/// The hub at one endpoint, with an optional token.
pub struct Hub {
    endpoint: url::Url,
    token: Option<String>,
    agent: ureq::Agent,
    quiet: bool,
}

impl Hub {
    /// `endpoint` (else `HF_ENDPOINT`, else the public hub) and `token` (else `HF_TOKEN`,
    /// `HUGGING_FACE_HUB_TOKEN`, or the file `huggingface-cli login` writes).
    pub fn new(endpoint: Option<&str>, token: Option<String>, quiet: bool) -> anyhow::Result<Self> {
        let env_endpoint = std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty());
        let endpoint = endpoint
            .map(str::to_string)
            .or(env_endpoint)
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let mut parsed = url::Url::parse(endpoint.trim_end_matches('/'))
            .with_context(|| format!("endpoint {endpoint:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("endpoint {endpoint:?}: expected an http:// or https:// URL");
        }
        if !parsed.path().ends_with('/') {
            let p = format!("{}/", parsed.path());
            parsed.set_path(&p);
        }
        let token = token.or_else(token_from_env);
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .user_agent(concat!("mmlsr/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            endpoint: parsed,
            token,
            agent,
            quiet,
        })
    }

    /// The endpoint's URL.
    pub fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

    fn url(&self, segments: &[&str], query: Option<&str>) -> url::Url {
        let mut u = self.endpoint.clone();
        {
            let mut s = u.path_segments_mut().expect("http URLs have a path");
            s.pop_if_empty();
            for seg in segments {
                for part in seg.split('/') {
                    s.push(part);
                }
            }
        }
        u.set_query(query);
        u
    }

    /// GET `url`, following up to 10 redirects; the token goes only to the endpoint's host.
    fn get(&self, url: url::Url, range_from: u64) -> anyhow::Result<(ureq::Response, url::Url)> {
        let mut url = url;
        for _ in 0..10 {
            let mut req = self.agent.request_url("GET", &url);
            if range_from > 0 {
                req = req.set("Range", &format!("bytes={range_from}-"));
            }
            if let Some(t) = &self.token
                && url.host_str() == self.endpoint.host_str()
                && url.port_or_known_default() == self.endpoint.port_or_known_default()
            {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            let resp = match req.call() {
                Ok(r) => r,
                Err(ureq::Error::Status(code, resp)) => {
                    let body = resp.into_string().unwrap_or_default();
                    let hint = match code {
                        401 | 403 => {
                            " (a private or gated repository: set HF_TOKEN or pass --token)"
                        }
                        404 => " (no such repository, revision or file at this endpoint)",
                        _ => "",
                    };
                    bail!(
                        "GET {url}: HTTP {code}{hint}: {}",
                        body.chars().take(200).collect::<String>()
                    );
                }
                Err(e) => bail!("GET {url}: {e}"),
            };
            if (300..400).contains(&resp.status()) {
                let Some(loc) = resp.header("Location") else {
                    bail!("GET {url}: HTTP {} without a Location", resp.status());
                };
                url = url
                    .join(loc)
                    .with_context(|| format!("GET {url}: bad redirect {loc:?}"))?;
                continue;
            }
            return Ok((resp, url));
        }
        bail!("GET {url}: more than 10 redirects")
    }

    /// Every file of `repo` at `revision`.
    pub fn list(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
    ) -> anyhow::Result<Vec<RepoFile>> {
        let url = self.url(
            &["api", kind.api_prefix(), repo, "tree", revision],
            Some("recursive=true"),
        );
        // The hub pages long listings (1,000 entries) with a `Link: <…>; rel="next"` header.
        let mut entries: Vec<TreeEntry> = Vec::new();
        let mut page = url.clone();
        loop {
            let (resp, at) = self.get(page, 0)?;
            let next = next_page(resp.header("Link"), &at)?;
            let batch: Vec<TreeEntry> = serde_json::from_reader(resp.into_reader())
                .with_context(|| format!("GET {at}: not a repository file listing"))?;
            entries.extend(batch);
            match next {
                Some(n) => page = n,
                None => break,
            }
        }
        let mut files = Vec::new();
        for e in entries {
            if e.kind != "file" {
                continue;
            }
            let (size, expected) = match e.lfs {
                Some(l) => (l.size, Expected::Sha256(l.oid.to_ascii_lowercase())),
                None => (e.size, Expected::GitBlob(e.oid.to_ascii_lowercase())),
            };
            let hash = match &expected {
                Expected::Sha256(h) | Expected::GitBlob(h) => h,
            };
            let want = if matches!(expected, Expected::Sha256(_)) {
                64
            } else {
                40
            };
            if hash.len() != want || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "GET {url}: file {}: hash {hash:?} is not {want} hex digits",
                    e.path
                );
            }
            if e.path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            {
                bail!(
                    "GET {url}: file path {:?} is not a plain relative path",
                    e.path
                );
            }
            files.push(RepoFile {
                path: e.path,
                size,
                expected,
            });
        }
        Ok(files)
    }

    /// Download `file` of `repo` into `dir/<file.path>`: skipped when that file is already
    /// there with the right size and hash; otherwise continued from `dir/.<name>.part` when one
    /// was left by an interrupted run, checked, and renamed into place. A file that fails the
    /// check is removed and reported.
    pub fn download(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        file: &RepoFile,
        dir: &Path,
    ) -> anyhow::Result<Outcome> {
        let dest = dir.join(&file.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if dest.is_file() {
            if verify(&dest, file).is_ok() {
                return Ok(Outcome::AlreadyThere);
            }
            eprintln!(
                "{}: differs from {repo}@{revision}; downloading it again",
                dest.display()
            );
        }
        let part = part_path(&dest);
        let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if have > file.size {
            have = 0;
        }
        let mut resumed_from = 0;
        if have < file.size || file.size == 0 {
            let mut segments = Vec::new();
            if kind == RepoKind::Dataset {
                segments.push("datasets");
            }
            segments.extend([repo, "resolve", revision, &file.path]);
            let (resp, url) = self.get(self.url(&segments, None), have)?;
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&part)
                .with_context(|| format!("opening {}", part.display()))?;
            if resp.status() == 206 && have > 0 {
                resumed_from = have;
                out.seek(std::io::SeekFrom::Start(have))?;
            } else {
                // The server sent the whole file (it ignored the range, or none was asked).
                have = 0;
                out.set_len(0)?;
            }
            let bar = self.bar(&file.path, file.size, have);
            let mut reader = resp.into_reader();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        out.flush().ok();
                        bar.abandon();
                        bail!(
                            "GET {url}: the download stopped after {} of {} bytes ({e}); run \
                             the same command again to continue from {}",
                            have,
                            file.size,
                            part.display()
                        );
                    }
                };
                have += n as u64;
                if have > file.size {
                    bar.abandon();
                    drop(out);
                    std::fs::remove_file(&part).ok();
                    bail!(
                        "GET {url}: more than the {} bytes the listing gives; the partial file was removed",
                        file.size
                    );
                }
                out.write_all(&buf[..n])
                    .with_context(|| format!("writing {}", part.display()))?;
                bar.set_position(have);
            }
            out.sync_all()
                .with_context(|| format!("syncing {}", part.display()))?;
            bar.finish_and_clear();
        }
        if let Err(e) = verify(&part, file) {
            std::fs::remove_file(&part).ok();
            return Err(e.context(format!(
                "{repo}@{revision}: {} failed its check and was removed",
                file.path
            )));
        }
        std::fs::rename(&part, &dest)
            .with_context(|| format!("renaming {} to {}", part.display(), dest.display()))?;
        Ok(if resumed_from > 0 {
            Outcome::Resumed { from: resumed_from }
        } else {
            Outcome::Downloaded
        })
    }

    fn bar(&self, name: &str, size: u64, at: u64) -> ProgressBar {
        let target = if self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(size), target).with_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} (ETA {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar.set_position(at);
        bar
    }
}

/// The `rel="next"` target of an HTTP `Link` header, resolved against `at`.
fn next_page(link: Option<&str>, at: &url::Url) -> anyhow::Result<Option<url::Url>> {
    let Some(link) = link else { return Ok(None) };
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next().unwrap_or("").trim();
        if pieces.any(|p| p.trim() == "rel=\"next\"")
            && let Some(u) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>'))
        {
            return Ok(Some(
                at.join(u)
                    .with_context(|| format!("bad Link header {link:?}"))?,
            ));
        }
    }
    Ok(None)
}

/// What [`Hub::download`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    AlreadyThere,
    Downloaded,
    Resumed { from: u64 },
}

/// `dir/.<name>.part`: where a file is downloaded before it is checked.
pub fn part_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.part"))
}

/// Check a downloaded file's size and hash against the listing.
pub fn verify(path: &Path, file: &RepoFile) -> anyhow::Result<()> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len != file.size {
        bail!(
            "{}: {len} bytes, expected {} (the size the hub lists)",
            path.display(),
            file.size
        );
    }
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let (kind, found, want) = match &file.expected {
        Expected::Sha256(want) => {
            let mut h = sha2::Sha256::new();
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sha2::Digest::update(&mut h, &buf[..n]);
            }
            ("sha256", format!("{:x}", sha2::Digest::finalize(h)), want)
        }
        Expected::GitBlob(want) => {
            let mut h = sha1::Sha1::new();
            h.update(format!("blob {len}\0").as_bytes());
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            ("git blob sha1", format!("{:x}", h.finalize()), want)
        }
    };
    if &found != want {
        bail!(
            "{}: {kind} is {found}, expected {want} (the hash the hub lists)",
            path.display()
        );
    }
    Ok(())
}

/// `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, then `$HF_HOME/token` (default
/// `~/.cache/huggingface/token`, where `huggingface-cli login` writes it).
fn token_from_env() -> Option<String> {
    for var in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
        if let Ok(t) = std::env::var(var)
            && !t.trim().is_empty()
        {
            return Some(t.trim().to_string());
        }
    }
    let home = std::env::var_os("HF_HOME").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("huggingface"))
    })?;
    let t = std::fs::read_to_string(home.join("token")).ok()?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_hash_is_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello\n").unwrap();
        let file = RepoFile {
            path: "f".into(),
            size: 6,
            expected: Expected::GitBlob("ce013625030ba8dba906f756967f9e9ca394464a".into()),
        };
        verify(&p, &file).unwrap();
        // `printf 'hello\n' | sha256sum`
        let lfs = RepoFile {
            expected: Expected::Sha256(
                "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03".into(),
            ),
            ..file.clone()
        };
        verify(&p, &lfs).unwrap();
        let wrong = RepoFile {
            expected: Expected::Sha256("0".repeat(64)),
            ..file
        };
        let msg = verify(&p, &wrong).unwrap_err().to_string();
        assert!(
            msg.contains("sha256 is 5891b5b5") && msg.contains("expected 0000"),
            "{msg}"
        );
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let at = url::Url::parse("http://h/api/models/x/tree/main?recursive=true").unwrap();
        let link = "<https://h/api/models/x/tree/main?recursive=true&cursor=abc>; rel=\"next\"";
        assert_eq!(
            next_page(Some(link), &at).unwrap().unwrap().as_str(),
            "https://h/api/models/x/tree/main?recursive=true&cursor=abc"
        );
        let relative = "</api/models/x/tree/main?cursor=2>; rel=\"prev\", </p2>; rel=\"next\"";
        assert_eq!(
            next_page(Some(relative), &at).unwrap().unwrap().as_str(),
            "http://h/p2"
        );
        assert_eq!(next_page(None, &at).unwrap(), None);
        assert_eq!(next_page(Some("<x>; rel=\"prev\""), &at).unwrap(), None);
    }

    #[test]
    fn urls_follow_the_hub_layout() {
        let hub = Hub::new(Some("http://127.0.0.1:9/mirror/"), None, true).unwrap();
        assert_eq!(
            hub.url(
                &["api", "datasets", "lsr42/x", "tree", "main"],
                Some("recursive=true")
            )
            .as_str(),
            "http://127.0.0.1:9/mirror/api/datasets/lsr42/x/tree/main?recursive=true"
        );
        assert_eq!(
            hub.url(&["bert-base-uncased", "resolve", "main", "a b.txt"], None)
                .as_str(),
            "http://127.0.0.1:9/mirror/bert-base-uncased/resolve/main/a%20b.txt"
        );
    }
}

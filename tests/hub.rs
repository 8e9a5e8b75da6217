//! The download path against a small Hub stand-in on loopback: it answers config.json
//! requests the way huggingface.co does (commit and etag headers, ranged GETs), and checks
//! the bearer token of a gated repository. No test needs the internet. It also serves a
//! tokenizer.json the test trained, for `--input-text` with a model from the Hub.

mod trained;
use trained as text;

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const TOKEN: &str = "hf_test_secret";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct FakeHub {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeHub {
    /// Serves `open-org/tiny-bert` to anyone and `gated-org/tiny-bert` to holders of TOKEN.
    fn start() -> FakeHub {
        let config = std::fs::read("tests/fixtures/tiny-bert.json").unwrap();
        FakeHub::serving(vec![
            ("open-org/tiny-bert/config.json".into(), config.clone()),
            ("gated-org/tiny-bert/config.json".into(), config),
        ])
    }

    /// Serves each `(REPO/FILE, body)`; repositories of `gated-org` need TOKEN.
    fn serving(files: Vec<(String, Vec<u8>)>) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            // Bounded: at most 60 s and 200 connections, then the server stops by itself.
            for _ in 0..6000 {
                if halt.load(Ordering::SeqCst) || count.load(Ordering::SeqCst) >= 200 {
                    break;
                }
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = serve(stream, &files);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeHub {
            endpoint,
            requests,
            stop,
        }
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(stream: TcpStream, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(value.trim().to_string()),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let mut out = stream;
    // Hostile or broken mirrors: headers that would name paths outside the cache, or silence.
    let (commit, hostile_etag) = match path {
        "/silent-org/tiny-bert/resolve/main/config.json" => {
            std::thread::sleep(Duration::from_secs(15));
            return Ok(());
        }
        "/evil-org/commit/resolve/main/config.json" => {
            ("../../../../escaped", Some("tinyberthash"))
        }
        "/evil-org/etag/resolve/main/config.json" => (COMMIT, Some("../../../../escaped")),
        "/evil-org/absolute/resolve/main/config.json" => (COMMIT, Some("/tmp/escaped")),
        _ => (COMMIT, None),
    };
    let hostile = path.starts_with("/evil-org/");
    let file = files
        .iter()
        .find(|(name, _)| {
            let (repo, file) = name.rsplit_once('/').unwrap();
            path == format!("/{repo}/resolve/main/{file}")
        })
        // A hostile mirror answers with the first file's body.
        .or_else(|| files.first().filter(|_| hostile));
    let Some((name, body)) = file else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let allowed = !name.starts_with("gated-org/")
        || authorization.as_deref() == Some(&format!("Bearer {TOKEN}"));
    if !allowed {
        return write!(
            out,
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    let content = if range.as_deref() == Some("bytes=0-0") {
        &body[..1]
    } else {
        body
    };
    write!(
        out,
        "HTTP/1.1 206 Partial Content\r\nx-repo-commit: {commit}\r\netag: \"{etag}\"\r\n\
         content-range: bytes 0-{last}/{total}\r\ncontent-length: {len}\r\nConnection: close\r\n\r\n",
        // The cache names blobs by etag: one per file.
        etag = hostile_etag.map_or_else(|| name.replace('/', "-"), str::to_string),
        last = content.len() - 1,
        total = body.len(),
        len = content.len(),
    )?;
    out.write_all(content)?;
    out.flush()
}

fn bin(hf_home: &std::path::Path, endpoint: &str) -> Command {
    let mut cmd = Command::cargo_bin("run-benchmark").unwrap();
    cmd.env("HF_HOME", hf_home)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .args([
            "--batch-sizes",
            "1",
            "--sequence-lengths",
            "8",
            "--no-memory",
            "--runs",
            "2",
        ]);
    cmd
}

#[test]
fn downloads_a_config_benchmarks_it_then_works_offline_from_the_cache() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), &hub.endpoint)
        .args(["--models", "open-org/tiny-bert"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| open-org/tiny-bert "));
    assert!(
        hub.requests.load(Ordering::SeqCst) >= 1,
        "the hub was never asked"
    );
    let cached = home
        .path()
        .join("hub/models--open-org--tiny-bert/snapshots/0123456789abcdef0123456789abcdef01234567/config.json");
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read("tests/fixtures/tiny-bert.json").unwrap()
    );

    // Offline, with the hub gone: the cache alone answers.
    drop(hub);
    bin(home.path(), "http://127.0.0.1:9")
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models", "open-org/tiny-bert"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| open-org/tiny-bert "));
}

#[test]
fn offline_and_uncached_is_an_error_saying_where_it_looked() {
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), "http://127.0.0.1:9")
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models", "some-org/not-cached"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("not in the embedded registry"))
        .stderr(predicate::str::contains(
            home.path().join("hub").display().to_string(),
        ))
        .stderr(predicate::str::contains("HF_HUB_OFFLINE is set"))
        .stderr(predicate::str::contains(
            "run-benchmark models lists the embedded ones",
        ));
}

#[test]
fn a_typo_of_an_embedded_name_is_not_looked_up_on_the_hub() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    let output = bin(home.path(), &hub.endpoint)
        .args(["--models", "bert-base-uncasd"])
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("model \"bert-base-uncasd\": not found (")
            && stderr.contains(
                "did you mean bert-base-uncased? (run-benchmark models lists the embedded ones)"
            ),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_eq!(hub.requests.load(Ordering::SeqCst), 0, "the Hub was asked");
    // Offline, a name that is no typo is not downloaded either, and the same hint follows.
    bin(home.path(), &hub.endpoint)
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models", "someone/their-model"])
        .assert()
        .code(1);
    assert_eq!(
        hub.requests.load(Ordering::SeqCst),
        0,
        "the Hub was asked offline"
    );
}

#[test]
fn a_gated_repository_needs_hf_token() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), &hub.endpoint)
        .args(["--models", "gated-org/tiny-bert"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("401"))
        .stderr(predicate::str::contains("set HF_TOKEN"));
    bin(home.path(), &hub.endpoint)
        .env("HF_TOKEN", TOKEN)
        .args(["--models", "gated-org/tiny-bert"])
        .assert()
        .success();
}

#[test]
fn an_unknown_repository_reports_the_hub_answer() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), &hub.endpoint)
        .args(["--models", "open-org/missing"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("download of config.json from"))
        .stderr(predicate::str::contains("404"));
}

#[test]
fn text_inputs_through_a_tokenizer_from_the_hub_then_from_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let corpus = text::write_corpus(work.path());
    let tokenizer = text::train_bpe(&corpus, 300);
    let file = text::save(&tokenizer, &work.path().join("bpe"));
    let hub = FakeHub::serving(vec![
        (
            "open-org/tiny-gpt2/config.json".into(),
            text::tiny_gpt2(300).to_string().into_bytes(),
        ),
        (
            "open-org/tiny-gpt2/tokenizer.json".into(),
            std::fs::read(&file).unwrap(),
        ),
        (
            "open-org/tiny-t5/config.json".into(),
            text::tiny_t5(300).to_string().into_bytes(),
        ),
        (
            "open-org/tiny-t5/tokenizer.json".into(),
            std::fs::read(&file).unwrap(),
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    // A decoder and an encoder-decoder.
    let text_args = [
        "--models",
        "open-org/tiny-gpt2",
        "open-org/tiny-t5",
        "--input-text",
    ];
    bin(home.path(), &hub.endpoint)
        .args(text_args)
        .arg(&corpus)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Padding open-org/tiny-gpt2 (batch 1, sequence 8)",
        ))
        .stdout(predicate::str::contains(
            "Padding open-org/tiny-t5 (batch 1, sequence 8)",
        ))
        .stdout(predicate::str::contains("TOKENIZATION - SPEED - RESULT"))
        .stdout(predicate::str::contains("N/A").not());
    let cached = home.path().join(format!(
        "hub/models--open-org--tiny-gpt2/snapshots/{COMMIT}/tokenizer.json"
    ));
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // Offline, with the hub gone: the cache answers for the tokenizer too.
    drop(hub);
    bin(home.path(), "http://127.0.0.1:9")
        .env("HF_HUB_OFFLINE", "1")
        .args(text_args)
        .arg(&corpus)
        .assert()
        .success()
        .stdout(predicate::str::contains("TOKENIZATION - SPEED - RESULT"));
}

#[test]
fn a_hub_model_without_a_tokenizer_says_where_it_looked() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let corpus = text::write_corpus(work.path());
    bin(home.path(), &hub.endpoint)
        .args(["--models", "open-org/tiny-bert", "--input-text"])
        .arg(&corpus)
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "no tokenizer for \"open-org/tiny-bert\"",
        ))
        .stderr(predicate::str::contains("not in the Hugging Face cache at"))
        .stderr(predicate::str::contains("download of tokenizer.json from"))
        .stderr(predicate::str::contains("404"))
        .stderr(predicate::str::contains("--tokenizer PATH"));
}

/// Every file under `root`, recursively.
fn files_under(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn hostile_commit_and_etag_headers_write_nothing_and_name_the_endpoint() {
    let hub = FakeHub::start();
    let root = tempfile::tempdir().unwrap();
    // HF_HOME two levels down, so "../../../../escaped" from its cache stays inside `root`.
    let home = root.path().join("a/b/home");
    std::fs::create_dir_all(&home).unwrap();
    for repo in ["evil-org/commit", "evil-org/etag", "evil-org/absolute"] {
        bin(&home, &hub.endpoint)
            .args(["--models", repo])
            .timeout(Duration::from_secs(60))
            .assert()
            .failure()
            .code(1)
            .stderr(predicate::str::contains(format!("{} sent", hub.endpoint)))
            .stderr(predicate::str::contains("refused, nothing was written"))
            .stderr(predicate::str::contains("panicked").not());
    }
    let written = files_under(root.path());
    assert!(written.is_empty(), "files were written: {written:?}");
    assert!(!std::path::Path::new("/tmp/escaped").exists());
}

#[test]
fn a_silent_hub_times_out_naming_the_endpoint_and_the_wait() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    bin(home.path(), &hub.endpoint)
        .env("HF_HUB_ETAG_TIMEOUT", "1")
        .args(["--models", "silent-org/tiny-bert"])
        .timeout(Duration::from_secs(60))
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains(&hub.endpoint))
        .stderr(predicate::str::contains(
            "no answer within 1 s (HF_HUB_ETAG_TIMEOUT)",
        ));
    // The server holds the connection for 15 s; the tool gives up after 1 s (plus startup).
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "{:?}",
        start.elapsed()
    );
}

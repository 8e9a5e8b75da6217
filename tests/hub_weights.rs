//! `--weights pretrained` for a Hub id not in the cache, against a Hub stand-in on loopback
//! that serves the tiny BERT checkpoint transformers wrote (tests/fixtures/parity/bert) the
//! way huggingface.co does (commit and etag headers, ranged GETs): the files land in the
//! cache under HF_HOME and load as the folder does; a connection dropped mid-file is resumed
//! from where it ended; one that keeps dropping, or a server that stops sending, is an error
//! naming the file.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";
const FIXTURE: &str = "tests/fixtures/parity/bert";

/// Serves config.json and model.safetensors of FIXTURE under any `ORG/bert`; `flaky-org`
/// drops the first full GET of the checkpoint halfway, `broken-org` every GET of it,
/// `stalled-org` stops sending halfway. Records the Range of every checkpoint GET.
struct FakeHub {
    endpoint: String,
    ranges: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeHub {
    fn start() -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, halt) = (ranges.clone(), stop.clone());
        thread::spawn(move || {
            // Bounded: at most 60 s, then the server stops by itself.
            for _ in 0..6000 {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = seen.clone();
                        thread::spawn(move || serve(stream, &seen));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeHub {
            endpoint,
            ranges,
            stop,
        }
    }

    fn ranges(&self) -> Vec<String> {
        self.ranges.lock().unwrap().clone()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let mut out = stream;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (org, file) = match parts.as_slice() {
        [org, "bert", "resolve", "main", file] => (*org, *file),
        _ => {
            return write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
    };
    let Ok(body) = std::fs::read(format!("{FIXTURE}/{file}"))
        .map_err(|_| ())
        .and_then(|b| {
            (file == "config.json" || file == "model.safetensors")
                .then_some(b)
                .ok_or(())
        })
    else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    // `bytes=A-B` or `bytes=A-`.
    let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let b: usize = if b.is_empty() {
                body.len() - 1
            } else {
                b.parse().unwrap()
            };
            (a, b.min(body.len() - 1))
        }
        None => (0, body.len() - 1),
    };
    let head = range.as_deref() == Some("bytes=0-0");
    let checkpoint = file == "model.safetensors" && !head;
    let first = checkpoint && {
        let mut seen = seen.lock().unwrap();
        seen.push(range.clone().unwrap_or_else(|| "none".into()));
        seen.len() == 1
    };
    let content = &body[start..=end];
    write!(
        out,
        "HTTP/1.1 206 Partial Content\r\nx-repo-commit: {COMMIT}\r\netag: \"{org}-{etag}\"\r\n\
         content-range: bytes {start}-{end}/{total}\r\ncontent-length: {len}\r\nConnection: close\r\n\r\n",
        etag = file.replace('.', "-"),
        total = body.len(),
        len = content.len(),
    )?;
    let half = &content[..content.len() / 2];
    match (org, checkpoint) {
        ("flaky-org", true) if first => out.write_all(half),
        ("broken-org", true) => out.write_all(half),
        ("stalled-org", true) => {
            out.write_all(half)?;
            out.flush()?;
            thread::sleep(Duration::from_secs(15));
            Ok(())
        }
        _ => out.write_all(content),
    }?;
    out.flush()
}

fn bin(hf_home: &std::path::Path, endpoint: &str) -> Command {
    let mut cmd = Command::cargo_bin("run-benchmark").unwrap();
    cmd.env("HF_HOME", hf_home)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE")
        .args(["--batch-sizes", "1", "--sequence-lengths", "8"])
        .args(["--no-speed", "--weights", "pretrained"])
        .timeout(Duration::from_secs(120));
    cmd
}

/// What the child says it loaded, from a JSON export.
fn loaded(path: &std::path::Path) -> serde_json::Value {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let row = &json["rows"][0];
    assert_eq!(row["status"], "ok", "{row}");
    row["memory"]["ran"]["pretrained"].clone()
}

/// The downloaded checkpoint in the cache under `home`, which must be the fixture's bytes.
fn check_cached(home: &std::path::Path, org: &str) {
    let snapshot = home
        .join("hub")
        .join(format!("models--{org}--bert"))
        .join("snapshots")
        .join(COMMIT);
    for file in ["config.json", "model.safetensors"] {
        let cached = std::fs::read(snapshot.join(file)).unwrap();
        assert_eq!(
            cached,
            std::fs::read(format!("{FIXTURE}/{file}")).unwrap(),
            "{file}"
        );
    }
    let blobs =
        std::fs::read_dir(home.join("hub").join(format!("models--{org}--bert/blobs"))).unwrap();
    for blob in blobs {
        let name = blob.unwrap().file_name();
        assert!(
            !name.to_string_lossy().ends_with(".incomplete"),
            "{name:?} left"
        );
    }
}

#[test]
fn a_checkpoint_is_downloaded_into_the_cache_and_loads_as_the_folder_does() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("hub.json");
    bin(home.path(), &hub.endpoint)
        .args(["--models", "open-org/bert", "--export-json"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Downloading open-org/bert model.safetensors (",
        ))
        .stderr(predicate::str::contains(
            "Downloaded open-org/bert model.safetensors",
        ));
    check_cached(home.path(), "open-org");
    // The same checkpoint from its folder: the same values loaded.
    let folder = home.path().join("folder.json");
    bin(home.path(), &hub.endpoint)
        .args(["--models", FIXTURE, "--export-json"])
        .arg(&folder)
        .assert()
        .success();
    let from_hub = loaded(&out);
    assert!(from_hub["values"].as_u64().unwrap() > 1000, "{from_hub}");
    let from_folder = loaded(&folder);
    // The same bytes, values and subnormals (the load time differs from run to run).
    for key in ["values", "subnormal", "flushed", "checkpoint_bytes"] {
        assert_eq!(from_hub[key], from_folder[key], "{key}");
    }
    // Cached now: a second run asks nothing of the Hub.
    let asked = hub.ranges().len();
    bin(home.path(), &hub.endpoint)
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models", "open-org/bert"])
        .assert()
        .success();
    assert_eq!(hub.ranges().len(), asked);
}

#[test]
fn a_connection_dropped_mid_file_is_resumed_from_where_it_ended() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), &hub.endpoint)
        .args(["--models", "flaky-org/bert"])
        .assert()
        .success();
    check_cached(home.path(), "flaky-org");
    let size = std::fs::metadata(format!("{FIXTURE}/model.safetensors"))
        .unwrap()
        .len();
    // The whole file, then the rest from the half that arrived.
    assert_eq!(
        hub.ranges(),
        vec!["none".to_string(), format!("bytes={}-", size / 2)]
    );
}

#[test]
fn a_connection_that_keeps_dropping_fails_naming_the_file() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    bin(home.path(), &hub.endpoint)
        .args(["--models", "broken-org/bert"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "download of model.safetensors from {} failed: {}/broken-org/bert/resolve/main/model.safetensors: the connection ended after",
            hub.endpoint, hub.endpoint
        )))
        .stderr(predicate::str::contains("3 tries;"))
        .stderr(predicate::str::contains("and the next run resumes it"));
    // Each try resumed the last: three GETs.
    assert_eq!(hub.ranges().len(), 3, "{:?}", hub.ranges());
}

#[test]
fn a_server_that_stops_sending_times_out_naming_the_file() {
    let hub = FakeHub::start();
    let home = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    bin(home.path(), &hub.endpoint)
        .env("HF_HUB_DOWNLOAD_TIMEOUT", "1")
        .args(["--models", "stalled-org/bert"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "download of model.safetensors from",
        ))
        .stderr(predicate::str::contains(
            "no data for 1 s (HF_HUB_DOWNLOAD_TIMEOUT) after",
        ));
    // The server holds the connection for 15 s; the tool gives up after 1 s (plus startup).
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "{:?}",
        start.elapsed()
    );
}

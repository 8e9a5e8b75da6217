//! Model id -> config.json: a path, the embedded registry, the local Hugging Face cache, or
//! a download of config.json alone from the Hub (`HF_ENDPOINT`, `HF_TOKEN`; never with
//! `HF_HUB_OFFLINE=1`); then the command line's overrides.
//!
//! A model argument is `[NAME=]SOURCE[:KEY=VALUE[,KEY=VALUE...]]`:
//! `bert-base-uncased`, `./my-model/`, `bert-384-hid=bert-base:hidden_size=384`.
//! Values are JSON (`384`, `0.1`, `true`, `"gelu"`), or a plain string otherwise.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

/// A model as the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The label shown in tables and CSV files.
    pub name: String,
    /// A path, a Hub id or a registry short name; a path may be any bytes the OS allows.
    pub source: OsString,
    pub overrides: Vec<(String, Value)>,
}

impl std::str::FromStr for ModelSpec {
    type Err = anyhow::Error;

    fn from_str(arg: &str) -> Result<Self> {
        Self::from_os_str(OsStr::new(arg))
    }
}

impl ModelSpec {
    /// Parses a command-line argument. Only SOURCE may be bytes that are not UTF-8 (a path);
    /// the name labels tables and the overrides are JSON, so they must be text.
    pub fn from_os_str(arg: &OsStr) -> Result<Self> {
        let shown = arg.to_string_lossy();
        let bytes = arg.as_encoded_bytes();
        let (head, overrides) = match bytes.iter().position(|&b| b == b':') {
            Some(at) => {
                let list = std::str::from_utf8(&bytes[at + 1..])
                    .map_err(|_| anyhow!("model \"{shown}\": overrides must be UTF-8 text"))?;
                (&bytes[..at], parse_overrides(&shown, list)?)
            }
            None => (bytes, Vec::new()),
        };
        let (name, source) = match head.iter().position(|&b| b == b'=') {
            Some(at) => {
                let name = std::str::from_utf8(&head[..at])
                    .map_err(|_| anyhow!("model \"{shown}\": NAME must be UTF-8 text"))?;
                (name.to_string(), &head[at + 1..])
            }
            None => (shown.to_string(), head),
        };
        if name.is_empty() || source.is_empty() {
            bail!("model \"{shown}\": expected [NAME=]SOURCE[:KEY=VALUE,...]");
        }
        Ok(ModelSpec {
            name,
            source: os_string(source),
            overrides,
        })
    }
}

/// Bytes cut from an `OsStr` at ASCII separators, back as an `OsString`.
#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes).to_os_string()
}

/// Bytes cut from an `OsStr` at ASCII separators, back as an `OsString`.
#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    // Outside Unix the encoded bytes are not a public format: keep what is valid text.
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// clap's parser for `--models`: takes the argument as the OS gave it.
#[derive(Clone)]
pub struct ModelSpecParser;

impl clap::builder::TypedValueParser for ModelSpecParser {
    type Value = ModelSpec;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> std::result::Result<ModelSpec, clap::Error> {
        ModelSpec::from_os_str(value).map_err(|e| {
            let flag = arg.map_or("--models".to_string(), |a| a.to_string());
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for '{flag}': {e:#}\n"),
            )
            .with_cmd(cmd)
        })
    }
}

fn parse_overrides(arg: &str, list: &str) -> Result<Vec<(String, Value)>> {
    list.split(',')
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| anyhow!("model \"{arg}\": override \"{pair}\" is not KEY=VALUE"))?;
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
            Ok((key.to_string(), value))
        })
        .collect()
}

/// A model whose config is known: what the child processes receive.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub name: String,
    /// Where the config came from, for messages.
    pub origin: String,
    pub config: Value,
    /// Keys of the config file the model's family does not read (configs carry many
    /// harmless ones), for the JSON export and `--verbose`.
    pub unread_keys: Vec<String>,
}

/// The embedded config for a Hub id (`google-bert/bert-base-uncased`) or its short name
/// (`bert-base-uncased`).
pub fn embedded(id: &str) -> Option<(&'static str, &'static str)> {
    EMBEDDED
        .iter()
        .find(|(full, _)| *full == id)
        .or_else(|| {
            EMBEDDED
                .iter()
                .find(|(full, _)| full.rsplit('/').next() == Some(id))
        })
        .copied()
}

/// One embedded config, for `run-benchmark models`.
pub struct RegistryEntry {
    pub id: &'static str,
    pub short_name: &'static str,
    pub model_type: String,
    pub architecture: String,
}

pub fn registry() -> Vec<RegistryEntry> {
    EMBEDDED
        .iter()
        .map(|(id, text)| {
            let config: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let field = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
            RegistryEntry {
                id,
                short_name: id.rsplit('/').next().unwrap_or(id),
                model_type: field(config.get("model_type")),
                architecture: field(config.get("architectures").and_then(|a| a.get(0))),
            }
        })
        .collect()
}

/// The Hugging Face cache root: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hf_cache() -> hf_hub::Cache {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(dir) => hf_hub::Cache::new(PathBuf::from(dir)),
        None => hf_hub::Cache::from_env(),
    }
}

pub fn resolve(spec: &ModelSpec) -> Result<ResolvedModel> {
    let (origin, mut config) =
        load_config(&spec.source).with_context(|| format!("model \"{}\"", spec.name))?;
    let object = config
        .as_object_mut()
        .ok_or_else(|| anyhow!("model \"{}\": {origin} is not a JSON object", spec.name))?;
    let file_keys: Vec<String> = object.keys().cloned().collect();
    for (key, value) in &spec.overrides {
        object.insert(key.clone(), value.clone());
    }
    let keys: Vec<&str> = spec.overrides.iter().map(|(k, _)| k.as_str()).collect();
    let at = || format!("model \"{}\": config from {origin}", spec.name);
    let report = loop {
        match run_benchmark_core::spec::key_report(&config) {
            Ok(report) => break report,
            // An override under another name of a key the file holds (GPT-2's hidden_size
            // for n_embd, as transformers' attribute_map): the override wins.
            Err(e) => match duplicate_of(&e.to_string(), &config, &keys, &file_keys) {
                Some(field) => {
                    config.as_object_mut().map(|o| o.remove(&field));
                }
                None => return Err(e).with_context(at),
            },
        }
    };
    let family = config["model_type"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let unread = run_benchmark_core::spec::unread_keys(&config, &keys).with_context(at)?;
    if let Some((key, closest)) = unread.first() {
        let hint = match closest {
            Some(known) => format!("; did you mean {known}?"),
            None => String::new(),
        };
        bail!(
            "model \"{}\": override key \"{key}\" is not a {family} config key this tool reads{hint}",
            spec.name
        );
    }
    // A config file's key the family skips, a near miss of one it reads: a typo that
    // would run the default instead.
    let skipped: Vec<String> = (report.unread.iter())
        .filter(|k| file_keys.contains(k) && !keys.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in &skipped {
        if let Some(known) = report.near_miss(key, &config) {
            let default = match report.known.get(known) {
                Some(Some(value)) if value != "None" => format!("its default {value}"),
                _ => "its default".to_string(),
            };
            bail!(
                "model \"{}\": {origin}: key \"{key}\" is not a {family} key this tool reads; \
                 did you mean {known}? (without it, {known} would be {default})",
                spec.name
            );
        }
    }
    Ok(ResolvedModel {
        name: spec.name.clone(),
        origin,
        config,
        unread_keys: skipped,
    })
}

/// The key a parse error calls a duplicate when an override (one of `keys`) is another name
/// of a key the config holds.
fn duplicate_of(error: &str, config: &Value, keys: &[&str], file: &[String]) -> Option<String> {
    let field = error.split("duplicate field `").nth(1)?.split('`').next()?;
    let new_key = keys.iter().any(|k| !file.iter().any(|f| f == k));
    (new_key && config.get(field).is_some() && !keys.contains(&field)).then(|| field.to_string())
}

fn load_config(source_os: &OsStr) -> Result<(String, Value)> {
    let path = Path::new(source_os);
    let is_torchscript = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        run_benchmark_core::spec::torchscript::EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
    });
    if path.is_file() && is_torchscript {
        let file = path
            .canonicalize()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config = serde_json::json!({
            "model_type": "torchscript",
            "torchscript_file": run_benchmark_core::spec::torchscript::FilePath::to_json(&file),
        });
        return Ok((format!("TorchScript file {}", file.display()), config));
    }
    if path.exists() {
        let file = if path.is_dir() {
            path.join("config.json")
        } else {
            path.to_path_buf()
        };
        return read_json(&file).map(|v| (file.display().to_string(), v));
    }
    // What is not a path on this machine is a registry or Hub id, and those are text.
    let source = source_os.to_str().ok_or_else(|| {
        anyhow!(
            "{} does not exist (and a name that is not UTF-8 cannot be a Hub id)",
            path.display()
        )
    })?;
    if let Some((id, text)) = embedded(source) {
        let value = serde_json::from_str(text)
            .with_context(|| format!("embedded config {id} is not valid JSON"))?;
        return Ok((format!("embedded config {id}"), value));
    }
    let cache = hf_cache();
    if let Some(file) = cache.model(source.to_string()).get("config.json") {
        return read_json(&file).map(|v| (file.display().to_string(), v));
    }
    let looked = format!(
        "not found (\"{source}\" is not a file or folder, not in the embedded registry, and not \
         in the Hugging Face cache at {})",
        cache.path().display()
    );
    let guess = did_you_mean(source);
    let hint = match &guess {
        Some(name) => {
            format!("; did you mean {name}? (run-benchmark models lists the embedded ones)")
        }
        None => "; run-benchmark models lists the embedded ones".into(),
    };
    // A near miss of an embedded name is a typo, not a Hub id to download; so is a part of
    // one without an organisation (the Hub's names without one are the old, embedded ones).
    let typo = guess.is_some() && (!source.contains('/') || near_name(source).is_some());
    if !looks_like_hub_id(source) || typo {
        bail!("{looked}{hint}");
    }
    if hub_offline() {
        bail!("{looked}; HF_HUB_OFFLINE is set, so the Hub was not asked{hint}");
    }
    let file = download(source, "config.json", cache).with_context(|| format!("{looked}{hint}"))?;
    read_json(&file).map(|v| (file.display().to_string(), v))
}

/// The folder of a model's safetensors checkpoint (`--weights pretrained`): the folder of a
/// config path, else the model's snapshot in the Hugging Face cache, else downloaded there
/// from the Hub (the index and its shards, or model.safetensors) with [`download`]'s
/// progress, timeouts and resumption.
pub fn weights_folder(spec: &ModelSpec) -> Result<PathBuf> {
    let parent = |f: &Path| f.parent().unwrap_or(Path::new(".")).to_path_buf();
    let path = Path::new(&spec.source);
    if path.exists() {
        let dir = match path.is_dir() {
            true => path.to_path_buf(),
            false => parent(path),
        };
        checkpoint_files(&dir)?;
        return Ok(dir);
    }
    let source = spec.source.to_str().unwrap_or_default();
    let id = embedded(source).map_or(source, |(id, _)| id);
    let cache = hf_cache();
    let repo = cache.model(id.to_string());
    const INDEX: &str = "model.safetensors.index.json";
    for file in [INDEX, "model.safetensors"] {
        if let Some(found) = repo.get(file) {
            let dir = parent(&found);
            let files = checkpoint_files(&dir);
            if files.is_ok_and(|f| f.iter().all(|f| f.is_file())) {
                return Ok(dir);
            }
        }
    }
    if hub_offline() {
        bail!(
            "no model.safetensors for {id} in the Hugging Face cache at {}, and HF_HUB_OFFLINE is set",
            cache.path().display()
        );
    }
    match download(id, INDEX, cache.clone()) {
        Ok(index) => {
            let dir = parent(&index);
            for shard in checkpoint_files(&dir)? {
                let name = shard
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                download(id, name, cache.clone())?;
            }
            Ok(dir)
        }
        // No index: a single file (a 404 for it too is the error shown).
        Err(_) => Ok(parent(&download(id, "model.safetensors", cache)?)),
    }
}

/// The embedded names `source` most likely means: one within two edits (case aside), else
/// those it starts or is part of (`llama`, `Llama-2-7b`), at most three.
fn did_you_mean(source: &str) -> Option<String> {
    if let Some(name) = near_name(source) {
        return Some(name);
    }
    let wanted = source.to_ascii_lowercase();
    let entries = registry();
    if wanted.len() < 3 {
        return None;
    }
    let mut partial: Vec<&str> = (entries.iter())
        .filter(|e| e.short_name.to_ascii_lowercase().contains(&wanted))
        .map(|e| e.short_name)
        .collect();
    partial.sort_by_key(|name| (!name.to_ascii_lowercase().starts_with(&wanted), name.len()));
    partial.dedup();
    let shown = partial.len().min(3);
    let more = if partial.len() > shown {
        " or another"
    } else {
        ""
    };
    (!partial.is_empty()).then(|| format!("{}{more}", partial[..shown].join(" or ")))
}

/// The embedded id or short name within two edits of `source` (case aside), the closest.
fn near_name(source: &str) -> Option<String> {
    let wanted = source.to_ascii_lowercase();
    registry()
        .into_iter()
        .flat_map(|e| [e.id, e.short_name])
        .map(|name| {
            let distance = strsim::damerau_levenshtein(&wanted, &name.to_ascii_lowercase());
            (distance, name)
        })
        .filter(|&(distance, _)| distance <= 2)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name.to_string())
}

/// `name` or `org/name`, as the Hub spells repository ids.
pub(crate) fn looks_like_hub_id(source: &str) -> bool {
    let parts: Vec<&str> = source.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !p.starts_with('.')
        })
}

/// `HF_HUB_OFFLINE` as huggingface_hub reads it: 1, true, yes or on.
pub(crate) fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Downloads one file of a model repository (config.json, tokenizer.json) into the cache, from `HF_ENDPOINT` or
/// huggingface.co, with `HF_TOKEN` or the cached login token for gated repositories, laid
/// out as huggingface_hub does (`refs/main`, `blobs/ETAG`, `snapshots/COMMIT/FILE`).
/// Every request is bounded in time (`HF_HUB_ETAG_TIMEOUT` for the metadata request,
/// `HF_HUB_DOWNLOAD_TIMEOUT` for the file, 10 s each by default, as huggingface_hub), and
/// the server's commit and etag, which name cache paths, are checked before any file is made.
pub(crate) fn download(id: &str, file: &str, cache: hf_hub::Cache) -> Result<PathBuf> {
    let endpoint = std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into());
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let token = std::env::var("HF_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| cache.token());
    let url = format!("{endpoint}/{id}/resolve/main/{file}");
    let failed = |what: &dyn std::fmt::Display| {
        anyhow!("download of {file} from {endpoint} failed: {url}: {what}")
    };
    let request = |timeout_var: &str, range: Option<&str>| -> Result<ureq::Response> {
        let seconds = timeout_seconds(timeout_var)?;
        let timeout = Duration::from_secs_f64(seconds);
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout_read(timeout)
            .timeout_write(timeout)
            .build();
        let mut request = agent.get(&url);
        if let Some(range) = range {
            request = request.set("Range", range);
        }
        if let Some(token) = &token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        request.call().map_err(|e| match e {
            ureq::Error::Status(code, _) => {
                let hint = match (code, token.is_some()) {
                    (401 | 403, false) => " (a gated or private repository: set HF_TOKEN)",
                    _ => "",
                };
                failed(&format!("status code {code}{hint}"))
            }
            ureq::Error::Transport(t) if is_timeout(&t) => {
                failed(&format!("no answer within {seconds} s ({timeout_var})"))
            }
            ureq::Error::Transport(t) => failed(&t),
        })
    };
    let head = request("HF_HUB_ETAG_TIMEOUT", Some("bytes=0-0"))?;
    let refuse = |what: &str| anyhow!("{endpoint} sent {what}: refused, nothing was written");
    let commit = head.header("x-repo-commit").unwrap_or("").to_string();
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse(&format!(
            "an invalid commit hash {commit:?} (40 hex digits)"
        )));
    }
    let etag = (head.header("x-linked-etag").or(head.header("etag")))
        .unwrap_or("")
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if etag.is_empty() || etag.starts_with('.') || !etag.chars().all(plain) {
        return Err(refuse(&format!("an etag {etag:?} that cannot name a file")));
    }
    // `bytes 0-0/TOTAL`: the file's size, which says when a body ended early.
    let total = content_range(&head).map(|(_, total)| total);
    // A config.json is kilobytes (a huge id2label map a few MiB), a tokenizer.json tens of
    // MiB at most; a checkpoint has no bound.
    const MAX_JSON_BYTES: u64 = 64 << 20;
    let json = file.ends_with(".json");
    if json && total.is_some_and(|t| t > MAX_JSON_BYTES) {
        return Err(failed(&format!(
            "{} bytes, over the {MAX_JSON_BYTES} a JSON file may have",
            total.unwrap_or(0)
        )));
    }
    let repo = cache.repo(hf_hub::Repo::model(id.to_string()));
    let folder = cache
        .path()
        .join(hf_hub::Repo::model(id.to_string()).folder_name());
    let blob = folder.join("blobs").join(&etag);
    let pointer = folder.join("snapshots").join(&commit).join(file);
    let cannot_write = || {
        format!(
            "cannot write to the Hugging Face cache {}",
            folder.display()
        )
    };
    std::fs::create_dir_all(folder.join("blobs")).with_context(cannot_write)?;
    // A partial file is never taken for the blob; a dropped connection resumes it (a ranged
    // request from its end), here up to TRIES times, else on the next run.
    let partial = folder.join("blobs").join(format!("{etag}.incomplete"));
    const TRIES: usize = 3;
    let mut progress = Progress::new(id, file, total, !json);
    for attempt in 1.. {
        let have = std::fs::metadata(&partial).map_or(0, |m| m.len());
        if total.is_some_and(|t| have == t) {
            break;
        }
        let range = (have > 0 && total.is_some()).then(|| format!("bytes={have}-"));
        let response = request("HF_HUB_DOWNLOAD_TIMEOUT", range.as_deref())?;
        // A server that ignores the range sends the whole file again.
        let resumed =
            range.is_some() && content_range(&response).is_some_and(|(start, _)| start == have);
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(&partial)
            .with_context(cannot_write)?;
        let start = if resumed { have } else { 0 };
        let limit = if json { MAX_JSON_BYTES } else { u64::MAX };
        let copied = progress.copy(&mut response.into_reader().take(limit), &mut out, start);
        let have = std::fs::metadata(&partial).map_or(0, |m| m.len());
        match copied {
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                let seconds = timeout_seconds("HF_HUB_DOWNLOAD_TIMEOUT")?;
                return Err(failed(&format!(
                    "no data for {seconds} s (HF_HUB_DOWNLOAD_TIMEOUT) after {have} bytes; {} is kept, and the next run resumes it",
                    partial.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Other && e.to_string().contains("write") => {
                return Err(e).with_context(cannot_write);
            }
            Ok(_) if total.is_none_or(|t| have == t) => break,
            _ if attempt < TRIES => continue,
            _ => {
                return Err(failed(&format!(
                    "the connection ended after {have} of {} bytes, {TRIES} tries; {} is kept, \
                     and the next run resumes it",
                    total.map_or("?".into(), |t| t.to_string()),
                    partial.display()
                )))
            }
        }
    }
    progress.done();
    let written = (|| -> std::io::Result<()> {
        std::fs::rename(&partial, &blob)?;
        std::fs::create_dir_all(pointer.parent().expect("a snapshot folder"))?;
        let _ = std::fs::remove_file(&pointer);
        std::os::unix::fs::symlink(Path::new("../../blobs").join(&etag), &pointer)?;
        repo.create_ref(&commit)
    })();
    written.with_context(cannot_write)?;
    Ok(pointer)
}

/// A response's `content-range: bytes START-END/TOTAL`, as (START, TOTAL).
fn content_range(response: &ureq::Response) -> Option<(u64, u64)> {
    let range = response
        .header("content-range")?
        .trim()
        .strip_prefix("bytes ")?;
    let (span, total) = range.split_once('/')?;
    let start = span.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()?))
}

/// A checkpoint's download on stderr: a line when it starts, one every few seconds while it
/// runs, one when it ends (configs and tokenizers, kilobytes, say nothing).
struct Progress {
    what: String,
    total: Option<u64>,
    shown: bool,
    last: std::time::Instant,
    bytes: u64,
}

impl Progress {
    fn new(id: &str, file: &str, total: Option<u64>, shown: bool) -> Progress {
        if shown {
            eprintln!("Downloading {id} {file} ({})", mib(total));
        }
        Progress {
            what: format!("{id} {file}"),
            total,
            shown,
            last: std::time::Instant::now(),
            bytes: 0,
        }
    }

    /// Copies `from` to the end of `to`, which holds `start` bytes already; a write error
    /// is `Other` with "write" in it, so the caller tells it from the connection's.
    fn copy(
        &mut self,
        from: &mut impl Read,
        to: &mut std::fs::File,
        start: u64,
    ) -> std::io::Result<()> {
        use std::io::Write;
        self.bytes = start;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = from.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            to.write_all(&buffer[..n])
                .map_err(|e| std::io::Error::other(format!("write: {e}")))?;
            self.bytes += n as u64;
            if self.shown && self.last.elapsed() > Duration::from_secs(2) {
                self.last = std::time::Instant::now();
                eprintln!(
                    "Downloading {}: {} of {}",
                    self.what,
                    mib(Some(self.bytes)),
                    mib(self.total)
                );
            }
        }
    }

    fn done(&self) {
        if self.shown {
            eprintln!("Downloaded {} ({})", self.what, mib(Some(self.bytes)));
        }
    }
}

/// `12.3 MiB`, or `size unknown`.
fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        None => "size unknown".into(),
    }
}

/// A Hub timeout from the environment, in seconds, as huggingface_hub reads it (default 10).
fn timeout_seconds(var: &str) -> Result<f64> {
    match std::env::var(var) {
        Err(_) => Ok(10.0),
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s <= crate::cell::MAX_SECONDS => Ok(s),
            _ => bail!("{var}={text:?} is not a positive number of seconds"),
        },
    }
}

fn is_timeout(t: &ureq::Transport) -> bool {
    use std::error::Error;
    let mut source = t.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = e.source();
    }
    t.to_string().contains("timed out")
}

fn read_json(file: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()))
}

/// The safetensors files of a checkpoint folder (neutral: the plan finds them, a framework's
/// loader reads them): `model.safetensors`, or the shards a
/// `model.safetensors.index.json` names (its `weight_map`'s values).
pub fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index)
            .with_context(|| format!("cannot read {}", index.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", index.display()))?;
        let map = value["weight_map"]
            .as_object()
            .with_context(|| format!("{} has no \"weight_map\" object", index.display()))?;
        let mut shards: Vec<String> = (map.values())
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .with_context(|| {
                format!("{}: a weight_map value is not a file name", index.display())
            })?;
        shards.sort();
        shards.dedup();
        return Ok(shards.iter().map(|f| dir.join(f)).collect());
    }
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    bail!(
        "{} holds neither model.safetensors nor model.safetensors.index.json",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_source_is_its_own_name() {
        let spec: ModelSpec = "bert-base-uncased".parse().unwrap();
        assert_eq!(spec.name, "bert-base-uncased");
        assert_eq!(spec.source, "bert-base-uncased");
        assert!(spec.overrides.is_empty());
    }

    #[test]
    fn name_source_and_overrides() {
        let spec: ModelSpec = "bert-6-lay=bert-base:num_hidden_layers=6,hidden_act=gelu_new"
            .parse()
            .unwrap();
        assert_eq!(spec.name, "bert-6-lay");
        assert_eq!(spec.source, "bert-base");
        assert_eq!(
            spec.overrides,
            vec![
                ("num_hidden_layers".into(), json!(6)),
                ("hidden_act".into(), json!("gelu_new"))
            ]
        );
    }

    #[test]
    fn unnamed_variant_is_labelled_by_the_whole_argument() {
        let spec: ModelSpec = "bert-base:hidden_size=384".parse().unwrap();
        assert_eq!(spec.name, "bert-base:hidden_size=384");
        assert_eq!(spec.overrides, vec![("hidden_size".into(), json!(384))]);
    }

    #[test]
    fn malformed_override_is_rejected() {
        let err = "x=bert-base:hidden_size".parse::<ModelSpec>().unwrap_err();
        assert!(
            err.to_string().contains("\"hidden_size\" is not KEY=VALUE"),
            "{err}"
        );
        assert!("=bert-base".parse::<ModelSpec>().is_err());
    }

    #[test]
    fn near_misses_of_embedded_names_are_suggested() {
        assert_eq!(did_you_mean("bert-bas").as_deref(), Some("bert-base"));
        assert_eq!(did_you_mean("GPT-2").as_deref(), Some("gpt2"));
        assert_eq!(did_you_mean("someone/their-own-model"), None);
        let e = format!("{:#}", load_config(OsStr::new("bert-bas")).unwrap_err());
        assert!(e.contains("did you mean bert-base?"), "{e}");
    }

    #[test]
    fn registry_finds_hub_ids_and_short_names() {
        assert_eq!(
            embedded("bert-base-uncased").unwrap().0,
            "google-bert/bert-base-uncased"
        );
        assert_eq!(
            embedded("google-bert/bert-large-uncased").unwrap().0,
            "google-bert/bert-large-uncased"
        );
        assert!(embedded("bert-base-cased").is_some());
        assert!(embedded("no-such-model").is_none());
    }

    #[test]
    fn overrides_apply_to_the_resolved_config() {
        let spec: ModelSpec = "bert-384-hid=bert-base-uncased:hidden_size=384"
            .parse()
            .unwrap();
        let model = resolve(&spec).unwrap();
        assert_eq!(model.config["hidden_size"], json!(384));
        assert_eq!(model.config["num_hidden_layers"], json!(12));
        assert!(model.origin.contains("google-bert/bert-base-uncased"));
    }

    #[test]
    fn a_misspelt_override_key_is_an_error_naming_the_closest_key() {
        let spec: ModelSpec = "small=bert-base-uncased:hiden_size=384".parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("model \"small\""), "{err}");
        assert!(err.contains("\"hiden_size\""), "{err}");
        assert!(err.contains("did you mean hidden_size?"), "{err}");
        // A key no family reads, far from every known one: no guess.
        let spec: ModelSpec = "x=gpt2:zzz=1".parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("\"zzz\" is not a gpt2 config key"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn a_misspelt_config_file_key_is_an_error_naming_both_keys_and_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        let config = r#"{"model_type": "bert", "hiden_size": 32, "my_note": "x"}"#;
        std::fs::write(&file, config).unwrap();
        let spec: ModelSpec = format!("tiny={}", dir.path().display()).parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("model \"tiny\""), "{err}");
        assert!(err.contains("key \"hiden_size\""), "{err}");
        assert!(err.contains("did you mean hidden_size?"), "{err}");
        assert!(err.contains("its default 768"), "{err}");
        // Other keys the family skips are harmless: kept, and listed.
        let config = r#"{"model_type": "bert", "hidden_size": 32, "num_attention_heads": 2,
            "my_note": "x", "transformers_version": "4.40"}"#;
        std::fs::write(&file, config).unwrap();
        let model = resolve(&spec).unwrap();
        assert_eq!(model.unread_keys, ["my_note", "transformers_version"]);
    }

    #[test]
    fn every_embedded_config_resolves_without_a_near_miss() {
        for (id, _) in EMBEDDED {
            let spec: ModelSpec = id.parse().unwrap();
            let config: Value = serde_json::from_str(embedded(id).unwrap().1).unwrap();
            let supported = run_benchmark_core::spec::supported_model_types();
            if supported.contains(&config["model_type"].as_str().unwrap_or_default()) {
                resolve(&spec).unwrap_or_else(|e| panic!("{id}: {e:#}"));
            }
        }
    }

    #[test]
    fn override_hints_cover_keys_a_minimal_config_leaves_out() {
        // configs/bert-base.json holds only its model_type: every key is a default.
        let spec: ModelSpec = "bert-base:hiden_size=64".parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("did you mean hidden_size?"), "{err}");
    }

    #[test]
    fn gpt2_takes_the_transformers_attribute_names_as_overrides() {
        let spec: ModelSpec =
            "gpt2:hidden_size=64,num_hidden_layers=2,num_attention_heads=2,max_position_embeddings=128"
                .parse()
                .unwrap();
        let model = resolve(&spec).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(model.config["hidden_size"], json!(64));
        assert!(model.config.get("n_embd").is_none());
        let arch = run_benchmark_core::spec::from_json(&model.config).unwrap();
        assert_eq!(arch.max_positions(), Some(128));
    }

    #[test]
    fn model_names_get_prefix_and_substring_suggestions() {
        assert_eq!(did_you_mean("Llama-2-7b").as_deref(), Some("Llama-2-7b-hf"));
        let llama = did_you_mean("llama").unwrap();
        assert!(llama.contains("Llama-"), "{llama}");
        assert_eq!(did_you_mean("zz"), None);
        assert_eq!(did_you_mean("no-such-model-at-all"), None);
    }

    #[test]
    fn overrides_of_keys_each_family_reads_are_accepted() {
        for arg in [
            "gpt2:n_embd=64,n_layer=2,n_head=2",
            "Qwen/Qwen3-0.6B:num_key_value_heads=4,rope_theta=5e5",
            "bert-base-uncased:architectures=[\"BertModel\"]",
        ] {
            let spec: ModelSpec = arg.parse().unwrap();
            resolve(&spec).unwrap_or_else(|e| panic!("{arg}: {e:#}"));
        }
    }

    #[test]
    fn invalid_override_names_the_model_and_problem() {
        let spec: ModelSpec = "bad=bert-base:hidden_size=100".parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("model \"bad\""), "{err}");
        assert!(err.contains("multiple of num_attention_heads"), "{err}");
    }

    #[test]
    fn malformed_config_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, "{\"model_type\": \"bert\", ").unwrap();
        let spec: ModelSpec = dir.path().to_str().unwrap().parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("config.json is not valid JSON"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"model_type": "bert", "hidden_size": "big"}"#).unwrap();
        let spec: ModelSpec = file.to_str().unwrap().parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("hidden_size"), "{err}");
    }

    #[test]
    fn unknown_model_says_where_it_looked() {
        // Not a valid Hub id, so no download is tried.
        let spec: ModelSpec = "no such model".parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(err.contains("embedded registry"), "{err}");
        assert!(err.contains("Hugging Face cache"), "{err}");
    }

    #[test]
    fn every_embedded_config_is_valid_json_with_a_model_type() {
        for entry in registry() {
            assert!(
                !entry.model_type.is_empty(),
                "{} has no model_type",
                entry.id
            );
        }
        assert!(registry().len() >= 30);
    }

    #[test]
    fn hub_ids_are_told_from_other_strings() {
        assert!(looks_like_hub_id("gpt2"));
        assert!(looks_like_hub_id("Qwen/Qwen2.5-0.5B"));
        assert!(!looks_like_hub_id("a/b/c"));
        assert!(!looks_like_hub_id("no such model"));
        assert!(!looks_like_hub_id("../x"));
    }

    #[test]
    fn unsupported_model_type_lists_supported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"model_type": "xlnet"}"#).unwrap();
        let spec: ModelSpec = file.to_str().unwrap().parse().unwrap();
        let err = format!("{:#}", resolve(&spec).unwrap_err());
        assert!(
            err.contains("\"xlnet\" is not supported; supported: ") && err.contains("bert"),
            "{err}"
        );
    }
}

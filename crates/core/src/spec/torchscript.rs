//! A user's TorchScript file as a config: its path and the facts the command line gives
//! (`NAME=model.pt:vocab_size=N`), since the file carries no config (the libtorch build is
//! `src/models/torchscript.rs`).

use super::{parse_config, Spec, Task};
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// File name endings taken as TorchScript modules rather than config.json files.
pub const EXTENSIONS: &[&str] = &["pt", "pth", "ts", "torchscript", "jit"];

#[derive(Debug, Clone, Deserialize)]
pub struct TorchScriptConfig {
    pub torchscript_file: FilePath,
    pub vocab_size: Option<i64>,
    /// Bounds the sequence lengths, as learned position embeddings would.
    #[serde(default)]
    pub max_position_embeddings: Option<i64>,
    /// Call as `module(input_ids, input_ids)`, the decoder inputs being the encoder's.
    #[serde(default)]
    pub is_encoder_decoder: bool,
}

pub fn from_json(config: &serde_json::Value) -> Result<Box<dyn Spec>> {
    let c: TorchScriptConfig = parse_config(config)?;
    match c.vocab_size {
        Some(v) if v > 0 => Ok(Box::new(c)),
        Some(v) => bail!("vocab_size must be positive, got {v}"),
        None => bail!(
            "a TorchScript module needs its vocabulary size: NAME={}:vocab_size=N",
            c.torchscript_file.path().display()
        ),
    }
}

/// A file's path in a JSON config: text, or (a Unix path that is not UTF-8) its bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FilePath {
    Text(String),
    Bytes(Vec<u8>),
}

impl FilePath {
    pub fn to_json(path: &Path) -> serde_json::Value {
        match path.to_str() {
            Some(text) => text.into(),
            None => path.as_os_str().as_encoded_bytes().into(),
        }
    }

    pub fn path(&self) -> PathBuf {
        match self {
            FilePath::Text(text) => PathBuf::from(text),
            #[cfg(unix)]
            FilePath::Bytes(bytes) => {
                use std::os::unix::ffi::OsStrExt;
                PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
            }
            #[cfg(not(unix))]
            FilePath::Bytes(bytes) => PathBuf::from(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

impl Spec for TorchScriptConfig {
    fn vocab_size(&self) -> i64 {
        self.vocab_size.unwrap_or(1)
    }

    fn max_positions(&self) -> Option<i64> {
        self.max_position_embeddings
    }

    /// Unknown until the file is loaded: the module is opaque to its config.
    fn parameters(&self, _task: Task) -> Option<f64> {
        None
    }

    /// Unknown: the module's computation is opaque.
    fn forward_flops(&self, _batch: i64, _seq: i64, _task: Task) -> f64 {
        f64::NAN
    }
}

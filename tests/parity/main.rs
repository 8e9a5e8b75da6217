//! Parity: every family against transformers itself. Tiny models whose weights and expected
//! outputs were written by transformers (`scripts/parity_oracle.py`, `make fixtures`; see
//! tests/fixtures/parity/README.md). One binary, so libtorch is linked once; a module per family.

#[path = "../common/mod.rs"]
mod common;

mod albert;
mod bart;
mod bert;
mod distilbert;
mod electra;
mod gpt2;
mod gpt_neo;
mod gpt_neox;
mod llama;
mod opt;
mod phi;
mod roberta;
mod t5;

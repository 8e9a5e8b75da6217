//! The activation functions a config names (`hidden_act`); each framework applies them.

use serde::Deserialize;

/// Activation functions by their Hugging Face config names (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Gelu,
    GeluNew,
    #[serde(alias = "gelu_fast")]
    GeluPytorchTanh,
    Relu,
    #[serde(alias = "swish")]
    Silu,
    Tanh,
    QuickGelu,
}

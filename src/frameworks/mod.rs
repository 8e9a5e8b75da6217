//! The frameworks this binary measures with: each implements the core's
//! [`run_benchmark_core::protocol::Framework`] in a folder of its own. Frameworks without
//! libtorch live in their own binary (crates/graph-child).

pub mod torch;

use crate::cell::{Cell, Framework, Mode};
use run_benchmark_core::cell::GRAPH_MODEL_TYPES;

/// Why a cell of a framework other than PyTorch cannot run, known from the plan alone.
pub fn not_supported(cell: &Cell) -> Option<String> {
    let framework = cell.settings.framework;
    if framework.is_torch() {
        return None;
    }
    if framework == Framework::Onnxruntime && cell.mode == Mode::Training {
        return Some(
            "onnxruntime is inference only here (ONNX Runtime's training is a separate product)"
                .into(),
        );
    }
    let model_type = cell.config["model_type"].as_str().unwrap_or("this model");
    (!GRAPH_MODEL_TYPES.contains(&model_type)).then(|| {
        format!(
            "{framework}: model_type \"{model_type}\" has no graph build ({} have)",
            GRAPH_MODEL_TYPES.join(", ")
        )
    })
}

//! Where nodes ran: ONNX Runtime's session profiler records, for every kernel it ran, the node,
//! its op (after the optimiser's fusions) and the execution provider. A node on a provider
//! other than the one asked for (an attention node falling back to the CPU on a GPU session,
//! as has happened to users) is named in the cell's result.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The provider every node of our sessions is meant to run on.
pub const EXPECTED_PROVIDER: &str = "CPUExecutionProvider";

/// What one profiled call ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Kernels run per op type (MatMul, FusedMatMul, LayerNormalization, ...).
    pub ops: BTreeMap<String, usize>,
    /// Kernels run per execution provider.
    pub providers: BTreeMap<String, usize>,
    /// Nodes that ran on a provider other than [`EXPECTED_PROVIDER`]: (node, op, provider).
    pub unexpected: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct Event {
    cat: String,
    name: String,
    #[serde(default)]
    args: Args,
}

#[derive(Deserialize, Default)]
struct Args {
    op_name: Option<String>,
    provider: Option<String>,
}

impl Placement {
    /// Reads a profile (the JSON array of trace events ONNX Runtime writes); only the node
    /// events of the first call count, and each node's kernel once.
    pub fn from_profile(json: &str) -> Result<Self> {
        let events: Vec<Event> =
            serde_json::from_str(json).context("reading ONNX Runtime's profile")?;
        let mut placement = Placement::default();
        let mut seen = std::collections::HashSet::new();
        for event in events.iter().filter(|e| e.cat == "Node") {
            let Some(node) = event.name.strip_suffix("_kernel_time") else {
                continue; // the _fence_before / _fence_after markers of the same node
            };
            if !seen.insert(node) {
                continue;
            }
            let op = event.args.op_name.clone().unwrap_or_default();
            let provider = event.args.provider.clone().unwrap_or_default();
            *placement.ops.entry(op.clone()).or_default() += 1;
            *placement.providers.entry(provider.clone()).or_default() += 1;
            if provider != EXPECTED_PROVIDER {
                placement.unexpected.push((node.to_string(), op, provider));
            }
        }
        Ok(placement)
    }

    /// One line for the result when a node left the expected provider, else None.
    pub fn warning(&self) -> Option<String> {
        let (node, op, provider) = self.unexpected.first()?;
        let total: usize = self.providers.values().sum();
        Some(format!(
            "{} of {total} nodes ran outside {EXPECTED_PROVIDER} (first: {node} ({op}) on {})",
            self.unexpected.len(),
            if provider.is_empty() {
                "no named provider"
            } else {
                provider
            }
        ))
    }

    /// `MatMul 73, Add 25, ...`: the ops that ran, most frequent first.
    pub fn ops_summary(&self) -> String {
        let mut ops: Vec<_> = self.ops.iter().collect();
        ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        ops.iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape ONNX Runtime 1.31 writes (one call, trimmed), with one node moved to CUDA.
    const PROFILE: &str = r#"[
{"cat" : "Session","pid" :1,"tid" :1,"dur" :2718,"ts" :155,"ph" : "X","name" :"session_initialization","args" : {}},
{"cat" : "Node","pid" :1,"tid" :1,"dur" :1,"ts" :2920,"ph" : "X","name" :"mm_fence_before","args" : {"op_name" : "MatMul"}},
{"cat" : "Node","pid" :1,"tid" :1,"dur" :67,"ts" :2927,"ph" : "X","name" :"mm_kernel_time","args" : {"op_name" : "MatMul","provider" : "CPUExecutionProvider","output_type_shape" : [{"float":[2,4]}]}},
{"cat" : "Node","pid" :1,"tid" :1,"dur" :8,"ts" :2999,"ph" : "X","name" :"attn_kernel_time","args" : {"op_name" : "Attention","provider" : "CUDAExecutionProvider"}},
{"cat" : "Node","pid" :1,"tid" :1,"dur" :8,"ts" :3009,"ph" : "X","name" :"erf_kernel_time","args" : {"op_name" : "Erf","provider" : "CPUExecutionProvider"}},
{"cat" : "Session","pid" :1,"tid" :1,"dur" :104,"ts" :2914,"ph" : "X","name" :"model_run","args" : {}}
]"#;

    #[test]
    fn a_node_on_another_provider_is_named() {
        let p = Placement::from_profile(PROFILE).unwrap();
        assert_eq!(p.providers["CPUExecutionProvider"], 2);
        assert_eq!(p.providers["CUDAExecutionProvider"], 1);
        assert_eq!(p.ops.len(), 3);
        assert_eq!(
            p.warning().unwrap(),
            "1 of 3 nodes ran outside CPUExecutionProvider (first: attn (Attention) on CUDAExecutionProvider)"
        );
    }

    #[test]
    fn all_on_the_cpu_is_silent() {
        let json = PROFILE.replace("CUDAExecutionProvider", "CPUExecutionProvider");
        let p = Placement::from_profile(&json).unwrap();
        assert_eq!(p.warning(), None);
        assert_eq!(p.ops_summary(), "Attention 1, Erf 1, MatMul 1");
        assert!(Placement::from_profile("not json").is_err());
    }
}

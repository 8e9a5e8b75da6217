//! The decoder families of issue 11 run offline from the embedded registry, in inference and
//! training, each cell in its own child process: every published config shrunk by overrides
//! to a tiny model that keeps its family's switches (soft-capping, sliding windows, routed
//! experts and their auxiliary loss, LongRoPE past its original context). Speed only: the
//! memory cells run the same model code.

mod e2e;

use e2e::{bin, QUICK};

const TINY: &str = "num_hidden_layers=2,hidden_size=32,intermediate_size=37,\
                    num_attention_heads=4,num_key_value_heads=2,head_dim=8,vocab_size=99";

#[test]
fn new_decoder_families_run_from_the_registry_in_inference_and_training() {
    let models = [
        format!("gemma=gemma-2b:{TINY}"),
        format!("gemma2=google/gemma-2-2b-it:{TINY},sliding_window=4"),
        format!("gemma3=gemma-3-1b-it:{TINY},sliding_window=4"),
        format!("phi3=Phi-3-mini-4k-instruct:{TINY},sliding_window=4"),
        // LongRoPE needs its 48 factors: head size 96 kept; 8 of 16 tokens are past the
        // original context, so the long factors apply.
        "phi3.5=Phi-3.5-mini-instruct:num_hidden_layers=1,hidden_size=384,num_attention_heads=4,\
         num_key_value_heads=4,intermediate_size=64,vocab_size=99,original_max_position_embeddings=8"
            .to_string(),
        format!("mixtral=Mixtral-8x7B-v0.1:{TINY},num_local_experts=4,output_router_logits=true"),
        format!(
            "qwen3moe=Qwen3-30B-A3B:{TINY},num_experts=4,num_experts_per_tok=2,\
             moe_intermediate_size=11,output_router_logits=true"
        ),
    ];
    let out = bin()
        .env("HF_HUB_OFFLINE", "1")
        .args(["--models"])
        .args(&models)
        .args([
            "--batch-sizes",
            "2",
            "--sequence-lengths",
            "16",
            "--training",
            "--quiet",
        ])
        .args(QUICK)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("N/A"),
        "a cell failed:\n{stdout}\n{stderr}"
    );
    for section in [
        "INFERENCE - SPEED",
        "INFERENCE - MEMORY",
        "TRAIN - SPEED",
        "TRAIN - MEMORY",
    ] {
        // From the section's header to the next header (tables' borders start with `+`).
        let start = stdout
            .find(section)
            .unwrap_or_else(|| panic!("no {section} table:\n{stdout}"));
        let rest = &stdout[start..];
        let table = &rest[..rest.find("\n=====").unwrap_or(rest.len())];
        for model in [
            "gemma ", "gemma2", "gemma3", "phi3 ", "phi3.5", "mixtral", "qwen3moe",
        ] {
            assert!(
                table.contains(model),
                "{section}: no row for {model}:\n{table}"
            );
        }
    }
}

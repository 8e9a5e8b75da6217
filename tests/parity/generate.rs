//! Generation against transformers: for every generating family, greedy decoding with the
//! KV cache (`models::kv_cache::greedy` over `Architecture::generator`, as the benchmark
//! runs it) picks transformers' `generate(do_sample=False, max_new_tokens=N,
//! min_new_tokens=N)` tokens one for one, and every step's logits are within 1e-4 of its
//! own (`generate.safetensors`, written by scripts/parity_oracle.py).

use crate::common::{check, fixture, fixture_dir, read_config};
use run_benchmark::models::kv_cache::greedy;
use run_benchmark::models::weights::load_safetensors;
use std::collections::HashMap;
use tch::{nn::VarStore, Device, Kind, Tensor};

fn generates_as_transformers(arch: &str) {
    let dir = fixture_dir(arch);
    let expected: HashMap<String, Tensor> =
        Tensor::read_safetensors(fixture(&dir, "generate.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    let (prompt, ids, logits) = (
        &expected["input_ids"],
        &expected["generated_ids"],
        &expected["step_logits"],
    );
    let new_tokens = ids.size()[1];
    let config = read_config(&dir);
    let mut vs = VarStore::new(Device::Cpu);
    let generator = config
        .generator(vs.root())
        .unwrap_or_else(|| panic!("{arch}: no generator"));
    load_safetensors(&mut vs, &fixture(&dir, "model.safetensors"), "model").unwrap();

    let (mut our_ids, mut our_logits) = (Vec::new(), Vec::new());
    let cache = tch::no_grad(|| {
        greedy(generator.as_ref(), prompt, new_tokens, |logits, tokens| {
            our_logits.push(logits.shallow_clone());
            our_ids.push(tokens.shallow_clone());
        })
    })
    .unwrap();
    let our_ids = Tensor::cat(&our_ids, 1);
    assert_eq!(our_ids.kind(), Kind::Int64);
    assert!(
        our_ids.equal(ids),
        "{arch}: tokens differ from transformers'\nours:  {our_ids}\ntheirs: {ids}"
    );
    check(arch, "step logits", &Tensor::stack(&our_logits, 1), logits);

    // The cache holds every fed token (the prompt and N - 1 new ones; for an
    // encoder-decoder the start token and N - 1, plus the prompt's cross-attention keys),
    // which is the config's size where no layer slides.
    let layout = config.kv_layout().unwrap();
    let (batch, seq) = (prompt.size()[0], prompt.size()[1]);
    let fed = if layout.cross_layers > 0 {
        new_tokens
    } else {
        seq + new_tokens - 1
    };
    let formula = layout.bytes(batch, seq, fed, 4);
    if layout.windows.iter().all(Option::is_none) {
        assert_eq!(cache.bytes(), formula, "{arch}: cache size");
    } else {
        // Sliding layers keep only their window's last tokens.
        assert!(
            cache.bytes() < formula,
            "{arch}: {} >= {formula}",
            cache.bytes()
        );
    }
}

macro_rules! generation_parity {
    ($($name:ident: $arch:literal,)*) => {
        $(
            #[test]
            fn $name() {
                generates_as_transformers($arch);
            }
        )*
    };
}

generation_parity! {
    gpt2: "gpt2",
    gpt2_variant: "gpt2_variant",
    opt: "opt",
    opt_350m: "opt_350m",
    gpt_neo: "gpt_neo",
    llama: "llama",
    llama3_scaled: "llama3_scaled",
    mistral: "mistral",
    qwen2: "qwen2",
    qwen3: "qwen3",
    gpt_neox: "gpt_neox",
    gpt_neox_sequential: "gpt_neox_sequential",
    phi: "phi",
    gemma: "gemma",
    gemma2: "gemma2",
    gemma3: "gemma3",
    phi3: "phi3",
    mixtral: "mixtral",
    qwen3_moe: "qwen3_moe",
    t5: "t5",
    flan_t5: "flan_t5",
    bart: "bart",
}

/// Encoder-only and vision families have no generator, and say why in one line.
#[test]
fn encoder_only_models_do_not_generate() {
    for (arch, model_type, why) in [
        ("bert", "bert", "encoder-only"),
        ("modernbert", "modernbert", "encoder-only"),
        ("deberta", "deberta-v2", "encoder-only"),
        ("roberta", "roberta", "encoder-only"),
        ("vit", "vit", "image encoder"),
    ] {
        let config = read_config(&fixture_dir(arch));
        assert!(
            config
                .generator(VarStore::new(Device::Cpu).root())
                .is_none(),
            "{arch}"
        );
        assert!(config.kv_layout().is_none(), "{arch}");
        let reason = run_benchmark::models::no_generation_reason(model_type);
        assert!(reason.contains(why), "{arch}: {reason}");
        assert!(!reason.contains('\n'), "{arch}: {reason}");
    }
}

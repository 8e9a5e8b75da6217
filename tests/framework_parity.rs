//! Cross-framework parity: the same weights and token ids through our PyTorch model (tch,
//! itself proven against transformers in tests/parity) and through the TensorFlow graph of
//! the graph child (`run-benchmark-graph parity`, crates/graph-child), in f32: logits within
//! 1e-4, the training loss within 1e-5 relative, every gradient within 1e-4 relative (its
//! largest difference over its largest magnitude), with and without XLA; and through ONNX
//! Runtime (`parity --onnxruntime`): logits within 1e-4 and the loss within 1e-5 relative.
//!
//! Needs the graph child built (`cargo build --release --workspace`, as `make test` does) and
//! TensorFlow's and ONNX Runtime's libraries (`make tensorflow onnxruntime`).

use run_benchmark::models::{self, Task};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use tch::{nn::VarStore, Device, Kind, Tensor};

/// The graph child beside this test's own binary (target/release/deps/..).
fn graph_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = release.join("run-benchmark-graph");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --release --workspace)",
        path.display()
    );
    path
}

/// The largest |a - b| and the largest |b|.
fn differences(ours: &Tensor, theirs: &Tensor) -> (f64, f64) {
    assert_eq!(ours.size(), theirs.size(), "shapes differ");
    let diff = (ours - theirs).abs().max().double_value(&[]);
    let scale = theirs.abs().max().double_value(&[]);
    (diff, scale)
}

/// Builds `config`'s model with tch (language-model head, or the bare model), perturbs every
/// parameter (so LayerNorm weights are not all ones), computes the output, the loss with
/// labels = input_ids and its gradients, runs the graph child on the same weights and ids,
/// and compares.
fn parity(name: &str, config: Value, batch: i64, seq: i64, lm_head: bool, xla: bool) {
    parity_with(name, config, batch, seq, lm_head, xla.then_some("--xla"));
}

/// As [`parity`], the graph child run with `flag` (`--xla`, or `--onnxruntime`: ONNX Runtime
/// infers only, so its output and loss are compared, and it has no gradients).
fn parity_with(name: &str, config: Value, batch: i64, seq: i64, lm_head: bool, flag: Option<&str>) {
    tch::manual_seed(7);
    let dir = tempfile::tempdir().unwrap();
    let arch = models::from_json(&config).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let task = if lm_head {
        Task::LanguageModel
    } else {
        Task::Base
    };
    let model = arch.build(vs.root(), task).unwrap();
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            let noise = Tensor::randn(v.size(), (Kind::Float, Device::Cpu)) * 0.05;
            let _ = v.g_add_(&noise);
        }
    });
    let ids = Tensor::randint(arch.vocab_size(), [batch, seq], (Kind::Int64, Device::Cpu));
    if config["model_type"]
        .as_str()
        .is_some_and(|t| t.contains("roberta"))
    {
        // A padding token (1) inside the sequence: RoBERTa's positions skip it.
        let _ = ids.get(0).get(2).fill_(1);
    }
    let (weights, inputs, out) = (
        dir.path().join("weights.safetensors"),
        dir.path().join("inputs.safetensors"),
        dir.path().join("out.safetensors"),
    );
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    vs.save(&weights).unwrap();
    Tensor::write_safetensors(&[("input_ids", &ids)], &inputs).unwrap();

    let mut command = Command::new(graph_binary());
    command
        .arg("parity")
        .args([&config_path, &weights, &inputs, &out]);
    if !lm_head {
        command.arg("--base");
    }
    command.args(flag);
    let run = command.output().unwrap();
    assert!(
        run.status.success(),
        "{name}: graph child failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let graph: HashMap<String, Tensor> = Tensor::read_safetensors(&out)
        .unwrap()
        .into_iter()
        .collect();

    let output = tch::no_grad(|| model.forward(&ids, None, false).unwrap());
    let (diff, _) = differences(&graph["output"], &output);
    assert!(diff <= 1e-4, "{name}: output differs by {diff:e}");
    if !lm_head {
        return;
    }
    let loss = model.loss(&ids, None, &ids, false).unwrap();
    loss.backward();
    let (ours, theirs) = (graph["loss"].double_value(&[]), loss.double_value(&[]));
    let relative = (ours - theirs).abs() / theirs.abs();
    assert!(
        relative <= 1e-5,
        "{name}: loss {ours} against {theirs} ({relative:e} relative)"
    );
    if flag == Some("--onnxruntime") {
        return;
    }
    let variables = vs.variables();
    let graph_grads: Vec<&String> = graph.keys().filter(|k| k.starts_with("grad.")).collect();
    assert_eq!(
        graph_grads.len(),
        variables.len(),
        "{name}: the graph has gradients of {graph_grads:?}, the PyTorch model {:?} parameters",
        variables.keys().collect::<Vec<_>>()
    );
    for (var, tensor) in &variables {
        let theirs = tensor.grad();
        let ours = graph
            .get(&format!("grad.{var}"))
            .unwrap_or_else(|| panic!("{name}: the graph has no parameter {var}"));
        let (diff, scale) = differences(ours, &theirs);
        if [
            "attention.self.key.bias",
            "attention.k_lin.bias",
            "attention.key.bias",
        ]
        .iter()
        .any(|key_bias| var.ends_with(key_bias))
        {
            // Analytically zero: a key bias adds q·b to every key's score of a query, which
            // the softmax ignores. Both sides hold rounding noise only.
            let ours_max = ours.abs().max().double_value(&[]);
            assert!(
                scale < 1e-6 && ours_max < 1e-6,
                "{name}: {var}: {ours_max:e} and {scale:e}"
            );
            continue;
        }
        assert!(scale > 0.0, "{name}: {var} has a zero gradient");
        assert!(
            diff / scale <= 1e-4,
            "{name}: gradient of {var} differs by {:e} relative",
            diff / scale
        );
    }
}

fn bert() -> Value {
    json!({"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 99,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 37, "max_position_embeddings": 64, "type_vocab_size": 2})
}

fn roberta(model_type: &str) -> Value {
    json!({"model_type": model_type, "architectures": ["RobertaForMaskedLM"], "vocab_size": 99,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 37, "max_position_embeddings": 66, "type_vocab_size": 1,
        "hidden_act": "gelu_new", "layer_norm_eps": 1e-5})
}

/// ELECTRA with embeddings narrower than the hidden states (`embeddings_project`), with the
/// discriminator's head (`ElectraForPreTraining`) or the generator's. The discriminator's
/// loss is a binary cross-entropy against the labels (here the token ids) as floats: with a
/// vocabulary of two they are real 0/1 labels and every term is positive, where ids up to 98
/// make terms of ±100 cancel to a mean near 0, whose relative error says nothing.
fn electra(architecture: &str) -> Value {
    let vocab = if architecture == "ElectraForPreTraining" {
        2
    } else {
        99
    };
    json!({"model_type": "electra", "architectures": [architecture], "vocab_size": vocab,
        "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 37, "max_position_embeddings": 64})
}

/// ALBERT with a factorised embedding, three passes through two groups (0, 0, 1) of two
/// layers each: every shared layer's gradient sums over its passes.
fn albert() -> Value {
    json!({"model_type": "albert", "architectures": ["AlbertForMaskedLM"], "vocab_size": 99,
        "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 3,
        "num_hidden_groups": 2, "inner_group_num": 2, "num_attention_heads": 4,
        "intermediate_size": 37, "max_position_embeddings": 64})
}

fn gpt2() -> Value {
    json!({"model_type": "gpt2", "vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4,
        "n_positions": 64})
}

fn llama() -> Value {
    json!({"model_type": "llama", "vocab_size": 99, "hidden_size": 32, "intermediate_size": 37,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "tie_word_embeddings": false})
}

/// Mistral with a window shorter than the sequence: the sliding mask is exercised.
fn mistral() -> Value {
    json!({"model_type": "mistral", "vocab_size": 99, "hidden_size": 32,
        "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 1, "sliding_window": 4})
}

fn qwen2() -> Value {
    json!({"model_type": "qwen2", "vocab_size": 99, "hidden_size": 32, "intermediate_size": 37,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "tie_word_embeddings": true})
}

fn qwen3() -> Value {
    json!({"model_type": "qwen3", "vocab_size": 99, "hidden_size": 32, "intermediate_size": 37,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "tie_word_embeddings": true})
}

#[test]
fn bert_matches_pytorch() {
    parity("bert", bert(), 2, 7, true, false);
    parity("bert base", bert(), 2, 7, false, false);
}

#[test]
fn roberta_matches_pytorch() {
    parity("roberta", roberta("roberta"), 2, 7, true, false);
    parity("roberta base", roberta("roberta"), 2, 7, false, false);
    parity("xlm-roberta", roberta("xlm-roberta"), 2, 7, true, false);
}

#[test]
fn distilbert_matches_pytorch() {
    let config = json!({"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"],
        "vocab_size": 99, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 37,
        "max_position_embeddings": 64});
    parity("distilbert", config.clone(), 2, 7, true, false);
    parity("distilbert base", config, 2, 7, false, false);
}

#[test]
fn electra_matches_pytorch() {
    parity(
        "electra discriminator",
        electra("ElectraForPreTraining"),
        2,
        7,
        true,
        false,
    );
    parity(
        "electra generator",
        electra("ElectraForMaskedLM"),
        2,
        7,
        true,
        false,
    );
    parity(
        "electra base",
        electra("ElectraForPreTraining"),
        2,
        7,
        false,
        false,
    );
}

#[test]
fn albert_matches_pytorch() {
    parity("albert", albert(), 2, 7, true, false);
    parity("albert base", albert(), 2, 7, false, false);
}

#[test]
fn gpt2_matches_pytorch() {
    parity("gpt2", gpt2(), 2, 7, true, false);
    parity("gpt2 base", gpt2(), 2, 7, false, false);
}

#[test]
fn llama_family_matches_pytorch() {
    parity("llama", llama(), 2, 7, true, false);
    parity("llama base", llama(), 2, 7, false, false);
    parity("mistral", mistral(), 2, 7, true, false);
    parity("qwen2", qwen2(), 2, 7, true, false);
    parity("qwen3", qwen3(), 2, 7, true, false);
}

#[test]
fn xla_matches_pytorch() {
    parity("bert xla", bert(), 2, 7, true, true);
    parity("albert xla", albert(), 2, 7, true, true);
    parity("gpt2 xla", gpt2(), 2, 7, true, true);
    parity("llama xla", llama(), 2, 7, true, true);
}

/// ONNX Runtime (issue 28): every family's output and loss, from the same safetensors file.
#[test]
fn onnxruntime_matches_pytorch() {
    let ort = Some("--onnxruntime");
    parity_with("bert onnxruntime", bert(), 2, 7, true, ort);
    parity_with("bert base onnxruntime", bert(), 2, 7, false, ort);
    let discriminator = electra("ElectraForPreTraining");
    parity_with(
        "electra onnxruntime",
        discriminator.clone(),
        2,
        7,
        true,
        ort,
    );
    parity_with("electra base onnxruntime", discriminator, 2, 7, false, ort);
    let generator = electra("ElectraForMaskedLM");
    parity_with("electra generator onnxruntime", generator, 2, 7, true, ort);
    parity_with("albert onnxruntime", albert(), 2, 7, true, ort);
    parity_with("albert base onnxruntime", albert(), 2, 7, false, ort);
    parity_with("gpt2 onnxruntime", gpt2(), 2, 7, true, ort);
    parity_with("gpt2 base onnxruntime", gpt2(), 2, 7, false, ort);
    parity_with("llama onnxruntime", llama(), 2, 7, true, ort);
    parity_with("llama base onnxruntime", llama(), 2, 7, false, ort);
    parity_with("mistral onnxruntime", mistral(), 2, 7, true, ort);
    parity_with("qwen2 onnxruntime", qwen2(), 2, 7, true, ort);
    parity_with("qwen3 onnxruntime", qwen3(), 2, 7, true, ort);
}

//! Padding with an attention mask changes no real token's output: for every family that
//! takes a mask, on the fixtures' transformers weights (randomised, so attention is far from
//! uniform), a batch of a padded row and a full row through `forward` with a mask gives each
//! row's real tokens the outputs of that row alone through `forward`, which the parity tests
//! hold to transformers; the loss ignores padding too (the MoE router's balance included).
//! Families without a mask say so, and say it before any cell through
//! `Architecture::takes_attention_mask`, which these tests hold to what the models do.

use crate::common::{check, Fixture};
use run_benchmark::models::layers::masked_labels;
use run_benchmark::models::{self, Task};
use tch::{Device, Kind, Tensor};

/// Real tokens of row 0, then padding up to SEQ; row 1 has no padding.
const REAL: i64 = 5;
const SEQ: i64 = 8;

fn padding_changes_no_real_token(arch: &str, prefix: &str, tasks: &[Task], pad_id: i64) {
    padding_changes_no_real_output(arch, prefix, tasks, pad_id, true)
}

/// `with_loss`: also the loss of the padded row against the row alone.
fn padding_changes_no_real_output(
    arch: &str,
    prefix: &str,
    tasks: &[Task],
    pad_id: i64,
    with_loss: bool,
) {
    let fx = Fixture::open(arch);
    let config = fx.architecture();
    assert!(
        config.takes_attention_mask(),
        "{arch} says it takes no mask"
    );
    tch::manual_seed(7);
    let ids = Tensor::randint_low(5, config.vocab_size(), [2, SEQ], (Kind::Int64, Device::Cpu));
    let mask =
        Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]).view([2, SEQ]);
    let padded = ids.where_self(&mask.ne(0), &ids.full_like(pad_id));
    let short = padded.narrow(0, 0, 1).narrow(1, 0, REAL);
    let full_row = padded.narrow(0, 1, 1);
    for &task in tasks {
        let (_vs, model) = fx.load(prefix, |p| config.build(p, task).unwrap());
        tch::no_grad(|| {
            let masked = model.forward(&padded, Some(&mask), false).unwrap();
            let alone = model.forward(&short, None, false).unwrap();
            // Per-token outputs are cut to the real tokens; a pooled output (batch, hidden)
            // is compared whole.
            let row0 = masked.narrow(0, 0, 1);
            let row0 = match alone.size()[1] == REAL {
                true => row0.narrow(1, 0, REAL),
                false => row0,
            };
            check(arch, &format!("{task:?} padded row"), &row0, &alone);
            let row1 = model.forward(&full_row, None, false).unwrap();
            check(
                arch,
                &format!("{task:?} full row"),
                &masked.narrow(0, 1, 1),
                &row1,
            );
            if with_loss && task == Task::LanguageModel {
                let (ids0, mask0) = (padded.narrow(0, 0, 1), mask.narrow(0, 0, 1));
                let labels = masked_labels(&ids0, &mask0);
                let loss = model.loss(&ids0, Some(&mask0), &labels, false).unwrap();
                check(
                    arch,
                    "padded loss",
                    &loss,
                    &model.loss(&short, None, &short, false).unwrap(),
                );
            }
        });
    }
}

const BOTH: &[Task] = &[Task::Base, Task::LanguageModel];

#[test]
fn bert_family_ignores_padding() {
    padding_changes_no_real_token("bert", "bert", BOTH, 0);
    padding_changes_no_real_token("albert", "albert", BOTH, 0);
    padding_changes_no_real_token("distilbert", "distilbert", BOTH, 0);
    // RoBERTa's positions skip padding ids, as transformers' create_position_ids_from_input_ids.
    padding_changes_no_real_token("roberta", "roberta", BOTH, 1);
    padding_changes_no_real_token("xlm-roberta", "roberta", BOTH, 1);
    // The discriminator (ElectraForPreTraining) has per-token logits; its loss below.
    padding_changes_no_real_token("electra", "electra", &[Task::Base], 0);
}

#[test]
fn newer_encoders_ignore_padding() {
    // ModernBERT's local layers (window 4 of 8) hide padding inside the window too.
    padding_changes_no_real_token("modernbert", "model", BOTH, 0);
    // DeBERTa-v3 (log-bucketed relative positions) and v2 (absolute positions as well).
    padding_changes_no_real_token("deberta", "deberta", BOTH, 0);
    padding_changes_no_real_token("deberta_v2_variant", "deberta", BOTH, 0);
}

#[test]
fn electra_discriminator_ignores_padding() {
    let fx = Fixture::open("electra");
    let config = fx.architecture();
    let (_vs, model) = fx.load("electra", |p| config.build(p, Task::LanguageModel).unwrap());
    let ids = Tensor::from_slice(&[7i64, 8, 9, 10, 11, 0, 0, 0]).view([1, SEQ]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    tch::no_grad(|| {
        let masked = model.forward(&ids, Some(&mask), false).unwrap();
        let alone = model.forward(&ids.narrow(1, 0, REAL), None, false).unwrap();
        check(
            "electra",
            "discriminator padded row",
            &masked.narrow(1, 0, REAL),
            &alone,
        );
        // The BCE loss over the real tokens only, as transformers' active_loss.
        let labels = masked_labels(&ids, &mask);
        let loss = model.loss(&ids, Some(&mask), &labels, false).unwrap();
        let short = ids.narrow(1, 0, REAL);
        let want = model.loss(&short, None, &short, false).unwrap();
        check("electra", "discriminator padded loss", &loss, &want);
    });
}

#[test]
fn gpt2_ignores_padding() {
    padding_changes_no_real_token("gpt2", "transformer", BOTH, 0);
    padding_changes_no_real_token("gpt2_variant", "transformer", BOTH, 0);
}

#[test]
fn llama_family_ignores_padding() {
    // Mistral's sliding window (4) is shorter than the sequence: window and padding together.
    for arch in ["llama", "llama3_scaled", "mistral", "qwen2", "qwen3"] {
        padding_changes_no_real_token(arch, "model", BOTH, 0);
    }
    // Mixtral and Qwen3-MoE route padding tokens too, which changes no real token's experts;
    // the load-balancing loss leaves them out (as transformers given the mask), so the
    // padded row's loss, router term included, is the row's alone.
    for arch in ["mixtral", "qwen3_moe"] {
        padding_changes_no_real_token(arch, "model", BOTH, 0);
    }
}

#[test]
fn gemma_and_phi3_ignore_padding() {
    // Gemma 2/3 add soft-capped and sliding-window layers; Phi-3 a sliding window (5 of 8)
    // and LongRoPE, whose long factors apply at 5 and 8 tokens alike (original length 4).
    for arch in ["gemma", "gemma2", "gemma3", "phi3"] {
        padding_changes_no_real_token(arch, "model", BOTH, 0);
    }
}

#[test]
fn t5_ignores_padding() {
    // Encoder, decoder (the same ids, as the benchmark feeds them) and cross-attention.
    padding_changes_no_real_token("t5", "transformer", BOTH, 0);
    padding_changes_no_real_token("flan_t5", "transformer", BOTH, 0);
}

#[test]
fn families_without_a_mask_say_so() {
    for arch in ["bart", "gpt_neo", "gpt_neox", "opt", "phi"] {
        let fx = Fixture::open(arch);
        let config = fx.architecture();
        assert!(
            !config.takes_attention_mask(),
            "{arch} says it takes a mask"
        );
        let model = config
            .build(tch::nn::VarStore::new(Device::Cpu).root(), Task::Base)
            .unwrap();
        let ids = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
        let err = model.forward(&ids, Some(&ids), false).err().unwrap();
        assert_eq!(err.to_string(), models::NO_MASK, "{arch}");
    }
}

//! ViT against transformers' ViTModel and ViTForImageClassification (fixtures in
//! tests/fixtures/parity/vit, written by scripts/parity_oracle.py): patch convolution, class
//! token, pre-LayerNorm layers, the pooler with its own output size, the classifier, and
//! position embeddings interpolated for an image larger than the config's.

use crate::common::{check, trains_on, Fixture};
use run_benchmark::models::vit::{ViTConfig, ViTForImageClassification, ViTModel};
use run_benchmark::models::{Model, Task};

const ARCH: &str = "vit";

#[test]
fn vit_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let c: &ViTConfig = &fx.config();
    let pixels = fx.expected("pixel_values");

    tch::no_grad(|| {
        // The base model's paths carry no `vit.` prefix; load_safetensors finds them under
        // `vit.*` in the file.
        let (_vs, base) = fx.load("vit", |p| ViTModel::new(p, c, true));
        let hidden = base.encode(pixels, false).unwrap();
        fx.check("last_hidden_state", &hidden);
        fx.check(
            "pooler_output",
            &base.pool(&hidden).expect("built with a pooler"),
        );
        // 48 pixels: 6x6 patches against a table of 4x4, resized bicubically.
        let wide = base.encode(fx.expected("pixel_values_48"), false).unwrap();
        fx.check("last_hidden_state_48", &wide);

        let (_vs, head) = fx.load("vit", |p| ViTForImageClassification::new(p, c));
        fx.check("cls_logits", &head.logits(pixels, false).unwrap());
        let loss = Model::loss(&head, pixels, None, fx.expected("labels"), false).unwrap();
        fx.check("cls_loss", &loss);
    });
}

/// The modules the benchmark itself builds (`Architecture::build`) compute the same.
#[test]
fn vit_built_by_task_matches_transformers() {
    let fx = Fixture::open(ARCH);
    let pixels = fx.expected("pixel_values");
    tch::no_grad(|| {
        for (task, name) in [
            (Task::Base, "pooler_output"),
            (Task::LanguageModel, "cls_logits"),
        ] {
            let (_vs, model) = fx.load("vit", |p| fx.architecture().build(p, task).unwrap());
            let out = model.forward(pixels, None, false).unwrap();
            check(
                ARCH,
                &format!("{task:?} forward ({name})"),
                &out,
                fx.expected(name),
            );
        }
    });
}

/// Training runs through the classification loss against the fixture's labels, with a
/// gradient into every parameter (class token and position embeddings included).
#[test]
fn vit_trains() {
    trains_on(ARCH, "vit", ("pixel_values", "labels"), "cls_loss");
}

//! ViT (Dosovitskiy et al., 2020, "An Image is Worth 16x16 Words: Transformers for Image
//! Recognition at Scale"), following transformers' `modeling_vit.py`: the image cut into
//! patch_size² patches by a strided convolution, a class token, learned position embeddings,
//! pre-LayerNorm encoder layers and a final `layernorm`. `ViTModel` (with pooler) is the base
//! model and `ViTForImageClassification` (`vit.*`, `classifier` on the class token) the head.
//! A cell's size is the image side: sizes other than `image_size` interpolate the position
//! embeddings bicubically, as `interpolate_pos_encoding=True` does. Parameter paths are the
//! checkpoint's: `vit.encoder.layer.0.attention.attention.query.weight`.

use super::layers::Apply;
use super::layers::{dropout, merge_heads, split_heads, Activation, LayerNorm, Linear};
use super::{no_mask, Architecture, Model, Task};
use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

pub use run_benchmark_core::spec::vit::*;

/// `ViTLayer`: `x + attention(layernorm_before(x))`, then
/// `x + output(act(intermediate(layernorm_after(x))))`.
struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    layernorm_before: LayerNorm,
    layernorm_after: LayerNorm,
    intermediate: Linear,
    output: Linear,
    heads: i64,
    activation: Activation,
    hidden_dropout: f64,
    probs_dropout: f64,
}

impl Layer {
    fn new(p: nn::Path, c: &ViTConfig) -> Self {
        let (h, i, std) = (c.hidden_size, c.intermediate_size, c.initializer_range);
        let attention = &p / "attention";
        let qkv = |name: &str| Linear::new(&attention / "attention" / name, h, h, c.qkv_bias, std);
        let norm = |name: &str| LayerNorm::new(&p / name, h, c.layer_norm_eps);
        Layer {
            query: qkv("query"),
            key: qkv("key"),
            value: qkv("value"),
            attention_output: Linear::new(&attention / "output" / "dense", h, h, true, std),
            layernorm_before: norm("layernorm_before"),
            layernorm_after: norm("layernorm_after"),
            intermediate: Linear::new(&p / "intermediate" / "dense", h, i, true, std),
            output: Linear::new(&p / "output" / "dense", i, h, true, std),
            heads: c.num_attention_heads,
            activation: c.hidden_act,
            hidden_dropout: c.hidden_dropout_prob,
            probs_dropout: c.attention_probs_dropout_prob,
        }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let normed = self.layernorm_before.forward(xs);
        let q = split_heads(&self.query.forward(&normed), self.heads);
        let k = split_heads(&self.key.forward(&normed), self.heads);
        let v = split_heads(&self.value.forward(&normed), self.heads);
        let p = if train { self.probs_dropout } else { 0.0 };
        let context =
            Tensor::scaled_dot_product_attention::<Tensor>(&q, &k, &v, None, p, false, None, false);
        let attended = dropout(
            self.attention_output.forward(&merge_heads(&context)),
            self.hidden_dropout,
            train,
        );
        let xs = attended + xs;
        let inner = self.activation.apply(
            &self
                .intermediate
                .forward(&self.layernorm_after.forward(&xs)),
        );
        dropout(self.output.forward(&inner), self.hidden_dropout, train) + xs
    }
}

/// `ViTModel`: `embeddings` (`cls_token`, `position_embeddings`,
/// `patch_embeddings.projection`), `encoder.layer`, `layernorm` and an optional `pooler`.
pub struct ViTModel {
    cls_token: Tensor,
    position_embeddings: Tensor,
    projection: Linear,
    layers: Vec<Layer>,
    layernorm: LayerNorm,
    pooler: Option<(Linear, Activation)>,
    config: ViTConfig,
}

impl ViTModel {
    pub fn new(p: nn::Path, c: &ViTConfig, pooler: bool) -> Self {
        let (h, std) = (c.hidden_size, c.initializer_range);
        let embeddings = &p / "embeddings";
        let positions = c.patches_per_side(c.image_size).pow(2) + 1;
        let randn = nn::Init::Randn {
            mean: 0.0,
            stdev: std,
        };
        // The convolution's weight (hidden, channels, patch, patch) as a Linear's parts.
        let patch = c.patch_size;
        let projection = &embeddings / "patch_embeddings" / "projection";
        let layer = &p / "encoder" / "layer";
        ViTModel {
            cls_token: embeddings.var("cls_token", &[1, 1, h], randn),
            position_embeddings: embeddings.var("position_embeddings", &[1, positions, h], randn),
            projection: Linear {
                weight: projection.var("weight", &[h, c.num_channels, patch, patch], randn),
                bias: Some(projection.var("bias", &[h], nn::Init::Const(0.0))),
            },
            layers: (0..c.num_hidden_layers)
                .map(|i| Layer::new(&layer / i, c))
                .collect(),
            layernorm: LayerNorm::new(&p / "layernorm", h, c.layer_norm_eps),
            pooler: pooler.then(|| {
                let dense = Linear::new(&p / "pooler" / "dense", h, c.pooler_size(), true, std);
                (dense, c.pooler_act)
            }),
            config: c.clone(),
        }
    }

    /// The position embeddings for an image of side `size`: the table itself at
    /// `image_size`, else its patch rows resized bicubically (`interpolate_pos_encoding`).
    fn positions(&self, size: i64) -> Tensor {
        let c = &self.config;
        if size == c.image_size {
            return self.position_embeddings.shallow_clone();
        }
        let (side, new_side) = (c.patches_per_side(c.image_size), c.patches_per_side(size));
        let class = self.position_embeddings.narrow(1, 0, 1);
        let grid = self
            .position_embeddings
            .narrow(1, 1, side * side)
            .reshape([1, side, side, c.hidden_size])
            .permute([0, 3, 1, 2]);
        let resized = grid
            .upsample_bicubic2d([new_side, new_side], false, None, None)
            .permute([0, 2, 3, 1])
            .reshape([1, -1, c.hidden_size]);
        Tensor::cat(&[class, resized], 1)
    }

    /// Last hidden state (batch, 1 + patches, hidden) of `pixel_values` (batch, channels,
    /// size, size), after the final `layernorm`.
    pub fn encode(&self, pixel_values: &Tensor, train: bool) -> Result<Tensor> {
        let (b, channels, height, width) = pixel_values.size4()?;
        if channels != self.config.num_channels || height != width {
            bail!(
                "pixel values are {channels}x{height}x{width}; the model takes square images \
                 of num_channels {}",
                self.config.num_channels
            );
        }
        let patch = self.config.patch_size;
        if height < patch {
            bail!("image size {height} is smaller than patch_size {patch}");
        }
        let patches = pixel_values
            .f_conv2d(
                &self.projection.weight,
                self.projection.bias.as_ref(),
                [patch, patch],
                [0, 0],
                [1, 1],
                1,
            )?
            .flatten(2, -1)
            .transpose(1, 2);
        let xs = Tensor::cat(&[self.cls_token.expand([b, -1, -1], false), patches], 1)
            + self.positions(height);
        let mut xs = dropout(xs, self.config.hidden_dropout_prob, train);
        for layer in &self.layers {
            xs = layer.forward(&xs, train);
        }
        Ok(self.layernorm.forward(&xs))
    }

    /// The pooler's activation of dense(class token); None without a pooler.
    pub fn pool(&self, hidden: &Tensor) -> Option<Tensor> {
        self.pooler
            .as_ref()
            .map(|(dense, act)| act.apply(&dense.forward(&hidden.select(1, 0))))
    }
}

/// `ViTForImageClassification`: `vit` without pooler, `classifier` on the class token.
pub struct ViTForImageClassification {
    vit: ViTModel,
    classifier: Linear,
}

impl ViTForImageClassification {
    pub fn new(p: nn::Path, c: &ViTConfig) -> Self {
        let classifier = Linear::new(
            &p / "classifier",
            c.hidden_size,
            c.labels(),
            true,
            c.initializer_range,
        );
        ViTForImageClassification {
            vit: ViTModel::new(&p / "vit", c, false),
            classifier,
        }
    }

    pub fn logits(&self, pixel_values: &Tensor, train: bool) -> Result<Tensor> {
        let hidden = self.vit.encode(pixel_values, train)?;
        Ok(self.classifier.forward(&hidden.select(1, 0)))
    }
}

impl Model for ViTModel {
    fn forward(&self, pixel_values: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        let hidden = self.encode(pixel_values, train)?;
        Ok(self.pool(&hidden).unwrap_or(hidden))
    }

    fn loss(&self, _: &Tensor, _: Option<&Tensor>, _: &Tensor, _: bool) -> Result<Tensor> {
        bail!("ViTModel has no classification head; train ViTForImageClassification instead")
    }
}

impl Model for ViTForImageClassification {
    fn forward(&self, pixel_values: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<Tensor> {
        no_mask(mask)?;
        self.logits(pixel_values, train)
    }

    /// transformers' single-label classification loss: mean cross-entropy of the float32
    /// logits against `labels` (batch), class indices.
    fn loss(
        &self,
        pixel_values: &Tensor,
        mask: Option<&Tensor>,
        labels: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        no_mask(mask)?;
        let logits = self.logits(pixel_values, train)?.to_kind(Kind::Float);
        Ok(super::layers::lm_loss(&logits, labels))
    }
}

impl Architecture for ViTConfig {
    /// Pixels ~ N(0, 1) (normalised images), (batch, channels, size, size), in the model's
    /// dtype; labels are random classes.
    fn random_inputs(&self, batch: i64, size: i64, kind: Kind, device: Device) -> (Tensor, Tensor) {
        let pixels = Tensor::randn([batch, self.num_channels, size, size], (kind, device));
        let labels = Tensor::randint(self.labels(), [batch], (Kind::Int64, device));
        (pixels, labels)
    }

    fn build(&self, p: nn::Path, task: Task) -> Result<Box<dyn Model>> {
        Ok(match task {
            Task::Base => Box::new(ViTModel::new(p, self, true)),
            Task::LanguageModel => Box::new(ViTForImageClassification::new(p, self)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::parse_config;
    use crate::models::{InputKind, Spec};

    fn vit_base() -> ViTConfig {
        let text = crate::hub::embedded("google/vit-base-patch16-224")
            .unwrap()
            .1;
        parse_config(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn vit_base_is_about_17_gflops_per_image() {
        // The paper's 17.6 GFLOPs (multiply-adds counted once: 2x here is ~35 GFLOP) for
        // ViT-B/16 at 224: 196 patches + 1 class token through 86M parameters.
        let f = vit_base().forward_flops(1, 224, Task::LanguageModel);
        assert!((3.4e10..3.6e10).contains(&f), "{f:e}");
    }

    #[test]
    fn the_size_is_the_image_side() {
        let c = vit_base();
        assert_eq!(
            c.input_kind(),
            InputKind::Pixels {
                channels: 3,
                patch_size: 16
            }
        );
        assert_eq!(c.input_kind().tokens(224), 196);
        let (pixels, labels) = c.random_inputs(2, 32, Kind::Float, Device::Cpu);
        assert_eq!(
            (pixels.size(), labels.size()),
            (vec![2, 3, 32, 32], vec![2])
        );
        // The published config names ImageNet-1k's classes: num_labels is id2label's
        // length, as PretrainedConfig counts it.
        assert_eq!(c.labels(), 1000);
    }

    #[test]
    fn errors_name_the_key() {
        let err = from_json(&serde_json::json!({"image_size": 30, "patch_size": 16})).unwrap_err();
        assert!(err.to_string().contains("image_size 30"), "{err}");
        let err = from_json(&serde_json::json!({"image_size": [224, 224]})).unwrap_err();
        assert!(err.to_string().contains("image_size"), "{err}");
    }
}

//! One built libtorch model and its calls: the inputs (random token ids or pixels from
//! `Architecture::random_inputs`, or the user's text through the tokenizer with an attention
//! mask), an inference forward pass or a training step, and greedy decoding over the
//! model's KV cache (`models::kv_cache`).

use super::device::{kind, ran, tch_device};
use crate::cell::{Cell, ExpertLoad, Inputs, Mode, Optimizer, Ran, Routing};
use crate::measure::profile::{scope, Part, Profile};
use crate::measure::timing::Timing;
use crate::models::{self, kv_cache::KvCache, layers::masked_labels, Generator};
use crate::tokenize;
use anyhow::{anyhow, bail, Result};
use run_benchmark_core::protocol::Loaded;
use tch::{nn, nn::OptimizerConfig, nn::VarStore, Kind, Tensor};

/// What was built: a model for forward passes and losses, or a generator.
pub enum Built {
    Model(Box<dyn models::Model>),
    Generator(Box<dyn Generator>),
}

/// A built model with its variables, and once made, its inputs.
pub struct TorchModel {
    vs: VarStore,
    config: Box<dyn models::Architecture>,
    built: Built,
    mode: Mode,
    /// The family, for the reason a text input cannot be fed.
    model_type: String,
    inputs: Option<CallInputs>,
    /// Generation: the request under way (the last token picked and the cache).
    request: Option<(Tensor, KvCache)>,
    /// `--weights pretrained`: what loading found.
    pub pretrained: Option<crate::cell::PretrainedWeights>,
    /// Mixture-of-experts models: the routing, top-k and sparse layers.
    experts: Option<(Routing, i64, usize)>,
}

/// What the calls feed the model and the training step needs.
struct CallInputs {
    input: Tensor,
    labels: Tensor,
    attention_mask: Option<Tensor>,
    optimizer: Option<nn::Optimizer>,
    traced: Option<tch::CModule>,
    trainable: Vec<Tensor>,
}

impl TorchModel {
    pub fn new(
        vs: VarStore,
        config: Box<dyn models::Architecture>,
        built: Built,
        cell: &Cell,
    ) -> TorchModel {
        let experts = config.experts().map(|moe| {
            let sparse = moe.sparse_layers.iter().filter(|&&s| s).count();
            (cell.settings.routing(), moe.top_k, sparse)
        });
        TorchModel {
            experts,
            vs,
            config,
            built,
            mode: cell.mode,
            model_type: (cell.config["model_type"].as_str().unwrap_or("this model")).into(),
            inputs: None,
            request: None,
            pretrained: None,
        }
    }

    fn generator(&self) -> Result<&dyn Generator> {
        match &self.built {
            Built::Generator(g) => Ok(g.as_ref()),
            Built::Model(_) => bail!("this model was built for forward passes, not generation"),
        }
    }
}

impl Loaded for TorchModel {
    fn ran(&self) -> Option<Ran> {
        ran(&self.vs).map(|r| Ran {
            pretrained: self.pretrained,
            ..r
        })
    }

    fn make_inputs(&mut self, cell: &Cell) -> Result<()> {
        let settings = &cell.settings;
        let device = tch_device(settings.device);
        let (input, labels, attention_mask) = match &self.built {
            Built::Generator(_) => {
                let shape = [cell.batch_size, cell.sequence_length];
                let ids = Tensor::randint(self.config.vocab_size(), shape, (Kind::Int64, device));
                (ids, Tensor::new(), None)
            }
            Built::Model(_) => inputs(cell, self.config.as_ref(), kind(settings.dtype), device)?,
        };
        let optimizer = match (cell.mode, settings.optimizer) {
            (Mode::Inference | Mode::Generation, _) | (_, Optimizer::None) => None,
            (_, Optimizer::Sgd) => Some(nn::Sgd::default().build(&self.vs, 1e-4)?),
            (_, Optimizer::AdamW) => Some(nn::AdamW::default().build(&self.vs, 1e-4)?),
        };
        let traced = match (settings.framework.torchscript(), &self.built) {
            (true, Built::Model(model)) => {
                // Traced parameters become constants, which must not require gradients.
                self.vs.freeze();
                Some(trace(model.as_ref(), &input)?)
            }
            _ => None,
        };
        self.inputs = Some(CallInputs {
            input,
            labels,
            attention_mask,
            optimizer,
            traced,
            trainable: self.vs.trainable_variables(),
        });
        Ok(())
    }

    fn call(&mut self) -> Result<()> {
        let Built::Model(model) = &self.built else {
            bail!("generation cells are measured by requests, not calls")
        };
        let inputs = (self.inputs.as_mut()).ok_or_else(|| anyhow!("no inputs were made"))?;
        let model_type = &self.model_type;
        // A refused mask says which model and why it had one.
        let masked = |e: anyhow::Error, with_mask: bool| match with_mask {
            true => e.context(format!("{model_type} with text inputs")),
            false => e,
        };
        match (self.mode, &inputs.traced) {
            (Mode::Inference, Some(traced)) => {
                let input = tch::IValue::Tensor(inputs.input.shallow_clone());
                tch::no_grad(|| traced.forward_is(&[input]))?;
            }
            (Mode::Inference, None) => {
                let mask = inputs.attention_mask.as_ref();
                let _logits = tch::no_grad(|| model.forward(&inputs.input, mask, false))
                    .map_err(|e| masked(e, mask.is_some()))?;
            }
            (Mode::Generation, _) => {
                bail!("generation cells are measured by requests, not calls")
            }
            (Mode::Training, _) => {
                // Gradients are zeroed before each call, so every call is one training step
                // (the original let them accumulate).
                match inputs.optimizer.as_mut() {
                    Some(opt) => opt.zero_grad(),
                    None => inputs.trainable.iter_mut().for_each(|v| v.zero_grad()),
                }
                let mask = inputs.attention_mask.as_ref();
                let loss = (model.loss(&inputs.input, mask, &inputs.labels, true))
                    .map_err(|e| masked(e, mask.is_some()))?;
                scope(Part::Backward, || loss.f_backward())?;
                if let Some(opt) = inputs.optimizer.as_mut() {
                    scope(Part::Optimizer, || opt.step());
                }
            }
        }
        Ok(())
    }

    fn prefill(&mut self) -> Result<()> {
        let generator = self.generator()?;
        let prompt = &(self.inputs.as_ref())
            .ok_or_else(|| anyhow!("no inputs were made"))?
            .input;
        let (logits, cache) = tch::no_grad(|| generator.prefill(prompt))?;
        self.request = Some((logits.argmax(-1, true), cache));
        Ok(())
    }

    fn decode_step(&mut self) -> Result<()> {
        let Some((tokens, mut cache)) = self.request.take() else {
            bail!("a decode step before the prefill");
        };
        let logits = tch::no_grad(|| self.generator()?.step(&tokens, &mut cache))?;
        self.request = Some((logits.argmax(-1, true), cache));
        Ok(())
    }

    fn end_request(&mut self) -> u64 {
        (self.request.take()).map_or(0, |(_, cache)| cache.bytes() as u64)
    }

    fn profile(&mut self, cell: &Cell, timing: &Timing) -> Result<Profile> {
        super::profile::breakdown(cell, timing, &mut || self.call())
    }

    /// A forward pass of the eager model on the timed calls' inputs (a training cell's
    /// forward, without its backward: the routing is the forward's), or one request.
    fn expert_load(&mut self, new_tokens: Option<i64>) -> Result<Option<ExpertLoad>> {
        let Some((routing, top_k, sparse_layers)) = self.experts else {
            return Ok(None);
        };
        let (done, counts) = match new_tokens {
            Some(n) => models::moe::counting(|| -> Result<()> {
                self.prefill()?;
                for _ in 1..n {
                    self.decode_step()?;
                }
                self.end_request();
                Ok(())
            }),
            None => {
                let Built::Model(model) = &self.built else {
                    bail!("a generator's routing is counted over a request");
                };
                let inputs =
                    (self.inputs.as_ref()).ok_or_else(|| anyhow!("no inputs were made"))?;
                let train = self.mode == Mode::Training;
                models::moe::counting(|| {
                    tch::no_grad(|| {
                        model.forward(&inputs.input, inputs.attention_mask.as_ref(), train)
                    })
                    .map(|_| ())
                })
            }
        };
        done?;
        // A request passes every sparse layer once per step: sum its steps per layer.
        let experts = counts.first().map_or(0, |c| c.len());
        let mut per_layer = vec![vec![0u64; experts]; sparse_layers];
        for (i, layer) in counts.iter().enumerate() {
            for (total, n) in per_layer[i % sparse_layers.max(1)].iter_mut().zip(layer) {
                *total += n;
            }
        }
        Ok(Some(ExpertLoad::of(routing, top_k, per_layer)))
    }
}

/// The cell's inputs, the labels training uses and, for text, the attention mask: random
/// ones from the family ([`models::Architecture::random_inputs`]), or the text's batch
/// through the tokenizer, whose padding is masked out of the labels too.
fn inputs(
    cell: &Cell,
    config: &dyn models::Architecture,
    kind: tch::Kind,
    device: tch::Device,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let text = match &cell.inputs {
        Inputs::Random => {
            let (input, labels) =
                config.random_inputs(cell.batch_size, cell.sequence_length, kind, device);
            return Ok((input, labels, None));
        }
        Inputs::Text(text) => text,
    };
    for (file, planned) in [
        (&text.text, &text.text_digest),
        (&text.tokenizer, &text.tokenizer_digest),
    ] {
        if tokenize::digest(file)? != *planned {
            bail!("{} changed since the sweep was planned", file.display());
        }
    }
    let tokenizer = tokenize::load(&text.tokenizer)?;
    let passages = tokenize::read_passages(&text.text)?;
    let batch = tokenize::encode_batch(
        &tokenizer,
        &passages,
        cell.batch_size as usize,
        cell.sequence_length as usize,
    )?;
    // The planner counted the padding from the same files; a difference means they changed.
    if batch.padding_tokens != text.padding_tokens || passages.len() != text.passages {
        bail!(
            "{} or {} changed since the sweep was planned",
            text.text.display(),
            text.tokenizer.display()
        );
    }
    let vocab_size = config.vocab_size();
    if let Some(&id) = batch.ids.iter().find(|&&id| id >= vocab_size) {
        bail!(
            "token id {id} of {} is outside the model's vocabulary of {vocab_size}",
            text.tokenizer.display()
        );
    }
    let shape = [cell.batch_size, cell.sequence_length];
    let tensor = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
    let (ids, mask) = (tensor(&batch.ids), tensor(&batch.mask));
    Ok((ids.shallow_clone(), masked_labels(&ids, &mask), Some(mask)))
}

/// The model's inference forward traced into a TorchScript module, as `torch.jit.trace`.
fn trace(model: &dyn models::Model, input_ids: &Tensor) -> Result<tch::CModule> {
    tch::no_grad(|| {
        tch::CModule::create_by_tracing(
            "model",
            "forward",
            &[input_ids.shallow_clone()],
            // Tracing takes an infallible closure; a failing forward is caught by the
            // protocol's catch_unwind and becomes the cell's reason.
            &mut |inputs| {
                vec![model
                    .forward(&inputs[0], None, false)
                    .expect("traced forward")]
            },
        )
    })
    .map_err(|e| anyhow!("tracing failed: {e}"))
}

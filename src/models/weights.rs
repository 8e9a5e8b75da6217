//! Weights: random ones created fast in the var store's dtype, and a Hugging Face
//! `model.safetensors` loaded into a var store whose paths follow the checkpoint names,
//! whether or not the file carries the base-model prefix (`bert.`).

use anyhow::{bail, Context, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, nn::VarStore, Device, Kind, Tensor};

/// Values drawn once per large tensor and repeated across it. A prime length, so that rows of
/// a matrix never line up with the block: no two rows are equal copies (row i starts at
/// i·cols mod BLOCK in it). 2^20 − 3.
const BLOCK: i64 = 1_048_573;

/// A trainable variable `name` of shape `dims` under `p`, in the var store's kind and on its
/// device, holding N(0, std) values (transformers' init for linear and embedding weights).
///
/// Drawing every value with `randn` runs at about 1 GB/s per core, and drawing in float32
/// first would double a 7B model's memory. Instead a tensor larger than [`BLOCK`] is
/// allocated uninitialised in its dtype and filled with one block of N(0, std) values,
/// repeated: memory speed, no float32 copy, and every value still a draw of the right
/// scale. Inside [`sharing_blocks`] the large tensors of one (dtype, device, std) share one
/// block, each starting at its own random rotation of it. Values are never zero and never subnormal in the target dtype (a magnitude below
/// the smallest normal number is raised to it, keeping its sign), so no kernel meets the
/// slow subnormal path and no product is trivially zero.
pub fn normal(p: &nn::Path, name: &str, dims: &[i64], std: f64) -> Tensor {
    let (kind, device) = (p.kind(), p.device());
    if super::shapes::active() {
        // A shape-only build: no draws (their ops have no Meta kernels), no data.
        return p.add(name, Tensor::empty(dims, (kind, device)), true);
    }
    let numel: i64 = dims.iter().product();
    let tensor = if numel <= BLOCK {
        draw(numel, std, kind, device).view(dims)
    } else {
        let doubled = doubled_block(kind, device, std);
        let rotation = Tensor::randint(BLOCK, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
        let block = doubled.narrow(0, rotation, BLOCK);
        let tensor = Tensor::empty(dims, (kind, device));
        populate(&tensor);
        let flat = tensor.view([-1]);
        let mut offset = 0;
        while offset < numel {
            let len = BLOCK.min(numel - offset);
            flat.narrow(0, offset, len).copy_(&block.narrow(0, 0, len));
            offset += len;
        }
        tensor
    };
    p.add(name, tensor, true)
}

/// `n` draws of N(0, std) in `kind`, none zero or subnormal.
fn draw(n: i64, std: f64, kind: Kind, device: Device) -> Tensor {
    let x = Tensor::randn([n], (Kind::Float, device)) * std;
    let smallest = smallest_normal(kind);
    x.abs().clamp_min(smallest).copysign(&x).to_kind(kind)
}

type BlockKey = (Kind, Device, u64);

thread_local! {
    /// The doubled blocks of the build in progress; None outside [`sharing_blocks`].
    static BLOCKS: RefCell<Option<HashMap<BlockKey, Tensor>>> = const { RefCell::new(None) };
}

/// Runs `build` with one block of draws per (dtype, device, std) shared by its large tensors,
/// then frees the blocks. A 7B model has ~290 large tensors: a block each cost ~3 s of draws
/// and ~6 GB of fresh pages for the draw's temporaries (each faulted in and zeroed by the
/// kernel, the build's bottleneck on a VM). Freed afterwards, so no measured figure holds them.
pub fn sharing_blocks<T>(build: impl FnOnce() -> T) -> T {
    BLOCKS.with(|b| *b.borrow_mut() = Some(HashMap::new()));
    let built = build();
    BLOCKS.with(|b| *b.borrow_mut() = None);
    built
}

/// A block of draws twice over, so that any rotation of it is one contiguous window: inside
/// [`sharing_blocks`] the build's own for this key (drawn on first use), else a new one.
fn doubled_block(kind: Kind, device: Device, std: f64) -> Tensor {
    let new = || draw(BLOCK, std, kind, device).repeat([2]);
    BLOCKS.with(|b| match b.borrow_mut().as_mut() {
        Some(blocks) => (blocks.entry((kind, device, std.to_bits())))
            .or_insert_with(new)
            .shallow_clone(),
        None => new(),
    })
}

/// Faults a fresh CPU tensor's pages in with `madvise(MADV_POPULATE_WRITE)` before it is
/// filled: the first write would take a page fault per 4 KiB page, which is what a 7B build
/// spends most of its time on, and the kernel populating the range in one call costs about
/// two thirds of that (`scripts/first_touch.py`). A large tensor is split between the cell's
/// intra-op threads: on a VM whose host has yet to back the memory, two threads took a
/// Mistral-7B build from 26.5 to 15.2 s (and never made it slower,
/// docs/time-to-answer-build-populate-threads.json). An older kernel refuses the advice;
/// the fill then faults the pages in as before.
fn populate(tensor: &Tensor) {
    if tensor.device() != Device::Cpu {
        return;
    }
    const PAGE: usize = 4096;
    let start = tensor.data_ptr() as usize;
    let end = start + tensor.numel() * tensor.kind().elt_size_in_bytes();
    // madvise takes a page-aligned start; the partial first page is faulted by the fill.
    let aligned = start.next_multiple_of(PAGE);
    if end <= aligned {
        return;
    }
    // SAFETY: each range lies inside the tensor's own allocation, and the advice only faults
    // its pages in (writing nothing).
    let advise = |from: usize, len: usize| unsafe {
        libc::madvise(from as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE);
    };
    // Parts of at least 64 MiB: below that a thread costs more than it saves.
    const SMALLEST_PART: usize = 64 << 20;
    let threads = (tch::get_num_threads().max(1) as usize).min((end - aligned) / SMALLEST_PART);
    if threads <= 1 {
        return advise(aligned, end - aligned);
    }
    let part = ((end - aligned) / threads).next_multiple_of(PAGE);
    std::thread::scope(|s| {
        for from in (aligned..end).step_by(part) {
            s.spawn(move || advise(from, part.min(end - from)));
        }
    });
}

/// The smallest positive normal number of a floating-point kind.
fn smallest_normal(kind: Kind) -> f64 {
    match kind {
        Kind::Half => 2f64.powi(-14),
        Kind::Double => f64::MIN_POSITIVE,
        _ => f32::MIN_POSITIVE as f64,
    }
}

/// Copies every variable of `vs` from the file. `prefix` is the base model's name in a
/// head checkpoint (`bert`): a key missing under one spelling is looked up under the other.
/// Tied weights that transformers does not save are shared in the model and need no key.
pub fn load_safetensors(vs: &mut VarStore, path: &Path, prefix: &str) -> Result<()> {
    let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .with_context(|| format!("cannot read weights from {}", path.display()))?
        .into_iter()
        .collect();
    let with_prefix = format!("{prefix}.");
    let mut missing = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            let alternative = match name.strip_prefix(&with_prefix) {
                Some(stripped) => stripped.to_string(),
                None => format!("{with_prefix}{name}"),
            };
            match tensors.get(&name).or_else(|| tensors.get(&alternative)) {
                Some(src) => {
                    if src.size() != var.size() {
                        bail!(
                            "{}: {name} has shape {:?} in the file but {:?} in the model",
                            path.display(),
                            src.size(),
                            var.size()
                        );
                    }
                    var.copy_(&src.to_kind(var.kind()).to_device(var.device()));
                }
                None => missing.push(name),
            }
        }
        Ok(())
    })?;
    if !missing.is_empty() {
        missing.sort();
        bail!(
            "{}: no weights for {} parameter(s): {}",
            path.display(),
            missing.len(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// What loading a checkpoint found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadedWeights {
    /// Values loaded into the model.
    pub values: u64,
    /// Of those, nonzero values below the dtype's smallest normal number (after the cast).
    pub subnormal: u64,
    /// Whether they were set to zero.
    pub flushed: bool,
    /// Tensors of modules the model does not build (a head or pooler), left unread.
    pub skipped: usize,
}

impl LoadedWeights {
    pub fn subnormal_share(&self) -> f64 {
        self.subnormal as f64 / (self.values.max(1)) as f64
    }
}

/// Buffers transformers saves that are not parameters (position ids, rotary frequencies,
/// GPT-2's causal masks): found in a file, they are neither loaded nor unexpected.
const BUFFERS: [&str; 4] = [
    ".position_ids",
    ".inv_freq",
    ".attn.bias",
    ".attn.masked_bias",
];

/// Loads every variable of `vs` from the checkpoint in `dir` (see [`crate::hub::checkpoint_files`]),
/// memory-mapped: each tensor is copied from the file's pages straight into the variable,
/// cast to its dtype on the way (a bf16 checkpoint into a bf16 model is a plain copy, and
/// no float32 copy of the model is ever made). `prefix` is the family's base-model name
/// (`bert`, `model`, `transformer`): a head checkpoint loads into the base model and the
/// other way round. Every variable must have a tensor of its shape; a tensor the model has
/// no place for is an error too, except a head the built base model lacks, the buffers
/// above, and `lm_head.weight` where the head is tied (shared with the embeddings, as
/// transformers ties them). `flush` sets subnormal weights to zero.
pub fn load_pretrained(
    vs: &VarStore,
    dir: &Path,
    prefix: &str,
    flush: bool,
) -> Result<LoadedWeights> {
    let files = crate::hub::checkpoint_files(dir)?;
    let maps = (files.iter())
        .map(|f| {
            let file =
                std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
            // SAFETY: the file is only read, and the map lives until every copy is made;
            // a file changed on disk meanwhile is the user's race, as with any reader.
            // Populated: the kernel faults the pages in at once, not a fault per 4 KiB
            // page during the copies.
            unsafe { memmap2::MmapOptions::new().populate().map(&file) }
                .with_context(|| format!("cannot map {}", f.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let parsed = (maps.iter().zip(&files))
        .map(|(m, f)| {
            safetensors::SafeTensors::deserialize(m)
                .map_err(|e| anyhow::anyhow!("{} is not a safetensors file: {e:?}", f.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut in_file: HashMap<String, usize> = HashMap::new();
    for (i, st) in parsed.iter().enumerate() {
        for name in st.names() {
            in_file.insert(name.clone(), i);
        }
    }
    let with_prefix = format!("{prefix}.");
    let variables = vs.variables();
    let mut used = std::collections::HashSet::new();
    let mut missing = Vec::new();
    let mut loaded = LoadedWeights {
        values: 0,
        subnormal: 0,
        flushed: flush,
        skipped: 0,
    };
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in variables.iter().map(|(n, v)| (n, v.shallow_clone())) {
            let alternative = match name.strip_prefix(&with_prefix) {
                Some(stripped) => stripped.to_string(),
                None => format!("{with_prefix}{name}"),
            };
            let Some((key, &file)) = [name, &alternative]
                .into_iter()
                .find_map(|k| in_file.get_key_value(k.as_str()))
            else {
                missing.push(name.clone());
                continue;
            };
            used.insert(key.clone());
            let view = parsed[file]
                .tensor(key)
                .map_err(|e| anyhow::anyhow!("{}: {key}: {e:?}", files[file].display()))?;
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            if shape != var.size() {
                bail!(
                    "{}: {key} has shape {shape:?} in the file but {:?} in the model",
                    files[file].display(),
                    var.size()
                );
            }
            let from_file = file_tensor(&view, &shape)
                .with_context(|| format!("{}: {key}", files[file].display()))?;
            var.copy_(&from_file);
            let kind = var.kind();
            // In the file's own dtype the bits say it in one pass over the mapped bytes;
            // converted, the model's values are tested (five tensor passes, as slow as they
            // sound: 14x the read time of a bf16 checkpoint when done for every tensor).
            let subnormal = match (from_file.kind() == kind)
                .then(|| count_subnormal(view.data(), view.dtype()))
                .flatten()
            {
                Some(0) => 0,
                _ if !is_float(kind) => 0,
                _ => {
                    let subnormal = var
                        .abs()
                        .lt(smallest_normal(kind))
                        .logical_and(&var.ne(0.0));
                    if flush {
                        let _ = var.masked_fill_(&subnormal, 0.0);
                    }
                    subnormal.sum(Kind::Int64).int64_value(&[]) as u64
                }
            };
            loaded.subnormal += subnormal;
            loaded.values += var.numel() as u64;
        }
        Ok(())
    })?;
    if !missing.is_empty() {
        missing.sort();
        bail!(
            "{}: no weights for {} parameter(s) of the model: {}",
            dir.display(),
            missing.len(),
            missing.join(", ")
        );
    }
    // A tensor no variable took: one of a module the model builds is an error; one of a
    // module it does not build (a head or pooler the task leaves out) is skipped, as
    // transformers skips them; so are saved buffers and a tied head's copy.
    let tied = !variables.keys().any(|n| n.ends_with("lm_head.weight"));
    let parent = |k: &str| {
        k.rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_string())
    };
    let built: std::collections::HashSet<String> = (variables.keys())
        .flat_map(|n| {
            let p = parent(n);
            let other = match p.strip_prefix(&with_prefix) {
                Some(stripped) => stripped.to_string(),
                None => format!("{with_prefix}{p}"),
            };
            [p, other]
        })
        .collect();
    let mut unexpected = Vec::new();
    for key in in_file.keys().filter(|k| !used.contains(*k)) {
        if BUFFERS.iter().any(|b| key.ends_with(b)) || (tied && key.ends_with("lm_head.weight")) {
            continue;
        }
        match built.contains(&parent(key)) {
            true => unexpected.push(key.as_str()),
            false => loaded.skipped += 1,
        }
    }
    if !unexpected.is_empty() {
        unexpected.sort();
        bail!(
            "{}: {} tensor(s) of the file have no place in the model: {}",
            dir.display(),
            unexpected.len(),
            unexpected.join(", ")
        );
    }
    Ok(loaded)
}

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Float | Kind::BFloat16 | Kind::Half | Kind::Double
    )
}

/// Subnormal values among a float tensor's little-endian bytes: exponent bits all zero and
/// mantissa bits not (None for a dtype that has none).
fn count_subnormal(data: &[u8], dtype: safetensors::Dtype) -> Option<u64> {
    use safetensors::Dtype as D;
    fn count<const N: usize>(data: &[u8], exponent: u64, mantissa: u64) -> u64 {
        (data.chunks_exact(N))
            .map(|c| {
                let mut bytes = [0u8; 8];
                bytes[..N].copy_from_slice(c);
                let bits = u64::from_le_bytes(bytes);
                (bits & exponent == 0 && bits & mantissa != 0) as u64
            })
            .sum()
    }
    // Two-byte floats, the checkpoints that matter, in a loop the compiler vectorises.
    // (u32 counts per 2 MiB block: half the time of u64 counts.)
    fn count16(data: &[u8], exponent: u16, mantissa: u16) -> u64 {
        (data.chunks(2 << 20))
            .map(|block| {
                (block.chunks_exact(2))
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .fold(0u32, |n, bits| {
                        n + (bits & exponent == 0 && bits & mantissa != 0) as u32
                    }) as u64
            })
            .sum()
    }
    Some(match dtype {
        D::BF16 => count16(data, 0x7F80, 0x007F),
        D::F16 => count16(data, 0x7C00, 0x03FF),
        D::F32 => count::<4>(data, 0x7F80_0000, 0x007F_FFFF),
        D::F64 => count::<8>(data, 0x7FF0_0000_0000_0000, 0x000F_FFFF_FFFF_FFFF),
        _ => return None,
    })
}

/// A file tensor as a libtorch tensor on the mapped bytes (no copy) where they are aligned
/// for its element type, else a copy of this one tensor in the file's dtype.
fn file_tensor(view: &safetensors::tensor::TensorView<'_>, shape: &[i64]) -> Result<Tensor> {
    use safetensors::Dtype as D;
    let kind = match view.dtype() {
        D::F32 => Kind::Float,
        D::F16 => Kind::Half,
        D::BF16 => Kind::BFloat16,
        D::F64 => Kind::Double,
        D::I64 => Kind::Int64,
        D::I32 => Kind::Int,
        D::I8 => Kind::Int8,
        D::U8 => Kind::Uint8,
        D::BOOL => Kind::Bool,
        other => bail!("dtype {other:?} is not supported"),
    };
    let data = view.data();
    if (data.as_ptr() as usize) % kind.elt_size_in_bytes() != 0 {
        return Ok(Tensor::from_data_size(data, shape, kind));
    }
    let mut strides = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    // SAFETY: `data` holds exactly shape's values of `kind` (safetensors checked the sizes),
    // aligned, and outlives the tensor, which is only read by the copy into the variable.
    Ok(unsafe { Tensor::from_blob(data.as_ptr(), shape, &strides, kind, Device::Cpu) })
}

/// transformers' `base_model_prefix` of a family: the name its head checkpoints put the
/// base model under.
pub fn base_model_prefix(model_type: &str) -> &'static str {
    match model_type {
        "bert" => "bert",
        "roberta" | "xlm-roberta" => "roberta",
        "distilbert" => "distilbert",
        "albert" => "albert",
        "electra" => "electra",
        "deberta-v2" => "deberta",
        "vit" => "vit",
        "gpt2" | "gpt_neo" | "t5" => "transformer",
        "gpt_neox" => "gpt_neox",
        _ => "model",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use tch::Device;

    fn store(kind: Kind) -> VarStore {
        let mut vs = VarStore::new(Device::Cpu);
        vs.set_kind(kind);
        vs
    }

    #[test]
    fn large_weights_are_created_in_the_dtype_with_the_init_scale() {
        for kind in [Kind::Float, Kind::BFloat16, Kind::Half] {
            let vs = store(kind);
            // Larger than one block, and not a multiple of it.
            let w = normal(&vs.root(), "w", &[1100, 1024], 0.02);
            assert_eq!((w.kind(), w.size()), (kind, vec![1100, 1024]));
            assert!(w.requires_grad());
            let w = w.detach().to_kind(Kind::Float);
            let std = w.std(true).double_value(&[]);
            let mean = w.mean(Kind::Float).double_value(&[]);
            assert!((std - 0.02).abs() < 0.0005, "{kind:?}: std {std}");
            assert!(mean.abs() < 0.0005, "{kind:?}: mean {mean}");
            let smallest = w.abs().min().double_value(&[]);
            assert!(smallest >= smallest_normal(kind), "{kind:?}: {smallest}");
            assert!(bool::try_from(w.isfinite().all()).unwrap());
            // The block repeats, but rows do not: with a block of 2^20 values, row 1024
            // would be a copy of row 0.
            let same = w.get(0).eq_tensor(&w.get(1024)).sum(Kind::Int64);
            assert!(same.int64_value(&[]) < 100, "{kind:?}");
        }
    }

    #[test]
    fn large_weights_of_one_build_share_a_block_at_their_own_rotations() {
        let vs = store(Kind::BFloat16);
        let (a, b) = sharing_blocks(|| {
            let a = normal(&vs.root(), "a", &[1100, 1024], 0.02);
            let b = normal(&vs.root(), "b", &[1100, 1024], 0.02);
            (a.detach().view([-1]), b.detach().view([-1]))
        });
        // The same values (one block)...
        let sorted = |t: &Tensor| t.narrow(0, 0, BLOCK).sort(0, false).0;
        assert!(sorted(&a).equal(&sorted(&b)));
        // ...but not the same weights.
        let same = a.eq_tensor(&b).sum(Kind::Int64).int64_value(&[]);
        assert!(same < 10_000, "{same} equal values");
        BLOCKS.with(|b| assert!(b.borrow().is_none(), "the blocks outlive the build"));
    }

    /// A model of two variables, `model.a` (2x3) and `model.b` (4).
    fn two_variables(kind: Kind) -> VarStore {
        let vs = store(kind);
        let p = vs.root() / "model";
        let _ = p.zeros("a", &[2, 3]);
        let _ = p.zeros("b", &[4]);
        vs
    }

    fn write(dir: &Path, file: &str, tensors: &[(&str, Tensor)]) {
        Tensor::write_safetensors(tensors, dir.join(file)).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rb-weights-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn subnormals_are_counted_from_the_bits_of_each_float_dtype() {
        use safetensors::Dtype as D;
        let bytes = |values: &[u16]| {
            values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        };
        // bf16: 1.0, the smallest normal, its largest subnormal, the smallest subnormal,
        // -0.0 and a negative subnormal: three subnormal.
        let bf16 = bytes(&[0x3F80, 0x0080, 0x007F, 0x0001, 0x8000, 0x8001]);
        assert_eq!(count_subnormal(&bf16, D::BF16), Some(3));
        // f16: the smallest normal is 0x0400; 0x03FF and 0x8001 are subnormal.
        let f16 = bytes(&[0x3C00, 0x0400, 0x03FF, 0x8001, 0x0000]);
        assert_eq!(count_subnormal(&f16, D::F16), Some(2));
        let f32: Vec<u8> = [
            1.0f32,
            f32::MIN_POSITIVE,
            f32::MIN_POSITIVE / 4.0,
            -1e-45,
            0.0,
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
        assert_eq!(count_subnormal(&f32, D::F32), Some(2));
        assert_eq!(count_subnormal(&[1, 2, 3], D::U8), None);
    }

    #[test]
    fn a_checkpoint_loads_in_the_model_dtype_with_its_subnormals_counted() {
        let dir = temp_dir("ok");
        let tiny = f32::MIN_POSITIVE as f64 / 4.0;
        let a =
            Tensor::from_slice(&[1.0f32, -2.0, tiny as f32, 0.0, 3.5, -(tiny as f32)]).view([2, 3]);
        let b = Tensor::from_slice(&[0.5f32, 0.25, 1.0, 2.0]);
        // A head this model does not build, and a saved buffer: skipped, not errors.
        let head = Tensor::ones([2], (Kind::Float, Device::Cpu));
        let ids = Tensor::arange(4, (Kind::Int64, Device::Cpu));
        write(
            &dir,
            "model.safetensors",
            &[
                ("model.a", a.shallow_clone()),
                ("model.b", b),
                ("head.w", head),
                ("model.position_ids", ids),
            ],
        );
        for kind in [Kind::Float, Kind::BFloat16] {
            let vs = two_variables(kind);
            let loaded = load_pretrained(&vs, &dir, "model", false).unwrap();
            assert_eq!(
                (loaded.values, loaded.subnormal, loaded.skipped),
                (10, 2, 1),
                "{kind:?}"
            );
            let got = vs.variables()["model.a"].shallow_clone();
            assert_eq!(got.kind(), kind);
            assert!(got.to_kind(Kind::Float).allclose(
                &a.to_kind(kind).to_kind(Kind::Float),
                0.0,
                0.0,
                false
            ));
            // Flushing sets exactly the subnormal values to zero.
            let vs = two_variables(kind);
            let flushed = load_pretrained(&vs, &dir, "model", true).unwrap();
            assert!(flushed.flushed);
            let got = vs.variables()["model.a"].to_kind(Kind::Float);
            let zeros = got.eq(0.0).sum(Kind::Int64).int64_value(&[]);
            assert_eq!(zeros, 3, "{kind:?}");
        }
        // The base model's names without the prefix find the prefixed tensors.
        let vs = store(Kind::Float);
        let _ = vs.root().zeros("a", &[2, 3]);
        let _ = vs.root().zeros("b", &[4]);
        assert!(load_pretrained(&vs, &dir, "model", false).is_ok());
    }

    #[test]
    fn a_sharded_checkpoint_loads_from_its_index() {
        let dir = temp_dir("sharded");
        write(
            &dir,
            "model-00001-of-00002.safetensors",
            &[("model.a", Tensor::ones([2, 3], (Kind::Float, Device::Cpu)))],
        );
        write(
            &dir,
            "model-00002-of-00002.safetensors",
            &[("model.b", Tensor::ones([4], (Kind::Float, Device::Cpu)))],
        );
        std::fs::write(
            dir.join("model.safetensors.index.json"),
            r#"{"metadata": {}, "weight_map": {"model.a": "model-00001-of-00002.safetensors", "model.b": "model-00002-of-00002.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(crate::hub::checkpoint_files(&dir).unwrap().len(), 2);
        let vs = two_variables(Kind::Half);
        let loaded = load_pretrained(&vs, &dir, "model", false).unwrap();
        assert_eq!(loaded.values, 10);
        let sum = vs.variables()["model.b"].sum(Kind::Float).double_value(&[]);
        assert_eq!(sum, 4.0);
    }

    #[test]
    fn missing_unexpected_and_misshaped_tensors_are_errors_naming_them() {
        let dir = temp_dir("bad");
        let ones = |d: &[i64]| Tensor::ones(d, (Kind::Float, Device::Cpu));
        write(&dir, "model.safetensors", &[("model.a", ones(&[2, 3]))]);
        let e = load_pretrained(&two_variables(Kind::Float), &dir, "model", false).unwrap_err();
        assert!(
            format!("{e:#}").contains("no weights for 1 parameter(s) of the model: model.b"),
            "{e:#}"
        );
        write(
            &dir,
            "model.safetensors",
            &[("model.a", ones(&[3, 2])), ("model.b", ones(&[4]))],
        );
        let e = load_pretrained(&two_variables(Kind::Float), &dir, "model", false).unwrap_err();
        assert!(
            format!("{e:#}")
                .contains("model.a has shape [3, 2] in the file but [2, 3] in the model"),
            "{e:#}"
        );
        // A tensor beside the model's own, in a module the model builds.
        write(
            &dir,
            "model.safetensors",
            &[
                ("model.a", ones(&[2, 3])),
                ("model.b", ones(&[4])),
                ("model.c", ones(&[1])),
            ],
        );
        let e = load_pretrained(&two_variables(Kind::Float), &dir, "model", false).unwrap_err();
        assert!(
            format!("{e:#}")
                .contains("1 tensor(s) of the file have no place in the model: model.c"),
            "{e:#}"
        );
        let empty = temp_dir("empty");
        let e = load_pretrained(&two_variables(Kind::Float), &empty, "model", false).unwrap_err();
        assert!(format!("{e:#}")
            .contains("holds neither model.safetensors nor model.safetensors.index.json"));
    }

    #[test]
    fn small_weights_are_independent_draws() {
        let vs = store(Kind::BFloat16);
        let w = normal(&vs.root(), "w", &[64, 32], 1.0);
        assert_eq!(w.kind(), Kind::BFloat16);
        let (distinct, _, _) = w.view([-1]).unique_consecutive(false, false, None);
        assert!(distinct.size()[0] > 1000, "{:?}", distinct.size());
        assert_eq!(vs.variables().len(), 1);
    }
}

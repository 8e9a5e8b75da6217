//! Every [`GraphBuilder`] operation lowered to ONNX and run by the real library, against the
//! same arithmetic written out in Rust; and what the session reports of itself.
//! Needs `make onnxruntime` (CI's `make test` runs it first).

use super::graph::{OnnxGraph, OnnxValue};
use super::library;
use super::session::{feed, Level, OnnxSession, Settings};
use crate::graph::builder::{Binary, Constant, DType, Data, GraphBuilder, Reduce, Unary};
use anyhow::Result;

/// A parameter's deterministic values: small, distinct, of both signs.
fn fill(_name: &str, _shape: &[i64], out: &mut [f32]) -> Result<()> {
    for (i, v) in out.iter_mut().enumerate() {
        *v = ((i * 7) % 11) as f32 * 0.1 - 0.5;
    }
    Ok(())
}

/// Sessions are made one at a time: the thread count is read from /proc/self/task around a
/// session's creation, which another test's session would disturb.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds a graph with `build`, runs it once on `feeds` and returns its outputs.
fn run(
    settings: &Settings,
    feeds: &[Data],
    build: impl FnOnce(&mut OnnxGraph) -> Result<Vec<OnnxValue>>,
) -> (Vec<Vec<f32>>, OnnxSession) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_, environment) = library::environment().expect("make onnxruntime");
    let mut parameters = fill;
    let mut graph = OnnxGraph::new(&mut parameters).unwrap();
    let outputs = build(&mut graph).unwrap();
    let inputs = graph.inputs().to_vec();
    let names: Vec<String> = (0..outputs.len()).map(|i| format!("out{i}")).collect();
    let named: Vec<(&str, &OnnxValue)> = names.iter().map(|n| n.as_str()).zip(&outputs).collect();
    let (model, outputs) = graph.finish(&named).unwrap();
    let mut session = OnnxSession::new(environment, model, inputs, outputs, settings).unwrap();
    let tensors: Vec<_> = session
        .inputs()
        .iter()
        .zip(feeds)
        .map(|(input, data)| feed(input, data).unwrap())
        .collect();
    let values = session.call(&tensors).unwrap();
    (values, session)
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}[{i}]: {g} != {w}"
        );
    }
}

#[test]
fn every_operation_computes_what_the_trait_says() {
    // x: (2, 3, 4), ids: (2, 3).
    let x: Vec<f32> = (0..24).map(|i| i as f32 * 0.1 - 1.0).collect();
    let ids: Vec<i64> = vec![0, 4, 1, 1, 3, 2];
    let mut w = vec![0f32; 20];
    fill("", &[], &mut w).unwrap();
    let settings = Settings {
        level: Level::DisableAll,
        ..Settings::default()
    };
    let (out, _) = run(
        &settings,
        &[Data::F32(x.clone()), Data::I64(ids.clone())],
        |g| {
            let xv = g.input("x", DType::F32, &[2, 3, 4])?;
            let idv = g.input("ids", DType::I64, &[2, 3])?;
            let wv = g.parameter("w", &[5, 4])?;
            let flat = g.reshape(&xv, &[-1, 4])?;
            let linear = g.matmul(&flat, &wv, false, true)?;
            let tanh = g.unary(Unary::Tanh, &xv)?;
            let rsqrt = {
                let sq = g.unary(Unary::Square, &xv)?;
                let one = g.constant(Constant::scalar(1.0))?;
                let pos = g.binary(Binary::Add, &sq, &one)?;
                g.unary(Unary::Rsqrt, &pos)?
            };
            let sig = g.unary(Unary::Sigmoid, &xv)?;
            let neg_exp = {
                let n = g.unary(Unary::Neg, &xv)?;
                g.unary(Unary::Exp, &n)?
            };
            let bias = g.constant(Constant::f32(&[4], vec![1.0, 2.0, 3.0, 4.0]))?;
            let div = g.binary(Binary::Div, &xv, &bias)?;
            let sub = g.binary(Binary::Sub, &xv, &bias)?;
            let soft = g.softmax(&xv)?;
            let logsoft = g.log_softmax(&xv)?;
            let mean = g.reduce(Reduce::Mean, &xv, &[-1], true)?;
            let sum = g.reduce(Reduce::Sum, &xv, &[0, 2], false)?;
            let tr = g.transpose(&xv, &[0, 2, 1])?;
            let cat = g.concat(&[xv.clone(), xv.clone()], 2)?;
            let halves = g.split(&xv, 2, 2)?;
            let sl = g.slice(&xv, &[0, 1, 1], &[-1, 2, 2])?;
            let gathered = g.gather(&wv, &idv)?;
            let one = g.constant(Constant::i64(&[], vec![1]))?;
            let ne = g.not_equal(&idv, &one)?;
            let mask = g.cast(&ne, DType::F32)?;
            let bmm = {
                // (2,3,4) @ (2,3,4)^T: batched, the second transposed.
                g.matmul(&xv, &xv, false, true)?
            };
            Ok(vec![
                linear,
                tanh,
                rsqrt,
                sig,
                neg_exp,
                div,
                sub,
                soft,
                logsoft,
                mean,
                sum,
                tr,
                cat,
                halves[1].clone(),
                sl,
                gathered,
                mask,
                bmm,
            ])
        },
    );
    let at = |b: usize, i: usize, j: usize| x[b * 12 + i * 4 + j];
    let mut want = Vec::new();
    for r in 0..6 {
        for o in 0..5 {
            want.push((0..4).map(|k| x[r * 4 + k] * w[o * 4 + k]).sum::<f32>());
        }
    }
    close(&out[0], &want, "linear");
    close(
        &out[1],
        &x.iter().map(|v| v.tanh()).collect::<Vec<_>>(),
        "tanh",
    );
    close(
        &out[2],
        &x.iter()
            .map(|v| 1.0 / (v * v + 1.0).sqrt())
            .collect::<Vec<_>>(),
        "rsqrt",
    );
    close(
        &out[3],
        &x.iter()
            .map(|v| 1.0 / (1.0 + (-v).exp()))
            .collect::<Vec<_>>(),
        "sigmoid",
    );
    close(
        &out[4],
        &x.iter().map(|v| (-v).exp()).collect::<Vec<_>>(),
        "exp",
    );
    let bias = [1.0f32, 2.0, 3.0, 4.0];
    close(
        &out[5],
        &x.iter()
            .enumerate()
            .map(|(i, v)| v / bias[i % 4])
            .collect::<Vec<_>>(),
        "div",
    );
    close(
        &out[6],
        &x.iter()
            .enumerate()
            .map(|(i, v)| v - bias[i % 4])
            .collect::<Vec<_>>(),
        "sub",
    );
    let mut soft = Vec::new();
    let mut logsoft = Vec::new();
    let mut mean = Vec::new();
    for row in x.chunks(4) {
        let z: f32 = row.iter().map(|v| v.exp()).sum();
        soft.extend(row.iter().map(|v| v.exp() / z));
        logsoft.extend(row.iter().map(|v| v - z.ln()));
        mean.push(row.iter().sum::<f32>() / 4.0);
    }
    close(&out[7], &soft, "softmax");
    close(&out[8], &logsoft, "log_softmax");
    close(&out[9], &mean, "mean");
    let sum: Vec<f32> = (0..3)
        .map(|i| {
            (0..2)
                .flat_map(|b| (0..4).map(move |j| (b, j)))
                .map(|(b, j)| at(b, i, j))
                .sum()
        })
        .collect();
    close(&out[10], &sum, "sum");
    let mut tr = Vec::new();
    for b in 0..2 {
        for j in 0..4 {
            for i in 0..3 {
                tr.push(at(b, i, j));
            }
        }
    }
    close(&out[11], &tr, "transpose");
    let mut cat = Vec::new();
    for row in x.chunks(4) {
        cat.extend_from_slice(row);
        cat.extend_from_slice(row);
    }
    close(&out[12], &cat, "concat");
    let second: Vec<f32> = x.chunks(4).flat_map(|r| r[2..].to_vec()).collect();
    close(&out[13], &second, "split");
    let mut sl = Vec::new();
    for b in 0..2 {
        for i in 1..3 {
            for j in 1..3 {
                sl.push(at(b, i, j));
            }
        }
    }
    close(&out[14], &sl, "slice");
    let gathered: Vec<f32> = ids
        .iter()
        .flat_map(|&r| w[r as usize * 4..r as usize * 4 + 4].to_vec())
        .collect();
    close(&out[15], &gathered, "gather");
    let mask: Vec<f32> = ids
        .iter()
        .map(|&i| if i != 1 { 1.0 } else { 0.0 })
        .collect();
    close(&out[16], &mask, "not_equal + cast");
    let mut bmm = Vec::new();
    for b in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                bmm.push((0..4).map(|k| at(b, i, k) * at(b, j, k)).sum::<f32>());
            }
        }
    }
    close(&out[17], &bmm, "batched matmul");
}

#[test]
fn erf_matches_known_values() {
    let (out, _) = run(
        &Settings::default(),
        &[Data::F32(vec![0.0, 0.5, -1.0, 2.0])],
        |g| {
            let x = g.input("x", DType::F32, &[4])?;
            Ok(vec![g.unary(Unary::Erf, &x)?])
        },
    );
    close(
        &out[0],
        &[0.0, 0.520_499_9, -0.842_700_8, 0.995_322_3],
        "erf",
    );
}

#[test]
fn the_session_reports_what_ran() {
    let settings = Settings {
        level: Level::EnableAll,
        threads: Some(2),
        profile_dir: Some(std::env::temp_dir()),
        save_optimized: None,
    };
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    let build = || {
        run(&settings, &[Data::F32(x.clone())], |g| {
            let x = g.input("x", DType::F32, &[8, 8])?;
            let w = g.parameter("w", &[8, 8])?;
            let y = g.matmul(&x, &w, false, true)?;
            Ok(vec![g.unary(Unary::Tanh, &y)?])
        })
    };
    // The threads are counted in /proc/self/task around the session's creation; a thread of
    // another test of this process (TensorFlow's, the library's) starting or ending meanwhile
    // moves the count, so the best of a few sessions is what this session made.
    let (_, mut session) = build();
    for _ in 0..4 {
        if session.ran.intra_op_threads == 2 {
            break;
        }
        session = build().1;
    }
    assert_eq!(session.ran.level, Level::EnableAll);
    assert_eq!(session.ran.intra_op_threads, 2, "{:?}", session.ran);
    assert_eq!(session.ran.inter_op_threads, 1);
    let placement = session.placement().unwrap().expect("profiled");
    assert_eq!(placement.warning(), None, "{placement:?}");
    assert_eq!(placement.providers.len(), 1);
    // The transpose of the weight is folded away at ORT_ENABLE_ALL: what ran is what the
    // optimiser left, and the profile says so.
    assert!(!placement.ops.contains_key("Transpose"), "{placement:?}");
    assert!(placement.ops_summary().contains("MatMul"), "{placement:?}");
    // Profiling ended: a second request has nothing to read.
    assert!(session.placement().unwrap().is_none());
}

#[test]
fn level_names_parse_in_both_spellings() {
    assert_eq!(Level::parse("ORT_ENABLE_ALL").unwrap(), Level::EnableAll);
    assert_eq!(Level::parse("basic").unwrap(), Level::EnableBasic);
    assert_eq!(Level::parse("disable").unwrap(), Level::DisableAll);
    assert_eq!(Level::parse("all").unwrap(), Level::EnableAll);
    let err = Level::parse("max").unwrap_err().to_string();
    assert!(err.contains("ORT_ENABLE_EXTENDED"), "{err}");
}

/// The Casts a session runs around `op` on a `dtype` input and output: none where the CPU
/// provider has a kernel for `op` in `dtype`; where it has none, the session wraps `op` in
/// casts to f32 and back (ONNX Runtime's InsertCastTransformer) and the profile shows them.
fn casts_around(
    dtype: DType,
    op: impl FnOnce(&mut OnnxGraph, &OnnxValue) -> Result<OnnxValue>,
) -> Result<usize> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (_, environment) = library::environment()?;
    let mut parameters = fill;
    let mut graph = OnnxGraph::new(&mut parameters)?;
    let x = graph.input("x", dtype, &[4, 4])?;
    let y = op(&mut graph, &x)?;
    let inputs = graph.inputs().to_vec();
    let (model, outputs) = graph.finish(&[("y", &y)])?;
    let folder = tempfile::tempdir()?;
    let settings = Settings {
        level: Level::DisableAll,
        profile_dir: Some(folder.path().to_path_buf()),
        ..Settings::default()
    };
    let casts = (|| {
        let mut session = OnnxSession::new(environment, model, inputs, outputs, &settings)?;
        // Zeros of `dtype`, whatever its width: only the placement is read.
        let zeros = ort::value::DynTensor::new(
            &ort::memory::Allocator::default(),
            super::graph::element_type(dtype)?,
            [4i64, 4],
        )?;
        session.run(&[zeros])?;
        let placement = session.placement()?.expect("profiled");
        Ok(placement.ops.get("Cast").copied().unwrap_or(0))
    })();
    // Whether the session ran or failed to build, its profile file is gone.
    let left: Vec<_> = std::fs::read_dir(folder.path())?.collect();
    assert!(left.is_empty(), "profile files left behind: {left:?}");
    casts
}

/// The facts behind `dtype_refusal`: this library's CPU provider runs MatMul, Add and Erf
/// on f32 as they are, wraps them in casts to f32 on f16, and has nothing for bf16.
#[test]
fn the_cpu_provider_has_no_half_precision_kernels() {
    let matmul = |g: &mut OnnxGraph, x: &OnnxValue| g.matmul(x, x, false, false);
    let add = |g: &mut OnnxGraph, x: &OnnxValue| g.binary(Binary::Add, x, x);
    let erf = |g: &mut OnnxGraph, x: &OnnxValue| g.unary(Unary::Erf, x);
    assert_eq!(casts_around(DType::F32, matmul).unwrap(), 0);
    assert!(casts_around(DType::F16, matmul).unwrap() >= 2);
    assert!(casts_around(DType::F16, add).unwrap() >= 2);
    assert!(casts_around(DType::F16, erf).unwrap() >= 2);
    let err = casts_around(DType::BF16, matmul).unwrap_err();
    assert!(
        format!("{err:#}").contains("Could not find an implementation for MatMul"),
        "{err:#}"
    );
}

/// The fused layers (one ONNX op each) compute what their composed form does.
#[test]
fn fused_layers_match_their_composed_form() {
    use crate::graph::layers::{composed_gelu, composed_layer_norm, composed_rms_norm};
    let x: Vec<f32> = (0..48)
        .map(|i| ((i * 37) % 17) as f32 * 0.3 - 2.0)
        .collect();
    let (out, mut session) = run(
        &Settings {
            profile_dir: Some(std::env::temp_dir()),
            ..Settings::default()
        },
        &[Data::F32(x)],
        |g| {
            let x = g.input("x", DType::F32, &[2, 3, 8])?;
            let w = g.parameter("w", &[8])?;
            let b = g.parameter("b", &[8])?;
            Ok(vec![
                g.layer_norm(&x, &w, &b, 1e-5)?,
                composed_layer_norm(g, &x, &w, &b, 1e-5)?,
                g.rms_norm(&x, &w, 1e-6)?,
                composed_rms_norm(g, &x, &w, 1e-6)?,
                g.gelu(&x, false)?,
                composed_gelu(g, &x, false)?,
                g.gelu(&x, true)?,
                composed_gelu(g, &x, true)?,
            ])
        },
    );
    for (i, name) in ["layer_norm", "rms_norm", "gelu", "gelu tanh"]
        .iter()
        .enumerate()
    {
        close(&out[2 * i], &out[2 * i + 1], name);
    }
    let ops = session.placement().unwrap().unwrap().ops;
    for op in ["LayerNormalization", "RMSNormalization", "Gelu"] {
        assert!(ops.contains_key(op), "{op} did not run as one op: {ops:?}");
    }
}

/// The core's protocol drives ONNX Runtime: a tiny BERT's memory and speed cells measure, and
/// what the framework cannot do is N/A with its reason before any work.
#[test]
fn the_protocol_measures_onnxruntime_cells() {
    use super::framework::OnnxRuntime;
    use run_benchmark_core::cell::{
        Cell, CellResult, DeviceChoice, Dtype, Inputs, Metric, Mode, Optimizer, Settings as Core,
    };
    use run_benchmark_core::measure::timing::Protocol;
    use run_benchmark_core::protocol::{cells, Known};
    let cell = |mode: Mode, metric: Metric, dtype: Dtype| Cell {
        model: "tiny-bert".into(),
        config: serde_json::json!({"model_type": "bert", "vocab_size": 99, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}),
        batch_size: 2,
        sequence_length: 8,
        mode,
        metric,
        settings: Core {
            protocol: Protocol::Adaptive {
                warmup: 1,
                warmup_time_s: None,
                min_runs: 3,
                max_runs: 3,
                min_time_s: 0.0,
                precision: None,
                max_time_s: None,
            },
            device: DeviceChoice::Cpu,
            dtype,
            threads: Some(1),
            optimizer: Optimizer::None,
            only_pretrain_model: true,
            framework: run_benchmark_core::cell::Framework::Onnxruntime,
            seed: 3,
            profile: false,
            profile_trace: None,
            onnxruntime_level: None,
            routing: None,
        },
        input: Default::default(),
        inputs: Inputs::Random,
        new_tokens: None,
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let known = |_: &Cell| Ok(Known::default());
    let mut ort = OnnxRuntime::new(Level::EnableAll);
    let group = [
        cell(Mode::Inference, Metric::Memory, Dtype::F32),
        cell(Mode::Inference, Metric::Speed, Dtype::F32),
    ];
    let results = cells(&mut ort, &group, &known, &mut |_| {}).unwrap();
    let CellResult::Memory(memory) = &results[0] else {
        panic!("{:?}", results[0]);
    };
    assert!(
        memory.peak_rss_bytes >= memory.baseline_rss_bytes,
        "{memory:?}"
    );
    // The exact count is checked where a process holds one session (tests/onnxruntime.rs):
    // here the test harness's own threads come and go while the session starts its pool.
    assert!(memory.ran.unwrap().threads >= 1);
    let CellResult::Speed(speed) = &results[1] else {
        panic!("{:?}", results[1]);
    };
    assert_eq!(speed.samples.len(), 3);
    assert!(speed.seconds > 0.0 && speed.build_seconds.unwrap() > 0.0);
    for (mode, dtype, why) in [
        (Mode::Training, Dtype::F32, "inference only"),
        (Mode::Inference, Dtype::Bf16, "no bf16 kernels"),
        (Mode::Inference, Dtype::F16, "no f16 kernels"),
    ] {
        let results = cells(
            &mut ort,
            &[cell(mode, Metric::Speed, dtype)],
            &known,
            &mut |_| {},
        )
        .unwrap();
        let CellResult::NotAvailable { reason } = &results[0] else {
            panic!("{:?}", results[0]);
        };
        assert!(reason.contains(why), "{reason}");
    }
}

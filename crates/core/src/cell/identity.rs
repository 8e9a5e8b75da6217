//! A cell's identity: the one list of the fields that tell a measured cell from another.
//! resume, the sweep loop, compare and merge each compare a projection of it, so a new axis
//! (a Settings field that changes what is measured) is added here once and every use sees it.

use crate::cell::{Axes, Cell, Dtype, Framework, Inputs, Metric, Mode, Routing, Settings};
use serde_json::Value;

/// Every axis of a cell. A projection sets to None the fields its use leaves out on purpose;
/// two identities of the same projection are the same cell when they are equal.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity<'a> {
    pub model: &'a str,
    /// The resolved config (None: compared by name only, as compare does).
    pub config: Option<&'a Value>,
    pub batch_size: i64,
    pub sequence_length: i64,
    pub mode: Mode,
    pub new_tokens: Option<i64>,
    pub metric: Option<Metric>,
    pub inputs: Option<&'a Inputs>,
    pub framework: Option<Framework>,
    pub dtype: Option<Dtype>,
    pub threads: Option<Option<usize>>,
    /// ONNX Runtime's graph optimisation level, onnxruntime cells only (others have none).
    pub onnxruntime_level: Option<Option<&'a str>>,
    /// `--routing` of mixture-of-experts layers (unset and `model` alike); sweep-wide.
    pub routing: Option<Routing>,
    /// The whole settings (seed, protocol, device, optimizer, ...), where a use compares them.
    pub settings: Option<&'a Settings>,
}

impl Cell {
    /// Every field of the cell's identity: what `--resume` matches on.
    pub fn identity(&self) -> Identity<'_> {
        let s = &self.settings;
        Identity {
            model: &self.model,
            config: Some(&self.config),
            batch_size: self.batch_size,
            sequence_length: self.sequence_length,
            mode: self.mode,
            new_tokens: self.new_tokens,
            metric: Some(self.metric),
            inputs: Some(&self.inputs),
            framework: Some(s.framework),
            dtype: Some(s.dtype),
            threads: Some(s.threads),
            onnxruntime_level: Some(onnxruntime_level(s)),
            routing: Some(s.routing()),
            settings: Some(s),
        }
    }

    /// Whether `other` is the same cell, every axis alike (resume).
    pub fn same_cell(&self, other: &Cell) -> bool {
        self.identity() == other.identity()
    }

    /// Whether `other` is the same point: the same cell but for the metric and inputs (the
    /// sweep loop runs a point's memory cell beside its speed cell: one built model serves both).
    pub fn same_point(&self, other: &Cell) -> bool {
        self.identity().point() == other.identity().point()
    }
}

impl<'a> Identity<'a> {
    /// Without the metric and the inputs: the sweep loop's point.
    pub fn point(self) -> Identity<'a> {
        Identity {
            metric: None,
            inputs: None,
            ..self
        }
    }

    /// What compare matches two files' cells on: the model by name, sizes, mode and metric,
    /// and of the settings only the axes that vary (`axes`, of both files): the rest of two
    /// runs' settings may differ and is reported apart.
    pub fn compared(self, axes: &Axes) -> Identity<'a> {
        Identity {
            config: None,
            inputs: None,
            settings: None,
            // Sweep-wide: two files' routings are reported apart, as settings that differ.
            routing: None,
            framework: self.framework.filter(|_| axes.framework_varies()),
            dtype: self.dtype.filter(|_| axes.dtype_varies()),
            threads: self.threads.filter(|_| axes.threads_vary()),
            onnxruntime_level: (self.onnxruntime_level).filter(|_| axes.onnxruntime_level_varies()),
            ..self
        }
    }
}

impl<'a> Identity<'a> {
    /// Only the fields `record` (a shard record's planned cell) holds: merge matches a result
    /// to its planned cell so; the record's plan id covers the sweep-wide settings.
    pub fn recorded(self, record: &Identity) -> Identity<'a> {
        Identity {
            framework: self.framework.filter(|_| record.framework.is_some()),
            dtype: self.dtype.filter(|_| record.dtype.is_some()),
            threads: self.threads.filter(|_| record.threads.is_some()),
            onnxruntime_level: None,
            routing: None,
            settings: None,
            ..self
        }
    }
}

/// The level an onnxruntime cell runs at (unset and the default name alike); None elsewhere.
pub fn onnxruntime_level(settings: &Settings) -> Option<&str> {
    (settings.framework == Framework::Onnxruntime).then(|| settings.onnxruntime_level_name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::shard::{Shard, ShardRecord};
    use crate::cell::{DeviceChoice, Optimizer, TextInputs};

    fn cell() -> Cell {
        Cell {
            model: "bert".into(),
            config: serde_json::json!({"model_type": "bert"}),
            batch_size: 4,
            sequence_length: 16,
            mode: Mode::Inference,
            metric: Metric::Speed,
            settings: Settings {
                protocol: crate::measure::timing::Protocol::Original {
                    repeat: 1,
                    number: 1,
                },
                device: DeviceChoice::Cpu,
                dtype: Dtype::F32,
                threads: None,
                optimizer: Optimizer::None,
                only_pretrain_model: false,
                framework: Framework::Onnxruntime,
                seed: 0,
                profile: false,
                profile_trace: None,
                onnxruntime_level: None,
                routing: None,
            },
            input: Default::default(),
            inputs: Inputs::Random,
            new_tokens: None,
        }
    }

    /// Each axis field, changed alone.
    fn variants() -> Vec<(&'static str, Cell)> {
        let with = |f: &dyn Fn(&mut Cell)| {
            let mut c = cell();
            f(&mut c);
            c
        };
        let text = Inputs::Text(TextInputs {
            tokenizer: "tok.json".into(),
            text: "corpus.txt".into(),
            tokenizer_digest: "00000000000000aa".into(),
            text_digest: "00000000000000bb".into(),
            passages: 3,
            padding_tokens: 0,
            truncated_rows: 0,
            cycled: false,
            pad_token: "[PAD]".into(),
        });
        vec![
            ("model", with(&|c| c.model = "bert-2".into())),
            (
                "config",
                with(&|c| {
                    c.config = serde_json::json!({"model_type": "bert", "num_hidden_layers": 2})
                }),
            ),
            ("batch", with(&|c| c.batch_size = 8)),
            ("sequence", with(&|c| c.sequence_length = 32)),
            ("mode", with(&|c| c.mode = Mode::Training)),
            ("metric", with(&|c| c.metric = Metric::Memory)),
            ("new tokens", with(&|c| c.new_tokens = Some(4))),
            ("inputs", with(&|c| c.inputs = text.clone())),
            (
                "routing",
                with(&|c| c.settings.routing = Some(Routing::Balanced)),
            ),
            ("dtype", with(&|c| c.settings.dtype = Dtype::Bf16)),
            ("threads", with(&|c| c.settings.threads = Some(2))),
            (
                "framework",
                with(&|c| c.settings.framework = Framework::Pytorch),
            ),
            (
                "onnxruntime level",
                with(&|c| c.settings.onnxruntime_level = Some("ORT_ENABLE_BASIC".into())),
            ),
        ]
    }

    #[test]
    fn cells_differing_in_one_axis_are_different_cells_in_resume_compare_and_merge() {
        let a = cell();
        // Equal cells are equal everywhere.
        let b = cell();
        assert!(a.same_cell(&b) && a.same_point(&b));
        let axes = Axes::of([&a, &b]);
        assert_eq!(a.identity().compared(&axes), b.identity().compared(&axes));
        let record = ShardRecord::new(std::slice::from_ref(&a), &[0], Shard { index: 0, count: 1 });
        assert!(record.is(&record.plan[0], &b));
        // The default level named or left unset is one level to compare.
        let mut named = cell();
        named.settings.onnxruntime_level = Some(crate::cell::ONNXRUNTIME_LEVEL.into());
        let axes = Axes::of([&a, &named]);
        assert_eq!(
            a.identity().compared(&axes),
            named.identity().compared(&axes)
        );
        for (axis, b) in variants() {
            assert!(!a.same_cell(&b), "resume: {axis}");
            // compare matches on the axes that vary in the files: here both cells are one file's.
            // Compare matches a model by name and reports differing configs and inputs apart
            // (two runs on other text are one cell measured twice), and the sweep-wide routing likewise.
            let axes = Axes::of([&a, &b]);
            let compared = a.identity().compared(&axes) != b.identity().compared(&axes);
            assert_eq!(
                compared,
                !matches!(axis, "config" | "inputs" | "routing"),
                "compare: {axis}"
            );
            // merge: a cell is another plan's (another plan id), or not the planned cell.
            let one =
                ShardRecord::new(std::slice::from_ref(&a), &[0], Shard { index: 0, count: 1 });
            let other =
                ShardRecord::new(std::slice::from_ref(&b), &[0], Shard { index: 0, count: 1 });
            assert!(
                one.plan_id != other.plan_id || !one.is(&one.plan[0], &b),
                "merge: {axis}"
            );
            // The sweep loop's point leaves out the metric and inputs only.
            let point = !matches!(axis, "metric" | "inputs");
            assert_eq!(!a.same_point(&b), point, "point: {axis}");
        }
        // A level that varies names itself in labels, as compare describes its cells.
        let b = &variants()[12].1;
        assert_eq!(Axes::of([&a, b]).parts(&b.settings), ["ORT_ENABLE_BASIC"]);
    }
}

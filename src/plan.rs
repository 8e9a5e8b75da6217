//! Resolved models and sizes -> the list of cells, in the original's order.

use crate::cell::{Cell, Metric, Mode, Settings};
use crate::hub::ResolvedModel;

/// Which parts of the benchmark run.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub inference: bool,
    pub training: bool,
    pub speed: bool,
    pub memory: bool,
}

impl Scope {
    /// The (mode, metric) sections that run, in the order they are printed.
    pub fn sections(&self) -> Vec<(Mode, Metric)> {
        let mut sections = Vec::new();
        for (mode, on) in [
            (Mode::Inference, self.inference),
            (Mode::Training, self.training),
        ] {
            for (metric, wanted) in [(Metric::Speed, self.speed), (Metric::Memory, self.memory)] {
                if on && wanted {
                    sections.push((mode, metric));
                }
            }
        }
        sections
    }
}

/// For each model, batch size and sequence length: inference memory, inference speed,
/// training memory, training speed (the original's `Benchmark.run` order).
pub fn cells(
    models: &[ResolvedModel],
    batch_sizes: &[i64],
    sequence_lengths: &[i64],
    scope: Scope,
    settings: &Settings,
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for model in models {
        for &batch_size in batch_sizes {
            for &sequence_length in sequence_lengths {
                for (mode, on) in [
                    (Mode::Inference, scope.inference),
                    (Mode::Training, scope.training),
                ] {
                    for (metric, wanted) in
                        [(Metric::Memory, scope.memory), (Metric::Speed, scope.speed)]
                    {
                        if on && wanted {
                            cells.push(Cell {
                                model: model.name.clone(),
                                config: model.config.clone(),
                                batch_size,
                                sequence_length,
                                mode,
                                metric,
                                settings: settings.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::DeviceChoice;
    use serde_json::json;

    fn model(name: &str) -> ResolvedModel {
        ResolvedModel {
            name: name.into(),
            origin: "test".into(),
            config: json!({"model_type": "bert"}),
        }
    }

    fn settings() -> Settings {
        Settings {
            protocol: crate::measure::timing::Protocol::Original {
                repeat: 3,
                number: 10,
            },
            device: DeviceChoice::Cpu,
            dtype: crate::cell::Dtype::F32,
            threads: None,
            optimizer: crate::cell::Optimizer::None,
            only_pretrain_model: false,
            torchscript: false,
            profile: false,
            profile_trace: None,
            seed: 0,
        }
    }

    #[test]
    fn full_sweep_in_original_order() {
        let scope = Scope {
            inference: true,
            training: true,
            speed: true,
            memory: true,
        };
        let cells = cells(
            &[model("a"), model("b")],
            &[1, 8],
            &[8, 32, 128],
            scope,
            &settings(),
        );
        assert_eq!(cells.len(), 2 * 2 * 3 * 4);
        let first: Vec<_> = cells[..4].iter().map(|c| (c.mode, c.metric)).collect();
        assert_eq!(
            first,
            vec![
                (Mode::Inference, Metric::Memory),
                (Mode::Inference, Metric::Speed),
                (Mode::Training, Metric::Memory),
                (Mode::Training, Metric::Speed)
            ]
        );
        assert_eq!((cells[4].batch_size, cells[4].sequence_length), (1, 32));
        assert_eq!(cells[24].model, "b");
    }

    #[test]
    fn scope_limits_cells_and_sections() {
        let scope = Scope {
            inference: true,
            training: false,
            speed: true,
            memory: false,
        };
        let cells = cells(&[model("a")], &[8], &[8, 32], scope, &settings());
        assert_eq!(cells.len(), 2);
        assert!(cells
            .iter()
            .all(|c| c.metric == Metric::Speed && c.mode == Mode::Inference));
        assert_eq!(scope.sections(), vec![(Mode::Inference, Metric::Speed)]);
    }
}

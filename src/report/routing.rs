//! The notes under a speed table for mixture-of-experts rows: which routing each used, how
//! the tokens spread over the experts, and whether the router was a random one.

use crate::cell::{Axes, CellResult, Routing, Row};

/// One note on how the load was counted, then one per mixture-of-experts row; nothing when no
/// row has experts.
pub fn notes(rows: &[&Row], axes: &Axes) -> Vec<String> {
    let mut notes = Vec::new();
    let mut random = Vec::new();
    for (cell, result) in rows {
        let CellResult::Speed(speed) = result else {
            continue;
        };
        let Some(load) = &speed.expert_load else {
            continue;
        };
        if notes.is_empty() {
            notes.push(
                "Experts: the tokens each expert received, counted in one untimed call after \
                 the timed ones, with their inputs (so their routing); load = the busiest \
                 expert's tokens over the mean, tokens x top-k / experts (1.00 is even; a \
                 layer waits for its busiest expert). Routing balanced: the router runs, but \
                 token t's j-th expert is (t x k + j) mod E, weight 1/k."
                    .into(),
            );
        }
        let random_router =
            load.routing == Routing::Model && speed.ran.is_some_and(|ran| ran.pretrained.is_none());
        let what = match (load.routing, random_router) {
            (Routing::Balanced, _) => "balanced routing",
            (Routing::Model, true) => "random router",
            (Routing::Model, false) => "the checkpoint's router",
        };
        let label = format!(
            "{}{} (batch {}, {} {})",
            cell.model,
            axes.describe(&cell.settings),
            cell.batch_size,
            cell.input.size_name(),
            cell.sequence_length
        );
        notes.push(format!(
            "Experts {label}: {what}; {} tokens x top-{} per layer over {} experts: at least {} \
             active in every layer, load up to {:.2} (layers: {}).",
            load.tokens,
            load.top_k,
            load.experts,
            load.min_active_experts,
            load.worst_max_over_mean,
            (load.max_over_mean.iter())
                .map(|l| format!("{l:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if random_router && !random.contains(&cell.model) {
            random.push(cell.model.clone());
        }
    }
    if !random.is_empty() {
        notes.push(format!(
            "Random router ({}): random weights route tokens in a pattern no trained model has \
             (trained routers are often far less even), and each expert's work, hence the \
             time, follows it; --weights pretrained uses the checkpoint's router, --routing \
             balanced an even load.",
            random.join(", ")
        ));
    }
    notes
}

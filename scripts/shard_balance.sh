#!/usr/bin/env bash
# Simulates --shard on equal machines for the seed's sweep (24 cells) and a 500-cell sweep
# (5 models x 5 batch sizes x 5 sequence lengths x inference/training x speed/memory), using
# the planner's own cost estimate, and records each part's estimated load in docs/shard-balance.md.
# Usage: scripts/shard_balance.sh   (after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/shard-balance.md
loads=$(cargo test --release --lib -q -- plan::tests::the_seed_sweep plan::tests::a_500_cell --nocapture --test-threads 1 2>/dev/null | grep 'shards: loads' | sed 's/^[.]*//')
{
  echo "# Shard balance (simulated)"
  echo
  echo "Measured by \`scripts/shard_balance.sh\` on $(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p'), commit $(git rev-parse --short HEAD)."
  echo "Estimated seconds per part when the plan is split over equal machines (\`--shard K/N\`,"
  echo "longest-first onto the least-loaded part). The tests in src/plan.rs require the longest part"
  echo "within 25% of the mean wherever no single cell is longer than that."
  echo
  echo "| sweep | parts | longest / mean | costliest cell (s) | loads (s) |"
  echo "|---|---|---|---|---|"
  echo "$loads" | awk -v OFS=' | ' '
    { split($0, h, ": "); sweep=h[1]; n=h[2]; sub(/ shards/, "", n);
      sub(/.*loads \[/,""); split($0, a, "\\], costliest cell "); split(a[1], l, ", ");
      max=0; sum=0; for (i in l) { sum+=l[i]; if (l[i]+0>max) max=l[i]+0 } ;
      printf "| %s | %s | %.2f | %s | %s |\n", sweep, n, max/(sum/length(l)), a[2], a[1] }'
} > "$out"
cat "$out"

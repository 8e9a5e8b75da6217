#!/usr/bin/env bash
# What tests/slurm.rs needs: Debian's slurm-wlm (slurmctld, slurmd, sbatch) and munge. Installed
# with apt-get when missing and this runs as root (as CI does on a fresh Debian machine); the
# test starts its own daemons, so none is enabled or started here. Elsewhere it says what is
# missing, and the Slurm test skips with the same line.
set -euo pipefail

missing=()
for program in munged slurmctld slurmd sbatch; do
    command -v "$program" >/dev/null || [[ -x /usr/sbin/$program ]] || missing+=("$program")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "scale_out_deps: ${missing[*]} missing and not installable here (needs root and apt-get):" \
        "tests/slurm.rs will skip" >&2
    exit 0
fi
echo "scale_out_deps: installing slurm-wlm and munge (${missing[*]} missing)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: the packages' own services stay stopped; the test starts its own daemons.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
fi
status=0
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || status=$?
if ((made_policy)); then
    rm -f "$policy"
fi
exit "$status"

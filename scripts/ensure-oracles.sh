#!/usr/bin/env bash
# `pnpm oracle`: makes sure both oracles are installed (idempotent; cached after the first run):
#   torch 1.13  /usr/bin/python3 (Debian bookworm's python3-torch)      scripts/ensure-torch.sh
#   torch 2.x   scripts/torch2-python (Debian forky's, in a chroot)      scripts/ensure-torch2.sh
# Tries both, says which one could not be installed and why, and fails when either is missing.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
status=0
bash "$here/ensure-torch.sh" || { echo "oracle: torch 1.13 (/usr/bin/python3) could not be installed (see above)" >&2; status=1; }
bash "$here/ensure-torch2.sh" || { echo "oracle: torch 2.x (scripts/torch2-python, forky chroot) could not be installed (see above)" >&2; status=1; }
exit "$status"

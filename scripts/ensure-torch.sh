#!/usr/bin/env bash
# Makes sure the oracle is installed: real PyTorch as /usr/bin/python3 (Debian's python3-torch).
# Tests that compare with torch, the fixture generators and the conformance runner need it.
set -euo pipefail
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  /usr/bin/python3 -c 'import torch, sys; print("oracle: torch", torch.__version__, "python", sys.version.split()[0])'
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-torch: /usr/bin/python3 has no torch and apt-get is not available; install PyTorch for /usr/bin/python3" >&2
  exit 1
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq python3-torch >/dev/null
/usr/bin/python3 -c 'import torch, sys; print("oracle: torch", torch.__version__, "python", sys.version.split()[0])'

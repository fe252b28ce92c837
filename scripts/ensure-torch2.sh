#!/usr/bin/env bash
# Makes sure the modern oracle is installed: torch 2.x from Debian's next release ("forky"), in a
# minimal root filesystem made with debootstrap from the archive this machine's apt already uses.
# Idempotent: a finished root (marked by .pt-oracle-ready) is reused. Prints the torch version.
# Python there is run as scripts/torch2-python, which bind-mounts /tmp, /dev and this repository into
# the root at their own paths (scripts/forky-mounts.sh), so both sides name files alike.
#   PT_FORKY_ROOT   where the root lives (default /var/cache/pt-oracle/forky)
set -euo pipefail
ROOT="${PT_FORKY_ROOT:-/var/cache/pt-oracle/forky}"
marker="$ROOT/.pt-oracle-ready"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
say() { echo "ensure-torch2: $*" >&2; }
# shellcheck source=scripts/forky-mounts.sh
source "$here/forky-mounts.sh"
version() {
  "$here/torch2-python" -c 'import torch, sys; print("oracle: torch", torch.__version__, "python", sys.version.split()[0], "(forky chroot)")'
}

if [[ -f "$marker" ]]; then
  if [[ "$(id -u)" != 0 ]]; then say "needs root to enter $ROOT (chroot, mount)"; exit 1; fi
  version
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then say "cannot install torch 2.x: needs root (debootstrap, chroot, mount)"; exit 1; fi
if ! command -v apt-get >/dev/null 2>&1; then say "cannot install torch 2.x: no apt-get (a Debian machine is needed)"; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi
# The mirror: the first URIs line of the system's deb822 sources (never written into the repository).
src=/etc/apt/sources.list.d/debian.sources
mirror="$(awk '/^URIs:/ {print $2; exit}' "$src" 2>/dev/null || true)"
if [[ -z "$mirror" ]]; then say "no URIs: line in $src: cannot find the Debian archive"; exit 1; fi
script=/usr/share/debootstrap/scripts/sid # bookworm's debootstrap has no forky script
# A half-made root may still have /proc, /dev, /tmp or the repository bound into it: unmount all
# first (forky_unmount_all fails if any stays), so that removing it never reaches through a mount.
if [[ -d "$ROOT" ]]; then
  forky_unmount_all "$ROOT"
  rm -rf --one-file-system "$ROOT"
fi
mkdir -p "$ROOT"
say "bootstrapping forky into $ROOT (a few minutes)"
if ! debootstrap --variant=minbase forky "$ROOT" "$mirror" "$script" >"$ROOT.debootstrap.log" 2>&1; then
  say "debootstrap failed (log: $ROOT.debootstrap.log)"; tail -5 "$ROOT.debootstrap.log" >&2; exit 1
fi
mountpoint -q "$ROOT/proc" 2>/dev/null || mount -t proc proc "$ROOT/proc"
apt_opts=(-o Acquire::Check-Valid-Until=false -o Dpkg::Use-Pty=0)
chroot "$ROOT" apt-get "${apt_opts[@]}" update -qq
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
  python3-torch python3-numpy >"$ROOT.apt.log" 2>&1 || { say "apt-get install failed (log: $ROOT.apt.log)"; tail -5 "$ROOT.apt.log" >&2; exit 1; }
chroot "$ROOT" python3 -c 'import torch' || { say "torch does not import in $ROOT"; exit 1; }
touch "$marker"
version

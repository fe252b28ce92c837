# Bind mounts that let the forky root (ensure-torch2.sh) and this machine see the same files at the
# same absolute paths. Sourced by ensure-torch2.sh and torch2-python. Idempotent.

# forky_bind SRC ROOT: bind-mount SRC at ROOT/SRC unless something is mounted there already.
forky_bind() {
  local src="$1" root="$2" dst
  dst="$root$src"
  if mountpoint -q "$dst" 2>/dev/null; then return 0; fi
  mkdir -p "$dst"
  mount --bind "$src" "$dst"
}

# forky_mount_all ROOT REPO: /proc, /dev, /tmp and the repository (when it is not under /tmp).
forky_mount_all() {
  local root="$1" repo="$2"
  mountpoint -q "$root/proc" 2>/dev/null || mount -t proc proc "$root/proc"
  forky_bind /dev "$root"
  forky_bind /tmp "$root"
  case "$repo/" in
    /tmp/*) ;;
    *) forky_bind "$repo" "$root" ;;
  esac
}

# forky_unmount_all ROOT: undo every mount below ROOT (deepest first). Fails when one stays, so that
# nothing ever deletes files through a bind mount.
forky_unmount_all() {
  local root="$1" m
  while read -r m; do
    [[ -n "$m" && "$m" != "$root" ]] || continue
    umount "$m" 2>/dev/null || umount -l "$m"
  done < <(findmnt -rn -o TARGET | awk -v r="$root/" 'index($0 "/", r) == 1' | sort -r)
  if findmnt -rn -o TARGET | awk -v r="$root/" 'index($0 "/", r) == 1' | grep -q .; then
    echo "forky-mounts: mounts remain below $root; refusing to go on" >&2
    return 1
  fi
}

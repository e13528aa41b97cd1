#!/usr/bin/env bash
# `npm run image`: builds docker/Dockerfile into the image stampede:<package.json version> WITHOUT a Docker
# engine (buildah + debootstrap, as root), on a locally made base laid out as node:20-slim. docs/image.md.
#
# Stable interface (other scripts and CI rely on it):
#   npm run image [-- --docker-archive PATH] [-- --oci-archive PATH]
#   - image names in our storage: docker.io/library/stampede:<version> and docker.io/library/stampede:rehearsal
#     (the chart's rehearsal values use tag `rehearsal`); the base: docker.io/library/node:20-slim.
#   - --docker-archive PATH: a docker-archive holding both names (`ctr images import PATH`, `docker load`).
#   - --oci-archive PATH: an OCI archive of stampede:<version>.
#   - storage: --root $STAMPEDE_IMAGE_CACHE/storage --runroot $STAMPEDE_IMAGE_CACHE/run --storage-driver
#     overlay, STAMPEDE_IMAGE_CACHE defaulting to ${XDG_CACHE_HOME:-$HOME/.cache}/stampede-image (outside the
#     checkout, so a fresh clone on the same machine reuses the base and the layers). To run the image:
#     podman --root … --runroot … --storage-driver overlay run --runtime runc stampede:<version>
#   - the last two lines printed: `storage <STAMPEDE_IMAGE_CACHE>` and `image <name> <id> <size in bytes> (… MB)`.
# Environment: STAMPEDE_IMAGE_CA (CA bundle trusted by `npm ci` in the build; default the host's
# /etc/ssl/certs/ca-certificates.crt, `none` to build without one), STAMPEDE_IMAGE_MIRROR (Debian mirror),
# STAMPEDE_IMAGE_CONTEXT (the build context, default the checkout; e.g. a `git archive` of a commit).
# Two runs at once are serialised by a lock in the cache directory; an unchanged tree reuses every layer.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${STAMPEDE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stampede-image}
suite=bookworm
mirror=${STAMPEDE_IMAGE_MIRROR:-http://deb.debian.org/debian}
ca=${STAMPEDE_IMAGE_CA:-/etc/ssl/certs/ca-certificates.crt}
base_name=docker.io/library/node:20-slim
docker_archive='' oci_archive=''

# The header above is the help text.
usage() { sed -n '2,/^set /s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case $1 in
    --docker-archive) docker_archive=${2:?--docker-archive needs a path}; shift 2 ;;
    --oci-archive) oci_archive=${2:?--oci-archive needs a path}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "image: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
# `npm run` starts scripts in the package root: a relative path means the caller's directory (INIT_CWD).
cd "${INIT_CWD:-.}"
[ -z "$docker_archive" ] || docker_archive=$(realpath -m "$docker_archive")
[ -z "$oci_archive" ] || oci_archive=$(realpath -m "$oci_archive")
cd "$root"

if [ "$(id -u)" != 0 ]; then
  echo "image: run as root (buildah's chroot isolation and debootstrap need it)" >&2
  exit 1
fi
for tool in buildah podman debootstrap flock; do
  command -v "$tool" >/dev/null || { echo "image: $tool is missing (apt-get install buildah podman debootstrap)" >&2; exit 1; }
done

mkdir -p "$cache"
storage=(--root "$cache/storage" --runroot "$cache/run" --storage-driver overlay)
bah() { buildah "${storage[@]}" "$@"; }

# One build at a time per storage: buildah's own locks guard the store, not our base's check-then-create.
exec 9>"$cache/lock"
if ! flock -n 9; then
  echo "image: another build holds $cache/lock; waiting" >&2
  flock 9
fi

version=$(node -p 'require(process.argv[1]).version' "${STAMPEDE_IMAGE_CONTEXT:-$root}/package.json")
node_version=$(node --version | sed 's/^v//')
case $node_version in 20.*) ;; *) echo "image: node $node_version found, the image is node 20" >&2; exit 1 ;; esac
# The base's cache key is its inputs' versions; npm@10's newest release is asked of the registry each time,
# and a registry outage falls back to the newest base already built for this suite and node.
npm_version=$(npm view 'npm@10' version --json 2>/dev/null | node -e \
  'const v=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log([].concat(v).pop())' 2>/dev/null || true)
base_prefix=localhost/stampede-base:$suite-node$node_version-npm
if [ -z "$npm_version" ]; then
  npm_version=$(bah images --format '{{.Tag}}' localhost/stampede-base 2>/dev/null |
    sed -n "s/^$suite-node$node_version-npm//p" | sort -V | tail -n1)
  [ -n "$npm_version" ] || { echo "image: cannot resolve npm@10 (registry unreachable?)" >&2; exit 1; }
  echo "image: registry unreachable; reusing the base with npm $npm_version" >&2
fi
base_key=$base_prefix$npm_version

base_ctr='' base_tmp=''
cleanup() {
  [ -z "$base_ctr" ] || bah rm "$base_ctr" >/dev/null 2>&1 || true
  [ -z "$base_tmp" ] || rm -rf "$base_tmp"
}
trap cleanup EXIT
# shellcheck source=scripts/image-base.sh
. "$root/scripts/image-base.sh"
if bah inspect --type image "$base_key" >/dev/null 2>&1; then
  echo "image: base $base_key (cached)"
else
  build_base
fi
bah tag "$base_key" "$base_name"

context=${STAMPEDE_IMAGE_CONTEXT:-$root}
name=docker.io/library/stampede:$version
secret=()
if [ "$ca" != none ]; then
  [ -r "$ca" ] || { echo "image: CA bundle $ca is not readable (STAMPEDE_IMAGE_CA=none to build without)" >&2; exit 1; }
  secret=(--secret "id=npm-ca,src=$ca")
fi
start=$(date +%s)
bah bud --isolation chroot --pull=never --layers --force-rm "${secret[@]}" \
  -f "$context/docker/Dockerfile" -t "$name" -t docker.io/library/stampede:rehearsal "$context"
id=$(bah inspect --type image --format '{{.FromImageID}}' "$name")
# Every changed tree leaves a chain of unnamed cache images; chains older than 3 days go (a recent one, and
# any layer a newer chain still uses, such as the npm ci layers, stays for the cache).
podman "${storage[@]}" image prune --force --filter until=72h >/dev/null || true
size=$(podman "${storage[@]}" image inspect --format '{{.Size}}' "$name")
echo "image: built in $(($(date +%s) - start)) s"

if [ -n "$oci_archive" ]; then
  rm -f "$oci_archive"
  bah push --quiet "$name" "oci-archive:$oci_archive:$name"
  echo "image: oci-archive $oci_archive"
fi
if [ -n "$docker_archive" ]; then
  rm -f "$docker_archive"
  # Both tags in one archive: `ctr images import` and `docker load` create both names.
  podman "${storage[@]}" save --quiet --format docker-archive -o "$docker_archive" \
    "$name" docker.io/library/stampede:rehearsal
  echo "image: docker-archive $docker_archive"
fi
echo "storage $cache"
echo "image $name ${id:0:12} $size ($((size / 1000000)) MB)"

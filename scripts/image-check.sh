#!/usr/bin/env bash
# The image check (`npm run image:check`, run by .ci/run): builds the Containerfile for real and
# runs the image's own entrypoint in test network namespaces with only NET_ADMIN and NET_RAW.
#
#   1. A local base, since registry images cannot be pulled here: Debian bookworm from debootstrap
#      (variant minbase, from the Debian mirror apt uses), slimmed like Debian's official slim
#      images, plus this machine's Node and npm laid out as in the official Node images. Cached:
#      as an image in buildah's store, and as a root file system tarball under $cache_dir, keyed
#      by release, architecture and Node/npm versions, so that only the first run debootstraps.
#   2. `buildah build --isolation chroot --pull=never --build-arg BASE_IMAGE=<local base>`.
#   3. scripts/image-traffic-check.ts builds the test topology and runs the image's entrypoint
#      with `ip netns exec <router ns> buildah run --isolation chroot --network host` and only
#      CAP_NET_ADMIN and CAP_NET_RAW, then checks the traffic as the integration tests do.
#
# Needs root, buildah, debootstrap, iproute2, nftables, iptables, iputils-arping and the project's
# node_modules (npm ci). Touches no network but the namespaces it creates; removes
# them and its containers on exit, whatever happens. Prints the image size and the duration.
#
# Environment: EGRESS_ROUTER_IMAGE_CACHE (default /var/cache/egress-router-image),
# EGRESS_ROUTER_DEBIAN_MIRROR (default: the mirror in /etc/apt/sources.list*),
# EGRESS_ROUTER_IMAGE_TAG (default localhost/egress-router:<version>),
# EGRESS_ROUTER_SOURCE_URL (the source label), EGRESS_ROUTER_IMAGE_NO_CACHE=1 (no cached layers).
set -euo pipefail

started_ns=$(date +%s%N)
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'image-check: %s\n' "$*"; }
die() { printf 'image-check: FAILED: %s\n' "$*" >&2; exit 1; }
elapsed() { printf '%d.%01d s' $(( ($(date +%s%N) - $1) / 1000000000 )) $(( ($(date +%s%N) - $1) / 100000000 % 10 )); }

[[ $(id -u) == 0 ]] || die "must run as root (buildah, debootstrap and network namespaces need it)"
for tool in buildah debootstrap ip nft iptables-restore arping node tar flock; do
  command -v "$tool" >/dev/null || die "$tool not found; .ci/run installs it (apt-get install buildah debootstrap iproute2 nftables iptables iputils-arping)"
done
[[ -d node_modules/esbuild ]] || die "node_modules missing: run npm ci first"

release=bookworm
arch=$(dpkg --print-architecture)
node_bin=$(readlink -f "$(command -v node)")
node_version=$("$node_bin" --version)
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
npm_version=$("$node_bin" -p "require('$npm_dir/package.json').version")
# Bump when the way the base is made changes, so that a stale cache is not reused.
recipe=1
base_key="$release-$arch-node${node_version#v}-npm$npm_version-r$recipe"
base_image="localhost/egress-router-base:$base_key"
cache_dir=${EGRESS_ROUTER_IMAGE_CACHE:-/var/cache/egress-router-image}
version=$(node -p "require('./package.json').version")
tag=${EGRESS_ROUTER_IMAGE_TAG:-localhost/egress-router:$version}
run_id="img$$$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
container_prefix="egress-router-check-$run_id"
work=$(mktemp -d /tmp/egress-router-image-check.XXXXXX)

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Containers of this run only, by their unique name prefix.
  local names
  names=$(buildah containers --noheading --format '{{.ContainerName}}' 2>/dev/null | grep "^$container_prefix" || true)
  for name in $names; do buildah rm "$name" >/dev/null 2>&1 || true; done
  # Namespaces of this run only (the traffic check removes its own; this is for a crash).
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^ert-$run_id" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  # debootstrap mounts /proc and /sys in its target; never delete through a mount.
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
  if ((status == 0)); then
    say "PASSED in $(elapsed "$started_ns")"
  else
    printf 'image-check: FAILED (exit %d) after %s\n' "$status" "$(elapsed "$started_ns")" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The Debian mirror apt uses on this machine (one-line or deb822 sources), else Debian's own.
debian_mirror() {
  if [[ -n ${EGRESS_ROUTER_DEBIAN_MIRROR:-} ]]; then echo "$EGRESS_ROUTER_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE '(https?|ftp)://[^[:space:]]+/debian/?([[:space:]]|$)' | head -n 1 | tr -d '[:space:]' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Debian bookworm minbase + Node, as a root file system tarball at $1.
make_base_tarball() {
  local out=$1 rootfs="$work/rootfs" mirror
  mirror=$(debian_mirror)
  say "base: debootstrap --variant=minbase $release from $mirror"
  local t=$(date +%s%N)
  debootstrap --variant=minbase --arch="$arch" "$release" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  say "base: debootstrap took $(elapsed "$t")"
  # Slim it as Debian's official slim images are: no documentation, manuals or translations
  # (now or from later installs), no package lists or downloaded packages, no host files.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,locale,man}/* \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  local security=${mirror%/debian*}/debian-security
  [[ $mirror == */debian || $mirror == */debian/ ]] || security=http://deb.debian.org/debian-security
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror%/}
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Node and npm where the official Node images have them.
  install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null || die "the copied node does not run in the Debian $release base"
  mkdir -p "$(dirname "$out")"
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$out.partial" .
  mv "$out.partial" "$out"
  rm -rf "$rootfs"
}

# The base image in buildah's store, from the cached tarball, made first if needed.
ensure_base() {
  if buildah inspect --type image "$base_image" >/dev/null 2>&1; then
    say "base: $base_image (cached image)"
    return
  fi
  local tarball="$cache_dir/$base_key.tar"
  mkdir -p "$cache_dir"
  exec 9>"$cache_dir/.lock"
  flock 9
  if buildah inspect --type image "$base_image" >/dev/null 2>&1; then
    say "base: $base_image (made meanwhile by another run)"
    flock -u 9
    return
  fi
  if [[ -f $tarball ]]; then
    say "base: cached root file system $tarball"
  else
    # Other keys belong to another Node or recipe: not needed any more.
    find "$cache_dir" -maxdepth 1 -name '*.tar*' -delete
    make_base_tarball "$tarball"
  fi
  local ctr
  ctr=$(buildah from --name "$container_prefix-base" scratch)
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="${node_version#v}" \
    --cmd node \
    --label org.opencontainers.image.description="Local stand-in for node:22-bookworm-slim: Debian $release minbase + Node $node_version" \
    "$ctr"
  buildah commit --quiet --rm "$ctr" "$base_image" >/dev/null
  flock -u 9
  say "base: $base_image ($(buildah images --noheading --format '{{.Size}}' "$base_image"))"
}

step=$(date +%s%N)
ensure_base
say "base ready in $(elapsed "$step")"

# ---- 2. build ------------------------------------------------------------------------------------
default_version=$(sed -n 's/^ARG VERSION=//p' Containerfile)
[[ $default_version == "$version" ]] ||
  die "Containerfile's ARG VERSION=$default_version differs from package.json's version $version; keep them in step"
build_args=(--build-arg "BASE_IMAGE=$base_image" --build-arg "VERSION=$version")
[[ -n ${EGRESS_ROUTER_SOURCE_URL:-} ]] && build_args+=(--build-arg "SOURCE_URL=$EGRESS_ROUTER_SOURCE_URL")
# Cached build layers make later runs fast; EGRESS_ROUTER_IMAGE_NO_CACHE=1 rebuilds every layer.
[[ -n ${EGRESS_ROUTER_IMAGE_NO_CACHE:-} ]] && build_args+=(--no-cache)
# npm ci in the build stage trusts what this machine trusts (a TLS-inspecting proxy's CA, say):
# a build secret, never stored in a layer.
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $ca_bundle ]] && build_args+=(--secret "id=ca-certificates,src=$ca_bundle")

step=$(date +%s%N)
say "build: buildah build --isolation chroot --pull=never --layers ${build_args[*]} -f Containerfile -t $tag ."
set +e
buildah build --isolation chroot --pull=never --layers --force-rm "${build_args[@]}" -f Containerfile -t "$tag" . \
  >"$work/build.log" 2>&1
status=$?
set -e
grep -E '^\[[0-9]+/[0-9]+\] STEP|^(ip utility|nftables v|iptables v|/usr/s?bin/arping|v[0-9]+\.[0-9]+\.[0-9]+$)|Using cache' "$work/build.log" |
  sed 's/^/  /' | cut -c1-160
if ((status != 0)); then
  tail -n 40 "$work/build.log" >&2
  die "buildah build failed (exit $status)"
fi
say "build took $(elapsed "$step")"

# ---- the image: configuration and size -----------------------------------------------------------
buildah inspect --type image "$tag" >"$work/inspect.json"
buildah inspect --type image "$base_image" >"$work/base-inspect.json"
node - "$work/inspect.json" "$work/base-inspect.json" "$version" "$work/size" <<'EOF_NODE'
const { readFileSync, writeFileSync } = require('node:fs');
const [file, baseFile, version, sizeFile] = process.argv.slice(2);
const image = JSON.parse(readFileSync(file, 'utf8'));
const base = JSON.parse(readFileSync(baseFile, 'utf8'));
const config = image.OCIv1.config;
const labels = config.Labels ?? {};
const problems = [];
for (const key of ['title', 'description', 'source', 'version', 'licenses']) {
  if (!labels[`org.opencontainers.image.${key}`]) problems.push(`label org.opencontainers.image.${key} missing`);
}
if (labels['org.opencontainers.image.version'] !== version) problems.push(`label version is not ${version}`);
if (labels['org.opencontainers.image.licenses'] !== 'Apache-2.0') problems.push('label licenses is not Apache-2.0');
if (!['', '0', 'root', '0:0', 'root:root'].includes(config.User ?? '')) problems.push(`runs as ${config.User}, not root`);
if (!(config.Entrypoint ?? []).join(' ').includes('egress-router')) problems.push('ENTRYPOINT is not the router');
if ((config.Cmd ?? []).length > 0) problems.push(`CMD ${JSON.stringify(config.Cmd)} would be passed to the router`);
const say = (line) => console.log(`image-check: ${line}`);
if (problems.length) { say(`FAILED: ${problems.join('; ')}`); process.exit(1); }
say(`entrypoint ${JSON.stringify(config.Entrypoint)}, user ${config.User || 'root'}`);
for (const [k, v] of Object.entries(labels)) if (k.startsWith('org.opencontainers')) say(`  ${k}=${v}`);
// Uncompressed layer sizes from the manifests: the base's layers, then the image's own.
const layers = JSON.parse(image.Manifest).layers;
const baseDigests = new Set(JSON.parse(base.Manifest).layers.map((l) => l.digest));
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const total = layers.reduce((sum, l) => sum + l.size, 0);
const own = layers.filter((l) => !baseDigests.has(l.digest));
const added = own.reduce((sum, l) => sum + l.size, 0);
writeFileSync(sizeFile, `${mb(total)} uncompressed (base ${mb(total - added)} + ${mb(added)} in ${own.length} layers of its own: ${own.map((l) => mb(l.size)).join(', ')})`);
EOF_NODE
image_size=$(cat "$work/size")
say "image size: $tag $image_size"

# ---- 3 and 4. run the entrypoint in test namespaces and check the traffic ------------------------
step=$(date +%s%N)
EGRESS_ROUTER_TEST_RUN="$run_id" node scripts/run-ts.mjs scripts/image-traffic-check.ts "$tag" "$container_prefix"
say "run and traffic check took $(elapsed "$step")"
say "image size: $image_size"

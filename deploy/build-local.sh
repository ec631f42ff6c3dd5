#!/bin/sh
# build-local.sh [TAG] — build the connector image on a host with no registry (make image-local).
# Compiles a fully static m2m-connector here (cgo for the TigerBeetle client, glibc linked statically) and
# builds deploy/connector/Dockerfile.local, which is FROM scratch: nothing is pulled.
# VERSION defaults to the tag's version part; COMMIT to "unknown" (the Makefile passes the git commit).
set -eu

tag=${1:-m2m/connector:0.1.0}
case $tag in
*:*) tag_version=${tag##*:} ;;
*) tag_version=dev ;;
esac
version=${VERSION:-$tag_version}
commit=${COMMIT:-unknown}
root=$(cd "$(dirname "$0")/.." && pwd)
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

die() { echo "build-local: $*" >&2; exit 1; }

[ -r "$ca" ] || die "no CA bundle at $ca; install ca-certificates or set CA_BUNDLE=/path/to/bundle.pem"
command -v gcc >/dev/null || die "gcc is needed for the cgo build (TigerBeetle's client); install gcc and libc6-dev"
command -v docker >/dev/null || die "docker is not on PATH"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM

echo "build-local: compiling a static m2m-connector $version ($commit)" >&2
(cd "$root" && CGO_ENABLED=1 GOOS=linux go build -trimpath -tags netgo,osusergo \
	-ldflags "-s -w -X main.version=$version -X main.commit=$commit -linkmode external -extldflags -static" \
	-o "$ctx/m2m-connector" ./cmd/m2m-connector)

# A dynamic binary would start nowhere in a scratch image: refuse it here, not at container start.
if command -v file >/dev/null; then
	file "$ctx/m2m-connector" | grep -q 'statically linked' || die "the binary is not statically linked: $(file -b "$ctx/m2m-connector")"
elif command -v readelf >/dev/null; then
	! readelf -l "$ctx/m2m-connector" | grep -q INTERP || die "the binary asks for a dynamic loader (PT_INTERP)"
else
	die "neither file nor readelf is installed to check that the binary is static"
fi
"$ctx/m2m-connector" version >/dev/null || die "the binary does not run"

cp "$ca" "$ctx/ca-certificates.crt"
mkdir "$ctx/data" "$ctx/logs"
cp "$root/deploy/connector/Dockerfile.local" "$ctx/Dockerfile"
docker build --quiet --build-arg VERSION="$version" -t "$tag" "$ctx" >/dev/null
echo "build-local: built $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)" >&2

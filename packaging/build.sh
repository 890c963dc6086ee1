#!/usr/bin/env bash
# Build the mcpd .deb and .rpm from the Cargo.toml metadata.
#
#   packaging/build.sh [--profile release|dev] [--no-build] [--version V] [--out DIR] [--only deb|rpm]
#
# --profile  cargo profile of the packaged binary (default release; the install test
#            packages the dev build `cargo test` already made, to save CI time)
# --no-build package the binary that is already in target/<profile dir>/
# --version  package version instead of Cargo.toml's (e.g. 0.1.0+ci2 for an upgrade test)
# --out      where the packages go (default target/packages); their paths are printed
# --only     build just one of the two
#
# Reproducible: SOURCE_DATE_EPOCH defaults to the last commit's time, so timestamps in
# the binary and the archives do not depend on when the build ran. The packaging tools
# are installed at pinned versions by tests/setup/packaging.sh when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

profile=release build=1 version= out=target/packages only=
while (($#)); do
  case $1 in
  --profile) profile=$2; shift 2 ;;
  --no-build) build=; shift ;;
  --version) version=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --only) only=$2; shift 2 ;;
  -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { printf '[build.sh] %s\n' "$*" >&2; }

command -v cargo-deb >/dev/null && command -v cargo-generate-rpm >/dev/null ||
  bash tests/setup/packaging.sh
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
  export SOURCE_DATE_EPOCH
fi

if [[ -n $build ]]; then
  say "cargo build --locked --profile $profile"
  cargo build --locked --profile "$profile" --bin mcpd
fi
dir=$profile
[[ $profile == dev ]] && dir=debug
[[ -x target/$dir/mcpd ]] || { echo "build.sh: target/$dir/mcpd is missing" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
deb_args=(--no-build --profile "$profile" --output "$out" --quiet)
rpm_args=(--profile "$profile" --output "$out")
if [[ -n $version ]]; then
  deb_args+=(--deb-version "$version")
  # RPM versions may not contain '-'; '+' is fine.
  rpm_args+=(--set-metadata "version = \"${version//-/_}\"")
fi
# A dev binary keeps its line tables; stripping and strong compression would only
# cost time (zstd at the rpm default takes ~30 s on 50 MB).
if [[ $profile == dev ]]; then
  deb_args+=(--no-strip --fast)
  rpm_args+=(--payload-compress gzip)
fi

say "$(cargo-deb --version), $(cargo-generate-rpm --version)"
if [[ $only != rpm ]]; then
  cargo deb "${deb_args[@]}" | tail -1
fi
if [[ $only != deb ]]; then
  # generate-rpm prints nothing: the newest .rpm in $out is the one just written.
  cargo generate-rpm "${rpm_args[@]}" >/dev/null
  ls -t "$out"/*.rpm | head -1
fi

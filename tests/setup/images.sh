#!/usr/bin/env bash
# Build the test images offline (no registry is reachable, `docker pull` fails), then
# check that each MCP image answers stdio JSON-RPC. Idempotent: an image is skipped
# when it carries the label io.mcpd.test.recipe=<its recipe below>; bump a recipe
# string whenever its build steps change, and the next run rebuilds that image.
#
#   mcpd-test/busybox:1         static busybox + applet symlinks in /bin, CMD /bin/sh
#   mcpd-test/mcp-filesystem:1  @modelcontextprotocol/server-filesystem, allowed dir /data
#   mcpd-test/mcp-everything:1  @modelcontextprotocol/server-everything, stdio transport
#
# The MCP servers' whole dependency trees are pinned by the package-lock.json files in
# tests/setup/npm/<package>/ (installed with `npm ci`). To move to a newer release:
# bump MCP_VERSION and the recipes, then in each of those directories run
# `npm install --save-exact --omit=dev @modelcontextprotocol/<package>@<version>` and
# commit the two files (not node_modules).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MCP_VERSION=2026.8.31
RECIPE_BUSYBOX=busybox-static+r1
RECIPE_FILESYSTEM=server-filesystem@$MCP_VERSION+r2
RECIPE_EVERYTHING=server-everything@$MCP_VERSION+r2

say() { printf '[images.sh] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run tests/setup/docker.sh first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcpd-images.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

current() { # TAG RECIPE: does TAG exist, built by RECIPE?
  [[ $(docker image inspect -f '{{index .Config.Labels "io.mcpd.test.recipe"}}' "$1" 2>/dev/null) == "$2" ]]
}

import() { # ROOTFS TAG RECIPE [docker import -c CHANGE]...: tar ROOTFS into image TAG
  local root=$1 tag=$2 recipe=$3 old
  shift 3
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker import -c 'LABEL io.mcpd.test=1' -c "LABEL io.mcpd.test.recipe=$recipe" \
      "$@" -m "mcpd test image ($recipe)" - "$tag" >/dev/null
  # Drop the image this one replaces (it stays if a container still uses it).
  [[ -z $old ]] || docker rmi "$old" >/dev/null 2>&1 || true
  say "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=iec))"
}

build_busybox() {
  local tag=mcpd-test/busybox:1 root=$tmp/busybox applet
  current "$tag" "$RECIPE_BUSYBOX" && { say "$tag is current"; return; }
  bash "$here/apt-install.sh" busybox-static
  # busybox-static replaces the dynamic busybox package, so /bin/busybox is static.
  ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked"
  mkdir -p "$root/bin" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  import "$root" "$tag" "$RECIPE_BUSYBOX" -c 'CMD ["/bin/sh"]'
}

build_mcp() { # TAG RECIPE PACKAGE [extra docker import -c CHANGE]...
  local tag=$1 recipe=$2 pkg=$3 root=$tmp/${1//[\/:]/_} lib entry
  shift 3
  current "$tag" "$recipe" && { say "$tag is current"; return; }
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    bash "$here/apt-install.sh" nodejs npm
  fi
  mkdir -p "$root/usr/bin" "$root/app" "$root/tmp" "$root/data"
  chmod 1777 "$root/tmp"
  cp -L "$(command -v node)" "$root/usr/bin/node"
  # The dynamic loader and every library node links, at the paths ldd names; with no
  # ld.so.cache in the image the loader finds them in its default directories.
  while read -r lib; do
    cp -L --parents "$lib" "$root"
  done < <(ldd "$(command -v node)" | grep -o '/[^ )]*')
  local pinned=$here/npm/${pkg##*/}
  grep -q "\"$pkg\": \"$MCP_VERSION\"" "$pinned/package.json" ||
    die "$pinned/package.json does not pin $pkg@$MCP_VERSION"
  cp "$pinned/package.json" "$pinned/package-lock.json" "$root/app/"
  say "npm ci $pkg@$MCP_VERSION (lock file $pinned)"
  (cd "$root/app" && npm ci --no-audit --no-fund --no-update-notifier --omit=dev \
    >"$tmp/npm.log" 2>&1) || { cat "$tmp/npm.log" >&2; die "npm ci $pkg failed"; }
  rm -f "$root/app/package.json" "$root/app/package-lock.json"
  # Entry point = the package's own bin (or main), not a guessed path.
  entry=$(node -e 'const p = require(process.argv[1]);
    const b = typeof p.bin === "string" ? p.bin : Object.values(p.bin || {})[0] || p.main;
    console.log(require("path").posix.join("/app/node_modules", p.name, b));' \
    "$root/app/node_modules/$pkg/package.json")
  [[ -f $root$entry ]] || die "$pkg: entry point $entry missing"
  if [[ $pkg == */server-filesystem ]]; then # fixtures the tests read back
    mkdir -p "$root/data/notes"
    printf 'hello from mcpd\n' >"$root/data/hello.txt"
    printf '# Notes\n\nFixture directory for mcpd tests.\n' >"$root/data/notes/readme.md"
  fi
  import "$root" "$tag" "$recipe" -c "ENTRYPOINT [\"/usr/bin/node\", \"$entry\"]" "$@"
  rm -rf "$root"
}

rpc() { # TAG LINE...: send the lines to the image's stdin, print its stdout
  printf '%s\n' "${@:2}" | timeout 20 docker run --rm -i --init "$1" 2>"$tmp/stderr" ||
    { cat "$tmp/stderr" >&2; return 1; }
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"setup","version":"0"}}}'
INITIALIZED='{"jsonrpc":"2.0","method":"notifications/initialized"}'
LIST_DATA='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_directory","arguments":{"path":"/data"}}}'

verify() { # TAG [PATTERN LINE...]: initialize answers with serverInfo (+ more checks)
  local tag=$1 out
  out=$(rpc "$tag" "$INIT" "${@:3}") || die "$tag: docker run failed"
  grep -q '"id":1,.*"serverInfo"\|"serverInfo".*"id":1' <<<"$out" ||
    die "$tag: no initialize result with serverInfo; got: $out"
  [[ -z ${2:-} ]] || grep -q "$2" <<<"$out" || die "$tag: expected /$2/; got: $out"
  say "$tag answers: $(grep -o '"serverInfo":{[^}]*}' <<<"$out")"
}

timed() { # CMD...: run CMD, then say how long it took
  local t=$SECONDS
  "$@"
  say "  ($1${2:+ $2}: $((SECONDS - t))s)"
}

t=$SECONDS
timed build_busybox
[[ $(docker run --rm mcpd-test/busybox:1 echo ok) == ok ]] || die "busybox image does not run"
timed build_mcp mcpd-test/mcp-filesystem:1 "$RECIPE_FILESYSTEM" @modelcontextprotocol/server-filesystem \
  -c 'CMD ["/data"]'
# server-everything picks its transport from argv[2] and defaults to stdio; say it anyway.
timed build_mcp mcpd-test/mcp-everything:1 "$RECIPE_EVERYTHING" @modelcontextprotocol/server-everything \
  -c 'CMD ["stdio"]'
timed verify mcpd-test/mcp-filesystem:1 '\[FILE\] hello.txt' "$INITIALIZED" "$LIST_DATA"
timed verify mcpd-test/mcp-everything:1
say "images ready in $((SECONDS - t))s"

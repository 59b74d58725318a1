#!/usr/bin/env bash
# The real counterparts (Temporal CLI + server, Temporal Web UI server, ...), built from pinned Go modules into a
# cache outside the repository and reused by later runs.
#
#   scripts/tools.sh install [name...]  build what is missing (all by default); prints what it did
#   scripts/tools.sh path <name>        the binary's path (exit 1 when not installed)
#   scripts/tools.sh list               each tool, its pinned version and whether it is installed
#
# Cache: $MOSTRO_TOOLS_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/mostro-tools. Pins: scripts/tools.versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${MOSTRO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mostro-tools}"
versions="$here/tools.versions"

die() { echo "tools.sh: $*" >&2; exit 1; }

spec_of() { # name -> go-package@version
  local line
  line="$(grep -E "^$1=" "$versions" | head -n 1)" || true
  [ -n "$line" ] || die "unknown tool '$1' (known: $(names | tr '\n' ' '))"
  echo "${line#*=}"
}
names() { grep -vE '^\s*(#|$)' "$versions" | cut -d= -f1; }
dir_of() { local spec; spec="$(spec_of "$1")"; echo "$cache/$1-${spec##*@}"; }
bin_of() { local spec pkg; spec="$(spec_of "$1")"; pkg="${spec%@*}"; echo "$(dir_of "$1")/bin/${pkg##*/}"; }

install_one() {
  local name="$1" spec dir bin tmp start
  spec="$(spec_of "$name")"; dir="$(dir_of "$name")"; bin="$(bin_of "$name")"
  if [ -x "$bin" ] && [ -f "$dir/.complete" ]; then
    echo "$name: $spec already built at $bin"
    return
  fi
  command -v go >/dev/null 2>&1 || die "$name needs the Go toolchain (go 1.26+) on PATH to build $spec; install Go, or skip the real-counterpart suites"
  # A broken or unreachable proxy shows up here, before a long build, with a clear message.
  local mod="${spec%%/cmd/*}"; mod="${mod%@*}"
  GOFLAGS=-mod=mod go list -m -json "$mod@${spec##*@}" >/dev/null 2>"$cache/.probe.err" \
    || die "cannot fetch $mod@${spec##*@} from the Go module proxy ($(go env GOPROXY)): $(tail -n 1 "$cache/.probe.err")"
  echo "$name: building $spec (once; a few minutes)"
  start=$(date +%s)
  tmp="$(mktemp -d "$cache/.build-$name.XXXXXX")"
  GOBIN="$tmp/bin" CGO_ENABLED=0 go install "$spec" || { rm -rf "$tmp"; die "building $spec failed"; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "$spec" > "$dir/.complete"
  echo "$name: built $bin in $(( $(date +%s) - start )) s"
}

cmd="${1:-}"; shift || true
mkdir -p "$cache"
case "$cmd" in
  install)
    if [ $# -eq 0 ]; then set -- $(names); fi
    for n in "$@"; do install_one "$n"; done ;;
  path)
    [ $# -eq 1 ] || die "usage: tools.sh path <name>"
    b="$(bin_of "$1")"; [ -x "$b" ] && [ -f "$(dir_of "$1")/.complete" ] || die "$1 is not installed; run: scripts/tools.sh install $1"
    echo "$b" ;;
  list)
    for n in $(names); do
      b="$(bin_of "$n")"
      if [ -x "$b" ] && [ -f "$(dir_of "$n")/.complete" ]; then s="$b"; else s="not installed"; fi
      printf '%-20s %-60s %s\n' "$n" "$(spec_of "$n")" "$s"
    done ;;
  *) die "usage: tools.sh install [name...] | path <name> | list" ;;
esac

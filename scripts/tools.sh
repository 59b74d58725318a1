#!/usr/bin/env bash
# The real counterparts (Temporal CLI + server, Temporal Web UI server, btcd, LND, mostro-cli, mostrod), built from
# pinned Go modules and crates into a cache outside the repository and reused by later runs.
#
#   scripts/tools.sh install [name...]  build what is missing (all by default); prints what it did
#   scripts/tools.sh path <name>        the binary's path (exit 1 when not installed)
#   scripts/tools.sh list               each tool, its pinned version and whether it is installed
#
# Cache: $MOSTRO_TOOLS_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/mostro-tools. Pins (and their format):
# scripts/tools.versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${MOSTRO_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mostro-tools}"
versions="$here/tools.versions"

die() { echo "tools.sh: $*" >&2; exit 1; }

names() { grep -vE '^\s*(#|$)' "$versions" | cut -d= -f1; }
line_of() { # name -> everything after "name="
  local line
  line="$(grep -E "^$1=" "$versions" | head -n 1)" || true
  [ -n "$line" ] || die "unknown tool '$1' (known: $(names | tr '\n' ' '))"
  echo "${line#*=}"
}
owner_of() { # name -> the tool whose build makes its binary (itself, or <tool> of "from:<tool>")
  local l; l="$(line_of "$1")"
  case "$l" in from:*) echo "${l#from:}" ;; *) echo "$1" ;; esac
}
spec_of() { local l; l="$(line_of "$(owner_of "$1")")"; echo "${l%% *}"; }        # go-package@version | crate@version
method_of() { local l; l="$(line_of "$1")"; set -- $l; echo "${2:-install}"; }    # install | build | cargo
dir_of() { local o spec; o="$(owner_of "$1")"; spec="$(spec_of "$o")"; echo "$cache/$o-${spec##*@}"; }
bin_of() {
  local spec pkg
  if [ "$(owner_of "$1")" != "$1" ] || [ "$(method_of "$1")" != install ]; then echo "$(dir_of "$1")/bin/$1"; return; fi
  spec="$(spec_of "$1")"; pkg="${spec%@*}"; echo "$(dir_of "$1")/bin/${pkg##*/}"
}
# Called first in the main shell: an unknown name fails once, clearly (a `die` inside "$(...)" only ends the subshell).
check_name() { grep -qE "^$1=" "$versions" || die "unknown tool '$1' (known: $(names | tr '\n' ' '))"; }
installed() { [ -x "$(bin_of "$1")" ] && [ -f "$(dir_of "$1")/.complete" ]; }

# `go build` inside a writable copy of the downloaded module: the module's own go.mod (with its replace directives)
# governs, as in the project's release builds.
build_module() { # name spec out-dir
  local name="$1" spec="$2" out="$3" l pkgs=() tags="" w dir src
  l="$(line_of "$name")"; set -- $l; shift 2
  for w in "$@"; do case "$w" in tags=*) tags="${w#tags=}" ;; *) pkgs+=("$w") ;; esac; done
  [ ${#pkgs[@]} -gt 0 ] || die "$name: 'build' needs the packages to build (see scripts/tools.versions)"
  dir="$(go mod download -json "$spec" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "$name: go mod download $spec gave no module directory"
  src="$out/src"
  cp -R "$dir" "$src" && chmod -R u+w "$src" || return 1
  local mod="${spec%@*}" ver="${spec##*@}"
  ( cd "$src" && CGO_ENABLED=0 go build -trimpath -tags="${tags//,/ }" \
      -ldflags "-X $mod/build.Commit=$ver -X '$mod/build.RawTags=${tags}'" \
      -o "$out/bin/" "${pkgs[@]}" ) || return 1
  rm -rf "$src"
}

# `cargo install --locked` of a crate from crates.io: the crate's own Cargo.lock governs, as in its releases. A debug
# build without debug info: faster to compile than a release build, and fast enough for tests. The pin's name is the
# binary the crate installs (mostro-cli, mostrod).
cargo_install() { # name spec out-dir
  local name="$1" spec="$2" out="$3"
  ( export CARGO_TARGET_DIR="$cache/.cargo-target" CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0
    # The crates pin a rust-toolchain of their own; the installed stable one builds them.
    export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
    cargo install --quiet --locked --debug --root "$out" "${spec%@*}@${spec##*@}" ) || return 1
  rm -f "$out/.crates.toml" "$out/.crates2.json"
}

install_one() {
  local name start tmp spec dir bin
  name="$(owner_of "$1")"
  [ "$name" = "$1" ] || echo "$1: built with $name"
  spec="$(spec_of "$name")"; dir="$(dir_of "$name")"; bin="$(bin_of "$name")"
  if installed "$name"; then
    echo "$name: $spec already built at $(dirname "$bin")"
    return
  fi
  if [ "$(method_of "$name")" = cargo ]; then
    command -v cargo >/dev/null 2>&1 || die "$name needs Rust's cargo on PATH to build $spec from crates.io; install Rust (rustup), or skip the suites that need it"
    # mostrod's build script compiles its admin gRPC proto and asks git for a commit.
    if [ "$name" = mostrod ]; then
      command -v protoc >/dev/null 2>&1 || die "$name needs protoc to build (Debian: apt-get install protobuf-compiler)"
      command -v git >/dev/null 2>&1 || die "$name needs git to build (Debian: apt-get install git)"
    fi
    echo "$name: building $spec with cargo (once; several minutes)"
    start=$(date +%s)
    tmp="$(mktemp -d "$cache/.build-$name.XXXXXX")"
    cargo_install "$name" "$spec" "$tmp" || { rm -rf "$tmp"; die "building $spec failed"; }
    [ -x "$tmp/bin/$name" ] || { rm -rf "$tmp"; die "building $spec made no $name"; }
    rm -rf "$dir"; mv "$tmp" "$dir"; echo "$spec" > "$dir/.complete"
    echo "$name: built $name in $dir/bin in $(( $(date +%s) - start )) s"
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
  case "$(method_of "$name")" in
    install) GOBIN="$tmp/bin" CGO_ENABLED=0 go install "$spec" || { rm -rf "$tmp"; die "building $spec failed"; } ;;
    build) build_module "$name" "$spec" "$tmp" || { chmod -R u+w "$tmp"; rm -rf "$tmp"; die "building $spec failed"; } ;;
    *) rm -rf "$tmp"; die "$name: unknown build method '$(method_of "$name")' in scripts/tools.versions" ;;
  esac
  [ -x "$tmp/bin/$(basename "$bin")" ] || { rm -rf "$tmp"; die "building $spec made no $(basename "$bin")"; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "$spec" > "$dir/.complete"
  echo "$name: built $(ls "$dir/bin" | tr '\n' ' ')in $dir/bin in $(( $(date +%s) - start )) s"
}

cmd="${1:-}"; shift || true
mkdir -p "$cache"
case "$cmd" in
  install)
    if [ $# -eq 0 ]; then set -- $(names); fi
    for n in "$@"; do check_name "$n"; check_name "$(owner_of "$n")"; done
    done_owners=" "
    for n in "$@"; do
      o="$(owner_of "$n")"
      case "$done_owners" in *" $o "*) continue ;; esac  # lncli after lnd: one build
      install_one "$n"; done_owners="$done_owners$o "
    done
    # The cargo builds' intermediate files (gigabytes) are not needed once their binaries are in the cache.
    rm -rf "$cache/.cargo-target" ;;
  path)
    [ $# -eq 1 ] || die "usage: tools.sh path <name>"
    check_name "$1"
    b="$(bin_of "$1")"; installed "$1" || die "$1 is not installed; run: scripts/tools.sh install $1"
    echo "$b" ;;
  list)
    for n in $(names); do
      if installed "$n"; then s="$(bin_of "$n")"; else s="not installed"; fi
      v="$(spec_of "$n")"; [ "$(owner_of "$n")" = "$n" ] || v="$v (built with $(owner_of "$n"))"
      printf '%-20s %-72s %s\n' "$n" "$v" "$s"
    done ;;
  *) die "usage: tools.sh install [name...] | path <name> | list" ;;
esac

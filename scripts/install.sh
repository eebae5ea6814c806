#!/usr/bin/env bash
# Installs what the project's commands need on a Debian 12 machine with rustup Rust.
# Idempotent: each part checks what is already there and skips it, so a second run is quick.
#
#   scripts/install.sh                 # everything
#   scripts/install.sh qemu wasm       # only some parts
#
# Parts:
#   rust-targets  rustup targets for wasm and the bare-metal images, and a C++ compiler (libFuzzer,
#                 which the fuzz targets link, is C++)
#   qemu          qemu-system-arm and qemu-system-misc (bare-metal runs)
#   wasm          wasm-bindgen-cli 0.2.130 (cargo) and wasm-opt (npm binaryen)
#   browser       Debian chromium + chromium-driver, and playwright-core (npm, no browser download)
#   node          the project-local npm packages in tools/node (binaryen, playwright-core, ws,
#                 fake-indexeddb)
#   fuzz          the nightly toolchain and cargo-fuzz, for `cargo +nightly fuzz run` with a
#                 sanitizer (not part of "all": make test and make fuzz build the targets on stable)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION=0.2.130
RUST_TARGETS=(wasm32-unknown-unknown thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
ALL_PARTS=(rust-targets qemu node wasm browser)

log() { printf 'install: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_UPDATED=0
apt_install() {
    # Installs the given Debian packages that are not installed yet; runs apt-get update only then.
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "apt: $* already installed"
        return 0
    fi
    log "apt: installing ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

part_rust_targets() {
    local installed missing=() t
    installed="$(rustup target list --installed)"
    for t in "${RUST_TARGETS[@]}"; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "rust targets already installed"
    else
        log "rustup target add ${missing[*]}"
        rustup target add "${missing[@]}"
    fi
    if command -v c++ >/dev/null; then
        log "c++ already installed"
    else
        apt_install g++
    fi
}

part_qemu() {
    apt_install qemu-system-arm qemu-system-misc
}

part_node() {
    local dir="$ROOT/tools/node" stamp
    command -v npm >/dev/null || apt_install nodejs npm
    # node_modules/.lock-sha records the package-lock.json it was installed from.
    stamp="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -x "$dir/node_modules/.bin/wasm-opt" ] && [ -d "$dir/node_modules/playwright-core" ] && [ -d "$dir/node_modules/ws" ] \
        && [ "$(cat "$dir/node_modules/.lock-sha" 2>/dev/null)" = "$stamp" ]; then
        log "npm packages in tools/node already installed"
        return 0
    fi
    log "npm ci in tools/node"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" >"$dir/node_modules/.lock-sha"
}

part_wasm() {
    part_rust_targets
    if command -v wasm-bindgen >/dev/null && wasm-bindgen --version | grep -q " $WASM_BINDGEN_VERSION\$"; then
        log "wasm-bindgen $WASM_BINDGEN_VERSION already installed"
    else
        log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes a few minutes)"
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
    fi
    part_node
}

part_browser() {
    apt_install chromium chromium-driver
    part_node
}

part_fuzz() {
    if rustup toolchain list | grep -q '^nightly'; then
        log "nightly toolchain already installed"
    else
        log "rustup toolchain install nightly"
        rustup toolchain install nightly --profile minimal
    fi
    if command -v cargo-fuzz >/dev/null; then
        log "cargo-fuzz already installed"
    else
        log "cargo install cargo-fuzz --locked (takes several minutes)"
        cargo install cargo-fuzz --locked
    fi
}

run_part() {
    case "$1" in
        rust-targets) part_rust_targets ;;
        qemu) part_qemu ;;
        node) part_node ;;
        wasm) part_wasm ;;
        browser) part_browser ;;
        fuzz) part_fuzz ;;
        all) for p in "${ALL_PARTS[@]}"; do run_part "$p"; done ;;
        *) log "unknown part '$1' (known: ${ALL_PARTS[*]} fuzz all)"; return 2 ;;
    esac
}

if [ "$#" -eq 0 ]; then set -- all; fi
for part in "$@"; do run_part "$part"; done

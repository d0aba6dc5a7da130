#!/bin/sh
# Writes the dependency skeleton of a Cargo workspace: every Cargo.toml, Cargo.lock,
# build scripts and cargo config, and an empty stub for every target source file.
# `cargo build` in the skeleton compiles only the dependencies, so the Dockerfile
# caches them in a layer that changes only when a manifest or the lock file does
# (the cargo-chef idea, in plain sh, with nothing to install).
#
#   sh deploy/docker/skeleton.sh SOURCE_DIR OUT_DIR
#
# A new workspace member needs no change here: every manifest under SOURCE_DIR is
# taken (except under target/ and node_modules/).
set -eu

src=$1
out=$2
stub='#![allow(dead_code)]
fn main() {}'

cd "$src"
mkdir -p "$out"
cp Cargo.lock "$out/Cargo.lock"
for extra in rust-toolchain rust-toolchain.toml .cargo/config.toml .cargo/config; do
    if [ -f "$extra" ]; then
        mkdir -p "$out/$(dirname "$extra")"
        cp "$extra" "$out/$extra"
    fi
done

find . \( -name target -o -name node_modules -o -name .git \) -prune -o -name Cargo.toml -print |
    while read -r manifest; do
        dir=$(dirname "$manifest")
        mkdir -p "$out/$dir"
        cp "$manifest" "$out/$manifest"
        # A build script runs during the dependency build too: keep the real one.
        if [ -f "$dir/build.rs" ]; then
            cp "$dir/build.rs" "$out/$dir/build.rs"
        fi
        # Target roots: the conventional ones that exist, and every `path = "*.rs"`
        # of the manifest ([lib], [[bin]], [[test]], [[bench]], [[example]]).
        {
            for conventional in src/lib.rs src/main.rs; do
                if [ -f "$dir/$conventional" ]; then
                    echo "$conventional"
                fi
            done
            if [ -d "$dir/src/bin" ]; then
                (cd "$dir" && find src/bin -maxdepth 1 -name "*.rs")
            fi
            sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' "$manifest"
        } | sort -u | while read -r target; do
            if [ ! -f "$out/$dir/$target" ]; then
                mkdir -p "$(dirname "$out/$dir/$target")"
                printf '%s\n' "$stub" > "$out/$dir/$target"
            fi
        done
    done

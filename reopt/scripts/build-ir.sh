#!/usr/bin/env bash
# Builds the LLVM IR inputs (and native reference executables) of the
# jitlink-reopt tests and benchmarks.
#
#   reopt/scripts/build-ir.sh OUTDIR [bench]     e.g. target/tmp/reopt-ir
#
# With `bench`, also the benchmark-only inputs (sqlite_bench*).
# IR: clang-14 -O0 -Xclang -disable-O0-optnone -emit-llvm -c (what the
# driver expects: unoptimised IR an optimiser may still work on).
# Native references: clang-14 -O2 from the same sources (their output is the
# expected output; their run time is the "native" time of the benchmarks).
# Third-party sources (Lua 5.4.7, the SQLite amalgamation) come from the
# crates tests/sources/ names, located with `cargo metadata`.
# Outputs in OUTDIR:
#   lua/*.bc (+ lua_driver.bc)  lua_native
#   sqlite/sqlite3.bc sqlite/sqlite_driver.bc  sqlite_native
#   sqlite_bench.bc (with sqlite/sqlite3.bc)  sqlite_bench_native
#   nbody.bc nbody_native   threads.bc threads_native
# Outputs newer than their inputs are not rebuilt. $CLANG overrides clang-14;
# $JOBS (default 2) compiles in parallel.
set -euo pipefail

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 OUTDIR [bench]" >&2; exit 64; }
OUTDIR=$1
BENCH=${2:-}
CLANG=${CLANG:-clang-14}
JOBS=${JOBS:-2}
REOPT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$REOPT/.." && pwd)
PROGS="$ROOT/tests/programs"
command -v "$CLANG" >/dev/null 2>&1 || { echo "build-ir.sh: $CLANG not found (Debian: apt-get install clang-14)" >&2; exit 127; }

mkdir -p "$OUTDIR/lua" "$OUTDIR/sqlite" "$OUTDIR/log"
OUTDIR=$(cd "$OUTDIR" && pwd)
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.lock"
    flock 9
fi

META=$("${CARGO:-cargo}" metadata --manifest-path "$ROOT/tests/sources/Cargo.toml" --format-version 1 --locked)
read -r LUA_PKG SQLITE_PKG < <(python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
want = {"lua-src": "547.1.0", "libsqlite3-sys": "0.30.1"}
found = {p["name"]: os.path.dirname(p["manifest_path"]) for p in meta["packages"] if want.get(p["name"]) == p["version"]}
missing = [n for n in want if n not in found]
if missing:
    sys.exit("build-ir.sh: cargo metadata did not locate: " + ", ".join(missing))
print(found["lua-src"], found["libsqlite3-sys"])
' <<<"$META")
LUA_DIR="$LUA_PKG/lua-5.4.7"
SQLITE_DIR="$SQLITE_PKG/sqlite3"
LUA_FLAGS=(-DLUA_USE_LINUX -I"$LUA_DIR")
SQLITE_FLAGS=(-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -I"$SQLITE_DIR")
IRFLAGS=(-O0 -Xclang -disable-O0-optnone -emit-llvm -c)

stamp_text="clang=$("$CLANG" --version | head -n1)
script=$(cksum <"${BASH_SOURCE[0]}")
lua=$LUA_DIR
sqlite=$SQLITE_DIR"
if [[ ! -f $OUTDIR/.stamp ]] || [[ $(cat "$OUTDIR/.stamp") != "$stamp_text" ]]; then
    rm -rf "$OUTDIR/lua"/* "$OUTDIR/sqlite"/* "$OUTDIR"/*.bc "$OUTDIR"/*_native
    printf '%s\n' "$stamp_text" >"$OUTDIR/.stamp"
fi
rm -f "$OUTDIR/.failed"

up_to_date() {
    local out=$1 in
    shift
    [[ -e $out ]] || return 1
    for in in "$@"; do [[ $in -nt $out ]] && return 1; done
    return 0
}

# job OUT INPUTS... -- CMD...: runs CMD (writing OUT.tmp) unless OUT is up to date.
job() {
    local out=$1 ins=()
    shift
    while [[ $1 != -- ]]; do ins+=("$1"); shift; done
    shift
    up_to_date "$out" "${ins[@]}" && return 0
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n 2>/dev/null || true; done
    (
        if "$@" -o "$out.tmp" >"$OUTDIR/log/$(basename "$out").log" 2>&1; then
            mv -f "$out.tmp" "$out"
        else
            echo "$out" >>"$OUTDIR/.failed"
            cat "$OUTDIR/log/$(basename "$out").log" >&2
        fi
    ) &
}

# The amalgamation first: it is the slowest.
job "$OUTDIR/sqlite/sqlite3.bc" "$SQLITE_DIR/sqlite3.c" -- "$CLANG" "${IRFLAGS[@]}" "${SQLITE_FLAGS[@]}" "$SQLITE_DIR/sqlite3.c"
job "$OUTDIR/sqlite/sqlite_driver.bc" "$PROGS/sqlite_driver.c" -- "$CLANG" "${IRFLAGS[@]}" "${SQLITE_FLAGS[@]}" "$PROGS/sqlite_driver.c"
if [[ $BENCH == bench ]]; then
    job "$OUTDIR/sqlite_bench.bc" "$REOPT/tests/c/sqlite_bench.c" -- "$CLANG" "${IRFLAGS[@]}" "${SQLITE_FLAGS[@]}" "$REOPT/tests/c/sqlite_bench.c"
fi
lua_srcs=()
for src in "$LUA_DIR"/*.c; do
    base=$(basename "$src" .c)
    case $base in lua | luac) continue ;; esac
    lua_srcs+=("$src")
    job "$OUTDIR/lua/$base.bc" "$src" -- "$CLANG" "${IRFLAGS[@]}" "${LUA_FLAGS[@]}" "$src"
done
job "$OUTDIR/lua/lua_driver.bc" "$PROGS/lua_driver.c" -- "$CLANG" "${IRFLAGS[@]}" "${LUA_FLAGS[@]}" "$PROGS/lua_driver.c"
for p in nbody threads; do
    job "$OUTDIR/$p.bc" "$REOPT/tests/c/$p.c" -- "$CLANG" "${IRFLAGS[@]}" "$REOPT/tests/c/$p.c"
done
# Native references at -O2, from the sources.
job "$OUTDIR/sqlite_native" "$SQLITE_DIR/sqlite3.c" "$PROGS/sqlite_driver.c" -- \
    "$CLANG" -O2 "${SQLITE_FLAGS[@]}" "$SQLITE_DIR/sqlite3.c" "$PROGS/sqlite_driver.c" -lm
job "$OUTDIR/lua_native" "${lua_srcs[@]}" "$PROGS/lua_driver.c" -- \
    "$CLANG" -O2 "${LUA_FLAGS[@]}" "${lua_srcs[@]}" "$PROGS/lua_driver.c" -lm
if [[ $BENCH == bench ]]; then
    job "$OUTDIR/sqlite_bench_native" "$SQLITE_DIR/sqlite3.c" "$REOPT/tests/c/sqlite_bench.c" -- \
        "$CLANG" -O2 "${SQLITE_FLAGS[@]}" "$SQLITE_DIR/sqlite3.c" "$REOPT/tests/c/sqlite_bench.c" -lm
fi
job "$OUTDIR/nbody_native" "$REOPT/tests/c/nbody.c" -- "$CLANG" -O2 "$REOPT/tests/c/nbody.c" -lm
job "$OUTDIR/threads_native" "$REOPT/tests/c/threads.c" -- "$CLANG" -O2 "$REOPT/tests/c/threads.c" -lpthread
wait || true
if [[ -s $OUTDIR/.failed ]]; then
    echo "build-ir.sh: failed: $(tr '\n' ' ' <"$OUTDIR/.failed")" >&2
    exit 1
fi

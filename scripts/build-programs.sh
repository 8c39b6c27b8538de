#!/usr/bin/env bash
# Builds the "real program" end-to-end test inputs for `jitlink run`.
#
#   scripts/build-programs.sh OUTDIR OPT        e.g. target/programs/gcc-O2 -O2
#
# Compiler: $CC (default gcc).  Parallelism: $JOBS (default 2).
#
# Third-party C sources (Lua 5.4.7, the SQLite amalgamation, zlib) come from
# crates.io packages, fetched and located with `cargo metadata` on the
# never-built package tests/sources.  Output in OUTDIR:
#
#   liblua.a  lua_driver.o                 lua_native     (lua_driver.o liblua.a -lm)
#   sqlite3.o sqlite_driver.o              sqlite_native  (sqlite_driver.o sqlite3.o -lm)
#   libz.a    zlib_driver.o                zlib_native    (zlib_driver.o libz.a)
#
# The native executables are linked by $CC from the very same objects that
# `jitlink run` is given, so their behaviour is the reference.
# Compile flags are the compiler's defaults (PIE on Debian's GCC) plus OPT.
# Outputs newer than their inputs are not rebuilt; a change of compiler, OPT
# or of this script rebuilds everything.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 OUTDIR OPT   (e.g. $0 target/programs/gcc-O2 -O2)" >&2
    exit 64
fi
OUTDIR=$1
OPT=$2
CC=${CC:-gcc}
JOBS=${JOBS:-2}
AR=${AR:-ar}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/build-programs.sh"
PROGS="$ROOT/tests/programs"

command -v "$CC" >/dev/null 2>&1 || { echo "build-programs.sh: compiler '$CC' not found" >&2; exit 127; }

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# One build per OUTDIR at a time (two test processes may share it).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.lock"
    flock 9
fi

start_time=$(date +%s)

# ---------------------------------------------------------------- sources
META=$("${CARGO:-cargo}" metadata --manifest-path "$ROOT/tests/sources/Cargo.toml" --format-version 1 --locked)
read -r LUA_PKG SQLITE_PKG ZLIB_PKG < <(python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
want = {"lua-src": "547.1.0", "libsqlite3-sys": "0.30.1", "libz-sys": "1.1.31"}
found = {}
for p in meta["packages"]:
    if want.get(p["name"]) == p["version"]:
        found[p["name"]] = os.path.dirname(p["manifest_path"])
missing = [n for n in want if n not in found]
if missing:
    sys.exit("build-programs.sh: cargo metadata did not locate: " + ", ".join(missing))
for n in want:
    if " " in found[n]:
        sys.exit("build-programs.sh: path with spaces not supported: " + found[n])
print(found["lua-src"], found["libsqlite3-sys"], found["libz-sys"])
' <<<"$META")

LUA_DIR="$LUA_PKG/lua-5.4.7"
SQLITE_DIR="$SQLITE_PKG/sqlite3"
ZLIB_DIR="$ZLIB_PKG/src/zlib"
for f in "$LUA_DIR/lapi.c" "$SQLITE_DIR/sqlite3.c" "$ZLIB_DIR/deflate.c"; do
    [[ -f $f ]] || { echo "build-programs.sh: missing source $f" >&2; exit 1; }
done

LUA_FLAGS=(-DLUA_USE_LINUX)
SQLITE_FLAGS=(-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION)
ZLIB_FLAGS=(-D_LARGEFILE64_SOURCE=1)
ZLIB_SRCS=(adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate
           inftrees trees uncompr zutil)

# ------------------------------------------------- configuration stamp
# Rebuild everything when the compiler, OPT, or this script changes.
stamp_text="cc=$CC
cc-version=$("$CC" --version 2>&1 | head -n1)
opt=$OPT
script=$(cksum <"$SELF")
lua=$LUA_DIR
sqlite=$SQLITE_DIR
zlib=$ZLIB_DIR"
if [[ ! -f $OUTDIR/.stamp ]] || [[ $(cat "$OUTDIR/.stamp") != "$stamp_text" ]]; then
    rm -rf "$OUTDIR/obj" "$OUTDIR/log"
    rm -f "$OUTDIR"/*.o "$OUTDIR"/*.a "$OUTDIR"/*_native "$OUTDIR/.failed"
    printf '%s\n' "$stamp_text" >"$OUTDIR/.stamp"
fi
mkdir -p "$OUTDIR/obj/lua" "$OUTDIR/obj/zlib" "$OUTDIR/log"
rm -f "$OUTDIR/.failed"

# ------------------------------------------------------------- helpers
# up_to_date OUT INPUT...: OUT exists and is newer than every INPUT.
up_to_date() {
    local out=$1 in
    shift
    [[ -e $out ]] || return 1
    for in in "$@"; do
        [[ $in -nt $out ]] && return 1
    done
    return 0
}

# job NAME CMD...: runs CMD in the background (at most $JOBS at once),
# output to log/NAME.log; a failure leaves a mark in .failed.
job() {
    local name=$1
    shift
    while (($(jobs -rp | wc -l) >= JOBS)); do
        wait -n 2>/dev/null || true
    done
    (
        if ! "$@" >"$OUTDIR/log/$name.log" 2>&1; then
            echo "$name" >>"$OUTDIR/.failed"
            echo "build-programs.sh: FAILED: $*" >&2
            cat "$OUTDIR/log/$name.log" >&2
            exit 1
        fi
    ) &
}

wait_all() {
    wait || true
    if [[ -s $OUTDIR/.failed ]]; then
        echo "build-programs.sh: build failed ($(tr '\n' ' ' <"$OUTDIR/.failed"))" >&2
        exit 1
    fi
}

# compile NAME OUT SRC DEP... -- FLAG...: compile SRC to OUT (atomically) unless
# OUT is newer than SRC and every DEP.
compile() {
    local name=$1 out=$2 src=$3
    shift 3
    local deps=()
    while [[ $1 != -- ]]; do deps+=("$1"); shift; done
    shift
    up_to_date "$out" "$src" "${deps[@]}" && return 0
    job "$name" bash -c 'out=$1; shift; "$@" && mv -f "$out.tmp" "$out"' _ \
        "$out" "$CC" "$OPT" "$@" -c "$src" -o "$out.tmp"
}

# ------------------------------------------------------------- compile
lua_headers=("$LUA_DIR"/*.h)
zlib_headers=("$ZLIB_DIR"/*.h)

# The amalgamation is by far the slowest: start it first.
compile sqlite3 "$OUTDIR/sqlite3.o" "$SQLITE_DIR/sqlite3.c" \
    "$SQLITE_DIR/sqlite3.h" -- "${SQLITE_FLAGS[@]}"

compile sqlite_driver "$OUTDIR/sqlite_driver.o" \
    "$PROGS/sqlite_driver.c" "$SQLITE_DIR/sqlite3.h" -- "${SQLITE_FLAGS[@]}" -I"$SQLITE_DIR"
compile lua_driver "$OUTDIR/lua_driver.o" \
    "$PROGS/lua_driver.c" "${lua_headers[@]}" -- "${LUA_FLAGS[@]}" -I"$LUA_DIR"
compile zlib_driver "$OUTDIR/zlib_driver.o" \
    "$PROGS/zlib_driver.c" "${zlib_headers[@]}" -- "${ZLIB_FLAGS[@]}" -I"$ZLIB_DIR"

lua_objs=()
for src in "$LUA_DIR"/*.c; do
    base=$(basename "$src" .c)
    case $base in lua | luac) continue ;; esac # standalone mains: not part of the library
    obj="$OUTDIR/obj/lua/$base.o"
    lua_objs+=("$obj")
    compile "lua-$base" "$obj" "$src" "${lua_headers[@]}" -- "${LUA_FLAGS[@]}"
done

zlib_objs=()
for base in "${ZLIB_SRCS[@]}"; do
    obj="$OUTDIR/obj/zlib/$base.o"
    zlib_objs+=("$obj")
    compile "zlib-$base" "$obj" "$ZLIB_DIR/$base.c" "${zlib_headers[@]}" -- "${ZLIB_FLAGS[@]}"
done

wait_all

# ------------------------------------------------------ archive and link
archive() {
    local out=$1
    shift
    up_to_date "$out" "$@" && return 0
    rm -f "$out.tmp"
    "$AR" rcs "$out.tmp" "$@"
    mv -f "$out.tmp" "$out"
}
archive "$OUTDIR/liblua.a" "${lua_objs[@]}"
archive "$OUTDIR/libz.a" "${zlib_objs[@]}"

link() {
    local out=$1
    shift
    local inputs=()
    for a in "$@"; do [[ $a == -* ]] || inputs+=("$a"); done
    up_to_date "$out" "${inputs[@]}" && return 0
    "$CC" "$@" -o "$out.tmp"
    mv -f "$out.tmp" "$out"
}
link "$OUTDIR/lua_native" "$OUTDIR/lua_driver.o" "$OUTDIR/liblua.a" -lm
link "$OUTDIR/sqlite_native" "$OUTDIR/sqlite_driver.o" "$OUTDIR/sqlite3.o" -lm
link "$OUTDIR/zlib_native" "$OUTDIR/zlib_driver.o" "$OUTDIR/libz.a"

echo "build-programs.sh: $OUTDIR ($CC $OPT) ready in $(($(date +%s) - start_time))s" >&2

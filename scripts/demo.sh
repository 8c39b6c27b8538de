#!/usr/bin/env bash
# The README's "main job on a real program": build jitlink, compile the SQLite
# test program (the SQLite amalgamation plus tests/programs/sqlite_driver.c)
# at -O2 with the system C compiler, then link it in memory and run it:
#
#   jitlink run target/programs/gcc-O2/sqlite_driver.o target/programs/gcc-O2/sqlite3.o -l m
#
# Extra arguments to this script are passed to the program (after `--`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

cargo build --release --bin jitlink
CC=gcc scripts/build-programs.sh target/programs/gcc-O2 -O2

cmd=(target/release/jitlink run target/programs/gcc-O2/sqlite_driver.o target/programs/gcc-O2/sqlite3.o -l m)
if [[ $# -gt 0 ]]; then
    cmd+=(-- "$@")
fi
echo "+ ${cmd[*]}" >&2
exec "${cmd[@]}"

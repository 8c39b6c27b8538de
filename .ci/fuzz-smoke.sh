#!/bin/sh
# Fuzz smoke test: every cargo-fuzz target in fuzz/ runs for 60 seconds
# (FUZZ_SECONDS) from its checked-in seeds (fuzz/seeds/TARGET) with the ELF
# dictionary, built in release mode with debug assertions and overflow checks
# (cargo-fuzz's default); any crash, panic, timeout (10 s per input) or RSS over
# 2 GiB fails the script, and libFuzzer leaves the input under
# fuzz/artifacts/TARGET/. Needs a nightly toolchain (FUZZ_TOOLCHAIN, default
# "nightly"); installs cargo-fuzz when it is missing. The corpus grown here
# is thrown away. See docs/fuzzing.md.
set -eu

cd "$(dirname "$0")/../fuzz"
toolchain=${FUZZ_TOOLCHAIN:-nightly}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"elf_object archive link_noexec fixup macho_object coff_object"}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cargo "+$toolchain" fuzz build
for t in $targets; do
    corpus=$(mktemp -d)
    echo "fuzz-smoke: $t for ${secs}s"
    if ! cargo "+$toolchain" fuzz run "$t" "$corpus" "seeds/$t" -- \
        -dict=elf.dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>"$corpus.log"; then
        tail -n 60 "$corpus.log"
        echo "fuzz-smoke: $t FAILED; the input is in fuzz/artifacts/$t/"
        rm -rf "$corpus" "$corpus.log"
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec)|^#[0-9]+[[:space:]]+DONE' "$corpus.log" || true
    rm -rf "$corpus" "$corpus.log"
done
echo "fuzz-smoke: all targets clean in $(( $(date +%s) - start ))s"

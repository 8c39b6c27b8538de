//! ELF AArch64 relocations: every relocated byte of every fixture is
//! checked against a value computed independently of the linker.
//!
//! Each test links objects from `tests/fixtures/aarch64/` with
//!
//!     jitlink link --noexec --slab-address 0x10000000
//!         --abs ext_near=0x10080000 --abs ext_far=0x7f0000000000
//!         --dump-json <tmp> FILE...
//!
//! and reads the `jitlink-dump/1` file. The objects are parsed with the
//! `object` crate; for every relocation the expected field is computed
//! from the formula of "ELF for the Arm 64-bit Architecture (AArch64)"
//! (AAELF64 §5.7), with
//!
//! * P = the file's section address in the dump's `sections` + r_offset;
//! * S = section symbol: that section's address; a symbol defined in a
//!   section: (defining file, section) + st_value, the definition picked by
//!   ELF rules (first strong, else COMMON, else weak; dropped COMDAT
//!   members do not count); SHN_ABS: st_value; `--abs`: the value passed;
//!   COMMON: the dump's `symbols`; `__start_X`/`__stop_X`: the sections X;
//!   `_GLOBAL_OFFSET_TABLE_`: the dump's symbol for that file;
//! * A = r_addend; GOT = the file's `_GLOBAL_OFFSET_TABLE_`;
//! * `G(GDAT(S+A))` = a `got` entry of the dump for (file, target) whose
//!   8 bytes hold S + A; `Page(x)` = `x & !0xfff`.
//!
//! Instruction words are compared whole: the relocated field must hold the
//! expected value and every other bit must equal the object's (except
//! where the rules below change the opcode). Every byte of every kept
//! section that no relocation touches must equal the object's.
//!
//! Rules of the linker encoded here (not all are in the psABI):
//! * MOV[NZ] relocations (MOVW_SABS_Gn, MOVW_PREL_Gn, MOVW_GOTOFF_Gn,
//!   including G3, not the _NC ones) write MOVZ for X >= 0 and MOVN of !X
//!   for X < 0; MOVW_UABS_Gn and every _NC keep the opcode.
//! * LDSTn_ABS_LO12_NC require `S + A` to be a multiple of n bytes.
//! * CALL26/JUMP26/CONDBR19/TSTBR14 and PLT32 are direct (S + A - P)
//!   whenever that fits the field (word-aligned for branches); otherwise
//!   they reach a `stubs` entry L for the target (field = L - P): a PLT
//!   stub (`kind` "plt", for symbols the link does not define, e.g.
//!   `--abs`) that loads a `got` entry holding S + A, or a veneer (`kind`
//!   "veneer", for SHN_ABS targets) that computes S + A itself. The stub
//!   includes the addend.
//! * ADR_GOT_PAGE + LD64_GOT_LO12_NC are relaxed when the target is
//!   defined in the link (not --abs, not SHN_ABS) and, within the
//!   section, the (symbol, addend) has at least one of each and every one
//!   of its LD64_GOT_LO12_NC is on `LDR Xt, [Xn, #imm]`: the ADRP then
//!   addresses Page(S + A) and the LDR becomes `ADD Xt, Xn, #lo12(S + A)`.
//!   Otherwise both address a `got` entry holding S + A. The other GOT
//!   relocations are never relaxed.
//!
//! Assumptions about the dump the spec does not spell out: one `sections`
//! entry per (file, section) of the ELF size; each file that uses the GOT
//! has its own `_GLOBAL_OFFSET_TABLE_` in `symbols`; `got`/`stubs`
//! `target` is the symbol name (section symbols: `SECTION+0x0`).

mod aarch64_common;

use std::collections::BTreeSet;
use std::fs;

use aarch64_common::formula::*;
use aarch64_common::*;
use object::elf;
use object::{Object, ObjectSection};

const BASIC: &[&str] = &["basic.o", "basic_defs.o"];
const GOT: &[&str] = &["got.o", "gotoff.o"];
const C_VARIANTS: &[&str] = &["O0", "O2", "O2-pic", "O2-large", "O1-tiny-pic"];

// ---------------------------------------------------------------------------
// Tests: fixtures in range
// ---------------------------------------------------------------------------

#[test]
fn basic_relocations() {
    let l = link("basic", BASIC);
    let ctx = Ctx::new(&l);
    let recs = ctx.check_all();
    use elf::*;
    assert_types(
        &recs,
        &[
            R_AARCH64_ABS64,
            R_AARCH64_ABS32,
            R_AARCH64_ABS16,
            R_AARCH64_PREL64,
            R_AARCH64_PREL32,
            R_AARCH64_PREL16,
            R_AARCH64_CALL26,
            R_AARCH64_JUMP26,
            R_AARCH64_CONDBR19,
            R_AARCH64_TSTBR14,
            R_AARCH64_LD_PREL_LO19,
            R_AARCH64_ADR_PREL_LO21,
            R_AARCH64_ADR_PREL_PG_HI21,
            R_AARCH64_ADR_PREL_PG_HI21_NC,
            R_AARCH64_ADD_ABS_LO12_NC,
            R_AARCH64_LDST8_ABS_LO12_NC,
            R_AARCH64_LDST16_ABS_LO12_NC,
            R_AARCH64_LDST32_ABS_LO12_NC,
            R_AARCH64_LDST64_ABS_LO12_NC,
            R_AARCH64_LDST128_ABS_LO12_NC,
            R_AARCH64_MOVW_UABS_G0,
            R_AARCH64_MOVW_UABS_G0_NC,
            R_AARCH64_MOVW_UABS_G1,
            R_AARCH64_MOVW_UABS_G1_NC,
            R_AARCH64_MOVW_UABS_G2,
            R_AARCH64_MOVW_UABS_G2_NC,
            R_AARCH64_MOVW_UABS_G3,
            R_AARCH64_MOVW_SABS_G0,
            R_AARCH64_MOVW_SABS_G1,
            R_AARCH64_MOVW_SABS_G2,
            R_AARCH64_MOVW_PREL_G0,
            R_AARCH64_MOVW_PREL_G0_NC,
            R_AARCH64_MOVW_PREL_G1,
            R_AARCH64_MOVW_PREL_G1_NC,
            R_AARCH64_MOVW_PREL_G2,
            R_AARCH64_MOVW_PREL_G2_NC,
            R_AARCH64_MOVW_PREL_G3,
        ],
    );
    assert_how(&recs, "basic.o", R_AARCH64_CALL26, "gfunc", How::Direct);
    assert_how(&recs, "basic.o", R_AARCH64_CALL26, "ext_near", How::Direct);
    assert_how(&recs, "basic.o", R_AARCH64_CALL26, "ext_far", How::ViaStub);
    assert_how(&recs, "basic.o", R_AARCH64_JUMP26, "ext_far", How::ViaStub);
    assert_how(&recs, "basic.o", R_AARCH64_CALL26, "abs_near_fn", How::Direct);
    assert_how(&recs, "basic.o", R_AARCH64_CALL26, "abs_far_fn", How::ViaStub);
    let kind = |t: &str| recs.iter().find(|r| r.target == t && r.how == How::ViaStub).unwrap().stub_kind.clone();
    assert_eq!(kind("ext_far"), "plt", "--abs callee beyond range: PLT stub");
    assert_eq!(kind("abs_far_fn"), "veneer", "SHN_ABS callee beyond range: veneer");
    // Both MOVZ -> MOVN and MOVN -> MOVZ rewrites occur.
    let text = l.dump.section("basic.o", ".text").unwrap().address;
    let obj = object::File::parse(&l.inputs[0].1[..]).unwrap();
    let orig = obj.section_by_name(".text").unwrap().data().unwrap().to_vec();
    let mut flips = BTreeSet::new();
    for r in recs.iter().filter(|r| r.file == "basic.o" && r.section == ".text" && movw_spec(r.r_type).is_some()) {
        let o = u32::from_le_bytes(orig[r.offset as usize..r.offset as usize + 4].try_into().unwrap()) >> 29 & 3;
        let n = l.dump.word(text + r.offset, "movw") >> 29 & 3;
        if o != n {
            flips.insert((o, n));
        }
    }
    assert_eq!(flips, [(0b00, 0b10), (0b10, 0b00)].into_iter().collect(), "MOVZ<->MOVN rewrites");
}

#[test]
fn basic_stubs_and_symbols() {
    let l = link("basic_symbols", BASIC);
    let ctx = Ctx::new(&l);
    ctx.check_symbols();
    check_coverage("basic", &l.dump);
    let d = &l.dump;
    // One PLT stub per external branched to (ext_near's is made but bypassed),
    // one veneer per SHN_ABS callee; all 4-aligned, veneers 8-aligned.
    let stubs: BTreeSet<(String, String)> = d.stubs.iter().map(|s| (s.target.clone(), s.kind.clone())).collect();
    let want: BTreeSet<(String, String)> =
        [("ext_near", "plt"), ("ext_far", "plt"), ("abs_near_fn", "veneer"), ("abs_far_fn", "veneer")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(stubs, want);
    for s in &d.stubs {
        assert_eq!(s.address % if s.kind == "veneer" { 8 } else { 4 }, 0, "{s:?}");
        let value = match s.target.as_str() {
            "ext_near" => EXT_NEAR,
            "ext_far" => EXT_FAR,
            "abs_near_fn" => 0x1004_0000,
            _ => 0x7f00_0000_1000,
        };
        ctx.check_stub("stub", &s.file, &s.target, s.address, value);
    }
    // The far veneer needs the literal form; the near one the ADRP form.
    let far = d.stubs.iter().find(|s| s.target == "abs_far_fn").unwrap();
    assert!(is_ldr_x_literal(d.word(far.address, "far veneer")));
    let near = d.stubs.iter().find(|s| s.target == "abs_near_fn").unwrap();
    assert!(is_adrp(d.word(near.address, "near veneer")));
    // COMMON: zero-filled, aligned as asked.
    let c = d.symbols.iter().find(|s| s.name == "common_sym" && s.kind != "external").unwrap();
    assert_eq!((c.address % 16, c.size), (0, 24));
    assert_eq!(d.bytes(c.address, 24, "common"), &[0u8; 24][..]);
}

#[test]
fn got_relocations() {
    let l = link("got", GOT);
    let ctx = Ctx::new(&l);
    let recs = ctx.check_all();
    use elf::*;
    assert_types(
        &recs,
        &[
            R_AARCH64_ADR_GOT_PAGE,
            R_AARCH64_LD64_GOT_LO12_NC,
            R_AARCH64_GOT_LD_PREL19,
            R_AARCH64_LD64_GOTPAGE_LO15,
            R_AARCH64_LD64_GOTOFF_LO15,
            R_AARCH64_MOVW_GOTOFF_G0,
            R_AARCH64_MOVW_GOTOFF_G0_NC,
            R_AARCH64_MOVW_GOTOFF_G1,
            R_AARCH64_MOVW_GOTOFF_G1_NC,
            R_AARCH64_MOVW_GOTOFF_G2,
            R_AARCH64_MOVW_GOTOFF_G2_NC,
            R_AARCH64_MOVW_GOTOFF_G3,
            R_AARCH64_GOTREL64,
            R_AARCH64_GOTREL32,
            R_AARCH64_GOTPCREL32,
            R_AARCH64_PLT32,
        ],
    );
    assert_how(&recs, "got.o", R_AARCH64_ADR_GOT_PAGE, "gvar", How::Relaxed);
    assert_how(&recs, "got.o", R_AARCH64_LD64_GOT_LO12_NC, "gvar", How::Relaxed);
    assert_how(&recs, "got.o", R_AARCH64_LD64_GOT_LO12_NC, "gfunc", How::Relaxed);
    assert_how(&recs, "got.o", R_AARCH64_LD64_GOT_LO12_NC, ".text+0x0", How::Relaxed);
    assert_how(&recs, "got.o", R_AARCH64_ADR_GOT_PAGE, "ext_far", How::GotLoad);
    assert_how(&recs, "got.o", R_AARCH64_LD64_GOT_LO12_NC, "ext_near", How::GotLoad);
    assert_how(&recs, "got.o", R_AARCH64_ADR_GOT_PAGE, "gsplit", How::GotLoad);
    assert_how(&recs, "got.o", R_AARCH64_LD64_GOT_LO12_NC, "gsplit", How::GotLoad);
    assert_how(&recs, "got.o", R_AARCH64_GOT_LD_PREL19, "gvar", How::GotLoad);
    assert_how(&recs, "got.o", R_AARCH64_PLT32, "gfunc", How::Direct);
    assert_how(&recs, "got.o", R_AARCH64_PLT32, "ext_near", How::Direct);
    assert_how(&recs, "got.o", R_AARCH64_PLT32, "ext_far", How::ViaStub);
    assert_how(&recs, "got.o", R_AARCH64_CONDBR19, "ext_far", How::ViaStub);
    assert_how(&recs, "got.o", R_AARCH64_CONDBR19, "ext_near", How::Direct);
    assert_how(&recs, "got.o", R_AARCH64_TSTBR14, "ext_near", How::ViaStub);
    // Relaxation needs no GOT entry: none for gvar's relaxed pair besides
    // the one GOT_LD_PREL19 / GOTPAGE_LO15 need, none at all for gfunc in got.o.
    assert!(!l.dump.got.iter().any(|g| g.file == "got.o" && g.target == "gfunc"), "gfunc needs no GOT entry in got.o");
    check_coverage("got", &l.dump);
    ctx.check_symbols();
}

/// Real compiler output: every relocation of every variant.
#[test]
fn compiled_c_relocations() {
    let mut all = Vec::new();
    for v in C_VARIANTS {
        let files = [format!("cprog-{v}.o"), format!("clib-{v}.o")];
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let l = link(&format!("c-{v}"), &refs);
        let ctx = Ctx::new(&l);
        let recs = ctx.check_all();
        ctx.check_symbols();
        check_coverage(&l.tag, &l.dump);
        assert!(recs.len() > 20, "{v}: only {} relocations", recs.len());
        all.extend(recs);
    }
    use elf::*;
    assert_types(
        &all,
        &[
            R_AARCH64_ABS64,
            R_AARCH64_PREL32,
            R_AARCH64_CALL26,
            R_AARCH64_ADR_PREL_PG_HI21,
            R_AARCH64_ADD_ABS_LO12_NC,
            R_AARCH64_LDST8_ABS_LO12_NC,
            R_AARCH64_LDST16_ABS_LO12_NC,
            R_AARCH64_LDST32_ABS_LO12_NC,
            R_AARCH64_LDST64_ABS_LO12_NC,
            R_AARCH64_ADR_GOT_PAGE,
            R_AARCH64_LD64_GOT_LO12_NC,
            R_AARCH64_GOT_LD_PREL19,
            R_AARCH64_ADR_PREL_LO21,
        ],
    );
    // PIC code loads ext_far's address from the GOT; calls go through its PLT stub.
    assert_how(&all, "cprog-O2-pic.o", R_AARCH64_ADR_GOT_PAGE, "ext_far", How::GotLoad);
    assert_how(&all, "cprog-O2-pic.o", R_AARCH64_CALL26, "ext_far", How::ViaStub);
    assert_how(&all, "cprog-O2-pic.o", R_AARCH64_CALL26, "ext_near", How::Direct);
    assert!(all.iter().any(|r| r.how == How::Relaxed), "no GOT load of a defined symbol was relaxed");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Links `file` alone: exit status 1 and one line naming the file, the
/// section, the offset (hex) and the relocation type; `reason` if given.
fn link_error(file: &str, want_type: u32, reason: Option<&str>) {
    let data = fs::read(fixture(file)).unwrap();
    let obj = object::File::parse(&data[..]).unwrap();
    let mut relocs = Vec::new();
    for section in obj.sections() {
        for (offset, rel) in section.relocations() {
            relocs.push((section.name().unwrap().to_string(), offset, r_type_of(&rel)));
        }
    }
    assert_eq!(relocs.len(), 1, "{file} must have exactly one relocation: {relocs:?}");
    let (section, offset, r_type) = relocs.pop().unwrap();
    assert_eq!(r_type, want_type, "{file}: fixture relocation type");
    let tname = type_name(r_type);
    let mut args = base_args();
    args.push(fixture(file).to_string_lossy().into_owned());
    let out = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{file}: exit status; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{file}: panic:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{file}: expected one line on stderr:\n{stderr}");
    let line = lines[0];
    assert!(line.contains(file), "{file}: the error does not name the file: {line}");
    assert!(line.contains(&section), "{file}: the error does not name section {section}: {line}");
    let named = line.match_indices(&tname).any(|(at, _)| {
        let next = line[at + tname.len()..].chars().next();
        !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '_')
    });
    assert!(named, "{file}: the error does not name {tname}: {line}");
    assert!(
        line.contains(&format!("offset {offset:#x}")),
        "{file}: the error does not give offset {offset:#x}: {line}"
    );
    if let Some(r) = reason {
        assert!(line.contains(r), "{file}: the error does not say {r:?}: {line}");
    }
}

#[test]
fn out_of_range_errors_name_the_site() {
    use elf::*;
    let cases: &[(&str, u32, Option<&str>)] = &[
        ("oor_abs32.o", R_AARCH64_ABS32, Some("out of range")),
        ("oor_abs16.o", R_AARCH64_ABS16, Some("out of range")),
        ("oor_prel32.o", R_AARCH64_PREL32, Some("out of range")),
        ("oor_prel16.o", R_AARCH64_PREL16, Some("out of range")),
        ("oor_movw_uabs_g0.o", R_AARCH64_MOVW_UABS_G0, Some("out of range")),
        ("oor_movw_sabs_g1.o", R_AARCH64_MOVW_SABS_G1, Some("out of range")),
        ("oor_movw_prel_g0.o", R_AARCH64_MOVW_PREL_G0, Some("out of range")),
        ("oor_adrp.o", R_AARCH64_ADR_PREL_PG_HI21, Some("±4 GiB")),
        ("oor_adr.o", R_AARCH64_ADR_PREL_LO21, Some("out of range")),
        ("oor_ldr_literal.o", R_AARCH64_LD_PREL_LO19, Some("out of range")),
        ("oor_condbr19.o", R_AARCH64_CONDBR19, Some("±1 MiB")),
        ("oor_tstbr14.o", R_AARCH64_TSTBR14, Some("±32 KiB")),
        ("oor_call26.o", R_AARCH64_CALL26, Some("±128 MiB")),
        ("oor_ldst16.o", R_AARCH64_LDST16_ABS_LO12_NC, Some("2-byte-aligned")),
        ("oor_ldst128.o", R_AARCH64_LDST128_ABS_LO12_NC, Some("16-byte-aligned")),
        ("tls.o", R_AARCH64_TLSLE_ADD_TPREL_HI12, Some("local-exec TLS needs the process's static TLS block")),
    ];
    for &(file, t, reason) in cases {
        link_error(file, t, reason);
    }
}

/// Code spanning more than 128 MiB: a backward `BL` beyond range links
/// through a veneer placed after all code (`--show-addrs`; the bytes of
/// veneers are checked in `basic_stubs_and_symbols` and by the unit tests
/// of `got_plt.rs`: a dump of 128 MiB of code would be 256 MB of hex).
/// `early` calls `late` forwards beyond 128 MiB: the call lands on an
/// island veneer placed right after `early`'s block, which reaches `late`.
#[test]
fn far_code_forward_call_goes_through_an_island_veneer() {
    let mut args = base_args();
    args.push("--show-addrs".into());
    args.push(fixture("far_fwd.o").to_string_lossy().into_owned());
    let out = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "far_fwd.o: {stderr}");
    let addr_of = |kind: &str, name: &str| -> u64 {
        let line = stderr
            .lines()
            .find(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() == 4 && f[1] == kind && f[2] == name
            })
            .unwrap_or_else(|| panic!("no `{kind} {name}` line in --show-addrs:\n{stderr}"));
        u64::from_str_radix(line.split_whitespace().next().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let (early, late, veneer) = (addr_of("Defined", "early"), addr_of("Defined", "late"), addr_of("stub", "late"));
    let site = early + 4;
    assert!(late - site > 1 << 27, "the fixture must put late beyond BL range of early");
    assert!(veneer > site && veneer - site < 1 << 27, "veneer {veneer:#x} not within BL range of {site:#x}");
    assert!(late - veneer < 1 << 32, "the veneer (ADRP/ADD/BR) reaches late");
}

#[test]
fn far_code_backward_call_goes_through_a_veneer() {
    let mut args = base_args();
    args.push("--show-addrs".into());
    args.push(fixture("far_back.o").to_string_lossy().into_owned());
    let out = run_jitlink(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "far_back.o: {stderr}");
    let addr_of = |kind: &str, name: &str| -> u64 {
        let line = stderr
            .lines()
            .find(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() == 4 && f[1] == kind && f[2] == name
            })
            .unwrap_or_else(|| panic!("no `{kind} {name}` line in --show-addrs:\n{stderr}"));
        u64::from_str_radix(line.split_whitespace().next().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let (early, late, veneer) = (addr_of("Defined", "early"), addr_of("Defined", "late"), addr_of("stub", "early"));
    let site = late + 4;
    assert!(site - early > 1 << 27, "the fixture must put early beyond BL range of late");
    assert!(veneer > site && veneer - site < 1 << 27, "veneer {veneer:#x} not within BL range of {site:#x}");
}

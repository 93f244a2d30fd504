//! Stage 1: `VirtAddr::is_canonical`, `split` and `from_indices`, against
//! the `x86_64` crate's own address arithmetic.

use hidden_page_table_walker::canonical;
use learner::{Fault, Indices, VirtAddr};
use oslings_cases::oracle;

/// The `x86_64` crate's split of `addr`, which must be canonical.
fn oracle_indices(addr: u64) -> Indices {
    let [pml4, pdpt, pd, pt, offset] = oracle::split(addr).expect("a canonical address");
    Indices {
        pml4,
        pdpt,
        pd,
        pt,
        offset,
    }
}

/// The fields of `indices` in the oracle's order.
fn fields(i: Indices) -> [u16; 5] {
    [i.pml4, i.pdpt, i.pd, i.pt, i.offset]
}

fn split_ok(addr: u64) -> Indices {
    VirtAddr(addr).split().unwrap_or_else(|fault| {
        panic!("VirtAddr({addr:#x}).split() returned Err({fault:?}), but the address is canonical")
    })
}

// Catches: index shifts off by one (11/20/29/38 or 13/22/31/40), 8-bit or 10-bit index masks, a 11- or 13-bit offset.
#[test]
fn split_every_single_bit_lands_in_its_field() {
    for bit in 0..48 {
        let addr = canonical(1 << bit);
        let got = split_ok(addr);
        let expected = oracle_indices(addr);
        assert_eq!(
            got, expected,
            "VirtAddr({addr:#x}).split(), the address with only bit {bit} set (bits 0-11 are the \
             offset, 12-20 the PT index, 21-29 the PD, 30-38 the PDPT, 39-47 the PML4)"
        );
    }
}

// Catches: any index or offset computed from the wrong bits (compared with the x86_64 crate on random addresses).
#[test]
fn split_matches_the_x86_64_crate_on_random_addresses() {
    let seed = 0x5717;
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..20_000 {
        let addr = canonical(rng.u64(..));
        assert_eq!(
            split_ok(addr),
            oracle_indices(addr),
            "VirtAddr({addr:#x}).split() (seed {seed:#x})"
        );
    }
}

// Catches: testing bit 48 instead of bit 47, accepting a non-canonical upper half, rejecting canonical kernel addresses.
#[test]
fn is_canonical_at_the_edges_of_the_hole() {
    let cases: [(u64, bool, &str); 10] = [
        (0, true, "zero"),
        (0x0000_7fff_ffff_ffff, true, "the top of the lower half"),
        (
            0x0000_8000_0000_0000,
            false,
            "bit 47 set without bits 48-63",
        ),
        (0x0001_0000_0000_0000, false, "bit 48 set alone"),
        (
            0xffff_8000_0000_0000,
            true,
            "the bottom of the upper (kernel) half",
        ),
        (0xffff_ffff_ffff_ffff, true, "the top of the upper half"),
        (
            0xffff_7fff_ffff_ffff,
            false,
            "bits 48-63 set but bit 47 clear",
        ),
        (0xfffe_8000_0000_0000, false, "bit 47 set, bit 48 clear"),
        (0x8000_0000_0000_0000, false, "bit 63 set alone"),
        (0x7fff_8000_0000_0000, false, "bits 47-62 set, bit 63 clear"),
    ];
    for (addr, canonical, what) in cases {
        assert_eq!(
            VirtAddr(addr).is_canonical(),
            canonical,
            "VirtAddr({addr:#x}).is_canonical() ({what}): an address is canonical when bits \
             48-63 are all copies of bit 47"
        );
    }
}

// Catches: a canonical check that is right at the edges but wrong elsewhere (random bits 47-63 against the x86_64 crate).
#[test]
fn is_canonical_matches_the_x86_64_crate() {
    let seed = 0xca7;
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..20_000 {
        // Random low bits under one of many patterns of bits 47-63.
        let high = match rng.u8(0..4) {
            0 => 0,
            1 => 0x1ffff,
            2 => 1 << rng.u32(0..17),
            _ => rng.u64(0..1 << 17),
        };
        let addr = (high << 47) | rng.u64(0..1 << 47);
        let expected = oracle::is_canonical(addr);
        assert_eq!(
            VirtAddr(addr).is_canonical(),
            expected,
            "VirtAddr({addr:#x}).is_canonical() (seed {seed:#x})"
        );
    }
}

// Catches: split accepting a non-canonical address (masking bits 48-63 away instead of checking them) or reporting it as another fault.
#[test]
fn split_rejects_non_canonical_addresses() {
    for addr in [
        0x0000_8000_0000_0000,
        0x0001_0000_0000_1000,
        0xffff_7fff_ffff_f000,
        0x8000_0000_0000_0000,
        0x1234_5678_9abc_def0,
    ] {
        assert_eq!(
            VirtAddr(addr).split(),
            Err(Fault::NonCanonical {
                addr: VirtAddr(addr)
            }),
            "VirtAddr({addr:#x}).split(): the address is not canonical"
        );
    }
}

// Catches: using bits above 47 in the PML4 index (e.g. `addr >> 39` without the mask, or a 10-bit mask), which breaks kernel addresses.
#[test]
fn split_kernel_addresses() {
    let addr = 0xffff_8000_0000_0000_u64;
    assert_eq!(
        split_ok(addr),
        Indices {
            pml4: 256,
            ..Indices::default()
        },
        "VirtAddr({addr:#x}).split(): the first kernel address has PML4 index 256 and nothing else"
    );
    let addr = 0xffff_ffff_ffff_ffff_u64;
    assert_eq!(
        split_ok(addr),
        Indices {
            pml4: 511,
            pdpt: 511,
            pd: 511,
            pt: 511,
            offset: 4095
        },
        "VirtAddr({addr:#x}).split()"
    );
}

// Catches: from_indices not sign-extending bit 47 into bits 48-63, or shifting a field by the wrong amount.
#[test]
fn from_indices_matches_the_x86_64_crate() {
    let seed = 0xf00d;
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..20_000 {
        let indices = Indices {
            pml4: rng.u16(0..512),
            pdpt: rng.u16(0..512),
            pd: rng.u16(0..512),
            pt: rng.u16(0..512),
            offset: rng.u16(0..4096),
        };
        let expected = oracle::from_indices(fields(indices));
        let got = VirtAddr::from_indices(indices);
        assert_eq!(
            got,
            VirtAddr(expected),
            "VirtAddr::from_indices({indices:?}) (seed {seed:#x}); a PML4 index of 256 or more \
             sets bit 47, which must be copied into bits 48-63"
        );
        assert_eq!(
            got.split(),
            Ok(indices),
            "VirtAddr::from_indices({indices:?}).split() should give the indices back"
        );
    }
}

// Catches: from_indices letting an index above 511 (or an offset above 4095) spill into the next field.
#[test]
fn from_indices_keeps_only_the_low_bits_of_each_field() {
    let wide = Indices {
        pml4: 0x200 | 3,
        pdpt: 0xfe00 | 5,
        pd: 0x400 | 7,
        pt: 0x200 | 9,
        offset: 0xf000 | 0xabc,
    };
    let expected = (3 << 39) | (5 << 30) | (7 << 21) | (9 << 12) | 0xabc;
    assert_eq!(
        VirtAddr::from_indices(wide),
        VirtAddr(expected),
        "VirtAddr::from_indices({wide:?}): indices keep only their low 9 bits and the offset \
         its low 12"
    );
}

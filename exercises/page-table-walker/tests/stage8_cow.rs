//! Stage 8 visible tests: `AddressSpace::fork` gives the child its own
//! tables but shares every frame, read-only and marked `COPY_ON_WRITE` in
//! both spaces; the first write to such a page in either space
//! (`AddressSpace::access`) copies the frame, or, when no one else shares
//! it any more, just makes it writable again.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage8_cow`.

use page_table_walker::{
    Access, AddressSpace, Fault, Flags, Level, Machine, PhysAddr, Violation, VirtAddr,
};
use rstest::rstest;

mod common;

use common::{PAGE, RWU, expect_ok, space, user_read, user_write};

const DATA: u64 = 0x0000_0040_0000;

/// A space whose pages at `DATA` hold "page 0", "page 1", ...
fn parent(pages: u64) -> (Machine, AddressSpace) {
    let (mut m, mut s) = space();
    for page in 0..pages {
        let frame = m.alloc_zeroed().expect("frame");
        s.map(&mut m, VirtAddr(DATA + page * PAGE), frame, RWU)
            .expect("map");
        s.write_bytes(
            &mut m,
            VirtAddr(DATA + page * PAGE),
            format!("page {page}").as_bytes(),
        )
        .expect("write");
    }
    (m, s)
}

fn read6(m: &mut Machine, s: &mut AddressSpace, addr: u64) -> String {
    let mut buf = [0; 6];
    s.read_bytes(m, VirtAddr(addr), &mut buf)
        .unwrap_or_else(|f| panic!("read at {addr:#x}: {f:?} ({f})"));
    String::from_utf8_lossy(&buf).into_owned()
}

fn frame_of(m: &Machine, s: &mut AddressSpace, addr: u64) -> PhysAddr {
    expect_ok(s.translate(m, VirtAddr(addr), user_read()), "translate").frame
}

/// The raw leaf entry of `addr` in `space`, read by hand.
fn leaf(m: &Machine, space: &AddressSpace, addr: u64) -> Flags {
    let mut table = space.cr3().0;
    for lvl in Level::WALK {
        let shift = 12 + 9 * (u32::from(lvl.number()) - 1);
        let entry = m
            .mem
            .read_u64(PhysAddr(table + 8 * ((addr >> shift) & 511)));
        if lvl == Level::Pt {
            return Flags::from_bits(entry);
        }
        table = entry & page_table_walker::ADDR_MASK;
    }
    unreachable!()
}

#[test]
fn fork_shares_every_frame_read_only_and_copy_on_write() {
    let (mut m, mut p) = parent(3);
    let mut c = p
        .fork(&mut m)
        .unwrap_or_else(|e| panic!("fork failed: {e:?} ({e})"));
    assert_ne!(
        c.cr3(),
        p.cr3(),
        "the child needs its own PML4 (and its own tables all the way down)"
    );
    for page in 0..3 {
        let addr = DATA + page * PAGE;
        let (pf, cf) = (frame_of(&m, &mut p, addr), frame_of(&m, &mut c, addr));
        assert_eq!(pf, cf, "after fork, {addr:#x} maps the same frame in both");
        assert_eq!(
            m.refs(pf),
            2,
            "a frame shared by parent and child has two mappings: fork calls Machine::share"
        );
        for (who, space) in [("parent", &p), ("child", &c)] {
            let flags = leaf(&m, space, addr);
            assert!(
                flags.contains(Flags::COPY_ON_WRITE) && !flags.contains(Flags::WRITABLE),
                "after fork the {who}'s leaf for a writable page is read-only and \
                 COPY_ON_WRITE; it is {flags:?}"
            );
        }
        assert_eq!(read6(&mut m, &mut c, addr), format!("page {page}"));
    }
}

#[test]
fn a_write_in_the_child_copies_the_page() {
    let (mut m, mut p) = parent(2);
    let mut c = p.fork(&mut m).expect("fork");
    let shared = frame_of(&m, &mut p, DATA);
    c.write_bytes(&mut m, VirtAddr(DATA), b"CHILD!")
        .unwrap_or_else(|f| panic!("a write in the child faulted: {f:?} ({f})"));
    assert_eq!(
        c.cow_copies(),
        1,
        "the child's write to a shared page should copy it"
    );
    let own = frame_of(&m, &mut c, DATA);
    assert_ne!(own, shared, "the child now maps its own copy");
    assert_eq!(
        (m.refs(shared), m.refs(own)),
        (1, 1),
        "(refs of the shared frame, refs of the copy): the child dropped its mapping of the \
         old frame (Machine::release) and holds one of the new (Machine::share)"
    );
    assert_eq!(
        read6(&mut m, &mut p, DATA),
        "page 0",
        "the parent must not see the child's write"
    );
    assert_eq!(read6(&mut m, &mut c, DATA), "CHILD!");
    assert_eq!(
        read6(&mut m, &mut c, DATA + PAGE),
        "page 1",
        "the untouched page is still shared"
    );
    assert_eq!(c.cow_copies(), 1);
}

#[test]
fn the_parent_tlb_must_not_keep_writable_translations() {
    let (mut m, mut p) = parent(1);
    // The parent wrote its page in `parent()`: a writable, dirty translation
    // is in its TLB now.
    let mut c = p.fork(&mut m).expect("fork");
    p.write_bytes(&mut m, VirtAddr(DATA), b"PARENT")
        .expect("a write in the parent");
    assert_eq!(
        read6(&mut m, &mut c, DATA),
        "page 0",
        "the parent's write after fork reached the child's page: the parent's TLB still held \
         the old writable translation (fork must flush it)"
    );
    assert_eq!(p.cow_copies(), 1, "the parent copied the page");
}

#[test]
fn the_last_sharer_gets_the_frame_back_without_a_copy() {
    let (mut m, mut p) = parent(1);
    let mut c = p.fork(&mut m).expect("fork");
    let original = frame_of(&m, &mut p, DATA);
    c.write_bytes(&mut m, VirtAddr(DATA), b"CHILD!")
        .expect("child write");
    let used = m.frames.used_count();
    p.write_bytes(&mut m, VirtAddr(DATA), b"PARENT")
        .expect("parent write");
    assert_eq!(
        (
            p.cow_copies(),
            frame_of(&m, &mut p, DATA),
            m.frames.used_count()
        ),
        (0, original, used),
        "(parent's copies, parent's frame, frames in use): once the child has its own copy, \
         the parent is the only mapping of the original frame (Machine::refs is 1), so its \
         write makes the page writable again in place, with no copy"
    );
    let flags = leaf(&m, &p, DATA);
    assert!(
        flags.contains(Flags::WRITABLE) && !flags.contains(Flags::COPY_ON_WRITE),
        "the parent's leaf is writable again and no longer COPY_ON_WRITE: {flags:?}"
    );
}

#[rstest]
#[case::user_read_only(Flags::USER)]
#[case::user_read_only_no_execute(Flags::USER | Flags::NO_EXECUTE)]
fn a_read_only_page_stays_read_only_after_fork(#[case] flags: Flags) {
    let (mut m, mut p) = space();
    let frame = m.alloc_zeroed().expect("frame");
    p.map(&mut m, VirtAddr(DATA), frame, flags).expect("map");
    let mut c = p.fork(&mut m).expect("fork");
    assert!(
        !leaf(&m, &c, DATA).contains(Flags::COPY_ON_WRITE),
        "only writable pages become COPY_ON_WRITE; a read-only page is just shared"
    );
    assert_eq!(
        c.access(&mut m, VirtAddr(DATA), Access::write().user()),
        Err(Fault::Protection {
            addr: VirtAddr(DATA),
            violation: Violation::WriteToReadOnly
        }),
        "a write to a page that was read-only before the fork is a real fault, not a \
         copy-on-write"
    );
    assert_eq!(c.cow_copies(), 0);
}

#[test]
fn the_child_inherits_reserved_regions() {
    let (mut m, mut p) = space();
    let start = 0x0000_6000_0000_0000;
    p.reserve(VirtAddr(start), 8, RWU);
    let mut c = p.fork(&mut m).expect("fork");
    expect_ok(
        c.access(&mut m, VirtAddr(start + 5 * PAGE), user_write()),
        "a write in the child inside a region the parent reserved before fork",
    );
    assert_eq!(c.demand_faults(), 1, "the child maps the page on demand");
}

#[test]
fn destroying_both_spaces_frees_everything() {
    let (mut m, mut p) = parent(20);
    let mut c = p.fork(&mut m).expect("fork");
    for page in (0..20).step_by(3) {
        c.write_bytes(&mut m, VirtAddr(DATA + page * PAGE), b"child")
            .expect("child write");
    }
    p.destroy(&mut m);
    c.destroy(&mut m);
    assert_eq!(
        m.frames.used_count(),
        0,
        "after destroying parent and child, every frame is free: a shared frame goes back \
         when its last mapping is released, each copy when its only one is"
    );
}

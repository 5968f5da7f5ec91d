//! The `k` loop of the full-width tiles 10 to 14 rows high (`… × 32`) with `A` read in place
//! and `B` packed, written in assembly: the row panels of large products are 13 or 14 rows,
//! a batch of 32 makes panels of 11 and 10 (W3's recurrent products).
//!
//! Compiled from intrinsics, this loop computes the address of each of the fourteen rows of
//! `A` anew at every step (a chain of fourteen integer additions that LLVM will not
//! strength-reduce away, competing with the multiply-adds for ports): one tile in L1 ran at
//! 179–193 GFLOP/s on one thread against 187–210 with `A` packed. Here the rows are reached
//! from four pointers (rows 0–3, 4–7, 8–11, 12–13) with the row stride as a scaled index, and
//! the loop is unrolled four times, so a step costs its 2 loads of `B`, 14 broadcasts and 28
//! fused multiply-adds plus a few additions per four steps (a 256³ product: +4 % on two
//! threads, +5–7 % on one, alternating runs).

use std::arch::asm;
use std::arch::x86_64::*;

/// One step of `k`: loads two vectors of `B` at byte offset `$b` and broadcasts each row of
/// `A` at byte offset `$d`. A row is `(index, first accumulator, second accumulator, address)`.
macro_rules! step {
    ($d:literal, $b:literal, $(($r:literal, $acc0:tt, $acc1:tt, $addr:literal)),*) => {
        concat!(
            "vmovups zmm28, zmmword ptr [{b} + ", $b, "]\n",
            "vmovups zmm29, zmmword ptr [{b} + ", $b, " + 64]\n",
            $(
                "vbroadcastss zmm30, dword ptr [", $addr, " + ", $d, "]\n",
                "vfmadd231ps ", $acc0, ", zmm30, zmm28\n",
                "vfmadd231ps ", $acc1, ", zmm30, zmm29\n",
            )*
        )
    };
}

/// The loop for one tile height: `$rows` rows, each `(index, first accumulator, second
/// accumulator, address)`.
macro_rules! tile_loop {
    ($name:ident, $rows:literal, [$(($r:literal, $acc0:tt, $acc1:tt, $addr:literal)),*]) => {
        /// `acc += A_panel · B_panel` over `kc` steps for one tile of this height, `A` in
        /// place with row stride `a_rs` (floats) and `B` packed (32 floats per step).
        ///
        /// # Safety
        /// The CPU must support AVX-512F; the `A` rows must hold `kc` readable floats from
        /// `a`, and `b` must hold `32 · kc` readable floats.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn $name(
            kc: usize,
            a: *const f32,
            a_rs: usize,
            b: *const f32,
        ) -> [[__m512; 2]; $rows] {
            let mut acc = [[_mm512_setzero_ps(); 2]; $rows];
            let s = a_rs * 4;
            asm!(
                // Four steps per pass of the unrolled loop.
                "test {quads}, {quads}",
                "jz 3f",
                "2:",
                step!("0", "0", $(($r, $acc0, $acc1, $addr)),*),
                step!("4", "128", $(($r, $acc0, $acc1, $addr)),*),
                step!("8", "256", $(($r, $acc0, $acc1, $addr)),*),
                step!("12", "384", $(($r, $acc0, $acc1, $addr)),*),
                "add {p0}, 16",
                "add {p1}, 16",
                "add {p2}, 16",
                "add {p3}, 16",
                "add {b}, 512",
                "dec {quads}",
                "jnz 2b",
                // The remaining zero to three steps.
                "3:",
                "test {rest}, {rest}",
                "jz 5f",
                "4:",
                step!("0", "0", $(($r, $acc0, $acc1, $addr)),*),
                "add {p0}, 4",
                "add {p1}, 4",
                "add {p2}, 4",
                "add {p3}, 4",
                "add {b}, 128",
                "dec {rest}",
                "jnz 4b",
                "5:",
                quads = inout(reg) kc / 4 => _,
                rest = inout(reg) kc % 4 => _,
                b = inout(reg) b => _,
                p0 = inout(reg) a => _,
                p1 = inout(reg) a.wrapping_add(4 * a_rs) => _,
                p2 = inout(reg) a.wrapping_add(8 * a_rs) => _,
                p3 = inout(reg) a.wrapping_add(12 * a_rs) => _,
                s = in(reg) s,
                s3 = in(reg) 3 * s,
                $(inout($acc0) acc[$r][0], inout($acc1) acc[$r][1],)*
                out("zmm28") _,
                out("zmm29") _,
                out("zmm30") _,
                options(nostack, readonly),
            );
            acc
        }
    };
}

/// Calls `$then!($name, $rows, [rows])` with rows 0–9 and any `$extra` rows after them.
macro_rules! rows_10 {
    ($then:ident!($name:ident, $rows:literal $(, $extra:tt)*)) => {
        $then!($name, $rows, [
            (0, "zmm0", "zmm1", "{p0}"),
            (1, "zmm2", "zmm3", "{p0} + {s}"),
            (2, "zmm4", "zmm5", "{p0} + {s}*2"),
            (3, "zmm6", "zmm7", "{p0} + {s3}"),
            (4, "zmm8", "zmm9", "{p1}"),
            (5, "zmm10", "zmm11", "{p1} + {s}"),
            (6, "zmm12", "zmm13", "{p1} + {s}*2"),
            (7, "zmm14", "zmm15", "{p1} + {s3}"),
            (8, "zmm16", "zmm17", "{p2}"),
            (9, "zmm18", "zmm19", "{p2} + {s}")
            $(, $extra)*
        ]);
    };
}

// Each adds one row to the one before: `rows_N` passes rows 0 to N − 1.
macro_rules! rows_11 {
    ($then:ident!($name:ident, $rows:literal $(, $extra:tt)*)) => {
        rows_10!($then!($name, $rows, (10, "zmm20", "zmm21", "{p2} + {s}*2") $(, $extra)*));
    };
}
macro_rules! rows_12 {
    ($then:ident!($name:ident, $rows:literal $(, $extra:tt)*)) => {
        rows_11!($then!($name, $rows, (11, "zmm22", "zmm23", "{p2} + {s3}") $(, $extra)*));
    };
}
macro_rules! rows_13 {
    ($then:ident!($name:ident, $rows:literal $(, $extra:tt)*)) => {
        rows_12!($then!($name, $rows, (12, "zmm24", "zmm25", "{p3}") $(, $extra)*));
    };
}
macro_rules! rows_14 {
    ($then:ident!($name:ident, $rows:literal $(, $extra:tt)*)) => {
        rows_13!($then!($name, $rows, (13, "zmm26", "zmm27", "{p3} + {s}") $(, $extra)*));
    };
}

rows_10!(tile_loop!(tile_10x32, 10));
rows_11!(tile_loop!(tile_11x32, 11));
rows_12!(tile_loop!(tile_12x32, 12));
rows_13!(tile_loop!(tile_13x32, 13));
rows_14!(tile_loop!(tile_14x32, 14));

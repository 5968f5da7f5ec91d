//! Any bytes given to the IDX parser (raw or gzip) give `Ok` or `Err`, never a panic; a
//! parsed array converts to tensors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use strata_data::IdxArray;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = IdxArray::parse(data, Path::new("fuzz.idx")) {
        let _ = array.to_tensor_f32();
        let _ = array.to_tensor_i64();
        // What parses re-encodes to the same bytes (compared as bytes: NaN != NaN).
        let bytes = array.to_bytes();
        let again = IdxArray::parse(&bytes, Path::new("again.idx")).map(|a| a.to_bytes());
        assert_eq!(again.ok(), Some(bytes));
    }
});

// TEMPORARY SHIM (not committed)
pub fn build(p: &std::path::Path) -> crate::Result<std::path::PathBuf> {
    Ok(p.join("report.html"))
}
pub mod images {
    pub fn grid_png(_: &[strata_core::Tensor], _: usize, _: u32) -> crate::Result<Vec<u8>> {
        Ok(vec![])
    }
}

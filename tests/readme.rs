//! The README's quickstart is `docs/quickstart.py` verbatim (CI runs that file against a live
//! server with `tests/sdk/run.sh docs/quickstart.py`), so what a newcomer copies is what CI ran.

#[test]
fn the_readme_quickstart_is_the_tested_script() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let script = std::fs::read_to_string(format!("{root}/docs/quickstart.py")).expect("script");
    let marker = "<!-- quickstart:";
    let start = readme
        .find(marker)
        .expect("the quickstart marker in README.md");
    let block = &readme[start..];
    let open = block
        .find("```python\n")
        .expect("a python block after the marker")
        + 10;
    let close = block[open..].find("```\n").expect("the end of the block") + open;
    assert_eq!(
        &block[open..close],
        script,
        "README.md's quickstart differs from docs/quickstart.py: copy the file into the block"
    );
}

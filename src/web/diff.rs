//! A line diff of two prompts (longest common subsequence), for the refine page.
use serde::Serialize;

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `same`, `add` or `del`.
    pub kind: &'static str,
    /// ` `, `+` or `-`.
    pub mark: &'static str,
    /// The line.
    pub text: String,
}

/// Lines compared at most; longer prompts are shown as removed and added whole.
const MAX_LINES: usize = 2000;

/// The diff turning `old` into `new`, line by line.
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let line = |kind, mark, text: &str| DiffLine {
        kind,
        mark,
        text: text.to_string(),
    };
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return a
            .iter()
            .map(|t| line("del", "-", t))
            .chain(b.iter().map(|t| line("add", "+", t)))
            .collect();
    }
    // lcs[i][j]: length of the common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = vec![];
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line("same", " ", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(line("add", "+", b[j]));
            j += 1;
        } else {
            out.push(line("del", "-", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_lines() {
        let d = lines("a\nb\nc", "a\nx\nc\nd");
        let marks: Vec<String> = d.iter().map(|l| format!("{}{}", l.mark, l.text)).collect();
        assert_eq!(marks, vec![" a", "+x", "-b", " c", "+d"]);
        assert!(lines("", "").is_empty());
        assert_eq!(lines("same", "same")[0].kind, "same");
    }
}

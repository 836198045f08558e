//! Numbers in words as every page shows them: costs, counts, shares and durations. The web
//! app's template filters and the presenters that build sentences use these, so a figure reads
//! the same wherever it appears.

/// A cost in US dollars: `$0.0123`, `$12.34`, `$0`; fractions of a cent keep two significant
/// digits (`$0.000031`).
pub fn usd(x: f64) -> String {
    if x.abs() >= 1.0 {
        format!("${x:.2}")
    } else if x == 0.0 {
        "$0".to_string()
    } else if x.abs() >= 0.01 {
        format!("${x:.4}")
    } else {
        let decimals = (1 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        format!("${x:.decimals$}")
    }
}

/// A whole number with thousands separators: `100,000`, `-1,234`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A fraction as a percentage with one decimal: `83.3%`.
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A duration in words: `45 s`, `3 min`, `2 h 5 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_numbers() {
        assert_eq!(usd(0.01234), "$0.0123");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.0000312), "$0.000031");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(thousands(100000), "100,000");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(thousands(12), "12");
        assert_eq!(percent(0.8333), "83.3%");
    }

    #[test]
    fn words_durations() {
        assert_eq!(duration(12.4), "12 s");
        assert_eq!(duration(61.0), "2 min");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(duration(-3.0), "0 s");
    }
}

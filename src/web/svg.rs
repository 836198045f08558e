//! Charts drawn on the server as SVG: accuracy (bars, left axis) and cost (a line, right axis)
//! across a prompt's versions. Text is escaped; the chart scales to its container.

/// One version's point on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    /// The version's name.
    pub label: String,
    /// Accuracy (the bar's height is its figure, its title the figure with the failures).
    pub accuracy: Option<crate::scoring::Accuracy>,
    /// Cost in USD, if known.
    pub cost: Option<f64>,
}

/// The chart's width in its own units. The stylesheet never draws it narrower than this many
/// pixels (a narrow screen scrolls the chart inside its frame instead), so a font size below
/// is never rendered smaller than that many pixels.
pub const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
/// Room for the cost axis on the right; a little margin when no cost is known.
const RIGHT_COST: f64 = 64.0;
const RIGHT_BARE: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;
/// Font size of the axes and labels, in chart units (pixels at the narrowest).
const FONT: f64 = 12.0;
/// About the width of a character at [`FONT`], to fit a version's name under its bar.
const CHAR_WIDTH: f64 = 7.0;

/// Escapes text for SVG (XML) content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A round upper bound for a cost axis: 1, 2 or 5 times a power of ten, at least `max`.
pub fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * power)
}

/// Whether any of `points` has a known cost: without one the chart has no cost axis.
pub fn has_cost(points: &[ChartPoint]) -> bool {
    points.iter().any(|p| p.cost.is_some())
}

/// The chart of `points` (left to right in the given order): accuracy bars on the left axis
/// and, when some cost is known, cost as a line on the right axis. Names longer than their
/// slot are shortened with `…` (the bar's tooltip has the whole name).
pub fn versions_chart(points: &[ChartPoint]) -> String {
    let with_cost = has_cost(points);
    let right = if with_cost { RIGHT_COST } else { RIGHT_BARE };
    let plot_w = WIDTH - LEFT - right;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.55).min(60.0);
    let name_chars = ((slot / CHAR_WIDTH).floor() as usize).clamp(3, 14);
    let max_cost = nice_max(points.iter().filter_map(|p| p.cost).fold(0.0, f64::max));
    let y_acc = |a: f64| TOP + plot_h * (1.0 - a.clamp(0.0, 1.0));
    let y_cost = |c: f64| TOP + plot_h * (1.0 - (c / max_cost).clamp(0.0, 1.0));
    let label = if with_cost {
        "Accuracy and cost by version"
    } else {
        "Accuracy by version (cost not known)"
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">"#
    );
    // Grid and left axis (accuracy); the right axis (cost) only when a cost is known.
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        let y = y_acc(v);
        svg.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ec"/><text x="{}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#5c6475">{}%</text>"##,
            WIDTH - right,
            LEFT - 6.0,
            y + 4.0,
            (v * 100.0) as u32
        ));
        if with_cost {
            svg.push_str(&format!(
                r##"<text x="{}" y="{:.1}" font-size="{FONT}" fill="#8f6000">${}</text>"##,
                WIDTH - right + 6.0,
                y + 4.0,
                trim_number(max_cost * v)
            ));
        }
    }
    let mut line = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        if let Some((a, value)) = p.accuracy.and_then(|a| Some((a, a.value()?))) {
            let y = y_acc(value);
            svg.push_str(&format!(
                r##"<rect x="{:.1}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="#3451b2"><title>{}: {}</title></rect>"##,
                cx - bar / 2.0,
                TOP + plot_h - y,
                escape(&p.label),
                escape(&a.label())
            ));
        }
        if let Some(c) = p.cost {
            line.push(format!("{cx:.1},{:.1}", y_cost(c)));
            svg.push_str(&format!(
                r##"<circle cx="{cx:.1}" cy="{:.1}" r="4" fill="#8f6000"><title>{}: ${}</title></circle>"##,
                y_cost(c),
                escape(&p.label),
                trim_number(c)
            ));
        }
        svg.push_str(&format!(
            r##"<text x="{cx:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#1d2330"><title>{}</title>{}</text>"##,
            HEIGHT - BOTTOM + 18.0,
            escape(&p.label),
            escape(&truncate(&p.label, name_chars))
        ));
    }
    if line.len() > 1 {
        svg.push_str(&format!(
            r##"<polyline points="{}" fill="none" stroke="#8f6000" stroke-width="2"/>"##,
            line.join(" ")
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The reliability chart of a run's scores: per score bin, a bar as high as the accuracy
/// observed in it and a dot at its mean score, over the diagonal a calibrated model's bars
/// would follow. Empty bins draw nothing.
pub fn reliability_chart(bins: &[crate::stats::calibration::Bin]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT_BARE;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |s: f64| LEFT + plot_w * s.clamp(0.0, 1.0);
    let y = |a: f64| TOP + plot_h * (1.0 - a.clamp(0.0, 1.0));
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Observed accuracy by score, against the diagonal of perfect calibration">"#
    );
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        svg.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e3e6ec"/><text x="{}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#5c6475">{}%</text><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#5c6475">{}%</text>"##,
            x(1.0),
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            (v * 100.0) as u32,
            x(v),
            HEIGHT - BOTTOM + 18.0,
            (v * 100.0) as u32
        ));
    }
    for b in bins {
        let (Some(accuracy), Some(mean)) = (b.accuracy, b.mean_score) else {
            continue;
        };
        let width = (x(b.to) - x(b.from)) * 0.8;
        svg.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="#3451b2"><title>Scores {}–{}%: {} predictions, {}% right (mean score {}%)</title></rect><circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#8f6000"/>"##,
            x(b.from) + width * 0.125,
            y(accuracy),
            TOP + plot_h - y(accuracy),
            (b.from * 100.0).round(),
            (b.to * 100.0).round(),
            b.predictions,
            (accuracy * 1000.0).round() / 10.0,
            (mean * 1000.0).round() / 10.0,
            x(mean),
            y(mean)
        ));
    }
    svg.push_str(&format!(
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#8f6000" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#1d2330">Score</text>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0),
        x(0.5),
        HEIGHT - 6.0
    ));
    svg.push_str("</svg>");
    svg
}

/// One candidate on the accuracy/cost chart of an optimization.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontPoint {
    /// Its name (`#3 rewrite`).
    pub label: String,
    /// Train accuracy, in [0, 1].
    pub accuracy: f64,
    /// Cost per labeling call, USD.
    pub cost: f64,
    /// On the front.
    pub on_front: bool,
}

/// Candidates as points of train accuracy (up) against cost per call (right); the front's
/// points are filled and joined by a line.
pub fn front_chart(points: &[FrontPoint]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT_BARE;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max_cost = nice_max(points.iter().map(|p| p.cost).fold(0.0, f64::max));
    let x = |c: f64| LEFT + plot_w * (c / max_cost).clamp(0.0, 1.0);
    let y = |a: f64| TOP + plot_h * (1.0 - a.clamp(0.0, 1.0));
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Candidates by train accuracy and cost per call; the front is joined by a line">"#
    );
    for i in 0..=4 {
        let v = i as f64 / 4.0;
        svg.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#e3e6ec"/><text x="{}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#5c6475">{}%</text><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#5c6475">${}</text>"##,
            LEFT + plot_w,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            (v * 100.0) as u32,
            x(v * max_cost),
            HEIGHT - BOTTOM + 18.0,
            trim_number(v * max_cost)
        ));
    }
    let mut front: Vec<&FrontPoint> = points.iter().filter(|p| p.on_front).collect();
    front.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    if front.len() > 1 {
        let path: Vec<String> = front
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.cost), y(p.accuracy)))
            .collect();
        svg.push_str(&format!(
            r##"<polyline points="{}" fill="none" stroke="#3451b2" stroke-width="1.5"/>"##,
            path.join(" ")
        ));
    }
    for p in points {
        let fill = if p.on_front { "#3451b2" } else { "#ffffff" };
        svg.push_str(&format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{fill}" stroke="#3451b2"><title>{}: {}% right on train, ${} a call</title></circle>"##,
            x(p.cost),
            y(p.accuracy),
            escape(&p.label),
            (p.accuracy * 1000.0).round() / 10.0,
            trim_number(p.cost)
        ));
    }
    svg.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#1d2330">Cost per call</text></svg>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 6.0
    ));
    svg
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// A number with two significant digits (at most), trailing zeros dropped: `0.00015`, `12`.
fn trim_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_string();
    }
    let decimals = (1 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_round_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.013), 0.02);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
    }

    #[test]
    fn draws_bars_line_and_escaped_labels() {
        let svg = versions_chart(&[
            ChartPoint {
                label: "v1 <b>".into(),
                accuracy: Some(crate::scoring::Accuracy::new(1, 1, 1)),
                cost: Some(0.01),
            },
            ChartPoint {
                label: "v2".into(),
                accuracy: Some(crate::scoring::Accuracy::new(2, 2, 0)),
                cost: Some(0.02),
            },
            ChartPoint {
                label: "v3".into(),
                accuracy: None,
                cost: None,
            },
        ]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("v1 &lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("<title>v1 &lt;b&gt;: 50.0% · 1 failed</title>"));
        // A full bar reaches the top of the plot.
        assert!(svg.contains(&format!(r#"y="{TOP:.1}""#)));
        assert_eq!(trim_number(0.02), "0.02");
        assert_eq!(trim_number(12.0), "12");
        assert_eq!(trim_number(0.00005), "0.00005");
        assert_eq!(trim_number(0.00015), "0.00015");
        assert_eq!(trim_number(0.0), "0");
        assert_eq!(truncate("abcdefghijklmnopq", 5), "abcd…");
    }

    #[test]
    fn omits_the_cost_axis_when_no_cost_is_known() {
        let svg = versions_chart(&[
            ChartPoint {
                label: "v1".into(),
                accuracy: Some(crate::scoring::Accuracy::new(1, 1, 0)),
                cost: None,
            },
            ChartPoint {
                label: "v2".into(),
                accuracy: Some(crate::scoring::Accuracy::new(1, 2, 0)),
                cost: None,
            },
        ]);
        assert!(!has_cost(&[]));
        assert!(!svg.contains('$'), "{svg}");
        assert!(!svg.contains("<circle") && !svg.contains("<polyline"));
        assert!(svg.contains("aria-label=\"Accuracy by version (cost not known)\""));
        // The plot takes the room of the missing axis.
        assert!(svg.contains(&format!(r#"x2="{}""#, WIDTH - RIGHT_BARE)));
    }

    #[test]
    fn shortens_names_to_their_slot() {
        let points: Vec<ChartPoint> = (0..12)
            .map(|i| ChartPoint {
                label: format!("a long version name {i}"),
                accuracy: None,
                cost: Some(0.01),
            })
            .collect();
        let svg = versions_chart(&points);
        // 12 slots of about 41 units: five characters each, the whole name in the tooltip.
        assert!(
            svg.contains("<title>a long version name 3</title>a lo…</text>"),
            "{svg}"
        );
    }

    #[test]
    fn draws_an_empty_chart() {
        let svg = versions_chart(&[]);
        assert!(svg.contains("</svg>") && !svg.contains("<rect"));
    }
}

//! `--html FILE`: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) with the verdict, the split over time and the latency percentiles per version.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::json::RunReport;
use crate::format::{format_seconds, percent};
use crate::tally::is_version;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 50.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 30.0;
/// Room for the last x-axis label.
const RIGHT: f64 = 40.0;
/// Columns of the split plot; timeline bins are merged down to this.
const MAX_COLUMNS: usize = 60;
/// The percentile plot stops at 99.99 % (x = 4 on the log scale).
const MAX_NINES: f64 = 4.0;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A stable colour per outcome: the star colours for v2/v3, distinct ones for errors.
fn colour(label: &str, index: usize) -> &'static str {
    const OTHERS: [&str; 6] = [
        "#59a14f", "#76b7b2", "#ff9da7", "#af7aa1", "#9c755f", "#8cd17d",
    ];
    match label {
        "v1" => "#4e79a7",
        "v2" => "#333333",
        "v3" => "#e15759",
        "failed" => "#f28e2b",
        "timed-out" => "#b07aa1",
        "connect-error" => "#9c755f",
        "reviews-unavailable" => "#edc948",
        "unclassifiable" => "#bab0ac",
        _ => OTHERS
            .get(index % OTHERS.len())
            .copied()
            .unwrap_or("#888888"),
    }
}

/// Versions first (by name), then the other outcomes.
fn ordered_labels(r: &RunReport) -> Vec<String> {
    let mut labels: Vec<String> = r
        .outcomes
        .keys()
        .filter(|k| is_version(k))
        .cloned()
        .collect();
    labels.extend(r.outcomes.keys().filter(|k| !is_version(k)).cloned());
    labels
}

pub(crate) fn render(r: &RunReport) -> String {
    let mut h = String::new();
    let title = format!("loadgen: {}", r.target);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        STYLE,
        escape(&title)
    );
    verdict_banner(&mut h, r);
    counts_table(&mut h, r);
    let labels = ordered_labels(r);
    legend(&mut h, &labels);
    let _ = writeln!(h, "<h2>Split over time</h2>");
    split_plot(&mut h, r, &labels);
    let _ = writeln!(h, "<h2>Latency percentiles per version</h2>");
    let _ = writeln!(
        h,
        "<p class=\"note\">Milliseconds from the intended send time{}.</p>",
        if r.load.coordinated_omission_free {
            " (coordinated-omission free)"
        } else {
            "; closed loop, so not corrected for coordinated omission"
        }
    );
    latency_plot(&mut h, r, &labels);
    let _ = writeln!(h, "</body>\n</html>");
    h
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}\
table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}\
th:first-child,td:first-child{text-align:left}.verdict{font-size:1.3em;padding:.5em 1em;border-radius:4px;color:#fff}\
.pass{background:#2e7d32}.fail{background:#c62828}.inconclusive,.running{background:#757575}.measure{background:#1565c0}\
.note{color:#555}.swatch{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}\
svg text{font-size:11px;fill:#444}";

fn verdict_banner(h: &mut String, r: &RunReport) {
    let (class, text) = match &r.verdict {
        Some(v) => (v.label().to_lowercase(), v.to_string()),
        None => (
            "measure".to_owned(),
            "measured only (no expected split)".to_owned(),
        ),
    };
    let _ = writeln!(h, "<p class=\"verdict {class}\">{}</p>", escape(&text));
    if let Some(e) = &r.expected {
        let _ = writeln!(h, "<p>Expected: {}</p>", escape(&e.source));
    }
    let q = &r.requests;
    let _ = writeln!(
        h,
        "<p>{} in {}: {} sent, {} counted, {} overflow, {} discarded while settling, {} abandoned.</p>",
        escape(r.load.mode),
        escape(&format_seconds(r.elapsed_seconds)),
        q.sent,
        q.completed,
        q.overflow,
        q.discarded,
        q.cancelled
    );
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn counts_table(h: &mut String, r: &RunReport) {
    let intervals: BTreeMap<&str, String> = r
        .verification
        .iter()
        .flat_map(|s| &s.current.versions)
        .map(|v| {
            (
                v.version.as_str(),
                format!(
                    "{} [{}, {}]",
                    percent(v.weight),
                    percent(v.confidence_sequence.lo),
                    percent(v.confidence_sequence.hi)
                ),
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<table><tr><th>outcome</th><th>count</th><th>share</th><th>expected [confidence sequence]</th>\
         <th>errors</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>"
    );
    for v in &r.versions {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.version),
            v.count,
            percent(v.share),
            escape(intervals.get(v.version.as_str()).map_or("", String::as_str)),
            v.errors,
            ms(v.latency.p50_ms),
            ms(v.latency.p99_ms),
            ms(v.latency.max_ms)
        );
    }
    for (label, n) in r.outcomes.iter().filter(|(k, _)| !is_version(k)) {
        let l = r.latency.by_outcome.get(label).map(|o| &o.latency);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{n}</td><td></td><td></td><td></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(label),
            ms(l.and_then(|l| l.p50_ms)),
            ms(l.and_then(|l| l.p99_ms)),
            ms(l.and_then(|l| l.max_ms))
        );
    }
    let _ = writeln!(h, "</table>");
}

fn legend(h: &mut String, labels: &[String]) {
    let _ = write!(h, "<p>");
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(
            h,
            "<span class=\"swatch\" style=\"background:{}\"></span>{}",
            colour(label, i),
            escape(label)
        );
    }
    let _ = writeln!(h, "</p>");
}

/// Timeline bins merged into at most [`MAX_COLUMNS`] columns.
fn columns(r: &RunReport) -> (f64, Vec<BTreeMap<String, u64>>) {
    let bins = &r.timeline.bins;
    let group = bins.len().div_ceil(MAX_COLUMNS).max(1);
    let merged = bins
        .chunks(group)
        .map(|chunk| {
            let mut m = BTreeMap::new();
            for bin in chunk {
                for (k, n) in bin {
                    *m.entry(k.clone()).or_insert(0) += n;
                }
            }
            m
        })
        .collect();
    (r.timeline.bin_seconds * group as f64, merged)
}

fn svg_open(h: &mut String, label: &str) {
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        WIDTH + LEFT + RIGHT,
        HEIGHT + TOP + BOTTOM,
        escape(label)
    );
}

fn split_plot(h: &mut String, r: &RunReport, labels: &[String]) {
    let (width_s, cols) = columns(r);
    if cols.is_empty() {
        let _ = writeln!(h, "<p class=\"note\">No responses.</p>");
        return;
    }
    svg_open(h, "share of each outcome per time bucket");
    let col_w = WIDTH / cols.len() as f64;
    let busiest = cols
        .iter()
        .map(|c| c.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    for (i, col) in cols.iter().enumerate() {
        let total: u64 = col.values().sum();
        if total == 0 {
            continue;
        }
        // Thin buckets (the partial last one) are paler: their shares rest on few responses.
        let opacity = 0.35 + 0.65 * total as f64 / busiest as f64;
        // Stacked from the bottom in legend order, so v1's share reads off the axis.
        let mut bottom = TOP + HEIGHT;
        for (li, label) in labels.iter().enumerate() {
            let n = col.get(label).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let height = HEIGHT * n as f64 / total as f64;
            bottom -= height;
            let _ = writeln!(
                h,
                "<rect x=\"{:.1}\" y=\"{bottom:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{}\" fill-opacity=\"{opacity:.2}\">\
                 <title>{}–{}: {} {n} of {total}</title></rect>",
                LEFT + i as f64 * col_w,
                col_w.max(1.0),
                colour(label, li),
                escape(&format_seconds(i as f64 * width_s)),
                escape(&format_seconds((i + 1) as f64 * width_s)),
                escape(label)
            );
        }
    }
    // Expected cumulative shares of the current epoch, in the stacking order.
    if let Some(e) = &r.expected {
        let mut cumulative = 0.0;
        for label in labels.iter().filter(|l| is_version(l)) {
            cumulative += e.weights.get(label).copied().unwrap_or(0.0);
            if cumulative > 0.0 && cumulative < 1.0 {
                let y = TOP + HEIGHT * (1.0 - cumulative);
                let _ = writeln!(
                    h,
                    "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#fff\" \
                     stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>expected boundary {}</title></line>",
                    LEFT + WIDTH,
                    percent(cumulative)
                );
            }
        }
    }
    let total_s = width_s * cols.len() as f64;
    for e in r.epochs.iter().filter(|e| e.at_seconds > 0.0) {
        let x = LEFT + WIDTH * (e.at_seconds / total_s).min(1.0);
        let _ = writeln!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#1565c0\" stroke-width=\"2\">\
             <title>{}</title></line>",
            TOP + HEIGHT,
            escape(&e.expectation)
        );
    }
    for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = TOP + HEIGHT * (1.0 - share);
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            LEFT - 4.0,
            y + 4.0,
            share * 100.0
        );
    }
    axis_time(h, total_s);
    let _ = writeln!(h, "</svg>");
}

fn axis_time(h: &mut String, total_s: f64) {
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + WIDTH * f,
            TOP + HEIGHT + 18.0,
            escape(&seconds_label(total_s * f))
        );
    }
}

fn seconds_label(s: f64) -> String {
    if s <= 0.0 {
        "0s".to_owned()
    } else {
        format_seconds(s)
    }
}

/// x position of a percentile on the "number of nines" scale.
fn nines(percentile: f64) -> f64 {
    let tail = (1.0 - percentile / 100.0).max(10f64.powf(-MAX_NINES));
    -tail.log10()
}

fn latency_plot(h: &mut String, r: &RunReport, labels: &[String]) {
    let curves: Vec<(&str, &[(f64, f64)])> = r
        .versions
        .iter()
        .filter(|v| !v.latency_percentiles.is_empty())
        .map(|v| (v.version.as_str(), v.latency_percentiles.as_slice()))
        .collect();
    let top = curves
        .iter()
        .flat_map(|(_, c)| c.iter())
        .filter(|(p, _)| *p < 100.0)
        .map(|(_, ms)| *ms)
        .fold(0.0f64, f64::max);
    if curves.is_empty() || top <= 0.0 {
        let _ = writeln!(h, "<p class=\"note\">No versioned responses.</p>");
        return;
    }
    let top = nice_ceiling(top);
    svg_open(h, "latency by percentile per version");
    // Grid first, so the curves are drawn over it.
    for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = TOP + HEIGHT * (1.0 - f);
        let _ = writeln!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + WIDTH,
            LEFT - 4.0,
            y + 4.0,
            axis_number(top * f)
        );
    }
    for (p, text) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = LEFT + WIDTH * nines(p) / MAX_NINES;
        let _ = writeln!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#e0e0e0\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{text}</text>",
            TOP + HEIGHT,
            TOP + HEIGHT + 18.0
        );
    }
    for (label, curve) in &curves {
        let index = labels.iter().position(|l| l == label).unwrap_or(0);
        // The maximum (100th percentile) has no place on a log-of-tail axis; the table
        // shows it.
        let points: Vec<String> = curve
            .iter()
            .filter(|(p, _)| *p < 100.0)
            .map(|(p, ms)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + WIDTH * nines(*p) / MAX_NINES,
                    TOP + HEIGHT * (1.0 - (ms / top).min(1.0))
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            colour(label, index),
            points.join(" "),
            escape(label)
        );
    }
    let _ = writeln!(
        h,
        "<text x=\"4\" y=\"{:.1}\">ms</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">percentile</text>",
        TOP + HEIGHT / 2.0,
        LEFT + WIDTH,
        TOP + HEIGHT - 6.0
    );
    let _ = writeln!(h, "</svg>");
}

/// Whole numbers where they suffice, otherwise two decimals (sub-millisecond plots).
fn axis_number(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// 1, 2 or 5 times a power of ten, at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(100.0) - MAX_NINES).abs() < 1e-9);
        assert!((nice_ceiling(37.0) - 50.0).abs() < 1e-9);
        assert!((nice_ceiling(0.3) - 0.5).abs() < 1e-9);
    }
}

//! `--html FILE`: one self-contained page (inline CSS and SVG, no scripts, no external
//! assets) with the verdict, the split over time and the latency percentiles per version.
//! The page is an askama template (`templates/report.html`, escaped by askama); the
//! plots' coordinates are computed here.

use std::collections::BTreeMap;

use askama::Template;

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

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    title: String,
    verdict_class: String,
    verdict_text: String,
    expected: Option<&'a str>,
    mode: &'a str,
    elapsed: String,
    sent: u64,
    counted: u64,
    overflow: u64,
    discarded: u64,
    abandoned: u64,
    rows: Vec<Row>,
    legend: Vec<(String, &'static str)>,
    svg_width: f64,
    svg_height: f64,
    split: Option<SplitPlot>,
    omission_note: &'static str,
    latency: Option<LatencyPlot>,
}

struct Row {
    outcome: String,
    count: u64,
    share: String,
    expected: String,
    errors: String,
    p50: String,
    p99: String,
    max: String,
}

struct Rect {
    x: String,
    y: String,
    width: String,
    height: String,
    fill: &'static str,
    opacity: String,
    title: String,
}

struct Line {
    x1: String,
    x2: String,
    y1: String,
    y2: String,
    title: String,
}

struct Label {
    x: String,
    y: String,
    anchor: &'static str,
    text: String,
}

struct Curve {
    colour: &'static str,
    points: String,
    label: String,
}

struct SplitPlot {
    rects: Vec<Rect>,
    /// The expected cumulative shares.
    boundaries: Vec<Line>,
    /// Where the routing epoch changed.
    epochs: Vec<Line>,
    labels: Vec<Label>,
}

struct LatencyPlot {
    grid: Vec<Line>,
    labels: Vec<Label>,
    curves: Vec<Curve>,
}

fn at(v: f64) -> String {
    format!("{v:.1}")
}

fn line(x1: f64, x2: f64, y1: f64, y2: f64, title: String) -> Line {
    Line {
        x1: at(x1),
        x2: at(x2),
        y1: at(y1),
        y2: at(y2),
        title,
    }
}

fn label(x: f64, y: f64, anchor: &'static str, text: String) -> Label {
    Label {
        x: at(x),
        y: at(y),
        anchor,
        text,
    }
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
    let labels = ordered_labels(r);
    let (verdict_class, verdict_text) = match &r.verdict {
        Some(v) => (v.label().to_lowercase(), v.to_string()),
        None => (
            "measure".to_owned(),
            "measured only (no expected split)".to_owned(),
        ),
    };
    let q = &r.requests;
    let page = Page {
        title: format!("loadgen: {}", r.target),
        verdict_class,
        verdict_text,
        expected: r.expected.as_ref().map(|e| e.source.as_str()),
        mode: r.load.mode,
        elapsed: format_seconds(r.elapsed_seconds),
        sent: q.sent,
        counted: q.completed,
        overflow: q.overflow,
        discarded: q.discarded,
        abandoned: q.cancelled,
        rows: rows(r),
        legend: labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), colour(l, i)))
            .collect(),
        svg_width: WIDTH + LEFT + RIGHT,
        svg_height: HEIGHT + TOP + BOTTOM,
        split: split_plot(r, &labels),
        omission_note: if r.load.coordinated_omission_free {
            " (coordinated-omission free)"
        } else {
            "; closed loop, so not corrected for coordinated omission"
        },
        latency: latency_plot(r, &labels),
    };
    // Rendering writes into a String and every value displays infallibly.
    page.render().unwrap_or_default()
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn rows(r: &RunReport) -> Vec<Row> {
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
    let mut rows: Vec<Row> = r
        .versions
        .iter()
        .map(|v| Row {
            outcome: v.version.clone(),
            count: v.count,
            share: percent(v.share),
            expected: intervals
                .get(v.version.as_str())
                .cloned()
                .unwrap_or_default(),
            errors: v.errors.to_string(),
            p50: ms(v.latency.p50_ms),
            p99: ms(v.latency.p99_ms),
            max: ms(v.latency.max_ms),
        })
        .collect();
    for (outcome, n) in r.outcomes.iter().filter(|(k, _)| !is_version(k)) {
        let l = r.latency.by_outcome.get(outcome).map(|o| &o.latency);
        rows.push(Row {
            outcome: outcome.clone(),
            count: *n,
            share: String::new(),
            expected: String::new(),
            errors: String::new(),
            p50: ms(l.and_then(|l| l.p50_ms)),
            p99: ms(l.and_then(|l| l.p99_ms)),
            max: ms(l.and_then(|l| l.max_ms)),
        });
    }
    rows
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

fn split_plot(r: &RunReport, labels: &[String]) -> Option<SplitPlot> {
    let (width_s, cols) = columns(r);
    if cols.is_empty() {
        return None;
    }
    let col_w = WIDTH / cols.len() as f64;
    let busiest = cols
        .iter()
        .map(|c| c.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut rects = Vec::new();
    for (i, col) in cols.iter().enumerate() {
        let total: u64 = col.values().sum();
        if total == 0 {
            continue;
        }
        // Thin buckets (the partial last one) are paler: their shares rest on few responses.
        let opacity = 0.35 + 0.65 * total as f64 / busiest as f64;
        // Stacked from the bottom in legend order, so v1's share reads off the axis.
        let mut bottom = TOP + HEIGHT;
        for (li, name) in labels.iter().enumerate() {
            let n = col.get(name).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let height = HEIGHT * n as f64 / total as f64;
            bottom -= height;
            rects.push(Rect {
                x: at(LEFT + i as f64 * col_w),
                y: at(bottom),
                width: at(col_w.max(1.0)),
                height: at(height),
                fill: colour(name, li),
                opacity: format!("{opacity:.2}"),
                title: format!(
                    "{}–{}: {name} {n} of {total}",
                    format_seconds(i as f64 * width_s),
                    format_seconds((i + 1) as f64 * width_s)
                ),
            });
        }
    }
    // Expected cumulative shares of the current epoch, in the stacking order.
    let mut boundaries = Vec::new();
    if let Some(e) = &r.expected {
        let mut cumulative = 0.0;
        for name in labels.iter().filter(|l| is_version(l)) {
            cumulative += e.weights.get(name).copied().unwrap_or(0.0);
            if cumulative > 0.0 && cumulative < 1.0 {
                let y = TOP + HEIGHT * (1.0 - cumulative);
                let title = format!("expected boundary {}", percent(cumulative));
                boundaries.push(line(LEFT, LEFT + WIDTH, y, y, title));
            }
        }
    }
    let total_s = width_s * cols.len() as f64;
    let epochs = r
        .epochs
        .iter()
        .filter(|e| e.at_seconds > 0.0)
        .map(|e| {
            let x = LEFT + WIDTH * (e.at_seconds / total_s).min(1.0);
            line(x, x, TOP, TOP + HEIGHT, e.expectation.clone())
        })
        .collect();
    let mut labels: Vec<Label> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|share| {
            let y = TOP + HEIGHT * (1.0 - share);
            label(LEFT - 4.0, y + 4.0, "end", format!("{:.0}%", share * 100.0))
        })
        .collect();
    labels.extend((0..=4).map(|i| {
        let f = f64::from(i) / 4.0;
        label(
            LEFT + WIDTH * f,
            TOP + HEIGHT + 18.0,
            "middle",
            seconds_label(total_s * f),
        )
    }));
    Some(SplitPlot {
        rects,
        boundaries,
        epochs,
        labels,
    })
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

fn latency_plot(r: &RunReport, labels: &[String]) -> Option<LatencyPlot> {
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
        return None;
    }
    let top = nice_ceiling(top);
    let mut grid = Vec::new();
    let mut texts = Vec::new();
    for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = TOP + HEIGHT * (1.0 - f);
        grid.push(line(LEFT, LEFT + WIDTH, y, y, String::new()));
        texts.push(label(LEFT - 4.0, y + 4.0, "end", axis_number(top * f)));
    }
    for (p, text) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = LEFT + WIDTH * nines(p) / MAX_NINES;
        grid.push(line(x, x, TOP, TOP + HEIGHT, String::new()));
        texts.push(label(x, TOP + HEIGHT + 18.0, "middle", text.to_owned()));
    }
    texts.push(label(4.0, TOP + HEIGHT / 2.0, "start", "ms".to_owned()));
    texts.push(label(
        LEFT + WIDTH,
        TOP + HEIGHT - 6.0,
        "end",
        "percentile".to_owned(),
    ));
    let curves = curves
        .iter()
        .map(|(name, curve)| {
            let index = labels.iter().position(|l| l == name).unwrap_or(0);
            // The maximum (100th percentile) has no place on a log-of-tail axis; the
            // table shows it.
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
            Curve {
                colour: colour(name, index),
                points: points.join(" "),
                label: (*name).to_owned(),
            }
        })
        .collect();
    Some(LatencyPlot {
        grid,
        labels: texts,
        curves,
    })
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_map_to_nines_and_axes_to_round_numbers() {
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(100.0) - MAX_NINES).abs() < 1e-9);
        assert!((nice_ceiling(37.0) - 50.0).abs() < 1e-9);
        assert!((nice_ceiling(0.3) - 0.5).abs() < 1e-9);
    }
}

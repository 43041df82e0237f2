//! The rollout as one HTML page (`--html FILE`): the outcome, a table of
//! the steps (configured and observed canary share, the split's verdict,
//! the health comparisons, how long each took) and two plots drawn as
//! inline SVG, so the page needs nothing but itself: the observed canary
//! share with its 95% interval against the configured one, and each
//! version's p50 and p99 latency by step.

use std::fmt::Write;

use bookinfo_verdict::stats::wilson_interval;

use super::StepRecord;

/// 95% two-sided.
const Z_95: f64 = 1.96;
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
/// Room for the axes' labels.
const MARGIN: f64 = 44.0;
const STABLE_COLOUR: &str = "#2563eb";
const CANARY_COLOUR: &str = "#dc2626";

/// The whole rollout.
pub(crate) struct Rollout<'a> {
    pub(crate) service: &'a str,
    pub(crate) stable: &'a str,
    pub(crate) canary: &'a str,
    pub(crate) outcome: &'a str,
    pub(crate) seconds: f64,
    pub(crate) steps: &'a [StepRecord],
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The versioned responses of `version` in the step's report, and of all.
fn counts(step: &StepRecord, version: &str) -> (u64, u64) {
    let versions = step.report["versions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let count = |v: &serde_json::Value| v["count"].as_u64().unwrap_or(0);
    let total = versions.iter().map(count).sum();
    let own = versions
        .iter()
        .find(|v| v["version"] == version)
        .map_or(0, count);
    (own, total)
}

fn latency(step: &StepRecord, version: &str, percentile: &str) -> Option<f64> {
    step.report["versions"]
        .as_array()?
        .iter()
        .find(|v| v["version"] == version)?["latency"][percentile]
        .as_f64()
}

fn x_of(i: usize, n: usize) -> f64 {
    let span = WIDTH - 2.0 * MARGIN;
    MARGIN + span * (i as f64 + 0.5) / n.max(1) as f64
}

fn axes(svg: &mut String, title: &str, top: f64, labels: &[String], unit: &str) {
    let bottom = HEIGHT - MARGIN;
    let _ = write!(
        svg,
        r##"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}"><title>{title}</title><line x1="{MARGIN}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#888"/><line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}" stroke="#888"/><text x="4" y="{}" font-size="11">{}</text><text x="4" y="{bottom}" font-size="11">0</text><text x="4" y="{}" font-size="11">{unit}</text>"##,
        WIDTH - MARGIN,
        MARGIN + 4.0,
        number(top),
        MARGIN - 14.0,
    );
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
            x_of(i, labels.len()),
            bottom + 16.0,
            escape(label)
        );
    }
}

fn number(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn y_of(v: f64, top: f64) -> f64 {
    let bottom = HEIGHT - MARGIN;
    bottom - (bottom - MARGIN) * (v / top).clamp(0.0, 1.0)
}

fn share_plot(r: &Rollout) -> String {
    let labels: Vec<String> = r.steps.iter().map(|s| format!("{}%", s.percent)).collect();
    let mut svg = String::new();
    axes(
        &mut svg,
        "Canary share by step",
        100.0,
        &labels,
        "% to canary",
    );
    for (i, step) in r.steps.iter().enumerate() {
        let x = x_of(i, r.steps.len());
        let configured = y_of(f64::from(step.percent), 100.0);
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{configured:.1}" width="16" height="2" fill="#111"><title>configured {}%</title></rect>"##,
            x - 8.0,
            step.percent
        );
        let (own, total) = counts(step, r.canary);
        if total == 0 {
            continue;
        }
        let interval = wilson_interval(own, total, Z_95);
        let share = own as f64 / total as f64 * 100.0;
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{CANARY_COLOUR}" stroke-width="2"/><circle class="observed" cx="{x:.1}" cy="{:.1}" r="4" fill="{CANARY_COLOUR}"><title>observed {share:.1}% ({own} of {total}), 95% interval {:.1}-{:.1}%</title></circle>"#,
            y_of(interval.lo * 100.0, 100.0),
            y_of(interval.hi * 100.0, 100.0),
            y_of(share, 100.0),
            interval.lo * 100.0,
            interval.hi * 100.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn latency_plot(r: &Rollout) -> String {
    let labels: Vec<String> = r.steps.iter().map(|s| format!("{}%", s.percent)).collect();
    let versions = [
        (r.stable, STABLE_COLOUR, -6.0),
        (r.canary, CANARY_COLOUR, 6.0),
    ];
    let highest = r
        .steps
        .iter()
        .flat_map(|s| {
            versions
                .iter()
                .filter_map(|(v, ..)| latency(s, v, "p99_ms"))
        })
        .fold(1.0_f64, f64::max);
    let top = highest * 1.1;
    let mut svg = String::new();
    axes(
        &mut svg,
        "Latency by step (p50 dot, p99 bar top)",
        top,
        &labels,
        "ms",
    );
    for (i, step) in r.steps.iter().enumerate() {
        for (version, colour, offset) in versions {
            let (Some(p50), Some(p99)) = (
                latency(step, version, "p50_ms"),
                latency(step, version, "p99_ms"),
            ) else {
                continue;
            };
            let x = x_of(i, r.steps.len()) + offset;
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="4" opacity="0.5"/><circle cx="{x:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{} p50 {p50:.1} ms, p99 {p99:.1} ms</title></circle>"#,
                y_of(p50, top),
                y_of(p99, top),
                y_of(p50, top),
                escape(version),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn health_cell(step: &StepRecord) -> String {
    match &step.health {
        Some(health) => escape(&health.line()),
        None => "no stable traffic to compare with".into(),
    }
}

/// The page.
pub(crate) fn render(r: &Rollout) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Rollout of {service} {canary}</title><style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;font-size:.9rem}}svg{{max-width:100%;height:auto}}.PASS{{color:#15803d}}.FAIL,.INCONCLUSIVE,.RUNNING{{color:#b91c1c}}</style></head><body><h1>Rollout of {service} {canary}: <span id="outcome">{outcome}</span></h1><p>Stable {stable}, canary {canary}; {n} steps in {seconds:.1} s. <span style="color:{STABLE_COLOUR}">■ {stable}</span> <span style="color:{CANARY_COLOUR}">■ {canary}</span></p><table><thead><tr><th>Step</th><th>Split verdict</th><th>Observed canary share</th><th>Responses</th><th>Seconds</th><th>Health (bad / requests)</th></tr></thead><tbody>"#,
        service = escape(r.service),
        canary = escape(r.canary),
        stable = escape(r.stable),
        outcome = escape(r.outcome),
        n = r.steps.len(),
        seconds = r.seconds,
    );
    for step in r.steps {
        let (own, total) = counts(step, r.canary);
        let observed = if total == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", own as f64 / total as f64 * 100.0)
        };
        let verdict = escape(&step.verdict);
        let reason = step
            .reason
            .as_deref()
            .map_or_else(String::new, |r| format!(": {}", escape(r)));
        let _ = write!(
            page,
            r#"<tr class="step"><td>{}%</td><td class="{verdict}">{verdict}{reason}</td><td>{observed}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>"#,
            step.percent,
            step.report["requests"]["completed"],
            step.seconds,
            health_cell(step),
        );
    }
    page.push_str("</tbody></table><h2>Canary share</h2>");
    page.push_str(&share_plot(r));
    page.push_str("<h2>Latency</h2>");
    page.push_str(&latency_plot(r));
    page.push_str("</body></html>\n");
    page
}

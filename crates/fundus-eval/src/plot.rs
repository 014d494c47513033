//! Self-contained SVG bar charts of histograms.
//!
//! Evaluation reports are read in a browser or a pull request, where an SVG
//! file displays as is; writing the few dozen elements by hand avoids a
//! plotting dependency (and its fonts and native libraries) for one chart.

use std::fmt::Write;

use crate::Histogram;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 28.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 64.0;
const BAR_FILL: &str = "#4c78a8";

/// An SVG bar chart of `hist` with `title`, the x axis labelled
/// "similarity"; see [`histogram_svg_labeled`].
pub fn histogram_svg(hist: &Histogram, title: &str) -> String {
    histogram_svg_labeled(hist, title, "similarity")
}

/// An SVG bar chart of `hist`: one bar per bin, a y axis of counts with
/// round ticks and grid lines, an x axis with round value ticks, the count
/// above each bar where it fits, and a subtitle with the number of values
/// (and of those outside the range, which have no bar).
pub fn histogram_svg_labeled(hist: &Histogram, title: &str, x_label: &str) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let bottom = TOP + plot_h;
    let bins = hist.counts.len().max(1);
    let max_count = hist.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let y_step = nice_step(max_count, 5.0).max(1.0);
    let y_max = (max_count / y_step).ceil() * y_step;
    let span = hist.hi - hist.lo;
    let x_of = |v: f64| LEFT + (v - hist.lo) / span * plot_w;
    let y_of = |c: f64| bottom - c / y_max * plot_h;

    let mut svg = String::new();
    // `write!` into a String cannot fail; the results are ignored.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(title));
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="28" text-anchor="middle" font-size="17" font-weight="bold" fill="#222">{}</text>"##,
        WIDTH / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="48" text-anchor="middle" font-size="12" fill="#555">{}</text>"##,
        WIDTH / 2.0,
        escape(&subtitle(hist))
    );

    // Horizontal grid lines and y ticks.
    let y_ticks = (y_max / y_step).round() as usize;
    for i in 0..=y_ticks {
        let tick = y_step * i as f64;
        let y = y_of(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3" stroke-width="1"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT:.1}" y2="{y:.1}" stroke="#333" stroke-width="1"/>"##,
            LEFT - 5.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#333">{}</text>"##,
            LEFT - 8.0,
            y + 4.0,
            tick as u64
        );
    }

    // Bars, with their counts above where the text fits the bar.
    let bar_w = plot_w / bins as f64;
    let gap = if bar_w > 6.0 { 1.0 } else { 0.0 };
    for (i, &count) in hist.counts.iter().enumerate() {
        let x = LEFT + bar_w * i as f64 + gap / 2.0;
        let y = y_of(count as f64);
        let edges = (
            hist.lo + hist.bin_width() * i as f64,
            hist.lo + hist.bin_width() * (i + 1) as f64,
        );
        let _ = writeln!(
            svg,
            r#"<rect class="bar" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{BAR_FILL}"><title>{} to {}: {count}</title></rect>"#,
            (bar_w - gap).max(0.5),
            bottom - y,
            fmt_value(edges.0, hist.bin_width() / 10.0),
            fmt_value(edges.1, hist.bin_width() / 10.0)
        );
        let label = count.to_string();
        // A digit is about 0.56 em wide; shrink to 9px before giving up.
        let font = [11.0, 9.0]
            .into_iter()
            .find(|size| label.len() as f64 * size * 0.56 <= bar_w + 1.0);
        if let (true, Some(font)) = (count > 0, font) {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="{font}" fill="#333">{label}</text>"##,
                x + (bar_w - gap) / 2.0,
                y - 4.0
            );
        }
    }

    // X ticks at round values inside the range.
    let x_step = nice_step(span, 8.0);
    let first = (hist.lo / x_step - 1e-9).ceil();
    let last = (hist.hi / x_step + 1e-9).floor();
    for i in 0..=((last - first).max(0.0) as usize) {
        let value = (first + i as f64) * x_step;
        let x = x_of(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/>"##,
            bottom + 5.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#333">{}</text>"##,
            bottom + 19.0,
            fmt_value(value, x_step)
        );
    }

    // Axes on top of the bars.
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT:.1}" y1="{TOP:.1}" x2="{LEFT:.1}" y2="{bottom:.1}" stroke="#333" stroke-width="1.2"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT:.1}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#333" stroke-width="1.2"/>"##,
        LEFT + plot_w
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="#222">{}</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        r##"<text x="20" y="{:.1}" text-anchor="middle" font-size="13" fill="#222" transform="rotate(-90 20 {:.1})">count</text>"##,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// "n = 1000 · 40 bins of 0.05", plus the values outside the range.
fn subtitle(hist: &Histogram) -> String {
    let mut text = format!(
        "n = {} · {} bins of {}",
        hist.total() + hist.below + hist.above,
        hist.counts.len(),
        trimmed(hist.bin_width())
    );
    if hist.below + hist.above > 0 {
        let _ = write!(
            text,
            " · outside [{}, {}]: {} below, {} above",
            trimmed(hist.lo),
            trimmed(hist.hi),
            hist.below,
            hist.above
        );
    }
    text
}

/// A round step (1, 2 or 5 times a power of ten) that splits `span` into
/// about `target` intervals.
fn nice_step(span: f64, target: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// `value` with as many decimals as `resolution` needs (0.05 -> 2).
fn fmt_value(value: f64, resolution: f64) -> String {
    let decimals = if resolution > 0.0 && resolution < 1.0 {
        (-resolution.log10().floor()).clamp(0.0, 10.0) as usize
    } else {
        0
    };
    let text = format!("{value:.decimals$}");
    // "-0.00" reads as a bug in a chart.
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// `value` with up to 6 decimals and no trailing zeros (0.05, 2.5, 10).
fn trimmed(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// Escapes text for SVG content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram {
        // 50 values in the middle of each of 20 bins.
        let values: Vec<f64> = (0..1000).map(|i| (i % 20) as f64 * 0.05 + 0.025).collect();
        Histogram::new(values, 20, (0.0, 1.0)).unwrap()
    }

    #[test]
    fn one_bar_per_bin_and_escaped_title() {
        let svg = histogram_svg(&sample(), "cos <query, doc> & more");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 20);
        assert!(svg.contains("cos &lt;query, doc&gt; &amp; more"));
        assert!(!svg.contains("<query"));
        assert!(svg.contains("n = 1000 · 20 bins of 0.05"));
    }

    #[test]
    fn elements_are_balanced() {
        let svg = histogram_svg(&sample(), "t");
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert_eq!(
            svg.matches("<title>").count(),
            svg.matches("</title>").count()
        );
        assert_eq!(
            svg.matches("<rect").count(),
            svg.matches("</rect>").count() + 1
        );
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn axis_ticks_are_round_numbers() {
        let svg = histogram_svg(&sample(), "t");
        // 50 values per bin -> y ticks 0, 10, ..., 50; x ticks 0.0 .. 1.0.
        for label in [">0<", ">10<", ">50<", ">0.0<", ">0.4<", ">1.0<"] {
            assert!(svg.contains(label), "missing tick {label}");
        }
    }

    #[test]
    fn reports_values_outside_the_range() {
        let h = Histogram::new([-0.5, 0.2, 0.3, 2.0], 4, (0.0, 1.0)).unwrap();
        let svg = histogram_svg(&h, "t");
        assert!(svg.contains("outside [0, 1]: 1 below, 1 above"), "{svg}");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(50.0, 5.0), 10.0);
        assert_eq!(nice_step(1.0, 8.0), 0.2);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert!((nice_step(0.3, 8.0) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn values_are_formatted_to_their_resolution() {
        assert_eq!(fmt_value(0.35, 0.05), "0.35");
        assert_eq!(fmt_value(-0.0001, 0.1), "0.0");
        assert_eq!(fmt_value(120.0, 20.0), "120");
    }
}

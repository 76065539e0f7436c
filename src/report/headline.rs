//! The answer a report leads with, read from its `summary.json` (nothing computed again):
//! the time per observation (per robot step with the action expert, per token when it
//! generates), its rate, what bounds it, the clock to expect, the power range, and each
//! SLR's DSP, BRAM, URAM and LUT shares as small bars.

use super::svg::escape;
use serde_json::Value;

/// The headline's HTML: a `<section class="headline">`.
pub fn headline_html(summary: &Value) -> String {
    let number = |value: &Value| value.as_f64().unwrap_or(0.0);
    let total = &summary["total"];
    let (time, rate) = if let Some(step) = summary.get("robot_step") {
        (
            format!("{:.1} ms per robot step", number(&step["latency_ms"])),
            format!("{:.2} action chunks/s", number(&step["chunks_per_s"])),
        )
    } else if let Some(decode) = summary.get("decode") {
        (
            format!(
                "{:.2} ms per generated token",
                number(&decode["mean_token_ms"])
            ),
            format!(
                "{:.1} tokens/s, first after {:.1} ms",
                number(&decode["tokens_per_s"]),
                number(&decode["time_to_first_token_ms"])
            ),
        )
    } else {
        (
            format!("{:.1} ms per observation", number(&total["ms"])),
            format!("{:.2} observations/s", number(&total["observations_per_s"])),
        )
    };
    let bound = total["bottleneck"].as_str().unwrap_or("none");
    let bound_share = number(&total["attribution"][format!("{bound}_cycles")])
        / number(&total["cycles"]).max(1.0);
    let clock = &summary["resources"]["clock"];
    let mut html = format!(
        "<section class=\"headline\">\n<p class=\"answer\"><b>{}</b> · <b>{}</b></p>\n\
         <p>bound by <b>{}</b> ({:.0} % of the cycles) · clock {:.0} MHz as designed, {:.0} \
         MHz to expect ({:.0}–{:.0})",
        escape(&time),
        escape(&rate),
        escape(bound),
        bound_share * 100.0,
        number(&clock["design_mhz"]),
        number(&clock["expected_mhz"]),
        number(&clock["range_mhz"][0]),
        number(&clock["range_mhz"][1]),
    );
    if let Some(power) = summary.get("power") {
        html.push_str(&format!(
            " · {:.0}–{:.0} W",
            number(&power["power_w_min"]),
            number(&power["power_w_max"])
        ));
    }
    html.push_str("</p>\n<table class=\"slrs\">\n<tr><th>SLR</th>");
    const SHARES: [(&str, &str); 4] = [
        ("DSP", "dsp_share"),
        ("BRAM", "bram_share"),
        ("URAM", "uram_share"),
        ("LUT", "lut_share"),
    ];
    for (name, _) in SHARES {
        html.push_str(&format!("<th>{name}</th>"));
    }
    html.push_str("</tr>\n");
    let slrs = summary["resources"]["slrs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (index, slr) in slrs.iter().enumerate() {
        html.push_str(&format!("<tr><td>SLR{index}</td>"));
        for (_, key) in SHARES {
            let share = number(&slr[key]);
            html.push_str(&format!(
                "<td><span class=\"bar\" data-share=\"{share:.4}\"><span style=\"width:{:.1}%\">\
                 </span></span> {:.0} %</td>",
                (share * 100.0).min(100.0),
                share * 100.0
            ));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</section>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A robot step leads with its latency and chunk rate, the bound with its share of the
    /// cycles, the clocks, the power range, and a bar per SLR and resource whose width is
    /// the share (capped at the cell). Catches a headline reading the wrong figure, or bars
    /// overflowing their cells.
    #[test]
    fn the_headline_reads_the_summary() {
        let summary = serde_json::json!({
            "total": {"ms": 99.0, "observations_per_s": 10.1, "cycles": 1000,
                      "bottleneck": "compute", "attribution": {"compute_cycles": 750}},
            "robot_step": {"latency_ms": 173.8, "chunks_per_s": 5.75},
            "resources": {"clock": {"design_mhz": 300.0, "expected_mhz": 225.0,
                                    "range_mhz": [200.0, 250.0]},
                          "slrs": [{"dsp_share": 0.5, "bram_share": 0.25, "uram_share": 1.2,
                                    "lut_share": 0.1}]},
            "power": {"power_w_min": 40.2, "power_w_max": 61.7},
        });
        let html = headline_html(&summary);
        assert!(html.contains("<b>173.8 ms per robot step</b> · <b>5.75 action chunks/s</b>"));
        assert!(html.contains("bound by <b>compute</b> (75 % of the cycles)"));
        assert!(html.contains("clock 300 MHz as designed, 225 MHz to expect (200–250) · 40–62 W"));
        assert!(
            html.contains(
                "data-share=\"1.2000\"><span style=\"width:100.0%\"></span></span> 120 %"
            )
        );
        assert_eq!(html.matches("class=\"bar\"").count(), 4);
    }
}

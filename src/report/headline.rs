//! The answer a report leads with, read from its summary (nothing computed again):
//! the time per observation (per robot step with the action expert, per token when it
//! generates), its rate, what bounds it, the clock to expect, the power range, and each
//! SLR's DSP, BRAM, URAM and LUT shares as small bars.

use super::summary::Summary;
use super::svg::escape;

/// The headline's HTML: a `<section class="headline">`.
pub fn headline_html(summary: &Summary) -> String {
    let total = &summary.total.totals;
    let (time, rate) = if let Some(step) = &summary.robot_step {
        (
            format!("{:.1} ms per robot step", step.latency_ms),
            format!("{:.2} action chunks/s", step.chunks_per_s),
        )
    } else if let Some(decode) = &summary.decode {
        (
            format!("{:.2} ms per generated token", decode.mean_token_ms),
            format!(
                "{:.1} tokens/s, first after {:.1} ms",
                decode.tokens_per_s, decode.time_to_first_token_ms
            ),
        )
    } else {
        (
            format!("{:.1} ms per observation", total.ms),
            format!("{:.2} observations/s", summary.total.observations_per_s),
        )
    };
    let bound = &total.bottleneck;
    let bound_cycles = total.attribution.get(&format!("{bound}_cycles"));
    let bound_share = bound_cycles.copied().unwrap_or(0) as f64 / total.cycles.max(1) as f64;
    let clock = &summary.resources.clock;
    let mut html = format!(
        "<section class=\"headline\">\n<p class=\"answer\"><b>{}</b> · <b>{}</b></p>\n\
         <p>bound by <b>{}</b> ({:.0} % of the cycles) · clock {:.0} MHz as designed, {:.0} \
         MHz to expect ({:.0}–{:.0})",
        escape(&time),
        escape(&rate),
        escape(bound),
        bound_share * 100.0,
        clock.design_mhz,
        clock.expected_mhz,
        clock.range_mhz[0],
        clock.range_mhz[1],
    );
    if let Some(power) = &summary.power {
        html.push_str(&format!(
            " · {:.0}–{:.0} W",
            power.power_w_min, power.power_w_max
        ));
    }
    html.push_str("</p>\n<table class=\"slrs\">\n<tr><th>SLR</th>");
    for name in ["DSP", "BRAM", "URAM", "LUT"] {
        html.push_str(&format!("<th>{name}</th>"));
    }
    html.push_str("</tr>\n");
    for (index, slr) in summary.resources.slrs.iter().enumerate() {
        html.push_str(&format!("<tr><td>SLR{index}</td>"));
        let used = &slr.used;
        for share in [
            used.dsp_share,
            used.bram_share,
            used.uram_share,
            slr.lut_share,
        ] {
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
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::model::{default_model, default_policy};
    use crate::config::platform::default_platform;
    use crate::report::summary::{PowerSummary, RobotStepSummary};
    use crate::workload::WorkloadChoices;

    /// The summary of a real run (one vision and one text layer), its robot step, power,
    /// bound and an SLR's shares then set to the figures the test reads back.
    fn summary() -> Summary {
        let platform = default_platform();
        let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
        let choices = WorkloadChoices {
            batch: 1,
            vision_layers: Some(1),
            text_layers: Some(1),
            ..WorkloadChoices::default()
        };
        let (model, policy) = (default_model(), default_policy());
        let analysis =
            crate::pipeline::design_workload(&model, Some(&policy), &platform, &design, &choices)
                .unwrap();
        let events = crate::sim::DEFAULT_MAX_EVENTS;
        let run =
            crate::pipeline::simulate(analysis, &platform, &design, events, None, &|| {}).unwrap();
        let mut summary = crate::report::summary(&run.analysis, &run.sim, &design, &platform);
        let total = &mut summary.total.totals;
        total.cycles = 1000;
        total.bottleneck = "compute".to_string();
        total.attribution.insert("compute_cycles".to_string(), 750);
        summary.robot_step = Some(RobotStepSummary {
            latency_ms: 173.8,
            encoders_ms: 120.0,
            expert_ms: 53.8,
            expert_ms_per_flow_step: 5.38,
            flow_steps: 10,
            bound_by: "encoders".to_string(),
            chunks_per_s: 5.75,
            actions_per_chunk: 50,
            actions_per_s: 287.7,
        });
        let clock = &mut summary.resources.clock;
        (clock.design_mhz, clock.expected_mhz, clock.range_mhz) = (300.0, 225.0, [200.0, 250.0]);
        summary.power = Some(PowerSummary {
            power_w_min: 40.2,
            power_w_max: 61.7,
            static_w: [0.0; 2],
            hbm_w: [0.0; 2],
            compute_w: [0.0; 2],
            energy_j_per_observation: [0.0; 2],
            gops_per_w: [0.0; 2],
            assumed_dsp_w_at_300_mhz: [0.0; 2],
        });
        summary.resources.slrs[0].used.uram_share = 1.2;
        summary
    }

    /// A robot step leads with its latency and chunk rate, the bound with its share of the
    /// cycles, the clocks, the power range, and a bar per SLR and resource whose width is
    /// the share (capped at the cell). Catches a headline reading the wrong figure, or bars
    /// overflowing their cells.
    #[test]
    fn the_headline_reads_the_summary() {
        let summary = summary();
        let html = headline_html(&summary);
        assert!(html.contains("<b>173.8 ms per robot step</b> · <b>5.75 action chunks/s</b>"));
        assert!(html.contains("bound by <b>compute</b> (75 % of the cycles)"));
        assert!(html.contains("clock 300 MHz as designed, 225 MHz to expect (200–250) · 40–62 W"));
        assert!(
            html.contains(
                "data-share=\"1.2000\"><span style=\"width:100.0%\"></span></span> 120 %"
            )
        );
        let slrs = summary.resources.slrs.len();
        assert_eq!(html.matches("class=\"bar\"").count(), 4 * slrs);
    }
}

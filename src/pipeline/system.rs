//! System jobs: a system of boards run on the workload, its tables and its summary.

use super::Error;
use crate::config::ConfigError;
use crate::config::model::{ModelSpec, PolicySpec};
use crate::report::html::Table;
use crate::report::timeline::timeline_svg;
use crate::report::{self, table::aligned};
use crate::system::run::{SystemError, SystemRun, run_system};
use crate::system::{Partition, System};
use crate::workload::WorkloadChoices;
use std::fmt::Write;
use std::path::Path;

impl From<SystemError> for Error {
    fn from(error: SystemError) -> Self {
        match error {
            SystemError::Workload(error) => Error::Workload(error),
            SystemError::Sim(error) => Error::Sim(error),
            // A board's part the user can shrink (a model too large for its HBM) is the
            // system file's to fix, naming the board; anything else stays the simulator's.
            SystemError::Board { file, board, error } if error.is_user_error() => {
                Error::Config(ConfigError::invalid(
                    &file,
                    format!("boards.{board}"),
                    crate::config::one_line(&error),
                ))
            }
            SystemError::Board { error, .. } => Error::Sim(error),
            SystemError::Partition { file, field, rule } => {
                Error::Config(ConfigError::invalid(&file, field, rule))
            }
        }
    }
}

const BOARD_COLUMNS: [&str; 11] = [
    "board",
    "design",
    "encoders",
    "stage_ms",
    "observations",
    "busy_share",
    "starved_ms_in_run",
    "network_ms_in_run",
    "idle_ms_in_run",
    "power_w_min",
    "power_w_max",
];

const LINK_COLUMNS: [&str; 6] = [
    "from",
    "to",
    "bytes_per_observation",
    "serialisation_us",
    "transfer_us",
    "busy_share",
];

/// Runs `system` on the workload and writes `boards.csv`, `links.csv` (but for a data
/// partition), `timeline.svg` and `report.html` into `out`; returns the printed summary and
/// the files written.
pub fn system(
    system: &System,
    choices: &WorkloadChoices,
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    max_events: u64,
    out: &Path,
) -> Result<(String, Vec<&'static str>), Error> {
    let run = run_system(system, choices, model, policy, max_events)?;
    let makespan_s = run.finished_s.iter().copied().fold(0.0, f64::max);
    let ms = |seconds: f64| format!("{:.4}", seconds * 1e3);
    let boards: Vec<Vec<String>> = system
        .boards
        .iter()
        .zip(&run.boards)
        .map(|(board, board_run)| {
            let (power_min, power_max) =
                board_run.power.map_or((String::new(), String::new()), |p| {
                    (format!("{:.1}", p.total_w.0), format!("{:.1}", p.total_w.1))
                });
            vec![
                board.name.clone(),
                board.design.name().to_string(),
                board
                    .encoders
                    .iter()
                    .map(
                        |&encoder| match board.layers.iter().find(|(e, _)| *e == encoder) {
                            Some((_, (first, end))) => {
                                format!("{}[{first},{end})", encoder.name())
                            }
                            None => encoder.name().to_string(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join("+"),
                ms(board_run.stage_s),
                board_run.observations.to_string(),
                format!("{:.4}", board_run.busy_s / makespan_s),
                ms(board_run.starved_s),
                ms(board_run.network_s),
                ms(
                    (makespan_s - board_run.busy_s - board_run.starved_s - board_run.network_s)
                        .max(0.0),
                ),
                power_min,
                power_max,
            ]
        })
        .collect();
    let links: Vec<Vec<String>> = system
        .links
        .iter()
        .zip(&run.links)
        .map(|(link, link_run)| {
            vec![
                system.boards[link.from].name.clone(),
                system.boards[link.to].name.clone(),
                link_run.bytes_per_observation.to_string(),
                format!("{:.3}", link_run.serialisation_s * 1e6),
                format!("{:.3}", link_run.transfer_s * 1e6),
                format!("{:.4}", link_run.busy_s / makespan_s),
            ]
        })
        .collect();
    let mut text = summary(system, &run);
    text.push_str(&aligned(&BOARD_COLUMNS, &boards));
    if !links.is_empty() {
        text.push('\n');
        text.push_str(&aligned(&LINK_COLUMNS, &links));
    }
    let lanes: Vec<String> = system
        .boards
        .iter()
        .map(|board| board.name.clone())
        .chain(system.links.iter().map(|link| {
            format!(
                "port {} -> {}",
                system.boards[link.from].name, system.boards[link.to].name
            )
        }))
        .collect();
    let timeline = timeline_svg(
        &format!(
            "{}: boards and ports over {} observations",
            system.name, system.observations
        ),
        &lanes,
        &run.spans,
    );
    let boards = Table::new("Boards", &BOARD_COLUMNS, boards);
    let links = Table::new("Links", &LINK_COLUMNS, links);
    let mut files: report::Files = vec![("boards.csv", boards.csv()?)];
    if system.partition != Partition::Data {
        files.push(("links.csv", links.csv()?));
    }
    let tables = if system.links.is_empty() {
        vec![boards]
    } else {
        vec![boards, links]
    };
    let html = report::html::report_html(
        &format!("roofsim system: {}", system.name),
        (None, &text),
        &[("The boards and ports side by side", &timeline)],
        &tables,
    );
    files.push(("timeline.svg", timeline.into_bytes()));
    files.push(("report.html", html.into_bytes()));
    report::write_all(out, &files)?;
    Ok((text, files.iter().map(|(name, _)| *name).collect()))
}

const SCALING_COLUMNS: [&str; 6] = [
    "boards",
    "ms_per_observation",
    "observations_per_s",
    "speedup",
    "rate_speedup",
    "network_ms_per_observation",
];

/// Runs each of `systems` (one system at several board counts) and writes `scaling.csv`:
/// per count, the first observation's time, the rate once full, both against the first
/// count's, and the time an observation spends on the network.
pub fn system_scaling(
    systems: &[System],
    choices: &WorkloadChoices,
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    max_events: u64,
    out: &Path,
) -> Result<(String, Vec<&'static str>), Error> {
    let mut rows = Vec::new();
    let mut first: Option<(f64, f64)> = None;
    for system in systems {
        let run = run_system(system, choices, model, policy, max_events)?;
        let (latency_s, rate) = (run.latency_s(), run.observations_per_s);
        let (first_latency_s, first_rate) = *first.get_or_insert((latency_s, rate));
        let network_s = run.boards[0].network_s / run.boards[0].observations.max(1) as f64;
        rows.push(vec![
            system.boards.len().to_string(),
            format!("{:.4}", latency_s * 1e3),
            format!("{rate:.3}"),
            format!("{:.3}", first_latency_s / latency_s),
            format!("{:.3}", rate / first_rate),
            format!("{:.4}", network_s * 1e3),
        ]);
    }
    let csv = Table::new("Scaling", &SCALING_COLUMNS, rows.clone()).csv()?;
    report::write_all(out, &[("scaling.csv", csv)])?;
    let mut text = format!(
        "{}: the first board repeated, {} partition\n",
        systems[0].name,
        partition_name(systems[0].partition)
    );
    text.push_str(&aligned(&SCALING_COLUMNS, &rows));
    Ok((text, vec!["scaling.csv"]))
}

fn partition_name(partition: Partition) -> &'static str {
    match partition {
        Partition::Pipeline => "pipeline",
        Partition::Data => "data",
        Partition::Tensor => "tensor",
    }
}

/// The headline: latency, rate, and what bounds the rate.
fn summary(system: &System, run: &SystemRun) -> String {
    let mut text = format!(
        "{}: {} boards, {} partition, {} observations\n",
        system.name,
        system.boards.len(),
        partition_name(system.partition),
        system.observations
    );
    let _ = writeln!(
        text,
        "first observation in {:.3} ms; then {:.2} observations/s (one every {:.3} ms)",
        run.latency_s() * 1e3,
        run.observations_per_s,
        1e3 / run.observations_per_s
    );
    if system.partition == Partition::Pipeline {
        let (board, board_s) = run
            .boards
            .iter()
            .enumerate()
            .map(|(index, board)| (index, board.stage_s))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a system has a board");
        let slowest_link = run
            .links
            .iter()
            .enumerate()
            .map(|(index, link)| (index, link.serialisation_s))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let bound = match slowest_link {
            Some((link, seconds)) if seconds > board_s => {
                let link = &system.links[link];
                format!(
                    "the link {} -> {} ({:.3} ms per observation on its port)",
                    system.boards[link.from].name,
                    system.boards[link.to].name,
                    seconds * 1e3
                )
            }
            _ => format!(
                "board {} ({:.3} ms per observation)",
                system.boards[board].name,
                board_s * 1e3
            ),
        };
        let _ = writeln!(text, "the rate is bound by {bound}");
    }
    if let (Partition::Tensor, Some(link)) = (system.partition, run.links.first()) {
        let _ = writeln!(
            text,
            "of each observation, {:.3} ms are ring all-reduces ({} bytes sent by each board)",
            link.transfer_s * 1e3,
            link.bytes_per_observation
        );
    }
    text.push('\n');
    text
}

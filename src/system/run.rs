//! Running a system: each board's part of the workload simulated cycle by cycle on its
//! design, then the observations sent through the boards and links as events.
//!
//! Event model (one observation at a time per board and per port, in order): board `b`
//! starts observation `j` when it has finished `j - 1` and `j`'s activations have arrived;
//! it then sends them on its link as soon as the port is free, holding the port for the
//! bytes' serialisation; they arrive a hop latency after the last byte left. A board's wait
//! for an observation is `network` for the part after its upstream board finished it (the
//! transfer) and `starved` for the rest (the upstream board was still computing).

use super::{Partition, System};
use crate::config::model::{ModelSpec, PolicySpec};
use crate::sim::power::{RunPower, run_power};
use crate::sim::{SimError, simulate_workload};
use crate::workload::{Direction, Encoder, Operand, Workload, WorkloadChoices, WorkloadError};

/// What went wrong running a system.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The workload options do not describe a forward pass.
    #[error("{0}")]
    Workload(#[from] WorkloadError),
    /// A board's simulation could not finish.
    #[error("{0}")]
    Sim(#[from] SimError),
    /// A board cannot run its part (its HBM cannot hold it, say).
    #[error("board `{board}` of {file}: {error}")]
    Board {
        /// The system file.
        file: String,
        /// The board.
        board: String,
        /// Why it cannot run its part.
        error: SimError,
    },
    /// The partition does not match the workload: `field` of the system file.
    #[error("{file}: field `{field}`: {rule}")]
    Partition {
        /// The system file.
        file: String,
        /// The field.
        field: String,
        /// The rule it breaks.
        rule: String,
    },
}

/// One board's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRun {
    /// Seconds of one observation's part on this board (its simulated step).
    pub stage_s: f64,
    /// Observations it ran.
    pub observations: u64,
    /// Seconds it computed, and waited for an upstream board computing or for the network.
    pub busy_s: f64,
    /// Time it waited for the board before it, s.
    pub starved_s: f64,
    /// Time it waited on its links, s.
    pub network_s: f64,
    /// Its power range, where the platform gives power figures.
    pub power: Option<RunPower>,
}

/// One link's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRun {
    /// Bytes an observation sends over it.
    pub bytes_per_observation: u64,
    /// Seconds one observation's bytes hold the port, and until they arrive.
    pub serialisation_s: f64,
    /// Time it spent sending, s.
    pub transfer_s: f64,
    /// Seconds the port was busy over the run.
    pub busy_s: f64,
}

/// A system's run: per board and link, and the observations' times.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemRun {
    /// Each board's share.
    pub boards: Vec<BoardRun>,
    /// Each link's share.
    pub links: Vec<LinkRun>,
    /// Seconds from the start to each observation's end, in order.
    pub finished_s: Vec<f64>,
    /// Observations per second once the system is full: in a pipeline, the observations
    /// after the first over the time they took (the first's rate when there is only one);
    /// in a data partition, every board's rate added.
    pub observations_per_s: f64,
    /// What each board and port did when: `(lane, observation, start_s, end_s)`, lanes being
    /// the boards, then the links, in the system's order.
    pub spans: Vec<(usize, u64, f64, f64)>,
}

impl SystemRun {
    /// The first observation's time through the system (nothing queued before it).
    pub fn latency_s(&self) -> f64 {
        self.finished_s.first().copied().unwrap_or(0.0)
    }
}

/// Runs `system` on the workload `choices` describe.
pub fn run_system(
    system: &System,
    choices: &WorkloadChoices,
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    max_events: u64,
) -> Result<SystemRun, SystemError> {
    if system.partition == Partition::Pipeline && choices.per_camera_vision {
        // Each camera's connector output is read as part of the text prefix, which the
        // hand-off rule of `crossing_bytes` counts for the last camera only.
        return Err(SystemError::Partition {
            file: "command line".into(),
            field: "--per-camera-vision".into(),
            rule: "a pipeline of boards takes the cameras' images as one batch".into(),
        });
    }
    let refuse = |field: &str, rule: String| SystemError::Partition {
        file: system.source.clone(),
        field: field.into(),
        rule,
    };
    if system.partition == Partition::Tensor && choices.pipeline == crate::workload::Pipeline::Full
    {
        return Err(refuse(
            "partition",
            "a tensor split of the action expert is not modelled: run the encoders \
             (`--pipeline encoders`)"
                .into(),
        ));
    }
    let mut stages = Vec::new();
    let mut workloads = Vec::new();
    let boards = system.boards.len() as u64;
    for (index, board) in system.boards.iter().enumerate() {
        let choices = WorkloadChoices {
            fusion: board.design.fusion(),
            ..choices.clone()
        };
        let shard;
        let model = if system.partition == Partition::Tensor {
            shard = model
                .tensor_shard(index as u64, boards)
                .map_err(|rule| refuse("partition", rule))?;
            &shard
        } else {
            model
        };
        let whole = choices.build(model, policy, board.design.precision())?;
        let placed = match system.partition {
            Partition::Pipeline => stages_of(system, &whole)?,
            Partition::Data | Partition::Tensor => vec![index; whole.kernels.len()],
        };
        let mut part = whole.clone();
        let mut next = placed.iter();
        part.retain(|_| next.next() == Some(&index));
        let sim = simulate_workload(
            &part,
            &board.design,
            &board.platform,
            max_events,
            None,
            &|| {},
        )
        .map_err(|error| SystemError::Board {
            file: system.source.clone(),
            board: board.name.clone(),
            error,
        })?;
        let ops: f64 = part.kernels.iter().map(|k| k.flops() as f64).sum();
        let power = run_power(
            &sim,
            &board.design,
            &board.platform,
            ops,
            part.options.batch,
        );
        stages.push((sim.cycles() as f64 / board.design.clock_hz(), power));
        workloads.push((whole, placed));
    }
    if system.partition == Partition::Tensor {
        return Ok(schedule(system, &stages, &all_reduces(&workloads[0].0)));
    }
    let link_bytes: Vec<u64> = system
        .links
        .iter()
        .map(|link| {
            let (workload, placed) = &workloads[link.from];
            crossing_bytes(workload, placed, link.from)
        })
        .collect();
    Ok(schedule(system, &stages, &link_bytes))
}

/// The GEMMs of a tensor-parallel layer that end split by rows (the attention output
/// projection and the MLP's last), whose partial outputs the boards add up.
const ROW_SPLIT: [&str; 3] = ["o_proj", "down_proj", "fc2"];

/// Bytes of each all-reduce one observation needs on a tensor-parallel board: the output of
/// every row-split GEMM of a layer, in order.
pub fn all_reduces(shard: &Workload) -> Vec<u64> {
    shard
        .kernels
        .iter()
        .filter(|k| k.layer.is_some() && ROW_SPLIT.contains(&k.name))
        .map(|k| {
            k.operands
                .iter()
                .filter(|o| o.direction == Direction::Write)
                .map(Operand::bytes)
                .sum()
        })
        .collect()
}

/// The board each kernel of a pipeline's workload runs on: the board of its encoder, or,
/// for an encoder split by layers, the board whose range holds its layer (a kernel outside
/// the layers goes with the layer before it, or the first range before any). Refused: a
/// kernel no board runs, two boards for one kernel, a board running a kernel before an
/// earlier board's (each board hands its activations to the next only).
fn stages_of(system: &System, workload: &Workload) -> Result<Vec<usize>, SystemError> {
    let refuse = |field: String, rule: String| SystemError::Partition {
        file: system.source.clone(),
        field,
        rule,
    };
    let mut order: Vec<Encoder> = Vec::new();
    for kernel in &workload.kernels {
        if !order.contains(&kernel.encoder) {
            order.push(kernel.encoder);
        }
    }
    for (index, board) in system.boards.iter().enumerate() {
        if let Some(missing) = board.encoders.iter().find(|e| !order.contains(e)) {
            return Err(refuse(
                format!("boards[{index}].encoders"),
                format!(
                    "`{}` is not part of this workload (its encoders: {})",
                    missing.name(),
                    names(&order)
                ),
            ));
        }
    }
    let holding = |encoder: Encoder, layer: Option<u64>| -> Vec<usize> {
        system
            .boards
            .iter()
            .enumerate()
            .filter(|(_, board)| board.encoders.contains(&encoder))
            .filter(
                |(_, board)| match (board.layers.iter().find(|(e, _)| *e == encoder), layer) {
                    (None, _) => true,
                    (Some(&(_, (first, end))), Some(layer)) => (first..end).contains(&layer),
                    (Some(&(_, (first, _))), None) => first == 0,
                },
            )
            .map(|(index, _)| index)
            .collect()
    };
    let mut placed = Vec::with_capacity(workload.kernels.len());
    let mut last_of: Vec<(Encoder, usize)> = Vec::new();
    for kernel in &workload.kernels {
        let board = match (
            kernel.layer,
            last_of.iter().find(|(e, _)| *e == kernel.encoder),
        ) {
            (None, Some(&(_, board))) => vec![board],
            (layer, _) => holding(kernel.encoder, layer),
        };
        let what = match kernel.layer {
            Some(layer) => format!("`{}` layer {layer}", kernel.encoder.name()),
            None => format!("`{}`", kernel.encoder.name()),
        };
        let board = match board[..] {
            [board] => board,
            [] => return Err(refuse("boards".into(), format!("no board runs {what}"))),
            _ => {
                return Err(refuse(
                    "boards".into(),
                    format!("several boards run {what}: their `layers` overlap"),
                ));
            }
        };
        if let Some(&previous) = placed.last()
            && board < previous
        {
            return Err(refuse(
                format!("boards[{board}].encoders"),
                format!(
                    "{what} comes after kernels of a later board (`{}`), but each board hands \
                     its activations to the next only (the workload's order: {})",
                    system.boards[previous].name,
                    names(&order)
                ),
            ));
        }
        if kernel.encoder == Encoder::Decode
            && let Some(&(_, text_board)) = last_of.iter().find(|(e, _)| *e == Encoder::Text)
            && text_board != board
        {
            return Err(refuse(
                "boards".into(),
                "generated tokens extend the text layers' key/value cache on the board that \
                 generates them: keep `text` and `decode` on one board"
                    .into(),
            ));
        }
        last_of.retain(|(e, _)| *e != kernel.encoder);
        last_of.push((kernel.encoder, board));
        placed.push(board);
    }
    Ok(placed)
}

fn names(encoders: &[Encoder]) -> String {
    encoders
        .iter()
        .map(|e| e.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bytes of board `from`'s outputs that kernels of later boards read (each part of a tensor
/// once, however many kernels read it), as its workload's access maps say, and what they
/// leave as in memory though an earlier board wrote it: the connector's image tokens that
/// open the text prefix, and the text layers' key/value cache the action expert reads. These cross the link out of `from` (a
/// later board than the next is reached through the boards between).
pub fn crossing_bytes(workload: &Workload, placed: &[usize], from: usize) -> u64 {
    let across =
        |producer: usize, consumer: usize| placed[producer] <= from && placed[consumer] > from;
    let mut sent = std::collections::BTreeSet::new();
    let mut bytes = 0;
    for (index, kernel) in workload.kernels.iter().enumerate() {
        for operand in &kernel.operands {
            let instances = operand
                .access
                .heads
                .map_or(1, |heads| kernel.batch / heads.per_instance.max(1));
            for piece in &operand.access.pieces {
                let producer = index - piece.back as usize;
                if !across(producer, index) {
                    continue;
                }
                if sent.insert((producer, piece.tokens, piece.cols, piece.producer_col)) {
                    let elements = instances
                        * (piece.tokens.1 - piece.tokens.0)
                        * (piece.cols.1 - piece.cols.0);
                    bytes += (elements * operand.bits).div_ceil(8);
                }
            }
        }
    }
    // What the access maps leave as in memory though an earlier board wrote it: the text
    // prefix's image tokens (the connector's output), and the text layers' key/value cache
    // the action expert reads.
    for (index, pair) in workload.kernels.windows(2).enumerate() {
        if pair[0].encoder == Encoder::Connector
            && pair[1].encoder == Encoder::Text
            && across(index, index + 1)
        {
            bytes += pair[0]
                .operands
                .iter()
                .filter(|o| o.direction == Direction::Write)
                .map(Operand::bytes)
                .sum::<u64>();
        }
    }
    let on = |encoder: Encoder, later: bool| {
        workload
            .kernels
            .iter()
            .zip(placed)
            .any(|(k, &board)| k.encoder == encoder && (board > from) == later)
    };
    if on(Encoder::Text, false) && on(Encoder::Expert, true) {
        bytes += workload.hbm_footprint().kv_cache_bytes;
    }
    bytes
}

/// Sends the system's observations through its boards and links (`stages`: each board's
/// seconds per observation and power; `bytes`: in a pipeline, each link's bytes per
/// observation; in a tensor partition, each all-reduce's bytes per observation).
///
/// A tensor partition's boards work in lock-step: each layer ends when the slowest board
/// has its part (exact when the boards are alike, as their shares are), then a ring
/// all-reduce of `b` bytes takes 2 (K - 1) steps, each sending `b / K` bytes over the
/// slowest link of the ring and paying its hop latency (Patarasuk and Yuan, JPDC 2009).
pub fn schedule(system: &System, stages: &[(f64, Option<RunPower>)], bytes: &[u64]) -> SystemRun {
    let count = system.boards.len();
    let mut boards: Vec<BoardRun> = stages
        .iter()
        .map(|&(stage_s, power)| BoardRun {
            stage_s,
            observations: 0,
            busy_s: 0.0,
            starved_s: 0.0,
            network_s: 0.0,
            power,
        })
        .collect();
    let ring = system
        .links
        .iter()
        .min_by(|a, b| {
            a.payload_bits_per_s
                .total_cmp(&b.payload_bits_per_s)
                .then(b.latency_s.total_cmp(&a.latency_s))
        })
        .copied();
    let steps = 2 * (count as u64).saturating_sub(1);
    let mut links: Vec<LinkRun> = match system.partition {
        Partition::Tensor => {
            let sent: u64 = bytes.iter().map(|b| steps * b.div_ceil(count as u64)).sum();
            let collective_s: f64 = ring.map_or(0.0, |ring| {
                bytes
                    .iter()
                    .map(|b| {
                        steps as f64
                            * (ring.serialisation_s(b.div_ceil(count as u64)) + ring.latency_s)
                    })
                    .sum()
            });
            system
                .links
                .iter()
                .map(|link| LinkRun {
                    bytes_per_observation: sent,
                    serialisation_s: link.serialisation_s(sent),
                    transfer_s: collective_s,
                    busy_s: 0.0,
                })
                .collect()
        }
        _ => system
            .links
            .iter()
            .zip(bytes)
            .map(|(link, &bytes)| LinkRun {
                bytes_per_observation: bytes,
                serialisation_s: link.serialisation_s(bytes),
                transfer_s: link.serialisation_s(bytes) + link.latency_s,
                busy_s: 0.0,
            })
            .collect(),
    };
    let collective_s = links.first().map_or(0.0, |link| {
        if system.partition == Partition::Tensor {
            link.transfer_s
        } else {
            0.0
        }
    });
    let slowest_s = boards.iter().map(|b| b.stage_s).fold(0.0, f64::max);
    let mut board_free = vec![0.0f64; count];
    let mut port_free = vec![0.0f64; links.len()];
    let mut finished_s = Vec::new();
    let mut spans = Vec::new();
    for observation in 0..system.observations {
        match system.partition {
            Partition::Tensor => {
                let start = finished_s.last().copied().unwrap_or(0.0);
                for (lane, board) in boards.iter().enumerate() {
                    spans.push((lane, observation, start, start + board.stage_s));
                }
                for lane in 0..links.len() {
                    let ring_start = start + slowest_s;
                    spans.push((
                        count + lane,
                        observation,
                        ring_start,
                        ring_start + collective_s,
                    ));
                }
                for board in &mut boards {
                    board.busy_s += board.stage_s;
                    board.starved_s += slowest_s - board.stage_s;
                    board.network_s += collective_s;
                    board.observations += 1;
                }
                for link in &mut links {
                    link.busy_s += link.serialisation_s;
                }
                finished_s.push(start + slowest_s + collective_s);
            }
            Partition::Data => {
                let board = observation as usize % count;
                let run = &mut boards[board];
                spans.push((
                    board,
                    observation,
                    board_free[board],
                    board_free[board] + run.stage_s,
                ));
                board_free[board] += run.stage_s;
                run.busy_s += run.stage_s;
                run.observations += 1;
                finished_s.push(board_free[board]);
            }
            Partition::Pipeline => {
                // When this observation's inputs are on the board, and when the board
                // before it had finished with them.
                let (mut arrived, mut upstream_done) = (0.0f64, 0.0f64);
                for board in 0..count {
                    let run = &mut boards[board];
                    let start = board_free[board].max(arrived);
                    if arrived > board_free[board] {
                        let waited = arrived - board_free[board];
                        let network = (arrived - upstream_done.max(board_free[board])).min(waited);
                        run.network_s += network;
                        run.starved_s += waited - network;
                    }
                    let end = start + run.stage_s;
                    spans.push((board, observation, start, end));
                    board_free[board] = end;
                    run.busy_s += run.stage_s;
                    run.observations += 1;
                    upstream_done = end;
                    arrived = end;
                    if let Some(index) = system.links.iter().position(|l| l.from == board) {
                        let link = &mut links[index];
                        let sending = port_free[index].max(end);
                        port_free[index] = sending + link.serialisation_s;
                        spans.push((count + index, observation, sending, port_free[index]));
                        link.busy_s += link.serialisation_s;
                        arrived = port_free[index] + system.links[index].latency_s;
                    }
                }
                finished_s.push(arrived);
            }
        }
    }
    let observations_per_s = match system.partition {
        Partition::Data => boards.iter().map(|b| 1.0 / b.stage_s).sum(),
        Partition::Pipeline | Partition::Tensor => match finished_s[..] {
            [only] => 1.0 / only,
            [first, .., last] => (finished_s.len() - 1) as f64 / (last - first),
            [] => 0.0,
        },
    };
    if system.partition == Partition::Data {
        finished_s.sort_by(f64::total_cmp);
    }
    SystemRun {
        boards,
        links,
        finished_s,
        observations_per_s,
        spans,
    }
}

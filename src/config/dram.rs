//! The HBM2 pseudo-channel as the bank-level model sees it (`[hbm.dram]` of a platform):
//! organisation, address mapping and command timing, validated once into DRAM clock cycles.
//! Sources and the choices among them are in the platform file and
//! `docs/src/reference/hbm2-timing.md`.

use super::{ConfigError, in_range};
use serde::Deserialize;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDram {
    /// The DRAM command clock, MHz. Range: 100–4000.
    clock_mhz: f64,
    /// Bank groups of a pseudo-channel, a power of two. Range: 1–16.
    bank_groups: u64,
    /// Banks per bank group, a power of two. Range: 1–16.
    banks_per_group: u64,
    /// Rows per bank, a power of two. Range: 1–2^20, and enough rows that the banks cover the
    /// pseudo-channel's share of `hbm.capacity_bytes`.
    rows: u64,
    /// Bytes of one row (the page), a power of two, at least a column. Range: 32–2^16.
    row_bytes: u64,
    /// Bytes one column access (read or write command) moves, a power of two. Range: 1–1024.
    column_bytes: u64,
    /// Cycles the data bus carries one column access. Range: 1–64.
    burst_cycles: u64,
    /// How a byte address splits into row, bank group, bank and column:
    /// `row_bankgroup_bank_column_bankgroup` (the Vivado HBM IP's default) or
    /// `row_bank_column`.
    mapping: AddressMapping,
    /// Read requests (AXI bursts) the controller holds and reorders among. Range: 1–256.
    queue_depth: u64,
    /// Write requests the controller holds. Range: 1–256.
    write_queue_depth: u64,
    /// Waiting writes at which the controller turns to writes, 1 to `write_queue_depth`.
    write_high_watermark: u64,
    /// Waiting writes it drains down to while reads wait, 0 to `write_high_watermark` − 1.
    write_low_watermark: u64,
    /// Column accesses an open row serves before a waiting miss to its bank may close it.
    /// Range: 1–1024.
    row_hit_cap: u64,
    /// Column-to-column delay between bank groups, cycles. Range: 1–64.
    tccd_s_cycles: u64,
    /// Column-to-column delay within a bank group, cycles. Range: 1–64, and at least
    /// `tccd_s_cycles`.
    tccd_l_cycles: u64,
    /// Activate to column command (tRCD), ns (rounded up to whole DRAM cycles). Range:
    /// 0–100,000.
    trcd_ns: f64,
    /// Precharge to activate (tRP), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    trp_ns: f64,
    /// Activate to precharge (tRAS), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    tras_ns: f64,
    /// Activate to activate in one bank (tRC), ns (rounded up to whole DRAM cycles). Range:
    /// 0–100,000, and at least `tras_ns` + `trp_ns`.
    trc_ns: f64,
    /// Read command to data (CL), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    cl_ns: f64,
    /// Write command to data (CWL), cycles. Range: 0–1000.
    cwl_cycles: u64,
    /// Activate to activate between bank groups (tRRD_S), ns (rounded up to whole DRAM cycles).
    /// Range: 0–100,000.
    trrd_s_ns: f64,
    /// Activate to activate within a bank group (tRRD_L), ns (rounded up to whole DRAM cycles).
    /// Range: 0–100,000.
    trrd_l_ns: f64,
    /// Window holding at most four activates (tFAW), ns (rounded up to whole DRAM cycles).
    /// Range: 0–100,000.
    tfaw_ns: f64,
    /// Write data to read command between bank groups (tWTR_S), ns (rounded up to whole DRAM
    /// cycles). Range: 0–100,000.
    twtr_s_ns: f64,
    /// Write data to read command within a bank group (tWTR_L), ns (rounded up to whole DRAM
    /// cycles). Range: 0–100,000.
    twtr_l_ns: f64,
    /// Read to write turnaround (tRTW), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    trtw_ns: f64,
    /// Write recovery before precharge (tWR), ns (rounded up to whole DRAM cycles). Range:
    /// 0–100,000.
    twr_ns: f64,
    /// Read to precharge (tRTP), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    trtp_ns: f64,
    /// Refresh cycle time (tRFC), ns (rounded up to whole DRAM cycles). Range: 0–100,000, and
    /// above 0 and below `trefi_ns`.
    trfc_ns: f64,
    /// Refresh interval (tREFI), ns (rounded up to whole DRAM cycles). Range: 0–100,000.
    trefi_ns: f64,
    /// Controller, PHY and AXI pipeline between a port and the DRAM, both ways, ns (rounded up
    /// to whole DRAM cycles). Range: 0–100,000.
    controller_latency_ns: f64,
    /// The controller takes at most one AXI request per this time (at least one cycle), ns
    /// (rounded up to whole DRAM cycles). Range: 0–100,000.
    request_interval_ns: f64,
    /// Latency an HLS kernel's `m_axi` adapter adds to each read, ns (rounded up to whole DRAM
    /// cycles). Range: 0–100,000.
    hls_read_adapter_ns: f64,
    /// Latency an HLS kernel's `m_axi` adapter adds to each write, ns (rounded up to whole DRAM
    /// cycles). Range: 0–100,000.
    hls_write_adapter_ns: f64,
}

/// How a pseudo-channel's byte address splits into row, bank group, bank and column, as the
/// Vivado HBM IP offers it (named from the most significant field down).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, serde::Serialize, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum AddressMapping {
    /// The IP's default: consecutive columns alternate between two bank groups (the lowest
    /// field), then the column, bank, the other bank-group bit and the row.
    RowBankgroupBankColumnBankgroup,
    /// Row, then bank (bank group included), then column: a page is consecutive bytes.
    RowBankColumn,
}

impl AddressMapping {
    /// The name the platform file uses.
    pub fn name(self) -> &'static str {
        match self {
            AddressMapping::RowBankgroupBankColumnBankgroup => {
                "row_bankgroup_bank_column_bankgroup"
            }
            AddressMapping::RowBankColumn => "row_bank_column",
        }
    }
}

/// Bank groups a pseudo-channel may have: the platform file's limit, an assumption with room
/// to spare (HBM2, the U280's, has 4).
pub const MAX_BANK_GROUPS: u64 = 16;

/// Bank-level timing of one pseudo-channel, in DRAM clock cycles (nCK). A time given in
/// nanoseconds is rounded up to whole cycles, as controllers do.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DramTiming {
    /// The DRAM command clock, Hz.
    pub clock_hz: f64,
    /// Bank groups per pseudo-channel.
    pub bank_groups: u64,
    /// Banks per bank group.
    pub banks_per_group: u64,
    /// Rows per bank.
    pub rows: u64,
    /// Bytes per row.
    pub row_bytes: u64,
    /// Bytes one column access (read or write command) moves.
    pub column_bytes: u64,
    /// Cycles the data bus carries one column access.
    pub burst_cycles: u64,
    /// How an address splits into row, bank group, bank and column.
    pub mapping: AddressMapping,
    /// Read requests (AXI bursts) the controller holds and reorders among.
    pub queue_depth: u64,
    /// Write requests it holds; it turns to writes when `write_high_watermark` wait and
    /// drains them down to `write_low_watermark` while reads wait.
    pub write_queue_depth: u64,
    /// Writes waiting that turn the controller to writes.
    pub write_high_watermark: u64,
    /// Writes it drains down to.
    pub write_low_watermark: u64,
    /// Column accesses an open row serves before a waiting miss to its bank may close it.
    pub row_hit_cap: u64,
    /// tCCD_S: column to column between bank groups.
    pub tccd_s: u64,
    /// tCCD_L: column to column within a bank group.
    pub tccd_l: u64,
    /// tRCD: activate to column command.
    pub trcd: u64,
    /// tRP: precharge to activate.
    pub trp: u64,
    /// tRAS: activate to precharge.
    pub tras: u64,
    /// tRC: activate to activate in one bank.
    pub trc: u64,
    /// CL: read command to data.
    pub cl: u64,
    /// CWL: write command to data.
    pub cwl: u64,
    /// tRRD_S: activate to activate between bank groups.
    pub trrd_s: u64,
    /// tRRD_L: activate to activate within a bank group.
    pub trrd_l: u64,
    /// tFAW: the window of at most four activates.
    pub tfaw: u64,
    /// tWTR_S: write data to read between bank groups.
    pub twtr_s: u64,
    /// tWTR_L: write data to read within a bank group.
    pub twtr_l: u64,
    /// tRTW: read to write turnaround.
    pub trtw: u64,
    /// tWR: write recovery before precharge.
    pub twr: u64,
    /// tRTP: read to precharge.
    pub trtp: u64,
    /// tRFC: refresh cycle time.
    pub trfc: u64,
    /// tREFI: refresh interval.
    pub trefi: u64,
    /// Controller, PHY and AXI pipeline between a port and the DRAM, both ways.
    pub controller_latency: u64,
    /// The controller takes at most one AXI request per this many cycles.
    pub request_interval: u64,
    /// Latency an HLS kernel's `m_axi` adapter adds to each read.
    pub hls_read_adapter: u64,
    /// Latency an HLS kernel's `m_axi` adapter adds to each write.
    pub hls_write_adapter: u64,
}

impl DramTiming {
    /// Banks of one pseudo-channel.
    pub fn banks(&self) -> u64 {
        self.bank_groups * self.banks_per_group
    }

    /// Nanoseconds in `cycles` DRAM cycles.
    pub fn ns(&self, cycles: u64) -> f64 {
        cycles as f64 / self.clock_hz * 1e9
    }
}

impl RawDram {
    /// The validated organisation and timing; `channel_bytes` is a pseudo-channel's share of
    /// the HBM's capacity, which its banks, rows and columns must cover.
    pub(super) fn validate(
        &self,
        file: &str,
        channel_bytes: u64,
    ) -> Result<DramTiming, ConfigError> {
        let field = |name: &str| format!("hbm.dram.{name}");
        let clock_mhz = in_range(file, &field("clock_mhz"), self.clock_mhz, 100.0..=4000.0)?;
        let whole = |name: &str, value: u64, range| in_range(file, &field(name), value, range);
        let power_of_two = |name: &str, value: u64, range| {
            whole(name, value, range)?;
            if value.is_power_of_two() {
                Ok(value)
            } else {
                Err(ConfigError::invalid(
                    file,
                    field(name),
                    format!("must be a power of two, found {value}"),
                ))
            }
        };
        let cycles_per_ns = clock_mhz / 1e3;
        let cycles = |name: &str, ns: f64| -> Result<u64, ConfigError> {
            let ns = in_range(file, &field(name), ns, 0.0..=100_000.0)?;
            Ok((ns * cycles_per_ns - 1e-9).ceil().max(0.0) as u64)
        };
        let small = |name: &str, value: u64| whole(name, value, 0..=1000);
        let timing = DramTiming {
            clock_hz: clock_mhz * 1e6,
            bank_groups: power_of_two("bank_groups", self.bank_groups, 1..=MAX_BANK_GROUPS)?,
            banks_per_group: power_of_two("banks_per_group", self.banks_per_group, 1..=16)?,
            rows: power_of_two("rows", self.rows, 1..=1 << 20)?,
            row_bytes: power_of_two("row_bytes", self.row_bytes, 32..=1 << 16)?,
            column_bytes: power_of_two("column_bytes", self.column_bytes, 1..=1024)?,
            burst_cycles: whole("burst_cycles", self.burst_cycles, 1..=64)?,
            mapping: self.mapping,
            queue_depth: whole("queue_depth", self.queue_depth, 1..=256)?,
            write_queue_depth: whole("write_queue_depth", self.write_queue_depth, 1..=256)?,
            write_high_watermark: whole(
                "write_high_watermark",
                self.write_high_watermark,
                1..=self.write_queue_depth.max(1),
            )?,
            write_low_watermark: whole(
                "write_low_watermark",
                self.write_low_watermark,
                0..=self.write_high_watermark.saturating_sub(1),
            )?,
            row_hit_cap: whole("row_hit_cap", self.row_hit_cap, 1..=1024)?,
            tccd_s: whole("tccd_s_cycles", self.tccd_s_cycles, 1..=64)?,
            tccd_l: whole("tccd_l_cycles", self.tccd_l_cycles, 1..=64)?,
            trcd: cycles("trcd_ns", self.trcd_ns)?,
            trp: cycles("trp_ns", self.trp_ns)?,
            tras: cycles("tras_ns", self.tras_ns)?,
            trc: cycles("trc_ns", self.trc_ns)?,
            cl: cycles("cl_ns", self.cl_ns)?,
            cwl: small("cwl_cycles", self.cwl_cycles)?,
            trrd_s: cycles("trrd_s_ns", self.trrd_s_ns)?,
            trrd_l: cycles("trrd_l_ns", self.trrd_l_ns)?,
            tfaw: cycles("tfaw_ns", self.tfaw_ns)?,
            twtr_s: cycles("twtr_s_ns", self.twtr_s_ns)?,
            twtr_l: cycles("twtr_l_ns", self.twtr_l_ns)?,
            trtw: cycles("trtw_ns", self.trtw_ns)?,
            twr: cycles("twr_ns", self.twr_ns)?,
            trtp: cycles("trtp_ns", self.trtp_ns)?,
            trfc: cycles("trfc_ns", self.trfc_ns)?,
            trefi: cycles("trefi_ns", self.trefi_ns)?,
            controller_latency: cycles("controller_latency_ns", self.controller_latency_ns)?,
            request_interval: cycles("request_interval_ns", self.request_interval_ns)?.max(1),
            hls_read_adapter: cycles("hls_read_adapter_ns", self.hls_read_adapter_ns)?,
            hls_write_adapter: cycles("hls_write_adapter_ns", self.hls_write_adapter_ns)?,
        };
        let rule = |name: &str, rule: String| Err(ConfigError::invalid(file, field(name), rule));
        if timing.row_bytes < timing.column_bytes {
            return rule("row_bytes", "must hold at least one column".into());
        }
        let covered = timing.banks() * timing.rows * timing.row_bytes;
        if covered < channel_bytes {
            return rule(
                "rows",
                format!(
                    "{} banks x {} rows x {} B = {covered} B per pseudo-channel, less than its \
                     {channel_bytes} B share of hbm.capacity_bytes: addresses beyond would \
                     alias onto the same rows",
                    timing.banks(),
                    timing.rows,
                    timing.row_bytes
                ),
            );
        }
        if timing.tccd_l < timing.tccd_s {
            return rule(
                "tccd_l_cycles",
                "must not be shorter than tccd_s_cycles".into(),
            );
        }
        if timing.trc < timing.tras + timing.trp {
            return rule(
                "trc_ns",
                format!(
                    "must cover tras_ns + trp_ns ({} cycles), found {} cycles",
                    timing.tras + timing.trp,
                    timing.trc
                ),
            );
        }
        if timing.trfc == 0 || timing.trfc >= timing.trefi {
            return rule(
                "trfc_ns",
                "must be above 0 and shorter than trefi_ns".into(),
            );
        }
        Ok(timing)
    }
}

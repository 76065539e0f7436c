// The request streams of `roofsim probe hbm` (tools/probe-loop.h), fed to Ramulator 2
// (CMU-SAFARI/ramulator2, tag v2.0a) as a second test oracle for roofsim's bank-level HBM,
// beside DRAMsim3. Ramulator 2 returns a read's data through the request's callback and
// takes a write as posted: it is done once the controller has queued it, as DRAMsim3
// acknowledges it.
//
// Ramulator 2's all-bank refresh manager walks ranks, which its HBM2 model does not have (it
// would refresh nothing), so this file registers one that refreshes the pseudo-channel every
// nREFI with REFab, the command HBM2 scopes to the channel.
//
//   probe CONFIG.yaml PATTERN BURST_BYTES OUTSTANDING WRITE_SHARE STRIDE WORKING_SET BYTES
#include "../probe-loop.h"
#include "base/base.h"
#include "base/config.h"
#include "base/request.h"
#include "dram/dram.h"
#include "dram_controller/controller.h"
#include "dram_controller/refresh.h"
#include "frontend/frontend.h"
#include "memory_system/memory_system.h"

namespace Ramulator {

class PseudoChannelRefresh : public IRefreshManager, public Implementation {
  RAMULATOR_REGISTER_IMPLEMENTATION(IRefreshManager, PseudoChannelRefresh,
                                    "PseudoChannelRefresh",
                                    "All-bank refresh of an HBM2 channel every nREFI.")
 private:
  Clk_t m_clk = 0;
  IDRAMController* m_ctrl = nullptr;
  int m_nrefi = -1;
  int m_ref_req_id = -1;
  int m_levels = -1;
  Clk_t m_next = -1;

 public:
  void init() override { m_ctrl = cast_parent<IDRAMController>(); }

  void setup(IFrontEnd*, IMemorySystem*) override {
    m_nrefi = m_ctrl->m_dram->m_timing_vals("nREFI");
    m_ref_req_id = m_ctrl->m_dram->m_requests("all-bank-refresh");
    m_levels = m_ctrl->m_dram->m_levels.size();
    m_next = m_nrefi;
  }

  void tick() override {
    if (++m_clk != m_next) return;
    m_next += m_nrefi;
    std::vector<int> addr_vec(m_levels, -1);
    addr_vec[0] = m_ctrl->m_channel_id;
    Request request(addr_vec, m_ref_req_id);
    if (!m_ctrl->priority_send(request)) throw std::runtime_error("refresh not accepted");
  }
};

}  // namespace Ramulator

int main(int argc, const char** argv) {
  ProbeLoop loop(argc, argv);
  YAML::Node config = Ramulator::Config::parse_config_file(loop.config(), {});
  auto* frontend = Ramulator::Factory::create_frontend(config);
  auto* memory = Ramulator::Factory::create_memory_system(config);
  frontend->connect_memory_system(memory);
  memory->connect_frontend(frontend);
  auto read_done = [&](Ramulator::Request& request) { loop.returned(request.addr); };
  while (!loop.finished()) {
    loop.issue();
    for (bool write : {false, true}) {
      while (const Column* column = loop.front(write)) {
        int type = column->write ? Ramulator::Request::Type::Write : Ramulator::Request::Type::Read;
        if (!memory->send({static_cast<Ramulator::Addr_t>(column->address), type, 0, read_done})) {
          break;
        }
        loop.accepted(write, column->write);
      }
    }
    memory->tick();
    loop.tick();
  }
  loop.report(memory->get_tCK());
  return 0;
}

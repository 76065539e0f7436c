// The request streams of `roofsim probe hbm` (tools/probe-loop.h), fed to DRAMsim3
// (umd-memsys/DRAMsim3) as a test oracle for roofsim's bank-level HBM. DRAMsim3 acknowledges
// a write a cycle after taking it, through the same callback as a read's data.
//
//   probe CONFIG.ini PATTERN BURST_BYTES OUTSTANDING WRITE_SHARE STRIDE WORKING_SET BYTES
#include "../probe-loop.h"
#include "memory_system.h"

int main(int argc, const char **argv) {
    ProbeLoop loop(argc, argv);
    auto returned = [&](uint64_t address) { loop.returned(address); };
    dramsim3::MemorySystem memory(loop.config(), "/tmp", returned, returned);
    while (!loop.finished()) {
        loop.issue();
        for (bool write : {false, true}) {
            while (const Column *column = loop.front(write)) {
                if (!memory.WillAcceptTransaction(column->address, column->write)) break;
                memory.AddTransaction(column->address, column->write);
                loop.accepted(write, false);
            }
        }
        memory.ClockTick();
        loop.tick();
    }
    loop.report(memory.GetTCK());
    return 0;
}

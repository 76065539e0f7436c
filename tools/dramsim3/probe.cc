// The request streams of `roofsim probe hbm`, fed to DRAMsim3 (umd-memsys/DRAMsim3) as a
// test oracle for roofsim's bank-level HBM. One pseudo-channel, one requester issuing
// requests of B bytes (B / 32 column transactions) in order, one per AXI cycle (450 MHz:
// every second cycle of the 900 MHz DRAM clock, as an AXI port takes requests), with at most
// N requests in flight; addresses as `src/sim/probe.rs` draws them (sequential, strided, random with the
// same xorshift64* seed), every request the write share makes a write. Prints the achieved
// GB/s and the mean request latency in ns, as probe.csv does.
//
//   probe CONFIG.ini PATTERN BURST_BYTES OUTSTANDING WRITE_SHARE STRIDE WORKING_SET BYTES
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "memory_system.h"

namespace {

struct Draws {
    uint64_t state;
    uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
    }
};

struct Request {
    uint64_t issue;
    uint64_t remaining;
};

}  // namespace

int main(int argc, const char **argv) {
    if (argc != 9) {
        std::fprintf(stderr,
                     "usage: %s CONFIG PATTERN BURST OUTSTANDING WRITE_SHARE STRIDE SET BYTES\n",
                     argv[0]);
        return 2;
    }
    const std::string config = argv[1], pattern = argv[2];
    const uint64_t burst = std::strtoull(argv[3], nullptr, 10);
    const uint64_t outstanding = std::strtoull(argv[4], nullptr, 10);
    const double write_share = std::strtod(argv[5], nullptr);
    const uint64_t stride = std::strtoull(argv[6], nullptr, 10);
    const uint64_t working_set = std::strtoull(argv[7], nullptr, 10);
    const uint64_t bytes = std::strtoull(argv[8], nullptr, 10);
    const uint64_t column = 32;
    const uint64_t axi_cycle = 2;  // DRAM cycles per AXI cycle
    const uint64_t requests = (bytes + burst - 1) / burst;
    const uint64_t slots = working_set / burst;

    // Column transactions in flight, by address, to the requests they belong to.
    std::map<uint64_t, std::deque<uint64_t>> waiting;
    std::vector<Request> issued;
    std::deque<uint64_t> in_flight;  // indices into `issued`, in issue order
    uint64_t clock = 0, last_done = 0, done_count = 0;
    long double latency_sum = 0;
    auto complete = [&](uint64_t address) {
        auto found = waiting.find(address);
        if (found == waiting.end() || found->second.empty()) return;
        uint64_t index = found->second.front();
        found->second.pop_front();
        if (--issued[index].remaining == 0) {
            latency_sum += clock - issued[index].issue;
            last_done = clock;
            ++done_count;
        }
    };
    dramsim3::MemorySystem memory(config, "/tmp", complete, complete);
    Draws draws{0x9E3779B97F4A7C15ULL};
    std::deque<std::pair<uint64_t, bool>> pending;  // column transactions not yet accepted
    uint64_t next = 0, next_issue = 0;
    while (done_count < requests) {
        // Retire finished requests from the window.
        while (!in_flight.empty() && issued[in_flight.front()].remaining == 0) {
            in_flight.pop_front();
        }
        if (pending.empty() && next < requests && in_flight.size() < outstanding &&
            clock >= next_issue) {
            next_issue = clock + axi_cycle;
            uint64_t address = 0;
            if (pattern == "sequential") {
                address = next * burst % working_set;
            } else if (pattern == "strided") {
                address = next * stride % working_set;
            } else {
                address = draws.next() % slots * burst;
            }
            bool write = std::floor((next + 1) * write_share) > std::floor(next * write_share);
            issued.push_back({clock, burst / column});
            in_flight.push_back(issued.size() - 1);
            for (uint64_t offset = 0; offset < burst; offset += column) {
                pending.push_back({address + offset, write});
                waiting[address + offset].push_back(issued.size() - 1);
            }
            ++next;
        }
        while (!pending.empty() &&
               memory.WillAcceptTransaction(pending.front().first, pending.front().second)) {
            memory.AddTransaction(pending.front().first, pending.front().second);
            pending.pop_front();
        }
        memory.ClockTick();
        ++clock;
    }
    const double tck_ns = memory.GetTCK();
    std::printf("%.3f %.1f\n", requests * burst / (last_done * tck_ns),
                static_cast<double>(latency_sum / requests) * tck_ns);
    return 0;
}

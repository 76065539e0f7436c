// The closed loop of `roofsim probe hbm` that both peers' probes run (tools/dramsim3/probe.cc,
// tools/ramulator2/probe.cpp): one pseudo-channel, one requester issuing requests of B bytes
// (B / 32 column transactions) in order, one per AXI cycle (450 MHz: every second cycle of
// the 900 MHz DRAM clock, as an AXI port takes requests), with at most N requests in flight;
// addresses as `src/sim/probe/mod.rs` draws them (sequential, strided, random with the same
// xorshift64* seed), every request the write share makes a write. As in `probe hbm`, the
// requester issues whenever its window has room, whether or not the controller has taken its
// earlier requests, and reads and writes wait for the controller apart (an AXI port's read and
// write address channels are independent): a read the controller cannot take yet does not
// hold back the writes behind it. A request is done when its last column is, and its latency
// counts from its issue; the report is the achieved GB/s and the mean request latency in ns,
// as probe.csv gives them. C++11, as DRAMsim3 builds.
//
//   probe CONFIG PATTERN BURST_BYTES OUTSTANDING WRITE_SHARE STRIDE WORKING_SET BYTES
#ifndef ROOFSIM_TOOLS_PROBE_LOOP_H
#define ROOFSIM_TOOLS_PROBE_LOOP_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
#include <vector>

// One 32 B column transaction of a request.
struct Column {
    uint64_t address;
    bool write;
    uint64_t request;  // index of the request it belongs to
};

class ProbeLoop {
   public:
    // Reads the arguments (program name first); exits with the usage on a wrong count.
    ProbeLoop(int argc, const char **argv) {
        if (argc != 9) {
            std::fprintf(stderr, "usage: %s %s\n", argv[0],
                         "CONFIG PATTERN BURST OUTSTANDING WRITE_SHARE STRIDE SET BYTES");
            std::exit(2);
        }
        config_ = argv[1];
        pattern_ = argv[2];
        burst_ = std::strtoull(argv[3], nullptr, 10);
        outstanding_ = std::strtoull(argv[4], nullptr, 10);
        write_share_ = std::strtod(argv[5], nullptr);
        stride_ = std::strtoull(argv[6], nullptr, 10);
        working_set_ = std::strtoull(argv[7], nullptr, 10);
        requests_ = (std::strtoull(argv[8], nullptr, 10) + burst_ - 1) / burst_;
    }

    const std::string &config() const { return config_; }

    bool finished() const { return done_count_ == requests_; }

    // At the start of a DRAM cycle: issues the next request's columns if the window has room
    // and an AXI cycle has passed.
    void issue() {
        while (!in_flight_.empty() && issued_[in_flight_.front()].remaining == 0) {
            in_flight_.pop_front();
        }
        if (next_ == requests_ || in_flight_.size() >= outstanding_ || clock_ < next_issue_) {
            return;
        }
        next_issue_ = clock_ + kAxiCycle;
        uint64_t address = 0;
        if (pattern_ == "sequential") {
            address = next_ * burst_ % working_set_;
        } else if (pattern_ == "strided") {
            address = next_ * stride_ % working_set_;
        } else {
            address = draw() % (working_set_ / burst_) * burst_;
        }
        bool write = std::floor((next_ + 1) * write_share_) > std::floor(next_ * write_share_);
        issued_.push_back(Issued{clock_, burst_ / kColumn});
        in_flight_.push_back(issued_.size() - 1);
        for (uint64_t offset = 0; offset < burst_; offset += kColumn) {
            pending_[write].push_back(Column{address + offset, write, issued_.size() - 1});
        }
        ++next_;
    }

    // The oldest read (or write) column the memory has not accepted yet, if any.
    const Column *front(bool write) const {
        return pending_[write].empty() ? nullptr : &pending_[write].front();
    }

    // The memory took that column: done now if `acknowledged` (a posted write), else when its
    // address comes back through `returned`.
    void accepted(bool write, bool acknowledged) {
        Column column = pending_[write].front();
        pending_[write].pop_front();
        if (acknowledged) {
            column_done(column.request);
        } else {
            waiting_[column.address].push_back(column.request);
        }
    }

    // A column's data returned (or its write completed).
    void returned(uint64_t address) {
        std::map<uint64_t, std::deque<uint64_t> >::iterator found = waiting_.find(address);
        if (found == waiting_.end() || found->second.empty()) return;
        uint64_t request = found->second.front();
        found->second.pop_front();
        column_done(request);
    }

    // At the end of a DRAM cycle.
    void tick() { ++clock_; }

    // Prints the achieved GB/s and the mean request latency in ns.
    void report(double tck_ns) const {
        std::printf("%.3f %.1f\n", requests_ * burst_ / (last_done_ * tck_ns),
                    static_cast<double>(latency_sum_ / requests_) * tck_ns);
    }

   private:
    struct Issued {
        uint64_t issue;
        uint64_t remaining;
    };
    static const uint64_t kColumn = 32;
    static const uint64_t kAxiCycle = 2;  // DRAM cycles per AXI cycle

    uint64_t draw() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1DULL;
    }

    void column_done(uint64_t request) {
        if (--issued_[request].remaining == 0) {
            latency_sum_ += clock_ - issued_[request].issue;
            last_done_ = clock_;
            ++done_count_;
        }
    }

    std::string config_, pattern_;
    uint64_t burst_ = 0, outstanding_ = 0, stride_ = 0, working_set_ = 0, requests_ = 0;
    double write_share_ = 0;
    uint64_t state_ = 0x9E3779B97F4A7C15ULL;
    std::map<uint64_t, std::deque<uint64_t> > waiting_;  // columns in flight, by address
    std::vector<Issued> issued_;
    std::deque<uint64_t> in_flight_;  // indices into issued_, in issue order
    std::deque<Column> pending_[2];   // reads' and writes' columns not yet accepted
    uint64_t clock_ = 0, next_ = 0, next_issue_ = 0, last_done_ = 0, done_count_ = 0;
    long double latency_sum_ = 0;
};

#endif  // ROOFSIM_TOOLS_PROBE_LOOP_H

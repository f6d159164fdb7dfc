// Verilator harness for the UART host link (fpga/link/sim.ts builds and runs it).
//
// Bytes read from stdin are sent into the design's uart_rx pin as 8N1 serial frames; bytes the
// design sends on uart_tx are decoded and written to stdout. When there is nothing to send, the
// harness is not receiving, and uart_tx has been idle for `quiet` cycles, it blocks on stdin, so an
// idle simulation costs no CPU. EOF on stdin ends it.
//
// Link time: every time it blocks, the harness writes "@link CYCLES HOST BYTES" to stderr: the
// cycles simulated, those of them spent waiting for the host (from the end of the design's last
// byte, when nothing is queued, until the harness starts the host's next byte, plus the start-up
// cycles), and the bytes taken from stdin. CYCLES - HOST is the time a board would spend on the
// link and in the design with a host that answers at once.
//
// Usage: harness CLOCKS_PER_BIT QUIET_CYCLES   (the design's top is compiled in as class Vdut)
#include "Vdut.h"
#include "verilated.h"

#include <poll.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <vector>

static void write_all(std::vector<uint8_t>& out) {
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = write(1, out.data() + off, out.size() - off);
    if (n <= 0) exit(0);  // the host went away
    off += (size_t)n;
  }
  out.clear();
}

// Read what is available on stdin (waiting up to timeout_ms; -1 = forever). Returns false on EOF.
static bool read_input(std::deque<uint8_t>& q, int timeout_ms) {
  struct pollfd p = {0, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r <= 0) return true;
  uint8_t buf[4096];
  ssize_t n = read(0, buf, sizeof buf);
  if (n <= 0) return false;
  q.insert(q.end(), buf, buf + n);
  return true;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CLOCKS_PER_BIT QUIET_CYCLES\n", argv[0]);
    return 2;
  }
  const int cpb = atoi(argv[1]);
  const long quiet = atol(argv[2]);
  VerilatedContext ctx;
  Vdut dut(&ctx);
  dut.clk = 0;
  dut.uart_rx = 1;
  dut.eval();

  std::deque<uint8_t> in;
  std::vector<uint8_t> out;
  bool eof = false;
  // Transmitter into the design: bit index (-1 idle), cycles left in the bit, frame bits.
  int tx_bit = -1, tx_cnt = 0;
  uint32_t tx_frame = 0;
  // Receiver from the design: 0 idle, 1 start bit, 2 data, 3 stop bit.
  int rx_state = 0, rx_cnt = 0, rx_bit = 0;
  uint8_t rx_byte = 0;
  long since_activity = 0;
  uint64_t cycle = 0;
  // Host-wait accounting (see the header): whose turn it is, and quiet cycles not yet attributed.
  bool host_turn = true;
  uint64_t host_cycles = 0, pending = 0, bytes_in = 0;
  // The design's power-on reset and receiver synchroniser need a few cycles: a byte sent into them
  // would be lost, so the line stays idle (high) for the first STARTUP cycles.
  const uint64_t startup = 64 + 20 * (uint64_t)cpb;

  for (;;) {
    bool tb_idle = tx_bit < 0 && in.empty() && rx_state == 0;
    if (tb_idle && since_activity > quiet) {
      write_all(out);
      fprintf(stderr, "@link %llu %llu %llu\n", (unsigned long long)cycle,
              (unsigned long long)(host_cycles + (host_turn ? pending : 0)), (unsigned long long)bytes_in);
      fflush(stderr);
      if (eof) break;
      if (!read_input(in, -1)) eof = true;
      if (in.empty()) {
        if (eof) break;
        continue;
      }
      since_activity = 0;
    } else if (!eof && (cycle & 255) == 0) {
      if (!read_input(in, 0)) eof = true;
    }
    if (tx_bit < 0 && !in.empty() && cycle >= startup) {
      tx_frame = (1u << 9) | ((uint32_t)in.front() << 1);  // start 0, data LSB first, stop 1
      in.pop_front();
      tx_bit = 0;
      tx_cnt = cpb;
      bytes_in++;
      if (host_turn) host_cycles += pending;
      pending = 0;
      host_turn = false;
    }
    if (cycle < startup) {
      host_cycles++;
    } else if (tx_bit < 0 && rx_state == 0 && dut.uart_tx) {
      pending++;  // the line is quiet: the host's time or the design's, decided by who speaks next
    }
    dut.uart_rx = tx_bit < 0 ? 1 : (tx_frame >> tx_bit) & 1;
    dut.clk = 1;
    dut.eval();
    dut.clk = 0;
    dut.eval();
    cycle++;
    if (tx_bit >= 0 && --tx_cnt == 0) {
      tx_cnt = cpb;
      if (++tx_bit == 10) tx_bit = -1;
    }
    const int line = dut.uart_tx;
    switch (rx_state) {
      case 0:
        if (!line) {
          rx_state = 1;
          rx_cnt = cpb / 2;
          pending = 0;  // the design spoke: the quiet cycles before were its own
          host_turn = true;
        }
        break;
      case 1:
        if (--rx_cnt == 0) {
          if (!line) {
            rx_state = 2;
            rx_cnt = cpb;
            rx_bit = 0;
            rx_byte = 0;
          } else {
            rx_state = 0;
          }
        }
        break;
      case 2:
        if (--rx_cnt == 0) {
          rx_byte |= (uint8_t)(line << rx_bit);
          rx_cnt = cpb;
          if (++rx_bit == 8) rx_state = 3;
        }
        break;
      case 3:
        if (--rx_cnt == 0) {
          if (line) out.push_back(rx_byte);  // a 0 stop bit is a framing error: the byte is dropped
          rx_state = 0;
          if (out.size() >= 64) write_all(out);
        }
        break;
    }
    if (tx_bit >= 0 || rx_state != 0 || !line) {
      since_activity = 0;
    } else {
      since_activity++;
    }
  }
  write_all(out);
  dut.final();
  return 0;
}

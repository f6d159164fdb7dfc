import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { VtwError } from '../../errors.ts';
import { getBoard } from '../../../fpga/boards/index.ts';
import { demoTop } from '../../../fpga/demo.ts';
import { LinkHost } from '../../../fpga/link/host.ts';
import type { ByteStream } from '../../../fpga/link/stream.ts';
import { baudOption, outOption, portOption, simOption } from '../options.ts';

interface LinkOptions {
  port?: string;
  baud: number;
  sim?: boolean;
  out?: string;
}

function num(v: string | undefined, what: string): number {
  const n = v === undefined ? NaN : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new VtwError(`${what} '${v}' must be an integer 0..0xffffffff (decimal or 0x hex)`);
  return n;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export function registerLink(program: Command): void {
  program
    .command('link')
    .description('talk to a board\'s UART host link (docs/host-protocol.md): ping, registers, memory')
    .argument('<action>', 'ping | reg-read ADDR | reg-write ADDR VALUE | mem-read ADDR BYTES [--out FILE] | mem-write ADDR FILE')
    .argument('[args...]')
    .addOption(portOption())
    .addOption(baudOption())
    .addOption(simOption('talk to the demo top simulated in Verilator instead of a board'))
    .addOption(outOption('file', 'mem-read: write the bytes to a file instead of printing hex'))
    .action(async (action: string, args: string[], opts: LinkOptions) => {
      const baud = opts.baud;
      let stream: ByteStream;
      let sim = false;
      if (opts.sim) {
        const { SimTransport } = await import('../../../fpga/link/sim.ts');
        stream = await SimTransport.start(demoTop(getBoard('icebreaker'), { clksPerBit: 4, timeoutCycles: 400 }), (m) => process.stderr.write(`${m}\n`));
        sim = true;
      } else {
        if (!opts.port) throw new VtwError('give --port DEVICE (the board\'s serial port) or --sim');
        const { SerialTransport } = await import('../../../fpga/link/serial.ts');
        stream = await SerialTransport.open(opts.port, baud);
      }
      const host = new LinkHost(stream, sim ? { timeoutMs: 2000, deviceTimeoutMs: 20 } : { baud });
      try {
        switch (action) {
          case 'ping': {
            const p = await host.ping();
            console.log(`vtw link ok: ${p.memWords} words (${p.memWords * 4} bytes) of memory${p.streamBlockWords ? `, WRITE_STREAM in blocks of ${p.streamBlockWords} words` : ''}`);
            break;
          }
          case 'reg-read':
            console.log(hex(await host.readReg(num(args[0], 'register address'))));
            break;
          case 'reg-write':
            await host.writeReg(num(args[0], 'register address'), num(args[1], 'value'));
            break;
          case 'mem-read': {
            const data = await host.readMem(num(args[0], 'address'), num(args[1], 'length'));
            if (opts.out) writeFileSync(opts.out, data);
            else console.log(Buffer.from(data).toString('hex').replace(/(.{64})/g, '$1\n').trim());
            break;
          }
          case 'mem-write': {
            if (!args[1]) throw new VtwError('mem-write needs ADDR FILE');
            let data: Uint8Array;
            try {
              data = readFileSync(args[1]);
            } catch {
              throw new VtwError(`cannot read ${args[1]}`);
            }
            await host.writeMem(num(args[0], 'address'), data);
            process.stderr.write(`wrote ${data.length} bytes\n`);
            break;
          }
          default:
            throw new VtwError(`unknown link action '${action}'; actions: ping, reg-read, reg-write, mem-read, mem-write`);
        }
      } finally {
        await stream.close();
      }
    });
}

/**
 * A real serial port as a ByteStream, through the `serialport` library. The port class can be
 * injected (tests use serialport's SerialPortMock).
 */
import { SerialPort } from 'serialport';
import { VtwError } from '../../src/errors.ts';
import { BufferedStream } from './stream.ts';

/** What SerialTransport needs of a port (SerialPort and SerialPortMock both provide it). */
export interface PortLike {
  open(cb: (err: Error | null) => void): void;
  write(data: Uint8Array): boolean;
  drain(cb: (err: Error | null) => void): void;
  close(cb: (err: Error | null) => void): void;
  on(event: 'data', cb: (d: Buffer) => void): unknown;
  on(event: 'close' | 'error', cb: (e?: Error) => void): unknown;
  readonly isOpen: boolean;
}

export type PortFactory = (path: string, baudRate: number) => PortLike;

const defaultFactory: PortFactory = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false });

export class SerialTransport extends BufferedStream {
  private constructor(
    private readonly port: PortLike,
    readonly path: string,
  ) {
    super();
    port.on('data', (d: Buffer) => this.push(new Uint8Array(d)));
    port.on('close', () => this.ended(`serial port ${path} closed`));
    port.on('error', (e?: Error) => this.ended(`serial port ${path}: ${e?.message ?? 'error'}`));
  }

  /** Open `path` at `baudRate` (8N1, no flow control). */
  static async open(path: string, baudRate = 115200, factory: PortFactory = defaultFactory): Promise<SerialTransport> {
    const port = factory(path, baudRate);
    await new Promise<void>((resolve, reject) =>
      port.open((err) => {
        if (!err) return resolve();
        const msg = err.message;
        if (/ENOENT|No such file|not found/i.test(msg)) {
          reject(new VtwError(`serial port ${path} does not exist: is the board plugged in? (ports usually appear as /dev/ttyUSB* or /dev/ttyACM*)`));
        } else if (/EACCES|permission denied/i.test(msg)) {
          reject(new VtwError(`no permission to open ${path}: add yourself to its group (usually dialout: sudo usermod -aG dialout $USER) and log in again`));
        } else {
          reject(new VtwError(`cannot open serial port ${path}: ${msg}`));
        }
      }),
    );
    return new SerialTransport(port, path);
  }

  async write(data: Uint8Array): Promise<void> {
    this.port.write(data);
    await new Promise<void>((resolve, reject) => this.port.drain((e) => (e ? reject(new VtwError(`serial port ${this.path}: ${e.message}`)) : resolve())));
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }
}

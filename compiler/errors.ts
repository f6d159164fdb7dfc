/** Errors of the tensor compiler: one line each, printed by the CLI like every VtwError. */
import { VtwError } from '../src/errors.ts';

/** A program the compiler cannot lower, or a schedule / knob choice it cannot honour. */
export class CompileError extends VtwError {}

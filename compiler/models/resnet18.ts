/**
 * ResNet-18 with ImageNet shapes and seeded random weights, as ONNX (docs/models.md, "ResNet-18
 * (seeded)"): torchvision's structure and tensor names - conv1 7x7/2 + BatchNorm + Relu, MaxPool 3/2,
 * four stages of two BasicBlocks (3x3 conv + BN + Relu, 3x3 conv + BN, a 1x1/2 conv + BN on the
 * shortcut where the shape changes, Add, Relu), GlobalAveragePool, Flatten, Gemm to 1000 classes.
 * Input `input` float32 [1,3,224,224], output `logits` [1,1000]; opset 13.
 *
 * Weights: convolutions He-normal (std sqrt(2 / fan_in)), BatchNorm scale, bias, running mean and
 * variance drawn away from the identity (so folding BN into the convs changes every weight), the
 * fully connected layer uniform. One 32-bit seeded generator (src/util/rng.ts) and V8's own
 * Math.log / Math.cos, so the same seed gives the same bytes wherever this Node.js version runs.
 */
import onnxPkg from 'onnx-proto';
import { Rng } from '../../src/util/rng.ts';

const { onnx } = onnxPkg;

/** The seed the committed figures (docs/models.md) use. */
export const RESNET18_SEED = 18;
export const RESNET18_INPUT = [1, 3, 224, 224] as const;
export const RESNET18_CLASSES = 1000;

/** Standard normal by Box-Muller (one value per pair of uniforms: simple and reproducible). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]: log stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

const ints = (name: string, v: number[]): onnxPkg.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });

function floatBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(4 * i, a[i], true); // raw_data is little-endian
  return out;
}

/** Builds the graph node by node, adding each weight as an initializer. */
class Builder {
  readonly nodes: onnxPkg.onnx.INodeProto[] = [];
  readonly initializers: onnxPkg.onnx.ITensorProto[] = [];
  constructor(private readonly rng: Rng) {}

  private weight(name: string, dims: number[], draw: () => number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, draw);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: floatBytes(data) });
    return name;
  }

  private uniform(lo: number, hi: number): () => number {
    return () => lo + (hi - lo) * this.rng.next();
  }

  private node(opType: string, name: string, input: string[], attribute: onnxPkg.onnx.IAttributeProto[] = []): string {
    this.nodes.push({ name, opType, input, output: [name], attribute });
    return name;
  }

  conv(name: string, x: string, cin: number, cout: number, k: number, stride: number): string {
    const std = Math.sqrt(2 / (cin * k * k));
    const w = this.weight(`${name}.weight`, [cout, cin, k, k], () => std * gaussian(this.rng));
    const pad = (k - 1) >> 1;
    return this.node('Conv', name, [x, w], [ints('kernel_shape', [k, k]), ints('strides', [stride, stride]), ints('pads', [pad, pad, pad, pad])]);
  }

  bn(name: string, x: string, c: number): string {
    const scale = this.weight(`${name}.weight`, [c], this.uniform(0.5, 1.5));
    const bias = this.weight(`${name}.bias`, [c], this.uniform(-0.25, 0.25));
    const mean = this.weight(`${name}.running_mean`, [c], this.uniform(-0.25, 0.25));
    const variance = this.weight(`${name}.running_var`, [c], this.uniform(0.5, 2));
    return this.node('BatchNormalization', name, [x, scale, bias, mean, variance], [{ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1e-5 }]);
  }

  relu(x: string): string {
    return this.node('Relu', `${x}.relu`, [x]);
  }

  /** torchvision's BasicBlock: two 3x3 convs; a 1x1 conv + BN on the shortcut when the shape changes. */
  basicBlock(name: string, x: string, cin: number, cout: number, stride: number): string {
    const a = this.relu(this.bn(`${name}.bn1`, this.conv(`${name}.conv1`, x, cin, cout, 3, stride), cout));
    const b = this.bn(`${name}.bn2`, this.conv(`${name}.conv2`, a, cout, cout, 3, 1), cout);
    const shortcut = stride !== 1 || cin !== cout ? this.bn(`${name}.downsample.1`, this.conv(`${name}.downsample.0`, x, cin, cout, 1, stride), cout) : x;
    return this.relu(this.node('Add', `${name}.add`, [b, shortcut]));
  }

  fc(x: string, cin: number, cout: number): string {
    const bound = 1 / Math.sqrt(cin);
    const w = this.weight('fc.weight', [cout, cin], this.uniform(-bound, bound));
    const b = this.weight('fc.bias', [cout], this.uniform(-bound, bound));
    this.nodes.push({ name: 'fc', opType: 'Gemm', input: [x, w, b], output: ['logits'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] });
    return 'logits';
  }
}

/** The ONNX bytes of ResNet-18 with weights from `seed`. */
export function buildResnet18(seed = RESNET18_SEED): Uint8Array {
  const b = new Builder(new Rng(seed));
  let x = b.relu(b.bn('bn1', b.conv('conv1', 'input', 3, 64, 7, 2), 64));
  b.nodes.push({ name: 'maxpool', opType: 'MaxPool', input: [x], output: ['maxpool'], attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])] });
  x = 'maxpool';
  let cin = 64;
  [64, 128, 256, 512].forEach((cout, stage) => {
    x = b.basicBlock(`layer${stage + 1}.0`, x, cin, cout, stage === 0 ? 1 : 2);
    x = b.basicBlock(`layer${stage + 1}.1`, x, cout, cout, 1);
    cin = cout;
  });
  b.nodes.push({ name: 'avgpool', opType: 'GlobalAveragePool', input: [x], output: ['avgpool'] });
  b.nodes.push({ name: 'flatten', opType: 'Flatten', input: ['avgpool'], output: ['flatten'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] });
  b.fc('flatten', cin, RESNET18_CLASSES);
  const valueInfo = (name: string, dims: readonly number[]) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'vta-workbench scripts/build-resnet18.ts',
    docString: `ResNet-18 (torchvision structure, ImageNet shapes) with seeded random weights (seed ${seed}); docs/models.md describes it.`,
    graph: {
      name: 'resnet18',
      node: b.nodes,
      initializer: b.initializers,
      input: [valueInfo('input', RESNET18_INPUT)],
      output: [valueInfo('logits', [1, RESNET18_CLASSES])],
    },
    metadataProps: [{ key: 'vtw.seed', value: String(seed) }],
  })).finish();
}

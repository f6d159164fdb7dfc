/**
 * Benchmark layers of vta-reference Part B §6.4: ResNet-18's offloaded convolutions C2-C11 (with
 * the number of times the network uses each shape) and MobileNet's grouped convolutions D1-D9;
 * and the offloaded layers of the repository's LeNet-5 (docs/models.md), its dense layers as 1x1
 * convolutions of a 1x1 image, small enough for the iCE40 design points.
 */
import type { Conv2dSpec } from '../ops/conv2d.ts';

export interface BenchLayer {
  name: string;
  spec: Omit<Conv2dSpec, 'shift' | 'bias' | 'clip'>;
  /** Occurrences in the network. */
  count: number;
}

const conv = (name: string, h: number, cin: number, cout: number, k: number, pad: number, stride: number, count = 1, groups = 1): BenchLayer => ({
  name, count, spec: { batch: 1, h, w: h, cin, cout, k, pad, stride, groups },
});

export const RESNET18_LAYERS: readonly BenchLayer[] = [
  conv('C2', 56, 64, 64, 3, 1, 1, 4),
  conv('C3', 56, 64, 128, 3, 1, 2),
  conv('C4', 56, 64, 128, 1, 0, 2),
  conv('C5', 28, 128, 128, 3, 1, 1, 3),
  conv('C6', 28, 128, 256, 3, 1, 2),
  conv('C7', 28, 128, 256, 1, 0, 2),
  conv('C8', 14, 256, 256, 3, 1, 1, 3),
  conv('C9', 14, 256, 512, 3, 1, 2),
  conv('C10', 14, 256, 512, 1, 0, 2),
  conv('C11', 7, 512, 512, 3, 1, 1, 3),
];

export const MOBILENET_LAYERS: readonly BenchLayer[] = [
  conv('D1', 112, 32, 32, 3, 1, 1, 1, 2),
  conv('D2', 112, 64, 64, 3, 1, 2, 1, 4),
  conv('D3', 56, 128, 128, 3, 1, 1, 1, 8),
  conv('D4', 56, 128, 128, 3, 1, 2, 1, 8),
  conv('D5', 28, 256, 256, 3, 1, 1, 1, 16),
  conv('D6', 28, 256, 256, 3, 1, 2, 1, 16),
  conv('D7', 14, 512, 512, 3, 1, 1, 1, 32),
  conv('D8', 14, 512, 512, 3, 1, 2, 1, 32),
  conv('D9', 7, 1024, 1024, 3, 1, 1, 1, 64),
];

export const LENET_LAYERS: readonly BenchLayer[] = [
  conv('conv1', 28, 1, 6, 5, 0, 1),
  conv('conv2', 12, 6, 16, 5, 0, 1),
  conv('fc1', 1, 256, 120, 1, 0, 1),
  conv('fc2', 1, 120, 84, 1, 0, 1),
  conv('fc3', 1, 84, 10, 1, 0, 1),
];

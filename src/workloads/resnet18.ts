/**
 * The part of ResNet-18 that VTA offloads: every 3x3 and 1x1 convolution after the stem, with the
 * number of times each shape occurs in the network (C2 four times: two basic blocks of two convs).
 */
import { RESNET18_CONVS, type Conv2dShape } from './conv2d.ts';

export const RESNET18_OFFLOAD: ReadonlyArray<{ shape: Conv2dShape; count: number }> = RESNET18_CONVS.map((shape) => ({
  shape,
  count: { C2: 4, C5: 3, C8: 3, C11: 3 }[shape.name] ?? 1,
}));

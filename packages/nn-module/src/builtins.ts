/**
 * torch.nn's built-in module classes, under their torch 1.13 qualified names. Constructors build
 * the same `__dict__` (keys, order, value types) torch's constructors build; getters read the
 * constructor attributes from `dict`, so they work as well on modules loaded from a pickle.
 *
 * Split as `torch.nn.modules` is, one file per torch module under `./modules/`; this file
 * re-exports them and lists every class for the registry.
 */

export {
  ELU,
  GELU,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  LeakyReLU,
  LogSoftmax,
  Mish,
  MultiheadAttention,
  type MultiheadAttentionOptions,
  PReLU,
  ReLU,
  ReLU6,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
} from "./modules/activation.js";
export {
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BatchNormBase,
  type BatchNormOptions,
} from "./modules/batchnorm.js";
export { ModuleDict, ModuleList, Sequential } from "./modules/container.js";
export {
  Conv1d,
  Conv2d,
  Conv3d,
  ConvNd,
  type ConvOptions,
  ConvTranspose1d,
  ConvTranspose2d,
} from "./modules/conv.js";
export { Dropout } from "./modules/dropout.js";
export { Flatten, Unflatten } from "./modules/flatten.js";
export { F_GELU, F_RELU, TorchFunction } from "./modules/functional.js";
export { Bilinear, Identity, Linear, NonDynamicallyQuantizableLinear } from "./modules/linear.js";
export { GroupNorm, LayerNorm } from "./modules/normalization.js";
export {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveAvgPoolNd,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  AdaptiveMaxPoolNd,
  AvgPool1d,
  AvgPool2d,
  MaxPool1d,
  MaxPool2d,
  MaxPoolNd,
  type MaxPoolOptions,
} from "./modules/pooling.js";
export { GRU, LSTM, RNN, RNNBase, type RNNOptions } from "./modules/rnn.js";
export { Embedding, EmbeddingBag, type EmbeddingOptions } from "./modules/sparse.js";
export {
  deepCopyModule,
  TransformerEncoder,
  TransformerEncoderLayer,
  type TransformerEncoderLayerOptions,
} from "./modules/transformer.js";

import {
  ELU,
  GELU,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  LeakyReLU,
  LogSoftmax,
  Mish,
  MultiheadAttention,
  PReLU,
  ReLU,
  ReLU6,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
} from "./modules/activation.js";
import { BatchNorm1d, BatchNorm2d, BatchNorm3d } from "./modules/batchnorm.js";
import { ModuleDict, ModuleList, Sequential } from "./modules/container.js";
import { Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d } from "./modules/conv.js";
import { Dropout } from "./modules/dropout.js";
import { Flatten, Unflatten } from "./modules/flatten.js";
import { Bilinear, Identity, Linear, NonDynamicallyQuantizableLinear } from "./modules/linear.js";
import { GroupNorm, LayerNorm } from "./modules/normalization.js";
import {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  AvgPool2d,
  MaxPool1d,
  MaxPool2d,
} from "./modules/pooling.js";
import { GRU, LSTM, RNN } from "./modules/rnn.js";
import { Embedding, EmbeddingBag } from "./modules/sparse.js";
import { TransformerEncoder, TransformerEncoderLayer } from "./modules/transformer.js";

// ---- the class list ----------------------------------------------------------------------------------

/** Every built-in class, for the registry. */
export const BUILTIN_MODULE_CLASSES = [
  Sequential,
  ModuleList,
  ModuleDict,
  Identity,
  Linear,
  NonDynamicallyQuantizableLinear,
  Bilinear,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  LayerNorm,
  GroupNorm,
  Embedding,
  EmbeddingBag,
  RNN,
  LSTM,
  GRU,
  MultiheadAttention,
  TransformerEncoderLayer,
  TransformerEncoder,
  Dropout,
  ReLU,
  SiLU,
  Mish,
  Hardswish,
  Hardsigmoid,
  Tanh,
  Sigmoid,
  GELU,
  Softmax,
  LogSoftmax,
  LeakyReLU,
  ELU,
  Hardtanh,
  ReLU6,
  Softplus,
  PReLU,
  MaxPool1d,
  MaxPool2d,
  AvgPool1d,
  AvgPool2d,
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  Flatten,
  Unflatten,
] as const;

/**
 * A small, explicit ONNX graph builder over onnx-proto (opset 17 + com.microsoft 1, IR 8).
 * Values are named by the builder (`<prefix>/<op>_<n>`); graph inputs/outputs keep the names the
 * stage signatures promise.
 */
import { writeFileSync } from 'node:fs';
import onnxPkg from 'onnx-proto';
import type { WeightFormat } from './quantize.js';
import type { WeightSink } from './weight-sink.js';

const { onnx } = onnxPkg;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type ElemType = 'float32' | 'int64' | 'bool' | 'float16' | 'int8';
export type Dim = number | string;
export interface ValueSig {
  name: string;
  dtype: ElemType;
  shape: Dim[];
}

const ELEM: Record<ElemType, number> = { float32: DT.FLOAT, int64: DT.INT64, bool: DT.BOOL, float16: DT.FLOAT16, int8: DT.INT8 };

/** Attribute values: integers → INT, `f(x)` → FLOAT, number[] → INTS, string → STRING. */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const f = (x: number): FloatAttr => new FloatAttr(x);
/** A subgraph attribute (If branches, Loop/Scan bodies); build one with `GraphBuilder.subgraph`. */
export class GraphAttr {
  constructor(readonly graph: onnxPkg.onnx.IGraphProto) {}
}
type Attr = number | number[] | string | FloatAttr | GraphAttr | onnxPkg.onnx.ITensorProto;

export class GraphBuilder {
  private readonly nodes: onnxPkg.onnx.INodeProto[] = [];
  private readonly initializers: onnxPkg.onnx.ITensorProto[] = [];
  readonly inputs: ValueSig[] = [];
  readonly outputs: ValueSig[] = [];
  private counter = 0;
  private scope = '';
  parameters = 0;

  constructor(
    readonly name: string,
    private readonly sink: WeightSink,
    /** How `linear()` stores weights (fp32 MatMul, or MatMulNBits int8/int4). */
    readonly weightFormat: WeightFormat = 'fp32',
  ) {}

  withScope<T>(scope: string, fn: () => T): T {
    const prev = this.scope;
    this.scope = scope;
    try {
      return fn();
    } finally {
      this.scope = prev;
    }
  }

  input(name: string, dtype: ElemType, shape: Dim[]): string {
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  output(value: string, name: string, dtype: ElemType, shape: Dim[]): void {
    this.op('Identity', [value], {}, { outputs: [name] });
    this.outputs.push({ name, dtype, shape });
  }

  /** A float32 weight (counted as parameters). */
  weight(name: string, data: Float32Array, dims: number[]): string {
    this.parameters += data.length;
    this.initializers.push(this.sink.tensor(name, DT.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    return name;
  }

  /** A raw initializer of any element type (quantised weights, scales). */
  rawInitializer(name: string, dataType: number, dims: number[], bytes: Uint8Array, params = 0): string {
    this.parameters += params;
    this.initializers.push(this.sink.tensor(name, dataType, dims, bytes));
    return name;
  }

  constF32(values: number[] | Float32Array, dims: number[] = [values.length]): string {
    const name = this.fresh('const');
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.initializers.push({ name, dataType: DT.FLOAT, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DT.INT64, dims, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  scalarF32(v: number): string {
    return this.constF32([v], []);
  }

  scalarI64(v: number): string {
    return this.constI64([v], []);
  }

  private fresh(kind: string): string {
    return `${this.scope ? this.scope + '/' : ''}${kind}_${this.counter++}`;
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { outputs?: number | string[]; domain?: string } = {}): string {
    return this.opN(type, inputs, attrs, opts)[0];
  }

  opN(type: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { outputs?: number | string[]; domain?: string } = {}): string[] {
    const outs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(type));
    const attribute = Object.entries(attrs).map(([name, v]) => toAttr(name, v));
    this.nodes.push({ opType: type, input: inputs, output: outs, name: this.fresh(`n_${type}`), domain: opts.domain ?? '', attribute });
    return outs;
  }

  /**
   * A subgraph for an If branch or a Loop/Scan body. It may read any value of this graph by name
   * (ONNX outer-scope references); its own values get `scope` as prefix so names stay unique, and its
   * weights are its own initializers (written through the same sink).
   */
  subgraph(scope: string, build: (sub: GraphBuilder) => void): GraphAttr {
    const sub = new GraphBuilder(`${this.name}/${scope}`, this.sink, this.weightFormat);
    sub.scope = scope;
    build(sub);
    this.parameters += sub.parameters;
    return new GraphAttr({
      name: sub.name,
      node: sub.nodes,
      initializer: sub.initializers,
      input: sub.inputs.map(valueInfo),
      output: sub.outputs.map(valueInfo),
    });
  }

  /** Serialises the model; returns its byte length. */
  save(path: string, docString = ''): number {
    const bytes = this.toBytes(docString);
    writeFileSync(path, bytes);
    return bytes.byteLength;
  }

  /** The serialised model (small graphs built at run time are handed to onnxruntime without a file). */
  toBytes(docString = ''): Uint8Array {
    const model: onnxPkg.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'tessera',
      producerVersion: '1',
      docString,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function valueInfo(v: ValueSig): onnxPkg.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function toAttr(name: string, v: Attr): onnxPkg.onnx.IAttributeProto {
  if (v instanceof FloatAttr) return { name, type: AT.FLOAT, f: v.value };
  if (v instanceof GraphAttr) return { name, type: AT.GRAPH, g: v.graph };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { name, type: AT.FLOAT, f: v };
    return { name, type: AT.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  return { name, type: AT.TENSOR, t: v };
}

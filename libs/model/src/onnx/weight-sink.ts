/**
 * Where initializer bytes go: inline in the model proto, or appended to one external data file next
 * to it (ONNX protobuf is capped at 2 GB, so big stages must use external data). Writing as we go keeps
 * peak memory at one tensor for a 16 GB checkpoint.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxPkg from 'onnx-proto';

const { onnx } = onnxPkg;
export type TensorProtoInit = onnxPkg.onnx.ITensorProto;

/** External data offsets are aligned so ORT can map tensors directly (64 bytes suffices for SIMD loads). */
const ALIGN = 64;

export class WeightSink {
  private fd: number | null = null;
  private offset = 0;
  bytes = 0;
  constructor(private readonly dataPath: string | null) {}

  get external(): boolean {
    return this.dataPath !== null;
  }

  tensor(name: string, dataType: number, dims: number[], data: Uint8Array): TensorProtoInit {
    this.bytes += data.byteLength;
    if (this.dataPath === null || data.byteLength < 1024) {
      return { name, dataType, dims, rawData: data };
    }
    if (this.fd === null) this.fd = openSync(this.dataPath, 'w');
    const pad = (ALIGN - (this.offset % ALIGN)) % ALIGN;
    if (pad) writeSync(this.fd, new Uint8Array(pad));
    this.offset += pad;
    const start = this.offset;
    writeSync(this.fd, data);
    this.offset += data.byteLength;
    return {
      name,
      dataType,
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: basename(this.dataPath) },
        { key: 'offset', value: String(start) },
        { key: 'length', value: String(data.byteLength) },
      ],
    };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** The data file's name when anything was written to it. */
  get dataFile(): string | null {
    return this.fd !== null || this.offset > 0 ? basename(this.dataPath!) : null;
  }
}

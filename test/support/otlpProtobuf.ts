/**
 * A decoder of OTLP trace exports in protobuf (`application/x-protobuf`): the protobuf wire format
 * (varints, length-delimited fields, fixed64) and the field numbers of opentelemetry-proto's
 * `ExportTraceServiceRequest`, written from the .proto files, not from the encoder under test.
 */

/** One field as read off the wire: its number and raw value. */
interface Field {
  readonly field: number
  /** Varints and fixed64 as bigint, length-delimited as bytes, fixed32 as number. */
  readonly value: bigint | Uint8Array | number
}

const readVarint = (bytes: Uint8Array, at: { offset: number }): bigint => {
  let result = 0n
  let shift = 0n
  for (;;) {
    if (at.offset >= bytes.length) throw new Error("truncated varint")
    const byte = bytes[at.offset++]!
    result |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return result
    shift += 7n
  }
}

/** The fields of one message, in wire order. */
const fieldsOf = (bytes: Uint8Array): ReadonlyArray<Field> => {
  const fields: Array<Field> = []
  const at = { offset: 0 }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  while (at.offset < bytes.length) {
    const key = Number(readVarint(bytes, at))
    const field = key >>> 3
    switch (key & 7) {
      case 0:
        fields.push({ field, value: readVarint(bytes, at) })
        break
      case 1:
        fields.push({ field, value: view.getBigUint64(at.offset, true) })
        at.offset += 8
        break
      case 2: {
        const length = Number(readVarint(bytes, at))
        if (at.offset + length > bytes.length) throw new Error("truncated field")
        fields.push({ field, value: bytes.subarray(at.offset, at.offset + length) })
        at.offset += length
        break
      }
      case 5:
        fields.push({ field, value: view.getUint32(at.offset, true) })
        at.offset += 4
        break
      default:
        throw new Error(`unsupported wire type ${key & 7}`)
    }
  }
  return fields
}

const bytesOf = (value: Field["value"]): Uint8Array => {
  if (!(value instanceof Uint8Array)) throw new Error("expected a length-delimited field")
  return value
}
const text = (value: Field["value"]): string => new TextDecoder("utf-8", { fatal: true }).decode(bytesOf(value))
const hex = (value: Field["value"]): string => Buffer.from(bytesOf(value)).toString("hex")
const all = (fields: ReadonlyArray<Field>, n: number) => fields.filter((f) => f.field === n).map((f) => f.value)
const one = (fields: ReadonlyArray<Field>, n: number) => fields.findLast((f) => f.field === n)?.value

/** An attribute value: string, boolean, number, or an array of them. */
export type AttributeValue = string | boolean | number | ReadonlyArray<AttributeValue> | Readonly<Record<string, unknown>>

// message AnyValue { oneof { string 1; bool 2; int64 3; double 4; ArrayValue 5; KeyValueList 6; bytes 7 } }
const anyValue = (bytes: Uint8Array): AttributeValue => {
  const [f] = fieldsOf(bytes)
  if (f === undefined) return ""
  switch (f.field) {
    case 1:
      return text(f.value)
    case 2:
      return f.value === 1n
    case 3:
      return Number(BigInt.asIntN(64, f.value as bigint))
    case 4: {
      const buffer = new DataView(new ArrayBuffer(8))
      buffer.setBigUint64(0, f.value as bigint, true)
      return buffer.getFloat64(0, true)
    }
    case 5:
      return all(fieldsOf(bytesOf(f.value)), 1).map((v) => anyValue(bytesOf(v)))
    case 6:
      return keyValues(all(fieldsOf(bytesOf(f.value)), 1))
    default:
      return hex(f.value)
  }
}

// message KeyValue { string key = 1; AnyValue value = 2; }
const keyValues = (values: ReadonlyArray<Field["value"]>): Record<string, AttributeValue> => {
  const out: Record<string, AttributeValue> = {}
  for (const value of values) {
    const fields = fieldsOf(bytesOf(value))
    const v = one(fields, 2)
    out[text(one(fields, 1) ?? new Uint8Array())] = v === undefined ? "" : anyValue(bytesOf(v))
  }
  return out
}

/** A span as the tests read it, whatever the encoding. */
export interface ExportedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly startNanos: bigint
  readonly endNanos: bigint
  readonly attributes: Readonly<Record<string, AttributeValue>>
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string | undefined }
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, AttributeValue>> }>
  /** The resource's attributes (`service.name`, ...) and the instrumentation scope's name. */
  readonly resource: Readonly<Record<string, AttributeValue>>
  readonly scope: string
}

// message Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
//   string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
//   repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; repeated Event events = 11;
//   ...; Status status = 15; }   message Status { string message = 2; StatusCode code = 3; }
//   message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
const span = (bytes: Uint8Array, resource: Record<string, AttributeValue>, scope: string): ExportedSpan => {
  const fields = fieldsOf(bytes)
  const parent = one(fields, 4)
  const status = fieldsOf(bytesOf(one(fields, 15) ?? new Uint8Array()))
  const message = one(status, 2)
  return {
    traceId: hex(one(fields, 1) ?? new Uint8Array()),
    spanId: hex(one(fields, 2) ?? new Uint8Array()),
    parentSpanId: parent === undefined || bytesOf(parent).length === 0 ? undefined : hex(parent),
    name: text(one(fields, 5) ?? new Uint8Array()),
    kind: Number(one(fields, 6) ?? 0n),
    startNanos: (one(fields, 7) as bigint | undefined) ?? 0n,
    endNanos: (one(fields, 8) as bigint | undefined) ?? 0n,
    attributes: keyValues(all(fields, 9)),
    status: { code: Number(one(status, 3) ?? 0n), message: message === undefined ? undefined : text(message) },
    events: all(fields, 11).map((e) => {
      const event = fieldsOf(bytesOf(e))
      return { name: text(one(event, 2) ?? new Uint8Array()), attributes: keyValues(all(event, 3)) }
    }),
    resource,
    scope
  }
}

// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }  Resource { repeated KeyValue attributes = 1; }
// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }  InstrumentationScope { string name = 1; }
/** Every span of one protobuf export request. */
export const decodeTraces = (body: Uint8Array): ReadonlyArray<ExportedSpan> =>
  all(fieldsOf(body), 1).flatMap((rs) => {
    const resourceSpans = fieldsOf(bytesOf(rs))
    const resource = keyValues(all(fieldsOf(bytesOf(one(resourceSpans, 1) ?? new Uint8Array())), 1))
    return all(resourceSpans, 2).flatMap((ss) => {
      const scopeSpans = fieldsOf(bytesOf(ss))
      const scopeName = one(fieldsOf(bytesOf(one(scopeSpans, 1) ?? new Uint8Array())), 1)
      return all(scopeSpans, 2).map((s) => span(bytesOf(s), resource, scopeName === undefined ? "" : text(scopeName)))
    })
  })

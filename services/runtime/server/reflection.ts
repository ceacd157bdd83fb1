import { toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type DescriptorProto, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection as ServerReflectionV1,
  type ServerReflectionRequest,
  type ServerReflectionResponseSchema,
} from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type ResponseInit = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** ReflectionIndex answers reflection questions from a set of file descriptors. */
export class ReflectionIndex {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly fileOfSymbol = new Map<string, string>();
  private readonly extensions = new Map<string, Map<number, string>>();

  constructor(
    files: FileDescriptorProto[],
    /** servedServices are the full names list_services reports. */
    readonly servedServices: string[],
  ) {
    for (const f of files) {
      this.files.set(f.name, f);
      const prefix = f.package ? `${f.package}.` : "";
      const addMessages = (messages: DescriptorProto[], scope: string) => {
        for (const m of messages) {
          const name = scope + m.name;
          this.fileOfSymbol.set(name, f.name);
          for (const e of m.enumType) this.fileOfSymbol.set(`${name}.${e.name}`, f.name);
          for (const ext of m.extension) this.addExtension(ext.extendee, ext.number, f.name);
          addMessages(m.nestedType, `${name}.`);
        }
      };
      addMessages(f.messageType, prefix);
      for (const e of f.enumType) this.fileOfSymbol.set(prefix + e.name, f.name);
      for (const s of f.service) {
        this.fileOfSymbol.set(prefix + s.name, f.name);
        for (const m of s.method) this.fileOfSymbol.set(`${prefix}${s.name}.${m.name}`, f.name);
      }
      for (const ext of f.extension) {
        this.fileOfSymbol.set(prefix + ext.name, f.name);
        this.addExtension(ext.extendee, ext.number, f.name);
      }
    }
  }

  private addExtension(extendee: string, number: number, file: string) {
    const type = extendee.replace(/^\./, "");
    let m = this.extensions.get(type);
    if (!m) this.extensions.set(type, (m = new Map()));
    m.set(number, file);
  }

  /** withDependencies returns the file and its transitive imports not yet in `sent`, serialized. */
  private withDependencies(name: string, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const visit = (n: string, force: boolean) => {
      if (!force && sent.has(n)) return;
      const f = this.files.get(n);
      if (!f) return;
      sent.add(n);
      out.push(toBinary(FileDescriptorProtoSchema, f));
      for (const dep of f.dependency) visit(dep, false);
    };
    visit(name, true);
    return out;
  }

  /** answer answers one reflection request; `sent` tracks the files already sent on this stream. */
  answer(req: ServerReflectionRequest, sent: Set<string>): ResponseInit {
    const base = { validHost: req.host, originalRequest: req };
    const notFound = (what: string): ResponseInit => ({
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode: 5, errorMessage: `${what} not found` } },
    });
    const files = (name: string): ResponseInit => ({
      ...base,
      messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: this.withDependencies(name, sent) } },
    });
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: { case: "listServicesResponse", value: { service: this.servedServices.map((name) => ({ name })) } },
        };
      case "fileByFilename":
        return this.files.has(r.value) ? files(r.value) : notFound(`file ${JSON.stringify(r.value)}`);
      case "fileContainingSymbol": {
        const symbol = r.value.replace(/^\./, "");
        const file = this.fileOfSymbol.get(symbol);
        return file ? files(file) : notFound(`symbol ${JSON.stringify(symbol)}`);
      }
      case "fileContainingExtension": {
        const file = this.extensions.get(r.value.containingType.replace(/^\./, ""))?.get(r.value.extensionNumber);
        return file ? files(file) : notFound(`extension ${r.value.extensionNumber} of ${r.value.containingType}`);
      }
      case "allExtensionNumbersOfType": {
        const type = r.value.replace(/^\./, "");
        if (!this.fileOfSymbol.has(type)) return notFound(`type ${JSON.stringify(type)}`);
        return {
          ...base,
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: type, extensionNumber: [...(this.extensions.get(type)?.keys() ?? [])] },
          },
        };
      }
      default:
        return {
          ...base,
          messageResponse: { case: "errorResponse", value: { errorCode: 3, errorMessage: "empty or unknown reflection request" } },
        };
    }
  }
}

function createImpl(index: ReflectionIndex) {
  return {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>): AsyncGenerator<ResponseInit> {
      const sent = new Set<string>();
      for await (const req of requests) yield index.answer(req, sent);
    },
  };
}

/**
 * createReflectionServices serves gRPC server reflection, v1 and v1alpha, from the committed
 * descriptor set, listing `servedServices`. The two versions share message layouts.
 */
export function createReflectionServices(
  files: FileDescriptorProto[],
  servedServices: string[],
): { v1: ServiceImpl<typeof ServerReflectionV1>; v1alpha: ServiceImpl<typeof ServerReflectionV1Alpha> } {
  const index = new ReflectionIndex(files, servedServices);
  return {
    v1: createImpl(index) as unknown as ServiceImpl<typeof ServerReflectionV1>,
    v1alpha: createImpl(index) as unknown as ServiceImpl<typeof ServerReflectionV1Alpha>,
  };
}

export { ServerReflectionV1, ServerReflectionV1Alpha };

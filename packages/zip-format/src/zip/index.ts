export { type Crc32Function, crc32 } from "./crc32.js";
export {
  isZipError,
  ZipError,
  type ZipErrorCode,
  type ZipErrorDetails,
  ZipFormatError,
  ZipIntegrityError,
  ZipLimitError,
  ZipNotFoundError,
  ZipUnsupportedError,
  ZipWriterError,
} from "./errors.js";
export {
  encodeCentralEntry,
  encodeDataDescriptor,
  encodeEndRecords,
  encodeLocalHeader,
  FIELD_ALIGNMENT,
  type RecordLayout,
  recordFlags,
  recordLayout,
} from "./layout.js";
export { archivePrefix } from "./prefix.js";
export { type ByteRange, ZipEntry, ZipReader, type ZipReaderOptions } from "./reader.js";
export {
  type CxxStdlib,
  libcxxStringHash,
  libstdcxxStringHash,
  SerializationIdHasher,
} from "./serialization-id.js";
export {
  MemorySink,
  type RecordData,
  writeZip,
  type ZipSink,
  ZipWriter,
  type ZipWriterOptions,
} from "./writer.js";

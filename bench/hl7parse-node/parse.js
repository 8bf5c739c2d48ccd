// Parse throughput of @medplum/hl7 (Hl7Message.parse from @medplum/core)
// on the shared samples, prepared as bench/hl7parse prepares them: CR
// between segments, no byte-order mark. Prints one line like go test's.
// Usage: node parse.js SAMPLE_DIR [SECONDS]
'use strict'
const fs = require('fs')
const path = require('path')
const { Hl7Message } = require('@medplum/core')

const dir = process.argv[2]
const seconds = Number(process.argv[3] || 2)
const msgs = []
let bytes = 0
const left = []
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.hl7')).sort()) {
  const text = fs.readFileSync(path.join(dir, f), 'utf8').replace(/^\uFEFF/, '').replace(/\r?\n/g, '\r')
  try {
    Hl7Message.parse(text)
    msgs.push(text)
    bytes += Buffer.byteLength(text)
  } catch (err) {
    left.push(f)
  }
}
// Warm up, then run whole passes until the time is up.
for (let i = 0; i < 20; i++) for (const m of msgs) Hl7Message.parse(m)
let passes = 0
const start = process.hrtime.bigint()
let elapsed = 0
while (elapsed < seconds) {
  for (const m of msgs) Hl7Message.parse(m)
  passes++
  elapsed = Number(process.hrtime.bigint() - start) / 1e9
}
const mbs = (bytes * passes) / elapsed / 1e6
console.log(`BenchmarkMedplumHl7Parse-node\t${passes}\t${(elapsed / passes * 1e9).toFixed(0)} ns/op\t${mbs.toFixed(2)} MB/s\t${(msgs.length * passes / elapsed).toFixed(0)} msgs/s\t(${msgs.length} samples, ${bytes} bytes; left out: ${JSON.stringify(left)})`)

// Sends HL7 v2 files to an MLLP receiver with node-hl7-client and prints
// one line per acknowledgment: "<file>\t<MSA-1>\t<MSA-2>".
// Usage: node send.js HOST PORT FILE...
'use strict'
const fs = require('fs')
const { Client, Message } = require('node-hl7-client')

async function main () {
  const [host, port, ...files] = process.argv.slice(2)
  const acks = []
  let waiting = null
  const client = new Client({ host })
  const conn = client.createConnection({ port: Number(port), waitAck: true }, async (res) => {
    const m = res.getMessage()
    const line = `${m.get('MSA.1').toString()}\t${m.get('MSA.2').toString()}`
    if (waiting) { const w = waiting; waiting = null; w(line) } else { acks.push(line) }
  })
  const next = () => new Promise((resolve, reject) => {
    if (acks.length) return resolve(acks.shift())
    const timer = setTimeout(() => { waiting = null; reject(new Error('no acknowledgment in 20s')) }, 20000)
    waiting = (line) => { clearTimeout(timer); resolve(line) }
  })
  for (const f of files) {
    // The library wants CR between segments and no byte-order mark.
    const text = fs.readFileSync(f, 'utf8').replace(/^\uFEFF/, '').replace(/\r?\n/g, '\r').replace(/\r+$/, '')
    let message
    try {
      message = new Message({ text })
    } catch (err) {
      // The library's own parser refuses some valid messages; say so.
      console.log(`${f}\tPEER-REFUSED\t${String(err.message).split('\n')[0]}`)
      continue
    }
    await conn.sendMessage(message)
    console.log(`${f}\t${await next()}`)
  }
  await conn.close()
  await client.closeAll?.()
  process.exit(0)
}

main().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1) })

// An MLLP receiver built on node-hl7-server that acknowledges every
// message AA and prints each received control ID on a line of its own.
// Usage: node server.js PORT
'use strict'
const { Server } = require('node-hl7-server')

const port = Number(process.argv[2])
const server = new Server({ bindAddress: '127.0.0.1' })
server.createInbound({ port }, async (req, res) => {
  const msg = req.getMessage()
  console.log(msg.get('MSH.10').toString())
  await res.sendResponse('AA')
})
console.log('listening ' + port)
process.on('SIGTERM', () => process.exit(0))

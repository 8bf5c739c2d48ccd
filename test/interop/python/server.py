"""An MLLP receiver built on python-hl7's asyncio server (Debian package
python3-hl7) that acknowledges every message AA and prints each received
control ID on a line of its own. Usage: python3 server.py PORT"""
import asyncio
import sys

import hl7
from hl7.mllp import start_hl7_server


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            print(str(message.segment("MSH")[10]), flush=True)
            writer.writemessage(message.create_ack(ack_code="AA"))
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def main(port):
    server = await start_hl7_server(handle, host="127.0.0.1", port=port)
    print("listening %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

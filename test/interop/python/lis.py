"""A laboratory information system stand-in built on python-hl7 (Debian
package python3-hl7), for Concord's end-to-end lab test. It listens for
orders over MLLP and acknowledges each AA; for a new order (ORC-1 NW) it
then sends a final result back, an ORU^R01 built from the order (the
patient as received, the placer number echoed, a filler number, a
specimen and one numeric result), to Concord's MLLP port. It prints
"ORDER <control id> <ORC-1>" for each order and "RESULT <MSA-1> <control
id>" for each answer Concord gives. All data is synthetic.

Usage: python3 lis.py CONCORD_HOST:PORT PORT"""
import asyncio
import datetime
import sys

import hl7
from hl7.mllp import open_hl7_connection, start_hl7_server

CONCORD = None
SENT = 0


def field(segment, n):
    """The text of field n of segment, or "" when it is absent."""
    try:
        return str(segment[n])
    except IndexError:
        return ""


async def send_result(order):
    global SENT
    SENT += 1
    n = SENT
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S+0000")
    placer = field(order.segment("ORC"), 2)
    service = field(order.segment("OBR"), 4)
    pid = str(order.segment("PID"))
    text = "\r".join([
        "MSH|^~\\&|LIS|LAB|CONCORD|HOSP|%s||ORU^R01^ORU_R01|LISR-%d|P|2.5.1" % (now, n),
        pid,
        "ORC|RE|%s|FIL-%d^LAB||CM" % (placer, n),
        "OBR|1|%s|FIL-%d^LAB|%s|||%s|||||||||||||||%s|||F" % (placer, n, service, now, now),
        "OBX|1|NM|%s||6.1|mmol/L^mmol/L^UCUM|3.9-5.5|H|||F|||%s" % (service, now),
        "SPM|1|SP-%d^LAB||119297000^Blood specimen^SCT|||||||||||||%s|%s" % (n, now, now),
    ]) + "\r"
    host, port = CONCORD.rsplit(":", 1)
    reader, writer = await open_hl7_connection(host, int(port))
    try:
        writer.writemessage(hl7.parse(text))
        await writer.drain()
        ack = await asyncio.wait_for(reader.readmessage(), 30)
        print("RESULT %s LISR-%d" % (str(ack.segment("MSA")[1]), n), flush=True)
    finally:
        writer.close()


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            control = field(message.segment("ORC"), 1)
            print("ORDER %s %s" % (str(message.segment("MSH")[10]), control), flush=True)
            writer.writemessage(message.create_ack(ack_code="AA"))
            await writer.drain()
            if control == "NW":
                asyncio.get_running_loop().create_task(send_result(message))
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
    CONCORD = sys.argv[1]
    asyncio.run(main(int(sys.argv[2])))

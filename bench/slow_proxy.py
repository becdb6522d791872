#!/usr/bin/env python3
"""A TCP proxy that delays every chunk a client sends by a fixed time: a slow network in front of
a service, for benchmarks. Answers pass through at once; order is kept per connection.

    slow_proxy.py --target 127.0.0.1:8080 --delay-ms 50     (prints "listening on 127.0.0.1:PORT")
"""
import argparse
import asyncio


async def pipe(reader, writer, delay):
    try:
        while data := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, args.delay_ms / 1000.0),
                             pipe(server_reader, client_writer, 0))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
